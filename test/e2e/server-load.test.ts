/**
 * A bounded load test of `vger server` (issue 13): one server on 127.0.0.1, five repositories, ten CLI clients
 * (two per repository, each with its own append token, home, host name and source) backing up changing random
 * data in loops at the same time for `VGER_SERVER_LOAD_MS` (45 s by default; `npm run bench:server` runs 3
 * minutes). Four repositories have a roomy quota: none of their commands may fail at all. The fifth has a small
 * one: its uploads beyond it are refused (413 VGER_SERVER_QUOTA from the server, VGER_NO_SPACE on the client),
 * its objects never take more than the quota, and a refused backup saves no snapshot. The server answers no 5xx
 * and logs no error. Afterwards the usage the server counts (`/metrics`, `?stats`) equals the bytes of the files
 * in each repository's directory exactly, `vger check --verify-data` passes for each repository, and every
 * snapshot restores to exactly the content its source had when it was backed up. One summary line gives
 * requests/s, MB/s received and sent, and the server's peak RSS (docs/benchmarks.md, "Server load").
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { type CliResult, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { type TestServer, newToken, request, sha256, startServer } from '../helpers/server.js'
import { tempDir } from '../helpers/temp-dir.js'
import { readTree } from '../helpers/tree.js'

const PASS = 'server load passphrase'
/** How long the clients start new backups. */
const RUN_MS = Number(process.env.VGER_SERVER_LOAD_MS ?? 45_000)
const ROOMY = ['r0', 'r1', 'r2', 'r3']
const TIGHT = 'tight'
const REPOS = [...ROOMY, TIGHT]
const CLIENTS_PER_REPO = 2
const ROOMY_QUOTA = 4 * 1024 ** 3
const TIGHT_QUOTA = 3 * 1024 ** 2
/** Lock objects may go over a quota by this much (docs/server.md section 9: 16 locks of at most 4 KiB). */
const LOCK_ALLOWANCE = 16 * 4096
const METRICS = newToken()
const ADMIN = newToken()
const MiB = 1024 * 1024

/** What a restore must reproduce: each file's size and digest, each directory. */
function digest(root: string): string {
  const entries = [...readTree(root)].map(([p, e]) => `${e.kind} ${p} ${e.size} ${e.sha256 ?? ''}`)
  return createHash('sha256').update(entries.sort().join('\n')).digest('hex')
}

