/**
 * A repository over SFTP end to end (`node dist/cli/main.js` against OpenSSH's sshd on loopback, started by
 * scripts/peers/sshd.sh with its own host and client keys): init, backup, list, restore, check --verify-data,
 * a second backup, prune, compact, and a restore that must still be identical; a host key that is not the
 * one in `sftp_known_hosts` is refused before anything is written. Set VGER_TEST_REMOTE=skip to skip.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { PEER_START_TIMEOUT_MS, type SftpPeer, startSftp } from '../helpers/peers.js'
import { type CliResult, ensureBuilt, errorCode, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'
import { makeTree, readTree } from '../helpers/tree.js'

const PASS = 'remote passphrase'

const snapshots = (r: CliResult): number =>
  (JSON.parse(r.stdout) as { repositories: { snapshots: unknown[] }[] }).repositories[0]?.snapshots.length ?? -1

const skip = process.env.VGER_TEST_REMOTE === 'skip'
const reason = !addonBuilt ? NO_ADDON_REASON : skip ? 'VGER_TEST_REMOTE=skip' : ''

describe.skipIf(reason !== '')(`repository over SFTP (sshd)${reason === '' ? '' : ` — skipped: ${reason}`}`, () => {
  let peer: SftpPeer
  let work: string
  let home: string
  let src: string
  let config: string
  let repoDir: string

  const vger = (args: string[], file = config): Promise<CliResult> =>
    runCli(['-c', file, ...args], {
      cwd: work,
      env: { HOME: home, VGER_PASSPHRASE: PASS, VGER_TEST_KDF: 'fast' },
      timeoutMs: 120_000,
    })

  const writeConfig = (dir: string, knownHosts: string, file = 'vger.yaml'): string => {
    const p = path.join(work, file)
    writeFileSync(
      p,
      [
        'repositories:',
        `  - url: sftp://${peer.user}@${peer.host}:${peer.port}${dir}`,
        '    label: sftp',
        `    sftp_key: ${peer.keyPath}`,
        `    sftp_known_hosts: ${knownHosts}`,
        '    sftp_timeout: 20',
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
    peer = await startSftp()
    work = tempDir()
    home = tempDir()
    src = path.join(work, 'src')
    makeTree(src)
    repoDir = path.join(peer.root, `e2e-${randomBytes(6).toString('hex')}`)
    config = writeConfig(repoDir, peer.knownHostsPath)
  }, PEER_START_TIMEOUT_MS)

  afterAll(async () => {
    await peer?.stop()
  })

  it('init, backup, restore identical, check --verify-data clean', async () => {
    const i = await vger(['init'])
    expect(i.code, i.stderr).toBe(0)
    const b = await vger(['backup'])
    expect(b.code, b.stderr).toBe(0)
    const list = await vger(['list', '--json'])
    expect(list.code, list.stderr).toBe(0)
    expect(snapshots(list)).toBe(1)
    const dest = path.join(work, 'restored-1')
    const r = await vger(['restore', 'latest', dest])
    expect(r.code, r.stderr).toBe(0)
    expect(Object.fromEntries(readTree(dest))).toEqual(Object.fromEntries(readTree(src)))
    const c = await vger(['check', '--verify-data'])
    expect(c.code, c.stderr).toBe(0)
    // The server's directory holds the repository's objects and no temporary file.
    expect(readdirSync(repoDir).sort()).toEqual(['config', 'index', 'keys', 'locks', 'packs', 'snapshots'])
  })

  it('a second backup, prune and compact leave the newest snapshot whole', async () => {
    writeFileSync(path.join(src, 'changed.bin'), randomBytes(300_000))
    expect((await vger(['backup'])).code).toBe(0)
    const p = await vger(['prune', '--force'])
    expect(p.code, p.stderr).toBe(0)
    expect(snapshots(await vger(['list', '--json']))).toBe(1)
    const k = await vger(['compact', '--threshold', '0'])
    expect(k.code, k.stderr).toBe(0)
    const c = await vger(['check', '--verify-data'])
    expect(c.code, c.stderr).toBe(0)
    const dest = path.join(work, 'restored-2')
    const r = await vger(['restore', 'latest', dest])
    expect(r.code, r.stderr).toBe(0)
    expect(Object.fromEntries(readTree(dest))).toEqual(Object.fromEntries(readTree(src)))
  })

  it('a host key that is not the trusted one is refused, naming the known_hosts file, and nothing is written', async () => {
    const wrong = path.join(work, 'wrong_known_hosts')
    // A valid ed25519 key line that is not the server's.
    writeFileSync(wrong, `[${peer.host}]:${peer.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`)
    const dir = path.join(peer.root, `mitm-${randomBytes(4).toString('hex')}`)
    const r = await vger(['init'], writeConfig(dir, wrong, 'mitm.yaml'))
    expect(r.code).toBe(1)
    expect(errorCode(r.stderr)).toBe('VGER_REMOTE_AUTH')
    expect(r.stderr).toContain(wrong)
    expect(() => readdirSync(dir)).toThrow()
  })
})
