/**
 * Concurrency end to end: three CLI processes back up their own changing source trees in a loop while
 * prune and compact run in a loop against the same repository, for two minutes. Afterwards
 * `check --verify-data` passes and every snapshot left restores to exactly the content its source had
 * when that backup ran. Every command runs with `--lock-wait 0`: backups go on beside compaction (a
 * maintenance lease), so no process may fail at all, VGER_LOCKED included. Content from older
 * generations comes back on purpose, so backups deduplicate against chunks whose snapshots prune has
 * just removed and compact is collecting.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { type CliResult, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'
import { readTree } from '../helpers/tree.js'

const PASS = 'concurrency passphrase'
const WORKERS = 3
/** How long the loops start new commands. */
const RUN_MS = Number(process.env.VGER_CONCURRENCY_MS ?? 120_000)
/** No waiting: nothing here may ever be refused for a lock. */
const LOCK_WAIT = '0'

beforeAll(() => ensureBuilt())

/** What a restore must reproduce: each file's size and digest, each directory. */
function digest(root: string): string {
  const entries = [...readTree(root)].map(([p, e]) => `${e.kind} ${p} ${e.size} ${e.sha256 ?? ''}`)
  return createHash('sha256').update(entries.sort().join('\n')).digest('hex')
}

interface Failure {
  who: string
  args: string[]
  code: number | null
  error: string | undefined
  stderr: string
}

