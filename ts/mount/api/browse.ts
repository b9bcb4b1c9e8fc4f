/**
 * Reading snapshots over the API: the snapshot list, one directory (sorted and paged on the server, so a
 * directory of a million entries answers with one page), a file's bytes (with a single byte range), and a
 * directory as a zip written as it is read (cancelled when the client goes away).
 */
import { pipeline } from 'node:stream/promises'
import type { DirEntry } from '../../../crates/vger-napi/index.cjs'
import { writeArchive } from '../../browse/archive.js'
import { escapedToBytes } from '../../browse/names.js'
import type { SnapshotDir } from '../../browse/snapshot-fs.js'
import type { MountRequest } from '../server.js'
import { ApiError, Query, entryAt, parseSnapshotPath, sendJson, snapshotParam } from './http.js'
import type { DirResponse, EntryJson, SnapshotsResponse } from './types.js'

export async function snapshots(r: MountRequest): Promise<void> {
  const dirs = await r.fs.snapshots()
  const listing = await r.repository.listSnapshots()
  const body: SnapshotsResponse = {
    repository: r.name,
    snapshots: dirs.map(({ name, snapshot: s }) => ({
      id: s.id,
      name,
      time: s.time,
      label: s.label,
      hostname: s.hostname,
      username: s.username,
      paths: s.paths,
      partial: s.partial,
      stats: { files: s.stats.files, dirs: s.stats.dirs, bytes: s.stats.bytes, newBytes: s.stats.newBytes },
    })),
    damaged: listing.damaged.length,
  }
  sendJson(r.res, 200, body)
}

export function entryJson(e: DirEntry): EntryJson {
  const j: EntryJson = {
    name: e.name,
    kind: e.kind,
    size: e.size,
    mtime: e.mtime,
    mtimeMs: e.mtimeMs,
    mode: e.mode,
    user: e.user,
    group: e.group,
    etag: e.etag,
  }
  if (e.target !== undefined) j.target = e.target
  return j
}

const SORTS = ['name', 'size', 'mtime', 'kind'] as const
type Sort = (typeof SORTS)[number]

function compare(sort: Sort): (a: DirEntry, b: DirEntry) => number {
  const byName = (a: DirEntry, b: DirEntry): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  switch (sort) {
    case 'name':
      return byName
    case 'size':
      return (a, b) => a.size - b.size || byName(a, b)
    case 'mtime':
      return (a, b) => a.mtimeMs - b.mtimeMs || byName(a, b)
    case 'kind':
      // Directories first, then by name: what a file manager shows.
      return (a, b) => Number(b.kind === 'dir') - Number(a.kind === 'dir') || byName(a, b)
  }
}

export async function dir(r: MountRequest): Promise<void> {
  const q = new Query(r.req.url)
  const snapshot = await snapshotParam(r.fs, q)
  const path = parseSnapshotPath(q.optional('path'))
  const offset = q.integer('offset', 0, 0, Number.MAX_SAFE_INTEGER)
  const limit = q.integer('limit', 500, 1, 5000)
  const sort = q.oneOf('sort', SORTS, 'kind')
  const order = q.oneOf('order', ['asc', 'desc'] as const, 'asc')
  const entry = await entryAt(r.fs, snapshot, path)
  if (entry.kind !== 'dir') throw new ApiError(409, 'VGER_NOT_A_DIRECTORY', `"${path}" is a ${entry.kind}, not a directory`)
  const all = await r.fs.readDir(snapshot, path)
  const cmp = compare(sort)
  all.sort(order === 'asc' ? cmp : (a, b) => cmp(b, a))
  const body: DirResponse = {
    snapshot: snapshot.name,
    path,
    entry: entryJson(entry),
    total: all.length,
    offset,
    entries: all.slice(offset, offset + limit).map(entryJson),
  }
  sendJson(r.res, 200, body)
}

export async function stat(r: MountRequest): Promise<void> {
  const q = new Query(r.req.url)
  const snapshot = await snapshotParam(r.fs, q)
  const path = parseSnapshotPath(q.optional('path'))
  sendJson(r.res, 200, entryJson(await entryAt(r.fs, snapshot, path)))
}

const TYPES: Record<string, string> = {
  txt: 'text/plain; charset=utf-8',
  md: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  json: 'application/json',
  xml: 'application/xml',
  pdf: 'application/pdf',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  bmp: 'image/bmp',
  ico: 'image/x-icon',
  svg: 'image/svg+xml',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  mp4: 'video/mp4',
  webm: 'video/webm',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
}

/** The Content-Type for a file name. HTML is served as plain text unless downloaded: it comes from a backup. */
export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf('.')
  const ext = dot < 0 ? '' : name.slice(dot + 1).toLowerCase()
  return (
    TYPES[ext] ??
    (['html', 'htm', 'js', 'css', 'ts', 'sh', 'py', 'rs', 'yaml', 'yml', 'toml', 'ini', 'conf'].includes(ext)
      ? 'text/plain; charset=utf-8'
      : 'application/octet-stream')
  )
}

