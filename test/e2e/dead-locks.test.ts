/**
 * Locks end to end with the real CLI: `kill -9` of backup, compact and prune at random points while they
 * hold their lock, and each time the next conflicting command starts at once (no `lockWait` event, the
 * dead lock reported as removed). A live holder (a paused process) makes a waiting command say who holds
 * the lock, in text and as `lockWait` JSON lines; `vger locks` tells alive from dead.
 */
import { randomBytes } from 'node:crypto'
import { type FSWatcher, existsSync, mkdirSync, readdirSync, watch, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { type CliResult, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'dead locks passphrase'
/** Kills per operation (at least 20 for the issue's claim). */
const ROUNDS = Number(process.env.VGER_DEAD_LOCK_ROUNDS ?? 20)

beforeAll(() => ensureBuilt())

interface Setup {
  work: string
  repo: string
  src: string
  vger: (args: string[], extra?: Parameters<typeof runCli>[1]) => Promise<CliResult>
}

async function setup(): Promise<Setup> {
  const home = tempDir()
  const work = tempDir()
  const src = path.join(work, 'src')
  for (const l of ['a', 'b', 'c']) mkdirSync(path.join(src, l), { recursive: true })
  writeFileSync(
    path.join(work, 'vger.yaml'),
    [
      'repositories:',
      '  - url: ./repo',
      '    label: main',
      'sources:',
      // Three sources: a backup takes three snapshots, and prune then has three to remove.
      ...['a', 'b', 'c'].flatMap((l) => [`  - path: src/${l}`, `    label: ${l}`]),
      'hostname: killer',
      'retention:',
      '  keep_last: 1',
      'chunker: {min_size: 16KiB, avg_size: 64KiB, max_size: 256KiB}',
      '',
    ].join('\n'),
  )
  const vger = (args: string[], extra: Parameters<typeof runCli>[1] = {}): Promise<CliResult> =>
    runCli(['-c', path.join(work, 'vger.yaml'), ...args], {
      cwd: work,
      env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' },
      timeoutMs: 120_000,
      ...extra,
    })
  const init = await vger(['init', '-q'])
  expect(init.code, init.stderr).toBe(0)
  return { work, repo: path.join(work, 'repo'), src, vger }
}

/** Lock objects in the repository (a `.tmp.*` file of a lock write cut short is not one). */
function lockObjects(repo: string): string[] {
  const dir = path.join(repo, 'locks')
  return existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.')) : []
}

function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

/**
 * Runs a command and sends it SIGKILL a random time (up to `maxDelayMs`) after its lock object appears.
 * Resolves once it is gone; `killed` is false when it finished first.
 */
async function killWhileLocked(s: Setup, args: string[], maxDelayMs: number): Promise<{ killed: boolean; delay: number }> {
  const delay = Math.random() * maxDelayMs
  let killed = false
  let armed = false
  let watcher: FSWatcher | undefined
  await s.vger(args, {
    onSpawn: (child) => {
      // inotify, so that even prune's short hold of its lock is seen in time.
      watcher = watch(path.join(s.repo, 'locks'), () => {
        if (armed || lockObjects(s.repo).length === 0) return
        armed = true
        watcher?.close()
        setTimeout(() => (killed = child.kill('SIGKILL')), delay)
      })
    },
  })
  watcher?.close()
  return { killed, delay }
}

describe.skipIf(!addonBuilt)(`locks of dead processes${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it(`kill -9 of backup, compact and prune never stalls the next command (${ROUNDS} each)`, { timeout: 600_000 }, async () => {
    const s = await setup()
    for (const l of ['a', 'b', 'c']) writeFileSync(path.join(s.src, l, 'base.bin'), randomBytes(300 * 1024))
    expect((await s.vger(['backup', '-q'])).code).toBe(0)

    const stats: Record<string, { kills: number; left: number; slowestMs: number }> = {}
    /** The next command: it must succeed without waiting, and report each dead lock it removed. */
    const next = async (killedOp: string, args: string[]): Promise<void> => {
      const left = lockObjects(s.repo).length
      const started = Date.now()
      const r = await s.vger([...args, '--json', '--lock-wait', '60'])
      const ms = Date.now() - started
      const ctx = `${args.join(' ')} after a killed ${killedOp} (${left} lock left): ${r.stderr.slice(-1500)}`
      expect(r.code, ctx).toBe(0)
      const events = jsonLines(r.stderr)
      expect(
        events.filter((e) => e.type === 'lockWait'),
        ctx,
      ).toEqual([])
      const removed = events.filter((e) => e.type === 'warning' && e.code === 'VGER_LOCKED')
      expect(removed.length, ctx).toBe(left)
      for (const w of removed) expect(String(w.message), ctx).toMatch(/^removed the lock of .*, whose process no longer exists$/)
      const st = (stats[killedOp] ??= { kills: 0, left: 0, slowestMs: 0 })
      st.left += left > 0 ? 1 : 0
      st.slowestMs = Math.max(st.slowestMs, ms)
    }
    /**
     * Kills `op` at a random point after its lock appears; a kill that came after the lock was released
     * tests nothing, so it is tried again (up to `attempts` times, `before` giving the command work again).
     */
    const kill = async (op: string, args: string[], maxDelayMs: number, before?: () => Promise<void>, attempts = 3): Promise<void> => {
      for (let attempt = 0; attempt < attempts; attempt++) {
        if (before !== undefined) await before()
        const k = await killWhileLocked(s, args, maxDelayMs)
        if (k.killed) (stats[op] ??= { kills: 0, left: 0, slowestMs: 0 }).kills++
        if (lockObjects(s.repo).length > 0) return
      }
    }
    /**
     * Data that no snapshot uses any more, in packs that also hold live data: a compaction then has packs to
     * repack while it holds its lock (a compaction repacks only packs with unused blobs, at any threshold).
     */
    const garbage = async (): Promise<void> => {
      for (const l of ['a', 'b', 'c']) writeFileSync(path.join(s.src, l, 'churn.bin'), randomBytes(2 << 20))
      expect((await s.vger(['backup', '-q'])).code).toBe(0)
      expect((await s.vger(['prune', '-q'])).code).toBe(0)
    }
    /** A snapshot per source more, so that prune has three to remove while it holds its lock. */
    const moreSnapshots = async (): Promise<void> => {
      expect((await s.vger(['backup', '-q'])).code).toBe(0)
    }

    for (let round = 0; round < ROUNDS; round++) {
      writeFileSync(path.join(s.src, 'abc'[round % 3] ?? 'a', `r${round}.bin`), randomBytes(300 * 1024))
      // Each next command conflicts with the killed one's lock: repair (exclusive) after a shared
      // backup or prune lock, another compact after a compact's maintenance lock.
      await kill('backup', ['backup', '-q'], 20)
      await next('backup', ['check', '--repair'])
      // Compaction repacks only the packs that hold unused data (garbage makes some each time): a short
      // hold, so it gets more tries too.
      await kill('compact', ['compact', '--threshold', '0'], 40, garbage, 6)
      await next('compact', ['compact', '--threshold', '0'])
      // Prune holds its lock for a millisecond or two: most kills come too late, so it gets more tries.
      await kill('prune', ['prune', '-q'], 2, moreSnapshots, 10)
      await next('prune', ['check', '--repair'])
    }
    console.log(`dead locks: ${JSON.stringify(stats)}`)
    for (const op of ['backup', 'compact', 'prune']) {
      // Most kills land while the lock is held (the others, after it was released, test nothing).
      expect(stats[op]?.left ?? 0, `${op}: kills that left a lock (${JSON.stringify(stats)})`).toBeGreaterThanOrEqual(Math.ceil(ROUNDS / 3))
    }
    const check = await s.vger(['check'])
    expect(check.code, check.stderr).toBe(0)
  })

  it('a live holder is waited for, visibly; once it dies its lock goes at once', { timeout: 120_000 }, async () => {
    const s = await setup()
    writeFileSync(path.join(s.src, 'a', 'big.bin'), randomBytes(8 << 20))
    // A backup paused (SIGSTOP) while it holds its lock: alive, its lease live for minutes.
    let holder: { kill(signal: NodeJS.Signals): boolean } | undefined
    let pid = 0
    const stopped = new Promise<void>((resolve) => {
      void s.vger(['backup', '-q'], {
        onSpawn: (child) => {
          holder = child
          pid = (child as unknown as { pid: number }).pid
          const poll = setInterval(() => {
            if (lockObjects(s.repo).length === 0) return
            clearInterval(poll)
            child.kill('SIGSTOP')
            resolve()
          }, 2)
        },
      })
    })
    await stopped
    try {
      const locks = await s.vger(['locks', '--json'])
      const listed = (JSON.parse(locks.stdout) as { repositories: { locks: { pid: number; process: string; live: boolean }[] }[] })
        .repositories[0]?.locks
      expect(listed).toEqual([expect.objectContaining({ pid, process: 'alive', live: true })])
      expect((await s.vger(['locks'])).stdout).toMatch(/live\s+alive\s+backup/)

      // Repair needs the repository alone (compact would run beside the backup).
      const waited = await s.vger(['check', '--repair', '--json', '--lock-wait', '5'])
      expect(errorCode(waited.stderr)).toBe('VGER_LOCKED')
      const waits = jsonLines(waited.stderr).filter((e) => e.type === 'lockWait')
      expect(waits.length).toBeGreaterThanOrEqual(2)
      for (const w of waits) {
        expect(w).toMatchObject({ pid, operation: 'backup', exclusive: false, acquired: false, repository: 'main' })
        expect(typeof w.since).toBe('string')
      }
      const remaining = waits.map((w) => Number(w.remainingSecs))
      expect(remaining[0]).toBeGreaterThan(3)
      expect(remaining.at(-1)).toBeLessThan(remaining[0] ?? 0)

      const text = await s.vger(['check', '--repair', '--lock-wait', '2'])
      expect(errorCode(text.stderr)).toBe('VGER_LOCKED')
      expect(text.stderr).toMatch(
        new RegExp(`repository "main" is locked by backup \\(shared lock, pid ${pid} on \\S+\\) since .*; waiting up to 0:0\\d more`),
      )
    } finally {
      holder?.kill('SIGKILL')
    }
    // Dead now (once its parent, this test, has collected it; a zombie counts as dead too).
    await new Promise((r) => setTimeout(r, 200))
    const after = await s.vger(['locks', '--json'])
    expect(after.stdout).toContain('"process": "dead"')
    expect((await s.vger(['locks'])).stdout).toMatch(/live\s+dead\s+backup/)
    const started = Date.now()
    const compact = await s.vger(['check', '--repair', '--json', '--lock-wait', '60'])
    expect(compact.code, compact.stderr).toBe(0)
    expect(jsonLines(compact.stderr).filter((e) => e.type === 'lockWait')).toEqual([])
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(lockObjects(s.repo)).toEqual([])
  })
})
