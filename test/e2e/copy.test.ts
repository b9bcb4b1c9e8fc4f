/**
 * `vger copy` (docs/commands.md): snapshots move to a second repository with their ids, tags and data; a second
 * run stores nothing (bytes counted, repository size unchanged); a destination made with
 * `init --copy-chunker-params-from` shares ids, so the copy reads only what it lacks; bad requests are refused.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { cliEnv, errorCode, ensureBuilt, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'correct horse battery staple'

beforeAll(() => ensureBuilt())

interface CopyJson {
  snapshots: { source: { id: string }; copied?: { id: string; tags: string[] } | null }[]
  blobs: number
  bytes: number
  storedBytes: number
  bytesRead: number
  rechunked: boolean
}

function setup() {
  const work = tempDir()
  const src = path.join(work, 'src')
  mkdirSync(path.join(src, 'sub'), { recursive: true })
  writeFileSync(path.join(src, 'big.bin'), randomBytes(3 << 20))
  writeFileSync(path.join(src, 'sub', 'small.txt'), 'small\n')
  const config = path.join(work, 'vger.yaml')
  writeFileSync(
    config,
    [
      'repositories:',
      '  - label: a',
      '    url: ./a',
      '  - label: b',
      '    url: ./b',
      '  - label: c',
      '    url: ./c',
      '  - label: plain',
      '    url: ./plain',
      '    encryption: {mode: none}',
      '',
    ].join('\n'),
  )
  const env = cliEnv(work, { VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' })
  const vger = (args: string[]) => runCli(['-c', config, ...args], { cwd: work, env })
  const copyJson = async (args: string[]): Promise<CopyJson> => {
    const r = await vger(['--json', ...args])
    expect(r.code, r.stderr).toBe(0)
    return JSON.parse(r.stdout) as CopyJson
  }
  const ids = async (label: string): Promise<string[]> => {
    const r = await vger(['--json', '-R', label, 'list'])
    expect(r.code, r.stderr).toBe(0)
    return (JSON.parse(r.stdout) as { repositories: { snapshots: { id: string }[] }[] }).repositories[0]!.snapshots.map((s) => s.id)
  }
  return { work, src, vger, copyJson, ids }
}

function dirBytes(dir: string): number {
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) n += e.name === 'locks' ? 0 : dirBytes(p)
    else n += statSync(p).size
  }
  return n
}

describe.skipIf(!addonBuilt)(`vger copy${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('copies snapshots with their ids and tags; a second run stores nothing', async () => {
    const s = setup()
    for (const r of ['a', 'b']) expect((await s.vger(['-R', r, 'init'])).code).toBe(0)
    expect((await s.vger(['-R', 'a', 'backup', 'src', '--tag', 'daily'])).code).toBe(0)
    writeFileSync(path.join(s.src, 'sub', 'small.txt'), 'changed\n')
    expect((await s.vger(['-R', 'a', 'backup', 'src'])).code).toBe(0)
    const source = await s.ids('a')

    const first = await s.copyJson(['-R', 'a', 'copy', '--to', 'b'])
    expect(first.rechunked).toBe(true)
    expect(first.snapshots.map((c) => c.copied?.id)).toEqual(source)
    expect(first.snapshots[0]!.copied!.tags).toEqual(['daily'])
    expect(first.storedBytes).toBeGreaterThan(3 << 20)
    // The second snapshot shares big.bin with the first: it is read again, but not stored again.
    expect(first.bytes).toBeLessThan((3 << 20) + 64 * 1024)
    expect(await s.ids('b')).toEqual(source)

    const sizeB = dirBytes(path.join(s.work, 'b'))
    const again = await s.copyJson(['-R', 'a', 'copy', '--to', 'b'])
    expect(again.snapshots.every((c) => c.copied == null)).toBe(true)
    expect([again.blobs, again.bytes, again.storedBytes, again.bytesRead]).toEqual([0, 0, 0, 0])
    expect(dirBytes(path.join(s.work, 'b'))).toBe(sizeB)

    // Restored from the copy: the newest tree, byte for byte.
    const out = path.join(s.work, 'out')
    const r = await s.vger(['-R', 'b', 'restore', 'latest', out])
    expect(r.code, r.stderr).toBe(0)
    expect(readFileSync(path.join(out, 'big.bin')).equals(readFileSync(path.join(s.src, 'big.bin')))).toBe(true)
    expect(readFileSync(path.join(out, 'sub', 'small.txt'), 'utf8')).toBe('changed\n')
    const check = await s.vger(['-R', 'b', 'check', '--verify-data'])
    expect(check.code, check.stdout + check.stderr).toBe(0)

    // A tag filter; a snapshot already there is named as such.
    const tagged = await s.copyJson(['-R', 'a', 'copy', '--to', 'b', '--tag', 'daily'])
    expect(tagged.snapshots.map((c) => c.source.id)).toEqual([source[0]])
  })

  it('shares ids with a destination made by init --copy-chunker-params-from, and reads only what it lacks', async () => {
    const s = setup()
    expect((await s.vger(['-R', 'a', 'init'])).code).toBe(0)
    expect((await s.vger(['-R', 'c', 'init', '--copy-chunker-params-from', 'a'])).code).toBe(0)
    expect((await s.vger(['-R', 'a', 'backup', 'src'])).code).toBe(0)
    const first = await s.copyJson(['-R', 'a', 'copy', '--to', 'c'])
    expect(first.rechunked).toBe(false)
    expect(first.bytesRead).toBeGreaterThanOrEqual(3 << 20)
    writeFileSync(path.join(s.src, 'sub', 'new.txt'), 'new file\n')
    expect((await s.vger(['-R', 'a', 'backup', 'src'])).code).toBe(0)
    const second = await s.copyJson(['-R', 'a', 'copy', '--to', 'c'])
    expect(second.snapshots.filter((c) => c.copied != null).length).toBe(1)
    // Only the new file's chunk is read; big.bin is not touched.
    expect(second.bytesRead).toBeLessThan(1024)
    const out = path.join(s.work, 'out')
    expect((await s.vger(['-R', 'c', 'restore', 'latest', out])).code).toBe(0)
    expect(readFileSync(path.join(out, 'sub', 'new.txt'), 'utf8')).toBe('new file\n')
    expect(readFileSync(path.join(out, 'big.bin')).equals(readFileSync(path.join(s.src, 'big.bin')))).toBe(true)
  })

  it('refuses copying into the same repository and out of encryption', async () => {
    const s = setup()
    for (const r of ['a', 'plain']) expect((await s.vger(['-R', r, 'init'])).code).toBe(0)
    expect((await s.vger(['-R', 'a', 'backup', 'src'])).code).toBe(0)
    let r = await s.vger(['-R', 'a', 'copy', '--to', 'a'])
    expect(r.code).toBe(2)
    expect(errorCode(r.stderr)).toBe('VGER_USAGE')
    r = await s.vger(['-R', 'a', 'copy', '--to', path.join(s.work, 'a')])
    expect(errorCode(r.stderr)).toBe('VGER_USAGE')
    r = await s.vger(['-R', 'a', 'copy', '--to', 'plain'])
    expect(r.code).not.toBe(0)
    expect(errorCode(r.stderr)).toBe('VGER_INVALID_ARGUMENT')
    expect(r.stderr).toMatch(/in the clear/)
    expect(await s.ids('plain')).toEqual([])
    // No --to at all.
    r = await s.vger(['-R', 'a', 'copy'])
    expect(r.code).toBe(2)
  })
})