/** `Content-Disposition` with an ASCII fallback and the exact name as RFC 5987 `filename*` (raw bytes percent-encoded). */
export function contentDisposition(escapedName: string, disposition: 'attachment' | 'inline' = 'attachment'): string {
  const bytes = escapedToBytes(escapedName)
  const ascii = bytes.toString('latin1').replace(/[^\x20-\x7e]|["\\%]/g, '_') || 'download'
  let encoded = ''
  for (const b of bytes) {
    const c = String.fromCharCode(b)
    encoded += /[A-Za-z0-9!#$&+.^_`|~-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encoded}`
}

/**
 * Served bytes never run as a page of this origin: a sandbox without `allow-same-origin` gives an HTML or
 * SVG file from a backup an opaque origin, so it cannot call this API (its requests carry `Origin: null`).
 */
const UNTRUSTED = {
  'content-security-policy': "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'",
  'x-content-type-options': 'nosniff',
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` against `size`: the range [start, end), null when unsatisfiable, undefined when absent or ignored. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | undefined {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null || (m[1] === '' && m[2] === '')) return undefined
  if (m[1] === '') {
    const n = Math.min(Number(m[2]), size)
    return n === 0 ? null : { start: size - n, end: size }
  }
  const start = Number(m[1])
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (start >= size || last < start) return null
  return { start, end: last + 1 }
}

/** The file at `path`, or the file a hard link there points at (the path its bytes are read from). */
async function fileAt(r: MountRequest, snapshot: SnapshotDir, path: string): Promise<{ entry: DirEntry; dataPath: string }> {
  const entry = await entryAt(r.fs, snapshot, path)
  if (entry.kind === 'hardlink' && entry.target !== undefined) {
    const target = parseSnapshotPath(entry.target)
    const linked = await entryAt(r.fs, snapshot, target)
    if (linked.kind === 'file') return { entry: { ...entry, kind: 'file', size: linked.size, etag: linked.etag }, dataPath: target }
  }
  if (entry.kind !== 'file') throw new ApiError(409, 'VGER_NOT_A_FILE', `"${path}" is a ${entry.kind}, not a file`)
  return { entry, dataPath: path }
}

export async function file(r: MountRequest): Promise<void> {
  const q = new Query(r.req.url)
  const snapshot = await snapshotParam(r.fs, q)
  const path = parseSnapshotPath(q.optional('path'))
  const download = q.flag('download')
  const name = path.split('/').pop() ?? path
  const { entry, dataPath } = await fileAt(r, snapshot, path)
  const etag = `"${entry.etag}"`
  const headers: Record<string, string | number> = {
    ...UNTRUSTED,
    'content-type': download ? 'application/octet-stream' : contentTypeOf(name),
    'content-disposition': contentDisposition(name, download ? 'attachment' : 'inline'),
    'accept-ranges': 'bytes',
    etag,
    'last-modified': new Date(entry.mtimeMs).toUTCString(),
    // The content of a path in a snapshot never changes; revalidate anyway, since a name may be reused.
    'cache-control': 'private, no-cache',
  }
  if (r.req.headers['if-none-match'] === etag) {
    r.res.writeHead(304, headers)
    r.res.end()
    return
  }
  const range = parseRange(r.req.headers.range, entry.size)
  if (range === null) {
    r.res.writeHead(416, { ...headers, 'content-range': `bytes */${entry.size}` })
    r.res.end()
    return
  }
  const { start, end } = range ?? { start: 0, end: entry.size }
  if (range !== undefined) headers['content-range'] = `bytes ${start}-${end - 1}/${entry.size}`
  r.res.writeHead(range === undefined ? 200 : 206, { ...headers, 'content-length': end - start })
  if (r.req.method === 'HEAD' || end === start) {
    r.res.end()
    return
  }
  await pipeline(r.fs.createReadStream(snapshot, dataPath, start, end), r.res)
}

export async function zip(r: MountRequest): Promise<void> {
  const q = new Query(r.req.url)
  const snapshot = await snapshotParam(r.fs, q)
  const path = parseSnapshotPath(q.optional('path'))
  const entry = await entryAt(r.fs, snapshot, path)
  if (entry.kind !== 'dir' && entry.kind !== 'file') {
    throw new ApiError(409, 'VGER_NOT_A_DIRECTORY', `"${path}" is a ${entry.kind}: only a directory or a file can be zipped`)
  }
  const base = path === '' ? snapshot.name : (path.split('/').pop() ?? path)
  r.res.writeHead(200, {
    ...UNTRUSTED,
    'content-type': 'application/zip',
    'content-disposition': contentDisposition(`${base}.zip`),
    'cache-control': 'no-store',
  })
  const abort = new AbortController()
  const onClose = (): void => {
    if (!r.res.writableFinished) abort.abort(new ApiError(499, 'VGER_CANCELLED', 'the client went away'))
  }
  r.res.on('close', onClose)
  try {
    await writeArchive(r.fs, snapshot, path, entry, 'zip', r.res, abort.signal)
  } catch (e) {
    // The status is sent: a cut connection is how the client learns the zip is incomplete.
    r.res.destroy()
    if (!abort.signal.aborted) throw e
  } finally {
    r.res.off('close', onClose)
  }
}