/** Bytes of the regular files under `dir`, every one (temporary files too), or those `keep` accepts. */
function diskBytes(dir: string, keep: (rel: string) => boolean = () => true, rel = ''): number {
  let n = 0
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`
    if (e.isDirectory()) n += diskBytes(dir, keep, r)
    else if (keep(r)) n += statSync(path.join(dir, r)).size
  }
  return n
}

/** `name{labels}` → value, from the Prometheus text. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line)
    if (m?.[1] !== undefined) out.set(m[1], Number(m[2]))
  }
  return out
}

const sumOf = (m: Map<string, number>, family: string): number =>
  [...m].filter(([k]) => k === family || k.startsWith(`${family}{`)).reduce((n, [, v]) => n + v, 0)

/** The server process from /proc: current and peak resident set in bytes, CPU seconds (user + system) so far. */
function processOf(pid: number): { rss: number; hwm: number; cpu: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024
  // Fields 14 and 15 of /proc/<pid>/stat (counted after the command's closing parenthesis), in USER_HZ (100 on Linux).
  const raw = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const stat = raw.slice(raw.lastIndexOf(')') + 2).split(' ')
  return { rss: kib('VmRSS'), hwm: kib('VmHWM'), cpu: (Number(stat[11]) + Number(stat[12])) / 100 }
}

/** The `q` quantile of `values` (nearest rank). */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN
}

interface Client {
  repo: string
  label: string
  token: string
  home: string
  config: string
  src: string
}

interface Failure {
  label: string
  code: number | null
  error: string | undefined
  stderr: string
}

interface LogLine {
  msg: string
  id?: string
  level: string
  status?: number
  code?: string
  repo?: string
  method?: string
  path?: string
  aborted?: boolean
  ms?: number
}

describe.skipIf(!addonBuilt)(`vger server under load${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  let srv: TestServer
  let work: string
  const clients: Client[] = []

  const vger = (c: Client, args: string[], timeoutMs = 300_000): Promise<CliResult> =>
    runCli(['-c', c.config, '--lock-wait', '0', ...args], {
      cwd: work,
      env: { HOME: c.home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', VGER_TOKEN: c.token },
      timeoutMs,
    })
  const metrics = async (): Promise<Map<string, number>> => {
    const m = await request(srv.base, '/metrics', { token: METRICS })
    expect(m.status).toBe(200)
    return parseMetrics(m.body.toString('utf8'))
  }
  /** The server's log so far: the request lines, and the lines that are warnings or errors. */
  const serverLog = (): { answered: LogLine[]; warned: LogLine[] } => {
    const lines = srv
      .log()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LogLine)
    return { answered: lines.filter((l) => l.msg === 'request'), warned: lines.filter((l) => l.level !== 'info') }
  }
  /** No warning or error logged (shown with the requests they are about), no 5xx, no answer cut short. */
  const serverWasClean = (answered: LogLine[], warned: LogLine[]): void => {
    const ids = new Set(warned.map((l) => l.id))
    expect(warned, JSON.stringify(answered.filter((l) => ids.has(l.id)))).toEqual([])
    expect(answered.filter((l) => (l.status ?? 0) >= 500 || l.aborted === true)).toEqual([])
  }
  const stored = (m: Map<string, number>, repo: string): number | undefined =>
    m.get(`vger_server_repository_stored_bytes{repository="${repo}"}`)

  beforeAll(async () => {
    ensureBuilt()
    work = tempDir()
    const tokens: Record<string, Record<string, 'read' | 'append'>> = {
      [ADMIN]: Object.fromEntries(REPOS.map((r) => [r, 'read' as const])),
    }
    for (const repo of REPOS) {
      for (let i = 0; i < CLIENTS_PER_REPO; i++) {
        const label = `${repo}-c${i}`
        const token = newToken()
        tokens[token] = { [repo]: 'append' }
        clients.push({ repo, label, token, home: tempDir(), config: path.join(work, `${label}.yaml`), src: path.join(work, 'src', label) })
      }
    }
    srv = await startServer(tempDir('vger-server-'), {
      repositories: Object.fromEntries(REPOS.map((r) => [r, { quota: r === TIGHT ? TIGHT_QUOTA : ROOMY_QUOTA }])),
      tokens,
      extra: [`metrics_token: ${sha256(METRICS)}`],
    })
    for (const c of clients) {
      writeFileSync(
        c.config,
        [
          'repositories:',
          `  - url: rest://127.0.0.1:${srv.port}/${c.repo}`,
          `    label: ${c.repo}`,
          '    access_token: ${VGER_TOKEN}',
          'sources:',
          `  - path: ${c.src}`,
          `    label: ${c.label}`,
          `hostname: ${c.label}`,
          // Small chunks: a backup stores several blobs, and old generations deduplicate chunk by chunk.
          'chunker: {min_size: 16KiB, avg_size: 64KiB, max_size: 256KiB}',
          '',
        ].join('\n'),
      )
    }
  })

  afterAll(async () => {
    await srv?.stop()
  })

  it(
    'ten clients back up at once: nothing fails, quotas are exact and hold, every snapshot restores',
    { timeout: RUN_MS + 900_000 },
    async () => {
      // Each repository is created by its first client, with that client's append token.
      for (const c of clients.filter((_, i) => i % CLIENTS_PER_REPO === 0)) {
        const init = await vger(c, ['init', '-q'])
        expect(init.code, init.stderr).toBe(0)
      }

      const failures: Failure[] = []
      const refused: Failure[] = []
      const expected = new Map<string, Map<string, { label: string; digest: string }>>(REPOS.map((r) => [r, new Map()]))
      const counts = { backups: 0, newBytes: 0 }
      const deadline = Date.now() + RUN_MS

      const backupLoop = async (c: Client): Promise<void> => {
        // The same in both trees of a repository: deduplicated across its clients.
        const shared = Buffer.alloc(300 * 1024, REPOS.indexOf(c.repo) + 1)
        const pool: Buffer[] = []
        for (let gen = 0; Date.now() < deadline; gen++) {
          // New random data, data from three generations ago (deduplicated), shared data, a file that changes size.
          pool.push(randomBytes(128 * 1024 + Math.floor(Math.random() * 640 * 1024)))
          const old = pool.length > 3 ? pool.shift() : pool[0]
          const fresh = pool[pool.length - 1] ?? Buffer.alloc(0)
          rmSync(c.src, { recursive: true, force: true })
          mkdirSync(path.join(c.src, 'sub'), { recursive: true })
          writeFileSync(path.join(c.src, 'gen.txt'), `${c.label} generation ${gen}\n`)
          writeFileSync(path.join(c.src, 'new.bin'), fresh)
          writeFileSync(path.join(c.src, 'sub', 'old.bin'), old ?? Buffer.alloc(0))
          writeFileSync(path.join(c.src, 'sub', 'shared.bin'), shared)
          if (gen % 2 === 0) writeFileSync(path.join(c.src, 'sub', 'sometimes.txt'), 'x'.repeat((gen % 50) * 1000))
          const sourceDigest = digest(c.src)
          const r = await vger(c, ['backup', '--json', '-q'])
          if (r.code !== 0) {
            const f = { label: c.label, code: r.code, error: errorCode(r.stderr), stderr: r.stderr.slice(-2000) }
            if (c.repo === TIGHT && f.error === 'VGER_NO_SPACE') {
              refused.push(f)
              // A full repository stays full: try again a little later, as a scheduled client would.
              await new Promise((resolve) => setTimeout(resolve, 1000))
            } else failures.push(f)
            continue
          }
          const [saved] = (JSON.parse(r.stdout) as { snapshots: { snapshotId: string }[] }).snapshots
          if (saved === undefined) throw new Error(`no snapshot in ${r.stdout}`)
          expected.get(c.repo)?.set(saved.snapshotId, { label: c.label, digest: sourceDigest })
          counts.backups++
          counts.newBytes += fresh.length
        }
      }

      // Sampled once a second while the clients run: the server's memory and counters, and the tight
      // repository's objects on disk (locks and temporary files aside), which must never exceed its quota.
      const peak = { rss: 0, inFlight: 0, uploadMemory: 0, tightCounted: 0, tightOnDisk: 0 }
      let sampling = true
      let samplerRequests = 0
      const tightDir = path.join(srv.dir, 'repos', TIGHT)
      const objectsOnly = (rel: string): boolean => !rel.startsWith('locks/') && !path.basename(rel).startsWith('.tmp.')
      const sampler = async (): Promise<void> => {
        while (sampling) {
          peak.rss = Math.max(peak.rss, processOf(srv.child.pid ?? 0).rss)
          const m = await metrics()
          samplerRequests++
          peak.inFlight = Math.max(peak.inFlight, m.get('vger_server_requests_in_flight') ?? 0)
          peak.uploadMemory = Math.max(peak.uploadMemory, m.get('vger_server_upload_memory_bytes') ?? 0)
          peak.tightCounted = Math.max(peak.tightCounted, stored(m, TIGHT) ?? 0)
          peak.tightOnDisk = Math.max(peak.tightOnDisk, diskBytes(tightDir, objectsOnly))
          await new Promise((resolve) => setTimeout(resolve, 1000))
        }
      }

      const before = await metrics()
      const cpuBefore = processOf(srv.child.pid ?? 0).cpu
      const started = Date.now()
      const sampling$ = sampler()
      await Promise.all(clients.map(backupLoop))
      const elapsed = (Date.now() - started) / 1000
      sampling = false
      await sampling$
      const after = await metrics()
      const proc = processOf(srv.child.pid ?? 0)
      peak.rss = Math.max(peak.rss, proc.rss)
      const { answered, warned } = serverLog()
      const ms = answered.filter((l) => l.path !== '/metrics').map((l) => l.ms ?? 0)
      const puts = answered.filter((l) => l.method === 'PUT').map((l) => l.ms ?? 0)

      const requests = sumOf(after, 'vger_server_requests_total') - sumOf(before, 'vger_server_requests_total') - samplerRequests - 1
      const received = (after.get('vger_server_received_bytes_total') ?? 0) - (before.get('vger_server_received_bytes_total') ?? 0)
      const sent = (after.get('vger_server_sent_bytes_total') ?? 0) - (before.get('vger_server_sent_bytes_total') ?? 0)
      const snapshots = [...expected.values()].reduce((n, m) => n + m.size, 0)
      console.log(
        `server load: ${clients.length} clients, ${elapsed.toFixed(1)} s: ${counts.backups} backups (${snapshots} snapshots, ` +
          `${(counts.newBytes / MiB).toFixed(1)} MiB of new source data), ${refused.length} refused for the quota ` +
          `(${TIGHT} holds ${stored(after, TIGHT) ?? '?'} of ${TIGHT_QUOTA} bytes); ` +
          `${requests} requests (${(requests / elapsed).toFixed(1)}/s), ${(received / 1e6).toFixed(1)} MB received ` +
          `(${(received / 1e6 / elapsed).toFixed(2)} MB/s), ${(sent / 1e6).toFixed(1)} MB sent (${(sent / 1e6 / elapsed).toFixed(2)} MB/s); ` +
          `server peak RSS ${(proc.hwm / MiB).toFixed(0)} MiB (sampled ${(peak.rss / MiB).toFixed(0)} MiB), ` +
          `server CPU ${(proc.cpu - cpuBefore).toFixed(1)} s (${((100 * (proc.cpu - cpuBefore)) / elapsed).toFixed(0)} % of one core), ` +
          `request ms p50 ${quantile(ms, 0.5)} p99 ${quantile(ms, 0.99)} max ${Math.max(...ms)} (PUT p50 ${quantile(puts, 0.5)} p99 ${quantile(puts, 0.99)}), ` +
          `sampled each second: at most ${peak.inFlight} requests in flight, ${(peak.uploadMemory / MiB).toFixed(1)} MiB of uploads in memory; ` +
          `${failures.length} failed commands${failures.length > 0 ? `: ${failures.map((f) => `${f.label} ${f.error ?? f.code}`).join(', ')}` : ''}`,
      )

      // No client command failed, but the tight repository's backups that went over its quota.
      expect(failures, JSON.stringify(failures, null, 2)).toEqual([])
      for (const c of clients.filter((c) => c.repo !== TIGHT)) {
        const made = [...(expected.get(c.repo)?.values() ?? [])].filter((s) => s.label === c.label).length
        expect(made, `snapshots of ${c.label}`).toBeGreaterThanOrEqual(2)
      }
      expect(expected.get(TIGHT)?.size, `snapshots in ${TIGHT}`).toBeGreaterThanOrEqual(1)
      expect(refused.length, 'backups refused for the quota').toBeGreaterThan(0)
      for (const f of refused) expect(f.stderr).toContain('VGER_SERVER_QUOTA')

      // The server: no 5xx, no error logged, no answer cut; the quota refusals are 413 VGER_SERVER_QUOTA on the
      // tight repository only, and the other errors are the 404s of objects looked for before they exist.
      serverWasClean(answered, warned)
      const quotaAnswers = answered.filter((l) => l.code === 'VGER_SERVER_QUOTA')
      expect(quotaAnswers.length).toBeGreaterThanOrEqual(refused.length)
      expect(quotaAnswers.every((l) => l.repo === TIGHT && l.status === 413 && l.method === 'PUT')).toBe(true)
      const otherErrors = answered.filter((l) => (l.status ?? 0) >= 400 && l.code !== 'VGER_SERVER_QUOTA')
      expect(otherErrors.filter((l) => l.code !== 'VGER_SERVER_NOT_FOUND')).toEqual([])
      expect(
        (after.get('vger_server_errors_total{code="VGER_SERVER_QUOTA"}') ?? 0) -
          (before.get('vger_server_errors_total{code="VGER_SERVER_QUOTA"}') ?? 0),
      ).toBe(quotaAnswers.length)

      // The tight repository's objects never went over its quota; its count with locks at most by their allowance.
      expect(peak.tightOnDisk).toBeLessThanOrEqual(TIGHT_QUOTA)
      expect(peak.tightCounted).toBeLessThanOrEqual(TIGHT_QUOTA + LOCK_ALLOWANCE)

      /** Each repository's count (the quota's, in /metrics), its listing (`?stats`) and its directory agree exactly. */
      const usageIsExact = async (when: string): Promise<void> => {
        const m = await metrics()
        for (const repo of REPOS) {
          const dir = path.join(srv.dir, 'repos', repo)
          const onDisk = diskBytes(dir)
          const stats = await request(srv.base, `/${repo}/?stats`, { token: ADMIN })
          expect(stats.status).toBe(200)
          expect(stored(m, repo), `${repo} counted ${when}`).toBe(onDisk)
          expect(stats.json?.bytes, `${repo} listed ${when}`).toBe(onDisk)
          expect(stats.json?.quotaBytes).toBe(repo === TIGHT ? TIGHT_QUOTA : ROOMY_QUOTA)
          // No lock is left behind, by a refused backup either.
          expect(
            diskBytes(dir, (rel) => rel.startsWith('locks/')),
            `${repo} locks ${when}`,
          ).toBe(0)
          if (repo === TIGHT) expect(onDisk).toBeLessThanOrEqual(TIGHT_QUOTA)
        }
      }
      await usageIsExact('after the load')

      // Every snapshot left is one this test made, and restores to its source's content; each repository checks clean.
      for (const repo of REPOS) {
        const owner = clients.find((c) => c.repo === repo)
        if (owner === undefined) throw new Error(`no client of ${repo}`)
        const want = expected.get(repo) ?? new Map<string, { label: string; digest: string }>()
        const list = await vger(owner, ['list', '--json'])
        expect(list.code, list.stderr).toBe(0)
        const listed = (JSON.parse(list.stdout) as { repositories: { snapshots: { id: string; label: string }[]; damaged: unknown[] }[] })
          .repositories[0]
        expect(listed?.damaged).toEqual([])
        expect(new Set(listed?.snapshots.map((s) => s.id))).toEqual(new Set(want.keys()))

        const check = await vger(owner, ['check', '--verify-data'])
        expect(check.code, check.stdout + check.stderr).toBe(0)
        expect(check.stdout).toContain('no problems found')

        const queue = [...(listed?.snapshots ?? [])]
        const restorer = async (): Promise<void> => {
          for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
            const dest = path.join(work, 'restore', s.id)
            const r = await vger(owner, ['restore', s.id, dest, '-q'])
            expect(r.code, r.stderr).toBe(0)
            expect(s.label).toBe(want.get(s.id)?.label)
            expect(digest(dest), `snapshot ${s.id.slice(0, 8)} of ${s.label}`).toBe(want.get(s.id)?.digest)
            rmSync(dest, { recursive: true, force: true })
          }
        }
        await Promise.all([restorer(), restorer(), restorer()])
      }
      await usageIsExact('after the checks and restores')
      const end = serverLog()
      serverWasClean(end.answered, end.warned)
    },
  )
})
