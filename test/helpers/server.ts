/**
 * A real `vger server` for the tests: `node dist/cli/main.js server --config <dir>/server.yaml` on 127.0.0.1 with
 * a free port (`port: 0`, read back from its "listening" log line), plus raw HTTP helpers (node:http for requests
 * a client could send, node:net for the ones it could not).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { CLI, cliEnv } from './run-cli.js'

export type Permission = 'read' | 'append' | 'full'

export interface ServerSpec {
  /** Repository name → its settings in server.yaml (url defaults to `<dir>/repos/<name>`). */
  repositories: Record<string, { quota?: number; url?: string; repack?: boolean }>
  /** Token → repository name → permission. */
  tokens: Record<string, Record<string, Permission>>
  /** More top-level lines for server.yaml. */
  extra?: string[]
}

export interface TestServer {
  dir: string
  /** http://127.0.0.1:PORT */
  base: string
  port: number
  /** Everything the server wrote to stderr so far. */
  log(): string
  /** Whether the process still runs. */
  alive(): boolean
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  child: ChildProcess
}

export const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex')
export const newToken = (): string => randomBytes(24).toString('base64url')
export const hex = (bytes: number): string => randomBytes(bytes).toString('hex')

/** Writes `<dir>/server.yaml` for `spec` and returns its path. */
export function writeServerConfig(dir: string, spec: ServerSpec): string {
  const lines = ['port: 0', 'state_dir: ./state', ...(spec.extra ?? []), 'repositories:']
  for (const [name, r] of Object.entries(spec.repositories)) {
    lines.push(`  ${name}:`, `    url: ${r.url ?? `./repos/${name}`}`)
    if (r.quota !== undefined) lines.push(`    quota: ${r.quota}`)
    if (r.repack !== undefined) lines.push(`    repack: ${r.repack}`)
  }
  lines.push('tokens:')
  for (const [token, grants] of Object.entries(spec.tokens)) {
    lines.push(`  ${sha256(token)}:`)
    for (const [repo, perm] of Object.entries(grants)) lines.push(`    ${repo}: ${perm}`)
  }
  const file = path.join(dir, 'server.yaml')
  mkdirSync(dir, { recursive: true })
  writeFileSync(file, `${lines.join('\n')}\n`)
  return file
}

/** Starts the server on `dir`'s server.yaml (written from `spec` when given). */
export async function startServer(dir: string, spec?: ServerSpec, env: Record<string, string> = {}): Promise<TestServer> {
  if (spec !== undefined) writeServerConfig(dir, spec)
  const child = spawn(process.execPath, [CLI, 'server', '--config', path.join(dir, 'server.yaml')], {
    cwd: dir,
    env: cliEnv(dir, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      exited = { code, signal }
      resolve(exited)
    }),
  )
  child.stdout?.resume()
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 20 s:\n${stderr}`)), 20_000)
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString('utf8')
      const m = /"msg":"listening","url":"(https?:\/\/[^"]+)"/.exec(stderr)
      if (m?.[1] !== undefined) {
        clearTimeout(timer)
        resolve(m[1])
      }
    })
    void exit.then(() => {
      clearTimeout(timer)
      reject(new Error(`the server exited at start:\n${stderr}`))
    })
  })
  return {
    dir,
    base: url,
    port: Number(new URL(url).port),
    log: () => stderr,
    alive: () => exited === undefined,
    stop: async (signal = 'SIGTERM') => {
      if (exited === undefined) child.kill(signal)
      return exit
    },
    child,
  }
}

export interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  /** The JSON body (an error's `{code, message}`), or undefined. */
  json: { code?: string; message?: string; [k: string]: unknown } | undefined
}

export interface RequestOptions {
  method?: string
  token?: string
  headers?: Record<string, string>
  body?: Buffer | string
}

/** One request on a new connection (no keep-alive between tests). */
export function request(base: string, urlPath: string, opts: RequestOptions = {}): Promise<Answer> {
  const u = new URL(base)
  const headers: Record<string, string> = { ...(opts.headers ?? {}) }
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: Number(u.port), method: opts.method ?? 'GET', path: urlPath, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          let json: Answer['json']
          try {
            json = JSON.parse(body.toString('utf8')) as Answer['json']
          } catch {
            json = undefined
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(opts.body)
  })
}

/**
 * Writes `bytes` on a raw connection and returns whatever comes back until the server closes it (or `waitMs`
 * passes). With `endAfterWrite` the client half-closes after writing.
 */
export function rawExchange(port: number, bytes: Buffer | string, { waitMs = 3000, endAfterWrite = false } = {}): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let got = ''
    const done = (): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(got)
    }
    const timer = setTimeout(done, waitMs)
    socket.on('data', (c: Buffer) => (got += c.toString('latin1')))
    socket.on('error', done)
    socket.on('close', done)
    socket.write(bytes, () => {
      if (endAfterWrite) socket.end()
    })
  })
}

/** The status code of a raw HTTP answer, or 0. */
export function rawStatus(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)
}
