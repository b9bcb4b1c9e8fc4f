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
  /** The path from the top of the mount, percent-encoded, `/` at the end for a collection (`/snap/dir/`). */
  urlPath: string
  /** The escaped name (`""` at the top). */
  name: string
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

/** The percent-encoded URL path of the escaped `names` (`/a/b`, or `/a/b/` for a collection). */
export function urlPathOf(names: readonly string[], collection: boolean): string {
  const tail = names.map(escapedToUrlSegment).join('/')
  return `/${tail}${collection && tail !== '' ? '/' : ''}`
}

/** The URL path of a collection's parent (`/a/b/` → `/a/`). */
export function parentUrlPath(urlPath: string): string {
  return urlPath.replace(/[^/]*\/?$/, '')
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
    urlPath: '/',
    name: '',
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
    urlPath: `/${escapedToUrlSegment(d.name)}/`,
    name: d.name,
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
 * The resource of `entry`, at `path` of snapshot `d` whose parent directory's URL path is `parentUrl`, or
 * undefined for what is not shown (a fifo, a device, a socket; a hard link whose target is not a file).
 */
export async function entryResource(
  fs: SnapshotFs,
  d: SnapshotDir,
  path: string,
  entry: DirEntry,
  parentUrl: string,
): Promise<Resource | undefined> {
  const urlPath = `${parentUrl}${escapedToUrlSegment(entry.name)}`
  switch (entry.kind) {
    case 'dir':
      return {
        collection: true,
        urlPath: `${urlPath}/`,
        name: entry.name,
        displayName: entry.name,
        size: 0,
        modifiedMs: entry.mtimeMs,
        etag: entry.etag,
        contentType: 'httpd/unix-directory',
        snapshot: d,
        path,
      }
    case 'file':
      return fileResource(fs, d, path, entry, urlPath, entry)
    case 'hardlink': {
      const target = entry.target === undefined ? undefined : await fs.locate([d.name, ...entry.target.split('/')])
      if (target?.kind !== 'entry' || target.entry.kind !== 'file') return undefined
      return fileResource(fs, d, target.path, target.entry, urlPath, entry)
    }
    case 'symlink': {
      const bytes = escapedToBytes(entry.target ?? '')
      return {
        collection: false,
        urlPath,
        name: entry.name,
        displayName: entry.name,
        size: bytes.length,
        modifiedMs: entry.mtimeMs,
        etag: entry.etag,
        contentType: 'text/plain',
        snapshot: d,
        path,
        open: (start, end) => Readable.from([bytes.subarray(start, end)]),
      }
    }
    default:
      return undefined
  }
}

/** A file (`file`, read at `path`) listed as `entry` (itself, or a hard link to it). */
function fileResource(fs: SnapshotFs, d: SnapshotDir, path: string, file: DirEntry, urlPath: string, entry: DirEntry): Resource {
  return {
    collection: false,
    urlPath,
    name: entry.name,
    displayName: entry.name,
    size: file.size,
    modifiedMs: entry.mtimeMs,
    etag: file.etag,
    contentType: contentTypeOf(entry.name),
    snapshot: d,
    path,
    open: (start, end) => fs.createReadStream(d, path, start, end),
  }
}

/** What a URL's escaped names point at, or undefined when nothing (shown) is there. */
export async function resolve(fs: SnapshotFs, names: readonly string[]): Promise<Resource | undefined> {
  const located = await fs.locate(names)
  if (located === undefined) return undefined
  if (located.kind === 'top') return topResource(fs)
  if (located.path === '') return snapshotResource(located.snapshot)
  return entryResource(fs, located.snapshot, located.path, located.entry, parentUrlPath(urlPathOf(names, false)))
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
    const child = await entryResource(fs, r.snapshot, join(r.path, entry.name), entry, r.urlPath)
    if (child !== undefined) yield child
  }
}
