/**
 * The HTTP parts of serving a file that do not touch the repository (RFC 9110): one byte range out of a
 * `Range` header, and the validators (`ETag`, `Last-Modified`) against the conditional headers.
 */

/** What a `Range` header asks of a representation of `size` bytes. */
export type RangeAnswer =
  /** Serve the whole representation (no header, a malformed one, several ranges, or a unit other than bytes). */
  | { kind: 'full' }
  /** Serve bytes [start, end] (inclusive, as `Content-Range` writes them) with 206. */
  | { kind: 'partial'; start: number; end: number }
  /** 416: no byte of the range exists. */
  | { kind: 'unsatisfiable' }

/**
 * One range of `bytes=a-b`, `bytes=a-` or `bytes=-n`. A server may ignore a Range header (RFC 9110
 * 14.2), so anything this does not serve exactly (several ranges, other units, bad syntax) gets the full
 * representation rather than a multipart answer.
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'full' }
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (m === null) return { kind: 'full' }
  const [, first = '', last = ''] = m
  if (first === '' && last === '') return { kind: 'full' }
  if (first === '') {
    const suffix = Number(last)
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' }
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  if (last !== '' && Number(last) < start) return { kind: 'full' }
  if (start >= size) return { kind: 'unsatisfiable' }
  return { kind: 'partial', start, end }
}

/** A file's validators as response headers carry them. */
export interface Validators {
  /** Quoted, strong: `"…"`. */
  etag: string
  /** Seconds precision, as `Last-Modified` carries it (milliseconds since the epoch, floored to a second). */
  modifiedMs: number
}

function etagList(header: string): string[] {
  return header.split(',').map((t) => t.trim().replace(/^W\//, ''))
}

function parseDate(header: string | undefined): number | undefined {
  if (header === undefined) return undefined
  const t = Date.parse(header)
  return Number.isNaN(t) ? undefined : t
}

/** What the preconditions of a GET or HEAD say (RFC 9110 13.2.2): go on, 304, or 412. */
export function evaluatePreconditions(headers: Record<string, string | string[] | undefined>, v: Validators): 200 | 304 | 412 {
  const one = (name: string): string | undefined => {
    const value = headers[name]
    return Array.isArray(value) ? value.join(', ') : value
  }
  const ifMatch = one('if-match')
  if (ifMatch !== undefined) {
    const tags = etagList(ifMatch)
    if (!tags.includes('*') && !tags.includes(v.etag)) return 412
  } else {
    const since = parseDate(one('if-unmodified-since'))
    if (since !== undefined && v.modifiedMs > since) return 412
  }
  const ifNoneMatch = one('if-none-match')
  if (ifNoneMatch !== undefined) {
    const tags = etagList(ifNoneMatch)
    return tags.includes('*') || tags.includes(v.etag) ? 304 : 200
  }
  const since = parseDate(one('if-modified-since'))
  if (since !== undefined && v.modifiedMs <= since) return 304
  return 200
}

/** Whether an `If-Range` header lets the Range apply: it must name the current (strong) ETag or date. */
export function ifRangeHolds(header: string | undefined, v: Validators): boolean {
  if (header === undefined) return true
  const h = header.trim()
  if (h.startsWith('"') || h.startsWith('W/')) return h === v.etag
  const t = parseDate(h)
  return t !== undefined && t === v.modifiedMs
}
