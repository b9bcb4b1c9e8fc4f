/** Runs the built CLI (`node dist/cli/main.js`) as a child process with a clean environment. */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from './addon.js'

export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js')

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunCliOptions {
  /** Added to a minimal environment (PATH, HOME, XDG dirs); VGER_* from the outer env never leak in. */
  env?: Record<string, string | undefined>
  cwd?: string
  /** Kill the CLI after this long (default 90 s). */
  timeoutMs?: number
  /** Called with each stderr chunk, e.g. to send a signal once progress starts. */
  onStderr?: (chunk: string, child: { kill(signal: NodeJS.Signals): boolean }) => void
  /** Close our end of the child's stdout at once, as `vger … | true` does (its writes then fail with EPIPE). */
  closeStdout?: boolean
  /** Called once the process has started. */
  onSpawn?: (child: { kill(signal: NodeJS.Signals): boolean }) => void
}

function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

/** The CLI bundled into one file, which main.js loads (scripts/bundle-cli.mjs). */
const BUNDLE = path.join(ROOT, 'dist', 'vger-cli.mjs')

/** Compiles ts/ to dist/ and bundles the CLI when either is missing or older than the sources. */
export function ensureBuilt(): void {
  const sources = newestMtime(path.join(ROOT, 'ts'))
  if ([CLI, BUNDLE].every((f) => existsSync(f) && statSync(f).mtimeMs >= sources)) return
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  })
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'bundle-cli.mjs')], { cwd: ROOT, stdio: 'inherit' })
}

/** A minimal environment rooted at `home`, so no real user config or repository is touched. */
export function cliEnv(home: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    ...extra,
  }
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))
}

export function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  const cwd = opts.cwd ?? ROOT
  const env = opts.env?.HOME !== undefined ? cliEnv(opts.env.HOME, opts.env) : cliEnv(cwd, opts.env)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000)
    if (opts.closeStdout) child.stdout.destroy()
    else child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
    child.stderr.on('data', (c: Buffer) => {
      const chunk = c.toString('utf8')
      stderr += chunk
      opts.onStderr?.(chunk, child)
    })
    child.on('error', reject)
    child.on('spawn', () => opts.onSpawn?.(child))
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/** The `vger: error[CODE]` code printed on stderr, if any. */
export function errorCode(stderr: string): string | undefined {
  return /^vger: error\[([A-Z0-9_]+)\]/m.exec(stderr)?.[1]
}
