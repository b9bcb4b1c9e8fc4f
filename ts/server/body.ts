/**
 * Request bodies. An upload is read into one buffer of exactly its Content-Length; the read fails when the
 * client sends more or less, closes the connection first, or sends nothing for `idleMs` (a slow client
 * cannot hold an upload's memory forever). Only the buffer is returned: nothing is stored here.
 */
import { HttpError, badRequest } from './errors.js'
import type { Exchange } from './exchange.js'

/**
 * The length of a request's body: its Content-Length, or 0 when it has neither that nor Transfer-Encoding
 * (HTTP/1.1: then there is no body; clients send an empty PUT that way); undefined for a chunked body.
 */
export function contentLength(ex: Exchange): number | undefined {
  const v = ex.req.headers['content-length']
  if (v === undefined) return ex.req.headers['transfer-encoding'] === undefined ? 0 : undefined
  if (!/^\d{1,15}$/.test(v)) throw badRequest('Content-Length must be a whole number of bytes')
  return Number(v)
}

/** Whether the request carries a body (a chunked one, or a Content-Length above 0). */
export function hasBody(ex: Exchange): boolean {
  return ex.req.headers['transfer-encoding'] !== undefined || (contentLength(ex) ?? 0) > 0
}

export function readBody(ex: Exchange, length: number, idleMs: number): Promise<Buffer> {
  const req = ex.req
  const buf = Buffer.allocUnsafe(length)
  let got = 0
  return new Promise((resolve, reject) => {
    const finish = (e: HttpError | undefined): void => {
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('close', onClose)
      if (e === undefined) resolve(buf)
      else reject(e)
    }
    const onData = (chunk: Buffer): void => {
      if (got + chunk.length > length) return finish(badRequest('the body is longer than its Content-Length; nothing was stored'))
      chunk.copy(buf, got)
      got += chunk.length
      ex.bytesIn += chunk.length
      timer.refresh()
    }
    const onEnd = (): void =>
      finish(got === length ? undefined : badRequest(`the body ended after ${got} of its ${length} bytes; nothing was stored`))
    const onClose = (): void => {
      ex.close = true
      finish(badRequest(`the connection closed after ${got} of ${length} bytes; nothing was stored`))
    }
    const onIdle = (): void => {
      ex.close = true
      finish(new HttpError(408, 'VGER_SERVER_TIMEOUT', `no data for ${Math.round(idleMs / 1000)} s; nothing was stored`, {}, true))
    }
    const timer = setTimeout(onIdle, idleMs)
    // A client that asked whether to send its body (Expect: 100-continue) is told to, now.
    if (/^100-continue$/i.test(req.headers.expect ?? '')) ex.res.writeContinue()
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('close', onClose)
  })
}

/** Reads a small JSON body (at most `limit` bytes). */
export async function readJson(ex: Exchange, limit: number, idleMs: number): Promise<unknown> {
  const length = contentLength(ex)
  if (length === undefined) throw new HttpError(411, 'VGER_SERVER_LENGTH_REQUIRED', 'send the body with a Content-Length', {}, true)
  if (length > limit) throw new HttpError(413, 'VGER_SERVER_TOO_LARGE', `this body may hold at most ${limit} bytes`, {}, true)
  const body = await readBody(ex, length, idleMs)
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch {
    throw badRequest('the body is not valid JSON')
  }
}
