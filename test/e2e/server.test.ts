/**
 * `vger server` end to end: the CLI backs up to, restores from, checks, prunes and compacts a repository on a real
 * server on 127.0.0.1 (`rest://127.0.0.1:PORT/<repo>`), with a `full` token, and with an `append` token for the
 * backups and a `full` one for the maintenance. Also: hash-token, a graceful stop that finishes an upload in flight,
 * config errors with their line and column, a port in use, and HTTPS with the client trusting the server's
 * certificate through `tls_ca`. No token ever appears in an output or in the server's log.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { CLI, type CliResult, cliEnv, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { type TestServer, hex, newToken, request, sha256, startServer, writeServerConfig } from '../helpers/server.js'
import { tempDir } from '../helpers/temp-dir.js'
import { makeTree, readTree } from '../helpers/tree.js'

const PASS = 'server passphrase'
const FULL = newToken()
const APPEND = newToken()
const READ = newToken()

const snapshots = (r: CliResult): number =>
  (JSON.parse(r.stdout) as { repositories: { snapshots: unknown[] }[] }).repositories[0]?.snapshots.length ?? -1

describe.skipIf(!addonBuilt)(`vger server${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  let srv: TestServer
  let work: string
  let home: string
  let src: string
  const outputs: CliResult[] = []

  /** vger with a config for repository `repo` whose token comes from `${VGER_TOKEN}`. */
  const vger = async (repo: string, token: string, args: string[]): Promise<CliResult> => {
    const config = path.join(work, `${repo}.yaml`)
    if (!existsSync(config)) {
      writeFileSync(
        config,
        [
          'repositories:',
          `  - url: rest://127.0.0.1:${srv.port}/${repo}`,
          `    label: ${repo}`,
          '    access_token: ${VGER_TOKEN}',
          '    retry: {max_retries: 2, retry_delay_ms: 20, retry_max_delay_ms: 200}',
          'sources:',
          '  - src',
          'retention:',
          '  keep_last: 1',
          '',
        ].join('\n'),
      )
    }
    const r = await runCli(['-c', config, ...args], {
      cwd: work,
      env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', VGER_TOKEN: token },
    })
    outputs.push(r)
    return r
  }

  const restoredMatches = async (repo: string, token: string, name: string): Promise<void> => {
    const dest = path.join(work, name)
    const r = await vger(repo, token, ['restore', 'latest', dest])
    expect(r.code, r.stderr).toBe(0)
    expect(Object.fromEntries(readTree(dest))).toEqual(Object.fromEntries(readTree(src)))
  }

  beforeAll(async () => {
    ensureBuilt()
    work = tempDir()
    home = tempDir()
    src = path.join(work, 'src')
    makeTree(src)
    srv = await startServer(tempDir('vger-server-'), {
      repositories: { main: {}, shared: {} },
      tokens: { [FULL]: { main: 'full', shared: 'full' }, [APPEND]: { shared: 'append' }, [READ]: { main: 'read' } },
    })
  })

  afterAll(async () => {
    await srv?.stop()
  })

  it('init, backup, list, restore, check --verify-data, prune and compact with a full token', async () => {
    expect((await vger('main', FULL, ['init'])).code).toBe(0)
    const b = await vger('main', FULL, ['backup', '--json'])
    expect(b.code, b.stderr).toBe(0)
    const list = await vger('main', FULL, ['list', '--json'])
    expect(list.code, list.stderr).toBe(0)
    expect(snapshots(list)).toBe(1)
    await restoredMatches('main', FULL, 'restored-full-1')
    const c = await vger('main', FULL, ['check', '--verify-data'])
    expect(c.code, c.stderr).toBe(0)

    writeFileSync(path.join(src, 'changed.bin'), randomBytes(300_000))
    expect((await vger('main', FULL, ['backup'])).code).toBe(0)
    const p = await vger('main', FULL, ['prune', '--force'])
    expect(p.code, p.stderr).toBe(0)
    expect(snapshots(await vger('main', FULL, ['list', '--json']))).toBe(1)
    const k = await vger('main', FULL, ['compact', '--threshold', '0'])
    expect(k.code, k.stderr).toBe(0)
    const c2 = await vger('main', FULL, ['check', '--verify-data'])
    expect(c2.code, c2.stderr).toBe(0)
    await restoredMatches('main', FULL, 'restored-full-2')
  })

  it('a read token lists, checks and restores without a lock (and says so); it cannot back up', async () => {
    const list = await vger('main', READ, ['list', '--json'])
    expect(list.code, list.stderr).toBe(0)
    expect(snapshots(list)).toBe(1)
    const c = await vger('main', READ, ['check'])
    expect(c.code, c.stderr).toBe(0)
    expect(c.stderr).toContain('reads without one')
    await restoredMatches('main', READ, 'restored-read')
    const b = await vger('main', READ, ['backup'])
    expect(b.code).toBe(1)
    expect(errorCode(b.stderr)).toBe('VGER_REMOTE_AUTH')
    expect(snapshots(await vger('main', READ, ['list', '--json']))).toBe(1)
  })

  it('backups with an append token; prune with it is refused; prune and compact with a full token', async () => {
    expect((await vger('shared', APPEND, ['init'])).code).toBe(0)
    expect((await vger('shared', APPEND, ['backup'])).code).toBe(0)
    writeFileSync(path.join(src, 'second.bin'), randomBytes(200_000))
    expect((await vger('shared', APPEND, ['backup'])).code).toBe(0)
    expect(snapshots(await vger('shared', APPEND, ['list', '--json']))).toBe(2)

    const refused = await vger('shared', APPEND, ['prune', '--force'])
    expect(refused.code).toBe(1)
    expect(errorCode(refused.stderr)).toBe('VGER_REMOTE_AUTH')
    expect(refused.stderr).toContain('VGER_SERVER_FORBIDDEN')
    expect(snapshots(await vger('shared', APPEND, ['list', '--json']))).toBe(2)

    const p = await vger('shared', FULL, ['prune', '--force'])
    expect(p.code, p.stderr).toBe(0)
    const k = await vger('shared', FULL, ['compact', '--threshold', '0'])
    expect(k.code, k.stderr).toBe(0)
    expect(snapshots(await vger('shared', APPEND, ['list', '--json']))).toBe(1)
    // The append client still reads, checks (its own lock comes and goes) and restores.
    const c = await vger('shared', APPEND, ['check', '--verify-data'])
    expect(c.code, c.stderr).toBe(0)
    await restoredMatches('shared', APPEND, 'restored-append')

    const stats = await request(srv.base, '/shared/?stats', { token: APPEND })
    expect(stats.status).toBe(200)
    expect(stats.json).toMatchObject({ objects: expect.any(Number), packs: expect.any(Number), quotaBytes: null })
    expect(Date.parse(String(stats.json?.lastSnapshotAt))).toBeGreaterThan(Date.now() - 600_000)
  })

  it('never shows a token: not in any output, not in the server log, whose lines are JSON', async () => {
    const log = srv.log()
    for (const token of [FULL, APPEND, READ]) {
      for (const r of outputs) expect(r.stdout + r.stderr).not.toContain(token)
      expect(log).not.toContain(token)
    }
    const lines = log.trim().split('\n')
    const requests = lines.map((l) => JSON.parse(l) as { msg: string; token?: string; status?: number })
    expect(requests.filter((l) => l.msg === 'request').length).toBeGreaterThan(50)
    // The log names a token by the first 8 hex digits of its hash.
    expect(requests.some((l) => l.token === sha256(APPEND).slice(0, 8))).toBe(true)
  })

  it('serves Prometheus metrics to a token with access', async () => {
    const m = await request(srv.base, '/metrics', { token: FULL })
    expect(m.status).toBe(200)
    const text = m.body.toString()
    expect(text).toMatch(/^vger_server_requests_total\{method="PUT",status="201"\} \d+$/m)
    expect(text).toMatch(/^vger_server_repository_stored_bytes\{repository="main"\} [1-9]\d*$/m)
    expect(text).toMatch(/^vger_server_repository_last_snapshot_age_seconds\{repository="shared"\} \d+$/m)
    // An append token on "shared" sees that repository only.
    const mine = (await request(srv.base, '/metrics', { token: APPEND })).body.toString()
    expect(mine).toContain('repository="shared"')
    expect(mine).not.toContain('repository="main"')
    expect((await request(srv.base, '/metrics')).status).toBe(401)
  })
})

