/**
 * Config keys whose effect no other end-to-end test shows (test/unit/config-keys.test.ts points here):
 * compression (top level and per repository, `algorithm` and `zstd_level`), the chunker sizes, the global
 * `exclude_patterns`, a source's `repos` and a source of several `paths`.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { type CliResult, ensureBuilt, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

beforeAll(() => ensureBuilt())

function json<T>(r: CliResult): T {
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as T
}

interface Info {
  repositories: {
    repository: string
    chunker: { minSize: number; avgSize: number; maxSize: number }
    stats: { originalBytes: number; uniqueChunks: number; compressedBytes: number }
  }[]
}

function setup(lines: string[], files: Record<string, string | Buffer>) {
  const work = tempDir()
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(work, name)), { recursive: true })
    writeFileSync(path.join(work, name), data)
  }
  const config = path.join(work, 'vger.yaml')
  writeFileSync(config, [...lines, ''].join('\n'))
  const vger = (args: string[]) =>
    runCli(['-c', config, ...args], { cwd: work, env: { HOME: work, VGER_PASSPHRASE: 'pw', VGER_TEST_KDF: 'fast' } })
  return { work, vger }
}

/** Text that compresses, and compresses better with more effort: words drawn at random from a small vocabulary. */
function text(bytes: number): string {
  const words = Array.from({ length: 300 }, () => randomBytes(5).toString('base64url'))
  let out = ''
  while (out.length < bytes) out += `${words[Math.floor(Math.random() * words.length)] ?? ''}${Math.random() < 0.1 ? '\n' : ' '}`
  return out.slice(0, bytes)
}

const byName = (info: Info) => new Map(info.repositories.map((r) => [r.repository, r]))

describe.skipIf(!addonBuilt)(`config keys, end to end${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('compression: algorithm none stores the data as it is; zstd_level 19 stores less than zstd_level 1', async () => {
    const { vger } = setup(
      [
        'repositories:',
        '  - url: ./plain',
        '    label: plain',
        '  - url: ./fast',
        '    label: fast',
        '    compression: {algorithm: zstd, zstd_level: 1}',
        '  - url: ./small',
        '    label: small',
        '    compression: {algorithm: zstd, zstd_level: 19}',
        'compression:',
        '  algorithm: none',
        'sources:',
        '  - data',
      ],
      { 'data/words.txt': text(1 << 20) },
    )
    expect((await vger(['init'])).code).toBe(0)
    expect((await vger(['backup'])).code).toBe(0)
    const repos = byName(json<Info>(await vger(['info', '--json'])))
    const plain = repos.get('plain')?.stats
    const fast = repos.get('fast')?.stats.compressedBytes ?? 0
    const small = repos.get('small')?.stats.compressedBytes ?? 0
    expect(plain?.compressedBytes).toBeGreaterThanOrEqual(plain?.originalBytes ?? Infinity)
    expect(fast).toBeLessThan((plain?.originalBytes ?? 0) * 0.9)
    expect(small).toBeLessThan(fast)
  })

  it('chunker: init records min_size, avg_size and max_size, and a file is cut at those sizes', async () => {
    const data = randomBytes(2 << 20)
    const small = setup(
      ['repositories:', '  - url: ./repo', 'chunker: {min_size: 16KiB, avg_size: 64KiB, max_size: 256KiB}', 'sources:', '  - data'],
      { 'data/random.bin': data },
    )
    const standard = setup(['repositories:', '  - url: ./repo', 'sources:', '  - data'], { 'data/random.bin': data })
    const stats = []
    for (const { vger } of [small, standard]) {
      expect((await vger(['init'])).code).toBe(0)
      expect((await vger(['backup'])).code).toBe(0)
      stats.push(json<Info>(await vger(['info', '--json'])).repositories[0])
    }
    expect(stats[0]?.chunker).toEqual({ minSize: 16 << 10, avgSize: 64 << 10, maxSize: 256 << 10 })
    expect(stats[1]?.chunker).toEqual({ minSize: 512 << 10, avgSize: 1 << 20, maxSize: 8 << 20 })
    // 2 MiB of random data: at least 8 chunks of at most 256 KiB, against at most 4 of at least 512 KiB.
    expect(stats[0]?.stats.uniqueChunks).toBeGreaterThanOrEqual(8)
    expect(stats[1]?.stats.uniqueChunks).toBeLessThanOrEqual(4)
  })

  it("exclude_patterns applies to every source; a source's repos sends it only there; paths make one snapshot", async () => {
    const { work, vger } = setup(
      [
        'repositories:',
        '  - url: ./a',
        '    label: a',
        '  - url: ./b',
        '    label: b',
        'exclude_patterns: ["*.log"]',
        'sources:',
        '  - path: docs',
        '    repos: [a]',
        '  - paths: [docs, etc]',
        '    label: both',
      ],
      { 'docs/keep.txt': 'keep\n', 'docs/noise.log': 'noise\n', 'etc/app.conf': 'conf\n' },
    )
    expect((await vger(['init'])).code).toBe(0)
    expect((await vger(['backup'])).code).toBe(0)
    type List = { repositories: { repository: string; snapshots: { label: string }[] }[] }
    const labels = new Map(
      json<List>(await vger(['list', '--json'])).repositories.map((r) => [r.repository, r.snapshots.map((s) => s.label)]),
    )
    expect(labels.get('a')?.sort()).toEqual(['both', 'docs'])
    expect(labels.get('b')).toEqual(['both'])
    type Files = { entries: { path: string; kind: string }[] }
    const files = (r: CliResult) =>
      json<Files>(r)
        .entries.filter((e) => e.kind === 'file')
        .map((e) => e.path)
        .sort()
    expect(files(await vger(['-R', 'a', 'snapshot', 'list', 'latest', '-S', 'docs', '--json']))).toEqual(['keep.txt'])
    const rel = (p: string) => path.join(work, p).slice(1)
    expect(files(await vger(['-R', 'b', 'snapshot', 'list', 'latest', '-S', 'both', '--json']))).toEqual([
      rel('docs/keep.txt'),
      rel('etc/app.conf'),
    ])
  })
})
