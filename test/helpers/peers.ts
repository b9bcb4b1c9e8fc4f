/**
 * Real test peers on loopback for the remote backends: moto (S3) and OpenSSH sshd (SFTP), started by
 * scripts/peers/*.sh in a fresh temp dir. The first start on a machine installs them (pip into .ci/venv, apt-get
 * for openssh-server as root), which can take a minute or two; later starts take about a second.
 * With VGER_TEST_S3_PEER=seaweedfs the S3 peer is SeaweedFS instead (scripts/peers/seaweedfs.sh: a production
 * S3 server checking SigV4; its first start builds weed with Go into .ci/bin, a few minutes).
 */
import { execFile } from 'node:child_process'
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isRoot, ROOT } from './addon.js'

const SCRIPTS = path.join(ROOT, 'scripts', 'peers')

/** Enough for a first start on a fresh machine (apt-get update + install, pip install, or building weed). */
export const PEER_START_TIMEOUT_MS = 600_000

/** Which S3 server the S3 peer is: moto (default) or SeaweedFS (`VGER_TEST_S3_PEER=seaweedfs`). */
export type S3PeerKind = 'moto' | 'seaweedfs'

/** The S3 peer kind VGER_TEST_S3_PEER asks for; an unknown value throws rather than testing moto by mistake. */
export function s3PeerKind(): S3PeerKind {
  const v = process.env.VGER_TEST_S3_PEER ?? ''
  if (v === '' || v === 'moto') return 'moto'
  if (v === 'seaweedfs') return 'seaweedfs'
  throw new Error(`VGER_TEST_S3_PEER=${v}: expected moto or seaweedfs`)
}

interface PeerBase {
  /** The temp dir holding the peer's keys, config, log and env file. */
  dir: string
  pid: number
  /** The VGER_TEST_* variables from the env file, e.g. to pass on to a child process. */
  env: Record<string, string>
  /** Stops the peer and removes `dir` (kept with VGER_KEEP_TMP=1). Safe to call twice. */
  stop(): Promise<void>
}

export interface S3Peer extends PeerBase {
  kind: S3PeerKind
  /** e.g. http://127.0.0.1:40279 (path-style requests: `${endpoint}/${bucket}/key`). */
  endpoint: string
  bucket: string
  region: string
  accessKey: string
  secretKey: string
}

export interface SftpPeer extends PeerBase {
  host: string
  port: number
  user: string
  /** Client private key (ed25519, no passphrase). */
  keyPath: string
  /** known_hosts holding the server's host key as `[127.0.0.1]:PORT`. */
  knownHostsPath: string
  /** A writable directory on the server for repositories (same filesystem as the test, absolute path). */
  root: string
  /** Options for the ssh/sftp CLIs that ignore ~/.ssh and trust only `knownHostsPath` (add -p/-P PORT). */
  sshOptions: string[]
}

/** Why each peer cannot start here, or undefined when it should. */
export interface PeerReasons {
  s3: string | undefined
  sftp: string | undefined
}

function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue
    try {
      accessSync(path.join(dir, cmd), constants.X_OK)
      return true
    } catch {
      // not in this dir
    }
  }
  return false
}

function missing(cmds: string[]): string[] {
  return cmds.filter((c) => !onPath(c))
}

/**
 * Cheap checks (no process is started) for whether startS3/startSftp can work on this machine. Missing
 * packages do not count when the scripts can install them (root with apt-get).
 */
export function peersAvailable(): PeerReasons {
  if (process.platform !== 'linux') {
    const reason = `test peers need Linux (this is ${process.platform})`
    return { s3: reason, sftp: reason }
  }
  const canApt = isRoot && onPath('apt-get')
  const s3Missing = missing(canApt ? ['sh', 'flock'] : ['sh', 'flock', 'curl'])
  if (s3PeerKind() === 'seaweedfs') {
    // scripts/peers/seaweedfs.sh builds weed into .ci/bin/weed-<version> with Go, once.
    const built = existsSync(path.join(ROOT, '.ci', 'bin')) && readdirSync(path.join(ROOT, '.ci', 'bin')).some((f) => /^weed-v/.test(f))
    if (!built && !onPath('go') && !existsSync('/usr/local/go/bin/go')) s3Missing.push('go (to build SeaweedFS)')
    if (!onPath('python3') && !onPath('node')) s3Missing.push('python3 or node')
  } else {
    const venvReady = existsSync(path.join(ROOT, '.ci', 'venv', 'bin', 'moto_server'))
    if (!venvReady && !onPath('python3') && !canApt) s3Missing.push('python3')
  }
  const sftpMissing = [...missing(['sh']), ...(canApt ? [] : missing(['ssh', 'sftp', 'ssh-keygen']))]
  if (!canApt && !existsSync('/usr/sbin/sshd')) sftpMissing.push('/usr/sbin/sshd (apt-get install openssh-server)')
  const why = (m: string[]): string | undefined => (m.length === 0 ? undefined : `missing ${m.join(', ')}`)
  return { s3: why(s3Missing), sftp: why(sftpMissing) }
}

