/**
 * PROPFIND (RFC 4918 9.1): the properties of a resource (Depth 0) and of its members (Depth 1), as a 207
 * multistatus streamed entry by entry. Depth infinity is refused with 403 and `propfind-finite-depth`, as
 * the RFC allows (and as a missing Depth header means infinity, it is refused too). The request body is read
 * and ignored: every response carries all the properties below (allprop), which is what clients ask for.
 */
import { BodyWriter, ClientGone, escapeMarkup } from './body-writer.js'
import { children, type Resource } from './resources.js'
import type { MountRequest } from './server.js'

/** The largest PROPFIND body read (they are a few hundred bytes); a bigger one gets 413. */
const MAX_BODY = 1 << 20

const XML_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">\n'

function propsXml(base: string, r: Resource): string {
  const props = [
    `<D:displayname>${escapeMarkup(r.displayName)}</D:displayname>`,
    `<D:getlastmodified>${new Date(r.modifiedMs).toUTCString()}</D:getlastmodified>`,
    `<D:creationdate>${new Date(r.modifiedMs).toISOString().replace(/\.\d+Z$/, 'Z')}</D:creationdate>`,
    `<D:getetag>"${r.etag}"</D:getetag>`,
    r.collection
      ? '<D:resourcetype><D:collection/></D:resourcetype>'
      : `<D:resourcetype/><D:getcontentlength>${r.size}</D:getcontentlength>`,
    `<D:getcontenttype>${r.contentType}</D:getcontenttype>`,
  ]
  return (
    `<D:response><D:href>${escapeMarkup(base + r.urlPath)}</D:href>` +
    `<D:propstat><D:prop>${props.join('')}</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>\n`
  )
}

/** Reads (and drops) the request body; false when it is larger than MAX_BODY. */
async function drainBody(r: MountRequest): Promise<boolean> {
  let total = 0
  for await (const chunk of r.req) {
    total += (chunk as Buffer).length
    if (total > MAX_BODY) return false
  }
  return true
}

export async function propfind(r: MountRequest, resource: Resource): Promise<void> {
  const { res } = r
  const depth = String(r.req.headers.depth ?? 'infinity')
    .trim()
    .toLowerCase()
  if (depth !== '0' && depth !== '1') {
    res.writeHead(403, { 'content-type': 'application/xml; charset=utf-8' })
    res.end('<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>\n')
    return
  }
  if (!(await drainBody(r))) {
    res.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' })
    res.end('the PROPFIND body is too large\n')
    return
  }
  // The first member is looked up before the status is sent, so a listing that cannot be read is a 500.
  const members = depth === '1' && resource.collection ? children(r.fs, resource) : undefined
  let next = await members?.next()
  res.writeHead(207, { 'content-type': 'application/xml; charset=utf-8', 'cache-control': 'no-store' })
  const out = new BodyWriter(res)
  try {
    await out.write(XML_HEAD + propsXml(r.base, resource))
    while (members !== undefined && next !== undefined && next.done !== true) {
      await out.write(propsXml(r.base, next.value))
      next = await members.next()
    }
    await out.end('</D:multistatus>\n')
  } catch (e) {
    if (e instanceof ClientGone) return
    throw e
  }
}
