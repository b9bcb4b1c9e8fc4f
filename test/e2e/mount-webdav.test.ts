/**
 * `vger mount` with real WebDAV clients (docs/mount.md): rclone lists and copies a snapshot byte for byte
 * (a name that is not UTF-8 included) and reads a range; cadaver lists and fetches; raw HTTP checks
 * PROPFIND, ranges, validators, refusals of writes and bad paths, a damaged pack, a client that goes away,
 * a snapshot deleted while mounted, and the token on an address that is not loopback.
 */
import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, ROOT, addonBuilt, isRoot } from '../helpers/addon.js'
import { type Mount, NON_UTF8, ODD_NAME, makeTree, request, run, snapshotOfTree, startMount } from '../helpers/mount.js'
import { ensureBuilt, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'correct horse battery staple'
/** Entries of `many/`: a listing this long must stream, not stall (VGER_MOUNT_MANY changes it). */
const MANY = Number(process.env.VGER_MOUNT_MANY ?? 100_000)
const BIG = randomBytes(3 << 20)

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** A repository of `data` with one backup per call of `backup`. */
function setup(fill: (data: string) => void, extraConfig = '') {
  const work = tempDir('vger-mount-')
  const data = path.join(work, 'data')
  mkdirSync(data)
  fill(data)
  const config = path.join(work, 'vger.yaml')
  writeFileSync(config, `repositories:\n  - url: ./repo\nsources:\n  - path: data\n${extraConfig}`)
  const env = { HOME: work, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' }
  const vger = (args: string[]) => runCli(['-c', config, ...args], { cwd: work, env })
  return { work, data, config, env, vger }
}

/** The snapshot directories the top level lists, from a Depth 1 PROPFIND. */
async function snapshotDirs(port: number, prefix = ''): Promise<string[]> {
  const r = await request(port, 'PROPFIND', `${prefix}/`, { depth: '1' })
  expect(r.status).toBe(207)
  return [...r.body.toString().matchAll(/<D:href>([^<]+)<\/D:href>/g)].map((m) => m[1]!).filter((h) => h !== `${prefix}/`)
}

describe.skipIf(!addonBuilt)(`vger mount over WebDAV${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  let t: ReturnType<typeof setup>
  let m: Mount
  let snap: string // "/2026-…_data_1a2b3c4d/"

  beforeAll(async () => {
    ensureBuilt()
    t = setup((data) => makeTree(data, BIG, MANY))
    expect((await t.vger(['init'])).code).toBe(0)
    const b = await t.vger(['backup'])
    expect(b.code, b.stderr).toBe(0)
    m = await startMount(t.config, t.env)
    ;[snap] = (await snapshotDirs(m.port)) as [string]
  }, 60_000)

  afterAll(async () => {
    if (m !== undefined) expect(await m.stop()).toBe(0)
  })

  it('rclone lists the tree and copies it byte for byte, the name that is not UTF-8 included', async () => {
    const lsf = await run('rclone', [
      '--config',
      '/dev/null',
      'lsf',
      '-R',
      '--exclude',
      '/many/**',
      `:webdav:${snap}`,
      '--webdav-url',
      m.url,
    ])
    expect(lsf.code, lsf.stderr).toBe(0)
    expect(lsf.stdout.split('\n').filter(Boolean).sort()).toContain('nested/a/b/deep.txt')
    const dest = path.join(t.work, 'copy')
    const cp = await run('rclone', [
      '--config',
      '/dev/null',
      'copy',
      '--exclude',
      '/many/**',
      `:webdav:${snap}`,
      dest,
      '--webdav-url',
      m.url,
    ])
    expect(cp.code, cp.stderr).toBe(0)
    const skipMany = (rel: string) => rel === 'many'
    const want = snapshotOfTree(Buffer.from(t.data), skipMany)
    const got = snapshotOfTree(Buffer.from(dest), skipMany)
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort())
    for (const [name, bytes] of want) expect(got.get(name)?.equals(bytes), name).toBe(true)
    expect(readdirSync(dest, { encoding: 'buffer' }).some((n) => n.equals(NON_UTF8))).toBe(true)
    expect(readFileSync(path.join(dest, 'link'), 'utf8')).toBe('nested/top.txt') // a symlink is served as its target
    expect(statSync(path.join(dest, 'empty')).size).toBe(0)
  })

  it('rclone cat --offset --count reads a range', async () => {
    const r = await run('rclone', [
      '--config',
      '/dev/null',
      'cat',
      '--offset',
      '1000000',
      '--count',
      '12345',
      `:webdav:${snap}big.bin`,
      '--webdav-url',
      m.url,
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(Buffer.from(r.stdout, 'latin1').length).toBeGreaterThan(0)
    const d = await run('sh', [
      '-c',
      `rclone --config /dev/null cat --offset 1000000 --count 12345 ':webdav:${snap}big.bin' --webdav-url '${m.url}' | od -An -tx1 | tr -d ' \\n'`,
    ])
    expect(d.stdout).toBe(BIG.subarray(1_000_000, 1_012_345).toString('hex'))
  })

  it(`lists a directory of ${MANY} entries as a streamed PROPFIND, with rclone too`, async () => {
    const started = performance.now()
    const r = await request(m.port, 'PROPFIND', `${snap}many/`, { depth: '1' })
    const ms = performance.now() - started
    expect(r.status).toBe(207)
    expect(r.headers['transfer-encoding']).toBe('chunked')
    expect(r.body.toString().match(/<D:response>/g)?.length).toBe(MANY + 1)
    expect(ms).toBeLessThan(10_000)
    const lsf = await run('rclone', ['--config', '/dev/null', 'lsf', `:webdav:${snap}many/`, '--webdav-url', m.url])
    expect(lsf.stdout.split('\n').filter(Boolean).length).toBe(MANY)
  })

  it('PROPFIND: depth 0 and 1 with the properties, escaped names and exact hrefs; infinity refused', async () => {
    const top = await request(m.port, 'PROPFIND', '/', { depth: '1' })
    expect(top.body.toString()).toMatch(/<D:displayname>data @ [^<]+ UTC<\/D:displayname>/)
    const zero = await request(
      m.port,
      'PROPFIND',
      `${snap}big.bin`,
      { depth: '0' },
      '<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>',
    )
    expect(zero.status).toBe(207)
    const x = zero.body.toString()
    expect(x.match(/<D:response>/g)?.length).toBe(1)
    expect(x).toContain(`<D:href>${snap}big.bin</D:href>`)
    expect(x).toContain(`<D:getcontentlength>${BIG.length}</D:getcontentlength>`)
    expect(x).toMatch(/<D:getlastmodified>\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT<\/D:getlastmodified>/)
    expect(x).toMatch(/<D:getetag>"[0-9a-f]+"<\/D:getetag>/)
    expect(x).toContain('<D:resourcetype/>')
    const one = (await request(m.port, 'PROPFIND', snap, { depth: '1' })).body.toString()
    expect(one).toContain(`<D:href>${snap}caf%E9-%FF.bin</D:href>`)
    expect(one).toContain('<D:displayname>caf\\xe9-\\xff.bin</D:displayname>')
    expect(one).toContain(`<D:href>${snap}sp%20ace%20100%25%20%231%20%3F.txt</D:href>`)
    expect(one).toContain(`<D:href>${snap}nested/</D:href>`)
    expect(one).toContain('<D:resourcetype><D:collection/></D:resourcetype>')
    for (const depth of ['infinity', undefined]) {
      const r = await request(m.port, 'PROPFIND', snap, depth === undefined ? {} : { depth })
      expect(r.status).toBe(403)
      expect(r.body.toString()).toContain('propfind-finite-depth')
    }
  })

  it('GET and HEAD: ranges, 416, validators, 304, If-Range', async () => {
    const file = `${snap}big.bin`
    const full = await request(m.port, 'GET', file)
    expect(full.status).toBe(200)
    expect(full.body.equals(BIG)).toBe(true)
    expect(full.headers['accept-ranges']).toBe('bytes')
    // Backed-up bytes never run as a page of the server's origin (the web UI's).
    expect(full.headers['content-security-policy']).toBe('sandbox')
    expect(full.headers['x-content-type-options']).toBe('nosniff')
    const etag = full.headers.etag!
    const lastModified = full.headers['last-modified']!
    expect(etag).toMatch(/^"[0-9a-f]+"$/)
    const head = await request(m.port, 'HEAD', file)
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, String(BIG.length), 0])
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 1],
      ['bytes=100-199', 100, 200],
      ['bytes=-500', BIG.length - 500, BIG.length],
      ['bytes=3000000-', 3_000_000, BIG.length],
      [`bytes=${BIG.length - 10}-${BIG.length + 1000}`, BIG.length - 10, BIG.length],
    ]
    for (const [range, start, end] of cases) {
      const r = await request(m.port, 'GET', file, { range })
      expect(r.status, range).toBe(206)
      expect(r.headers['content-range']).toBe(`bytes ${start}-${end - 1}/${BIG.length}`)
      expect(r.body.equals(BIG.subarray(start, end)), range).toBe(true)
    }
    const bad = await request(m.port, 'GET', file, { range: `bytes=${BIG.length}-` })
    expect([bad.status, bad.headers['content-range']]).toEqual([416, `bytes */${BIG.length}`])
    expect((await request(m.port, 'GET', `${snap}empty`, { range: 'bytes=0-' })).status).toBe(416)
    expect((await request(m.port, 'GET', `${snap}empty`)).status).toBe(200)
    expect((await request(m.port, 'GET', file, { 'if-none-match': etag })).status).toBe(304)
    expect((await request(m.port, 'HEAD', file, { 'if-modified-since': lastModified })).status).toBe(304)
    expect((await request(m.port, 'GET', file, { 'if-none-match': '"other"', range: 'bytes=0-9' })).status).toBe(206)
    expect((await request(m.port, 'GET', file, { 'if-range': etag, range: 'bytes=0-9' })).status).toBe(206)
    const stale = await request(m.port, 'GET', file, { 'if-range': '"stale"', range: 'bytes=0-9' })
    expect([stale.status, stale.body.length]).toEqual([200, BIG.length])
    const odd = await request(m.port, 'GET', `${snap}sp%20ace%20100%25%20%231%20%3F.txt`)
    expect(odd.body.toString()).toBe('odd\n')
    expect(ODD_NAME).toContain('#')
    const html = await request(m.port, 'GET', snap)
    expect(html.headers['content-type']).toContain('text/html')
    expect(html.body.toString()).toContain(`<a href="${snap}caf%E9-%FF.bin">caf\\xe9-\\xff.bin</a>`)
    // The CLI runs from its bundle (dist/vger-cli.mjs), which finds the built UI beside it.
    const page = await request(m.port, 'GET', '/ui/')
    expect([page.status, page.headers['content-type']]).toEqual([200, 'text/html; charset=utf-8'])
    expect(page.body.toString()).toContain('<base href="/ui/"')
    const style = await request(m.port, 'GET', '/ui/assets/style.css')
    expect([style.status, style.body.length > 0]).toEqual([200, true])
  })

  it('OPTIONS says DAV 1 and read methods; writes are 405; bad paths are 400, missing ones 404', async () => {
    const o = await request(m.port, 'OPTIONS', '/')
    expect([o.status, o.headers.dav, o.headers.allow]).toEqual([200, '1', 'OPTIONS, GET, HEAD, PROPFIND'])
    for (const method of ['PUT', 'DELETE', 'MKCOL', 'MOVE', 'COPY', 'PROPPATCH', 'LOCK', 'UNLOCK', 'POST']) {
      const r = await request(m.port, method, `${snap}big.bin`, {}, method === 'PUT' ? 'x'.repeat(1000) : undefined)
      expect([method, r.status, r.headers.allow]).toEqual([method, 405, 'OPTIONS, GET, HEAD, PROPFIND'])
    }
    const long = 'a'.repeat(4097)
    for (const p of [`${snap}../${snap}big.bin`, `/..`, `${snap}nested%2Ftop.txt`, `${snap}x%00y`, `${snap}${long}`, `${snap}%zz`]) {
      expect([p.slice(0, 60), (await request(m.port, 'GET', p)).status]).toEqual([p.slice(0, 60), 400])
    }
    expect((await request(m.port, 'GET', `${snap}nope.txt`)).status).toBe(404)
    expect((await request(m.port, 'GET', '/2020-01-01T00-00-00Z_x_00000000/')).status).toBe(404)
    expect((await request(m.port, 'PROPFIND', `${snap}${'b'.repeat(4096)}`, { depth: '0' })).status).toBe(404)
  })

  it('answers only loopback Host names on a loopback address (421)', async () => {
    expect((await request(m.port, 'GET', '/', { host: 'attacker.example:8318' })).status).toBe(421)
    expect((await request(m.port, 'GET', '/', { host: `localhost:${m.port}` })).status).toBe(200)
  })

  it('a client that goes away mid-file does not disturb the others', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: m.port, path: `${snap}big.bin`, agent: false }, (res) => {
        res.once('data', () => {
          req.destroy()
          resolve()
        })
      })
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(e)))
    })
    const again = await request(m.port, 'GET', `${snap}big.bin`)
    expect(again.body.equals(BIG)).toBe(true)
    expect(m.stderr()).not.toMatch(/error/i)
  })

  it.skipIf(!isRoot && !hasCommand('cadaver'))('cadaver lists and fetches a file', async () => {
    const which = await run('sh', [path.join(ROOT, 'scripts', 'peers', 'cadaver.sh')])
    expect(which.code, which.stderr).toBe(0)
    const dir = path.join(t.work, 'cadaver')
    mkdirSync(dir)
    const r = await run('cadaver', [m.url], { cwd: dir, input: `ls\ncd ${snap}\nls\nget big.bin got.bin\nquit\n` })
    expect(r.stdout).toContain(snap.slice(1, -1))
    expect(r.stdout).toMatch(/big\.bin\s+3145728/)
    expect(readFileSync(path.join(dir, 'got.bin')).equals(BIG)).toBe(true)
  })
})

describe.skipIf(!addonBuilt)('vger mount: damage, deletion and the token', () => {
  it('a damaged pack: 500 before the first byte, a short body after it, never wrong bytes; a deleted snapshot becomes 404', async () => {
    ensureBuilt()
    const a = randomBytes(3 << 20)
    const c = Buffer.concat([a, randomBytes(2 << 20)])
    // Small chunks: c.bin (a.bin and 2 MiB more) shares all but a.bin's last chunk, and its new chunks go to
    // the second backup's pack, which is damaged below; c.bin's first megabyte stays readable.
    const chunker = 'chunker:\n  min_size: 64KiB\n  avg_size: 128KiB\n  max_size: 256KiB\n'
    const t = setup((data) => writeFileSync(path.join(data, 'a.bin'), a), chunker)
    const packs = path.join(t.work, 'repo', 'packs')
    const packFiles = () =>
      readdirSync(packs, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.join(e.parentPath, e.name))
    expect((await t.vger(['init'])).code).toBe(0)
    expect((await t.vger(['backup'])).code).toBe(0)
    const before = new Set(packFiles())
    writeFileSync(path.join(t.data, 'c.bin'), c)
    expect((await t.vger(['backup'])).code).toBe(0)
    const m = await startMount(t.config, t.env)
    try {
      const [first, second] = (await snapshotDirs(m.port)) as [string, string]
      expect((await request(m.port, 'HEAD', `${second}c.bin`)).status).toBe(200)
      const fresh = packFiles().filter((p) => !before.has(p) && statSync(p).size >= 1 << 20) // data, not trees
      expect(fresh.length).toBeGreaterThan(0)
      for (const p of fresh) {
        const bytes = readFileSync(p)
        for (let at = 64; at < bytes.length; at += 4096) bytes[at] = (bytes[at] as number) ^ 0xff
        writeFileSync(p, bytes)
      }
      const late = await request(m.port, 'GET', `${second}c.bin`)
      expect([late.status, late.truncated]).toEqual([200, true])
      expect(late.body.length).toBeGreaterThanOrEqual(1 << 20)
      expect(late.body.length).toBeLessThan(c.length)
      expect(late.body.equals(c.subarray(0, late.body.length))).toBe(true)
      const early = await request(m.port, 'GET', `${second}c.bin`, { range: `bytes=${4 << 20}-` })
      expect(early.status).toBe(500)
      expect(early.body.toString()).toContain('VGER_CORRUPT')
      // Both are logged (stderr arrives on its own pipe, so give it a moment).
      const logged = () => m.stderr().match(/is damaged.*\[VGER_CORRUPT\]/g)?.length ?? 0
      for (let i = 0; i < 50 && logged() < 2; i++) await new Promise((resolve) => setTimeout(resolve, 100))
      expect(logged()).toBe(2)
      expect((await request(m.port, 'GET', `${first}a.bin`)).body.equals(a)).toBe(true)

      const del = await t.vger(['snapshot', 'delete', second.slice(-9, -1)])
      expect(del.code, del.stderr).toBe(0)
      await new Promise((resolve) => setTimeout(resolve, 5500)) // the listing is reused for 5 s
      expect((await request(m.port, 'PROPFIND', second, { depth: '0' })).status).toBe(404)
      expect(await snapshotDirs(m.port)).toEqual([first])
    } finally {
      expect(await m.stop()).toBe(0)
    }
  }, 60_000)

  it('one snapshot; on an address that is not loopback every request needs the token (in the path or as basic auth)', async () => {
    const t = setup((data) => writeFileSync(path.join(data, 'a.txt'), 'a\n'))
    expect((await t.vger(['init'])).code).toBe(0)
    expect((await t.vger(['backup'])).code).toBe(0)
    writeFileSync(path.join(t.data, 'b.txt'), 'b\n')
    expect((await t.vger(['backup'])).code).toBe(0)
    // Only the newest of the two snapshots.
    const m = await startMount(t.config, t.env, ['latest', '--listen', '0.0.0.0:0', '--json'])
    try {
      expect(m.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/t\/[A-Za-z0-9_-]+\/$/)
      const token = /\/t\/([A-Za-z0-9_-]+)\/$/.exec(m.url)?.[1]
      expect(token).toBeDefined()
      expect((await request(m.port, 'PROPFIND', '/', { depth: '1' })).status).toBe(401)
      expect((await request(m.port, 'GET', '/t/wrong-token/')).status).toBe(401)
      const dirs = await snapshotDirs(m.port, `/t/${token}`)
      expect(dirs.length).toBe(1)
      const [snap] = dirs as [string]
      expect((await request(m.port, 'GET', `${snap}b.txt`)).body.toString()).toBe('b\n')
      expect(snap.startsWith(`/t/${token}/`)).toBe(true)
      expect((await request(m.port, 'GET', `${snap}a.txt`)).body.toString()).toBe('a\n')
      const basic = `Basic ${Buffer.from(`any:${token}`).toString('base64')}`
      const viaAuth = await request(m.port, 'GET', `${snap.slice(`/t/${token}`.length)}a.txt`, { authorization: basic })
      expect([viaAuth.status, viaAuth.body.toString()]).toEqual([200, 'a\n'])
      const lsf = await run('rclone', [
        '--config',
        '/dev/null',
        'lsf',
        '-R',
        ':webdav:',
        '--webdav-url',
        `http://127.0.0.1:${m.port}/t/${token}/`,
      ])
      expect(lsf.stdout).toContain('a.txt')
    } finally {
      expect(await m.stop()).toBe(0)
    }
  }, 30_000)
})
