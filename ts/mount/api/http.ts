/**
 * What every JSON API handler of the web UI shares: errors as `{code, message}` with an HTTP status (never a
 * stack trace), query parameters validated one by one, and the snapshot and path a request names.
 */
import type http from 'node:http'
import { isVgerError } from '../../errors.js'
import type { DirEntry } from '../../../crates/vger-napi/index.cjs'
import type { SnapshotDir, SnapshotFs } from '../../browse/snapshot-fs.js'
import type { ApiError as ApiErrorBody } from './types.js'

/** A refusal with the status and code to send. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, 'VGER_BAD_REQUEST', message)
export const notFound = (message: string): ApiError => new ApiError(404, 'VGER_NOT_FOUND', message)

/** The HTTP status for an engine error code: the client's mistake, a conflict with the state, or ours. */
const STATUS_OF_CODE: Record<string, number> = {
  VGER_INVALID_ARGUMENT: 400,
  VGER_UNSAFE_PATH: 400,
  VGER_USAGE: 400,
  VGER_SNAPSHOT_NOT_FOUND: 404,
  VGER_SNAPSHOT_AMBIGUOUS: 400,
  VGER_DEST_NOT_EMPTY: 409,
  VGER_PATTERN_UNMATCHED: 400,
  VGER_ALREADY_EXISTS: 409,
  VGER_DEST_CHANGED: 409,
  VGER_LOCKED: 409,
  VGER_CANCELLED: 499,
}

/** Any error as the status and JSON body to answer with. */
export function errorResponse(e: unknown): { status: number; body: ApiErrorBody } {
  if (e instanceof ApiError) return { status: e.status, body: { code: e.code, message: e.message } }
  if (isVgerError(e)) return { status: STATUS_OF_CODE[e.code] ?? 500, body: { code: e.code, message: e.message } }
  return { status: 500, body: { code: 'VGER_INTERNAL', message: e instanceof Error ? e.message : String(e) } }
}

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** Answers with the error; once bytes of a body went out, the connection is cut instead (the client sees a short body). */
export function sendError(res: http.ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const { status, body } = errorResponse(e)
  sendJson(res, status, body)
}

/** The query parameters of a request URL, each allowed once. */
export class Query {
  readonly #params: URLSearchParams

  constructor(url: string | undefined) {
    const q = (url ?? '').indexOf('?')
    this.#params = new URLSearchParams(q < 0 ? '' : (url ?? '').slice(q + 1))
  }

  optional(name: string): string | undefined {
    const all = this.#params.getAll(name)
    if (all.length > 1) throw badRequest(`"${name}" is given more than once`)
    const v = all[0]
    if (v !== undefined && (v.length > 16384 || v.includes('\0'))) throw badRequest(`"${name}" is too long or holds a NUL`)
    return v
  }

  required(name: string): string {
    const v = this.optional(name)
    if (v === undefined || v === '') throw badRequest(`"${name}" is required`)
    return v
  }

  /** A whole number in [min, max], or `fallback` when absent. */
  integer(name: string, fallback: number, min: number, max: number): number {
    const v = this.optional(name)
    if (v === undefined || v === '') return fallback
    if (!/^\d{1,15}$/.test(v) || Number(v) < min || Number(v) > max) {
      throw badRequest(`"${name}" must be a whole number from ${min} to ${max}`)
    }
    return Number(v)
  }

  flag(name: string): boolean {
    const v = this.optional(name)
    if (v === undefined || v === '' || v === '0' || v === 'false') return false
    if (v === '1' || v === 'true') return true
    throw badRequest(`"${name}" must be 1 or 0`)
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.optional(name)
    if (v === undefined || v === '') return fallback
    if (!(allowed as readonly string[]).includes(v)) throw badRequest(`"${name}" must be one of ${allowed.join(', ')}`)
    return v as T
  }
}

/**
 * A path inside a snapshot in the engine's escaped form (`etc/hosts`, `a\xffb`), without a leading or
 * trailing `/`; `""` is the root. Refuses `.`, `..`, empty segments and escapes the engine never writes.
 */
export function parseSnapshotPath(raw: string | undefined): string {
  if (raw === undefined) return ''
  const trimmed = raw.replace(/^\/+/, '').replace(/\/+$/, '')
  if (trimmed === '') return ''
  for (const segment of trimmed.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') throw badRequest(`"path" has an empty, "." or ".." segment`)
    if (/\\(?!\\|x[0-9a-f]{2})/.test(segment.replace(/\\\\/g, ''))) throw badRequest(`"path" has a malformed escape`)
  }
  return trimmed
}

/** The snapshot directory a request names by `snapshot=NAME` (its directory name), or a 404. */
export async function snapshotParam(fs: SnapshotFs, q: Query, name = 'snapshot'): Promise<SnapshotDir> {
  const value = q.required(name)
  const dir = await fs.snapshot(value)
  if (dir === undefined) throw new ApiError(404, 'VGER_SNAPSHOT_NOT_FOUND', `there is no snapshot "${value}"`)
  return dir
}

/** The entry at `path` in `snapshot`, or a 404. */
export async function entryAt(fs: SnapshotFs, snapshot: SnapshotDir, path: string): Promise<DirEntry> {
  const located = await fs.locate([snapshot.name, ...(path === '' ? [] : path.split('/'))])
  if (located === undefined || located.kind !== 'entry') throw notFound(`"${path}" is not in snapshot ${snapshot.name}`)
  return located.entry
}
