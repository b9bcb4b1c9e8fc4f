/**
 * `vger daemon` end to end (docs/daemon.md): three cycles on `every: 2s`, each a snapshot and on the
 * status endpoint; a second daemon refuses with VGER_DAEMON_RUNNING; SIGHUP reloads (a broken config is
 * reported with its line and column and the old one kept); SIGTERM in the middle of a backup stops
 * cleanly (exit 0, no snapshot, no lock left, no pid file) and the next start completes the backup; a bad
 * cron expression and a config without a schedule are config errors.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { CLI, cliEnv, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'correct horse battery staple'
/** Waits are generous (a loaded 2-core machine); what is asserted is not loosened. */
const WAIT_MS = 45_000

beforeAll(() => ensureBuilt())

interface RepoStatus {
  name: string
  state: string
  nextRun: string | null
  lastRun: { startedAt: string; result: string; snapshots: number } | null
  failuresSinceSuccess: number
  runs: { ok: number; failed: number; cancelled: number }
  schedule: { every: string | null; jitterSeconds: number }
}
interface Status {
  daemon: { pid: number; configFile: string; lastReload: { ok: boolean } | null; lockFile: string; stateFile: string }
  repositories: RepoStatus[]
}

function setup(schedule: string[], source: (dir: string) => void) {
  const work = tempDir('vger-daemon-')
  const data = path.join(work, 'data')
  mkdirSync(data)
  source(data)
  const config = path.join(work, 'vger.yaml')
  const write = (lines: string[]): void => writeFileSync(config, [...lines, ''].join('\n'))
  const lines = (label: string, sched: string[]): string[] => [
    'repositories:',
    '  - url: ./repo',
    `    label: ${label}`,
    'schedule:',
    ...sched.map((l) => `  ${l}`),
    'sources:',
    '  - path: data',
    '    label: data',
  ]
  write(lines('main', schedule))
  const env = { HOME: work, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' }
  const vger = (args: string[]) => runCli(['-c', config, ...args], { cwd: work, env })
  return { work, config, env, vger, rewrite: (label: string, sched: string[]) => write(lines(label, sched)) }
}

interface Daemon {
  child: ChildProcessWithoutNullStreams
  stderr: () => string
  stdout: () => string
  /** Resolves with the text matched once stderr matches `re`. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function startDaemon(work: string, config: string, env: Record<string, string>, args: string[] = []): Daemon {
  const child = spawn(process.execPath, [CLI, '-c', config, 'daemon', ...args], { cwd: work, env: cliEnv(work, env) })
  let stderr = ''
  let stdout = ''
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  )
  const kill = setTimeout(() => child.kill('SIGKILL'), 120_000)
  void exited.then(() => clearTimeout(kill))
  return {
    child,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    waitFor: (re, ms = WAIT_MS) =>
      until(
        () => re.exec(stderr) ?? undefined,
        ms,
        () => `stderr never matched ${re}:\n${stderr}`,
      ),
  }
}

async function until<T>(check: () => T | undefined | Promise<T | undefined>, ms: number, what: () => string): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(what())
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function status(url: string): Promise<Status> {
  return (await (await fetch(`${url}status`)).json()) as Status
}

async function snapshots(vger: ReturnType<typeof setup>['vger']): Promise<number> {
  const l = await vger(['list', '--json', '--lock-wait', '0'])
  expect(l.code, l.stderr).toBe(0)
  return (JSON.parse(l.stdout) as { repositories: { snapshots: unknown[] }[] }).repositories.reduce((n, r) => n + r.snapshots.length, 0)
}

describe.skipIf(!addonBuilt)(`vger daemon${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('runs the cycle every 2 s (a snapshot each, shown on /status), refuses a second daemon, reloads on SIGHUP, stops on SIGTERM', async () => {
    const { work, config, env, vger, rewrite } = setup(['enabled: true', 'every: 2s', 'on_startup: true'], (d) =>
      writeFileSync(path.join(d, 'a.txt'), 'hello\n'),
    )
    expect((await vger(['init'])).code).toBe(0)
    const d = startDaemon(work, config, env, ['--status-listen', '127.0.0.1:0'])
    const url = (await d.waitFor(/status at (http:\/\/127\.0\.0\.1:\d+\/)/))[1] ?? ''

    // Three cycles, each seen on the status endpoint with its own start.
    const starts = new Set<string>()
    await until(
      async () => {
        const r = (await status(url)).repositories[0]
        if (r?.lastRun?.result === 'ok') starts.add(r.lastRun.startedAt)
        return starts.size >= 3 ? true : undefined
      },
      WAIT_MS,
      () => `fewer than 3 runs: ${[...starts].join(', ')}\n${d.stderr()}`,
    )
    const s = await status(url)
    expect(s.daemon).toMatchObject({ pid: d.child.pid, configFile: config })
    expect(s.repositories[0]).toMatchObject({ name: 'main', failuresSinceSuccess: 0, schedule: { every: '2s', jitterSeconds: 0 } })
    expect((await fetch(url)).headers.get('content-type')).toContain('text/html')
    expect(d.stderr()).toMatch(/vger daemon: "main": full cycle started\n/)
    expect(d.stderr()).toMatch(/vger daemon: "main": full cycle ok in [\d.]+ s, 1 snapshot saved; next run \d{4}-/)

    // A second daemon on the same config refuses, naming the first.
    const second = await vger(['daemon'])
    expect(second.code).toBe(1)
    expect(errorCode(second.stderr)).toBe('VGER_DAEMON_RUNNING')
    expect(second.stderr).toContain(`pid ${d.child.pid}`)

    // A broken config on SIGHUP: reported with line and column, the old one kept.
    writeFileSync(config, readFileSync(config, 'utf8').replace('every: 2s', 'cron: "0 25 * * *"'))
    d.child.kill('SIGHUP')
    await d.waitFor(/config reload failed, keeping the previous config: VGER_CONFIG: .*vger\.yaml:6:9: schedule\.cron: cron hour "25"/)
    expect((await status(url)).repositories[0]).toMatchObject({ name: 'main', schedule: { every: '2s' } })
    expect((await status(url)).daemon.lastReload).toMatchObject({ ok: false })

    // A good one: the new label, jitter and interval take effect.
    rewrite('primary', ['enabled: true', 'every: 1h', 'jitter_seconds: 7', 'on_startup: true'])
    d.child.kill('SIGHUP')
    await d.waitFor(/config reloaded; scheduled: "primary" \(every 1h, jitter up to 7 s, on startup;/)
    const reloaded = await until(
      async () => {
        const r = (await status(url)).repositories[0]
        return r?.state === 'idle' ? r : undefined
      },
      WAIT_MS,
      () => 'never idle',
    )
    expect(reloaded).toMatchObject({ name: 'primary', schedule: { every: '1h', jitterSeconds: 7 } })
    const planned = Date.parse(reloaded.nextRun ?? '') - Date.parse(reloaded.lastRun?.startedAt ?? '')
    expect(planned).toBeGreaterThanOrEqual(3600_000)
    expect(planned).toBeLessThan(3607_000)

    d.child.kill('SIGTERM')
    expect(await d.exited).toEqual({ code: 0, signal: null })
    expect(d.stderr()).toContain('vger daemon: stopped (SIGTERM)')
    expect(existsSync(s.daemon.lockFile)).toBe(false)
    // Every ok run is one snapshot.
    const state = JSON.parse(readFileSync(s.daemon.stateFile, 'utf8')) as { repositories: Record<string, RepoStatus> }
    const runs = Object.values(state.repositories)[0]?.runs
    expect(runs?.ok).toBeGreaterThanOrEqual(3)
    expect(await snapshots(vger)).toBe(runs?.ok)
  }, 120_000)

  it('SIGTERM in the middle of a backup: exit 0, no snapshot, no lock left; the next start completes it', async () => {
    const MiB = 1024 * 1024
    const { work, config, env, vger } = setup(['enabled: true', 'every: 1h', 'on_startup: true'], (d) => {
      for (let i = 0; i < 6; i++) writeFileSync(path.join(d, `random-${i}.bin`), randomBytes(64 * MiB))
    })
    expect((await vger(['init'])).code).toBe(0)
    const packsDir = path.join(work, 'repo', 'packs')
    const storedPacks = (): number =>
      readdirSync(packsDir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .reduce((n, e) => n + readdirSync(path.join(packsDir, e.name)).length, 0)

    const d = startDaemon(work, config, env)
    await d.waitFor(/"main": full cycle started/)
    // In the middle of the backup: a pack (32 MiB) is stored, most of the 384 MiB is not.
    await until(
      () => (storedPacks() > 0 ? true : undefined),
      WAIT_MS,
      () => `no pack stored\n${d.stderr()}`,
    )
    d.child.kill('SIGTERM')
    expect(await d.exited).toEqual({ code: 0, signal: null })
    expect(d.stderr()).toMatch(/"main": full cycle cancelled: VGER_CANCELLED/)
    expect(d.stdout()).not.toContain('Snapshot ')
    // No snapshot, no lock: reading works without waiting, and no lock object is left.
    expect(await snapshots(vger)).toBe(0)
    const locks = await vger(['locks', '--json', '--lock-wait', '0'])
    expect(locks.code, locks.stderr).toBe(0)
    expect(JSON.stringify(JSON.parse(locks.stdout))).not.toMatch(/"pid"/)
    expect(readdirSync(path.join(work, 'repo', 'locks'))).toEqual([])

    // The next start runs the missed cycle (the cancelled run does not count) and reuses what was stored.
    const again = startDaemon(work, config, env)
    await again.waitFor(/"main": full cycle ok in [\d.]+ s, 1 snapshot saved/, 90_000)
    again.child.kill('SIGTERM')
    expect(await again.exited).toEqual({ code: 0, signal: null })
    expect(await snapshots(vger)).toBe(1)
    const saved = /Snapshot \w+ of "data" saved to "main": 6 files, 0 dirs, 384 MiB \(([\d.]+) MiB new/.exec(again.stdout())
    expect(saved, again.stdout()).not.toBeNull()
    console.log(again.stdout(), d.stderr())
    expect(Number(saved?.[1])).toBeLessThan(384)
  }, 180_000)

  it('a bad cron expression is a config error at its line and column; no schedule says what to do', async () => {
    const { vger, rewrite } = setup(['enabled: true', 'cron: "0 3 * * mon-fry"'], () => {})
    const bad = await vger(['daemon'])
    expect(bad.code).toBe(1)
    expect(errorCode(bad.stderr)).toBe('VGER_CONFIG')
    expect(bad.stderr).toMatch(/vger\.yaml:6:9: schedule\.cron: .*expected a cron expression such as "0 3 \* \* \*"/)

    rewrite('main', ['enabled: false'])
    const none = await vger(['daemon'])
    expect(none.code).toBe(1)
    expect(errorCode(none.stderr)).toBe('VGER_CONFIG')
    expect(none.stderr).toContain('has a schedule with "enabled: true", so vger daemon has nothing to run')

    rewrite('main', ['enabled: true'])
    const remote = await vger(['daemon', '--status-listen', '0.0.0.0:0'])
    expect(remote.code).toBe(2)
    expect(remote.stderr).toContain('--status-allow-remote')
  })
})
