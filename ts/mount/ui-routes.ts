/** The web UI (`/ui`) and its JSON API (`/api`): to be written. */
import type { MountRequest } from './server.js'

export async function handleUi(r: MountRequest): Promise<void> {
  r.res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
  r.res.end('the web UI is not built yet\n')
}
