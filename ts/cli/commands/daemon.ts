/**
 * `vger daemon`: runs the full cycle of each repository on its `schedule` until SIGTERM or SIGINT
 * (docs/daemon.md). SIGHUP reloads the config. The scheduling, state, lock and status page live in
 * ts/daemon/; this module wires them to the CLI: each job is the bare `vger -R <repository>` cycle, run in
 * a context of its own with the config the daemon last loaded and an AbortSignal the daemon controls.
 */
import { PassThrough, Writable } from 'node:stream'
import { loadConfig } from '../../config/load.js'
import type { RepositoryConfig, VgerConfig } from '../../config/types.js'
import { inertWarning } from '../../config/inert.js'
import { VgerError, asVgerError } from '../../errors.js'
import { Daemon, type JobOutcome, noScheduleMessage, scheduledRepositories } from '../../daemon/daemon.js'
import { daemonFiles } from '../../daemon/files.js'
import { type DaemonEvent, renderEvent } from '../../daemon/log.js'
import { acquirePidLock, bootId } from '../../daemon/pidfile.js'
import { StateStore } from '../../daemon/state.js'
import { type StatusServer, parseListen, startStatusServer } from '../../daemon/status-server.js'
import { packageVersion } from '../command-line.js'
import { CliContext, type CliIo } from '../context.js'
import { EXIT, type ExitCode } from '../exit.js'
import { configSecrets } from '../hooks.js'
import type { Stream } from '../output.js'
import { runCycle } from './cycle.js'

export interface DaemonFlags {
  statusListen?: string
  statusAllowRemote?: boolean
}

export async function daemon(ctx: CliContext, flags: DaemonFlags): Promise<ExitCode> {
  // At once: SIGHUP's default action ends the process. One that comes before the loop exists has nothing to
  // reload (the config is being read now).
  let instance: Daemon | undefined
  const onHup = (): void => void instance?.reload()
  process.on('SIGHUP', onHup)
  try {
    return await runDaemon(ctx, flags, (d) => (instance = d))
  } finally {
    process.off('SIGHUP', onHup)
  }
}

async function runDaemon(ctx: CliContext, flags: DaemonFlags, started: (d: Daemon) => void): Promise<ExitCode> {
  if (ctx.options.repo !== undefined || ctx.options.source.length > 0) {
    throw new VgerError(
      'VGER_USAGE',
      'vger daemon runs every repository whose schedule is enabled, with all its sources; it takes no -R or -S',
    )
  }
  const config = ctx.config()
  if (scheduledRepositories(config).length === 0) throw new VgerError('VGER_CONFIG', noScheduleMessage(config.file))
  const listen = flags.statusListen === undefined ? undefined : parseListen(flags.statusListen)

  const files = daemonFiles(config.cacheDir, config.file)
  const startedAt = new Date()
  const lock = acquirePidLock(files.lock, { pid: process.pid, startedAt: startedAt.toISOString(), config: config.file, ...withBootId() })
  let server: StatusServer | undefined
  let instance: Daemon | undefined
  const onAbort = (): void => instance?.stop(signalName(ctx.signal.reason))
  const log = (e: DaemonEvent): void => logEvent(ctx, e)
  try {
    const daemon = new Daemon({
      config,
      load: () => {
        const next = loadConfig({ configFile: ctx.options.config, env: ctx.io.env, cwd: ctx.io.cwd, home: ctx.home })
        for (const key of next.inert) ctx.out.warn(inertWarning(next.file ?? 'the config', key))
        return next
      },
      runJob: (repo, cfg, signal) => runJob(ctx, repo, cfg, signal),
      state: StateStore.open(files.state, (m) => ctx.out.warn(m)),
      log,
      warn: (m) => ctx.out.warn(m),
      info: { pid: process.pid, version: packageVersion(), lockFile: files.lock },
    })
    instance = daemon
    started(daemon)
    if (listen !== undefined) server = await startStatusServer(listen, flags.statusAllowRemote === true, () => daemon.status())
    log({ type: 'daemon_start', pid: process.pid, config: config.file, status: server?.url ?? null, repositories: daemon.planned() })
    if (ctx.signal.aborted) onAbort()
    else ctx.signal.addEventListener('abort', onAbort, { once: true })
    await daemon.run()
    log({ type: 'daemon_stop', reason: signalName(ctx.signal.reason) })
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
    await server?.close()
    lock.release()
  }
  // Stopping on a signal is how a daemon ends: a success, not an interruption.
  ctx.stoppedOnSignal = true
  return EXIT.ok
}

