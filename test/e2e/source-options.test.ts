/**
 * The source options of the config reach the engine: `exclude_if_present`, `git_ignore` and `xattrs`
 * (the engine's own tests in crates/vger-core/tests/source_filter.rs cover `one_file_system` with a mount).
 * A source path that is a symlink is followed, an overlapping path is saved once with a warning, and a
 * missing one fails the backup (crates/vger-core/tests/symlink_source.rs has the engine's side).
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
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
