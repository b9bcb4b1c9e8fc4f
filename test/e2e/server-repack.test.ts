/**
 * Server-side repack (`POST ?repack`, docs/server.md section 4). The same history is made in two repositories
 * of one `vger server`: `near` lets the server build the new packs from ranges of the packs it holds, `far`
 * (`repack: false`) makes the client copy the kept blobs through itself. Both compactions give repositories
 * that check clean and restore the source, and the bytes on the wire (the server's own counters) show what the
 * server-side repack saves. Then the route's bad input over raw HTTP: every refusal has its status and code,
 * and builds nothing.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { type CliResult, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { type TestServer, newToken, request, startServer } from '../helpers/server.js'
import { tempDir } from '../helpers/temp-dir.js'
import { readTree } from '../helpers/tree.js'

const PASS = 'repack passphrase'
const FULL = newToken()
const APPEND = newToken()
const MIB = 1024 * 1024

interface Compacted {
  bytesRepacked: number
  packsWritten: number
  packsAssembled: number
  packsDeleted: number
}

describe.skipIf(!addonBuilt)(`server-side repack${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  let srv: TestServer
  let work: string
  let home: string

  const vger = async (repo: string, args: string[], token = FULL): Promise<CliResult> => {
    const config = path.join(work, `${repo}.yaml`)
    writeFileSync(
      config,
      [
        'repositories:',
        `  - url: rest://127.0.0.1:${srv.port}/${repo}`,
        `    label: ${repo}`,
        '    access_token: ${VGER_TOKEN}',
        'sources:',
        '  - src',
        '',
      ].join('\n'),
    )
    return runCli(['-c', config, ...args], {
      cwd: work,
      env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', VGER_TOKEN: token },
    })
  }

  /** Bytes the server received and sent so far (its /metrics counters). */
  const wire = async (): Promise<number> => {
    const m = (await request(srv.base, '/metrics', { token: FULL })).body.toString('utf8')
    const counter = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(m)?.[1] ?? NaN)
    return counter('vger_server_received_bytes_total') + counter('vger_server_sent_bytes_total')
  }

  beforeAll(async () => {
    ensureBuilt()
    work = tempDir()
    home = tempDir()
    srv = await startServer(tempDir('vger-server-'), {
      repositories: { near: {}, far: { repack: false }, raw: { quota: 64 * MIB } },
      tokens: { [FULL]: { near: 'full', far: 'full', raw: 'full' }, [APPEND]: { raw: 'append' } },
    })
  })

  afterAll(async () => {
    await srv?.stop()
  })

  it(
    'builds the new packs on the server: the same result as through the client, with a fraction of the bytes on the wire',
    { timeout: 300_000 },
    async () => {
      const src = path.join(work, 'src')
      const files = Array.from({ length: 12 }, () => randomBytes(2 * MIB))
      const results = new Map<string, { compacted: Compacted; wire: number }>()
      for (const repo of ['near', 'far']) {
        rmSync(src, { recursive: true, force: true })
        mkdirSync(src, { recursive: true })
        files.forEach((b, i) => writeFileSync(path.join(src, `f${i}.bin`), b))
        expect((await vger(repo, ['init'])).code).toBe(0)
        const first = await vger(repo, ['backup', '--json'])
        expect(first.code, first.stderr).toBe(0)
        const firstId = (JSON.parse(first.stdout) as { snapshots: { snapshotId: string }[] }).snapshots[0]?.snapshotId ?? ''
        // Half the files go: their chunks become garbage inside packs that also hold the kept half.
        for (let i = 0; i < 12; i += 2) rmSync(path.join(src, `f${i}.bin`))
        writeFileSync(path.join(src, 'new.bin'), randomBytes(MIB))
        expect((await vger(repo, ['backup'])).code).toBe(0)
        const del = await vger(repo, ['snapshot', 'delete', firstId])
        expect(del.code, del.stderr).toBe(0)

        const before = await wire()
        const k = await vger(repo, ['compact', '--threshold', '0', '--json'])
        expect(k.code, k.stderr).toBe(0)
        const after = await wire()
        const compacted = (JSON.parse(k.stdout) as { repositories: Compacted[] }).repositories[0] as Compacted
        results.set(repo, { compacted, wire: after - before })

        const c = await vger(repo, ['check', '--verify-data'])
        expect(c.code, c.stdout + c.stderr).toBe(0)
        const dest = path.join(work, `restored-${repo}`)
        const r = await vger(repo, ['restore', 'latest', dest])
        expect(r.code, r.stderr).toBe(0)
        expect(Object.fromEntries(readTree(dest))).toEqual(Object.fromEntries(readTree(src)))
      }
      const near = results.get('near')
      const far = results.get('far')
      if (near === undefined || far === undefined) throw new Error('both repositories were compacted')
      console.log(
        `server-side repack: ${(near.compacted.bytesRepacked / MIB).toFixed(1)} MiB kept; on the wire ${(near.wire / MIB).toFixed(2)} MiB ` +
          `(server-side) vs ${(far.wire / MIB).toFixed(2)} MiB (through the client)`,
      )
      // Both compactions repacked: the server built every new pack for `near`, none for `far`.
      expect(near.compacted.bytesRepacked).toBeGreaterThan(5 * MIB)
      expect(near.compacted.packsAssembled).toBe(near.compacted.packsWritten)
      expect(near.compacted.packsAssembled).toBeGreaterThan(0)
      expect(far.compacted.packsAssembled).toBe(0)
      expect(far.compacted.packsWritten).toBeGreaterThan(0)
      // Through the client, every kept byte goes down and up again; server-side, none does.
      expect(far.wire).toBeGreaterThan(2 * far.compacted.bytesRepacked)
      expect(near.wire).toBeLessThan(near.compacted.bytesRepacked / 10)
    },
  )

  it('refuses bad repack requests with a status and a code, and builds nothing', { timeout: 120_000 }, async () => {
    const src = path.join(work, 'src')
    rmSync(src, { recursive: true, force: true })
    mkdirSync(src, { recursive: true })
    writeFileSync(path.join(src, 'a.bin'), randomBytes(3 * MIB))
    expect((await vger('raw', ['init'])).code).toBe(0)
    expect((await vger('raw', ['backup'])).code).toBe(0)
    const listed = (await request(srv.base, '/raw/packs/?list', { token: FULL })).json as unknown as { key: string; size: number }[]
    const source = listed.reduce((a, b) => (b.size > a.size ? b : a))
    const packs = () => request(srv.base, '/raw/packs/?list', { token: FULL }).then((a) => (a.json as unknown as unknown[]).length)
    const count = await packs()
    const post = (body: unknown, token = FULL) =>
      request(srv.base, '/raw/?repack', { method: 'POST', token, body: typeof body === 'string' ? body : JSON.stringify(body) })
    const range = (offset: number, length: number, pack = source.key) => ({ pack, offset, length })
    const good = { head: 'ab'.repeat(25), ranges: [range(25, 1000), range(5000, 10)], tail: 'cd'.repeat(8) }

    const refusals: [string, unknown, number, string, string?][] = [
      ['an append token', good, 403, 'VGER_SERVER_FORBIDDEN', APPEND],
      ['no token', good, 401, 'VGER_SERVER_UNAUTHORIZED', ''],
      ['not JSON', '{"head":', 400, 'VGER_SERVER_BAD_REQUEST'],
      ['no ranges', { ...good, ranges: [] }, 400, 'VGER_SERVER_BAD_REQUEST'],
      ['a range of length 0', { ...good, ranges: [range(25, 0)] }, 400, 'VGER_SERVER_BAD_REQUEST'],
      ['a negative offset', { ...good, ranges: [range(-1, 10)] }, 400, 'VGER_SERVER_BAD_REQUEST'],
      ['a source that is not a pack', { ...good, ranges: [range(0, 10, 'config')] }, 400, 'VGER_SERVER_BAD_REQUEST'],
      ['a source outside the layout', { ...good, ranges: [range(0, 10, `packs/../${source.key}`)] }, 400, 'VGER_SERVER_BAD_REQUEST'],
      ['a head that is not hex', { ...good, head: 'zz' }, 400, 'VGER_SERVER_BAD_REQUEST'],
      ['a range past the end of its pack', { ...good, ranges: [range(source.size - 5, 10)] }, 400, 'VGER_SERVER_BAD_REQUEST'],
      ['a missing source pack', { ...good, ranges: [range(0, 10, `packs/00/${'0'.repeat(64)}`)] }, 404, 'VGER_SERVER_NOT_FOUND'],
      ['more than the quota', { ...good, ranges: Array.from({ length: 30 }, () => range(25, 3 * MIB - 100)) }, 413, 'VGER_SERVER_QUOTA'],
    ]
    for (const [what, body, status, code, token] of refusals) {
      const a = await post(body, token ?? FULL)
      expect([what, a.status, (a.json as { code?: string } | undefined)?.code]).toEqual([what, status, code])
    }
    expect(await packs()).toBe(count)

    // A sound request: the pack holds exactly head ‖ ranges ‖ tail, and the usage counts it once.
    const ok = await post(good)
    expect(ok.status, ok.body.toString()).toBe(201)
    const made = ok.json as { key: string; size: number }
    const bytes = readFileSync(path.join(srv.dir, 'repos', 'raw', source.key))
    const want = Buffer.concat([
      Buffer.from(good.head, 'hex'),
      bytes.subarray(25, 1025),
      bytes.subarray(5000, 5010),
      Buffer.from(good.tail, 'hex'),
    ])
    expect(made.size).toBe(want.length)
    expect((await request(srv.base, `/raw/${made.key}`, { token: FULL })).body.equals(want)).toBe(true)
    expect((await post(good)).status).toBe(201)
    expect(await packs()).toBe(count + 1)

    // A damaged source pack is never copied from.
    const file = path.join(srv.dir, 'repos', 'raw', source.key)
    const damaged = Buffer.from(bytes)
    damaged[100] = (damaged[100] ?? 0) ^ 1
    writeFileSync(file, damaged)
    const bad = await post({ ...good, tail: 'ee' })
    expect([bad.status, (bad.json as { code?: string }).code]).toEqual([400, 'VGER_SERVER_BAD_PACK'])
    expect(await packs()).toBe(count + 1)
    writeFileSync(file, bytes)
    const stats = (await request(srv.base, '/raw/?stats', { token: FULL })).json as { bytes: number }
    const metrics = (await request(srv.base, '/metrics', { token: FULL })).body.toString('utf8')
    expect(metrics).toContain(`vger_server_repository_stored_bytes{repository="raw"} ${stats.bytes}`)
  })
  it(
    'check --verify-on-server: the server hashes every pack and none is downloaded; a damaged one fails the check',
    { timeout: 120_000 },
    async () => {
      const packs = (await request(srv.base, '/near/packs/?list', { token: FULL })).json as unknown as { key: string; size: number }[]
      const before = await wire()
      const ok = await vger('near', ['check', '--verify-on-server', '--json'])
      expect(ok.code, ok.stderr).toBe(0)
      const report = (JSON.parse(ok.stdout) as { repositories: { packsVerifiedOnServer: number; packsRead: number }[] }).repositories[0]
      expect(report?.packsVerifiedOnServer).toBe(packs.length)
      expect(report?.packsRead).toBe(0)
      const stored = packs.reduce((n, p) => n + p.size, 0)
      expect(await wire()).toBeLessThan(before + stored / 10)

      const victim = packs.reduce((a, b) => (b.size > a.size ? b : a))
      const file = path.join(srv.dir, 'repos', 'near', victim.key)
      const bytes = readFileSync(file)
      const damaged = Buffer.from(bytes)
      damaged[damaged.length >> 1] = (damaged[damaged.length >> 1] ?? 0) ^ 0x40
      writeFileSync(file, damaged)
      const bad = await vger('near', ['check', '--verify-on-server'])
      writeFileSync(file, bytes)
      expect(bad.code).toBe(1)
      expect(errorCode(bad.stderr)).toBe('VGER_CHECK_FAILED')
      expect(bad.stdout).toContain(victim.key.slice(-64, -48))
      expect(bad.stdout).toContain('the server found it damaged')

      // A store that cannot hash its packs itself is told so.
      const local = path.join(work, 'local.yaml')
      writeFileSync(local, ['repositories:', `  - url: ${path.join(work, 'local-repo')}`, 'sources:', '  - src', ''].join('\n'))
      const env = { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' }
      expect((await runCli(['-c', local, 'init'], { cwd: work, env })).code).toBe(0)
      const refused = await runCli(['-c', local, 'check', '--verify-on-server'], { cwd: work, env })
      expect(errorCode(refused.stderr)).toBe('VGER_INVALID_ARGUMENT')
      expect(refused.stderr).toContain('vger server')
    },
  )
})
