/** The CLI in-process, on every path that needs no native addon: flags, usage errors, config, passphrase. */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { beforeAll, describe, expect, it } from 'vitest'
import { run } from '../../ts/cli/program.js'
import { isNativeLoaded } from '../../ts/repository.js'
import { Repository } from '../../ts/repository.js'
import { FAST_KDF, NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { tempDir } from '../helpers/temp-dir.js'

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

async function vger(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const home = tempDir()
  const cwd = opts.cwd ?? home
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (c: Buffer) => (out += c.toString()))
  stderr.on('data', (c: Buffer) => (err += c.toString()))
  const env: NodeJS.ProcessEnv = {
    HOME: home,
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_CONFIG_HOME: path.join(home, 'cfg'),
    ...opts.env,
  }
  const stdin = new PassThrough()
  const code = await run(['node', 'vger', ...args], { stdout, stderr, stdin, env, cwd, signal: new AbortController().signal })
  return { code, stdout: out, stderr: err, env }
}

function writeConfig(text: string): { dir: string; file: string } {
  const dir = tempDir()
  const file = path.join(dir, 'vger.yaml')
  writeFileSync(file, text)
  return { dir, file }
}

const USAGE_LINE = /^vger: error\[VGER_USAGE\]: .+ \(see --help\)$/m

