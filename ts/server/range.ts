/** The one form of `Range` the protocol takes: `bytes=a-b` or `bytes=a-` (docs/server.md section 3). */
import { badRequest } from './errors.js'

export interface ByteRange {
  start: number
  /** Inclusive; undefined = to the end. */
  end?: number
}

export function parseRange(header: string): ByteRange {
  const m = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(header.trim())
  const start = Number(m?.[1])
  const end = m?.[2] === '' ? undefined : Number(m?.[2])
  if (m === null || (end !== undefined && end < start)) {
    throw badRequest('Range must be one range, bytes=FIRST-LAST or bytes=FIRST- (no lists, no suffixes)')
  }
  return end === undefined ? { start } : { start, end }
}
