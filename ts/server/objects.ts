/**
 * The object routes (docs/server.md section 3): HEAD, GET (whole or one range, streamed from the store in
 * pieces so a large pack never sits in memory whole), create-only PUT, DELETE. The append rules live
 * here: an upload reserves its bytes against the quota before its body is read; a lock object records
 * the token that creates it, and an `append` token deletes nothing else.
 */
import { once } from 'node:events'
import { isVgerError } from '../errors.js'
import { allows } from './auth.js'
import { contentLength, readBody } from './body.js'
import { type ServerContext, permitted } from './context.js'
import { HttpError, badRequest, exists, forbidden, notFound } from './errors.js'
import type { Exchange } from './exchange.js'
import { parseRange } from './range.js'
import type { ServedRepository } from './repositories.js'
import { throughSymlink } from './symlinks.js'
import { isLockKey, isPackKey } from './target.js'

/** The most a read holds in memory at once. */
const PIECE = 8 * 1024 * 1024
/** Lock objects are small records; a larger one would be a way to store data outside the quota's spirit. */
export const LOCK_LIMIT = 4096
/** How far lock objects may go over a repository's quota: 16 locks, enough to prune a full repository. */
const LOCK_ALLOWANCE = 16 * LOCK_LIMIT
const OCTETS = { 'Content-Type': 'application/octet-stream' }

export async function objectRoute(ctx: ServerContext, ex: Exchange, name: string, key: string): Promise<void> {
  switch (ex.method) {
    case 'HEAD':
      return head(ex, permitted(ctx, ex, name, 'read').repo, key, ctx)
    case 'GET':
      return get(ex, permitted(ctx, ex, name, 'read').repo, key, ctx)
    case 'PUT':
      return put(ctx, ex, name, key)
    case 'DELETE':
      return remove(ctx, ex, name, key)
    default:
      throw new HttpError(405, 'VGER_SERVER_METHOD', `${ex.method} is not accepted on objects: they are read, created whole, or deleted`, {
        Allow: 'GET, HEAD, PUT, DELETE',
      })
  }
}

/** Refuses to go through a symbolic link in a local store: reads find nothing, writes are forbidden. */
export async function guard(ctx: ServerContext, repo: ServedRepository, key: string, write: boolean, last = true): Promise<void> {
  const root = repo.config.localPath
  if (root === undefined || !(await throughSymlink(root, key, last))) return
  ctx.log.event('warn', 'symbolic link in the store refused', { repo: repo.name, key })
  if (!write) throw notFound(key)
  throw forbidden(`the storage holds a symbolic link on the way to ${key}; the server never follows one (tell its administrator)`)
}

async function head(ex: Exchange, repo: ServedRepository, key: string, ctx: ServerContext): Promise<void> {
  await guard(ctx, repo, key, false)
  const size = await repo.store.size(key)
  if (size === null) throw notFound(key)
  ex.send(200, undefined, { ...OCTETS, 'Content-Length': String(size) })
}

async function get(ex: Exchange, repo: ServedRepository, key: string, ctx: ServerContext): Promise<void> {
  await guard(ctx, repo, key, false)
  const header = ex.req.headers.range
  if (header === undefined) {
    // Most objects fit in one piece: then no size request is needed.
    const first = await repo.store.getRange(key, 0, PIECE)
    if (first.length < PIECE) return ex.send(200, first, OCTETS)
    const size = await repo.store.size(key)
    if (size === null) throw notFound(key)
    return stream(ex, repo, key, 0, size, first, 200, { ...OCTETS, 'Content-Length': String(size) })
  }
  const range = parseRange(header)
  const size = await repo.store.size(key)
  if (size === null) throw notFound(key)
  if (range.start >= size) {
    throw new HttpError(416, 'VGER_SERVER_RANGE', `the range starts at or after the end of the object (${size} bytes)`, {
      'Content-Range': `bytes */${size}`,
    })
  }
  const end = Math.min(range.end ?? size - 1, size - 1)
  const length = end - range.start + 1
  const first = await repo.store.getRange(key, range.start, Math.min(PIECE, length))
  await stream(ex, repo, key, range.start, length, first, 206, {
    ...OCTETS,
    'Content-Length': String(length),
    'Content-Range': `bytes ${range.start}-${end}/${size}`,
  })
}

/** Sends `length` bytes of `key` from `start`, `first` being the first piece, read before the headers go out. */
async function stream(
  ex: Exchange,
  repo: ServedRepository,
  key: string,
  start: number,
  length: number,
  first: Buffer,
  status: number,
  headers: Readonly<Record<string, string>>,
): Promise<void> {
  if (first.length !== Math.min(PIECE, length)) {
    throw new HttpError(503, 'VGER_SERVER_UNAVAILABLE', `${key} changed while it was read; try again`, { 'Retry-After': '1' })
  }
  ex.begin(status, headers)
  let piece = first
  for (let sent = 0; ;) {
    ex.bytesOut += piece.length
    if (!ex.res.write(piece)) await drained(ex)
    sent += piece.length
    if (sent >= length) break
    const n = Math.min(PIECE, length - sent)
    piece = await repo.store.getRange(key, start + sent, n)
    // The object shrank underneath: cut the answer, so the client sees a failed read, never short data.
    if (piece.length !== n) return void ex.res.destroy()
  }
  ex.res.end()
}

