/**
 * Maintenance end to end (`node dist/cli/main.js` against real repositories): snapshot delete, prune
 * (--list, --dry-run, the refusal without --force), compact, check (a damaged pack named down to the file,
 * --repair, healing by the next backup), delete (confirmation paths), locks and break-lock, --lock-wait,
 * and the bare `vger` cycle running the real steps. Every --dry-run is checked to change no file.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { buildClockShim, filesBySize, flipByte, repoListing } from '../helpers/repo-files.js'
import { CLI, type CliResult, cliEnv, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'
import { makeSparseTree } from '../helpers/tree.js'

const PASS = 'maintenance passphrase'
const DAY = 86_400

beforeAll(() => ensureBuilt())

function json<T>(r: CliResult): T {
  return JSON.parse(r.stdout) as T
}

interface Snap {
  id: string
  label: string
  time: string
}

/** A work directory with sources, a config and an initialised repository. */
async function setup(configTail: string[] = [], sources: Record<string, Record<string, string | Buffer>> = {}) {
  const home = tempDir()
  const work = tempDir()
  const repo = path.join(work, 'repo')
  for (const [label, files] of Object.entries(sources)) {
    for (const [name, data] of Object.entries(files)) {
      const p = path.join(work, label, name)
      mkdirSync(path.dirname(p), { recursive: true })
      writeFileSync(p, data)
    }
  }
  const config = path.join(work, 'vger.yaml')
  const srcLines = Object.keys(sources).flatMap((label) => [`  - path: ${label}`])
  writeFileSync(
    config,
    [
      'repositories:',
      '  - url: ./repo',
      '    label: main',
      ...(srcLines.length > 0 ? ['sources:', ...srcLines] : []),
      'hostname: e2e',
      ...configTail,
      '',
    ].join('\n'),
  )
  const vger = (args: string[], env: Record<string, string | undefined> = {}, timeoutMs?: number) =>
    runCli(['-c', config, ...args], { cwd: work, env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', ...env }, timeoutMs })
  const init = await vger(['init', '-q'])
  expect(init.code, init.stderr).toBe(0)
  return { home, work, repo, config, vger }
}

async function backupIds(vger: (a: string[]) => Promise<CliResult>, args: string[] = []): Promise<string[]> {
  const r = await vger(['backup', '--json', ...args])
  expect(r.code, r.stderr).toBe(0)
  return json<{ snapshots: { snapshotId: string }[] }>(r).snapshots.map((s) => s.snapshotId)
}

async function listIds(vger: (a: string[]) => Promise<CliResult>): Promise<string[]> {
  const r = await vger(['list', '--json'])
  expect(r.code, r.stderr).toBe(0)
  return json<{ repositories: { snapshots: Snap[] }[] }>(r).repositories[0]?.snapshots.map((s) => s.id) ?? []
}

describe.skipIf(!addonBuilt)(`maintenance end to end${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('snapshot delete: --dry-run changes nothing, one unknown name deletes nothing, then the named ones go', async () => {
    const { repo, vger } = await setup([], { docs: { 'a.txt': 'one\n' } })
    const ids = [...(await backupIds(vger)), ...(await backupIds(vger)), ...(await backupIds(vger))]
    const before = repoListing(repo)
    const dry = await vger(['snapshot', 'delete', (ids[0] ?? '').slice(0, 8), 'latest', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).toBe(0)
    const plan = json<{ repository: string; snapshots: Snap[]; removed: number; applied: boolean }>(dry)
    expect(plan).toMatchObject({ repository: 'main', removed: 0, applied: false })
    expect(plan.snapshots.map((s) => s.id).sort()).toEqual([ids[0], ids[2]].sort())
    expect(repoListing(repo)).toEqual(before)

    const unknown = await vger(['snapshot', 'delete', (ids[0] ?? '').slice(0, 8), 'ffffffff'])
    expect(errorCode(unknown.stderr)).toBe('VGER_SNAPSHOT_NOT_FOUND')
    expect(await listIds(vger)).toEqual(ids)

    const text = await vger(['snapshot', 'delete', (ids[0] ?? '').slice(0, 8), 'latest'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain(`Deleted 2 snapshots from "main"; run "vger compact" to give the space back.`)
    expect(text.stdout).toContain((ids[0] ?? '').slice(0, 8))
    expect(await listIds(vger)).toEqual([ids[1]])
  })

  it('prune without retention rules fails before touching anything, and says where to add them', async () => {
    const { repo, vger } = await setup([], { docs: { 'a.txt': 'x' } })
    await backupIds(vger)
    const before = repoListing(repo)
    const r = await vger(['prune'])
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('VGER_CONFIG')
    expect(r.stderr).toContain('no retention rules for repository "main"')
    expect(r.stderr).toContain('keep_daily')
    expect(repoListing(repo)).toEqual(before)
  })

  it('prune --keep-last replaces the configured rules, --group-by regroups, --compact gives the space back in the same run', async () => {
    // The config keeps everything for a year; the command line's rule alone decides.
    const { work, vger } = await setup(['retention:', '  keep_within: 1y'], {
      docs: { 'a.bin': randomBytes(200_000) },
      photos: { 'p.jpg': 'p' },
    })
    await backupIds(vger)
    // New content: the first docs snapshot's data is used by nothing once it goes.
    writeFileSync(path.join(work, 'docs', 'a.bin'), randomBytes(200_000))
    const last = await backupIds(vger)
    const dry = await vger(['prune', '--keep-last', '1', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).toBe(0)
    type Plan = { repositories: { remove: number; keep: number; groups: unknown[] }[] }
    expect(json<Plan>(dry).repositories[0]).toMatchObject({ keep: 2, remove: 2 })
    // One group of all snapshots: only the newest of all four is kept.
    const one = await vger(['prune', '--keep-last', '1', '--group-by', '', '--dry-run', '--json'])
    expect(json<Plan>(one).repositories[0]).toMatchObject({ keep: 1, remove: 3, groups: [expect.anything()] })

    const applied = await vger(['prune', '--keep-last', '1', '--compact', '--json'])
    expect(applied.code, applied.stderr).toBe(0)
    const out = json<{ repositories: { removed: number; compact: { applied: boolean; bytesFreed: number } }[] }>(applied)
    expect(out.repositories[0]?.removed).toBe(2)
    expect(out.repositories[0]?.compact).toMatchObject({ applied: true })
    expect(out.repositories[0]?.compact.bytesFreed).toBeGreaterThan(150_000)
    expect(await listIds(vger)).toEqual(expect.arrayContaining(last))
    expect((await listIds(vger)).length).toBe(2)
    // The flags are checked before anything runs.
    const bad = await vger(['prune', '--keep-within', 'soon'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--keep-within')
    const badGroup = await vger(['prune', '--keep-last', '1', '--group-by', 'host,colour'])
    expect(badGroup.code).toBe(2)
    expect(badGroup.stderr).toContain('colour')
  })

  it('prune --dry-run --list shows every decision with its rules and changes nothing; prune applies it', async () => {
    const { repo, vger } = await setup(['retention:', '  keep_last: 2'], { docs: { 'a.txt': 'a' }, photos: { 'p.jpg': 'p' } })
    const runs = [await backupIds(vger), await backupIds(vger), await backupIds(vger)]
    const docs = runs.map((r) => r[0] ?? '')
    const photos = runs.map((r) => r[1] ?? '')
    const before = repoListing(repo)
    const dry = await vger(['prune', '--dry-run', '--list'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toContain('Prune "main": keeping 4 snapshots, would remove 2 snapshots (dry run: nothing removed)')
    expect(dry.stdout).toContain('host e2e, label docs:')
    expect(dry.stdout).toMatch(new RegExp(`^ +keep +${docs[2]?.slice(0, 8)} .* docs +last 1/2$`, 'm'))
    expect(dry.stdout).toMatch(new RegExp(`^ +keep +${docs[1]?.slice(0, 8)} .* docs +last 2/2$`, 'm'))
    expect(dry.stdout).toMatch(new RegExp(`^ +remove +${docs[0]?.slice(0, 8)} .* docs +-$`, 'm'))
    expect(dry.stdout).toMatch(new RegExp(`^ +remove +${photos[0]?.slice(0, 8)} .* photos +-$`, 'm'))
    expect(repoListing(repo)).toEqual(before)

    // -S restricts prune to one label.
    const onlyDocs = await vger(['-S', 'docs', 'prune', '--json'])
    expect(onlyDocs.code, onlyDocs.stderr).toBe(0)
    type Pruned = {
      repositories: {
        repository: string
        removed: number
        applied: boolean
        groups: { label: string; decisions: { snapshot: Snap; keep: boolean; reasons: string[] }[] }[]
      }[]
    }
    const out = json<Pruned>(onlyDocs).repositories[0]
    expect(out).toMatchObject({ repository: 'main', removed: 1, applied: true })
    expect(out?.groups.map((g) => g.label)).toEqual(['docs'])
    expect(out?.groups[0]?.decisions.map((d) => [d.snapshot.id, d.keep, d.reasons])).toEqual([
      [docs[2], true, ['last 1/2']],
      [docs[1], true, ['last 2/2']],
      [docs[0], false, []],
    ])
    expect((await listIds(vger)).sort()).toEqual([docs[1], docs[2], ...photos].sort())
  })

  it('prune refuses to empty a group without --force (VGER_INVALID_ARGUMENT, nothing removed), and a per-source rule wins', async (ctx) => {
    const { work, repo, vger } = await setup(['retention:', '  keep_within: 1d'], { docs: { 'a.txt': 'a' } })
    const shim = buildClockShim(work)
    if (shim === undefined) ctx.skip('no C compiler to build the clock shim')
    // Two snapshots "taken three days ago": keep_within 1d keeps neither.
    const old = { LD_PRELOAD: shim, VGER_TEST_CLOCK_SHIFT: String(3 * DAY) }
    const ids = [
      ...(await vger(['backup', '--json'], old).then((r) =>
        json<{ snapshots: { snapshotId: string }[] }>(r).snapshots.map((s) => s.snapshotId),
      )),
    ]
    ids.push(
      ...(await vger(['backup', '--json'], old).then((r) =>
        json<{ snapshots: { snapshotId: string }[] }>(r).snapshots.map((s) => s.snapshotId),
      )),
    )
    expect(ids).toHaveLength(2)

    const dry = await vger(['prune', '--dry-run', '--list'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toContain('would remove 2 snapshots')
    expect(dry.stderr).toContain('the policy would remove every snapshot of host e2e, label docs; a real run refuses that without --force')

    const before = repoListing(repo)
    const refused = await vger(['prune'])
    expect(refused.code).toBe(1)
    expect(errorCode(refused.stderr)).toBe('VGER_INVALID_ARGUMENT')
    expect(refused.stderr).toContain('would remove every snapshot of host "e2e" and label "docs"')
    expect(refused.stderr).toContain('nothing was removed')
    expect(refused.stderr).toContain('vger prune --force')
    expect(repoListing(repo)).toEqual(before)
    expect(await listIds(vger)).toEqual(ids)

    // A source's own retention replaces the repository's for its snapshots.
    const config = path.join(work, 'vger.yaml')
    writeFileSync(config, readFileSync(config, 'utf8').replace('  - path: docs', '  - path: docs\n    retention: {keep_last: 1}'))
    const kept = await vger(['prune', '--json'])
    expect(kept.code, kept.stderr).toBe(0)
    expect(json<{ repositories: { removed: number }[] }>(kept).repositories[0]?.removed).toBe(1)
    expect(await listIds(vger)).toEqual([ids[1]])

    // --force applies a policy that empties the group.
    writeFileSync(config, readFileSync(config, 'utf8').replace('\n    retention: {keep_last: 1}', ''))
    const forced = await vger(['prune', '--force'])
    expect(forced.code, forced.stderr).toBe(0)
    expect(await listIds(vger)).toEqual([])
  })

  it('compact --dry-run prints the plan and changes nothing; compact frees the space; --max-repack-size takes a size', async () => {
    const big = randomBytes(600 * 1024)
    const { work, repo, vger } = await setup([], { docs: { 'big.bin': big, 'small.txt': 'stays\n' } })
    const [first] = await backupIds(vger)
    rmSync(path.join(work, 'docs', 'big.bin'))
    const [second] = await backupIds(vger)
    const del = await vger(['snapshot', 'delete', first ?? ''])
    expect(del.code, del.stderr).toBe(0)

    const before = repoListing(repo)
    const dry = await vger(['compact', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).toBe(0)
    type Compacted = {
      repositories: {
        repository: string
        applied: boolean
        bytesFreed: number
        repack: unknown[]
        delete: unknown[]
        packsDeleted: number
      }[]
    }
    const plan = json<Compacted>(dry).repositories[0]
    expect(plan?.applied).toBe(false)
    expect(plan?.bytesFreed).toBeGreaterThan(big.length / 2)
    expect((plan?.repack.length ?? 0) + (plan?.delete.length ?? 0)).toBeGreaterThan(0)
    expect(plan?.packsDeleted).toBe(0)
    expect(repoListing(repo)).toEqual(before)
    const text = await vger(['compact', '--dry-run', '--threshold', '5', '--max-repack-size', '500MiB'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^Compact "main": \d+ packs? \(.*\) used by 1 snapshot$/m)
    expect(text.stdout).toMatch(/plan: .*frees [\d.]+ KiB/)
    expect(text.stdout).toContain('Dry run: nothing changed.')
    expect(repoListing(repo)).toEqual(before)

    const bad = await vger(['compact', '--threshold', '150'])
    expect(bad.code).toBe(2)
    const badSize = await vger(['compact', '--max-repack-size', 'lots'])
    expect(badSize.code).toBe(2)

    const sizeOf = (files: string[]) => files.reduce((n, l) => n + Number(l.split(' ')[1]), 0)
    const r = await vger(['compact'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^Done: wrote \d+ packs?, deleted \d+ packs?, .* freed\.$/m)
    expect(sizeOf(repoListing(repo))).toBeLessThan(sizeOf(before) - big.length / 2)
    // What is left still restores and checks.
    const dest = path.join(work, 'restored')
    expect((await vger(['restore', second ?? '', dest])).code).toBe(0)
    expect(readFileSync(path.join(dest, 'small.txt'), 'utf8')).toBe('stays\n')
    expect((await vger(['check', '--verify-data'])).code).toBe(0)
  })

  it('check finds a damaged pack, names the file it affects and fails with VGER_CHECK_FAILED; --repair salvages; the next backup heals', async () => {
    const victim = randomBytes(400 * 1024)
    const { work, repo, vger } = await setup([], { docs: { 'victim.bin': victim, 'fine.txt': 'fine\n' } })
    const [snap] = await backupIds(vger)
    const ok = await vger(['check', '--verify-data', '--json'])
    expect(ok.code, ok.stderr).toBe(0)
    type Report = {
      repository: string
      ok: boolean
      packsRead: number
      problems: { object: string; code: string }[]
      damaged: { snapshot: Snap; files: string[]; filesTotal: number }[]
    }
    expect(json<{ repositories: Report[] }>(ok).repositories[0]).toMatchObject({ repository: 'main', ok: true, problems: [], damaged: [] })

    // The biggest pack holds the victim's data; damage a byte in its middle.
    const pack = filesBySize(path.join(repo, 'packs'))[0] ?? ''
    flipByte(pack, Math.floor(readFileSync(pack).length / 2))

    const r = await vger(['check', '--verify-data'])
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('VGER_CHECK_FAILED')
    expect(r.stdout).toMatch(/problems? found/)
    expect(r.stdout).toContain(path.basename(pack).slice(0, 8))
    expect(r.stdout).toContain('Damaged snapshots')
    expect(r.stdout).toMatch(new RegExp(`^ +${snap?.slice(0, 8)} "docs" .*: 1 file$`, 'm'))
    expect(r.stdout).toMatch(/^ +victim\.bin$/m)
    expect(r.stdout).not.toMatch(/^ +fine\.txt$/m)

    const j = await vger(['check', '--verify-data', '--json'])
    expect(j.code).toBe(1)
    const report = json<{ repositories: Report[] }>(j).repositories[0]
    expect(report?.ok).toBe(false)
    expect(report?.problems.length).toBeGreaterThan(0)
    expect(report?.damaged.map((d) => [d.snapshot.id, d.files, d.filesTotal])).toEqual([[snap, ['victim.bin'], 1]])

    const bad = await vger(['check', '--dry-run'])
    expect(bad.code).toBe(2)

    const before = repoListing(repo)
    const dry = await vger(['check', '--repair', '--dry-run', '--verify-data'])
    expect(dry.stdout).toContain('Dry run: nothing changed.')
    expect(dry.stdout).toMatch(/damaged packs: /)
    expect(repoListing(repo)).toEqual(before)

    const repaired = await vger(['check', '--repair', '--verify-data', '--json'])
    type Repair = {
      repository: string
      applied: boolean
      packsDamaged: string[]
      blobsSalvaged: number
      entriesDropped: number
      check: Report
    }
    const outcome = json<{ repositories: Repair[] }>(repaired).repositories[0]
    expect(outcome?.applied).toBe(true)
    expect(
      outcome?.packsDamaged.map((p) => path.basename(pack).startsWith(p) || p.startsWith(path.basename(pack)) || pack.includes(p)),
    ).toEqual([true])
    expect(outcome?.entriesDropped).toBeGreaterThan(0)
    // The damaged pack is gone; the data it held is not, and the check after the repair still says so.
    expect(existsSync(pack)).toBe(false)
    expect(outcome?.check.damaged.map((d) => d.files)).toEqual([['victim.bin']])
    expect(repaired.code).toBe(1)
    expect(errorCode(repaired.stderr)).toBe('VGER_CHECK_FAILED')

    // fine.txt still restores; the file whose data was lost is named, never written wrong.
    const dest = path.join(work, 'restored')
    const restore = await vger(['restore', snap ?? '', dest])
    expect(readFileSync(path.join(dest, 'fine.txt'), 'utf8')).toBe('fine\n')
    expect(existsSync(path.join(dest, 'victim.bin'))).toBe(false)
    expect(errorCode(restore.stderr)).toBe('VGER_RESTORE_INCOMPLETE')

    // The file still exists: the next backup stores its chunks again, which heals the old snapshot.
    await backupIds(vger)
    const healed = await vger(['check', '--verify-data'])
    expect(healed.code, healed.stdout + healed.stderr).toBe(0)
    expect(healed.stdout).toContain('no problems found')
    const dest2 = path.join(work, 'restored-after-heal')
    expect((await vger(['restore', snap ?? '', dest2])).code).toBe(0)
    expect(readFileSync(path.join(dest2, 'victim.bin')).equals(victim)).toBe(true)
  })

  it('delete: no terminal and no flag is a usage error before any passphrase; --dry-run counts; the flag deletes', async () => {
    const { repo, vger } = await setup([], { docs: { 'a.txt': 'a' } })
    await backupIds(vger)
    const before = repoListing(repo)
    const refused = await vger(['delete'], { VGER_PASSPHRASE: undefined })
    expect(refused.code).toBe(2)
    expect(errorCode(refused.stderr)).toBe('VGER_USAGE')
    expect(refused.stderr).toContain('--yes-delete-this-repo')
    expect(refused.stderr).toContain('run it on a terminal')
    expect(repoListing(repo)).toEqual(before)

    const dry = await vger(['delete', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).toBe(0)
    const plan = json<{ repository: string; objects: number; bytes: number; applied: boolean }>(dry)
    expect(plan).toMatchObject({ repository: 'main', objects: before.length, applied: false })
    expect(plan.bytes).toBe(before.reduce((n, l) => n + Number(l.split(' ')[1]), 0))
    expect(repoListing(repo)).toEqual(before)

    const r = await vger(['delete', '--yes-delete-this-repo', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(json<{ objects: number; applied: boolean }>(r)).toMatchObject({ objects: before.length, applied: true })
    expect(existsSync(repo) ? repoListing(repo) : []).toEqual([])
    expect(errorCode((await vger(['list'])).stderr)).toBe('VGER_REPO_NOT_FOUND')
  })

  it('delete on a terminal: a wrong answer deletes nothing, the label deletes', async () => {
    const { work, home, config, repo, vger } = await setup([], { docs: { 'a.txt': 'a' } })
    await backupIds(vger)
    const before = repoListing(repo)
    const onTty = (answer: string) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const command = [process.execPath, CLI, '-c', config, 'delete'].map((a) => `'${a}'`).join(' ')
        const child = spawn('script', ['-qec', command, '/dev/null'], {
          cwd: work,
          env: cliEnv(home, { VGER_PASSPHRASE: PASS }),
          stdio: ['pipe', 'pipe', 'pipe'],
        })
        let out = ''
        let answered = false
        const onData = (c: Buffer) => {
          out += c.toString('utf8')
          if (!answered && out.includes('to delete it: ')) {
            answered = true
            child.stdin.write(`${answer}\r`)
          }
        }
        child.stdout.on('data', onData)
        child.stderr.on('data', onData)
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
        child.on('close', (code) => {
          clearTimeout(timer)
          resolve({ code, out })
        })
      })
    const wrong = await onTty('yes')
    expect(wrong.out).toContain('Type "main" to delete it: ')
    expect(wrong.out).toContain('the answer did not match "main"; nothing was deleted')
    expect(wrong.code).toBe(2)
    expect(repoListing(repo)).toEqual(before)
    const right = await onTty('main')
    expect(right.out).toContain('Deleted repository "main"')
    expect(right.code).toBe(0)
    expect(existsSync(repo) ? repoListing(repo) : []).toEqual([])
  })

  it('a lock left by a killed backup: locks lists it as dead, break-lock removes it, and compact removes it at once', async () => {
    const { work, home, config, vger } = await setup([])
    makeSparseTree(path.join(work, 'sparse'))
    // Kill a long backup once its progress shows it holds its lease.
    const killBackup = async () => {
      const killed = await runCli(['-c', config, 'backup', 'sparse', '--json'], {
        cwd: work,
        env: { HOME: home, VGER_PASSPHRASE: PASS },
        onStderr: (chunk, child) => {
          if (chunk.includes('"type":"backup"')) child.kill('SIGKILL')
        },
      })
      expect(killed.signal).toBe('SIGKILL')
    }
    await killBackup()
    const locks = await vger(['locks', '--json'])
    expect(locks.code, locks.stderr).toBe(0)
    type Locks = { repositories: { locks: { kind: string; live: boolean; process: string; operation: string; pid: number }[] }[] }
    const held = json<Locks>(locks).repositories[0]?.locks ?? []
    expect(held).toHaveLength(1)
    // Its lease has not expired, but its process is gone.
    expect(held[0]).toMatchObject({ kind: 'shared', live: true, process: 'dead', operation: 'backup' })
    const text = await vger(['locks'])
    expect(text.stdout).toMatch(/^\S+ +shared +live +dead +backup /m)

    const dry = await vger(['break-lock', '--dry-run'])
    expect(dry.stdout).toContain('Dry run: would remove 1 lock from "main"; nothing changed.')
    expect(json<Locks>(await vger(['locks', '--json'])).repositories[0]?.locks).toHaveLength(1)

    // No passphrase needed: the locks are counted and removed.
    const blind = await vger(['break-lock', '--json'], { VGER_PASSPHRASE: undefined })
    expect(blind.code, blind.stderr).toBe(0)
    expect(json<{ repositories: { removed: number; applied: boolean; locks?: unknown }[] }>(blind).repositories[0]).toEqual({
      repository: 'main',
      removed: 1,
      applied: true,
    })
    expect(json<Locks>(await vger(['locks', '--json'])).repositories[0]?.locks).toEqual([])
    expect((await vger(['--lock-wait', '1', 'compact'])).code).toBe(0)

    // With a passphrase it shows what it removes; a dead process's lock is no live lock to warn about.
    await killBackup()
    const broken = await vger(['break-lock'])
    expect(broken.code, broken.stderr).toBe(0)
    expect(broken.stdout).toMatch(/^\S+ +shared +live +dead +backup /m)
    expect(broken.stdout).toContain('Removed 1 lock from "main".')
    expect(broken.stderr).not.toContain('live lock')
    expect(json<Locks>(await vger(['locks', '--json'])).repositories[0]?.locks).toEqual([])

    // Without break-lock, the next command that conflicts removes it at once and says so.
    await killBackup()
    const started = Date.now()
    const compact = await vger(['--lock-wait', '60', 'compact'])
    expect(compact.code, compact.stderr).toBe(0)
    expect(compact.stderr).toMatch(
      /warning: repository "main": removed the lock of backup \(shared lock, pid \d+ on \S+\), whose process no longer exists \[VGER_LOCKED\]/,
    )
    expect(compact.stderr).not.toContain('is locked by')
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(json<Locks>(await vger(['locks', '--json'])).repositories[0]?.locks).toEqual([])
  })

  it('bare vger runs the real prune, compact and check, and says when prune is skipped', async () => {
    const { work, vger } = await setup(['retention:', '  keep_last: 1'], { docs: { 'a.txt': 'a', 'big.bin': randomBytes(200 * 1024) } })
    await backupIds(vger)
    rmSync(path.join(work, 'docs', 'big.bin'))
    await backupIds(vger)
    const r = await vger(['--json'])
    expect(r.code, r.stderr).toBe(0)
    type Step = { step: string; status: string; result: Record<string, unknown> }
    const out = json<{ backup: { snapshots: unknown[] }; repositories: { steps: Step[] }[] }>(r)
    expect(out.backup.snapshots).toHaveLength(1)
    const steps = Object.fromEntries((out.repositories[0]?.steps ?? []).map((s) => [s.step, s]))
    expect(Object.values(steps).map((s) => s.status)).toEqual(['ok', 'ok', 'ok'])
    expect(steps.prune?.result).toMatchObject({ keep: 1, remove: 2, removed: 2, applied: true })
    expect(steps.compact?.result).toMatchObject({ applied: true })
    expect(steps.compact?.result.bytesFreed).toBeGreaterThan(200 * 1024 - 1)
    expect(steps.check?.result).toMatchObject({ ok: true, snapshots: 1 })
    expect(await listIds(vger)).toHaveLength(1)

    const text = await vger([])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain('Prune "main": keeping 1 snapshot, removed 1 snapshot')
    expect(text.stdout).toMatch(/^Compact "main": /m)
    expect(text.stdout).toMatch(/^Check "main": 1 snapshot, .*: no problems found$/m)

    // Without retention rules the cycle says prune is skipped, and still compacts and checks.
    const config = path.join(work, 'vger.yaml')
    writeFileSync(config, readFileSync(config, 'utf8').replace('retention:\n  keep_last: 1\n', ''))
    const skipped = await vger([])
    expect(skipped.code, skipped.stderr).toBe(0)
    expect(skipped.stdout).toContain('prune "main": skipped (no retention rules are configured)')
    expect(skipped.stdout).toMatch(/^Check "main": 2 snapshots, /m)
    expect(readdirSync(path.join(work, 'repo', 'snapshots')).length).toBeGreaterThan(0)
  })
})
