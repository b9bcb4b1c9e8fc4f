/**
 * The daemon's parts without the engine: the pid lock (a live daemon refuses a second, a stale file is
 * taken over), the state file, the status endpoint (loopback only, escaped HTML, no secret) and the loop
 * with a fake job (reload keeps the old config on errors, stop cancels the running job and waits).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../ts/config/load.js'
import { ConfigError } from '../../ts/config/problems.js'
import type { VgerConfig } from '../../ts/config/types.js'
import { redactSecrets } from '../../ts/cli/commands/daemon.js'
import { Daemon, type JobOutcome, displayUrl, noScheduleMessage } from '../../ts/daemon/daemon.js'
import { daemonFiles } from '../../ts/daemon/files.js'
import type { DaemonEvent } from '../../ts/daemon/log.js'
import { renderEvent } from '../../ts/daemon/log.js'
import { acquirePidLock, isAlive } from '../../ts/daemon/pidfile.js'
import { StateStore } from '../../ts/daemon/state.js'
import { escapeHtml, renderStatusPage } from '../../ts/daemon/status-page.js'
import { isLoopback, parseListen, startStatusServer } from '../../ts/daemon/status-server.js'
import { isVgerError } from '../../ts/errors.js'
import { tempDir } from '../helpers/temp-dir.js'

/** A pid that ran and is gone. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  return Number(r.stdout)
}

function config(text: string, dir = tempDir()): VgerConfig {
  const file = path.join(dir, 'vger.yaml')
  writeFileSync(file, text)
  return parseConfig(text, file, { env: {}, home: dir })
}

const SCHEDULED = 'repositories:\n  - url: /r\n    label: "<b>main</b>"\nschedule:\n  enabled: true\n  every: 1h\n  on_startup: true\n'

describe('pid lock', () => {
  it('refuses a second daemon with VGER_DAEMON_RUNNING naming the pid, and is released', () => {
    const file = path.join(tempDir(), 'd', 'x.pid')
    const lock = acquirePidLock(file, { pid: process.ppid, startedAt: 'then', config: '/etc/vger.yaml' })
    let error: unknown
    try {
      acquirePidLock(file, { pid: process.pid, startedAt: 'now', config: '/etc/vger.yaml' })
    } catch (e) {
      error = e
    }
    expect(isVgerError(error, 'VGER_DAEMON_RUNNING')).toBe(true)
    expect((error as Error).message).toContain(`pid ${process.ppid}`)
    expect((error as Error).message).toContain('/etc/vger.yaml')
    // A lock file another daemon took over (ours went stale) is not ours to remove.
    writeFileSync(file, JSON.stringify({ pid: 1, startedAt: 'later', config: null }))
    lock.release()
    expect(existsSync(file)).toBe(true)
    writeFileSync(file, JSON.stringify({ pid: process.ppid, startedAt: 'then', config: null }))
    lock.release()
    expect(existsSync(file)).toBe(false)
  })

  it('takes over the file of a daemon that is gone, or of another boot', () => {
    const dir = tempDir()
    const file = path.join(dir, 'x.pid')
    writeFileSync(file, JSON.stringify({ pid: deadPid(), startedAt: 'then', config: null }))
    const lock = acquirePidLock(file, { pid: process.pid, startedAt: 'now', config: null })
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid: process.pid })
    lock.release()
    expect(existsSync(file)).toBe(false)

    expect(isAlive({ pid: process.ppid, startedAt: '', config: null, bootId: 'old' }, 'new')).toBe(false)
    expect(isAlive({ pid: process.ppid, startedAt: '', config: null, bootId: 'same' }, 'same')).toBe(true)
    expect(isAlive({ pid: deadPid(), startedAt: '', config: null })).toBe(false)
  })

  it('one lock and state per config file, under the cache dir', () => {
    const a = daemonFiles('/c', '/etc/vger/config.yaml')
    expect(a.lock).toMatch(/^\/c\/daemon\/[0-9a-f]{16}\.pid$/)
    expect(a.state).toBe(a.lock.replace(/\.pid$/, '.state.json'))
    expect(daemonFiles('/c', '/home/u/vger.yaml').lock).not.toBe(a.lock)
  })
})

describe('state file', () => {
  const run = (result: 'ok' | 'failed' | 'cancelled', startedAt: string) => ({
    startedAt,
    endedAt: startedAt,
    durationMs: 0,
    result,
    snapshots: result === 'ok' ? 1 : 0,
    ...(result === 'ok' ? {} : { error: { code: 'VGER_X', message: 'x' } }),
  })

  it('counts runs and failures since the last success; a cancelled run does not count for the schedule', () => {
    const file = path.join(tempDir(), 'daemon', 's.json')
    const s = StateStore.open(file, () => {})
    expect(s.record('/r', 'main', run('ok', '2026-01-01T00:00:00.000Z'))).toBeUndefined()
    s.record('/r', 'main', run('failed', '2026-01-02T00:00:00.000Z'))
    s.record('/r', 'main', run('failed', '2026-01-03T00:00:00.000Z'))
    s.record('/r', 'main', run('cancelled', '2026-01-04T00:00:00.000Z'))
    const again = StateStore.open(file, () => {})
    expect(again.get('/r')).toMatchObject({
      name: 'main',
      failuresSinceSuccess: 2,
      lastSuccessAt: '2026-01-01T00:00:00.000Z',
      lastCountedStart: '2026-01-03T00:00:00.000Z',
      runs: { ok: 1, failed: 2, cancelled: 1 },
      lastRun: { result: 'cancelled' },
    })
    expect(again.lastCountedStart('/r')).toBe(Date.parse('2026-01-03T00:00:00.000Z'))
    again.record('/r', 'main', run('ok', '2026-01-05T00:00:00.000Z'))
    expect(again.get('/r')?.failuresSinceSuccess).toBe(0)
  })

  it('starts afresh from a damaged file, saying so', () => {
    const file = path.join(tempDir(), 's.json')
    writeFileSync(file, '{"version": 1, "repositories": ')
    const warnings: string[] = []
    const s = StateStore.open(file, (m) => warnings.push(m))
    expect(s.get('/r')).toBeUndefined()
    expect(warnings[0]).toContain('is damaged')
  })
})

describe('status endpoint', () => {
  it('parses HOST:PORT and listens on loopback only unless allowed', async () => {
    expect(parseListen('127.0.0.1:8317')).toEqual({ host: '127.0.0.1', port: 8317 })
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 })
    expect(() => parseListen('8317')).toThrow(/HOST:PORT/)
    expect(() => parseListen('localhost:70000')).toThrow(/HOST:PORT/)
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true)
    expect(['0.0.0.0', '192.168.1.2', '::', 'example.com'].some(isLoopback)).toBe(false)
    await expect(startStatusServer({ host: '0.0.0.0', port: 0 }, false, () => ({}) as never)).rejects.toThrow(/--status-allow-remote/)
  })

  it('serves JSON and an escaped HTML page; refuses other hosts and methods', async () => {
    const cfg = config(`${SCHEDULED}encryption:\n  passphrase: hunter2-secret\n`)
    const d = new Daemon({
      config: cfg,
      load: () => cfg,
      runJob: async () => ({ result: 'ok', snapshots: 1 }),
      state: StateStore.open(path.join(tempDir(), 's.json'), () => {}),
      log: () => {},
      warn: () => {},
      info: { pid: 42, version: '0.0.0', lockFile: '/l' },
    })
    const server = await startStatusServer({ host: '127.0.0.1', port: 0 }, false, () => d.status())
    try {
      const json = await fetch(`${server.url}status`)
      expect(json.headers.get('content-type')).toContain('application/json')
      const body = await json.text()
      expect(JSON.parse(body)).toMatchObject({
        daemon: { pid: 42, configFile: cfg.file },
        repositories: [{ name: '<b>main</b>', state: 'idle', lastRun: null, failuresSinceSuccess: 0, schedule: { every: '1h' } }],
      })
      expect(body).not.toContain('hunter2')
      const html = await (await fetch(server.url)).text()
      expect(html).toContain('&#60;b&#62;main&#60;/b&#62;')
      expect(html).not.toContain('<b>main')
      expect(html).not.toContain('hunter2')
      expect((await fetch(`${server.url}status`, { method: 'POST' })).status).toBe(405)
      expect((await fetch(`${server.url}nope`)).status).toBe(404)
      // DNS rebinding: a page of another site that resolves to 127.0.0.1 sends its own Host.
      const port = new URL(server.url).port
      const rebound = await new Promise<number>((resolve, reject) => {
        import('node:http')
          .then(({ request }) => {
            const req = request({ host: '127.0.0.1', port, path: '/status', headers: { host: `evil.example:${port}` } }, (res) => {
              res.resume()
              resolve(res.statusCode ?? 0)
            })
            req.on('error', reject)
            req.end()
          })
          .catch(reject)
      })
      expect(rebound).toBe(421)
    } finally {
      await server.close()
    }
  })

  it('escapes everything it shows', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;')
    const page = renderStatusPage({
      daemon: { pid: 1, version: '1', startedAt: 's', configFile: '/<c>', stateFile: 's', lockFile: 'l', lastReload: null },
      queue: ['<q>'],
      repositories: [],
    })
    expect(page).not.toMatch(/<c>|<q>/)
  })

  it('shows URLs without credentials and removes secrets from messages', () => {
    expect(displayUrl('sftp://user:pw@host:22/x?token=1#f')).toBe('sftp://host:22/x')
    expect(displayUrl('/plain/path')).toBe('/plain/path')
    expect(redactSecrets('hook "curl -u me:s3cret-value" failed: s3cret-value', ['s3cret-value', 'ab'])).toBe(
      'hook "curl -u me:***" failed: ***',
    )
  })
})

describe('the loop', () => {
  it('says what to do when no repository is scheduled', () => {
    expect(noScheduleMessage('/x/vger.yaml')).toMatch(
      /no repository in \/x\/vger.yaml has a schedule with "enabled: true".*systemd timer or cron/,
    )
  })

  it('runs on startup, keeps the old config when a reload fails, and stop cancels the running job and waits for it', async () => {
    const dir = tempDir()
    const cfg = config(SCHEDULED, dir)
    const events: DaemonEvent[] = []
    let release: (() => void) | undefined
    let sawAbort = false
    const runJob = (_repo: unknown, _config: unknown, signal: AbortSignal): Promise<JobOutcome> =>
      new Promise((resolve) => {
        // The job ends only once it is cancelled, as the engine does: after a checkpoint.
        signal.addEventListener('abort', () => {
          sawAbort = true
          release = () => resolve({ result: 'failed', error: { code: 'VGER_CANCELLED', message: 'interrupted' }, snapshots: 0 })
          setTimeout(() => release?.(), 50)
        })
      })
    let loads = 0
    const d = new Daemon({
      config: cfg,
      load: () => {
        loads++
        throw new ConfigError([{ file: cfg.file ?? '', line: 6, col: 9, message: 'schedule.cron: bad' }])
      },
      runJob,
      state: StateStore.open(path.join(dir, 's.json'), () => {}),
      log: (e) => events.push(e),
      warn: () => {},
      info: { pid: 1, version: '0', lockFile: '/l' },
    })
    const running = d.run()
    await until(() => d.status().repositories[0]?.state === 'running')
    const reload = d.reload()
    expect(loads).toBe(1)
    expect(reload).toEqual({ type: 'reload', ok: false, error: { code: 'VGER_CONFIG', message: `${cfg.file}:6:9: schedule.cron: bad` } })
    expect(renderEvent(reload)).toBe(`config reload failed, keeping the previous config: VGER_CONFIG: ${cfg.file}:6:9: schedule.cron: bad`)
    expect(d.status().daemon.lastReload).toMatchObject({ ok: false })
    expect(d.status().repositories[0]?.schedule.every).toBe('1h')
    d.stop('SIGTERM')
    await running
    expect(sawAbort).toBe(true)
    expect(events.map((e) => e.type)).toEqual(['job_start', 'reload', 'job_end'])
    expect(events[2]).toMatchObject({ type: 'job_end', result: 'cancelled' })
    const status = d.status().repositories[0]
    expect(status).toMatchObject({ state: 'idle', lastRun: { result: 'cancelled' }, failuresSinceSuccess: 0, runs: { cancelled: 1 } })
  })
})

describe('the loop with an injected clock', () => {
  it('catches up once after downtime, once after a forward jump, and neither bursts nor stalls after a backward jump', async () => {
    const H = 3600_000
    const dir = tempDir()
    const cfg = config('repositories:\n  - url: /r\n    label: main\nschedule:\n  enabled: true\n  every: 1h\n', dir)
    const state = StateStore.open(path.join(dir, 's.json'), () => {})
    let wall = Date.parse('2026-03-20T12:00:00Z')
    let mono = 0
    // The last run, ten days ago: 240 missed slots.
    state.record('/r', 'main', {
      startedAt: '2026-03-10T12:00:00.000Z',
      endedAt: '2026-03-10T12:01:00.000Z',
      durationMs: 60_000,
      result: 'ok',
      snapshots: 1,
    })
    const jobs: number[] = []
    const d = new Daemon({
      config: cfg,
      load: () => cfg,
      runJob: async () => {
        jobs.push(wall)
        wall += 60_000
        mono += 60_000
        return { result: 'ok', snapshots: 1 }
      },
      state,
      log: () => {},
      warn: () => {},
      info: { pid: 1, version: '0', lockFile: '/l' },
      clock: { now: () => wall, mono: () => mono },
      maxSleepMs: 5,
    })
    const running = d.run()
    const settle = () => new Promise((r) => setTimeout(r, 60))
    const next = () => Date.parse(d.status().repositories[0]?.nextRun ?? '')
    await until(() => jobs.length === 1)
    await settle()
    expect(jobs).toEqual([Date.parse('2026-03-20T12:00:00Z')])
    expect(next()).toBe(Date.parse('2026-03-20T13:00:00Z'))

    // Half an hour passes: nothing. The machine sleeps for five hours (the monotonic clock stands still): one run.
    wall += H / 2
    mono += H / 2
    await settle()
    expect(jobs).toHaveLength(1)
    wall += 5 * H
    await until(() => jobs.length === 2)
    await settle()
    expect(jobs).toHaveLength(2)
    expect(next()).toBe((jobs[1] ?? 0) + H)

    // The clock is set back two days: planned an hour from the new time, not in two days and an hour.
    wall -= 48 * H
    mono += 1000
    await until(() => next() === wall + H)
    await settle()
    expect(jobs).toHaveLength(2)
    wall += H
    mono += H
    await until(() => jobs.length === 3)
    await settle()
    expect(jobs).toHaveLength(3)
    d.stop('SIGTERM')
    await running
  })
})

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 10))
  }
}
