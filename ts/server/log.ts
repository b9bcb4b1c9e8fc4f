/**
 * The server's log: one JSON object per line on stderr, for each request (method, path, status, code,
 * bytes, milliseconds, request id, the first 8 hex digits of the token's hash) and for the server's own
 * events. Tokens never reach it: a request path that happens to contain the request's token is logged
 * with the token replaced.
 */
export interface LogSink {
  write(chunk: string): unknown
}

export type Level = 'info' | 'warn' | 'error'

export class ServerLog {
  constructor(private readonly sink: LogSink) {}

  event(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
    this.#line({ time: new Date().toISOString(), level, msg, ...fields })
  }

  request(fields: Record<string, unknown>): void {
    this.#line({ time: new Date().toISOString(), level: 'info', msg: 'request', ...fields })
  }

  #line(value: Record<string, unknown>): void {
    try {
      this.sink.write(`${JSON.stringify(value)}\n`)
    } catch {
      // A closed stderr must not take the server down.
    }
  }
}

/** `text` with every occurrence of `secret` hidden (a secret shorter than 4 characters is not searched for). */
export function redact(text: string, secret: string | undefined): string {
  return secret === undefined || secret.length < 4 ? text : text.split(secret).join('<hidden>')
}
