/**
 * Tags, pins, descriptions and rewrite from the command line (docs/commands.md): `backup --tag/--description`,
 * `list --tag`, `snapshot tag add|remove|set`, `snapshot pin|unpin` (a pinned snapshot survives a prune that
 * would remove it and refuses `snapshot delete`), `snapshot describe`, and `snapshot rewrite` (the rewritten
 * snapshot restores without the excluded file, and compact gives its space back).
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { cliEnv, errorCode, ensureBuilt, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'correct horse battery staple'

beforeAll(() => ensureBuilt())

interface Summary {
  id: string
  tags: string[]
  pinned: boolean
  description: string
  rewrittenFrom?: { id: string; note: string } | null
}

function setup() {
  const work = tempDir()
  const src = path.join(work, 'src')
  mkdirSync(path.join(src, 'dir'), { recursive: true })
  writeFileSync(path.join(src, 'keep.txt'), 'keep me\n')
  writeFileSync(path.join(src, 'dir', 'notes.txt'), 'notes\n')
  const config = path.join(work, 'vger.yaml')
  writeFileSync(config, 'repositories:\n  - url: ./repo\n')
  const env = cliEnv(work, { VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' })
  const vger = (args: string[]) => runCli(['-c', config, ...args], { cwd: work, env })
  const snapshots = async (...filter: string[]): Promise<Summary[]> => {
    const r = await vger(['--json', 'list', ...filter])
    expect(r.code, r.stderr).toBe(0)
    return (JSON.parse(r.stdout) as { repositories: { snapshots: Summary[] }[] }).repositories[0]!.snapshots
  }
  return { work, src, vger, snapshots }
}

function dirBytes(dir: string): number {
  let n = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size
  }
  return n
}

describe.skipIf(!addonBuilt)(`snapshot tags, pins and rewrite${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('tags at backup, filters by tag, changes tags and descriptions with new ids', async () => {
    const s = setup()
    expect((await s.vger(['init'])).code).toBe(0)
    let r = await s.vger(['backup', 'src', '--tag', 'nightly,db', '--tag', 'prod', '--description', 'before the upgrade'])
    expect(r.code, r.stderr).toBe(0)
    r = await s.vger(['backup', 'src'])
    expect(r.code, r.stderr).toBe(0)
    const [first, second] = await s.snapshots()
    expect(first!.tags).toEqual(['db', 'nightly', 'prod'])
    expect(first!.description).toBe('before the upgrade')
    expect(second!.tags).toEqual([])

    expect((await s.snapshots('--tag', 'nightly,prod')).map((x) => x.id)).toEqual([first!.id])
    expect(await s.snapshots('--tag', 'nightly,other')).toEqual([])
    expect((await s.snapshots('--tag', 'other', '--tag', 'db')).map((x) => x.id)).toEqual([first!.id])
    const table = await s.vger(['list'])
    expect(table.stdout).toMatch(/Tags/)
    expect(table.stdout).toContain('db,nightly,prod')

    // A tag with a comma or a control character is refused before anything changes.
    r = await s.vger(['snapshot', 'tag', 'add', 'a\tb', first!.id.slice(0, 8)])
    expect(r.code).toBe(2)
    expect(errorCode(r.stderr)).toBe('VGER_USAGE')
    r = await s.vger(['backup', 'src', '--tag', 'a,,b'])
    expect(r.code).toBe(2)
    expect(errorCode(r.stderr)).toBe('VGER_USAGE')
    expect((await s.snapshots()).length).toBe(2)

    r = await s.vger(['--json', 'snapshot', 'tag', 'add', 'weekly', second!.id.slice(0, 8)])
    expect(r.code, r.stderr).toBe(0)
    const changed = JSON.parse(r.stdout) as { items: { before: Summary; after?: Summary }[]; changed: number }
    expect(changed.changed).toBe(1)
    const renamed = changed.items[0]!.after!
    expect(renamed.id).not.toBe(second!.id)
    expect(renamed.tags).toEqual(['weekly'])
    expect((await s.snapshots()).map((x) => x.id)).toEqual([first!.id, renamed.id])

    r = await s.vger(['snapshot', 'tag', 'remove', 'db,prod', first!.id.slice(0, 8)])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/Changed 1 snapshot/)
    r = await s.vger(['snapshot', 'tag', 'set', '', 'latest'])
    expect(r.code, r.stderr).toBe(0)
    r = await s.vger(['snapshot', 'describe', '--dry-run', 'latest', 'x'])
    expect(r.stdout).toMatch(/Dry run/)
    r = await s.vger(['snapshot', 'describe', 'latest', 'after the upgrade'])
    expect(r.code, r.stderr).toBe(0)
    const [a, b] = await s.snapshots()
    expect(a!.tags).toEqual(['nightly'])
    expect(b!.tags).toEqual([])
    expect(b!.description).toBe('after the upgrade')
    const info = await s.vger(['snapshot', 'info', 'latest'])
    expect(info.stdout).toMatch(/Description:\s+after the upgrade/)
  })

  it('a pinned snapshot survives prune and refuses snapshot delete until unpinned', async () => {
    const s = setup()
    expect((await s.vger(['init'])).code).toBe(0)
    for (let i = 0; i < 3; i++) {
      writeFileSync(path.join(s.src, 'keep.txt'), `version ${i}\n`)
      expect((await s.vger(['backup', 'src'])).code).toBe(0)
    }
    const [oldest] = await s.snapshots()
    let r = await s.vger(['snapshot', 'pin', oldest!.id.slice(0, 8)])
    expect(r.code, r.stderr).toBe(0)
    const pinned = (await s.snapshots()).find((x) => x.pinned)!
    expect(pinned).toBeDefined()

    r = await s.vger(['prune', '--keep-last', '1', '--list'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`keep\\s+${pinned.id.slice(0, 8)}.*pinned`))
    const left = await s.snapshots()
    expect(left.length).toBe(2)
    expect(left.map((x) => x.id)).toContain(pinned.id)

    r = await s.vger(['snapshot', 'delete', pinned.id.slice(0, 8)])
    expect(r.code).not.toBe(0)
    expect(errorCode(r.stderr)).toBe('VGER_INVALID_ARGUMENT')
    expect(r.stderr).toMatch(/unpin/)
    expect((await s.snapshots()).length).toBe(2)

    r = await s.vger(['snapshot', 'unpin', pinned.id.slice(0, 8)])
    expect(r.code, r.stderr).toBe(0)
    r = await s.vger(['prune', '--keep-last', '1'])
    expect(r.code, r.stderr).toBe(0)
    expect((await s.snapshots()).length).toBe(1)
  })

  it('rewrite removes a file from history; compact gives its space back', async () => {
    const s = setup()
    const secret = randomBytes(2 << 20)
    writeFileSync(path.join(s.src, 'dir', 'id_rsa'), secret)
    expect((await s.vger(['init'])).code).toBe(0)
    expect((await s.vger(['backup', 'src', '--tag', 'home'])).code).toBe(0)
    const repo = path.join(s.work, 'repo')
    const before = dirBytes(repo)

    let r = await s.vger(['snapshot', 'rewrite', 'latest', '--exclude', 'dir/id_rsa', '--exclude', 'nothing/here'])
    expect(r.code).not.toBe(0)
    expect(errorCode(r.stderr)).toBe('VGER_INVALID_ARGUMENT')
    expect(r.stderr).toContain('nothing/here')
    r = await s.vger(['snapshot', 'rewrite', 'latest', '--exclude', '*'])
    expect(errorCode(r.stderr)).toBe('VGER_INVALID_ARGUMENT')
    expect(r.stderr).toMatch(/empty/)

    r = await s.vger(['snapshot', 'rewrite', 'latest', '--exclude', 'dir/id_rsa', '--dry-run'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('dir/id_rsa')
    expect(r.stdout).toMatch(/Dry run/)
    expect(dirBytes(repo)).toBe(before)

    r = await s.vger(['snapshot', 'rewrite', 'latest', '--exclude', 'dir/id_rsa', '--forget'])
    expect(r.code, r.stderr).toBe(0)
    const [only] = await s.snapshots()
    expect(only!.rewrittenFrom?.note).toContain('dir/id_rsa')
    expect(only!.tags).toEqual(['home'])

    const out = path.join(s.work, 'out')
    r = await s.vger(['restore', 'latest', out])
    expect(r.code, r.stderr).toBe(0)
    expect(existsSync(path.join(out, 'dir', 'id_rsa'))).toBe(false)
    expect(readFileSync(path.join(out, 'keep.txt'), 'utf8')).toBe('keep me\n')
    expect(readFileSync(path.join(out, 'dir', 'notes.txt'), 'utf8')).toBe('notes\n')

    r = await s.vger(['compact', '--threshold', '0'])
    expect(r.code, r.stderr).toBe(0)
    const after = dirBytes(repo)
    expect(before - after).toBeGreaterThanOrEqual(2 << 20)
  })
})
