/**
 * `vger restore` into an existing tree (docs/commands.md, issue 17 part 4): `--overwrite if-changed` writes only
 * the changed file; `--delete` removes extras and nothing outside; a symlink to outside is replaced, never
 * followed; a file replaced by a directory and the reverse are put back; a pattern matching nothing is
 * VGER_PATTERN_UNMATCHED; `--dry-run` writes nothing; an interrupted restore continues with if-changed.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { cliEnv, errorCode, ensureBuilt, runCli, type RunCliOptions } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'correct horse battery staple'

beforeAll(() => ensureBuilt())

async function setup(files = 6) {
  const work = tempDir()
  const src = path.join(work, 'src')
  mkdirSync(path.join(src, 'sub', 'deep'), { recursive: true })
  for (let i = 0; i < files; i++) {
    const dir = i % 3 === 0 ? src : i % 3 === 1 ? path.join(src, 'sub') : path.join(src, 'sub', 'deep')
    writeFileSync(path.join(dir, `f${i}`), randomBytes(2000 + i * 1500))
  }
  symlinkSync('f0', path.join(src, 'link'))
  const config = path.join(work, 'vger.yaml')
  writeFileSync(config, 'repositories:\n  - url: ./repo\n')
  const env = cliEnv(work, { VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' })
  const vger = (args: string[], opts: RunCliOptions = {}) => runCli(['-c', config, ...args], { cwd: work, env, ...opts })
  expect((await vger(['init'])).code).toBe(0)
  const b = await vger(['backup', 'src'])
  expect(b.code, b.stderr).toBe(0)
  const dest = path.join(work, 'out')
  const r = await vger(['restore', 'latest', dest])
  expect(r.code, r.stderr).toBe(0)
  return { work, src, dest, vger }
}

/** Every entry under `dir`: files with their bytes, symlinks with their target, directories. */
function tree(dir: string, rel = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`
    if (e.isDirectory()) {
      out.set(p, 'dir')
      for (const [k, v] of tree(dir, p)) out.set(k, v)
    } else if (e.isSymbolicLink()) out.set(p, '-> symlink')
    else out.set(p, readFileSync(path.join(dir, p)).toString('base64'))
  }
  return out
}

describe.skipIf(!addonBuilt)(`vger restore --overwrite${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  it('if-changed writes only the changed file: the others keep their inode and ctime', async () => {
    const s = await setup()
    writeFileSync(path.join(s.dest, 'sub', 'f4'), 'changed')
    const stamp = (p: string) => {
      const st = statSync(path.join(s.dest, p), { bigint: true })
      return `${st.ino}:${st.ctimeNs}`
    }
    const others = ['f0', 'f3', 'sub/f1', 'sub/deep/f2', 'sub/deep/f5']
    const before = others.map(stamp)
    const r = await s.vger(['--json', 'restore', 'latest', s.dest, '--overwrite', 'if-changed'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as Record<string, unknown>
    expect(out).toMatchObject({ files: 1, replaced: 1, unchanged: 6, deleted: 0, dryRun: false })
    expect(out.bytes).toBe(statSync(path.join(s.src, 'sub', 'f4')).size)
    expect(others.map(stamp)).toEqual(before)
    expect(tree(s.dest)).toEqual(tree(s.src))
  })

  it('refuses a non-empty destination without --overwrite, and suggests it', async () => {
    const s = await setup()
    const r = await s.vger(['restore', 'latest', s.dest])
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('VGER_DEST_NOT_EMPTY')
    expect(r.stderr).toContain('--overwrite if-changed')
    const d = await s.vger(['restore', 'latest', s.dest, '--delete'])
    expect(errorCode(d.stderr)).toBe('VGER_USAGE')
  })

  it('--delete removes extras and nothing outside the destination', async () => {
    const s = await setup()
    const outside = path.join(s.work, 'outside')
    mkdirSync(outside)
    writeFileSync(path.join(outside, 'keep'), 'outside')
    writeFileSync(path.join(s.dest, 'extra'), 'x')
    mkdirSync(path.join(s.dest, 'sub', 'newdir'))
    writeFileSync(path.join(s.dest, 'sub', 'newdir', 'file'), 'y')
    symlinkSync(outside, path.join(s.dest, 'sub', 'to-outside'))
    const r = await s.vger(['--json', 'restore', 'latest', s.dest, '--overwrite', 'if-changed', '--delete'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ files: 0, deleted: 4 })
    expect(tree(s.dest)).toEqual(tree(s.src))
    expect(readdirSync(outside)).toEqual(['keep'])
    expect(readFileSync(path.join(outside, 'keep'), 'utf8')).toBe('outside')
  })

  it('a symlink pointing outside is replaced, never followed', async () => {
    const s = await setup()
    const victim = path.join(s.work, 'victim')
    writeFileSync(victim, 'must stay')
    rmSync(path.join(s.dest, 'f0'))
    symlinkSync(victim, path.join(s.dest, 'f0'))
    rmSync(path.join(s.dest, 'sub', 'deep'), { recursive: true })
    symlinkSync(s.work, path.join(s.dest, 'sub', 'deep'))
    const before = readdirSync(s.work).sort()
    for (const mode of ['always', 'if-changed']) {
      const r = await s.vger(['restore', 'latest', s.dest, '--overwrite', mode])
      expect(r.code, r.stderr).toBe(0)
      expect(lstatSync(path.join(s.dest, 'f0')).isFile()).toBe(true)
      expect(readFileSync(victim, 'utf8')).toBe('must stay')
      expect(readdirSync(s.work).sort()).toEqual(before)
      expect(tree(s.dest)).toEqual(tree(s.src))
    }
  })

  it('a file replaced by a directory, and the reverse, are put back', async () => {
    const s = await setup()
    rmSync(path.join(s.dest, 'f3'))
    mkdirSync(path.join(s.dest, 'f3', 'inside'), { recursive: true })
    writeFileSync(path.join(s.dest, 'f3', 'inside', 'x'), 'x')
    rmSync(path.join(s.dest, 'sub', 'deep'), { recursive: true })
    writeFileSync(path.join(s.dest, 'sub', 'deep'), 'now a file')
    const r = await s.vger(['restore', 'latest', s.dest, '--overwrite', 'if-changed'])
    expect(r.code, r.stderr).toBe(0)
    expect(tree(s.dest)).toEqual(tree(s.src))
  })

  it('a pattern that matches nothing is VGER_PATTERN_UNMATCHED; an exclude wins over an include', async () => {
    const s = await setup()
    const fresh = path.join(s.work, 'fresh')
    for (const args of [
      ['--include', 'nope'],
      ['--include', 'sub', '--exclude', 'sub/typo'],
    ]) {
      const r = await s.vger(['restore', 'latest', fresh, ...args])
      expect(r.code).toBe(1)
      expect(errorCode(r.stderr)).toBe('VGER_PATTERN_UNMATCHED')
      expect(existsSync(fresh)).toBe(false)
    }
    const r = await s.vger(['restore', 'latest', fresh, '--exclude', 'sub/deep', '--include', 'sub', '--pattern', 'sub/deep/f2'])
    expect(r.code, r.stderr).toBe(0)
    expect([...tree(fresh).keys()].sort()).toEqual(['sub', 'sub/f1', 'sub/f4'])
  })

  it('--dry-run writes nothing and lists what would change', async () => {
    const s = await setup()
    writeFileSync(path.join(s.dest, 'sub', 'f1'), 'changed')
    writeFileSync(path.join(s.dest, 'extra'), 'x')
    const before = tree(s.dest)
    const r = await s.vger(['--json', 'restore', 'latest', s.dest, '--overwrite', 'if-changed', '--delete', '--dry-run'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { changes: { path: string; action: string }[] } & Record<string, unknown>
    expect(out).toMatchObject({ dryRun: true, files: 1, replaced: 1, unchanged: 6, deleted: 1 })
    expect(out.bytes).toBe(statSync(path.join(s.src, 'sub', 'f1')).size)
    expect(out.changes.filter((c) => c.action !== 'unchanged')).toEqual([
      { path: 'sub/f1', action: 'replace' },
      { path: 'extra', action: 'delete' },
    ])
    expect(tree(s.dest)).toEqual(before)
    const human = await s.vger(['restore', 'latest', s.dest, '--overwrite', 'if-changed', '--delete', '--dry-run'])
    expect(human.stdout).toContain('replace   sub/f1')
    expect(human.stdout).toContain('delete    extra')
    expect(human.stdout).toContain('nothing was written')
  })

  it('an interrupted restore continues with --overwrite if-changed', async () => {
    const s = await setup(300)
    const dest = path.join(s.work, 'again')
    let sent = false
    const first = await s.vger(['--json', 'restore', 'latest', dest], {
      onStderr: (chunk, child) => {
        if (!sent && chunk.includes('"type":"restore"')) {
          sent = true
          child.kill('SIGINT')
        }
      },
    })
    expect(sent).toBe(true)
    expect(first.code).not.toBe(0)
    expect(errorCode(first.stderr)).toBe('VGER_CANCELLED')
    expect(first.stderr).toContain('--overwrite if-changed to continue')
    const r = await s.vger(['--json', 'restore', 'latest', dest, '--overwrite', 'if-changed'])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { files: number; symlinks: number; unchanged: number }
    // 300 files and the symlink: each written now or found complete.
    expect(out.files + out.symlinks + out.unchanged).toBe(301)
    expect(out.files).toBeLessThan(300)
    expect(out.unchanged).toBeGreaterThan(0)
    expect(tree(dest)).toEqual(tree(s.src))
  })
})
