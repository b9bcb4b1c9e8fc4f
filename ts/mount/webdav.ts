/**
 * WebDAV class 1, read-only, over the snapshots (RFC 4918): OPTIONS, PROPFIND (propfind.ts), GET and HEAD
 * (get.ts). Every method that would change something gets 405 with the methods that work. A path that
 * cannot name an entry (`..`, an encoded `/` or NUL, a malformed escape, a name over 4096 bytes) is a 400;
 * one that names nothing, or a snapshot deleted since, a 404. Names in URLs are the raw bytes of the
 * snapshot's names, percent-encoded, so a name that is not UTF-8 comes back byte for byte (docs/mount.md).
 */
import { urlPathToEscaped } from '../browse/names.js'
import { isVgerError } from '../errors.js'
import { getDirectory, getFile } from './get.js'
import { propfind } from './propfind.js'
import { resolve } from './resources.js'
import type { MountRequest } from './server.js'

export const ALLOW = 'OPTIONS, GET, HEAD, PROPFIND'

function plain(r: MountRequest, status: number, text: string, extra: Record<string, string> = {}): void {
  r.res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...extra })
  r.res.end(`${text}\n`)
}

export async function handleDav(r: MountRequest): Promise<void> {
  const method = r.req.method ?? 'GET'
  if (method === 'OPTIONS') {
    r.res.writeHead(200, { dav: '1', allow: ALLOW, 'ms-author-via': 'DAV', 'content-length': 0 })
    r.res.end()
    return
  }
  if (method !== 'GET' && method !== 'HEAD' && method !== 'PROPFIND') {
    // Read and drop a body (a PUT's), so the refusal reaches a client still sending.
    r.req.resume()
    return plain(r, 405, `${method}: this WebDAV server is read-only (a snapshot never changes)`, { allow: ALLOW })
  }
  const names = urlPathToEscaped(r.path)
  if (names === undefined)
    return plain(r, 400, 'this path cannot name an entry (".." or ".", an encoded "/" or NUL, or a name over 4096 bytes)')
  let resource
  try {
    resource = await resolve(r.fs, names)
  } catch (e) {
    // The engine cannot find a tree of a snapshot deleted (and compacted) since it was listed.
    if (isVgerError(e, 'VGER_OBJECT_MISSING') || isVgerError(e, 'VGER_SNAPSHOT_NOT_FOUND')) resource = undefined
    else throw e
  }
  if (resource === undefined) return plain(r, 404, 'not found')
  if (method === 'PROPFIND') return propfind(r, resource)
  if (resource.collection) return getDirectory(r, resource, method === 'HEAD')
  return getFile(r, resource, method === 'HEAD')
}
