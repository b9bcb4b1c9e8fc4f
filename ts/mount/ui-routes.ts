/**
 * The web UI (`/ui`, the front end built from ui/) and its JSON API (`/api/*`), read-only but for
 * `POST /api/restore` (docs/ui.md). Every API error is JSON `{code, message}` with an HTTP status.
 */
import { serveUi } from './api/assets.js'
import * as browse from './api/browse.js'
import { ApiError, sendError } from './api/http.js'
import { restore } from './api/restore.js'
import * as search from './api/search.js'
import type { MountRequest } from './server.js'

type Handler = (r: MountRequest) => Promise<void>

const GET_ROUTES: Record<string, Handler> = {
  '/api/snapshots': browse.snapshots,
  '/api/dir': browse.dir,
  '/api/stat': browse.stat,
  '/api/file': browse.file,
  '/api/zip': browse.zip,
  '/api/find': search.find,
  '/api/diff': search.diff,
}

export async function handleUi(r: MountRequest): Promise<void> {
  try {
    const method = r.req.method ?? 'GET'
    if (r.path === '/api/restore') return await restore(r)
    const read = method === 'GET' || method === 'HEAD'
    const handler = r.path.startsWith('/api/') ? GET_ROUTES[r.path] : serveUi
    if (handler === undefined) throw new ApiError(404, 'VGER_NOT_FOUND', `no API call ${r.path}`)
    if (!read) throw new ApiError(405, 'VGER_BAD_REQUEST', `${method} is not allowed here`)
    await handler(r)
  } catch (e) {
    sendError(r.res, e)
  }
}
