/**
 * A response body written piece by piece with bounded memory: text is gathered up to 64 KiB, then written,
 * and when the socket's buffer is full the writer waits for it to drain. A listing of 100,000 entries thus
 * starts reaching the client at once and never sits whole in memory as text.
 */
import type http from 'node:http'

const BATCH = 64 * 1024

/** Thrown by `write` when the client went away; the caller stops producing. */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection')
  }
}

export class BodyWriter {
  readonly #res: http.ServerResponse
  #pending = ''

  constructor(res: http.ServerResponse) {
    this.#res = res
  }

  async write(text: string): Promise<void> {
    this.#pending += text
    if (this.#pending.length >= BATCH) await this.flush()
  }

  async flush(): Promise<void> {
    const res = this.#res
    if (res.destroyed || res.writableEnded) throw new ClientGone()
    const text = this.#pending
    this.#pending = ''
    if (text === '' || res.write(text)) return
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        res.off('drain', done)
        res.off('close', gone)
        resolve()
      }
      const gone = (): void => {
        res.off('drain', done)
        res.off('close', gone)
        reject(new ClientGone())
      }
      res.on('drain', done)
      res.on('close', gone)
    })
  }

  async end(text = ''): Promise<void> {
    this.#pending += text
    await this.flush()
    this.#res.end()
  }
}

/** Text for XML and HTML: markup characters as entities, control characters (not allowed in XML 1.0) as `\xNN`. */
export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"'\u0000-\u001f\u007f\ufffe\uffff]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;'
      case '<':
        return '&lt;'
      case '>':
        return '&gt;'
      case '"':
        return '&quot;'
      case "'":
        return '&#39;'
      default:
        return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`
    }
  })
}
