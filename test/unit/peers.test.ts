/**
 * The test peers (moto for S3, sshd for SFTP) start on a fresh Linux machine and really serve; the fault proxy
 * passes, drops, resets and stalls connections as its seed says.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFaultProxy, type FaultOutcome, type FaultProxyOptions } from '../helpers/fault-proxy.js'
import { PEER_START_TIMEOUT_MS, peersAvailable, startS3, startSftp, type S3Peer, type SftpPeer } from '../helpers/peers.js'
import { tempDir } from '../helpers/temp-dir.js'

const linux = process.platform === 'linux'
const NOT_LINUX = `test peers need Linux (this is ${process.platform})`

interface Run {
  code: number
  stdout: string
  stderr: string
}

function run(cmd: string, args: string[], timeout = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

describe.skipIf(!linux)(`S3 peer (moto)${linux ? '' : ` — skipped: ${NOT_LINUX}`}`, () => {
  let s3: S3Peer
  const dir = tempDir()

  beforeAll(async () => {
    expect(peersAvailable().s3).toBeUndefined()
    s3 = await startS3()
  }, PEER_START_TIMEOUT_MS)
  afterAll(() => s3?.stop())

  /** curl signing with SigV4; Content-Type is set because moto swallows curl's default form-encoded body. */
  const curl = (args: string[], endpoint = s3.endpoint): Promise<Run> =>
    run('curl', [
      '-sS',
      '--aws-sigv4',
      `aws:amz:${s3.region}:s3`,
      '--user',
      `${s3.accessKey}:${s3.secretKey}`,
      '-H',
      'Content-Type: application/octet-stream',
      ...args.map((a) => a.replace('{url}', `${endpoint}/${s3.bucket}`)),
    ])
  const put = async (key: string, body: Buffer, headers: string[] = []): Promise<string> => {
    const file = path.join(dir, 'body')
    writeFileSync(file, body)
    const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', ...headers, '--data-binary', `@${file}`, `{url}/${key}`])
    expect(r.stderr).toBe('')
    return r.stdout
  }

  it('writes env values the backends can use', () => {
    expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(s3.env).toMatchObject({ VGER_TEST_S3_BUCKET: 'vger-test', VGER_TEST_S3_REGION: 'us-east-1', VGER_TEST_S3_KEY: 'test' })
    expect(s3.env.VGER_TEST_S3_SECRET).toBe('testsecret')
  })

  it('stores and returns objects, refuses If-None-Match:* over an existing key, and pages ListObjectsV2', async () => {
    const bodies = [randomBytes(70_000), randomBytes(10), Buffer.alloc(0)]
    for (const [i, body] of bodies.entries()) expect(await put(`t/obj-${i}`, body)).toBe('200')

    const out = path.join(dir, 'out')
    expect((await curl(['-f', '-o', out, '{url}/t/obj-0'])).code).toBe(0)
    expect(readFileSync(out).equals(bodies[0]!)).toBe(true)

    expect(await put('t/obj-0', Buffer.from('overwrite?'), ['-H', 'If-None-Match: *'])).toBe('412')
    expect(await put('t/new', Buffer.from('first'), ['-H', 'If-None-Match: *'])).toBe('200')
    expect((await curl(['-f', '-o', out, '{url}/t/obj-0'])).code).toBe(0)
    expect(readFileSync(out).equals(bodies[0]!)).toBe(true)

    const keys = (xml: string): string[] => [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]!)
    const page1 = await curl(['-f', '{url}?list-type=2&max-keys=2&prefix=t/'])
    expect(page1.code).toBe(0)
    expect(page1.stdout).toContain('<IsTruncated>true</IsTruncated>')
    expect(keys(page1.stdout)).toEqual(['t/new', 't/obj-0'])
    const token = /<NextContinuationToken>([^<]*)</.exec(page1.stdout)?.[1]
    expect(token).toBeTruthy()
    const page2 = await curl([
      '-f',
      '-G',
      '{url}',
      '-d',
      'list-type=2',
      '-d',
      'max-keys=2',
      '-d',
      'prefix=t/',
      '--data-urlencode',
      `continuation-token=${token}`,
    ])
    expect(page2.code).toBe(0)
    expect(page2.stdout).toContain('<IsTruncated>false</IsTruncated>')
    expect(keys(page2.stdout)).toEqual(['t/obj-1', 't/obj-2'])
  })

  it('works through the fault proxy, and a reset shows as a connection error', async () => {
    const port = Number(new URL(s3.endpoint).port)
    const clean = await startFaultProxy({ targetPort: port, seed: 1 })
    const resetting = await startFaultProxy({ targetPort: port, resetRate: 1, resetBytes: [10, 10], seed: 1 })
    try {
      const out = path.join(dir, 'via-proxy')
      expect(await put('t/proxied', Buffer.from('through the proxy'))).toBe('200')
      const ok = await curl(['-f', '-o', out, '{url}/t/proxied'], `http://127.0.0.1:${clean.port}`)
      expect(ok.code).toBe(0)
      expect(readFileSync(out, 'utf8')).toBe('through the proxy')
      const bad = await curl(['-f', '-o', out, '{url}/t/proxied'], `http://127.0.0.1:${resetting.port}`)
      expect(bad.code).not.toBe(0)
      expect(bad.stderr).toMatch(/reset|recv failure|empty reply/i)
      expect(clean.stats().pass).toBe(1)
      expect(resetting.stats().reset).toBe(1)
    } finally {
      await clean.close()
      await resetting.close()
    }
  })
})

