/** A local HTTP server that answers 200 to everything and records each request. */
import { type IncomingHttpHeaders, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedRequest {
  method: string
  /** Path and query, as sent. */
  url: string
  headers: IncomingHttpHeaders
  body: string
}

export interface Receiver {
  /** `http://127.0.0.1:PORT`. */
  origin: string
  /** The requests received since the last `take()`, in arrival order; empties the list. */
  take(): ReceivedRequest[]
  close(): Promise<void>
}

export async function startReceiver(): Promise<Receiver> {
  let received: ReceivedRequest[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      res.writeHead(200, { 'content-type': 'text/plain' }).end('OK')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    take: () => {
      const out = received
      received = []
      return out
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
