/**
 * What an `append` token cannot do (docs/server.md section 7, the bypass catalogue), tried over raw HTTP against a
 * real `vger server` on 127.0.0.1: every entry is refused with its documented status and code, and the stored
 * objects are unchanged afterwards. Also: missing and unknown tokens, a `read` token, the quota under concurrent
 * uploads, truncated and stalled uploads, malformed requests (the server keeps answering), ranges, and the lock
 * owners surviving a restart.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { ensureBuilt } from '../helpers/run-cli.js'
import {
  type Answer,
  type RequestOptions,
  type ServerSpec,
  type TestServer,
  hex,
  newToken,
  rawExchange,
  rawStatus,
  request,
  sha256,
  startServer,
} from '../helpers/server.js'
import { tempDir } from '../helpers/temp-dir.js'

const FULL = newToken()
const A1 = newToken()
const A2 = newToken()
const READ = newToken()
/** BLAKE3 of no bytes: the one pack id a test can write without a BLAKE3 of its own. */
const EMPTY_PACK = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'

const SPEC: ServerSpec = {
  repositories: { alpha: {}, beta: {}, q: { quota: 5500 } },
  tokens: {
    [FULL]: { alpha: 'full', beta: 'full', q: 'full' },
    [A1]: { alpha: 'append', q: 'append' },
    [A2]: { alpha: 'append' },
    [READ]: { alpha: 'read' },
  },
  extra: ['client_timeout: 2'],
}

/** Every file under `dir`, with its bytes (symlinks as their target). */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      const r = rel === '' ? e.name : `${rel}/${e.name}`
      if (e.isDirectory()) walk(p, r)
      else if (e.isSymbolicLink()) out[r] = `-> ${p}`
      else out[r] = readFileSync(p).toString('hex')
    }
  }
  walk(dir, '')
  return out
}

