/**
 * `POST /api/restore`: restores a selection of a snapshot to a directory of the server's machine. This is
 * the one call that writes, so it refuses what a form or a page of another site could send: the body must
 * be JSON (a cross-site form cannot send that type without a preflight this server never grants), and a
 * request whose `Origin` (or `Sec-Fetch-Site`) shows another site is refused (docs/ui.md, "Security").
 */
import path from 'node:path'
import type http from 'node:http'
import { escapedToBytes } from '../../browse/names.js'
import type { MountRequest } from '../server.js'
import { ApiError, badRequest, entryAt, parseSnapshotPath, sendJson } from './http.js'
import type { RestoreRequest, RestoreResponse } from './types.js'

const MAX_BODY = 1 << 20
const MAX_PATHS = 10_000

/** Whether a request comes from a page of this server itself (or from no page at all, like curl). */
export function sameOrigin(req: http.IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false
  const origin = req.headers.origin
  if (origin === undefined) return true
  const host = req.headers.host
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`)
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length
    if (length > MAX_BODY) throw new ApiError(413, 'VGER_BAD_REQUEST', 'the request body is larger than 1 MiB')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** A request body as a `RestoreRequest`, every field checked. */
export function parseRestoreRequest(text: string): RestoreRequest {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw badRequest('the body is not JSON')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body must be a JSON object')
  const { snapshot, paths, dest } = body as Record<string, unknown>
  if (typeof snapshot !== 'string' || snapshot === '') throw badRequest('"snapshot" must be a snapshot name')
  if (!Array.isArray(paths) || paths.length > MAX_PATHS || !paths.every((p) => typeof p === 'string')) {
    throw badRequest(`"paths" must be a list of at most ${MAX_PATHS} paths`)
  }
  if (typeof dest !== 'string' || dest === '' || dest.includes('\0')) throw badRequest('"dest" must be a path')
  if (!path.isAbsolute(dest)) throw badRequest(`"dest" must be an absolute path on the server's machine, not "${dest}"`)
  const parsed = (paths as string[]).map((p) => parseSnapshotPath(p))
  if (parsed.includes('')) throw badRequest('"paths" holds the root: send an empty list to restore the whole snapshot')
  return { snapshot, paths: [...new Set(parsed)], dest: path.resolve(dest) }
}

/**
 * The engine's restore pattern that matches exactly the escaped path `p` (and so its subtree): glob
 * characters are escaped with `\`. The engine matches a path in its lossy UTF-8 form, where bytes that are
 * not UTF-8 become U+FFFD, so the pattern holds that form too (and also matches a sibling whose name
 * differs only in such bytes: the one imprecision).
 */
export function patternFor(p: string): string {
  const lossy = p
    .split('/')
    .map((segment) => escapedToBytes(segment).toString('utf8'))
    .join('/')
  return lossy.replace(/[\\*?[\]{}]/g, (c) => `\\${c}`)
}

export async function restore(r: MountRequest): Promise<void> {
  if (r.req.method !== 'POST') throw new ApiError(405, 'VGER_BAD_REQUEST', 'restore needs POST')
  if (!sameOrigin(r.req)) {
    throw new ApiError(403, 'VGER_CROSS_ORIGIN', "a restore must come from this server's own page")
  }
  const type = (r.req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') throw new ApiError(415, 'VGER_BAD_REQUEST', 'the body must be application/json')
  const request = parseRestoreRequest(await readBody(r.req))
  const snapshot = await r.fs.snapshot(request.snapshot)
  if (snapshot === undefined) throw new ApiError(404, 'VGER_SNAPSHOT_NOT_FOUND', `there is no snapshot "${request.snapshot}"`)
  for (const p of request.paths) await entryAt(r.fs, snapshot, p)
  const outcome = await r.repository.restore({
    snapshot: snapshot.snapshot.id,
    dest: request.dest,
    ...(request.paths.length === 0 ? {} : { patterns: request.paths.map(patternFor) }),
  })
  const body: RestoreResponse = {
    dest: request.dest,
    files: outcome.files,
    dirs: outcome.dirs,
    symlinks: outcome.symlinks,
    bytes: outcome.bytes,
    errors: outcome.errors.map((e) => ({ path: e.path, message: e.message })),
    skipped: outcome.skipped,
  }
  sendJson(r.res, outcome.errors.length === 0 ? 200 : 207, body)
}
