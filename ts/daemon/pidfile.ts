/**
 * One daemon per config: an exclusive lock file (created with O_EXCL) holding the daemon's pid, start
 * time, config file and the machine's boot id. A second daemon finds it and refuses with
 * VGER_DAEMON_RUNNING, naming the pid. A file left by a daemon that was killed (its pid no longer runs,
 * or it was written before the last reboot, when pids start over) is stale: it is removed and the lock
 * taken. The daemon removes the file when it stops.
 */
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import { VgerError } from '../errors.js'

export interface Holder {
  pid: number
  startedAt: string
  config: string | null
  /** Linux: /proc/sys/kernel/random/boot_id, so a file from before a reboot is never taken for a live daemon. */
  bootId?: string
}

export interface PidLock {
  readonly file: string
  release(): void
}

/** A file younger than this without a readable pid belongs to a daemon that is writing it right now. */
const FRESH_MS = 5000

export function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

/** Whether the daemon that wrote `h` may still run. */
export function isAlive(h: Holder, boot = bootId(), self = process.pid): boolean {
  if (h.bootId !== undefined && boot !== undefined && h.bootId !== boot) return false
  if (h.pid === self) return false
  try {
    process.kill(h.pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readHolder(file: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>
    return typeof h.pid === 'number' && Number.isInteger(h.pid) && h.pid > 0
      ? { pid: h.pid, startedAt: String(h.startedAt), config: h.config ?? null, ...(h.bootId === undefined ? {} : { bootId: h.bootId }) }
      : undefined
  } catch {
    return undefined
  }
}

function running(file: string, h: Holder): VgerError {
  const config = h.config ?? 'the built-in config'
  return new VgerError(
    'VGER_DAEMON_RUNNING',
    `vger daemon is already running for ${config} (pid ${h.pid}, since ${h.startedAt}; lock file ${file}); ` +
      `stop it first (kill -TERM ${h.pid}), or send it SIGHUP (kill -HUP ${h.pid}) to reload its config`,
  )
}

/** Takes the lock at `file` for `me`, or throws VGER_DAEMON_RUNNING naming the daemon that holds it. */
export function acquirePidLock(file: string, me: Holder): PidLock {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number
    try {
      fd = openSync(file, 'wx', 0o600)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const holder = readHolder(file)
      if (holder === undefined) {
        let age = Number.POSITIVE_INFINITY
        try {
          age = Date.now() - statSync(file).mtimeMs
        } catch {
          continue // gone in between: try again
        }
        if (age < FRESH_MS) {
          throw new VgerError('VGER_DAEMON_RUNNING', `another vger daemon is starting (lock file ${file}); try again in a few seconds`)
        }
      } else if (isAlive(holder)) {
        throw running(file, holder)
      }
      // Stale: its daemon is gone.
      try {
        unlinkSync(file)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
      continue
    }
    try {
      writeSync(fd, `${JSON.stringify(me)}\n`)
    } finally {
      closeSync(fd)
    }
    return {
      file,
      release: () => {
        // Only our own file: never one another daemon took over.
        if (readHolder(file)?.pid !== me.pid) return
        try {
          unlinkSync(file)
        } catch {
          // Already gone.
        }
      },
    }
  }
  throw new VgerError('VGER_DAEMON_RUNNING', `could not take the daemon lock ${file}: another daemon keeps taking it`)
}
