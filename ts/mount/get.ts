/**
 * GET and HEAD: a file's bytes with one optional range, validators and conditional requests; a directory
 * as a small HTML listing. A file's first window is read before the status line goes out, so a damaged
 * chunk there is a 500; one met later aborts the connection, and the client sees a short body, never
 * wrong bytes. A client that goes away mid-body stops the read (the stream is destroyed).
 */
import { once } from 'node:events'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { isVgerError } from '../errors.js'
import { BodyWriter, ClientGone, escapeMarkup } from './body-writer.js'
import { evaluatePreconditions, ifRangeHolds, parseRange, type Validators } from './http-range.js'
import { children, parentUrlPath, type Resource } from './resources.js'
import type { MountRequest } from './server.js'

function validators(r: Resource): Validators {
  return { etag: `"${r.etag}"`, modifiedMs: Math.floor(r.modifiedMs / 1000) * 1000 }
}

/**
 * Resolves once `stream` has its first window buffered ('readable' also comes at the end of an empty
 * stream); rejects with the stream's error if the read fails first (`once` listens for 'error').
 */
async function firstWindow(stream: Readable): Promise<void> {
  await once(stream, 'readable')
}

export async function getFile(r: MountRequest, file: Resource, head: boolean): Promise<void> {
  const { req, res } = r
  const v = validators(file)
  const common: Record<string, string | number> = {
    'accept-ranges': 'bytes',
    etag: v.etag,
    'last-modified': new Date(v.modifiedMs).toUTCString(),
    'cache-control': 'no-cache',
    // A backed-up HTML file must not run as a page of this origin (the web UI's, which can restore).
    'content-security-policy': 'sandbox',
    'x-content-type-options': 'nosniff',
  }
  const pre = evaluatePreconditions(req.headers, v)
  if (pre !== 200) {
    res.writeHead(pre, common)
    res.end()
    return
  }
  let range = parseRange(req.headers.range, file.size)
  if (range.kind !== 'full' && !ifRangeHolds(req.headers['if-range'] as string | undefined, v)) range = { kind: 'full' }
  if (range.kind === 'unsatisfiable') {
    res.writeHead(416, { ...common, 'content-range': `bytes */${file.size}`, 'content-type': 'text/plain; charset=utf-8' })
    res.end(`the range is outside the file (${file.size} bytes)\n`)
    return
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end + 1] : [0, file.size]
  const headers: Record<string, string | number> = { ...common, 'content-type': file.contentType, 'content-length': end - start }
  if (range.kind === 'partial') headers['content-range'] = `bytes ${start}-${end - 1}/${file.size}`
  const status = range.kind === 'partial' ? 206 : 200
  if (head || end === start || file.open === undefined) {
    res.writeHead(status, headers)
    res.end()
    return
  }
  const stream = file.open(start, end)
  try {
    await firstWindow(stream)
  } catch (e) {
    stream.destroy()
    throw e
  }
  res.writeHead(status, headers)
  try {
    await pipeline(stream, res)
  } catch (e) {
    // A damaged chunk past the first window, or the client went away: pipeline has destroyed both ends, so
    // the client sees the connection end before Content-Length bytes. The damage is passed on to be logged.
    if (isVgerError(e)) throw e
  }
}

/** A URL path for a title: decoded where it is UTF-8, as sent where not. */
function decodeURIComponentSafe(p: string): string {
  try {
    return decodeURIComponent(p)
  } catch {
    return p
  }
}

const PAGE_HEAD = `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<style>body{font:14px system-ui,sans-serif;margin:1.5em}td{padding:.15em 1em .15em 0}td.n{text-align:right}a{text-decoration:none}</style>`

function sizeText(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i += 1
  }
  return `${v.toFixed(1)} ${units[i]}`
}

/** A directory (or the snapshots) as an HTML page of links, streamed like a PROPFIND listing. */
export async function getDirectory(r: MountRequest, dir: Resource, head: boolean): Promise<void> {
  const { res } = r
  const headers = {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-cache',
    'content-security-policy': "sandbox; default-src 'none'",
    'x-content-type-options': 'nosniff',
  }
  if (head) {
    res.writeHead(200, headers)
    res.end()
    return
  }
  const members = children(r.fs, dir)
  let next = await members.next()
  res.writeHead(200, headers)
  const out = new BodyWriter(res)
  const title = dir.urlPath === '/' ? `${r.name}: snapshots` : `${r.name}: ${decodeURIComponentSafe(dir.urlPath)}`
  try {
    await out.write(`${PAGE_HEAD}<title>${escapeMarkup(title)}</title><h1>${escapeMarkup(title)}</h1><table>\n`)
    if (dir.urlPath !== '/') await out.write(`<tr><td><a href="${escapeMarkup(r.base + parentUrlPath(dir.urlPath))}">../</a></td></tr>\n`)
    while (next.done !== true) {
      const c = next.value
      const when = new Date(c.modifiedMs)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC')
      const cells =
        dir.urlPath === '/'
          ? `<td>${escapeMarkup(c.displayName)}</td>`
          : `<td class="n">${c.collection ? '' : sizeText(c.size)}</td><td>${when}</td>`
      await out.write(
        `<tr><td><a href="${escapeMarkup(r.base + c.urlPath)}">${escapeMarkup(c.name)}${c.collection ? '/' : ''}</a></td>${cells}</tr>\n`,
      )
      next = await members.next()
    }
    await out.end('</table>\n')
  } catch (e) {
    if (e instanceof ClientGone) return
    throw e
  }
}