describe.skipIf(!addonBuilt)(`concurrent backups, prune and compact${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('leaves a repository that checks clean and restores every snapshot to its source content', { timeout: RUN_MS + 240_000 }, async () => {
    const home = tempDir()
    const work = tempDir()
    const config = path.join(work, 'vger.yaml')
    const labels = Array.from({ length: WORKERS }, (_, i) => `w${i}`)
    writeFileSync(
      config,
      [
        'repositories:',
        '  - url: ./repo',
        '    label: main',
        'sources:',
        ...labels.flatMap((l) => [`  - path: src/${l}`, `    label: ${l}`]),
        'hostname: racer',
        'retention:',
        '  keep_last: 3',
        // Small chunks so that packs mix content of several generations.
        'chunker: {min_size: 16KiB, avg_size: 64KiB, max_size: 256KiB}',
        '',
      ].join('\n'),
    )
    const vger = (args: string[]) =>
      runCli(['-c', config, '--lock-wait', LOCK_WAIT, ...args], {
        cwd: work,
        env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' },
        timeoutMs: 400_000,
      })
    const init = await vger(['init', '-q'])
    expect(init.code, init.stderr).toBe(0)

    const failures: Failure[] = []
    const expected = new Map<string, { label: string; digest: string }>()
    const counts = { backups: 0, prunes: 0, pruned: 0, compacts: 0, freed: 0, beside: 0 }
    const deadline = Date.now() + RUN_MS
    const record = (who: string, args: string[], r: CliResult): boolean => {
      if (r.code === 0) return true
      failures.push({ who, args, code: r.code, error: errorCode(r.stderr), stderr: r.stderr.slice(-2000) })
      return false
    }

    const backupLoop = async (label: string): Promise<void> => {
      const root = path.join(work, 'src', label)
      const shared = Buffer.alloc(300 * 1024, 7) // the same in every tree: deduplicated across workers
      const pool: Buffer[] = []
      for (let gen = 0; Date.now() < deadline; gen++) {
        // A fresh generation: new data, data from three generations ago (its snapshot is likely pruned
        // by now and its packs up for compaction), shared data, and a file that changes size.
        pool.push(randomBytes(100 * 1024 + Math.floor(Math.random() * 200 * 1024)))
        rmSync(root, { recursive: true, force: true })
        mkdirSync(path.join(root, 'sub'), { recursive: true })
        writeFileSync(path.join(root, 'gen.txt'), `${label} generation ${gen}\n`)
        writeFileSync(path.join(root, 'new.bin'), pool[gen] ?? Buffer.alloc(0))
        writeFileSync(path.join(root, 'sub', 'old.bin'), pool[Math.max(0, gen - 3)] ?? Buffer.alloc(0))
        writeFileSync(path.join(root, 'sub', 'shared.bin'), shared)
        if (gen % 2 === 0) writeFileSync(path.join(root, 'sub', 'sometimes.txt'), 'x'.repeat(gen * 1000))
        const sourceDigest = digest(root)
        const args = ['-S', label, 'backup', '--json', '-q']
        const r = await vger(args)
        if (!record(label, args, r)) continue
        const [saved] = (JSON.parse(r.stdout) as { snapshots: { snapshotId: string }[] }).snapshots
        if (saved === undefined) throw new Error(`no snapshot in ${r.stdout}`)
        expected.set(saved.snapshotId, { label, digest: sourceDigest })
        counts.backups++
      }
    }

    const maintenanceLoop = async (): Promise<void> => {
      while (Date.now() < deadline) {
        const prune = ['prune', '--json', '-q']
        const p = await vger(prune)
        if (record('prune', prune, p)) {
          counts.prunes++
          counts.pruned += (JSON.parse(p.stdout) as { repositories: { removed: number }[] }).repositories[0]?.removed ?? 0
        }
        // Threshold 0: repack every pack with any unused byte, so compaction really moves live data.
        const compact = ['compact', '--threshold', '0', '--json', '-q']
        const c = await vger(compact)
        if (record('compact', compact, c)) {
          counts.compacts++
          const done = (JSON.parse(c.stdout) as { repositories: { bytesFreed: number; packsPending: number }[] }).repositories[0]
          counts.freed += done?.bytesFreed ?? 0
          // Retired packs kept for readers: this compaction ran while backups were running.
          if ((done?.packsPending ?? 0) > 0) counts.beside++
        }
      }
    }

    await Promise.all([...labels.map(backupLoop), maintenanceLoop()])
    console.log(
      `concurrency: ${counts.backups} backups, ${counts.prunes} prunes (${counts.pruned} snapshots removed), ` +
        `${counts.compacts} compacts (${counts.freed} bytes freed, ${counts.beside} beside running backups) in ${RUN_MS / 1000} s; ` +
        `${failures.length} failed commands${failures.length > 0 ? `: ${failures.map((f) => `${f.who} ${f.error ?? f.code}`).join(', ')}` : ''}`,
    )

    expect(failures, JSON.stringify(failures, null, 2)).toEqual([])
    expect(counts.backups).toBeGreaterThanOrEqual(WORKERS * 2)
    expect(counts.prunes).toBeGreaterThan(0)
    expect(counts.compacts).toBeGreaterThan(0)
    expect(counts.pruned).toBeGreaterThan(0)
    expect(counts.beside, 'compactions that overlapped a running backup').toBeGreaterThan(0)

    const check = await vger(['check', '--verify-data'])
    expect(check.code, check.stdout + check.stderr).toBe(0)
    expect(check.stdout).toContain('no problems found')

    const list = await vger(['list', '--json'])
    const snapshots = (JSON.parse(list.stdout) as { repositories: { snapshots: { id: string; label: string }[]; damaged: unknown[] }[] })
      .repositories[0]
    expect(snapshots?.damaged).toEqual([])
    const left = snapshots?.snapshots ?? []
    // Prune ran last for every label at most a few backups ago: at least keep_last of each label remain.
    expect(left.length).toBeGreaterThanOrEqual(WORKERS)
    expect(left.length).toBeLessThan(counts.backups)
    for (const s of left) {
      const want = expected.get(s.id)
      expect(want, `snapshot ${s.id} was not made by this test`).toBeDefined()
      expect(s.label).toBe(want?.label)
      const dest = path.join(work, 'restore', s.id)
      const r = await vger(['restore', s.id, dest, '-q'])
      expect(r.code, r.stderr).toBe(0)
      expect(digest(dest), `snapshot ${s.id.slice(0, 8)} of ${s.label}`).toBe(want?.digest)
    }
  })
})
