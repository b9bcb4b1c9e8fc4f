/**
 * Runs one hook command with `sh -c`: stdin from /dev/null, stdout and stderr captured together (the
 * first `maxOutput` bytes kept, the rest counted), in its own process group so that a timeout or an abort
 * kills whatever the shell started too. Never rejects: the result says how it ended.
 */
import { spawn } from 'node:child_process'

/** vykar's fixed limit; `VGER_HOOK_TIMEOUT` (seconds) changes it. */
export const HOOK_TIMEOUT_MS = 5 * 60 * 1000
/** Output kept per hook; the rest is counted and dropped. */
export const HOOK_MAX_OUTPUT = 64 * 1024

export interface RunHookOptions {
  env: NodeJS.ProcessEnv
  cwd?: string
  timeoutMs?: number
  maxOutput?: number
  /** Aborting kills the hook's process group. */
  signal?: AbortSignal
}

export interface HookResult {
  ok: boolean
  /** The exit status, or null when the hook was killed by a signal or could not start. */
  exitCode: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  aborted: boolean
  /** Could not be started at all (no `sh`, a bad cwd). */
  spawnError?: string
  /** stdout and stderr interleaved, at most `maxOutput` bytes (a UTF-8 character may be cut at the end). */
  output: string
  /** Bytes printed beyond `output`. */
  droppedBytes: number
  /** The last line the hook printed (from the whole output, not only the kept part). */
  lastLine: string
  durationMs: number
}

/** How a finished hook failed, for messages: "exited with status 3", "did not finish within 5 s"… */
export function describeFailure(r: HookResult, timeoutMs: number): string {
  if (r.spawnError !== undefined) return `could not be started: ${r.spawnError}`
  if (r.timedOut) return `did not finish within ${formatLimit(timeoutMs)} and was killed (with its child processes)`
  if (r.aborted) return 'was stopped by an interrupt'
  if (r.signal !== null) return `was killed by ${r.signal}`
  if (r.exitCode === 127) return 'exited with status 127 (command not found)'
  return `exited with status ${String(r.exitCode)}`
}

function formatLimit(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`
}

/** The tail of the output kept to find its last line. */
const TAIL = 2000

export function runHook(command: string, opts: RunHookOptions): Promise<HookResult> {
  const timeoutMs = opts.timeoutMs ?? HOOK_TIMEOUT_MS
  const maxOutput = opts.maxOutput ?? HOOK_MAX_OUTPUT
  const started = Date.now()
  return new Promise((resolve) => {
    const kept: Buffer[] = []
    let size = 0
    let tail = ''
    let timedOut = false
    let aborted = false
    let spawnError: string | undefined
    const child = spawn('sh', ['-c', command], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: opts.env,
      ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    })
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      } catch {
        child.kill('SIGKILL')
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      killGroup()
    }, timeoutMs)
    const onAbort = (): void => {
      aborted = true
      killGroup()
    }
    if (opts.signal?.aborted === true) onAbort()
    else opts.signal?.addEventListener('abort', onAbort, { once: true })
    const collect = (chunk: Buffer): void => {
      const room = maxOutput - Math.min(size, maxOutput)
      if (room > 0) kept.push(chunk.length <= room ? chunk : chunk.subarray(0, room))
      size += chunk.length
      tail = (tail + chunk.toString('utf8')).slice(-TAIL)
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    child.on('error', (e) => {
      spawnError = e.message
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      // The shell may be gone while a child it started in the background still runs: end the group.
      if (timedOut || aborted) killGroup()
      const ok = spawnError === undefined && !timedOut && !aborted && code === 0
      resolve({
        ok,
        exitCode: code,
        signal,
        timedOut,
        aborted,
        ...(spawnError === undefined ? {} : { spawnError }),
        output: Buffer.concat(kept).toString('utf8'),
        droppedBytes: Math.max(0, size - maxOutput),
        lastLine: tail.trimEnd().split('\n').pop() ?? '',
        durationMs: Date.now() - started,
      })
    })
  })
}