describe.skipIf(!linux)(`SFTP peer (sshd)${linux ? '' : ` — skipped: ${NOT_LINUX}`}`, () => {
  let sftp: SftpPeer
  const dir = tempDir()

  beforeAll(async () => {
    expect(peersAvailable().sftp).toBeUndefined()
    sftp = await startSftp()
  }, PEER_START_TIMEOUT_MS)
  afterAll(() => sftp?.stop())

  /** Runs an `sftp -b` batch; `viaPort` routes it through a proxy (the host key is still looked up for the real port). */
  const batch = (lines: string[], viaPort?: number): Promise<Run> => {
    const file = path.join(dir, 'batch')
    writeFileSync(file, lines.join('\n') + '\n')
    const alias = viaPort === undefined ? [] : ['-o', `HostKeyAlias=[${sftp.host}]:${sftp.port}`]
    return run('sftp', [...sftp.sshOptions, ...alias, '-P', String(viaPort ?? sftp.port), '-b', file, `${sftp.user}@${sftp.host}`])
  }

  it('writes env values the backends can use', () => {
    expect(sftp.host).toBe('127.0.0.1')
    expect(sftp.port).toBeGreaterThan(0)
    expect(readFileSync(sftp.knownHostsPath, 'utf8')).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sftp.port} ssh-ed25519 `))
    expect(readFileSync(sftp.keyPath, 'utf8')).toContain('OPENSSH PRIVATE KEY')
    expect(sftp.env.VGER_TEST_SFTP_ROOT).toBe(sftp.root)
  })

  it('round-trips a file with sftp -b: mkdir, put, ls, get', async () => {
    const src = path.join(dir, 'src.bin')
    const back = path.join(dir, 'back.bin')
    const data = randomBytes(300_000)
    writeFileSync(src, data)
    const r = await batch([
      `mkdir ${sftp.root}/repo`,
      `put ${src} ${sftp.root}/repo/pack`,
      `ls -l ${sftp.root}/repo`,
      `get ${sftp.root}/repo/pack ${back}`,
    ])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/300000 .*\/repo\/pack/)
    expect(readFileSync(back).equals(data)).toBe(true)
  })

  it('works through a stalling fault proxy', async () => {
    const proxy = await startFaultProxy({ targetPort: sftp.port, stallRate: 1, stallMs: 200, seed: 7 })
    try {
      const back = path.join(dir, 'back-proxied.bin')
      const started = Date.now()
      const r = await batch([`get ${sftp.root}/repo/pack ${back}`], proxy.port)
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(Date.now() - started).toBeGreaterThanOrEqual(200)
      expect(readFileSync(back).equals(readFileSync(path.join(dir, 'src.bin')))).toBe(true)
      expect(proxy.stats()).toMatchObject({ connections: 1, stall: 1 })
    } finally {
      await proxy.close()
    }
  })
})

interface Exchange {
  received: Buffer
  /** The client socket's error code (ECONNRESET after an RST), if any. */
  error: string | undefined
}

/** Sends `payload`, half-closes, and collects what comes back until the connection closes. */
function exchange(port: number, payload: Buffer): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let error: string | undefined
    const s = net.connect({ host: '127.0.0.1', port })
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message))
    s.on('close', () => resolve({ received: Buffer.concat(chunks), error }))
    s.end(payload)
  })
}

describe('fault proxy', () => {
  let echo: net.Server
  let echoPort: number

  beforeAll(async () => {
    echo = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => undefined)
      s.pipe(s)
    })
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve))
    echoPort = (echo.address() as net.AddressInfo).port
  })
  afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())))

  const withProxy = async <T>(opts: Omit<FaultProxyOptions, 'targetPort'>, fn: (port: number) => Promise<T>) => {
    const proxy = await startFaultProxy({ targetPort: echoPort, ...opts })
    try {
      const result = await fn(proxy.port)
      return { result, stats: proxy.stats() }
    } finally {
      await proxy.close()
    }
  }

  it('passes every byte through unchanged when all rates are 0', async () => {
    const payloads = Array.from({ length: 5 }, () => randomBytes(300_000))
    const { result, stats } = await withProxy({ seed: 3 }, async (port) => {
      const out: Exchange[] = []
      for (const p of payloads) out.push(await exchange(port, p))
      return out
    })
    result.forEach((r, i) => {
      expect(r.error).toBeUndefined()
      expect(r.received.equals(payloads[i]!)).toBe(true)
    })
    expect(stats).toMatchObject({ connections: 5, pass: 5, drop: 0, reset: 0, stall: 0, bytes: 2 * 5 * 300_000 })
  })

  it('resets every connection when resetRate is 1, after at most the byte budget', async () => {
    const { result, stats } = await withProxy({ resetRate: 1, resetBytes: [0, 4096], seed: 11 }, async (port) => {
      const out: Exchange[] = []
      for (let i = 0; i < 10; i++) out.push(await exchange(port, randomBytes(64 * 1024)))
      return out
    })
    for (const r of result) {
      expect(['ECONNRESET', 'EPIPE']).toContain(r.error)
      expect(r.received.length).toBeLessThanOrEqual(4096)
    }
    expect(stats).toMatchObject({ connections: 10, reset: 10, pass: 0 })
  })

  it('closes every connection cleanly and without data when dropRate is 1', async () => {
    const { result, stats } = await withProxy({ dropRate: 1, seed: 5 }, async (port) => {
      const out: Exchange[] = []
      for (let i = 0; i < 5; i++) out.push(await exchange(port, Buffer.from('hello')))
      return out
    })
    for (const r of result) {
      expect(r.error).toBeUndefined()
      expect(r.received.length).toBe(0)
    }
    expect(stats).toMatchObject({ connections: 5, drop: 5, bytes: 0 })
  })

  it('stalls at accept and again every midStreamBytes, and still delivers every byte', async () => {
    const payload = randomBytes(64 * 1024)
    const started = Date.now()
    const { result, stats } = await withProxy({ stallRate: 1, stallMs: 30, midStreamBytes: 16 * 1024, seed: 9 }, (port) =>
      exchange(port, payload),
    )
    expect(result.error).toBeUndefined()
    expect(result.received.equals(payload)).toBe(true)
    expect(stats.stall).toBe(1)
    // 128 KiB carried in both directions: a stall at each 16 KiB mark (the last one lands on the final byte).
    expect(stats.midStream.stall).toBeGreaterThanOrEqual(7)
    expect(Date.now() - started).toBeGreaterThanOrEqual(30 * (1 + stats.midStream.stall) - 5)
  })

  it('resets pass connections mid-stream with midStreamBytes, after delivering a prefix of the data', async () => {
    const payload = randomBytes(64 * 1024)
    const { result, stats } = await withProxy({ resetRate: 0.5, midStreamBytes: 8192, seed: 77 }, async (port) => {
      const out: Exchange[] = []
      for (let i = 0; i < 10; i++) out.push(await exchange(port, payload))
      return out
    })
    expect(stats.pass).toBeGreaterThan(0)
    expect(stats.midStream.reset).toBeGreaterThan(0)
    expect(stats.midStream.reset).toBeLessThanOrEqual(stats.pass)
    for (const r of result) {
      expect(payload.subarray(0, r.received.length).equals(r.received)).toBe(true)
      if (r.error === undefined) expect(r.received.length).toBe(payload.length)
      else expect(['ECONNRESET', 'EPIPE']).toContain(r.error)
    }
    expect(result.filter((r) => r.error !== undefined).length).toBe(stats.reset + stats.midStream.reset)
  })

  it('draws the same outcome sequence for the same seed, and each outcome behaves as named', async () => {
    const opts = { dropRate: 0.25, resetRate: 0.25, stallRate: 0.25, stallMs: 10, resetBytes: [0, 16] as [number, number] }
    const payload = randomBytes(1000)
    const session = (seed: number) =>
      withProxy({ ...opts, seed }, async (port) => {
        const out: Exchange[] = []
        for (let i = 0; i < 24; i++) out.push(await exchange(port, payload))
        return out
      })
    const a = await session(1234)
    const b = await session(1234)
    const c = await session(4321)
    expect(b.stats.outcomes).toEqual(a.stats.outcomes)
    expect(c.stats.outcomes).not.toEqual(a.stats.outcomes)
    expect(new Set(a.stats.outcomes)).toEqual(new Set<FaultOutcome>(['pass', 'drop', 'reset', 'stall']))
    a.stats.outcomes.forEach((outcome, i) => {
      const r = a.result[i]!
      if (outcome === 'pass' || outcome === 'stall') expect(r.received.equals(payload)).toBe(true)
      else if (outcome === 'drop') expect(r).toEqual({ received: Buffer.alloc(0), error: undefined })
      else expect(['ECONNRESET', 'EPIPE']).toContain(r.error)
    })
  })
})
