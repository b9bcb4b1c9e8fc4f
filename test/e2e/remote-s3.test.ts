/**
 * A repository on S3 end to end (`node dist/cli/main.js` against moto on loopback, started by
 * scripts/peers/s3.sh, or SeaweedFS with VGER_TEST_S3_PEER=seaweedfs): init, backup, list, restore,
 * check --verify-data, a second backup, prune, compact, and a restore that must still be identical. The
 * secret key reaches the engine through `${VAR}` in the config and must never appear in any output. Set
 * VGER_TEST_REMOTE=skip to skip (the run says so).
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { PEER_START_TIMEOUT_MS, type S3Peer, s3PeerKind, startS3 } from '../helpers/peers.js'
import { type CliResult, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'
import { makeTree, readTree } from '../helpers/tree.js'

const PASS = 'remote passphrase'

const snapshots = (r: CliResult): number =>
  (JSON.parse(r.stdout) as { repositories: { snapshots: unknown[] }[] }).repositories[0]?.snapshots.length ?? -1
const skip = process.env.VGER_TEST_REMOTE === 'skip'
const reason = !addonBuilt ? NO_ADDON_REASON : skip ? 'VGER_TEST_REMOTE=skip' : ''
const kind = s3PeerKind()
const onlyMoto = (what: string): string => (kind === 'moto' ? '' : ` — skipped: ${what}; the S3 peer is ${kind} (VGER_TEST_S3_PEER)`)
const onlyOther = (why: string): string => (kind === 'moto' ? ` — skipped: ${why} (run npm run test:seaweedfs)` : '')
// The request-count test reads moto's request recorder (/moto-api/recorder/...); other S3 peers have none.
const noRecorder = onlyMoto("needs moto's request recorder")
const itRecorder = it.skipIf(noRecorder !== '')
const RECORDER_TEST = `an unchanged re-backup downloads no metadata and no data, and uploads only its snapshot (moto request log)${noRecorder}`
// The fault test's check that enough faults happened counts on moto, which ends a connection after about every
// request (73 connections in this test). SeaweedFS keeps connections alive (7 to 9 here): too few draws for 3
// faults, and mid-stream faults dense enough for that (every 256 KiB) break 6 MiB pack uploads past their retries.
const noNewConnections = onlyMoto('its fault count needs a new connection per request, as moto makes')
const itNewConnections = it.skipIf(noNewConnections !== '')
const FAULT_TEST = `through a proxy that drops, resets and stalls connections: backup, restore and check succeed${noNewConnections}`

describe.skipIf(reason !== '')(`repository on S3 (${kind})${reason === '' ? '' : ` — skipped: ${reason}`}`, () => {
  let peer: S3Peer
  let work: string
  let home: string
  let src: string
  let config: string
  const outputs: CliResult[] = []

  const vger = async (args: string[]): Promise<CliResult> => {
    const r = await runCli(['-c', config, ...args], {
      cwd: work,
      env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', S3_SECRET: peer.secretKey },
      timeoutMs: 120_000,
    })
    outputs.push(r)
    return r
  }

  const writeConfig = (url: string, file = 'vger.yaml', retries = 3): string => {
    const p = path.join(work, file)
    writeFileSync(
      p,
      [
        'repositories:',
        `  - url: ${url}`,
        '    label: s3',
        '    allow_insecure_http: true',
        `    region: ${peer.region}`,
        `    access_key_id: ${peer.accessKey}`,
        '    secret_access_key: ${S3_SECRET}',
        '    retry:',
        `      max_retries: ${retries}`,
        '      retry_delay_ms: 20',
        '      retry_max_delay_ms: 500',
        'sources:',
        '  - src',
        'retention:',
        '  keep_last: 1',
        '',
      ].join('\n'),
    )
    return p
  }

  beforeAll(async () => {
    ensureBuilt()
    peer = await startS3()
    work = tempDir()
    home = tempDir()
    src = path.join(work, 'src')
    makeTree(src)
    const url = `s3+http://${peer.endpoint.replace(/^http:\/\//, '')}/${peer.bucket}/e2e-${randomBytes(6).toString('hex')}`
    config = writeConfig(url)
  }, PEER_START_TIMEOUT_MS)

  afterAll(async () => {
    await peer?.stop()
  })

  it('init, backup, restore identical, check --verify-data clean', async () => {
    expect((await vger(['init'])).code).toBe(0)
    const b = await vger(['backup', '--json'])
    expect(b.code, b.stderr).toBe(0)
    const list = await vger(['list', '--json'])
    expect(list.code, list.stderr).toBe(0)
    expect(snapshots(list)).toBe(1)
    const dest = path.join(work, 'restored-1')
    const r = await vger(['restore', 'latest', dest])
    expect(r.code, r.stderr).toBe(0)
    expect(Object.fromEntries(readTree(path.join(dest)))).toEqual(Object.fromEntries(readTree(src)))
    const c = await vger(['check', '--verify-data'])
    expect(c.code, c.stderr).toBe(0)
  })

  it('index segments and snapshots are kept in the local cache; vger cache shows and clears it', async () => {
    const parts = (r: CliResult) =>
      Object.fromEntries((JSON.parse(r.stdout) as { parts: { name: string; files: number }[] }).parts.map((p) => [p.name, p.files]))
    const before = parts(await vger(['cache', '--json']))
    // One snapshot and at least one index segment of this repository.
    expect(before.metadata).toBeGreaterThanOrEqual(2)
    expect(before.files).toBeGreaterThan(0)
    // The repository's index as one memory-mapped table.
    expect(before.index).toBe(1)
    const dry = parts(await vger(['cache', '--clear', '--dry-run', '--json']))
    expect(dry).toEqual(before)
    await vger(['cache', '--clear'])
    const after = parts(await vger(['cache', '--json']))
    expect(after.metadata).toBe(0)
    expect(after.files).toBe(0)
    expect(after.index).toBe(0)
    // The next command fetches what it needs again, and builds the table again.
    expect(snapshots(await vger(['list', '--json']))).toBe(1)
    const again = parts(await vger(['cache', '--json']))
    expect(again.metadata).toBeGreaterThanOrEqual(2)
    expect(again.index).toBe(1)
  })

  it('a second backup, prune and compact leave the newest snapshot whole', async () => {
    writeFileSync(path.join(src, 'changed.bin'), randomBytes(300_000))
    expect((await vger(['backup'])).code).toBe(0)
    const p = await vger(['prune', '--force'])
    expect(p.code, p.stderr).toBe(0)
    expect(snapshots(await vger(['list', '--json']))).toBe(1)
    const k = await vger(['compact', '--threshold', '0'])
    expect(k.code, k.stderr).toBe(0)
    const c = await vger(['check', '--verify-data', '--json'])
    expect(c.code, c.stderr).toBe(0)
    const dest = path.join(work, 'restored-2')
    const r = await vger(['restore', 'latest', dest])
    expect(r.code, r.stderr).toBe(0)
    expect(Object.fromEntries(readTree(dest))).toEqual(Object.fromEntries(readTree(src)))
  })

  /** The requests moto served while `run` ran, as "METHOD top-level-dir" or "list PREFIX". */
  const recorded = async (run: () => Promise<void>): Promise<{ count: (what: string) => number; summary: string; total: number }> => {
    const api = (what: string, method = 'POST') => fetch(`${peer.endpoint}/moto-api/recorder/${what}`, { method })
    await api('reset-recording')
    await api('start-recording')
    try {
      await run()
    } finally {
      await api('stop-recording')
    }
    const log = await (await api('download-recording', 'GET')).text()
    const requests = log
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { method: string; url: string })
      .map(({ method, url }) => {
        const u = new URL(url)
        const key = decodeURIComponent(u.pathname).split('/').slice(3).join('/')
        const listing = u.searchParams.has('list-type') ? `list ${u.searchParams.get('prefix') ?? ''}` : undefined
        return listing ?? `${method} ${key.split('/')[0] ?? ''}`
      })
    const counts = new Map<string, number>()
    for (const q of requests) counts.set(q, (counts.get(q) ?? 0) + 1)
    return {
      count: (what) => counts.get(what) ?? 0,
      summary: [...counts].map(([k, n]) => `${k}: ${n}`).join(', '),
      total: requests.length,
    }
  }

  itRecorder(RECORDER_TEST, async () => {
    expect((await vger(['backup'])).code).toBe(0) // the file cache and the metadata copies are current now
    let r: CliResult | undefined
    const { count, summary, total } = await recorded(async () => {
      r = await vger(['backup'])
    })
    expect(r?.code, r?.stderr).toBe(0)
    console.log(`unchanged re-backup over S3: ${total} requests (${summary})`)
    expect(count('GET index'), summary).toBe(0)
    expect(count('GET snapshots'), summary).toBe(0)
    expect(count('GET packs'), summary).toBe(0)
    expect(count('PUT packs'), summary).toBe(0)
    expect(count('PUT snapshots'), summary).toBe(1)
  })

  itRecorder(`a restore downloads each pack of trees once, not a range per directory; find then reads no pack${noRecorder}`, async () => {
    // 300 directories, each its own tree: one ranged GET each before trees had packs of their own.
    const wide = path.join(src, 'wide')
    for (let d = 0; d < 300; d++) {
      mkdirSync(path.join(wide, `g${d % 12}`, `d${d}`), { recursive: true })
      writeFileSync(path.join(wide, `g${d % 12}`, `d${d}`, 'f.txt'), `file ${d}\n`)
    }
    expect((await vger(['backup'])).code).toBe(0)
    await vger(['cache', '--clear']) // a new machine: nothing cached
    const dest = path.join(work, 'restored-trees')
    let r: CliResult | undefined
    const restore = await recorded(async () => {
      r = await vger(['restore', 'latest', dest])
    })
    expect(r?.code, r?.stderr).toBe(0)
    expect(Object.fromEntries(readTree(dest))).toEqual(Object.fromEntries(readTree(src)))
    console.log(`restore of ${readTree(src).size} entries over S3: ${restore.total} requests (${restore.summary})`)
    // Every pack is read at most a few times (data in ranges of up to 8 MiB, trees whole): far fewer
    // requests than the 300 directories.
    expect(restore.count('GET packs'), restore.summary).toBeLessThan(40)
    const find = await recorded(async () => {
      r = await vger(['snapshot', 'find', '--name', 'f.txt', '--last', '1', '--json'])
    })
    expect(r?.code, r?.stderr).toBe(0)
    expect(find.count('GET packs'), find.summary).toBe(0)
  })

  it('a bucket that does not exist is named, with what to do', async () => {
    const url = `s3+http://${peer.endpoint.replace(/^http:\/\//, '')}/no-such-bucket-${randomBytes(4).toString('hex')}/x`
    const other = writeConfig(url, 'missing.yaml')
    const r = await runCli(['-c', other, 'init'], {
      cwd: work,
      env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', S3_SECRET: peer.secretKey },
    })
    outputs.push(r)
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('VGER_REMOTE_CONFIG')
    expect(r.stderr).toContain('does not exist; create it first')
  })

  // moto accepts any credentials; SeaweedFS checks the SigV4 signature against its identities.
  it.skipIf(kind === 'moto')(
    `a wrong secret key is refused as VGER_REMOTE_AUTH, without the secret in any message${onlyOther('moto accepts any credentials')}`,
    async () => {
      const wrong = `wrong-${randomBytes(8).toString('hex')}`
      const r = await runCli(['-c', config, 'list'], {
        cwd: work,
        env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', S3_SECRET: wrong },
      })
      expect(r.code).toBe(1)
      expect(errorCode(r.stderr), r.stderr).toBe('VGER_REMOTE_AUTH')
      expect(r.stderr + r.stdout).not.toContain(wrong)
    },
  )

  itNewConnections(FAULT_TEST, { timeout: 300_000 }, async () => {
    let proxy: FaultProxy | undefined
    try {
      proxy = await startFaultProxy({
        targetPort: Number(new URL(peer.endpoint).port),
        dropRate: 0.05,
        resetRate: 0.05,
        stallRate: 0.02,
        stallMs: 300,
        // Packs are up to 32 MiB: a fault every few MiB still breaks most uploads once or twice.
        midStreamBytes: 4 << 20,
      })
      const url = `s3+http://127.0.0.1:${proxy.port}/${peer.bucket}/faults-${randomBytes(6).toString('hex')}`
      const saved = config
      config = writeConfig(url, 'faults.yaml', 10)
      try {
        writeFileSync(path.join(src, 'big.bin'), randomBytes(6 << 20))
        expect((await vger(['init'])).code).toBe(0)
        const b = await vger(['backup'])
        expect(b.code, `${b.stderr} (seed ${proxy.seed})`).toBe(0)
        const dest = path.join(work, 'restored-faults')
        const r = await vger(['restore', 'latest', dest])
        expect(r.code, `${r.stderr} (seed ${proxy.seed})`).toBe(0)
        expect(Object.fromEntries(readTree(dest))).toEqual(Object.fromEntries(readTree(src)))
        const c = await vger(['check', '--verify-data'])
        expect(c.code, `${c.stderr} (seed ${proxy.seed})`).toBe(0)
      } finally {
        config = saved
      }
      const st = proxy.stats()
      const faults = st.drop + st.reset + st.midStream.drop + st.midStream.reset
      // The faults happened, and often enough to matter: at least 5% of connections (or streams) broken.
      expect(faults, JSON.stringify({ ...st, outcomes: undefined })).toBeGreaterThanOrEqual(Math.max(3, st.connections * 0.05))
    } finally {
      await proxy?.close()
    }
  })

  it('two clients with their own caches back up to one repository at once; prune and compact lose nothing', async () => {
    const url = `s3+http://${peer.endpoint.replace(/^http:\/\//, '')}/${peer.bucket}/shared-${randomBytes(6).toString('hex')}`
    const clients = ['alpha', 'beta'].map((name) => {
      const dir = path.join(work, name)
      makeTree(path.join(dir, 'src'))
      const file = path.join(dir, 'vger.yaml')
      const text = readFileSync(writeConfig(url, `${name}.yaml`), 'utf8').replace('retention:', `hostname: ${name}\nretention:`)
      writeFileSync(file, text)
      const run = async (args: string[]): Promise<CliResult> => {
        const r = await runCli(['-c', file, ...args], {
          cwd: dir,
          env: { HOME: path.join(dir, 'home'), VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', S3_SECRET: peer.secretKey },
          timeoutMs: 180_000,
        })
        outputs.push(r)
        return r
      }
      return { name, dir, src: path.join(dir, 'src'), run }
    })
    const [alpha, beta] = clients as [(typeof clients)[0], (typeof clients)[0]]
    expect((await alpha.run(['init'])).code).toBe(0)
    for (let round = 0; round < 3; round++) {
      for (const c of clients) writeFileSync(path.join(c.src, `round-${round}.bin`), randomBytes(400_000))
      const results = await Promise.all(clients.map((c) => c.run(['backup'])))
      for (const r of results) expect(r.code, r.stderr).toBe(0)
    }
    expect(snapshots(await alpha.run(['list', '--json']))).toBe(6)
    // Maintenance from one client while the other backs up once more.
    for (const c of clients) writeFileSync(path.join(c.src, 'last.bin'), randomBytes(400_000))
    const [pruned, backed] = await Promise.all([alpha.run(['prune', '--force']), beta.run(['backup'])])
    expect(pruned.code, pruned.stderr).toBe(0)
    expect(backed.code, backed.stderr).toBe(0)
    expect((await alpha.run(['backup'])).code).toBe(0)
    const k = await beta.run(['compact', '--threshold', '0'])
    expect(k.code, k.stderr).toBe(0)
    const c = await alpha.run(['check', '--verify-data'])
    expect(c.code, c.stderr).toBe(0)
    // The newest snapshot of each client restores to exactly its source.
    for (const client of clients) {
      const listed = await client.run(['list', '--host', client.name, '--last', '1', '--json'])
      const newest = (JSON.parse(listed.stdout) as { repositories: { snapshots: { id: string }[] }[] }).repositories[0]?.snapshots[0]
      expect(newest).toBeDefined()
      const dest = path.join(client.dir, 'restored')
      const r = await client.run(['restore', newest?.id ?? 'none', dest])
      expect(r.code, r.stderr).toBe(0)
      expect(Object.fromEntries(readTree(dest))).toEqual(Object.fromEntries(readTree(client.src)))
    }
  }, 600_000)

  it('the secret key appears in no output of any command', () => {
    expect(outputs.length).toBeGreaterThan(8)
    for (const r of outputs) {
      expect(r.stdout).not.toContain(peer.secretKey)
      expect(r.stderr).not.toContain(peer.secretKey)
    }
  })
})