async function drained(ex: Exchange): Promise<void> {
  const ac = new AbortController()
  try {
    await Promise.race([once(ex.res, 'drain', { signal: ac.signal }), once(ex.res, 'close', { signal: ac.signal })])
  } finally {
    ac.abort()
  }
  if (ex.res.destroyed) throw new HttpError(400, 'VGER_SERVER_BAD_REQUEST', 'the client went away')
}

async function put(ctx: ServerContext, ex: Exchange, name: string, key: string): Promise<void> {
  const { repo, who } = permitted(ctx, ex, name, 'append')
  if (ex.req.headers['content-range'] !== undefined) throw badRequest('Content-Range is not accepted: an object is written whole, once')
  const length = contentLength(ex)
  if (length === undefined) {
    throw new HttpError(
      411,
      'VGER_SERVER_LENGTH_REQUIRED',
      'send the object with a Content-Length (chunked uploads are not accepted)',
      {},
      true,
    )
  }
  const lock = isLockKey(key)
  const limit = lock ? LOCK_LIMIT : ctx.config.maxObjectSize
  if (length > limit) {
    const why = lock ? `a lock object holds at most ${LOCK_LIMIT} bytes` : `an object may hold at most ${limit} bytes (max_object_size)`
    throw new HttpError(413, 'VGER_SERVER_TOO_LARGE', `${why}; this one has ${length}`, {}, true)
  }
  await repo.ready()
  await guard(ctx, repo, key, true, false)
  if ((await repo.store.size(key)) !== null) throw exists(key)
  if (!repo.usage.reserve(length, lock ? LOCK_ALLOWANCE : 0)) {
    throw new HttpError(
      413,
      'VGER_SERVER_QUOTA',
      `repository "${name}" would go over its quota of ${repo.usage.quota} bytes (${repo.usage.stored} stored, ${length} more asked); ` +
        'prune and compact with a full token, or ask the administrator for a larger quota',
    )
  }
  let recorded = false
  try {
    if (lock) {
      // Recorded (durably) before the lock exists, so no lock of this token is ever left without its owner.
      if (repo.state.lockOwner(key) !== undefined) throw exists(key)
      repo.state.setLockOwner(key, who.hash)
      recorded = true
      await repo.state.save()
    }
    await store(ctx, ex, repo, key, length)
    repo.usage.commit(length)
  } catch (e) {
    repo.usage.release(length)
    if (recorded && repo.state.forgetLock(key)) await repo.state.save().catch(() => {})
    if (isVgerError(e, 'VGER_CORRUPT'))
      throw new HttpError(400, 'VGER_SERVER_BAD_PACK', `the bytes sent for ${key} do not hash to its id; nothing was stored`)
    throw e
  }
  if (key.startsWith('snapshots/')) {
    repo.state.lastSnapshotAt = Math.floor(Date.now() / 1000)
    await repo.state.save().catch((e: unknown) => ctx.log.event('warn', 'cannot save the server state', { repo: name, detail: String(e) }))
  }
  ex.send(201, undefined)
}

/** Reads the body into memory (within the upload budget) and creates the object. */
async function store(ctx: ServerContext, ex: Exchange, repo: ServedRepository, key: string, length: number): Promise<void> {
  // Waiting for memory, or for the store, is not the client's fault: its connection must not time out meanwhile
  // (readBody has its own timer for a client that stops sending).
  const release = await ex.busy(() => ctx.budget.acquire(2 * length))
  try {
    const body = await readBody(ex, length, ctx.config.clientTimeoutSecs * 1000)
    await ex.busy(() => (isPackKey(key) ? repo.store.putPack(key, body) : repo.store.putNew(key, body)))
  } finally {
    release()
  }
}

async function remove(ctx: ServerContext, ex: Exchange, name: string, key: string): Promise<void> {
  const { repo, who } = permitted(ctx, ex, name, 'append')
  const own = isLockKey(key) && repo.state.lockOwner(key) === who.hash
  if (!allows(who, name, 'full') && !own) {
    throw forbidden(
      isLockKey(key)
        ? 'an append token may delete only the locks it created'
        : 'an append token cannot delete objects; prune and compact need a full token',
    )
  }
  await repo.ready()
  await guard(ctx, repo, key, true)
  const size = await repo.store.size(key)
  if (size !== null) {
    await repo.store.delete(key)
    repo.usage.removed(size)
  }
  if (isLockKey(key) && repo.state.forgetLock(key)) await repo.state.save()
  if (size === null) throw notFound(key)
  ex.send(204, undefined)
}
