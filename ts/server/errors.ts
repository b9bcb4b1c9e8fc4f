/**
 * The server's answers that are errors: an HTTP status, a stable `VGER_SERVER_*` code and a message
 * that says what to do, sent as `{"code","message"}` (docs/server.md section 6). A message never
 * holds a token or a request body.
 */
import { isVgerError } from '../errors.js'

export const SERVER_ERROR_CODES = [
  'VGER_SERVER_BAD_REQUEST', // 400: malformed request (Range, Content-Range, query, method override, body length)
  'VGER_SERVER_BAD_KEY', // 400: not a key of the repository layout
  'VGER_SERVER_BAD_PACK', // 400: a pack whose bytes do not hash to its name
  'VGER_SERVER_UNAUTHORIZED', // 401: no token, or an unknown one
  'VGER_SERVER_FORBIDDEN', // 403: the token may not do this
  'VGER_SERVER_NOT_FOUND', // 404
  'VGER_SERVER_METHOD', // 405
  'VGER_SERVER_TIMEOUT', // 408: the client stopped sending
  'VGER_SERVER_LENGTH_REQUIRED', // 411
  'VGER_SERVER_EXISTS', // 412: create-only
  'VGER_SERVER_QUOTA', // 413: the repository's quota would be exceeded
  'VGER_SERVER_TOO_LARGE', // 413: above the body limit (or 4 KiB for a lock)
  'VGER_SERVER_RANGE', // 416
  'VGER_SERVER_INTERNAL', // 500
  'VGER_SERVER_NOT_IMPLEMENTED', // 501
  'VGER_SERVER_UNAVAILABLE', // 503: the storage cannot be reached, or the server is stopping
  'VGER_SERVER_NO_SPACE', // 507: the storage is full
] as const

export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number]

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ServerErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    /** Close the connection after answering (the body was not read and is not worth reading). */
    readonly close = false,
  ) {
    super(message)
  }
}

export const badKey = (message: string): HttpError => new HttpError(400, 'VGER_SERVER_BAD_KEY', message)
export const badRequest = (message: string): HttpError => new HttpError(400, 'VGER_SERVER_BAD_REQUEST', message)
export const forbidden = (message: string): HttpError => new HttpError(403, 'VGER_SERVER_FORBIDDEN', message)
export const notFound = (what: string): HttpError => new HttpError(404, 'VGER_SERVER_NOT_FOUND', `${what} does not exist`)

/**
 * A failure of the store as an answer: a missing object is 404, an existing one 412, a full disk 507, an
 * unreachable store 503 (clients retry those); anything else is the server's fault (500, logged under
 * `requestId`, with the detail kept out of the answer).
 */
export function storeFailure(e: unknown, key: string, requestId: string): HttpError {
  if (isVgerError(e, 'VGER_OBJECT_MISSING')) return notFound(key)
  if (isVgerError(e, 'VGER_ALREADY_EXISTS')) return exists(key)
  if (isVgerError(e, 'VGER_NO_SPACE'))
    return new HttpError(507, 'VGER_SERVER_NO_SPACE', 'the server has no space left for this repository; tell its administrator')
  if (isVgerError(e, 'VGER_REMOTE_UNAVAILABLE')) {
    return new HttpError(503, 'VGER_SERVER_UNAVAILABLE', 'the server cannot reach its storage at the moment; try again later', {
      'Retry-After': '5',
    })
  }
  return internal(requestId)
}

export function exists(key: string): HttpError {
  return new HttpError(412, 'VGER_SERVER_EXISTS', `${key} exists already; objects are never overwritten (read it to compare)`)
}

export function internal(requestId: string): HttpError {
  return new HttpError(500, 'VGER_SERVER_INTERNAL', `the server failed on this request; its log names request ${requestId}`)
}