describe.skipIf(!addonBuilt)(`vger server: the command${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  beforeAll(() => ensureBuilt())

  it('hash-token prints a random token and its SHA-256, or hashes the token given on stdin', async () => {
    const gen = await runCli(['server', 'hash-token', '--json'])
    expect(gen.code, gen.stderr).toBe(0)
    const g = JSON.parse(gen.stdout) as { token: string; hash: string; generated: boolean }
    expect(g.generated).toBe(true)
    expect(g.token.length).toBeGreaterThanOrEqual(40)
    expect(g.hash).toBe(sha256(g.token))

    const given = spawnSync(process.execPath, [CLI, 'server', 'hash-token'], { input: 'my-own-long-token-1234\n', env: cliEnv(tempDir()) })
    expect(given.status).toBe(0)
    expect(given.stdout.toString()).toContain(sha256('my-own-long-token-1234'))
    const short = spawnSync(process.execPath, [CLI, 'server', 'hash-token'], { input: 'short\n', env: cliEnv(tempDir()) })
    expect(short.status).toBe(2)
    expect(errorCode(short.stderr.toString())).toBe('VGER_USAGE')
  })

  it('stops on SIGTERM: an upload in flight finishes, new connections are refused, the exit status is 0', async () => {
    const token = newToken()
    const srv = await startServer(tempDir('vger-server-'), { repositories: { r: {} }, tokens: { [token]: { r: 'full' } } })
    const key = `snapshots/${hex(32)}`
    const body = randomBytes(100_000)
    const socket = net.connect(srv.port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    let answer = ''
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')))
    const closed = new Promise((resolve) => socket.once('close', resolve))
    socket.write(`PUT /r/${key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${body.length}\r\n\r\n`)
    socket.write(body.subarray(0, 50_000))
    await new Promise((resolve) => setTimeout(resolve, 300))
    const exit = srv.stop('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(srv.alive()).toBe(true)
    // The listening socket is closed: a new connection is refused.
    const refused = await new Promise<boolean>((resolve) => {
      const c = net.connect(srv.port, '127.0.0.1')
      c.on('connect', () => (c.destroy(), resolve(false)))
      c.on('error', () => resolve(true))
    })
    expect(refused).toBe(true)
    // Not end(): a half-closed connection cannot take its answer.
    socket.write(body.subarray(50_000))
    await closed
    expect(answer).toMatch(/^HTTP\/1\.1 201 /)
    expect(answer).toContain('Connection: close')
    expect(await exit).toEqual({ code: 0, signal: null })
    expect(readFileSync(path.join(srv.dir, 'repos', 'r', key))).toEqual(body)
    expect(srv.log()).toContain('"msg":"stopped"')
  })

  it('reports config problems with file, line and column, and a port in use as VGER_SERVER_START', async () => {
    const dir = tempDir('vger-server-')
    const file = path.join(dir, 'server.yaml')
    writeFileSync(
      file,
      ['port: 0', 'repositories:', '  laptop:', '    url: /tmp/x', '    quota: lots', 'tokens:', '  abc:', '    laptop: full', ''].join(
        '\n',
      ),
    )
    const bad = await runCli(['server', '--config', file], { cwd: dir })
    expect(bad.code).toBe(1)
    expect(errorCode(bad.stderr)).toBe('VGER_CONFIG')
    expect(bad.stderr).toContain(`${file}:5:12: expected repositories.laptop.quota to be a size`)
    expect(bad.stderr).toContain(`${file}:7:3: expected each key of tokens to be the SHA-256 of a token`)

    writeFileSync(
      file,
      ['address: 0.0.0.0', 'repositories:', '  laptop: {url: ./r}', `tokens:`, `  ${sha256('x')}: {other: read}`, ''].join('\n'),
    )
    const insecure = await runCli(['server', '--config', file], { cwd: dir })
    expect(errorCode(insecure.stderr)).toBe('VGER_CONFIG')
    expect(insecure.stderr).toContain(`${file}:1:10: plain HTTP on 0.0.0.0`)
    expect(insecure.stderr).toContain(`${file}:5:`)
    expect(insecure.stderr).toContain('no repository "other" is configured')

    const holder = net.createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const port = (holder.address() as net.AddressInfo).port
    writeFileSync(file, [`port: ${port}`, 'state_dir: ./state', 'repositories:', '  laptop: {url: ./r}', ''].join('\n'))
    const busy = await runCli(['server', '--config', file], { cwd: dir })
    holder.close()
    expect(busy.code).toBe(1)
    expect(errorCode(busy.stderr)).toBe('VGER_SERVER_START')
    expect(busy.stderr).toContain('the address is in use')
  })

  const openssl = spawnSync('openssl', ['version']).status === 0
  it.skipIf(!openssl)(
    `serves HTTPS; the client trusts the server's certificate through tls_ca${openssl ? '' : ' — skipped: no openssl'}`,
    async () => {
      const dir = tempDir('vger-server-')
      // A CA the client trusts (tls_ca) and the server's certificate, signed by it.
      const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
      const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
      ssl('req', '-x509', ...ec, '-days', '2', '-subj', '/CN=vger test CA', '-keyout', 'ca-key.pem', '-out', 'ca.pem')
      ssl('req', ...ec, '-subj', '/CN=localhost', '-keyout', 'key.pem', '-out', 'server.csr')
      writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n')
      ssl(
        'x509',
        '-req',
        '-in',
        'server.csr',
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca-key.pem',
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        'ext.cnf',
        '-out',
        'cert.pem',
      )
      const token = newToken()
      writeServerConfig(dir, {
        repositories: { tls: {} },
        tokens: { [token]: { tls: 'full' } },
        extra: ['tls: {cert: cert.pem, key: key.pem}'],
      })
      const srv = await startServer(dir)
      try {
        expect(srv.base).toMatch(/^https:\/\//)
        const work = tempDir()
        mkdirSync(path.join(work, 'src'))
        writeFileSync(path.join(work, 'src', 'a.txt'), 'over TLS\n')
        const config = path.join(work, 'vger.yaml')
        const repo = (trust: boolean): string[] => [
          'repositories:',
          `  - url: rests://localhost:${srv.port}/tls`,
          '    access_token: ${VGER_TOKEN}',
          ...(trust ? [`    tls_ca: ${path.join(dir, 'ca.pem')}`] : []),
          '    retry: {max_retries: 0}',
          'sources: [src]',
          '',
        ]
        const env = { HOME: work, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', VGER_TOKEN: token }
        writeFileSync(config, repo(false).join('\n'))
        const untrusted = await runCli(['-c', config, 'init'], { cwd: work, env })
        expect(untrusted.code).toBe(1)
        writeFileSync(config, repo(true).join('\n'))
        const init = await runCli(['-c', config, 'init'], { cwd: work, env })
        expect(init.code, init.stderr).toBe(0)
        const b = await runCli(['-c', config, 'backup'], { cwd: work, env })
        expect(b.code, b.stderr).toBe(0)
        const r = await runCli(['-c', config, 'restore', 'latest', path.join(work, 'out')], { cwd: work, env })
        expect(r.code, r.stderr).toBe(0)
        expect(readFileSync(path.join(work, 'out', 'a.txt'), 'utf8')).toBe('over TLS\n')
      } finally {
        expect(await srv.stop()).toEqual({ code: 0, signal: null })
      }
    },
  )
})
