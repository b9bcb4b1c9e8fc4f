/**
 * The server's life: open every repository's store, listen (HTTPS with the configured certificate, or
 * HTTP), count each repository in the background, and stop gracefully: no new connection is accepted,
 * requests in flight finish (at most `shutdown_timeout` seconds), then the state is saved.
 */
import { readFileSync } from 'node:fs'
import http, { STATUS_CODES } from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { VgerError, asVgerError } from '../errors.js'
import { requestHandler } from './app.js'
import { Tokens } from './auth.js'
import { ByteBudget } from './budget.js'
import type { ServerConfig } from './config.js'
import type { ServerContext } from './context.js'
import { type LogSink, ServerLog } from './log.js'
import { Metrics } from './metrics.js'
import { ServedRepository } from './repositories.js'

export interface RunningServer {
  /** `http(s)://address:port`, the port being the one bound (useful with `port: 0`). */
  url: string
  port: number
  /** Stops gracefully; resolves once every connection is closed and the state saved. */
  close(): Promise<void>
}

export interface StartOptions {
  /** Where the JSON log lines go (stderr). */
  log: LogSink
  version: string
}

export async function startServer(config: ServerConfig, opts: StartOptions): Promise<RunningServer> {
  const log = new ServerLog(opts.log)
  const repos = new Map<string, ServedRepository>()
  for (const r of config.repositories.values()) {
    try {
      repos.set(r.name, await ServedRepository.open(r, config.stateDir, log))
    } catch (e) {
      const err = asVgerError(e)
      throw new VgerError(err.code, `repository "${r.name}" (${r.url}): ${err.message}`, { cause: e })
    }
  }
  const ctx: ServerContext = {
    config,
    repos,
    tokens: new Tokens(config.tokens, config.metricsToken),
    budget: new ByteBudget(config.uploadMemory),
    metrics: new Metrics(),
    log,
    version: opts.version,
    stopping: false,
    inFlight: 0,
  }
  const options: http.ServerOptions = {
    // A whole upload may take long; what is bounded is silence (client_timeout) and the headers' arrival.
    requestTimeout: 0,
    headersTimeout: config.clientTimeoutSecs * 1000,
    // Long enough that a client's pooled connection is rarely closed just as it sends on it.
    keepAliveTimeout: 30_000,
    connectionsCheckingInterval: 2000,
    noDelay: true,
  }
  const handler = requestHandler(ctx)
  const server =
    config.tls === undefined ? http.createServer(options, handler) : https.createServer({ ...options, ...tlsFiles(config.tls) }, handler)
  server.timeout = (config.clientTimeoutSecs + 5) * 1000
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => clientError(ctx, err, socket))
  // `Expect: 100-continue`: the request is checked first; "100 Continue" goes out only when its body is read.
  server.on('checkContinue', handler)
  const port = await listen(server, config)
  const scheme = config.tls === undefined ? 'http' : 'https'
  const host = config.address.includes(':') && !config.address.startsWith('[') ? `[${config.address}]` : config.address
  const url = `${scheme}://${host}:${port}`
  log.event('info', 'listening', { url, repositories: [...repos.keys()], version: opts.version })
  for (const r of repos.values()) {
    r.ready().catch((e: unknown) =>
      log.event('warn', 'cannot count the repository yet (tried again on the next upload)', {
        repo: r.name,
        detail: asVgerError(e).message,
      }),
    )
  }
  let closing: Promise<void> | undefined
  return { url, port, close: () => (closing ??= shutdown(ctx, server)) }
}

function tlsFiles(tls: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file)
    } catch (e) {
      throw new VgerError('VGER_CONFIG', `cannot read the TLS ${what} ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
    }
  }
  return { cert: read(tls.cert, 'certificate'), key: read(tls.key, 'key') }
}

function listen(server: http.Server, config: ServerConfig): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the address is in use' : e.code === 'EACCES' ? 'permission denied' : e.message
      reject(new VgerError('VGER_SERVER_START', `cannot listen on ${config.address}:${config.port}: ${why}`, { cause: e }))
    })
    server.listen(config.port, config.address, () => {
      const a = server.address()
      resolve(typeof a === 'object' && a !== null ? a.port : config.port)
    })
  })
}

/** A request Node's parser refused (malformed, headers too large or too slow): a JSON 4xx, then close. */
function clientError(ctx: ServerContext, err: NodeJS.ErrnoException, socket: Duplex): void {
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  const code = status === 408 ? 'VGER_SERVER_TIMEOUT' : 'VGER_SERVER_BAD_REQUEST'
  ctx.metrics.count('OTHER', status, code, 0, 0)
  ctx.log.event('warn', 'malformed request refused', {
    status,
    reason: err.code ?? 'unknown',
    remote: (socket as Socket).remoteAddress ?? null,
  })
  if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy()
  const body = `${JSON.stringify({ code, message: 'the request is not valid HTTP/1.1 for this server' })}\n`
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
}

async function shutdown(ctx: ServerContext, server: http.Server): Promise<void> {
  ctx.stopping = true
  ctx.log.event('info', 'stopping', { inFlight: ctx.inFlight })
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  server.closeIdleConnections()
  // Keep-alive connections go as soon as their request is answered (the answers say Connection: close).
  const idle = setInterval(() => server.closeIdleConnections(), 200)
  const deadline = setTimeout(() => {
    ctx.log.event('warn', 'requests still running at the shutdown deadline were cut', { inFlight: ctx.inFlight })
    server.closeAllConnections()
  }, ctx.config.shutdownTimeoutSecs * 1000)
  try {
    await closed
  } finally {
    clearInterval(idle)
    clearTimeout(deadline)
  }
  for (const r of ctx.repos.values()) await r.state.save().catch(() => {})
  ctx.log.event('info', 'stopped')
}
