/**
 * The source options of the config reach the engine: `exclude_if_present`, `git_ignore` and `xattrs`
 * (the engine's own tests in crates/vger-core/tests/source_filter.rs cover `one_file_system` with a mount).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
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
})
