/**
 * What the WebDAV and HTML views show: each path of the mount as a resource (the top level, a directory
 * or a file) with the properties both views need. Inside a snapshot a hard link is served as the file it
 * links to, a symlink as a small file holding its target (WebDAV has no links), and fifos, devices and
 * sockets are left out.
 */
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { DirEntry } from '../../crates/vger-napi/index.cjs'
import { escapedToBytes, escapedToUrlSegment } from '../browse/names.js'
import type { SnapshotDir, SnapshotFs } from '../browse/snapshot-fs.js'

export interface Resource {
  collection: boolean
  /** The escaped names from the top of the mount. */
  names: string[]
  /** What a listing shows (the snapshots: label, host and time). */
  displayName: string
  size: number
  modifiedMs: number
  /** Unquoted; changes whenever the content does. */
  etag: string
  contentType: string
  /** The snapshot a resource below the top belongs to, and its path there. */
  snapshot?: SnapshotDir
  path?: string
  /** A file's bytes [start, end). */
  open?: (start: number, end: number) => Readable
}

/** The absolute, percent-encoded href of `names` (below `base`, the token prefix or ""). */
export function hrefOf(base: string, names: readonly string[], collection: boolean): string {
  const tail = names.map(escapedToUrlSegment).join('/')
  return `${base}/${tail}${collection && tail !== '' ? '/' : ''}`
}

const TYPES: Record<string, string> = {
  txt: 'text/plain',
  md: 'text/markdown',
  html: 'text/html',
  htm: 'text/html',
  css: 'text/css',
  csv: 'text/csv',
  js: 'text/javascript',
  json: 'application/json',
  xml: 'application/xml',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  webp: 'image/webp',
  mp3: 'audio/mpeg',
  mp4: 'video/mp4',
  webm: 'video/webm',
}

export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf('.')
  return (dot > 0 && TYPES[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream'
}

/** The top level: one directory per snapshot. */
export async function topResource(fs: SnapshotFs): Promise<Resource> {
  const dirs = await fs.snapshots()
  const ids = createHash('sha256')
  for (const d of dirs) ids.update(d.snapshot.id)
  const newest = dirs.reduce((t, d) => Math.max(t, Date.parse(d.snapshot.time)), 0)
  return {
    collection: true,
    names: [],
    displayName: 'snapshots',
    size: 0,
    modifiedMs: newest,
    etag: ids.digest('hex').slice(0, 32),
    contentType: 'httpd/unix-directory',
  }
}

/** A snapshot's directory as the top level lists it. */
export function snapshotResource(d: SnapshotDir): Resource {
  const s = d.snapshot
  const when = s.time.replace(/\.\d+/, '').replace('T', ' ').replace('Z', ' UTC')
  return {
    collection: true,
    names: [d.name],
    displayName: `${(s.label || 'unlabelled').replaceAll('/', '_')} @ ${s.hostname}, ${when}`,
    size: 0,
    modifiedMs: Date.parse(s.time),
    etag: s.tree,
    contentType: 'httpd/unix-directory',
    snapshot: d,
    path: '',
  }
}

const join = (a: string, b: string): string => (a === '' ? b : `${a}/${b}`)

/**
 * The resource of `entry`, at `path` of snapshot `d` (names from the top: `[d.name, ...path]`), or
 * undefined for what is not shown (a fifo, a device, a socket; a hard link whose target is not a file).
 */
export async function entryResource(fs: SnapshotFs, d: SnapshotDir, path: string, entry: DirEntry): Promise<Resource | undefined> {
  const names = path === '' ? [d.name] : [d.name, ...path.split('/')]
  const base = { names, displayName: names.at(-1) ?? '', modifiedMs: entry.mtimeMs, etag: entry.etag, snapshot: d, path }
  switch (entry.kind) {
    case 'dir':
      return { ...base, collection: true, size: 0, contentType: 'httpd/unix-directory' }
    case 'file':
      return fileResource(fs, d, path, entry, base)
    case 'hardlink': {
      const target = entry.target === undefined ? undefined : await fs.locate([d.name, ...entry.target.split('/')])
      if (target?.kind !== 'entry' || target.entry.kind !== 'file') return undefined
      return fileResource(fs, d, target.path, target.entry, base)
    }
    case 'symlink': {
      const bytes = escapedToBytes(entry.target ?? '')
      return {
        ...base,
        collection: false,
        size: bytes.length,
        contentType: 'text/plain',
        open: (start, end) => Readable.from([bytes.subarray(start, end)]),
      }
    }
    default:
      return undefined
  }
}

function fileResource(
  fs: SnapshotFs,
  d: SnapshotDir,
  path: string,
  file: DirEntry,
  base: Omit<Resource, 'collection' | 'size' | 'contentType'>,
): Resource {
  return {
    ...base,
    etag: file.etag,
    collection: false,
    size: file.size,
    contentType: contentTypeOf(base.displayName),
    open: (start, end) => fs.createReadStream(d, path, start, end),
  }
}

/** What a URL's escaped names point at, or undefined when nothing (shown) is there. */
export async function resolve(fs: SnapshotFs, names: readonly string[]): Promise<Resource | undefined> {
  const located = await fs.locate(names)
  if (located === undefined) return undefined
  if (located.kind === 'top') return topResource(fs)
  if (located.path === '') return snapshotResource(located.snapshot)
  return entryResource(fs, located.snapshot, located.path, located.entry)
}

/**
 * The members of a collection, in name order, one at a time (a hard link costs one lookup of its target;
 * everything else is what the directory listing already holds).
 */
export async function* children(fs: SnapshotFs, r: Resource): AsyncGenerator<Resource> {
  if (r.snapshot === undefined || r.path === undefined) {
    for (const d of await fs.snapshots()) yield snapshotResource(d)
    return
  }
  for (const entry of await fs.readDir(r.snapshot, r.path)) {
    const child = await entryResource(fs, r.snapshot, join(r.path, entry.name), entry)
    if (child !== undefined) yield child
  }
}
