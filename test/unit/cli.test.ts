/** The CLI in-process, on every path that needs no native addon: flags, usage errors, config, passphrase. */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { run } from '../../ts/cli/program.js'
import { isNativeLoaded } from '../../ts/native.js'
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
  const env: NodeJS.ProcessEnv = { HOME: home, XDG_DATA_HOME: path.join(home, 'data'), XDG_CONFIG_HOME: path.join(home, 'cfg'), ...opts.env }
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
    ['no command', []],
    ['--label without paths', ['backup', '--label', 'x']],
    ['backup with no sources and no paths', ['backup']],
  ])('%s', async (_, args) => {
    const r = await vger(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^vger: error\[VGER_USAGE\]: /m)
    expect(isNativeLoaded()).toBe(false)
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

  it('finds ./vger.yaml in the working directory', async () => {
    const { dir } = writeConfig('repositories: []\n')
    const r = await vger(['list'], { cwd: dir })
    expect(r.stderr).toContain(`${path.join(dir, 'vger.yaml')}:1:15: expected repositories to list at least one entry`)
  })

  it('needs a passphrase when there is no terminal, without a stack trace or loading the addon', async () => {
    const r = await vger(['list'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^vger: error\[VGER_PASSPHRASE_REQUIRED\]: repository "default" needs a passphrase/)
    expect(r.stderr).not.toMatch(/^\s+at /m)
    expect(isNativeLoaded()).toBe(false)
  })

  it('prints the stack trace with -v', async () => {
    const r = await vger(['-v', 'list'])
    expect(r.stderr).toMatch(/^\s+at /m)
  })

  it('adds a JSON error line on stderr with --json', async () => {
    const r = await vger(['--json', 'list'])
    const [first, second] = r.stderr.trim().split('\n')
    expect(JSON.parse(first ?? '')).toMatchObject({ type: 'error', code: 'VGER_PASSPHRASE_REQUIRED' })
    expect(second).toMatch(/^vger: error\[VGER_PASSPHRASE_REQUIRED\]/)
    expect(r.stdout).toBe('')
  })

  it('reports a failing passcommand', async () => {
    const { file } = writeConfig('repositories:\n  - url: /r\nencryption:\n  passcommand: "exit 7"\n')
    const r = await vger(['-c', file, 'list'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('vger: error[VGER_PASSCOMMAND_FAILED]: encryption.passcommand exited with status 7\n')
  })
})

describe('secrets', () => {
  it('reads VGER_PASSPHRASE once and removes it from the environment', async () => {
    const r = await vger(['--version'], { env: { VGER_PASSPHRASE: 'hunter2' } })
    expect(r.env.VGER_PASSPHRASE).toBeUndefined()
  })

  it('hides VGER_PASSPHRASE from the passcommand', async () => {
    const { file } = writeConfig('repositories:\n  - url: /r\nencryption:\n  passcommand: \'echo "leak:$VGER_PASSPHRASE" >&2; exit 1\'\n')
    const r = await vger(['-c', file, 'list'], { env: { VGER_PASSPHRASE: 'hunter2' } })
    expect(r.stderr).toContain('leak:')
    expect(r.stderr).not.toContain('hunter2')
  })

  it('warns about a plain-text passphrase without printing it', async () => {
    const { file } = writeConfig('repositories:\n  - url: /r\nencryption:\n  passphrase: hunter2\n')
    const r = await vger(['-c', file, 'backup'])
    expect(r.code).toBe(2) // no sources; the passphrase is not even needed
    const r2 = await vger(['-c', file, 'restore', 'latest', '/tmp/x'])
    expect(r2.stderr).toContain(`vger: warning: the passphrase for repository "/r" is stored in plain text in ${file}`)
    expect(r2.stderr).not.toContain('hunter2')
  })
})
