/**
 * The `vger mount` server: one Node `http` server over a repository's snapshots (ts/browse/snapshot-fs.ts),
 * read-only. WebDAV at `/` (webdav.ts), the web UI at `/ui` and its JSON API at `/api` (ui-routes.ts).
 *
 * Access: on a loopback address anyone on this machine may connect, and requests whose `Host` is not a
 * loopback name are refused (so a web page cannot read it through DNS rebinding). On any other address
 * every request must carry the server's random access token: as the first path segment (`/t/TOKEN/...`,
 * for file managers and the UI's links), or as HTTP basic auth (any user name, the token as password).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { isLoopback, type ListenAddress } from '../daemon/status-server.js'
import type { SnapshotFs } from '../browse/snapshot-fs.js'
import { VgerError } from '../errors.js'
import type { Repository } from '../repository.js'
import { handleUi } from './ui-routes.js'
import { handleDav } from './webdav.js'

export interface MountOptions {
  listen: ListenAddress
  /** Require the token even on loopback (default: only on other addresses). */
  requireToken?: boolean
  /** Called for each request that failed inside the server (not a client's mistake), to be logged. */
  onError?: (e: unknown, req: http.IncomingMessage) => void
}

/** What a route handler gets: the request's path below the mount prefix, and where things are. */
export interface MountRequest {
  req: http.IncomingMessage
  res: http.ServerResponse
  /** The URL path after the token prefix, still percent-encoded (`/2026-…/etc/hosts`). */
  path: string
  /** What to put before an absolute path in a link or a `href` (`""`, or `/t/TOKEN`). */
  base: string
  fs: SnapshotFs
  repository: Repository
  /** The repository's name, for titles. */
  name: string
}

export interface MountServer {
  /** The URL to open: `http://127.0.0.1:PORT/` (with the token on a non-loopback address). */
  url: string
  token: string
  close(): Promise<void>
}

/** The host part of a Host header ("127.0.0.1:8317", "[::1]:8317", "localhost"). */
function hostOf(header: string | undefined): string {
  if (header === undefined) return ''
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(header) ?? /^([^:]+)(?::\d+)?$/.exec(header)
  return m?.[1] ?? ''
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** The token a request carries, and the path after a `/t/TOKEN` prefix. */
function credentials(req: http.IncomingMessage): { token?: string; path: string; base: string } {
  const rawPath = (req.url ?? '/').split('?')[0] ?? '/'
  const m = /^\/t\/([A-Za-z0-9_-]+)(\/.*)?$/.exec(rawPath)
  if (m !== null) return { token: m[1], path: m[2] ?? '/', base: `/t/${m[1]}` }
  const auth = req.headers.authorization
  if (auth !== undefined && /^basic /i.test(auth)) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon >= 0) return { token: decoded.slice(colon + 1), path: rawPath, base: '' }
  }
  return { path: rawPath, base: '' }
}

export async function startMountServer(fs: SnapshotFs, repository: Repository, name: string, opts: MountOptions): Promise<MountServer> {
  const loopback = isLoopback(opts.listen.host)
  const needToken = opts.requireToken === true || !loopback
  const token = randomBytes(24).toString('base64url')
  const server = http.createServer((req, res) => {
    const fail = (code: number, message: string, extra: Record<string, string> = {}): void => {
      if (res.headersSent) return void res.destroy()
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...extra })
      res.end(`${message}\n`)
    }
    if (loopback && !isLoopback(hostOf(req.headers.host))) return fail(421, 'this server answers loopback names only')
    const c = credentials(req)
    if (needToken && (c.token === undefined || !same(c.token, token))) {
      return fail(401, 'the access token is missing or wrong', { 'www-authenticate': 'Basic realm="vger mount", charset="UTF-8"' })
    }
    const r: MountRequest = { req, res, path: c.path, base: c.base, fs, repository, name }
    const handled = r.path === '/ui' || r.path.startsWith('/ui/') || r.path.startsWith('/api/') ? handleUi(r) : handleDav(r)
    handled.catch((e: unknown) => {
      opts.onError?.(e, req)
      const code = (e as { code?: unknown } | null)?.code
      fail(500, `error${typeof code === 'string' ? `[${code}]` : ''}: ${e instanceof Error ? e.message : String(e)}`)
    })
  })
  server.requestTimeout = 0
  server.headersTimeout = 60_000
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new VgerError('VGER_SERVER_START', `cannot listen on ${opts.listen.host}:${opts.listen.port}: ${e.code ?? e.message}`)),
    )
    server.listen(opts.listen.port, opts.listen.host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host
  return {
    url: `http://${host}:${port}${needToken ? `/t/${token}` : ''}/`,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
