/**
 * A repository on a WebDAV server end to end (`node dist/cli/main.js` against `rclone serve webdav` on loopback,
 * started by scripts/peers/webdav.sh): init, backup, list, restore, check --verify-data, a second backup, prune,
 * compact, and a restore that must still be identical. WebDAV has no create-only write: objects go up under a
 * temporary name and are moved into place, so none is left behind, and an existing name is never overwritten
 * by init. The password reaches the engine through `${VAR}` and appears in no output. Set
 * VGER_TEST_REMOTE=skip to skip.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { PEER_START_TIMEOUT_MS, type WebdavPeer, startWebdav } from '../helpers/peers.js'
import { type CliResult, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'
import { makeTree, readTree } from '../helpers/tree.js'

const PASS = 'remote passphrase'

const snapshots = (r: CliResult): number =>
  (JSON.parse(r.stdout) as { repositories: { snapshots: unknown[] }[] }).repositories[0]?.snapshots.length ?? -1

const skip = process.env.VGER_TEST_REMOTE === 'skip'
const reason = !addonBuilt ? NO_ADDON_REASON : skip ? 'VGER_TEST_REMOTE=skip' : ''

/** Every file under `dir`, relative. */
function files(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name)
    if (statSync(p).isDirectory()) out.push(...files(p).map((f) => path.join(name, f)))
    else out.push(name)
  }
  return out
}

describe.skipIf(reason !== '')(`repository on WebDAV (rclone serve webdav)${reason === '' ? '' : ` — skipped: ${reason}`}`, () => {
  let peer: WebdavPeer
  let work: string
  let home: string
  let src: string
  let config: string
  let repoName: string
  const outputs: CliResult[] = []

  const vger = async (args: string[], password = peer.password): Promise<CliResult> => {
    const r = await runCli(['-c', config, ...args], {
      cwd: work,
      env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast', DAV_PASSWORD: password },
      timeoutMs: 120_000,
    })
    outputs.push(r)
    return r
  }

  beforeAll(async () => {
    ensureBuilt()
    peer = await startWebdav()
    work = tempDir()
    home = tempDir()
    src = path.join(work, 'src')
    makeTree(src)
    repoName = `e2e-${randomBytes(6).toString('hex')}`
    config = path.join(work, 'vger.yaml')
    writeFileSync(
      config,
      [
        'repositories:',
        `  - url: webdav://${peer.user}@${peer.hostPort}/${repoName}`,
        '    label: dav',
        '    webdav_password: ${DAV_PASSWORD}',
        'sources:',
        '  - src',
        'retention:',
        '  keep_last: 1',
        '',
      ].join('\n'),
    )
  }, PEER_START_TIMEOUT_MS)

  afterAll(async () => {
    await peer?.stop()
  })

  it('init, backup, restore identical, check --verify-data clean; no temporary object is left', async () => {
    const i = await vger(['init'])
    expect(i.code, i.stderr).toBe(0)
    const b = await vger(['backup'])
    expect(b.code, b.stderr).toBe(0)
    expect(snapshots(await vger(['list', '--json']))).toBe(1)
    const dest = path.join(work, 'restored-1')
    const r = await vger(['restore', 'latest', dest])
    expect(r.code, r.stderr).toBe(0)
    expect(Object.fromEntries(readTree(dest))).toEqual(Object.fromEntries(readTree(src)))
    const c = await vger(['check', '--verify-data'])
    expect(c.code, c.stderr).toBe(0)
    const stored = files(path.join(peer.root, repoName))
    expect(stored.some((f) => f.startsWith('packs/'))).toBe(true)
    expect(stored.filter((f) => path.basename(f).startsWith('.tmp.'))).toEqual([])
  })

  it('a second backup, prune and compact leave the newest snapshot whole', async () => {
    writeFileSync(path.join(src, 'changed.bin'), randomBytes(300_000))
    expect((await vger(['backup'])).code).toBe(0)
    const p = await vger(['prune', '--force'])
    expect(p.code, p.stderr).toBe(0)
    expect(snapshots(await vger(['list', '--json']))).toBe(1)
    const k = await vger(['compact', '--threshold', '0'])
    expect(k.code, k.stderr).toBe(0)
    expect((await vger(['check', '--verify-data'])).code).toBe(0)
    const dest = path.join(work, 'restored-2')
    const r = await vger(['restore', 'latest', dest])
    expect(r.code, r.stderr).toBe(0)
    expect(Object.fromEntries(readTree(dest))).toEqual(Object.fromEntries(readTree(src)))
  })

  it('init over an existing repository is refused and changes nothing', async () => {
    const before = files(path.join(peer.root, repoName)).sort()
    const i = await vger(['init'])
    expect(i.code).not.toBe(0)
    expect(files(path.join(peer.root, repoName)).sort()).toEqual(before)
  })

  it('a wrong password is VGER_REMOTE_AUTH, and no password appears in any output', async () => {
    const r = await vger(['list'], 'not-the-password')
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr), r.stderr).toBe('VGER_REMOTE_AUTH')
    for (const o of outputs) {
      expect(o.stdout + o.stderr).not.toContain(peer.password)
      expect(o.stdout + o.stderr).not.toContain('not-the-password')
    }
  })
})
