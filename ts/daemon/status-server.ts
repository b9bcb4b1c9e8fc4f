/**
 * The daemon's status endpoint (`vger daemon --status-listen HOST:PORT`): `GET /status` is JSON,
 * `GET /` an HTML page (status-page.ts). Plain HTTP, no authentication: it listens on a loopback address
 * only, unless `--status-allow-remote` says otherwise, and (on loopback) answers only requests whose
 * `Host` is a loopback name, so a web page cannot read it through DNS rebinding. It shows no secret: no
 * passphrase, token or key is part of the status, URLs lose their user, password and query, and error
 * messages have the config's secrets removed before they are recorded.
 */
import http from 'node:http'
import { isIP } from 'node:net'
import { VgerError } from '../errors.js'
import type { DaemonStatus } from './daemon.js'
import { renderStatusPage } from './status-page.js'

export interface ListenAddress {
  host: string
  port: number
}

/** "127.0.0.1:8080", "[::1]:8080", "localhost:0" (0: any free port). */
export function parseListen(text: string, flag = '--status-listen'): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim())
  const host = m?.[1] ?? m?.[2]
  const port = Number(m?.[3])
  if (m === null || host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new VgerError('VGER_USAGE', `${flag} takes HOST:PORT, e.g. 127.0.0.1:8317 or [::1]:8317 (got "${text}")`)
  }
  return { host, port }
}

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

/** The host part of a Host header ("127.0.0.1:8317", "[::1]:8317", "localhost"). */
function hostOf(header: string | undefined): string {
  if (header === undefined) return ''
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(header) ?? /^([^:]+)(?::\d+)?$/.exec(header)
  return m?.[1] ?? ''
}

export interface StatusServer {
  /** e.g. http://127.0.0.1:8317/ */
  url: string
  close(): Promise<void>
}

export async function startStatusServer(at: ListenAddress, allowRemote: boolean, status: () => DaemonStatus): Promise<StatusServer> {
  if (!allowRemote && !isLoopback(at.host)) {
    throw new VgerError(
      'VGER_USAGE',
      `--status-listen ${at.host}: the status page has no authentication, so it listens on loopback only (127.0.0.1, [::1], localhost); ` +
        'add --status-allow-remote to listen on another address',
    )
  }
  const server = http.createServer((req, res) => {
    const send = (code: number, type: string, body: string, extra: Record<string, string> = {}): void => {
      res.writeHead(code, {
        'content-type': type,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
        'referrer-policy': 'no-referrer',
        ...extra,
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    if (!allowRemote && !isLoopback(hostOf(req.headers.host))) return send(421, 'text/plain; charset=utf-8', 'misdirected request\n')
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' })
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname === '/status') return send(200, 'application/json; charset=utf-8', `${JSON.stringify(status(), null, 2)}\n`)
    if (url.pathname === '/') return send(200, 'text/html; charset=utf-8', renderStatusPage(status()))
    return send(404, 'text/plain; charset=utf-8', 'not found: try / or /status\n')
  })
  server.requestTimeout = 10_000
  server.headersTimeout = 10_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the address is in use' : e.code === 'EACCES' ? 'permission denied' : e.message
      reject(new VgerError('VGER_SERVER_START', `the status page cannot listen on ${at.host}:${at.port}: ${why}`, { cause: e }))
    })
    server.listen(at.port, at.host, () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : at.port
  const host = isIP(at.host) === 6 ? `[${at.host}]` : at.host
  return {
    url: `http://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
