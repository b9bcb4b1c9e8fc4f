/**
 * One request and its answer, with what the request log and the metrics record about it: the request id
 * (also in `X-Request-Id` and in the body of a 500), the repository, the token's hash, bytes in and out,
 * and the error code of an error answer.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Identity } from './auth.js'
import type { HttpError } from './errors.js'

export class Exchange {
  readonly id = randomBytes(6).toString('hex')
  readonly started = performance.now()
  bytesIn = 0
  bytesOut = 0
  repo: string | undefined
  who: Identity | undefined
  /** The request's bearer token, kept only to hide it should it appear in the logged path. */
  token: string | undefined
  code: string | undefined
  /** Close the connection after this answer. */
  close = false
  /** The object key or repository the request is about (for messages). */
  subject: string | undefined
  /** The status answered (undefined until then; a request whose connection died stays undefined). */
  status: number | undefined

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** True once the server is stopping: every answer then closes its connection. */
    private readonly stopping: () => boolean = () => false,
  ) {
    res.setHeader('X-Request-Id', this.id)
    res.setHeader('Cache-Control', 'no-store')
  }

  get method(): string {
    return this.req.method ?? ''
  }

  /**
   * Runs server-side work that may take long (a store call, a listing, a verification) with the
   * connection's idle timeout off: the client waiting for it is not a silent client.
   */
  async busy<T>(work: () => Promise<T>): Promise<T> {
    const socket = this.req.socket
    const timeout = socket.timeout
    socket.setTimeout(0)
    try {
      return await work()
    } finally {
      if (!socket.destroyed) socket.setTimeout(timeout ?? 0)
    }
  }

  /** A JSON answer. */
  json(status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): void {
    this.send(status, Buffer.from(`${JSON.stringify(value)}\n`), { 'Content-Type': 'application/json', ...headers })
  }

  /** An answer with `body` (none for HEAD, whose Content-Length still says what GET would send). */
  send(status: number, body: Buffer | undefined, headers: Readonly<Record<string, string>> = {}): void {
    const res = this.res
    if (res.headersSent || res.destroyed) return
    this.begin(status, status === 204 ? headers : { 'Content-Length': String(body?.length ?? 0), ...headers })
    if (body !== undefined && this.method !== 'HEAD' && status !== 204) {
      this.bytesOut += body.length
      res.end(body)
    } else {
      res.end()
    }
  }

  /** Sends the status line and headers of an answer whose body follows (see `send` for a whole one). */
  begin(status: number, headers: Readonly<Record<string, string>>): void {
    this.status = status
    if (this.close || this.stopping()) this.res.setHeader('Connection', 'close')
    this.res.writeHead(status, headers)
  }

  error(e: HttpError): void {
    this.code = e.code
    this.status = e.status
    if (e.close) this.close = true
    if (this.res.headersSent) {
      // Too late for an error answer: cut the connection so the client sees a failed request.
      this.res.destroy()
      return
    }
    this.json(e.status, { code: e.code, message: e.message }, e.headers)
  }
}
