/**
 * The full command surface end to end (`node dist/cli/main.js`), one story on one repository:
 * config → init → backup (-S) → list → info → snapshot info/find/diff → restore -S latest →
 * key change-passphrase → bare vger. Every --json document is parsed and checked. Run the whole file.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { type CliResult, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'first passphrase'
const NEW_PASS = 'second passphrase'

beforeAll(() => ensureBuilt())

function json<T>(r: CliResult): T {
  expect(r.stderr, 'stderr').not.toMatch(/^vger: error/m)
  return JSON.parse(r.stdout) as T
}

interface Snap {
  id: string
  label: string
  hostname: string
  time: string
  tree: string
  formatVersion: number
}

describe.skipIf(!addonBuilt)(`vger commands end to end${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  let home: string
  let work: string
  let config: string
  const ids: Record<string, string[]> = { docs: [], photos: [] }
  let passphrase = PASS

  const vger = (args: string[], env: Record<string, string | undefined> = {}) =>
    runCli(['-c', config, ...args], { cwd: work, env: { HOME: home, VGER_PASSPHRASE: passphrase, VGER_TEST_KDF: 'fast', ...env } })

  beforeAll(() => {
    home = tempDir()
    work = tempDir()
    mkdirSync(path.join(work, 'docs', 'sub'), { recursive: true })
    writeFileSync(path.join(work, 'docs', 'a.txt'), 'alpha\n')
    writeFileSync(path.join(work, 'docs', 'Report.PDF'), 'pdf v1\n')
    writeFileSync(path.join(work, 'docs', 'sub', 'b.txt'), 'beta\n')
    writeFileSync(path.join(work, 'docs', 'skip.tmp'), 'temporary\n')
    mkdirSync(path.join(work, 'photos'))
    writeFileSync(path.join(work, 'photos', 'p.jpg'), Buffer.alloc(4096, 7))
    config = path.join(work, 'vger.yaml')
    writeFileSync(
      config,
      [
        'repositories:',
        '  - url: ./repo',
        '    label: main',
        'sources:',
        '  - path: docs',
        '    exclude: ["*.tmp"]',
        '  - path: photos',
        'hostname: e2e-host',
        'retention:',
        '  keep_last: 10',
        'chunker: {min_size: 256KiB, avg_size: 1MiB, max_size: 4MiB}',
        '',
      ].join('\n'),
    )
  })

  it('config writes a starter file that validates, and refuses to overwrite it', async () => {
    const dest = path.join(work, 'starter', 'vger.yaml')
    const r = await runCli(['config', '--dest', dest, '--json'], { cwd: work, env: { HOME: home } })
    expect(r.code, r.stderr).toBe(0)
    expect(json<{ path: string }>(r)).toEqual({ path: dest })
    expect(readFileSync(dest, 'utf8')).toContain('repositories:')
    // Loading it back: the only error is that its repository does not exist yet.
    const check = await runCli(['-c', dest, 'list'], { cwd: work, env: { HOME: home } })
    expect(errorCode(check.stderr)).toBe('VGER_REPO_NOT_FOUND')
    const again = await runCli(['config', '--dest', dest], { cwd: work, env: { HOME: home } })
    expect(again.code).toBe(2)
    expect(again.stderr).toBe(
      `vger: error[VGER_USAGE]: ${dest} already exists; edit it, or write the starter config elsewhere with --dest PATH\n`,
    )
    const cwdDefault = await runCli(['config'], { cwd: path.dirname(dest), env: { HOME: home } })
    expect(cwdDefault.code).toBe(2) // ./vger.yaml is the default destination, and it exists
  })

  it('a missing repository is reported without asking for a passphrase', async () => {
    const r = await vger(['list'], { VGER_PASSPHRASE: undefined })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /^vger: error\[VGER_REPO_NOT_FOUND\]: no repository at .*\/repo \(repository "main"\); create it with "vger init"/m,
    )
  })

  it('init, then backup -S picks one configured source', async () => {
    const init = await vger(['init', '--json'])
    expect(init.code, init.stderr).toBe(0)
    expect(json<{ repositories: { repository: string; encryption: string }[] }>(init).repositories[0]?.repository).toBe('main')
    const r = await vger(['backup', '-S', 'docs', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = json<{ snapshots: { source: string; snapshotId: string; stats: { files: number } }[]; errors: unknown[] }>(r)
    expect(out.snapshots.map((s) => [s.source, s.stats.files])).toEqual([['docs', 3]])
    expect(out.errors).toEqual([])
    ids.docs?.push(out.snapshots[0]?.snapshotId ?? '')
  })

  it('backup -S with an unknown label is a usage error with a suggestion', async () => {
    const r = await vger(['backup', '-S', 'doc'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('no source labelled "doc" (did you mean "docs"?)')
  })

  it('a second backup of every source after changing content and metadata', async () => {
    writeFileSync(path.join(work, 'docs', 'a.txt'), 'alpha, longer now\n')
    writeFileSync(path.join(work, 'docs', 'new.txt'), 'new file\n')
    chmodSync(path.join(work, 'docs', 'sub', 'b.txt'), 0o600)
    utimesSync(path.join(work, 'docs', 'Report.PDF'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'))
    const r = await vger(['backup', '--json', '-q'])
    expect(r.code, r.stderr).toBe(0)
    const out = json<{ snapshots: { source: string; snapshotId: string }[] }>(r)
    expect(out.snapshots.map((s) => s.source)).toEqual(['docs', 'photos'])
    for (const s of out.snapshots) ids[s.source]?.push(s.snapshotId)
  })

  it('list filters by -S, --host and --last', async () => {
    type Listing = { repositories: { repository: string; snapshots: Snap[] }[]; errors: unknown[] }
    const all = json<Listing>(await vger(['list', '--json']))
    expect(all.repositories[0]?.snapshots.map((s) => s.label)).toEqual(['docs', 'docs', 'photos'])
    const docs = json<Listing>(await vger(['list', '-S', 'docs', '--json']))
    expect(docs.repositories[0]?.snapshots.map((s) => s.id)).toEqual(ids.docs)
    const last = json<Listing>(await vger(['list', '-S', 'docs', '--last', '1', '--json']))
    expect(last.repositories[0]?.snapshots.map((s) => s.id)).toEqual([ids.docs?.[1]])
    const otherHost = json<Listing>(await vger(['list', '--host', 'elsewhere', '--json']))
    expect(otherHost.repositories[0]?.snapshots).toEqual([])
    const bad = await vger(['list', '--last', '0'])
    expect(bad.code).toBe(2)

    // --path, --since/--until and --group-by.
    const withPaths = all.repositories[0]?.snapshots as (Snap & { paths: string[] })[]
    const photosPath = withPaths.find((s) => s.label === 'photos')?.paths[0] ?? ''
    const byPath = json<Listing>(await vger(['list', '--path', photosPath, '--json']))
    expect(byPath.repositories[0]?.snapshots.map((s) => s.label)).toEqual(['photos'])
    expect(json<Listing>(await vger(['list', '--since', '1h', '--json'])).repositories[0]?.snapshots).toHaveLength(3)
    expect(json<Listing>(await vger(['list', '--until', '2000-01-01', '--json'])).repositories[0]?.snapshots).toEqual([])
    expect(json<Listing>(await vger(['list', '--since', '2000-01-01T00:00:00Z', '--json'])).repositories[0]?.snapshots).toHaveLength(3)
    type Grouped = { repositories: { groups: { label: string; totals: { snapshots: number; newBytes: number } }[] }[] }
    const grouped = json<Grouped>(await vger(['list', '--group-by', 'label', '--json']))
    expect(grouped.repositories[0]?.groups.map((g) => [g.label, g.totals.snapshots])).toEqual([
      ['docs', 2],
      ['photos', 1],
    ])
    const text = await vger(['list', '--group-by', 'host,label'])
    expect(text.stdout).toMatch(/^host .*, label docs: 2 snapshots; the newest has .* files, .*; together they added /m)
    const badTime = await vger(['list', '--since', 'yesterday-ish'])
    expect(badTime.code).toBe(2)
  })

  it('info shows the totals from stats()', async () => {
    const r = await vger(['info'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^Snapshots: +3$/m)
    expect(r.stdout).toMatch(/^Deduplicated size: /m)
    const out = json<{
      repositories: {
        repository: string
        encryption: string
        chunker: unknown
        stats: Record<string, number>
        lastSnapshot: { id: string }
      }[]
    }>(await vger(['info', '--json']))
    const repo = out.repositories[0]
    expect(repo?.repository).toBe('main')
    expect(repo).toMatchObject({ chunker: { minSize: 256 * 1024, avgSize: 1024 * 1024, maxSize: 4 * 1024 * 1024 } }) // from the config, at init
    expect(repo?.stats.snapshots).toBe(3)
    // docs: 18 + 39 bytes in two snapshots (skip.tmp excluded), photos: 4096.
    expect(repo?.stats.originalBytes).toBe(18 + 39 + 4096)
    // Unique chunks include the snapshots' tree blobs, so on data this small they can exceed the original size.
    expect(repo?.stats.deduplicatedBytes).toBeGreaterThan(4096)
    expect(repo?.stats.uniqueChunks).toBeGreaterThan(0)
    expect(repo?.stats.packs).toBeGreaterThan(0)
    expect(repo?.stats.compressedBytes).toBeLessThanOrEqual(repo?.stats.storedBytes ?? 0)
    expect(Object.keys(repo?.stats ?? {}).sort()).toEqual([
      'compressedBytes',
      'deduplicatedBytes',
      'originalBytes',
      'packs',
      'snapshots',
      'storedBytes',
      'uniqueChunks',
    ])
    expect(repo?.lastSnapshot.id).toBe(ids.photos?.[0])
  })

  it('snapshot info and "latest" restricted by -S', async () => {
    const r = await vger(['-S', 'docs', 'snapshot', 'info', 'latest', '--json'])
    const out = json<{ repository: string; snapshot: Snap }>(r)
    expect(out.snapshot).toMatchObject({ id: ids.docs?.[1], label: 'docs', hostname: 'e2e-host' })
    expect(out.snapshot.tree).toMatch(/^[0-9a-f]{64}$/)
    const text = await vger(['snapshot', 'info', (ids.docs?.[0] ?? '').slice(0, 6)])
    expect(text.stdout).toMatch(new RegExp(`^ID: +${ids.docs?.[0]}$`, 'm'))
    const ambiguousOrBad = await vger(['snapshot', 'info', 'xyz'])
    expect(ambiguousOrBad.code).toBe(2)
  })

  it('snapshot list takes a PATH argument', async () => {
    const out = json<{ entries: { path: string }[] }>(await vger(['-S', 'docs', 'snapshot', 'list', 'latest', 'sub', '--json']))
    expect(out.entries.map((e) => e.path)).toEqual(['sub/b.txt'])
  })

  it('snapshot diff shows added, modified and metadata-only changes with size deltas', async () => {
    const [a, b] = ids.docs ?? []
    const r = await vger(['snapshot', 'diff', a ?? '', b ?? '', '--json'])
    const out = json<{
      a: string
      b: string
      entries: { path: string; change: string; fields: string[]; oldSize?: number; newSize?: number }[]
      added: number
      modified: number
    }>(r)
    expect([out.a, out.b]).toEqual([a, b])
    const byPath = Object.fromEntries(out.entries.map((e) => [e.path, e]))
    expect(byPath['new.txt']).toMatchObject({ change: 'added', newSize: 9 })
    expect(byPath['a.txt']).toMatchObject({ change: 'modified', oldSize: 6, newSize: 18 })
    expect(byPath['sub/b.txt']).toMatchObject({ change: 'metadata' })
    expect(byPath['sub/b.txt']?.fields).toContain('mode')
    expect(byPath['Report.PDF']).toMatchObject({ change: 'metadata' })
    expect(byPath['Report.PDF']?.fields).toContain('mtime')
    const text = await vger(['snapshot', 'diff', a ?? '', b ?? ''])
    expect(text.stdout).toMatch(/^\+ +added .* new\.txt$/m)
    expect(text.stdout).toMatch(/^M +modified +6 B +18 B +\+12 B +a\.txt$/m)
  })

  it('snapshot find: a timeline per path, with name, type and size filters', async () => {
    type Found = { snapshots: string[]; results: { path: string; kind: string; versions: { snapshot: string; status: string }[] }[] }
    const out = json<Found>(await vger(['-S', 'docs', 'snapshot', 'find', '--name', '*.txt', '--json']))
    expect(out.snapshots).toEqual(ids.docs)
    const timeline = Object.fromEntries(out.results.map((r) => [r.path, r.versions.map((v) => v.status)]))
    // One rule with snapshot diff: a mode-only change is "metadata", and so is an mtime-only one.
    expect(timeline).toEqual({ 'a.txt': ['added', 'modified'], 'new.txt': ['added'], 'sub/b.txt': ['added', 'metadata'] })
    const ci = json<Found>(await vger(['-S', 'docs', 'snapshot', 'find', '--iname', '*.pdf', '--json']))
    expect(ci.results.map((r) => r.path)).toEqual(['Report.PDF'])
    expect(ci.results[0]?.versions.map((v) => v.status)).toEqual(['added', 'metadata'])
    const dirs = json<Found>(await vger(['-S', 'docs', 'snapshot', 'find', '--type', 'd', '--json']))
    expect(dirs.results.map((r) => r.path)).toContain('sub')
    expect(dirs.results.every((r) => r.kind === 'dir')).toBe(true)
    const big = json<Found>(await vger(['snapshot', 'find', '--larger', '1KiB', '--json']))
    expect(big.results.map((r) => r.path)).toEqual(['p.jpg'])
    const under = json<Found>(await vger(['-S', 'docs', 'snapshot', 'find', 'sub', '--last', '1', '--json']))
    expect(under.snapshots).toEqual([ids.docs?.[1]])
    expect(under.results.map((r) => r.path)).toEqual(['sub/b.txt'])
    const none = await vger(['snapshot', 'find', '--since', '1h', '--name', 'nothing-*'])
    expect(none.stdout).toBe('No matches in 3 snapshots.\n')
  })

  it('restore "latest" of one source (-S), with a pattern', async () => {
    const dest = path.join(work, 'restored')
    const r = await vger(['-S', 'docs', 'restore', 'latest', dest, '--pattern', '*.txt', '--json'])
    const out = json<{ snapshot: string; files: number; errors: unknown[] }>(r)
    expect(out).toMatchObject({ snapshot: ids.docs?.[1], files: 3, errors: [] })
    expect(readFileSync(path.join(dest, 'a.txt'), 'utf8')).toBe('alpha, longer now\n')
    expect(existsSync(path.join(dest, 'Report.PDF'))).toBe(false)
  })

  it('key change-passphrase: VGER_NEW_PASSPHRASE for scripts; the old one stops working', async () => {
    const missing = await vger(['key', 'change-passphrase'])
    expect(missing.code).toBe(1)
    expect(errorCode(missing.stderr)).toBe('VGER_PASSPHRASE_REQUIRED')
    const r = await vger(['key', 'change-passphrase', '--json'], { VGER_NEW_PASSPHRASE: NEW_PASS })
    expect(r.code, r.stderr).toBe(0)
    expect(json<{ repository: string; changed: boolean }>(r)).toEqual({ repository: 'main', changed: true })
    const old = await vger(['list'])
    expect(errorCode(old.stderr)).toBe('VGER_WRONG_PASSPHRASE')
    passphrase = NEW_PASS
    expect((await vger(['list'])).code).toBe(0)
  })

  it('key add, list and remove: a second passphrase opens the repository; the key in use cannot be removed', async () => {
    type Keys = { repository: string; keys: { id: string; current: boolean; modified?: string }[] }
    const before = json<Keys>(await vger(['key', 'list', '--json'])).keys
    expect(before).toHaveLength(1)
    expect(before[0]?.current).toBe(true)
    const added = await vger(['key', 'add', '--json'], { VGER_NEW_PASSPHRASE: 'recovery passphrase' })
    expect(added.code, added.stderr).toBe(0)
    const id = json<{ added: string }>(added).added
    const both = json<Keys>(await vger(['key', 'list', '--json'])).keys
    expect(both.map((k) => [k.id === id, k.current]).sort()).toEqual([
      [false, true],
      [true, false],
    ])
    // Both passphrases open it.
    const withRecovery = await vger(['list'], { VGER_PASSPHRASE: 'recovery passphrase' })
    expect(withRecovery.code, withRecovery.stderr).toBe(0)
    // The key in use cannot go, and says what to do.
    const own = await vger(['key', 'remove', before[0]?.id ?? ''])
    expect(own.code).toBe(1)
    expect(errorCode(own.stderr)).toBe('VGER_INVALID_ARGUMENT')
    expect(own.stderr).toContain("another key's passphrase")
    // Removed with the other passphrase, by a prefix of its id, the recovery key is gone for good.
    const removed = await vger(['key', 'remove', id.slice(0, 6), '--json'])
    expect(json<{ removed: string }>(removed).removed).toBe(id)
    expect(errorCode((await vger(['list'], { VGER_PASSPHRASE: 'recovery passphrase' })).stderr)).toBe('VGER_WRONG_PASSPHRASE')
    expect((await vger(['list'])).code).toBe(0)
  })

  it('bare vger runs the full cycle: backup of every source, then prune, compact, check', async () => {
    const r = await vger(['--json'])
    expect(r.code, r.stderr).toBe(0)
    type Cycle = {
      backup: { snapshots: { source: string }[]; errors: unknown[] }
      repositories: { repository: string; steps: { step: string; status: string }[] }[]
    }
    const out = json<Cycle>(r)
    expect(out.backup.snapshots.map((s) => s.source)).toEqual(['docs', 'photos'])
    expect(out.repositories[0]?.steps.map((s) => s.step)).toEqual(['prune', 'compact', 'check'])
    expect(out.repositories[0]?.steps.map((s) => s.status)).toEqual(['ok', 'ok', 'ok'])
    const text = await vger([])
    expect(text.code, text.stderr).toBe(0)
    // keep_last: 10 keeps all 7 snapshots.
    expect(text.stdout).toMatch(/^Prune "main": keeping 7 snapshots, removed 0 snapshots$/m)
    expect(text.stdout).toMatch(/^Check "main": 7 snapshots, .*: no problems found$/m)
  })

  it('usage errors exit with 2 and never touch the repository', async () => {
    for (const args of [
      ['snapshot', 'find', '--type', 'x'],
      ['snapshot', 'find', '--larger', 'big'],
      ['snapshot', 'diff', 'latest'],
    ]) {
      const r = await vger(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(errorCode(r.stderr)).toBe('VGER_USAGE')
    }
  })
})