function withBootId(): { bootId?: string } {
  const id = bootId()
  return id === undefined ? {} : { bootId: id }
}

function signalName(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason ?? 'stopped')
}

function logEvent(ctx: CliContext, e: DaemonEvent): void {
  if (ctx.out.json) {
    ctx.out.event({ ...e })
    return
  }
  const line = `vger daemon: ${renderEvent(e).replaceAll('\n', '\n  ')}`
  // A failed reload is an error, shown even with -q; the rest are status lines.
  if (e.type === 'reload' && !e.ok) ctx.io.stderr.write(`${line}\n`)
  else ctx.out.info(line)
}

/** Progress events of a job are not logged by the daemon (they are many per second); everything else is. */
const PROGRESS = /^\{"type":"(backup|restore|step)"/

/** stderr for a job in `--json` mode: its JSON lines without the progress events. */
function withoutProgress(stderr: Stream): Stream & NodeJS.WritableStream {
  const w = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      const text = chunk.toString()
      const kept = text
        .split(/(?<=\n)/)
        .filter((l) => !PROGRESS.test(l))
        .join('')
      if (kept !== '') stderr.write(kept)
      done()
    },
  })
  return Object.assign(w, { isTTY: false })
}

/** stdin for a job: never a terminal, so nothing prompts in the middle of the night. */
const noStdin = (): NodeJS.ReadableStream & { isTTY?: boolean } => Object.assign(new PassThrough().end(), { isTTY: false })

/** One full cycle of `repo`: what bare `vger -R <repo>` does, with the daemon's config and AbortSignal. */
async function runJob(parent: CliContext, repo: RepositoryConfig, config: VgerConfig, signal: AbortSignal): Promise<JobOutcome> {
  const json = parent.out.json
  const io: CliIo = {
    ...parent.io,
    stdin: noStdin(),
    stderr: json ? withoutProgress(parent.io.stderr) : parent.io.stderr,
    signal,
  }
  const ctx = new CliContext(io, { ...parent.options, repo: repo.label ?? repo.url, source: [] }, parent.secrets, config)
  const redact = (text: string): string => redactSecrets(text, [...ctx.secretValues(), ...parent.secretValues(), ...configSecrets(config)])
  try {
    const run = await runCycle(ctx)
    const snapshots = run.result.backup.snapshots.length
    const first = run.failures[0]
    if (run.exitCode === EXIT.ok || run.exitCode === EXIT.partial) {
      return { result: 'ok', snapshots, ...(run.exitCode === EXIT.partial ? { partial: true } : {}) }
    }
    const more = run.failures.length > 1 ? ` (and ${run.failures.length - 1} more)` : ''
    const error =
      first === undefined
        ? { code: 'VGER_INTERNAL', message: 'the cycle failed' }
        : { code: first.code, message: `${first.message}${more}` }
    return { result: 'failed', snapshots, error: { code: error.code, message: redact(error.message) } }
  } catch (e) {
    const err = asVgerError(e)
    return { result: signal.aborted ? 'cancelled' : 'failed', snapshots: 0, error: { code: err.code, message: redact(err.message) } }
  } finally {
    ctx.settle()
  }
}

/** `text` with every secret of 4 characters or more replaced by `***`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of [...new Set(secrets)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) out = out.replaceAll(s, '***')
  return out
}
