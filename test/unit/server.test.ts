/**
 * The pure parts of `vger server`: request targets, ranges, tokens, the quota and memory accounting, and
 * server.yaml (the server itself is tested end to end in test/e2e/server*.test.ts).
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../ts/config/problems.js'
import { Tokens, allows, bearerToken, hashToken } from '../../ts/server/auth.js'
import { ByteBudget } from '../../ts/server/budget.js'
import { type Permission, isLoopback, parseServerConfig } from '../../ts/server/config.js'
import { HttpError } from '../../ts/server/errors.js'
import { parseRange } from '../../ts/server/range.js'
import { parseTarget } from '../../ts/server/target.js'
import { Usage } from '../../ts/server/usage.js'

const h64 = 'ab'.repeat(32)
const sha = (t: string): string => createHash('sha256').update(t).digest('hex')

function code(run: () => unknown): string | undefined {
  try {
    run()
  } catch (e) {
    if (e instanceof HttpError) return `${e.status} ${e.code}`
    if (e instanceof ConfigError) return e.message
    throw e
  }
  return undefined
}

describe('parseTarget', () => {
  it.each([
    ['/r/config', 'config'],
    ['/r/keys/0123456789abcdef', 'keys/0123456789abcdef'],
    [`/r/packs/ab/${h64}`, `packs/ab/${h64}`],
    [`/r/index/${h64}`, `index/${h64}`],
    [`/r/snapshots/${h64}`, `snapshots/${h64}`],
    [`/r/locks/${'0'.repeat(32)}`, `locks/${'0'.repeat(32)}`],
    [`/my.repo-1_x/pending/${'f'.repeat(32)}`, `pending/${'f'.repeat(32)}`],
  ])('%s is the object %s', (url, key) => {
    expect(parseTarget(url)).toMatchObject({ kind: 'object', key })
  })

  it('reads server routes, listings and repository actions', () => {
    expect(parseTarget('/health')).toEqual({ kind: 'health' })
    expect(parseTarget('/metrics')).toEqual({ kind: 'metrics' })
    expect(parseTarget('/r/?list')).toEqual({ kind: 'list', repo: 'r', prefix: '' })
    expect(parseTarget('/r/packs/?list')).toEqual({ kind: 'list', repo: 'r', prefix: 'packs' })
    expect(parseTarget('/r/packs/0f/?list')).toEqual({ kind: 'list', repo: 'r', prefix: 'packs/0f' })
    expect(parseTarget('/r/?init')).toEqual({ kind: 'repository', repo: 'r', action: 'init' })
    expect(parseTarget('/r/?verify-packs')).toEqual({ kind: 'repository', repo: 'r', action: 'verify-packs' })
  })

  it.each([
    '/r/config/',
    '/r//config',
    '/r/./config',
    '/r/snapshots/../config',
    '/r/%63onfig',
    '/r/config%00',
    '/r/snapshots\\x',
    `/r/packs/cd/${h64}`,
    `/r/snapshots/${h64.toUpperCase()}`,
    `/r/snapshots/${h64}0`,
    '/r/snapshots/.tmp.x',
    '/r/other/x',
    '/r/',
    '/r',
    '/R/config',
    '/-r/config',
    '/r/other/?list',
    '/r/packs?list',
  ])('%s is a bad key', (url) => {
    expect(code(() => parseTarget(url))).toBe('400 VGER_SERVER_BAD_KEY')
  })

  it.each(['/r/locks/?list/', '/r/config?delete', '/r/config?list=1', 'http://host/r/config', '/r/config?init'])(
    '%s is a bad request',
    (url) => {
      expect(code(() => parseTarget(url))).toBe('400 VGER_SERVER_BAD_REQUEST')
    },
  )
})

describe('parseRange', () => {
  it('takes one range, open or closed', () => {
    expect(parseRange('bytes=0-9')).toEqual({ start: 0, end: 9 })
    expect(parseRange('bytes=5-')).toEqual({ start: 5 })
  })
  it.each(['bytes=-5', 'bytes=1-2,4-5', 'bytes=9-3', 'bits=0-1', 'bytes=x-y', ''])('refuses %j', (header) => {
    expect(code(() => parseRange(header))).toBe('400 VGER_SERVER_BAD_REQUEST')
  })
})

describe('tokens', () => {
  const tokens = new Tokens(
    new Map<string, Map<string, Permission>>([
      [sha('alpha-token-0123456789'), new Map([['a', 'append']])],
      [sha('full-token-0123456789'), new Map([['a', 'full']])],
    ]),
    sha('metrics-token-0123456789'),
  )

  it('hashes and identifies', () => {
    expect(hashToken('x')).toBe(sha('x'))
    const who = tokens.identify('alpha-token-0123456789')
    expect(who?.hash).toBe(sha('alpha-token-0123456789'))
    expect(tokens.identify('unknown')).toBeUndefined()
    expect(tokens.identify('metrics-token-0123456789')).toMatchObject({ metrics: true })
  })

  it('ranks permissions', () => {
    const who = tokens.identify('alpha-token-0123456789')
    if (who === undefined) throw new Error('unknown token')
    expect([allows(who, 'a', 'read'), allows(who, 'a', 'append'), allows(who, 'a', 'full'), allows(who, 'b', 'read')]).toEqual([
      true,
      true,
      false,
      false,
    ])
  })

  it('reads a bearer header', () => {
    expect(bearerToken('Bearer abc')).toBe('abc')
    expect(bearerToken('bearer  abc ')).toBe('abc')
    expect(bearerToken('Basic abc')).toBeUndefined()
    expect(bearerToken('Bearer a b')).toBeUndefined()
    expect(bearerToken(undefined)).toBeUndefined()
    expect(bearerToken(`Bearer ${'x'.repeat(2000)}`)).toBeUndefined()
  })
})

describe('accounting', () => {
  it('the quota counts stored and reserved bytes; locks get their allowance', () => {
    const u = new Usage(1000)
    u.reset(400)
    expect(u.reserve(600)).toBe(true)
    expect(u.reserve(1)).toBe(false)
    expect(u.reserve(100, 200)).toBe(true)
    u.release(600)
    u.commit(100)
    expect([u.stored, u.reserved]).toEqual([500, 0])
    u.removed(1000)
    expect(u.stored).toBe(0)
    expect(new Usage(undefined).reserve(Number.MAX_SAFE_INTEGER)).toBe(true)
  })

  it('the memory budget grants in order, and a request larger than it alone', async () => {
    const b = new ByteBudget(100)
    const first = await b.acquire(60)
    const order: string[] = []
    const second = b.acquire(60).then((r) => (order.push('second'), r))
    const third = b.acquire(10).then((r) => (order.push('third'), r))
    await new Promise((r) => setTimeout(r, 10))
    expect(order).toEqual([])
    first()
    const [r2, r3] = await Promise.all([second, third])
    expect(order).toEqual(['second', 'third'])
    expect(b.used).toBe(70)
    r2()
    r3()
    r3()
    expect(b.used).toBe(0)
    const huge = await b.acquire(10_000)
    expect(b.used).toBe(100)
    huge()
  })
})

describe('server.yaml', () => {
  const parse = (lines: string[], env: Record<string, string> = {}) =>
    parseServerConfig(`${lines.join('\n')}\n`, '/etc/vger/server.yaml', env, '/home/u')
  const token = sha('some-token-0123456789')

  it('applies defaults and resolves paths', () => {
    const c = parse(['repositories:', '  laptop: {url: ../srv/laptop, quota: 2GiB}', 'tokens:', `  ${token}: {laptop: append}`])
    expect(c).toMatchObject({
      address: '127.0.0.1',
      port: 8585,
      stateDir: '/home/u/.local/state/vger/server',
      maxObjectSize: 1024 ** 3,
      clientTimeoutSecs: 60,
    })
    expect(c.repositories.get('laptop')).toEqual({
      name: 'laptop',
      url: '/etc/srv/laptop',
      localPath: '/etc/srv/laptop',
      quotaBytes: 2 * 1024 ** 3,
      repack: true,
    })
    expect(c.tokens.get(token)?.get('laptop')).toBe('append')
  })

  it('expands ${VAR} in storage settings', () => {
    const c = parse(['repositories:', '  r:', '    url: s3://bucket/r', '    access_key_id: AK', '    secret_access_key: ${SECRET}'], {
      SECRET: 's3cr3t',
    })
    expect(c.repositories.get('r')?.settings).toMatchObject({ accessKeyId: 'AK', secretAccessKey: 's3cr3t' })
  })

  it('reports every problem with its line and column', () => {
    const message = code(() =>
      parse([
        'address: 10.0.0.1',
        'repositories:',
        '  Laptop: {url: /x}',
        '  ok: {url: rest://host/x}',
        '  fine: {url: /y, quota: much}',
        'tokens:',
        '  nothex: {ok: full}',
        `  ${token}: {ok: admin, other: read}`,
      ]),
    )
    expect(message).toContain('/etc/vger/server.yaml:3:3: expected each key of repositories to be a repository name')
    expect(message).toContain('/etc/vger/server.yaml:4:13: repositories.ok.url: "rest://host/x": a server stores its repositories')
    expect(message).toContain('/etc/vger/server.yaml:5:26: expected repositories.fine.quota to be a size')
    expect(message).toContain('/etc/vger/server.yaml:7:3: expected each key of tokens to be the SHA-256 of a token')
    expect(message).toContain(`/etc/vger/server.yaml:8:74: expected tokens.${token}.ok to be one of read, append, full, got "admin"`)
  })

  it('cross-checks: a token names configured repositories; plain HTTP stays on loopback', () => {
    const message = code(() => parse(['address: 0.0.0.0', 'repositories: {r: {url: /r}}', 'tokens:', `  ${token}: {other: read}`]))
    expect(message).toContain('server.yaml:1:10: plain HTTP on 0.0.0.0')
    expect(message).toContain('no repository "other" is configured (repositories: r)')
    expect(parse(['address: 0.0.0.0', 'allow_insecure_http: true', 'repositories: {r: {url: /r}}']).address).toBe('0.0.0.0')
    expect(parse(['address: 0.0.0.0', 'tls: {cert: c.pem, key: k.pem}', 'repositories: {r: {url: /r}}']).tls).toEqual({
      cert: '/etc/vger/c.pem',
      key: '/etc/vger/k.pem',
    })
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true)
    expect(['0.0.0.0', '10.0.0.1', '::'].some(isLoopback)).toBe(false)
  })

  it('needs at least one repository', () => {
    expect(code(() => parse(['port: 1']))).toContain('missing required key "repositories"')
    expect(code(() => parse(['repositories: {}']))).toContain('expected repositories to have at least one entry')
  })
})