function run(script: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'sh',
      [path.join(SCRIPTS, script), ...args],
      {
        cwd: ROOT,
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
        // The scripts stop the peer themselves if this process dies without calling stop().
        env: { ...process.env, VGER_PEERS_OWNER_PID: String(process.pid) },
      },
      (err, _stdout, stderr) => {
        if (err === null) resolve()
        else reject(new Error(`${script} ${args.join(' ')} failed (${err.message.split('\n')[0]}):\n${stderr.trim()}`))
      },
    )
  })
}

function readEnvFile(file: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const eq = line.indexOf('=')
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1)
  }
  return env
}

function need(env: Record<string, string>, key: string): string {
  const v = env[key]
  if (v === undefined || v === '') throw new Error(`peer env file lacks ${key}`)
  return v
}

async function startPeer(script: string, envFile: string, timeoutMs: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vger-peer-'))
  const stop = async (): Promise<void> => {
    if (!existsSync(dir)) return
    await run(script, ['stop', dir], 30_000)
    if (process.env.VGER_KEEP_TMP !== '1') rmSync(dir, { recursive: true, force: true })
  }
  try {
    await run(script, ['start', dir], timeoutMs)
    return { dir, env: readEnvFile(path.join(dir, envFile)), stop }
  } catch (e) {
    await stop().catch(() => undefined)
    throw e
  }
}

/**
 * Starts the S3 peer with bucket `vger-test`: moto[server] (any key and secret are accepted), or SeaweedFS with
 * VGER_TEST_S3_PEER=seaweedfs (only the returned key and secret are).
 */
export async function startS3(timeoutMs = PEER_START_TIMEOUT_MS): Promise<S3Peer> {
  const kind = s3PeerKind()
  const { dir, env, stop } = await startPeer(kind === 'seaweedfs' ? 'seaweedfs.sh' : 's3.sh', 's3.env', timeoutMs)
  return {
    kind,
    dir,
    env,
    stop,
    pid: Number(need(env, 'VGER_TEST_S3_PID')),
    endpoint: need(env, 'VGER_TEST_S3_ENDPOINT'),
    bucket: need(env, 'VGER_TEST_S3_BUCKET'),
    region: need(env, 'VGER_TEST_S3_REGION'),
    accessKey: need(env, 'VGER_TEST_S3_KEY'),
    secretKey: need(env, 'VGER_TEST_S3_SECRET'),
  }
}

/** Starts sshd on 127.0.0.1 accepting the returned key for the current user, with the internal SFTP server. */
export async function startSftp(timeoutMs = PEER_START_TIMEOUT_MS): Promise<SftpPeer> {
  const { dir, env, stop } = await startPeer('sshd.sh', 'sftp.env', timeoutMs)
  const keyPath = need(env, 'VGER_TEST_SFTP_KEY')
  const knownHostsPath = need(env, 'VGER_TEST_SFTP_KNOWN_HOSTS')
  return {
    dir,
    env,
    stop,
    pid: Number(need(env, 'VGER_TEST_SFTP_PID')),
    host: need(env, 'VGER_TEST_SFTP_HOST'),
    port: Number(need(env, 'VGER_TEST_SFTP_PORT')),
    user: need(env, 'VGER_TEST_SFTP_USER'),
    keyPath,
    knownHostsPath,
    root: need(env, 'VGER_TEST_SFTP_ROOT'),
    sshOptions: [
      '-F',
      '/dev/null',
      '-i',
      keyPath,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'IdentityAgent=none',
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${knownHostsPath}`,
      '-o',
      'StrictHostKeyChecking=yes',
    ],
  }
}

export interface WebdavPeer extends PeerBase {
  /** e.g. 127.0.0.1:40123 */
  hostPort: string
  user: string
  password: string
  /** The directory the server serves (same filesystem as the test). */
  root: string
}

/** Starts `rclone serve webdav` on 127.0.0.1 over a fresh directory, with a user and password. */
export async function startWebdav(timeoutMs = PEER_START_TIMEOUT_MS): Promise<WebdavPeer> {
  const { dir, env, stop } = await startPeer('webdav.sh', 'webdav.env', timeoutMs)
  return {
    dir,
    env,
    stop,
    pid: Number(need(env, 'VGER_TEST_WEBDAV_PID')),
    hostPort: `${need(env, 'VGER_TEST_WEBDAV_HOST')}:${need(env, 'VGER_TEST_WEBDAV_PORT')}`,
    user: need(env, 'VGER_TEST_WEBDAV_USER'),
    password: need(env, 'VGER_TEST_WEBDAV_PASSWORD'),
    root: need(env, 'VGER_TEST_WEBDAV_ROOT'),
  }
}
