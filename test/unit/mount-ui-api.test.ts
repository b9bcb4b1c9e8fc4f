/**
 * The web UI's API without a repository: parameter validation, byte ranges, download names, restore
 * patterns and the same-origin rule of POST /api/restore (docs/ui.md). The front end's copy of the JSON
 * types must agree with the server's: the assignments at the bottom fail to compile when they drift.
 */
import type http from 'node:http'
import { describe, expect, it } from 'vitest'
import type * as server from '../../ts/mount/api/types.js'
import type * as client from '../../ui/src/api-types.js'
import { contentDisposition, contentTypeOf, parseRange } from '../../ts/mount/api/browse.js'
import { ApiError, Query, errorResponse, parseSnapshotPath } from '../../ts/mount/api/http.js'
import { parseRestoreRequest, patternFor, sameOrigin } from '../../ts/mount/api/restore.js'
import { VgerError } from '../../ts/errors.js'

const refused = (run: () => unknown): { status: number; code: string } => {
  try {
    run()
  } catch (e) {
    if (e instanceof ApiError) return { status: e.status, code: e.code }
    throw e
  }
  throw new Error('not refused')
}

describe('query parameters', () => {
  it('reads each once, and checks numbers, flags and choices', () => {
    const q = new Query('/api/dir?snapshot=s&offset=10&limit=x&download=1&sort=size&twice=1&twice=2')
    expect(q.required('snapshot')).toBe('s')
    expect(q.integer('offset', 0, 0, 100)).toBe(10)
    expect(refused(() => q.integer('limit', 5, 1, 10)).status).toBe(400)
    expect(q.integer('missing', 7, 0, 10)).toBe(7)
    expect(q.flag('download')).toBe(true)
    expect(q.oneOf('sort', ['name', 'size'] as const, 'name')).toBe('size')
    expect(refused(() => q.oneOf('snapshot', ['a'] as const, 'a')).status).toBe(400)
    expect(refused(() => q.optional('twice')).status).toBe(400)
    expect(refused(() => q.required('absent')).status).toBe(400)
    expect(refused(() => new Query('/x?n=%00').optional('n')).status).toBe(400)
  })
})

describe('snapshot paths', () => {
  it('accepts escaped paths and refuses dot segments and bad escapes', () => {
    expect(parseSnapshotPath(undefined)).toBe('')
    expect(parseSnapshotPath('/')).toBe('')
    expect(parseSnapshotPath('/etc/hosts/')).toBe('etc/hosts')
    expect(parseSnapshotPath('a\\xffb/c\\\\d')).toBe('a\\xffb/c\\\\d')
    for (const bad of ['a//b', 'a/../b', './a', 'a\\q', 'a\\x4']) expect(refused(() => parseSnapshotPath(bad)).status).toBe(400)
  })
})

describe('files', () => {
  it('parses one byte range against the size', () => {
    expect(parseRange(undefined, 10)).toBeUndefined()
    expect(parseRange('bytes=0-3', 10)).toEqual({ start: 0, end: 4 })
    expect(parseRange('bytes=4-', 10)).toEqual({ start: 4, end: 10 })
    expect(parseRange('bytes=-3', 10)).toEqual({ start: 7, end: 10 })
    expect(parseRange('bytes=0-999', 10)).toEqual({ start: 0, end: 10 })
    expect(parseRange('bytes=10-', 10)).toBeNull()
    expect(parseRange('bytes=0-1,3-4', 10)).toBeUndefined()
  })

  it('names downloads exactly (RFC 5987) with an ASCII fallback', () => {
    expect(contentDisposition('report "final".pdf')).toBe(
      `attachment; filename="report _final_.pdf"; filename*=UTF-8''report%20%22final%22.pdf`,
    )
    expect(contentDisposition('caf\u00e9\\xff.txt', 'inline')).toBe(`inline; filename="caf___.txt"; filename*=UTF-8''caf%C3%A9%FF.txt`)
  })

  it('never serves backed-up HTML as HTML', () => {
    expect(contentTypeOf('index.html')).toMatch(/^text\/plain/)
    expect(contentTypeOf('a.PNG')).toBe('image/png')
    expect(contentTypeOf('noext')).toBe('application/octet-stream')
  })
})

describe('restore requests', () => {
  const ok = { snapshot: 's', paths: ['a/b', 'a/b', 'c'], dest: '/tmp/x/../y' }

  it('checks every field', () => {
    expect(parseRestoreRequest(JSON.stringify(ok))).toEqual({ snapshot: 's', paths: ['a/b', 'c'], dest: '/tmp/y' })
    for (const bad of [
      'not json',
      '[]',
      JSON.stringify({ ...ok, snapshot: 1 }),
      JSON.stringify({ ...ok, paths: 'a' }),
      JSON.stringify({ ...ok, paths: [1] }),
      JSON.stringify({ ...ok, paths: ['a/../b'] }),
      JSON.stringify({ ...ok, paths: ['/'] }),
      JSON.stringify({ ...ok, dest: 'relative/dir' }),
      JSON.stringify({ ...ok, dest: '' }),
    ]) {
      expect(refused(() => parseRestoreRequest(bad)).status, bad).toBe(400)
    }
  })

  it('turns a path into a pattern that matches it alone', () => {
    expect(patternFor('docs/a*b?[c]{d}.txt')).toBe('docs/a\\*b\\?\\[c\\]\\{d\\}.txt')
    expect(patternFor('back\\\\slash')).toBe('back\\\\slash')
    expect(patternFor('bad\\xffname')).toBe('bad\uFFFDname')
  })

  it('refuses requests from another origin', () => {
    const req = (headers: Record<string, string>) =>
      ({ headers: { host: '127.0.0.1:8080', ...headers } }) as unknown as http.IncomingMessage
    expect(sameOrigin(req({}))).toBe(true)
    expect(sameOrigin(req({ origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin' }))).toBe(true)
    expect(sameOrigin(req({ origin: 'http://evil.example' }))).toBe(false)
    expect(sameOrigin(req({ origin: 'null' }))).toBe(false)
    expect(sameOrigin(req({ 'sec-fetch-site': 'cross-site' }))).toBe(false)
  })
})

describe('errors', () => {
  it('maps engine codes to statuses and never sends a stack', () => {
    expect(errorResponse(new VgerError('VGER_DEST_NOT_EMPTY', 'not empty'))).toEqual({
      status: 409,
      body: { code: 'VGER_DEST_NOT_EMPTY', message: 'not empty' },
    })
    expect(errorResponse(new VgerError('VGER_SNAPSHOT_NOT_FOUND', 'x')).status).toBe(404)
    const internal = errorResponse(new Error('boom'))
    expect(internal).toEqual({ status: 500, body: { code: 'VGER_INTERNAL', message: 'boom' } })
  })
})

// Compile-time: the front end's types and the server's are the same shapes, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const agree: [
  Same<server.SnapshotsResponse, client.SnapshotsResponse>,
  Same<server.DirResponse, client.DirResponse>,
  Same<server.EntryJson, client.EntryJson>,
  Same<server.FindResponse, client.FindResponse>,
  Same<server.DiffResponse, client.DiffResponse>,
  Same<server.RestoreRequest, client.RestoreRequest>,
  Same<server.RestoreResponse, client.RestoreResponse>,
  Same<server.ApiError, client.ApiError>,
] = [true, true, true, true, true, true, true, true]
void agree
