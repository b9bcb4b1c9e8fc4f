/** WebDAV over the snapshots (read-only): to be written. */
import type { MountRequest } from './server.js'

export async function handleDav(r: MountRequest): Promise<void> {
  r.res.writeHead(501, { 'content-type': 'text/plain; charset=utf-8' })
  r.res.end('WebDAV is not built yet\n')
}
