/**
 * The built CLI (`node dist/cli/main.js`) as a user runs it, against real repositories in temp dirs.
 * The end-to-end suite is one story (init → backup → list → restore → …): run the whole file, since
 * later tests use the repository and snapshot the earlier ones created.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, ROOT, addonBuilt, isRoot } from '../helpers/addon.js'
import { type CliResult, type RunCliOptions, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'
import { makeSparseTree, makeTree, readTree } from '../helpers/tree.js'

const PASS = 'correct horse battery staple'
const STACK_LINE = /^\s+at .+\(.*:\d+:\d+\)$/m

beforeAll(() => ensureBuilt())

function json<T = Record<string, unknown>>(r: CliResult): T {
  expect(r.stderr, 'stderr').not.toMatch(/^vger: error/m)
  return JSON.parse(r.stdout) as T
}

describe('vger CLI basics (no addon needed)', () => {
  it('prints --version', async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
    const r = await runCli(['--version'], { env: { HOME: tempDir() } })
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' })
  })

  it('exits 2 on a usage error', async () => {
    const r = await runCli(['restore'], { env: { HOME: tempDir() } })
    expect(r.code).toBe(2)
    expect(errorCode(r.stderr)).toBe('VGER_USAGE')
  })
})

describe.skipIf(!addonBuilt)(`vger CLI end to end${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  let home: string
  let work: string
  let src: string
  let config: string
  let firstId = ''

  const vger = (args: string[], env: Record<string, string | undefined> = {}, hooks: Pick<RunCliOptions, 'onStderr' | 'onSpawn'> = {}) =>
    runCli(['-c', config, ...args], { cwd: work, env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', ...env }, ...hooks })

  const snapshotCount = async (): Promise<number> =>
    json<{ repositories: { snapshots: unknown[] }[] }>(await vger(['list', '--json'])).repositories[0]?.snapshots.length ?? -1

  beforeAll(() => {
    home = tempDir()
    work = tempDir()
    src = makeTree(path.join(work, 'src')).root
    config = path.join(work, 'vger.yaml')
    writeFileSync(
      config,
      [
        'repositories:',
        '  - url: ./repo',
        '    label: main',
        'sources:',
        '  - path: src/docs',
        '  - path: src/bin',
        '    label: tools',
        'hostname: e2e-host.example.org',
        'compression:',
        '  algorithm: zstd',
        '',
      ].join('\n'),
    )
  })

  it('init creates the repository', async () => {
    const r = await vger(['init'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^Initialized repository "main" at .*repo \(encryption \w+, id [0-9a-f]{8}\)$/m)
    expect(r.stderr).toContain('VGER_TEST_KDF=fast')
  })

  it('init refuses an existing repository (exit 1, coded error, no stack trace)', async () => {
    const r = await vger(['init'])
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toMatch(/^VGER_(?!INTERNAL)/)
    expect(r.stderr).not.toMatch(STACK_LINE)
  })

  it('backup PATH makes one ad-hoc snapshot labelled by the directory name (--json)', async () => {
    const r = await vger(['backup', src, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = json<{ snapshots: { snapshotId: string; source: string; repository: string; partial: boolean }[] }>(r)
    expect(out.snapshots).toHaveLength(1)
    expect(out.snapshots[0]).toMatchObject({ source: 'src', repository: 'main', partial: false })
    firstId = out.snapshots[0]?.snapshotId ?? ''
    for (const line of r.stderr.split('\n').filter((l) => l !== '')) {
      expect(() => JSON.parse(line), line).not.toThrow()
    }
  })

  it('list shows the snapshot', async () => {
    const r = await vger(['list'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^ID\s+Time\s+Host\s+Label\s+Files\s+Size$/m)
    expect(r.stdout).toMatch(new RegExp(`^${firstId.slice(0, 8)} .* e2e-host +src +\\d+ +\\S+ \\S+$`, 'm'))
    const listed = json<{ repositories: { repository: string; hiddenNewer: number; snapshots: { id: string; hostname: string }[] }[] }>(
      await vger(['list', '--json']),
    )
    expect(listed.repositories[0]).toMatchObject({ repository: 'main', hiddenNewer: 0 })
    expect(listed.repositories[0]?.snapshots.map((s) => [s.id, s.hostname])).toEqual([[firstId, 'e2e-host']])
  })

  it('snapshot list shows the files, a subtree, and JSON', async () => {
    const id = firstId.slice(0, 8)
    const all = await vger(['snapshot', 'list', id])
    expect(all.code, all.stderr).toBe(0)
    expect(all.stdout).toMatch(/^-rw-r--r-- .* docs\/readme\.txt$/m)
    expect(all.stdout).toMatch(/^lrwxrwxrwx .* link-to-readme -> docs\/readme\.txt$/m)
    const sub = await vger(['snapshot', 'list', id, '--path', 'docs'])
    expect(sub.stdout).toContain('docs/notes.md')
    expect(sub.stdout).not.toContain('bin/run.sh')
    const entries = json<{ entries: { path: string; kind: string }[] }>(await vger(['snapshot', 'list', id, '--json'])).entries
    expect(entries.find((e) => e.path === 'bin/run.sh')?.kind).toBe('file')
  })

  it('output into a closed pipe ends quietly (no EPIPE stack trace)', async () => {
    const r = await runCli(['-c', config, 'snapshot', 'list', 'latest'], {
      cwd: work,
      env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' },
      closeStdout: true,
    })
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled/)
    expect(r.code).toBe(0)
  })

  it('restore reproduces the tree exactly', async () => {
    const dest = path.join(work, 'restored')
    const r = await vger(['restore', firstId.slice(0, 8), dest])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^Restored .* to .*restored$/m)
    expect(Object.fromEntries(readTree(dest))).toEqual(Object.fromEntries(readTree(src)))
  })

  it('restore --pattern restores only matching paths', async () => {
    const dest = path.join(work, 'only-bin')
    const r = await vger(['restore', 'latest', dest, '--pattern', 'bin/*'])
    expect(r.code, r.stderr).toBe(0)
    expect([...readTree(dest)].filter(([, e]) => e.kind === 'file').map(([p]) => p)).toEqual(['bin/run.sh'])
  })

  it('restore --pattern may be repeated: what any of them matches is restored', async () => {
    const dest = path.join(work, 'bin-and-readme')
    const r = await vger(['restore', 'latest', dest, '--pattern', 'bin/*', '--pattern', 'docs/readme.txt'])
    expect(r.code, r.stderr).toBe(0)
    const files = [...readTree(dest)].filter(([, e]) => e.kind === 'file').map(([p]) => p)
    expect(files.sort()).toEqual(['bin/run.sh', 'docs/readme.txt'])
  })

  it('restore --pattern that matches nothing is an error and writes nothing', async () => {
    const dest = path.join(work, 'nomatch')
    const r = await vger(['restore', 'latest', dest, '--pattern', 'bin/*', '--pattern', 'nomatch*'])
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('VGER_PATTERN_UNMATCHED')
    expect(r.stderr).toContain('no path in the snapshot matches "nomatch*"')
    expect(existsSync(dest)).toBe(false)
  })

  it('restore into a non-empty directory fails with VGER_DEST_NOT_EMPTY', async () => {
    const dest = path.join(work, 'occupied')
    mkdirSync(dest)
    writeFileSync(path.join(dest, 'keep'), 'x')
    const r = await vger(['restore', 'latest', dest])
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('VGER_DEST_NOT_EMPTY')
  })

  it('a wrong passphrase fails with VGER_WRONG_PASSPHRASE and never echoes a passphrase', async () => {
    const r = await vger(['list'], { VGER_PASSPHRASE: 'wrong horse' })
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('VGER_WRONG_PASSPHRASE')
    expect(r.stderr + r.stdout).not.toMatch(/wrong horse|correct horse/)
  })

  it('without a passphrase and without a terminal, asks for one of the three sources', async () => {
    const r = await vger(['list'], { VGER_PASSPHRASE: undefined })
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('VGER_PASSPHRASE_REQUIRED')
  })

  it('takes the passphrase from a passcommand', async () => {
    const cfg = path.join(work, 'passcommand.yaml')
    writeFileSync(cfg, `repositories:\n  - url: ./repo\nencryption:\n  passcommand: 'printf "%s\\n" "$MY_SECRET"'\n`)
    const r = await runCli(['-c', cfg, 'list'], { cwd: work, env: { HOME: home, MY_SECRET: PASS } })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(firstId.slice(0, 8))
  })

  it('backup without paths makes one snapshot per configured source', async () => {
    const before = await snapshotCount()
    const r = await vger(['backup', '--json', '-q'])
    expect(r.code, r.stderr).toBe(0)
    const out = json<{ snapshots: { source: string }[] }>(r)
    expect(out.snapshots.map((s) => s.source)).toEqual(['docs', 'tools'])
    expect(await snapshotCount()).toBe(before + 2)
  })

  it('with several repositories: backs up to all, and restore needs -R', async () => {
    const cfg = path.join(work, 'two.yaml')
    writeFileSync(cfg, 'repositories:\n  - url: ./two-a\n    label: a\n  - url: ./two-b\n    label: b\n')
    const two = (args: string[]) =>
      runCli(['-c', cfg, ...args], { cwd: work, env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' } })
    expect((await two(['init'])).code).toBe(0)
    const b = await two(['backup', path.join(src, 'bin'), '--label', 'tools'])
    expect(b.code, b.stderr).toBe(0)
    expect(b.stdout.match(/^Snapshot [0-9a-f]{8} of "tools" saved to "(a|b)"/gm)).toHaveLength(2)
    const ambiguous = await two(['restore', 'latest', path.join(work, 'two-out')])
    expect(ambiguous.code).toBe(2)
    expect(errorCode(ambiguous.stderr)).toBe('VGER_USAGE')
    const picked = await two(['-R', 'b', 'restore', 'latest', path.join(work, 'two-out')])
    expect(picked.code, picked.stderr).toBe(0)
  })

  it.skipIf(isRoot)('exits 3 and prints the warning when a file cannot be read (skipped as root: root reads mode 000 files)', async () => {
    const dir = path.join(work, 'partial')
    mkdirSync(dir)
    writeFileSync(path.join(dir, 'ok.txt'), 'fine')
    writeFileSync(path.join(dir, 'secret.txt'), 'nope')
    chmodSync(path.join(dir, 'secret.txt'), 0o000)
    const r = await vger(['backup', dir])
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/^vger: warning: .*secret\.txt: /m)
    expect((await vger(['list'])).stdout).toMatch(/^[0-9a-f]{8}\* .* partial /m)
  })

  it('SIGINT stops a running backup: exit 130, VGER_CANCELLED, no snapshot saved', async () => {
    const sparse = path.join(work, 'sparse')
    makeSparseTree(sparse)
    const before = await snapshotCount()
    let sent = false
    const interrupt = (child: { kill(signal: NodeJS.Signals): boolean }): void => {
      if (sent) return
      sent = true
      child.kill('SIGINT')
    }
    const started = Date.now()
    // Interrupt at the first progress event (or after 3 s, if the engine reports none).
    const r = await vger(
      ['backup', sparse, '--json'],
      {},
      {
        onSpawn: (child) => setTimeout(() => interrupt(child), 3000),
        onStderr: (chunk, child) => {
          if (chunk.includes('"type":"backup"')) interrupt(child)
        },
      },
    )
    expect(sent).toBe(true)
    expect(r.code, r.stderr).toBe(130)
    expect(errorCode(r.stderr)).toBe('VGER_CANCELLED')
    expect(Date.now() - started).toBeLessThan(60_000)
    expect(await snapshotCount()).toBe(before)
  })

  it('restore skips a socket and says so, exit 0', async () => {
    const dir = path.join(work, 'with-socket')
    mkdirSync(dir)
    writeFileSync(path.join(dir, 'file.txt'), 'data')
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(path.join(dir, 'app.sock'), resolve))
    try {
      expect((await vger(['backup', dir])).code).toBe(0)
    } finally {
      server.close()
    }
    const dest = path.join(work, 'socket-restored')
    const r = await vger(['restore', 'latest', dest])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^Restored 1 file, .*; 1 entry skipped from snapshot /m)
    expect(r.stderr).toMatch(/^vger: warning: app\.sock: not restored: a socket /m)
    expect(existsSync(path.join(dest, 'app.sock'))).toBe(false)
    expect(readFileSync(path.join(dest, 'file.txt'), 'utf8')).toBe('data')
  })
})
