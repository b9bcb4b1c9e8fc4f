/**
 * One request, from the socket to its answer and its log line: a stopping server refuses it, `/health`
 * answers anyone, every other request is authenticated (401 before anything else is looked at), then
 * checked against the protocol's shapes and dispatched. Whatever a handler throws becomes an error
 * answer; nothing a client sends can throw past this function.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { asVgerError } from '../errors.js'
import { bearerToken } from './auth.js'
import { hasBody } from './body.js'
import type { ServerContext } from './context.js'
import { HttpError, badRequest, storeFailure } from './errors.js'
import { Exchange } from './exchange.js'
import { redact } from './log.js'
import { objectRoute } from './objects.js'
import { listRoute, repositoryRoute } from './repository-routes.js'
import { clip, parseTarget } from './target.js'

/** Headers that would let a request claim another method than its own. */
const METHOD_OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override']

export function requestHandler(ctx: ServerContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const ex = new Exchange(req, res, () => ctx.stopping)
    ctx.inFlight++
    // Failures of either stream show up where they matter (a body read, a write); never as a crash.
    req.on('error', () => {})
    res.on('error', () => {})
    res.on('close', () => {
      ctx.inFlight--
      record(ctx, ex)
    })
    void answer(ctx, ex)
  }
}

async function answer(ctx: ServerContext, ex: Exchange): Promise<void> {
  try {
    await route(ctx, ex)
  } catch (e) {
    let err: HttpError
    if (e instanceof HttpError) {
      err = e
    } else {
      err = storeFailure(e, ex.subject ?? 'the object', ex.id)
      const v = asVgerError(e)
      // A 404 or 412 from the store is an ordinary answer (a lock its owner deleted between a client's listing
      // and its GET): the request line says it; only the store's real failures are warnings or errors.
      if (err.status !== 404 && err.status !== 412) {
        ctx.log.event(err.status >= 500 ? 'error' : 'warn', 'request failed', {
          id: ex.id,
          repo: ex.repo,
          code: v.code,
          detail: redact(v.message, ex.token),
        })
      }
    }
    ex.error(err)
  }
}

async function route(ctx: ServerContext, ex: Exchange): Promise<void> {
  const url = ex.req.url ?? '/'
  if (ctx.stopping) {
    ex.close = true
    throw new HttpError(503, 'VGER_SERVER_UNAVAILABLE', 'the server is stopping; try again shortly', { 'Retry-After': '5' })
  }
  if (url === '/health' && (ex.method === 'GET' || ex.method === 'HEAD')) return ex.json(200, { status: 'ok', version: ctx.version })

  const token = bearerToken(ex.req.headers.authorization)
  ex.token = token
  ex.who = token === undefined ? undefined : ctx.tokens.identify(token)
  if (ex.who === undefined) {
    const message = token === undefined ? 'send a token: Authorization: Bearer <token>' : 'this token is not known to the server'
    throw new HttpError(401, 'VGER_SERVER_UNAUTHORIZED', message, { 'WWW-Authenticate': 'Bearer realm="vger"' }, safeHasBody(ex))
  }
  for (const h of METHOD_OVERRIDES) {
    if (ex.req.headers[h] !== undefined) throw badRequest(`${h} is not accepted: a request is what its method says`)
  }
  if (ex.method !== 'PUT' && ex.method !== 'POST' && safeHasBody(ex)) {
    if (ex.method === 'GET' || ex.method === 'HEAD' || ex.method === 'DELETE') {
      throw new HttpError(400, 'VGER_SERVER_BAD_REQUEST', `a ${ex.method} request takes no body`, {}, true)
    }
    // Any other method is refused below; its body is not worth reading.
    ex.close = true
  }

  const target = parseTarget(url)
  switch (target.kind) {
    case 'health':
      if (ex.method !== 'GET' && ex.method !== 'HEAD') throw methodNotAllowed('GET, HEAD')
      return ex.json(200, { status: 'ok', version: ctx.version })
    case 'metrics':
      return metrics(ctx, ex)
    case 'object':
      ex.repo = target.repo
      ex.subject = target.key
      return objectRoute(ctx, ex, target.repo, target.key)
    case 'list':
      ex.repo = target.repo
      ex.subject = target.prefix === '' ? `repository ${target.repo}` : target.prefix
      return listRoute(ctx, ex, target.repo, target.prefix)
    case 'repository':
      ex.repo = target.repo
      ex.subject = `repository ${target.repo}`
      return repositoryRoute(ctx, ex, target.repo, target.action)
  }
}

function safeHasBody(ex: Exchange): boolean {
  try {
    return hasBody(ex)
  } catch {
    return true
  }
}

function methodNotAllowed(allow: string): HttpError {
  return new HttpError(405, 'VGER_SERVER_METHOD', `this route takes ${allow}`, { Allow: allow })
}

/** `/metrics`: the metrics token sees every repository, any other token those it may read. */
function metrics(ctx: ServerContext, ex: Exchange): void {
  if (ex.method !== 'GET') throw methodNotAllowed('GET')
  const who = ex.who
  if (who === undefined || (!who.metrics && who.grants.size === 0)) {
    throw new HttpError(403, 'VGER_SERVER_FORBIDDEN', 'metrics need the metrics_token or a token with access to a repository')
  }
  const repos = [...ctx.repos.values()].filter((r) => who.metrics || who.grants.has(r.name))
  const text = ctx.metrics.render(repos, {
    uploadBytesInMemory: ctx.budget.used,
    uploadsWaiting: ctx.budget.waiting,
    requestsInFlight: ctx.inFlight,
  })
  ex.send(200, Buffer.from(text), { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' })
}

/** The request's log line and its metrics, once its answer is sent or its connection gone. */
function record(ctx: ServerContext, ex: Exchange): void {
  const finished = ex.res.writableFinished
  const status = ex.status ?? (finished ? ex.res.statusCode : 0)
  ctx.metrics.count(ex.method, status, ex.code, ex.bytesIn, ex.bytesOut)
  ctx.log.request({
    id: ex.id,
    method: clip(ex.method, 16),
    path: redact(clip(ex.req.url ?? '', 300), ex.token),
    status,
    ...(ex.code === undefined ? {} : { code: ex.code }),
    ...(ex.repo === undefined ? {} : { repo: ex.repo }),
    ...(ex.who === undefined ? {} : { token: ex.who.hash.slice(0, 8) }),
    bytesIn: ex.bytesIn,
    bytesOut: ex.bytesOut,
    ms: Math.round(performance.now() - ex.started),
    remote: ex.req.socket.remoteAddress ?? null,
    ...(finished ? {} : { aborted: true }),
  })
}
