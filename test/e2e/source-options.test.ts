/**
 * The source options of the config reach the engine: `exclude_if_present`, `git_ignore` and `xattrs`
 * (the engine's own tests in crates/vger-core/tests/source_filter.rs cover `one_file_system` with a mount).
 * A source path that is a symlink is followed, an overlapping path is saved once with a warning, and a
 * missing one fails the backup (crates/vger-core/tests/symlink_source.rs has the engine's side).
 */
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { ensureBuilt, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'correct horse battery staple'

beforeAll(() => ensureBuilt())

describe.skipIf(!addonBuilt)(`source options${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('a config with exclude_if_present and git_ignore backs up exactly what they leave', async () => {
    const work = tempDir()
    const src = path.join(work, 'project')
    for (const d of ['build/out', 'cache', 'docs']) mkdirSync(path.join(src, d), { recursive: true })
    writeFileSync(path.join(src, '.gitignore'), 'build/\n*.tmp\n')
    writeFileSync(path.join(src, 'main.c'), 'int main(void) { return 0; }\n')
    writeFileSync(path.join(src, 'scratch.tmp'), 'scratch\n')
    writeFileSync(path.join(src, 'build/out/app'), 'binary\n')
    writeFileSync(path.join(src, 'cache/CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n')
    writeFileSync(path.join(src, 'cache/blob'), 'cached\n')
    writeFileSync(path.join(src, 'docs/guide.md'), '# guide\n')
    const config = path.join(work, 'vger.yaml')
    writeFileSync(
      config,
      [
        'repositories:',
        '  - url: ./repo',
        'exclude_if_present: [CACHEDIR.TAG]',
        'sources:',
        '  - path: project',
        '    git_ignore: true',
        '    xattrs: {enabled: false}',
        '',
      ].join('\n'),
    )
    const vger = (args: string[]) =>
      runCli(['-c', config, ...args], { cwd: work, env: { HOME: work, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' } })
    expect((await vger(['init'])).code).toBe(0)
    const b = await vger(['backup'])
    expect(b.code, b.stderr).toBe(0)
    expect(b.stderr).not.toContain('not applied')
    const l = await vger(['snapshot', 'list', 'latest', '--json'])
    expect(l.code, l.stderr).toBe(0)
    const paths = (JSON.parse(l.stdout) as { entries: { path: string }[] }).entries.map((e) => e.path)
    expect(paths).toEqual(['.gitignore', 'docs', 'docs/guide.md', 'main.c'])
  })

  it('the backup filter flags: --files-from, --exclude-file, --iexclude, --exclude-larger-than, --exclude-caches, --exclude-if-present', async () => {
    const work = tempDir()
    const src = path.join(work, 'data')
    for (const d of ['cache', 'fake-cache', 'marked', 'other', 'plain']) mkdirSync(path.join(src, d), { recursive: true })
    writeFileSync(path.join(src, 'cache/CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n')
    writeFileSync(path.join(src, 'cache/blob'), 'cached\n')
    writeFileSync(path.join(src, 'fake-cache/CACHEDIR.TAG'), 'no signature here\n')
    writeFileSync(path.join(src, 'marked/.nobackup'), '')
    writeFileSync(path.join(src, 'marked/x'), 'x')
    writeFileSync(path.join(src, 'plain/IMG_1.JPG'), 'jpeg')
    writeFileSync(path.join(src, 'plain/notes.txt'), 'notes')
    writeFileSync(path.join(src, 'plain/huge.iso'), Buffer.alloc(3000, 1))
    writeFileSync(path.join(src, 'plain/drop.log'), 'log')
    writeFileSync(path.join(src, 'other/kept.txt'), 'kept')
    writeFileSync(path.join(work, 'excludes'), '# logs are noise\n\n*.log\n')
    writeFileSync(path.join(work, 'paths'), '# what to back up\ndata/cache\ndata/fake-cache\ndata/marked\ndata/plain\n')
    const config = path.join(work, 'vger.yaml')
    writeFileSync(config, 'repositories:\n  - url: ./repo\n')
    const vger = (args: string[]) =>
      runCli(['-c', config, ...args], { cwd: work, env: { HOME: work, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' } })
    expect((await vger(['init'])).code).toBe(0)
    const flags = ['--files-from', 'paths', '--exclude-file', 'excludes', '--iexclude', '*.jpg', '--exclude-larger-than', '2KiB']
    const b = await vger(['backup', '--label', 'f', ...flags, '--exclude-caches', '--exclude-if-present', '.nobackup'])
    expect(b.code, b.stderr).toBe(0)
    const l = await vger(['snapshot', 'list', 'latest', '--json'])
    const paths = (JSON.parse(l.stdout) as { entries: { path: string }[] }).entries.map((e) => e.path.replace(/^.*?\/data\//, 'data/'))
    const shown = paths.filter((p) => p.startsWith('data/'))
    expect(shown).toEqual(['data/fake-cache', 'data/fake-cache/CACHEDIR.TAG', 'data/plain', 'data/plain/notes.txt'])

    const empty = path.join(work, 'none')
    writeFileSync(empty, '# nothing\n')
    const nothing = await vger(['backup', '--files-from', empty])
    expect(nothing.code).toBe(2)
    expect(nothing.stderr).toContain('lists no path')
    const unreadable = await vger(['backup', 'data', '--exclude-file', 'missing-file'])
    expect(unreadable.code).toBe(2)
    expect(unreadable.stderr).toContain('--exclude-file missing-file: ENOENT')
  })

  it('backup --dry-run says what a backup would add, stores nothing and runs no hook', async () => {
    const work = tempDir()
    mkdirSync(path.join(work, 'data'))
    writeFileSync(path.join(work, 'data', 'a.bin'), Buffer.alloc(100_000, 7))
    writeFileSync(path.join(work, 'data', 'b.txt'), 'b\n')
    const config = path.join(work, 'vger.yaml')
    writeFileSync(config, "repositories:\n  - url: ./repo\nhooks:\n  before: 'touch hook-ran'\n")
    const vger = (args: string[]) =>
      runCli(['-c', config, ...args], { cwd: work, env: { HOME: work, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' } })
    expect((await vger(['init'])).code).toBe(0)
    const dry = await vger(['backup', '--dry-run', 'data'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(
      /Dry run of "data" to ".*": 2 files, 0 dirs, .*; would add \d+ chunks?, .* before compression \(nothing was stored\)/,
    )
    expect(existsSync(path.join(work, 'hook-ran'))).toBe(false)
    const list = await vger(['list', '--json'])
    expect((JSON.parse(list.stdout) as { repositories: { snapshots: unknown[] }[] }).repositories[0]?.snapshots).toEqual([])
    const json = await vger(['backup', '-n', 'data', '--json'])
    const planned = (JSON.parse(json.stdout) as { snapshots: { stats: { newBytes: number; storedBytes: number } }[] }).snapshots[0]
    expect(planned?.stats.newBytes).toBeGreaterThan(0)
    expect(planned?.stats.storedBytes).toBe(0)
    // The real backup adds what the dry run said it would, and sums up what changed.
    const real = await vger(['backup', 'data', '--json'])
    type Saved = { stats: { newBytes: number }; changes: { new: number; changed: number; unmodified: number } }
    const saved = (JSON.parse(real.stdout) as { snapshots: Saved[] }).snapshots[0]
    expect(saved?.stats.newBytes).toBe(planned?.stats.newBytes)
    expect(saved?.changes).toEqual({ new: 2, changed: 0, unmodified: 0 })
    writeFileSync(path.join(work, 'data', 'b.txt'), 'b, longer now\n')
    writeFileSync(path.join(work, 'data', 'c.txt'), 'c\n')
    const second = await vger(['backup', 'data'])
    expect(second.stdout).toMatch(/^ {2}files: 1 new, 1 changed, 1 unmodified; .* added to the repository$/m)
    expect(existsSync(path.join(work, 'hook-ran'))).toBe(true)

    // --host records another hostname, which list --host then finds.
    const other = await vger(['backup', 'data', '--host', 'other-machine'])
    expect(other.code, other.stderr).toBe(0)
    const byHost = await vger(['list', '--host', 'other-machine', '--json'])
    const hosts = (JSON.parse(byHost.stdout) as { repositories: { snapshots: { hostname: string }[] }[] }).repositories[0]?.snapshots
    expect(hosts?.map((h) => h.hostname)).toEqual(['other-machine'])

    // --time records another time; an impossible date is refused before anything runs.
    const dated = await vger(['backup', 'data', '--time', '2020-01-02T03:04:05Z', '--label', 'old'])
    expect(dated.code, dated.stderr).toBe(0)
    const old = await vger(['list', '-S', 'old', '--json'])
    const times = (JSON.parse(old.stdout) as { repositories: { snapshots: { time: string }[] }[] }).repositories[0]?.snapshots
    expect(times?.map((t) => t.time.slice(0, 19))).toEqual(['2020-01-02T03:04:05'])
    const bad = await vger(['backup', 'data', '--time', '2026-02-30'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--time')
  })

  it('a source that is a symlink to a directory is followed; overlapping and missing paths are reported', async () => {
    const work = tempDir()
    const real = path.join(work, 'real')
    mkdirSync(path.join(real, 'sub'), { recursive: true })
    writeFileSync(path.join(real, 'a.txt'), 'a\n')
    writeFileSync(path.join(real, 'sub/b.txt'), 'b\n')
    symlinkSync('a.txt', path.join(real, 'inner'))
    symlinkSync('real', path.join(work, 'link'))
    const config = path.join(work, 'vger.yaml')
    writeFileSync(config, ['repositories:', '  - url: ./repo', 'sources:', '  - path: link', ''].join('\n'))
    const vger = (args: string[]) =>
      runCli(['-c', config, ...args], { cwd: work, env: { HOME: work, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' } })
    expect((await vger(['init'])).code).toBe(0)

    // A configured source whose path is a symlink: its directory is saved, inner symlinks stay symlinks.
    const b = await vger(['backup'])
    expect(b.code, b.stderr).toBe(0)
    expect(b.stdout).toContain('2 files')
    expect(b.stderr).toBe('')
    const l = await vger(['snapshot', 'list', 'latest', '--json'])
    const entries = (JSON.parse(l.stdout) as { entries: { path: string; kind: string }[] }).entries
    expect(entries.map((e) => `${e.path} ${e.kind}`)).toEqual(['a.txt file', 'inner symlink', 'sub dir', 'sub/b.txt file'])

    // A path inside another given path: saved once, as part of it, and said so; the exit code stays 0.
    const nested = await vger(['backup', 'link', 'link/a.txt', '--label', 'nested'])
    expect(nested.code, nested.stderr).toBe(0)
    expect(nested.stderr).toContain(`${path.join(work, 'link/a.txt')} is inside ${path.join(work, 'link')}`)
    expect(nested.stdout).toContain('2 files')

    // A missing path fails the backup, and nothing is saved.
    const missing = await vger(['backup', 'link', 'link/nope', '--label', 'missing'])
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toContain('link/nope')
    expect(missing.stderr).toContain('VGER_SOURCE_NOT_FOUND')
    const list = await vger(['list', '--json'])
    const listed = JSON.parse(list.stdout) as { repositories: { snapshots: { label: string }[] }[] }
    const labels = listed.repositories[0]?.snapshots.map((s) => s.label)
    expect(labels).toEqual(['link', 'nested'])
  })
})
