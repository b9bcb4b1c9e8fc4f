/**
 * A fixture tree with the awkward cases (modes, mtimes, symlinks, hardlinks, empty files and dirs,
 * non-UTF-8 names) and a reader that captures everything a restore must reproduce.
 */
import { createHash, randomBytes } from 'node:crypto'
import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'

/** A name that is not valid UTF-8: "caf" + 0xE9 (latin-1 é) + ".txt". */
export const LATIN1_NAME = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('.txt')])

const BASE_TIME = Date.UTC(2021, 2, 4, 5, 6, 7) / 1000

export interface FixtureInfo {
  root: string
  /** Regular file bytes, counting a hardlinked file once. */
  fileBytes: number
}

/** Builds the fixture under `root` (created). */
export function makeTree(root: string): FixtureInfo {
  const big = randomBytes(3 * 1024 * 1024 + 123)
  const files: [string, string | Buffer, number][] = [
    ['docs/readme.txt', 'hello, vger\n', 0o644],
    ['docs/notes.md', '# private notes\n', 0o600],
    ['docs/deep/a/b/c/leaf.txt', 'deep\n', 0o644],
    ['bin/run.sh', '#!/bin/sh\necho run\n', 0o755],
    ['empty.txt', '', 0o644],
    ['big.bin', big, 0o644],
    ['big-copy.bin', big, 0o640],
    ['日本語.txt', 'utf-8 name\n', 0o644],
    ["with space & 'quote'.txt", 'spaces\n', 0o644],
    ['hard-a', 'linked twice\n', 0o644],
  ]
  mkdirSync(root, { recursive: true })
  let fileBytes = 0
  files.forEach(([rel, data, mode], i) => {
    const p = path.join(root, rel)
    mkdirSync(path.dirname(p), { recursive: true })
    writeFileSync(p, data)
    chmodSync(p, mode)
    utimesSync(p, BASE_TIME + i, BASE_TIME + i)
    fileBytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length
  })
  const latin1 = Buffer.concat([Buffer.from(`${root}/`), LATIN1_NAME])
  writeFileSync(latin1, 'latin-1 name\n')
  chmodSync(latin1, 0o644)
  utimesSync(latin1, BASE_TIME + 100, BASE_TIME + 100)
  fileBytes += 'latin-1 name\n'.length

  linkSync(path.join(root, 'hard-a'), path.join(root, 'hard-b'))
  symlinkSync('docs/readme.txt', path.join(root, 'link-to-readme'))
  symlinkSync('does/not/exist', path.join(root, 'dangling'))
  symlinkSync('docs', path.join(root, 'dir-link'))
  mkdirSync(path.join(root, 'empty-dir'))

  // Directory modes and mtimes last, deepest first, so adding children does not change them again.
  const dirs: [string, number][] = [
    ['docs/deep/a/b/c', 0o755],
    ['docs/deep/a/b', 0o755],
    ['docs/deep/a', 0o755],
    ['docs/deep', 0o755],
    ['docs', 0o750],
    ['bin', 0o755],
    ['empty-dir', 0o700],
  ]
  dirs.forEach(([rel, mode], i) => {
    const p = path.join(root, rel)
    chmodSync(p, mode)
    utimesSync(p, BASE_TIME + 200 + i, BASE_TIME + 200 + i)
  })
  return { root, fileBytes }
}

export interface TreeEntry {
  kind: 'file' | 'dir' | 'symlink' | 'other'
  mode: number
  size: number
  /** Not compared for symlinks (not every platform can set them). */
  mtimeMs?: number
  sha256?: string
  target?: string
  /** Relative path of the first entry with the same inode (hardlinks), else undefined. */
  linkedTo?: string
}

/** Renders a raw name like `vger list` does: UTF-8 when valid, else bytes ≥ 0x80 as \xNN. */
export function displayName(name: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(name)
  } catch {
    return [...name].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('')
  }
}

/** Every entry under `root` (not root itself), keyed by '/'-separated relative display path. */
export function readTree(root: string): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>()
  const inodes = new Map<number, string>()
  const walk = (dir: Buffer, rel: string): void => {
    const names = readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare)
    for (const name of names) {
      const full = Buffer.concat([dir, Buffer.from('/'), name])
      const key = rel === '' ? displayName(name) : `${rel}/${displayName(name)}`
      const st = lstatSync(full)
      const mode = st.mode & 0o7777
      if (st.isSymbolicLink()) {
        out.set(key, { kind: 'symlink', mode, size: 0, target: readlinkSync(full, { encoding: 'buffer' }).toString('latin1') })
      } else if (st.isDirectory()) {
        out.set(key, { kind: 'dir', mode, size: 0, mtimeMs: st.mtimeMs })
        walk(full, key)
      } else if (st.isFile()) {
        const linkedTo = st.nlink > 1 ? inodes.get(st.ino) : undefined
        if (st.nlink > 1 && linkedTo === undefined) inodes.set(st.ino, key)
        const sha256 = createHash('sha256').update(readFileSync(full)).digest('hex')
        out.set(key, { kind: 'file', mode, size: st.size, mtimeMs: st.mtimeMs, sha256, linkedTo })
      } else {
        out.set(key, { kind: 'other', mode, size: 0, mtimeMs: st.mtimeMs })
      }
    }
  }
  walk(Buffer.from(root), '')
  return out
}

/**
 * Many large sparse files (no disk space used): a backup of this takes long enough to be interrupted
 * reliably, and cancellation is checked between files. 200 × 64 MiB = 12.5 GiB of zeros by default.
 */
export function makeSparseTree(root: string, files = 200, size = 64 * 1024 * 1024): void {
  mkdirSync(root, { recursive: true })
  for (let i = 0; i < files; i++) {
    const p = path.join(root, `sparse-${String(i).padStart(3, '0')}.bin`)
    writeFileSync(p, '')
    truncateSync(p, size)
  }
}
