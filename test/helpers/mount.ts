/** `vger mount` as a child process for the WebDAV tests, plain HTTP requests with exact paths, and the test tree. */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { CLI, cliEnv } from './run-cli.js'

export interface Mount {
  url: string
  port: number
  child: ChildProcess
  stderr: () => string
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>
}

/** Starts `vger -c CONFIG mount ARGS` and waits for the URL it prints on stdout. */
export function startMount(config: string, env: Record<string, string>, args: string[] = []): Promise<Mount> {
  const child = spawn(process.execPath, [CLI, '-c', config, 'mount', '--listen', '127.0.0.1:0', ...args], {
    cwd: path.dirname(config),
    env: cliEnv(env.HOME ?? path.dirname(config), env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vger mount printed no URL: ${err}`)), 20_000)
    child.on('exit', () => reject(new Error(`vger mount exited: ${err}`)))
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString()
      const line = out.split('\n')[0]
      if (!out.includes('\n') || line === undefined) return
      clearTimeout(timer)
      // `--json` prints {"url", "repository", "snapshot"}; text mode the URL alone.
      const url = line.startsWith('{') ? (JSON.parse(line) as { url: string }).url : line.trim()
      resolve({
        url,
        port: Number(new URL(url).port),
        child,
        stderr: () => err,
        stop: () => {
          child.kill('SIGTERM')
          return exited
        },
      })
    })
  })
}

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  /** The connection ended before Content-Length bytes came. */
  truncated: boolean
}

/** One request with `rawPath` sent exactly as given (no dot-segment removal, no re-encoding). */
export function request(
  port: number,
  method: string,
  rawPath: string,
  headers: http.OutgoingHttpHeaders = {},
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: rawPath, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      let truncated = false
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('aborted', () => (truncated = true))
      res.on('error', () => (truncated = true))
      res.on('close', () => {
        const b = Buffer.concat(chunks)
        const expected = res.headers['content-length']
        if (expected !== undefined && method !== 'HEAD' && b.length !== Number(expected)) truncated = true
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, truncated })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { cwd: opts.cwd, maxBuffer: 256 << 20, timeout: 60_000 }, (e, stdout, stderr) =>
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, stdout, stderr }),
    )
    if (opts.input !== undefined) child.stdin!.end(opts.input)
  })
}

/** A name that is not UTF-8 (`caf\xe9-\xff.bin`), as raw bytes. */
export const NON_UTF8 = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2d, 0xff, 0x2e, 0x62, 0x69, 0x6e])
export const ODD_NAME = 'sp ace 100% #1 ?.txt'

/** The test tree: nested dirs, an empty file, a 3 MiB random file, a symlink, odd names, and `many/` of `n` empty files. */
export function makeTree(root: string, big: Buffer, many: number): void {
  mkdirSync(path.join(root, 'nested', 'a', 'b'), { recursive: true })
  writeFileSync(path.join(root, 'nested', 'a', 'b', 'deep.txt'), 'deep\n')
  writeFileSync(path.join(root, 'nested', 'top.txt'), 'top\n')
  writeFileSync(path.join(root, 'empty'), '')
  writeFileSync(path.join(root, 'big.bin'), big)
  symlinkSync('nested/top.txt', path.join(root, 'link'))
  writeFileSync(Buffer.concat([Buffer.from(`${root}/`), NON_UTF8]), 'not utf-8\n')
  writeFileSync(path.join(root, ODD_NAME), 'odd\n')
  mkdirSync(path.join(root, 'many'))
  for (let i = 0; i < many; i++) writeFileSync(path.join(root, 'many', `f${String(i).padStart(6, '0')}`), '')
}

/**
 * Every entry under `dir` by raw name (a Buffer path, so names that are not UTF-8 are exact), as
 * relative path (latin1 of the bytes) → content; a symlink's content is its target, as the mount serves it.
 */
export function snapshotOfTree(dir: Buffer, skip: (rel: string) => boolean = () => false, rel = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const name of readdirSync(dir, { encoding: 'buffer' })) {
    const p = Buffer.concat([dir, Buffer.from('/'), name])
    const r = rel === '' ? name.toString('latin1') : `${rel}/${name.toString('latin1')}`
    if (skip(r)) continue
    const st = lstatSync(p)
    if (st.isDirectory()) for (const [k, v] of snapshotOfTree(p, skip, r)) out.set(k, v)
    else if (st.isSymbolicLink()) out.set(r, readlinkSync(p, { encoding: 'buffer' }))
    else out.set(r, readFileSync(p))
  }
  return out
}