describe.skipIf(!addonBuilt)(`vger server: the append-only rules${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  let srv: TestServer
  let dir: string
  const alphaDir = (): string => path.join(dir, 'repos', 'alpha')
  const call = (urlPath: string, opts: RequestOptions = {}): Promise<Answer> => request(srv.base, urlPath, opts)
  const put = (repo: string, key: string, body: Buffer | string, token: string, headers: Record<string, string> = {}): Promise<Answer> =>
    call(`/${repo}/${key}`, { method: 'PUT', token, body, headers })
  const refused = (a: Answer, status: number, code: string): void => {
    expect({ status: a.status, code: a.json?.code }).toEqual({ status, code })
    expect(a.headers['content-type']).toBe('application/json')
    expect(typeof a.json?.message).toBe('string')
  }
  /** Raw request text: a client library would refuse or rewrite some of these paths. */
  const raw = (method: string, target: string, token: string, body = ''): string =>
    `${method} ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  const rawJson = (answer: string): { code?: string } => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { code?: string }

  const seeded: Record<string, Buffer> = {}
  const seed = {
    config: 'config',
    key: `keys/${hex(8)}`,
    snapshot: `snapshots/${hex(32)}`,
    index: `index/${hex(32)}`,
    pending: `pending/${hex(16)}`,
    pack: `packs/af/${EMPTY_PACK}`,
    fullLock: `locks/${hex(16)}`,
  }
  const a2Lock = `locks/${hex(16)}`

  beforeAll(async () => {
    ensureBuilt()
    dir = tempDir('vger-server-')
    srv = await startServer(dir, SPEC)
    expect((await call('/alpha/?init', { method: 'POST', token: FULL })).status).toBe(204)
    for (const key of Object.values(seed)) {
      const body = key.startsWith('packs/') ? Buffer.alloc(0) : randomBytes(key.startsWith('locks/') ? 200 : 3000)
      seeded[key] = body
      expect((await put('alpha', key, body, FULL)).status, key).toBe(201)
    }
    expect((await put('alpha', a2Lock, 'lock of A2', A2)).status).toBe(201)
    expect((await put('beta', 'config', 'beta config', FULL)).status).toBe(201)
  })

  afterAll(async () => {
    await srv?.stop()
  })

  const intact = async (): Promise<void> => {
    for (const [key, body] of Object.entries(seeded)) {
      const a = await call(`/alpha/${key}`, { token: FULL })
      expect(a.status, key).toBe(200)
      expect(a.body.equals(body), key).toBe(true)
    }
  }

  it('asks for a token: none or an unknown one is 401 with WWW-Authenticate; /health needs none', async () => {
    expect((await call('/health')).json).toMatchObject({ status: 'ok' })
    const headerSets: Record<string, string>[] = [
      {},
      { Authorization: `Bearer ${newToken()}` },
      { Authorization: `Basic ${A1}` },
      { Authorization: 'Bearer' },
    ]
    for (const headers of headerSets) {
      for (const [p, method] of [
        ['/alpha/config', 'GET'],
        ['/alpha/?list', 'GET'],
        [`/alpha/${seed.snapshot}`, 'DELETE'],
        ['/metrics', 'GET'],
      ] as const) {
        const a = await call(p, { method, headers })
        refused(a, 401, 'VGER_SERVER_UNAUTHORIZED')
        expect(a.headers['www-authenticate']).toMatch(/^Bearer/)
      }
      refused(await put('alpha', `snapshots/${hex(32)}`, 'x', '', headers), 401, 'VGER_SERVER_UNAUTHORIZED')
    }
    await intact()
  })

  it('a read token reads and lists, and cannot write or delete', async () => {
    expect((await call('/alpha/config', { token: READ })).status).toBe(200)
    expect((await call('/alpha/snapshots/?list', { token: READ })).json).toBeDefined()
    refused(await put('alpha', `snapshots/${hex(32)}`, 'x', READ), 403, 'VGER_SERVER_FORBIDDEN')
    refused(await put('alpha', `locks/${hex(16)}`, 'x', READ), 403, 'VGER_SERVER_FORBIDDEN')
    refused(await call(`/alpha/${seed.snapshot}`, { method: 'DELETE', token: READ }), 403, 'VGER_SERVER_FORBIDDEN')
    refused(await call('/alpha/?init', { method: 'POST', token: READ }), 403, 'VGER_SERVER_FORBIDDEN')
    await intact()
  })

  it('1. DELETE of anything but a lock this token created is 403; its own lock goes', async () => {
    for (const key of [...Object.values(seed), a2Lock]) {
      refused(await call(`/alpha/${key}`, { method: 'DELETE', token: A1 }), 403, 'VGER_SERVER_FORBIDDEN')
    }
    // A lock that does not exist is not A1's either.
    refused(await call(`/alpha/locks/${hex(16)}`, { method: 'DELETE', token: A1 }), 403, 'VGER_SERVER_FORBIDDEN')
    const own = `locks/${hex(16)}`
    expect((await put('alpha', own, 'mine', A1)).status).toBe(201)
    refused(await call(`/alpha/${own}`, { method: 'DELETE', token: A2 }), 403, 'VGER_SERVER_FORBIDDEN')
    expect((await call(`/alpha/${own}`, { method: 'DELETE', token: A1 })).status).toBe(204)
    expect((await call(`/alpha/${own}`, { token: A1 })).status).toBe(404)
    expect((await call(`/alpha/${a2Lock}`, { token: A1 })).status).toBe(200)
    await intact()
  })

  it('2. PUT over an existing object, with the same or other bytes, is 412', async () => {
    for (const [key, body] of Object.entries(seeded)) {
      refused(await put('alpha', key, body, A1), 412, 'VGER_SERVER_EXISTS')
      refused(await put('alpha', key, key.startsWith('packs/') ? '' : randomBytes(body.length), A1), 412, 'VGER_SERVER_EXISTS')
    }
    await intact()
  })

  it('3. no partial overwrite: Content-Range on PUT is 400, PATCH and POST on an object 405', async () => {
    const fresh = `snapshots/${hex(32)}`
    for (const key of [seed.snapshot, fresh]) {
      refused(await put('alpha', key, 'xx', A1, { 'Content-Range': 'bytes 0-1/3000' }), 400, 'VGER_SERVER_BAD_REQUEST')
      for (const method of ['PATCH', 'POST']) {
        const a = await call(`/alpha/${key}`, { method, token: A1, body: 'xx' })
        refused(a, 405, 'VGER_SERVER_METHOD')
        expect(a.headers.allow).toBe('GET, HEAD, PUT, DELETE')
      }
    }
    expect((await call(`/alpha/${fresh}`, { token: FULL })).status).toBe(404)
    await intact()
  })

  it('4. path tricks are 400 VGER_SERVER_BAD_KEY and reach nothing', async () => {
    const before = files(alphaDir())
    const id = hex(32)
    const tricks = [
      '/alpha/snapshots/../config',
      '/alpha/./config',
      '/alpha//config',
      '/alpha/%2e%2e/beta/config',
      '/alpha/%2E%2E/beta/config',
      `/alpha/snapshots%2F${id}`,
      `/alpha/snapshots%2f${id}`,
      '/alpha/config%00',
      '/alpha/%63onfig',
      `/alpha/snapshots\\${id}`,
      '/alpha/config/',
      `/alpha/${seed.snapshot.toUpperCase()}`,
      `/alpha/snapshots/${id.toUpperCase()}`,
      `/alpha/snapshots/.tmp.${hex(8)}`,
      `/alpha/data/${id}`,
      `/alpha/keys/${hex(8)}0`,
      `/alpha/packs/00/${EMPTY_PACK}`,
      `/alpha/packs/af/${EMPTY_PACK}/`,
      '/alpha/',
      '/alpha',
      `/ALPHA/${seed.snapshot}`,
    ]
    for (const target of tricks) {
      for (const [method, body] of [
        ['GET', ''],
        ['PUT', 'smuggled'],
        ['DELETE', ''],
      ] as const) {
        const answer = await rawExchange(srv.port, raw(method, target, A1, body))
        expect({ target, method, status: rawStatus(answer) }).toEqual({ target, method, status: 400 })
        expect(rawJson(answer).code, `${method} ${target}`).toBe('VGER_SERVER_BAD_KEY')
      }
    }
    expect(files(alphaDir())).toEqual(before)
    await intact()
  })

  it("5. another repository's objects: 403 by name (existing or not), 400 by path tricks", async () => {
    for (const target of ['/beta/config', `/beta/snapshots/${hex(32)}`, `/gamma/snapshots/${hex(32)}`]) {
      for (const opts of [{ method: 'GET' }, { method: 'PUT', body: 'x' }, { method: 'DELETE' }]) {
        refused(await call(target, { ...opts, token: A1 }), 403, 'VGER_SERVER_FORBIDDEN')
      }
    }
    refused(await call('/beta/?list', { token: A1 }), 403, 'VGER_SERVER_FORBIDDEN')
    for (const target of ['/alpha/../beta/config', '/alpha/%2e%2e/beta/config', '/alpha/..%2Fbeta/config']) {
      expect(rawStatus(await rawExchange(srv.port, raw('GET', target, A1)))).toBe(400)
    }
    expect((await call('/beta/config', { token: FULL })).body.toString()).toBe('beta config')
  })

  it('6. maintenance: ?init on a repository with objects, ?repack and method overrides are refused', async () => {
    refused(await call('/alpha/?init', { method: 'POST', token: A1 }), 403, 'VGER_SERVER_FORBIDDEN')
    refused(await call('/alpha/?repack', { method: 'POST', token: A1 }), 403, 'VGER_SERVER_FORBIDDEN')
    // The route itself is there for a full token (server-repack.test.ts): this empty request is only malformed.
    refused(await call('/alpha/?repack', { method: 'POST', token: FULL }), 400, 'VGER_SERVER_BAD_REQUEST')
    for (const header of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override']) {
      for (const method of ['POST', 'GET', 'PUT']) {
        const a = await call(`/alpha/${seed.snapshot}`, {
          method,
          token: A1,
          headers: { [header]: 'DELETE' },
          ...(method === 'GET' ? {} : { body: 'x' }),
        })
        refused(a, 400, 'VGER_SERVER_BAD_REQUEST')
      }
    }
    await intact()
  })

  it('7. a lock object above 4 KiB is refused', async () => {
    const big = `locks/${hex(16)}`
    refused(await put('alpha', big, randomBytes(4097), A1), 413, 'VGER_SERVER_TOO_LARGE')
    expect((await call(`/alpha/${big}`, { token: A1 })).status).toBe(404)
    const max = `locks/${hex(16)}`
    expect((await put('alpha', max, randomBytes(4096), A1)).status).toBe(201)
    expect((await call(`/alpha/${max}`, { method: 'DELETE', token: A1 })).status).toBe(204)
  })

  it('8. truncation: a PUT shorter than its Content-Length leaves no object, closed or stalled', async () => {
    const cut = `snapshots/${hex(32)}`
    const head = `PUT /alpha/${cut} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${A1}\r\nContent-Length: 1000\r\n\r\n`
    await rawExchange(srv.port, head + 'y'.repeat(500), { endAfterWrite: true, waitMs: 1000 })
    expect((await call(`/alpha/${cut}`, { token: FULL })).status).toBe(404)
    // A client that stops sending gets 408 after client_timeout (2 s here), and nothing is stored.
    const stalled = `snapshots/${hex(32)}`
    const t0 = Date.now()
    const answer = await rawExchange(srv.port, head.replace(cut, stalled) + 'y'.repeat(500), { waitMs: 8000 })
    expect(rawStatus(answer)).toBe(408)
    expect(rawJson(answer).code).toBe('VGER_SERVER_TIMEOUT')
    expect(Date.now() - t0).toBeLessThan(7000)
    expect((await call(`/alpha/${stalled}`, { token: FULL })).status).toBe(404)
    // The server counted neither against the repository.
    const files_ = Object.keys(files(alphaDir()))
    expect(files_.some((f) => f.includes('.tmp.'))).toBe(false)
  })

  it('9. a symlink in the store is never followed', async () => {
    const outside = tempDir('vger-outside-')
    writeFileSync(path.join(outside, 'secret'), 'outside the repository')
    const linked = `snapshots/${hex(32)}`
    symlinkSync(path.join(outside, 'secret'), path.join(alphaDir(), linked))
    const linkedDir = path.join(outside, 'packs')
    mkdirSync(linkedDir)
    const id = `cd${hex(31)}`
    writeFileSync(path.join(linkedDir, id), 'outside pack')
    symlinkSync(linkedDir, path.join(alphaDir(), 'packs', 'cd'))
    for (const token of [A1, FULL]) {
      refused(await call(`/alpha/${linked}`, { token }), 404, 'VGER_SERVER_NOT_FOUND')
      expect((await call(`/alpha/${linked}`, { method: 'HEAD', token })).status).toBe(404)
      refused(await call(`/alpha/packs/cd/${id}`, { token }), 404, 'VGER_SERVER_NOT_FOUND')
      refused(await put('alpha', `packs/cd/cd${hex(31)}`, 'into the link', token), 403, 'VGER_SERVER_FORBIDDEN')
    }
    refused(await call(`/alpha/${linked}`, { method: 'DELETE', token: FULL }), 403, 'VGER_SERVER_FORBIDDEN')
    refused(await call(`/alpha/packs/cd/${id}`, { method: 'DELETE', token: FULL }), 403, 'VGER_SERVER_FORBIDDEN')
    const listed = (await call('/alpha/?list', { token: A1 })).json as unknown as { key: string }[]
    expect(listed.map((o) => o.key)).not.toContain(linked)
    expect(listed.map((o) => o.key)).not.toContain(`packs/cd/${id}`)
    const verdict = await call('/alpha/?verify-packs', { method: 'POST', token: A1, body: JSON.stringify({ packs: [`packs/cd/${id}`] }) })
    expect(verdict.json).toEqual({ results: [{ key: `packs/cd/${id}`, ok: false, size: 0, error: 'missing' }] })
    expect(readdirSync(linkedDir)).toEqual([id])
    expect(readFileSync(path.join(outside, 'secret'), 'utf8')).toBe('outside the repository')
  })

  it('a pack must hash to its name; ?verify-packs checks stored packs', async () => {
    const bad = `packs/00/00${hex(31)}`
    refused(await put('alpha', bad, randomBytes(1000), A1), 400, 'VGER_SERVER_BAD_PACK')
    expect((await call(`/alpha/${bad}`, { token: FULL })).status).toBe(404)
    const v = await call('/alpha/?verify-packs', { method: 'POST', token: READ, body: JSON.stringify({ packs: [seed.pack, bad] }) })
    expect(v.json).toEqual({
      results: [
        { key: seed.pack, ok: true, size: 0, error: null },
        { key: bad, ok: false, size: 0, error: 'missing' },
      ],
    })
    refused(
      await call('/alpha/?verify-packs', { method: 'POST', token: READ, body: '{"packs":["config"]}' }),
      400,
      'VGER_SERVER_BAD_REQUEST',
    )
  })

  it('ranges: one range, cut to the end; 416 past the end; anything else 400', async () => {
    const body = seeded[seed.snapshot] as Buffer
    const r = await call(`/alpha/${seed.snapshot}`, { token: A1, headers: { Range: 'bytes=100-199' } })
    expect(r.status).toBe(206)
    expect(r.headers['content-range']).toBe(`bytes 100-199/${body.length}`)
    expect(r.body.equals(body.subarray(100, 200))).toBe(true)
    const tail = await call(`/alpha/${seed.snapshot}`, { token: A1, headers: { Range: `bytes=${body.length - 10}-${body.length + 50}` } })
    expect(tail.status).toBe(206)
    expect(tail.body.equals(body.subarray(body.length - 10))).toBe(true)
    const past = await call(`/alpha/${seed.snapshot}`, { token: A1, headers: { Range: `bytes=${body.length}-` } })
    refused(past, 416, 'VGER_SERVER_RANGE')
    expect(past.headers['content-range']).toBe(`bytes */${body.length}`)
    for (const range of ['bytes=0-1,5-6', 'bytes=-5', 'bytes=9-3', 'items=0-1', 'bytes=a-b']) {
      refused(await call(`/alpha/${seed.snapshot}`, { token: A1, headers: { Range: range } }), 400, 'VGER_SERVER_BAD_REQUEST')
    }
    const headAnswer = await call(`/alpha/${seed.snapshot}`, { method: 'HEAD', token: A1 })
    expect(headAnswer.headers['content-length']).toBe(String(body.length))
  })

  it('the quota holds exactly under 10 concurrent uploads', async () => {
    expect((await call('/q/?init', { method: 'POST', token: A1 })).status).toBe(204)
    const answers = await Promise.all(Array.from({ length: 10 }, () => put('q', `index/${hex(32)}`, randomBytes(1000), A1)))
    const statuses = answers.map((a) => a.status).sort()
    expect(statuses).toEqual([201, 201, 201, 201, 201, 413, 413, 413, 413, 413])
    for (const a of answers.filter((x) => x.status === 413)) expect(a.json?.code).toBe('VGER_SERVER_QUOTA')
    const stats = await call('/q/?stats', { token: A1 })
    expect(stats.json).toMatchObject({ objects: 5, bytes: 5000, quotaBytes: 5500 })
    const listed = (await call('/q/index/?list', { token: A1 })).json as unknown as { key: string }[]
    expect((await call(`/q/${listed[0]?.key}`, { method: 'DELETE', token: FULL })).status).toBe(204)
    expect((await put('q', `index/${hex(32)}`, randomBytes(1000), A1)).status).toBe(201)
    refused(await put('q', `index/${hex(32)}`, randomBytes(501), A1), 413, 'VGER_SERVER_QUOTA')
    expect((await put('q', `index/${hex(32)}`, randomBytes(500), A1)).status).toBe(201)
    // Full, yet a lock can still be taken (prune needs one): locks have a little room above the quota.
    const lock = `locks/${hex(16)}`
    expect((await put('q', lock, randomBytes(300), A1)).status).toBe(201)
    expect((await call(`/q/${lock}`, { method: 'DELETE', token: A1 })).status).toBe(204)
    refused(await put('q', `index/${hex(32)}`, 'x', A1), 413, 'VGER_SERVER_QUOTA')
    // A client that asks first (Expect: 100-continue) is refused before it sends its body.
    const asked = await rawExchange(
      srv.port,
      `PUT /q/index/${hex(32)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${A1}\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n`,
      { waitMs: 1000 },
    )
    expect(rawStatus(asked)).toBe(413)
    expect(asked).not.toContain('100 Continue')
    // ?init on a repository that now holds objects is refused to the append token.
    refused(await call('/q/?init', { method: 'POST', token: A1 }), 403, 'VGER_SERVER_FORBIDDEN')
  })

  it('never crashes on malformed input: each is refused, /health still answers', async () => {
    const inputs: (string | Buffer)[] = [
      'GARBAGE\r\n\r\n',
      Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]),
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]),
      'GET /alpha/config HTTP/9.9\r\n\r\n',
      `GET /alpha/config HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`,
      `PUT /alpha/snapshots/${hex(32)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${A1}\r\nContent-Length: abc\r\n\r\n`,
      `PUT /alpha/snapshots/${hex(32)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${A1}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `PUT /alpha/snapshots/${hex(32)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${A1}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello`,
      `GET /alpha/config HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${A1}\x00\r\n\r\n`,
      `GET http://evil/alpha/config HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${A1}\r\n\r\n`,
      `G\u00c9T /alpha/config HTTP/1.1\r\n\r\n`,
      `DELETE /alpha/${seed.snapshot} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${A1}\r\nContent-Length: 3\r\n\r\nabc`,
      `GET /alpha/config HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${A1}\r\nContent-Length: 3\r\n\r\nabc`,
    ]
    for (const input of inputs) {
      const answer = await rawExchange(srv.port, input, { waitMs: 2000 })
      const status = rawStatus(answer)
      expect(status === 0 || (status >= 400 && status < 500), `${status} for ${String(input).slice(0, 40)}`).toBe(true)
    }
    const chunked = await rawExchange(
      srv.port,
      `PUT /alpha/snapshots/${hex(32)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${A1}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    )
    expect(rawStatus(chunked)).toBe(411)
    expect((await call('/health')).status).toBe(200)
    expect(srv.alive()).toBe(true)
    await intact()
  })

  it('the owners of locks survive a restart', async () => {
    const mine = `locks/${hex(16)}`
    expect((await put('alpha', mine, 'A1 lock', A1)).status).toBe(201)
    const state = JSON.parse(readFileSync(path.join(dir, 'state', 'alpha.json'), 'utf8')) as { locks: Record<string, string> }
    expect(state.locks[mine]).toBe(sha256(A1))
    expect(state.locks[a2Lock]).toBe(sha256(A2))
    expect(await srv.stop()).toEqual({ code: 0, signal: null })
    srv = await startServer(dir)
    refused(await call(`/alpha/${mine}`, { method: 'DELETE', token: A2 }), 403, 'VGER_SERVER_FORBIDDEN')
    refused(await call(`/alpha/${a2Lock}`, { method: 'DELETE', token: A1 }), 403, 'VGER_SERVER_FORBIDDEN')
    expect((await call(`/alpha/${mine}`, { method: 'DELETE', token: A1 })).status).toBe(204)
    expect((await call(`/alpha/${a2Lock}`, { method: 'DELETE', token: A2 })).status).toBe(204)
    await intact()
    // The log never names a token, only the first 8 digits of its hash.
    for (const token of [FULL, A1, A2, READ]) expect(srv.log()).not.toContain(token)
  })
})