describe('vger --version and --help', () => {
  it('prints the package version without loading the native addon', async () => {
    const r = await vger(['--version'])
    expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n`, stderr: '' })
    expect(isNativeLoaded()).toBe(false)
  })

  it('lists the commands', async () => {
    const r = await vger(['--help'])
    expect(r.code).toBe(0)
    for (const cmd of ['init', 'backup', 'list', 'snapshot', 'restore']) expect(r.stdout).toContain(cmd)
  })
})

describe('usage errors exit with 2', () => {
  it.each([
    ['an unknown command', ['frobnicate']],
    ['an unknown option', ['list', '--frob']],
    ['a bad --compression', ['backup', '--compression', 'lz5', '/tmp']],
    ['a missing argument', ['restore', 'latest']],
    ['no command and no sources (the full cycle has nothing to back up)', []],
    ['--label without paths', ['backup', '--label', 'x']],
    ['backup with no sources and no paths', ['backup']],
  ])('%s', async (_, args) => {
    const r = await vger(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^vger: error\[VGER_USAGE\]: /m)
    expect(isNativeLoaded()).toBe(false)
  })

  it('suggests a command for a typo', async () => {
    const r = await vger(['lsit'])
    expect(r.stderr).toBe("vger: error[VGER_USAGE]: unknown command 'lsit' (did you mean 'list'?; see --help)\n")
  })

  it('calls an unknown command with arguments unknown, not "too many arguments"', async () => {
    const typo = await vger(['restor', 'latest', 'x'])
    expect([typo.code, typo.stderr]).toEqual([
      2,
      "vger: error[VGER_USAGE]: unknown command 'restor' (did you mean 'restore'?; see --help)\n",
    ])
    const missing = await vger(['frobnicate', 'latest'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^vger: error\[VGER_USAGE\]: unknown command 'frobnicate' \(commands: config, init, backup, /)
  })

  it("suggests the command's own option, not a root-only one", async () => {
    expect((await vger(['check', '--verify'])).stderr).toBe(
      "vger: error[VGER_USAGE]: unknown option '--verify' (did you mean --verify-data?) (see --help)\n",
    )
    expect((await vger(['check', '--jsn'])).stderr).toContain('(did you mean --json?)')
  })

  it('has "vger help COMMAND"', async () => {
    const r = await vger(['help', 'restore'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Usage: vger restore \[options\] <snapshot> <dest>/)
    const bad = await vger(['help', 'restre'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/vger: error\[VGER_USAGE\]: unknown command 'restre' \(did you mean 'restore'\?\) \(see --help\)\n$/)
  })

  it('formats commander errors like every other error', async () => {
    const r = await vger(['list', '--frob'])
    expect(r.stderr).toMatch(USAGE_LINE)
    expect(r.stderr).toContain("unknown option '--frob'")
  })

  it('explains an empty backup', async () => {
    const r = await vger(['backup'])
    expect(r.stderr).toContain('nothing to back up: no sources in the config (none found, so the built-in default applies)')
  })

  it('asks for -R when a command needs one repository and several are configured', async () => {
    const { file } = writeConfig('repositories:\n  - url: /r/a\n    label: a\n  - url: /r/b\n    label: b\n')
    const r = await vger(['-c', file, 'restore', 'latest', '/tmp/dest'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('vger: error[VGER_USAGE]: 2 repositories are configured (a, b); pick one with -R LABEL\n')
  })

  it('rejects an unknown -R label', async () => {
    const { file } = writeConfig('repositories:\n  - url: /r/a\n    label: a\n')
    const r = await vger(['-c', file, '-R', 'nas', 'list'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('no repository labelled "nas"; configured: a')
  })
})

describe('errors exit with 1 and print "vger: error[CODE]: message"', () => {
  it('reports config errors with file:line:col', async () => {
    const { file } = writeConfig('repositories:\n  - url: /r\n    lable: x\n')
    const r = await vger(['--config', file, 'list'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`vger: error[VGER_CONFIG]: ${file}:3:5: unknown key "lable" (did you mean "label"?)\n`)
  })

  it('prefers VGER_CONFIG over ./vger.yaml, and --config over both', async () => {
    const { dir } = writeConfig('repositories: []\n')
    const fromEnv = writeConfig('repositories:\n  - url: /r\n    lable: env\n').file
    const fromFlag = writeConfig('repositories:\n  - url: /r\n    labl: flag\n').file
    const r = await vger(['list'], { cwd: dir, env: { VGER_CONFIG: fromEnv } })
    expect(r.stderr).toBe(`vger: error[VGER_CONFIG]: ${fromEnv}:3:5: unknown key "lable" (did you mean "label"?)\n`)
    const r2 = await vger(['-c', fromFlag, 'list'], { cwd: dir, env: { VGER_CONFIG: fromEnv } })
    expect(r2.stderr).toBe(`vger: error[VGER_CONFIG]: ${fromFlag}:3:5: unknown key "labl" (did you mean "label"?)\n`)
  })

  it('finds ./vger.yaml in the working directory', async () => {
    const { dir } = writeConfig('repositories: []\n')
    const r = await vger(['list'], { cwd: dir })
    expect(r.stderr).toContain(`${path.join(dir, 'vger.yaml')}:1:15: expected repositories to list at least one entry`)
  })

  it('reports a missing repository before asking for a passphrase (VGER_REPO_NOT_FOUND, next step)', async () => {
    const r = await vger(['list'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /^vger: error\[VGER_REPO_NOT_FOUND\]: no repository at .*vger\/repo \(repository "default"\); create it with "vger init"/,
    )
    expect(r.stderr).not.toMatch(/passphrase/i)
    expect(r.stderr).not.toMatch(/^\s+at /m)
  })

  it('prints the stack trace with -v', async () => {
    const r = await vger(['-v', 'list'])
    expect(r.stderr).toMatch(/^\s+at /m)
  })
})

describe.skipIf(!addonBuilt)(`passphrase sources against a real repository${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  const PASS = 'correct horse'
  let repoDir = ''
  let plainDir = ''

  beforeAll(async () => {
    repoDir = path.join(tempDir(), 'repo')
    plainDir = path.join(tempDir(), 'plain')
    await Repository.init({ url: repoDir, passphrase: PASS, encryption: 'auto', kdf: FAST_KDF })
    await Repository.init({ url: plainDir, encryption: 'none' })
  })

  const config = (extra = ''): string => writeConfig(`repositories:\n  - url: ${repoDir}\n    label: main\n${extra}`).file

  it('needs a passphrase when there is no terminal (no stack trace)', async () => {
    const r = await vger(['-c', config(), 'list'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^vger: error\[VGER_PASSPHRASE_REQUIRED\]: repository "main" needs a passphrase/)
    expect(r.stderr).not.toMatch(/^\s+at /m)
  })

  it('adds a JSON error line on stderr with --json', async () => {
    const r = await vger(['-c', config(), '--json', 'list'])
    const [first, second] = r.stderr.trim().split('\n')
    expect(JSON.parse(first ?? '')).toMatchObject({ type: 'error', code: 'VGER_PASSPHRASE_REQUIRED' })
    expect(second).toMatch(/^vger: error\[VGER_PASSPHRASE_REQUIRED\]/)
    expect(r.stdout).toBe('')
  })

  it('opens an unencrypted repository without any passphrase source, whatever encryption.mode says', async () => {
    const { file } = writeConfig(`repositories:\n  - url: ${plainDir}\n`)
    const r = await vger(['-c', file, 'list', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ repositories: [{ url: plainDir, snapshots: [] }], errors: [] })
  })

  it('takes VGER_PASSPHRASE', async () => {
    const r = await vger(['-c', config(), 'list'], { env: { VGER_PASSPHRASE: PASS } })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('No snapshots.\n')
  })

  it('reports a failing passcommand', async () => {
    const r = await vger(['-c', config('encryption:\n  passcommand: "exit 7"\n'), 'list'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('vger: error[VGER_PASSCOMMAND_FAILED]: encryption.passcommand exited with status 7\n')
  })

  it('prefers the passcommand over VGER_PASSPHRASE', async () => {
    const r = await vger(['-c', config(`encryption:\n  passcommand: "echo '${PASS}'"\n`), 'list'], { env: { VGER_PASSPHRASE: 'wrong' } })
    expect(r.code, r.stderr).toBe(0)
  })

  it('hides VGER_PASSPHRASE from the passcommand', async () => {
    const file = config('encryption:\n  passcommand: \'echo "leak:$VGER_PASSPHRASE" >&2; exit 1\'\n')
    const r = await vger(['-c', file, 'list'], { env: { VGER_PASSPHRASE: 'hunter2' } })
    expect(r.stderr).toContain('leak:')
    expect(r.stderr).not.toContain('hunter2')
  })

  it('prefers a plain-text config passphrase, with a warning that does not print it', async () => {
    const file = config(`encryption:\n  passphrase: "${PASS}"\n  passcommand: "exit 9"\n`)
    const r = await vger(['-c', file, 'list'], { env: { VGER_PASSPHRASE: 'wrong' } })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toBe(
      `vger: warning: the passphrase for repository "main" is stored in plain text in ${file}; prefer encryption.passcommand or VGER_PASSPHRASE\n`,
    )
    expect(r.stderr).not.toContain(PASS)
  })

  it('takes a ${VAR} passphrase whole, whatever YAML would make of it, and does not call it plain text', async () => {
    const pw = 'correct horse #battery'
    const dir = path.join(tempDir(), 'repo')
    const file = writeConfig(`repositories:\n  - url: ${dir}\n    label: hash\nencryption:\n  passphrase: \${PW}\n`).file
    const init = await vger(['-c', file, 'init'], { env: { PW: pw } })
    expect(init.code, init.stderr).toBe(0)
    expect(init.stderr).not.toContain('plain text')
    // The repository opens with the whole passphrase from another source, and not with the part before " #".
    const byEnv = writeConfig(`repositories:\n  - url: ${dir}\n    label: hash\n`).file
    expect((await vger(['-c', byEnv, 'list'], { env: { VGER_PASSPHRASE: pw } })).code).toBe(0)
    const cut = await vger(['-c', byEnv, 'list'], { env: { VGER_PASSPHRASE: 'correct horse' } })
    expect(cut.stderr).toContain('VGER_WRONG_PASSPHRASE')
  })
})

describe('secrets', () => {
  it('reads VGER_PASSPHRASE and VGER_NEW_PASSPHRASE once and removes them from the environment', async () => {
    const r = await vger(['--version'], { env: { VGER_PASSPHRASE: 'hunter2', VGER_NEW_PASSPHRASE: 'hunter3' } })
    expect(r.env.VGER_PASSPHRASE).toBeUndefined()
    expect(r.env.VGER_NEW_PASSPHRASE).toBeUndefined()
  })

  it('says nothing is "not applied" for schedule, limits and command dumps, which act now', async () => {
    const { file } = writeConfig(
      'repositories:\n  - url: /r\n    schedule:\n      enabled: true\n      every: 6h\nlimits:\n  threads: 1\nsources:\n  - path: /s\n    command_dumps:\n      - {name: a.sql, command: "true"}\n',
    )
    const r = await vger(['-c', file, 'backup', '-S', 'nosuch'])
    expect(r.stderr).toContain('no source labelled "nosuch"')
    expect(r.stderr).not.toContain('not applied')
  })

  it('a backup with nothing to do never asks for the passphrase', async () => {
    const { file } = writeConfig('repositories:\n  - url: /r\nencryption:\n  passphrase: hunter2\n')
    const r = await vger(['-c', file, 'backup'])
    expect(r.code).toBe(2)
    expect(r.stderr).not.toContain('plain text')
  })
})
