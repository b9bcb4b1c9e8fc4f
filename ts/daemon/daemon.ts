/**
 * The daemon's loop: runs the full cycle of each scheduled repository when the planner says it is due.
 *
 * - **One job at a time.** Due repositories join a single queue, in the order they became due, and run
 *   one after the other: one backup already uses every core, and two repositories often share a disk.
 *   A repository is never in the queue twice; a run that ends late is followed by at most one more.
 * - **Wake-ups.** The loop sleeps until the earliest planned time, but never longer than `maxSleepMs`
 *   (30 s): Node's timers follow a monotonic clock that stands still while the machine sleeps, so a short
 *   nap notices soon after a resume (or a change of the wall clock) that a run is due.
 * - **Reload** (SIGHUP) loads the config again; a broken one is reported and the old one kept. A running
 *   job keeps the config it started with.
 * - **Stop** (SIGTERM, SIGINT) aborts the running job through its AbortSignal (the engine stops at the
 *   next file or chunk, writes a checkpoint and releases its lock), waits for it to end, and returns.
 */
import type { RepositoryConfig, VgerConfig } from '../config/types.js'
import { VgerError, asVgerError } from '../errors.js'
import type { DaemonEvent, ErrorInfo, PlannedRepo } from './log.js'
import { type PlanEntry, Planner } from './planner.js'
import { type Timing, describeTiming, formatInterval, timingOf } from './schedule.js'
import type { RunRecord, RunResult, StateStore } from './state.js'

export interface Clock {
  /** Wall clock, ms since the epoch. */
  now(): number
  /** A monotonic clock in ms (performance.now()). */
  mono(): number
}

export interface JobOutcome {
  result: RunResult
  partial?: boolean
  error?: ErrorInfo
  snapshots: number
}

/** Runs the full cycle of one repository with `config`; should not throw (a throw counts as a failed run). */
export type RunJob = (repo: RepositoryConfig, config: VgerConfig, signal: AbortSignal) => Promise<JobOutcome>

export interface DaemonOptions {
  config: VgerConfig
  /** Loads the config again (SIGHUP); throws a VgerError (VGER_CONFIG with line and column) when it is broken. */
  load: () => VgerConfig
  runJob: RunJob
  state: StateStore
  log: (e: DaemonEvent) => void
  warn: (message: string) => void
  /** Shown on the status page. */
  info: { pid: number; version: string; lockFile: string }
  clock?: Clock
  random?: () => number
  maxSleepMs?: number
}

export interface RepoStatus {
  name: string
  label: string | null
  url: string
  schedule: { every: string | null; cron: string | null; jitterSeconds: number; onStartup: boolean; text: string }
  state: 'idle' | 'queued' | 'running'
  runningSince: string | null
  nextRun: string | null
  lastRun: RunRecord | null
  lastSuccessAt: string | null
  failuresSinceSuccess: number
  runs: Record<RunResult, number>
}

export interface DaemonStatus {
  daemon: {
    pid: number
    version: string
    startedAt: string
    configFile: string | null
    stateFile: string
    lockFile: string
    lastReload: { at: string; ok: boolean; error?: ErrorInfo } | null
  }
  queue: string[]
  repositories: RepoStatus[]
}

const SYSTEM_CLOCK: Clock = { now: () => Date.now(), mono: () => performance.now() }

/** The repositories the daemon runs: those whose effective `schedule` is enabled. */
export function scheduledRepositories(config: VgerConfig): RepositoryConfig[] {
  return config.repositories.filter((r) => r.schedule.enabled)
}

/** A repository URL without user, password, query or fragment, for the status page. */
export function displayUrl(url: string): string {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) return url
  try {
    const u = new URL(url)
    u.username = ''
    u.password = ''
    u.search = ''
    u.hash = ''
    return u.toString()
  } catch {
    return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/]*@/, '$1').replace(/[?#].*$/, '')
  }
}

interface Running {
  key: string
  name: string
  startedAt: number
  controller: AbortController
  done: Promise<void>
}

export class Daemon {
  #config: VgerConfig
  readonly #planner: Planner
  readonly #clock: Clock
  readonly #maxSleepMs: number
  readonly #startedAt: number
  readonly #queue: string[] = []
  #running: Running | undefined
  #stopping: string | undefined
  #wake: (() => void) | undefined
  #lastReload: DaemonStatus['daemon']['lastReload'] = null

  constructor(readonly opts: DaemonOptions) {
    this.#config = opts.config
    this.#clock = opts.clock ?? SYSTEM_CLOCK
    this.#planner = new Planner(opts.random)
    this.#maxSleepMs = opts.maxSleepMs ?? 30_000
    this.#startedAt = this.#clock.now()
    this.#planner.configure(this.#entries(), this.#lastStart, this.#startedAt, true)
  }

  readonly #lastStart = (key: string): number | undefined => this.opts.state.lastCountedStart(key)

  #entries(): PlanEntry[] {
    return scheduledRepositories(this.#config).map((r) => ({ key: r.url, timing: timingOf(r.schedule) }))
  }

  #iso(ms: number | undefined): string | null {
    return ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString()
  }

  /** Each scheduled repository with its schedule and next planned run, for the log. */
  planned(): PlannedRepo[] {
    return scheduledRepositories(this.#config).map((r) => ({
      repository: r.name,
      schedule: describeTiming(timingOf(r.schedule)),
      nextRun: this.#iso(this.#planner.nextDue(r.url)),
    }))
  }

  /** Runs until `stop`; resolves once the running job (if any) has ended. */
  async run(): Promise<void> {
    while (this.#stopping === undefined) {
      const now = this.#clock.now()
      for (const key of this.#planner.tick(now, this.#clock.mono(), this.#lastStart)) this.#queue.push(key)
      if (this.#running === undefined && this.#queue.length > 0) {
        this.#startNext()
        continue
      }
      const wait = Math.min(this.#planner.wakeIn(now) ?? this.#maxSleepMs, this.#maxSleepMs)
      await this.#sleep(wait)
    }
    await this.#running?.done
  }

  /** Asks the loop to end: aborts the running job; `run` resolves once it has ended. */
  stop(reason: string): void {
    if (this.#stopping !== undefined) return
    this.#stopping = reason
    this.#running?.controller.abort(new Error(reason))
    this.#wake?.()
  }

  /** Loads the config again; on failure keeps the old one. Returns the event it logged. */
  reload(): DaemonEvent {
    const at = new Date(this.#clock.now()).toISOString()
    let event: DaemonEvent
    try {
      const config = this.opts.load()
      if (scheduledRepositories(config).length === 0) {
        throw new VgerError('VGER_CONFIG', noScheduleMessage(config.file))
      }
      this.#config = config
      const keys = new Set(scheduledRepositories(config).map((r) => r.url))
      // Queued repositories no longer scheduled leave the queue.
      for (let i = this.#queue.length - 1; i >= 0; i--) if (!keys.has(this.#queue[i] ?? '')) this.#queue.splice(i, 1)
      this.#planner.configure(this.#entries(), this.#lastStart, this.#clock.now(), false)
      this.#lastReload = { at, ok: true }
      event = { type: 'reload', ok: true, repositories: this.planned() }
    } catch (e) {
      const err = asVgerError(e)
      const error = { code: err.code, message: err.message }
      this.#lastReload = { at, ok: false, error }
      event = { type: 'reload', ok: false, error }
    }
    this.opts.log(event)
    this.#wake?.()
    return event
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.#wake = done
    })
  }

  #startNext(): void {
    const key = this.#queue.shift()
    if (key === undefined) return
    const repo = scheduledRepositories(this.#config).find((r) => r.url === key)
    if (repo === undefined) return
    const config = this.#config
    const controller = new AbortController()
    const startedAt = this.#clock.now()
    const running: Running = { key, name: repo.name, startedAt, controller, done: Promise.resolve() }
    this.opts.log({ type: 'job_start', repository: repo.name })
    running.done = this.opts
      .runJob(repo, config, controller.signal)
      .catch((e: unknown): JobOutcome => {
        const err = asVgerError(e)
        return { result: controller.signal.aborted ? 'cancelled' : 'failed', error: { code: err.code, message: err.message }, snapshots: 0 }
      })
      .then((outcome) => this.#finish(running, repo, outcome))
    this.#running = running
  }

  #finish(running: Running, repo: RepositoryConfig, outcome: JobOutcome): void {
    const endedAt = this.#clock.now()
    const result: RunResult = outcome.result !== 'ok' && running.controller.signal.aborted ? 'cancelled' : outcome.result
    const record: RunRecord = {
      startedAt: new Date(running.startedAt).toISOString(),
      endedAt: new Date(endedAt).toISOString(),
      durationMs: Math.max(0, endedAt - running.startedAt),
      result,
      ...(outcome.partial === true ? { partial: true } : {}),
      ...(outcome.error === undefined || result === 'ok' ? {} : { error: outcome.error }),
      snapshots: outcome.snapshots,
    }
    const problem = this.opts.state.record(running.key, repo.name, record)
    if (problem !== undefined) this.opts.warn(problem)
    if (result !== 'cancelled') this.#planner.finished(running.key, this.#lastStart(running.key), endedAt)
    this.opts.log({
      type: 'job_end',
      repository: repo.name,
      result,
      durationMs: record.durationMs,
      snapshots: record.snapshots,
      ...(record.partial === true ? { partial: true } : {}),
      ...(record.error === undefined ? {} : { error: record.error }),
      nextRun: this.#iso(this.#planner.nextDue(running.key)),
    })
    this.#running = undefined
    this.#wake?.()
  }

  status(): DaemonStatus {
    const names = new Map(this.#config.repositories.map((r) => [r.url, r.name]))
    return {
      daemon: {
        pid: this.opts.info.pid,
        version: this.opts.info.version,
        startedAt: new Date(this.#startedAt).toISOString(),
        configFile: this.#config.file,
        stateFile: this.opts.state.file,
        lockFile: this.opts.info.lockFile,
        lastReload: this.#lastReload,
      },
      queue: this.#queue.map((k) => names.get(k) ?? k),
      repositories: scheduledRepositories(this.#config).map((r) => this.#repoStatus(r)),
    }
  }

  #repoStatus(r: RepositoryConfig): RepoStatus {
    const t: Timing = timingOf(r.schedule)
    const saved = this.opts.state.get(r.url)
    const running = this.#running?.key === r.url ? this.#running : undefined
    return {
      name: r.name,
      label: r.label ?? null,
      url: displayUrl(r.url),
      schedule: {
        every: t.every === undefined ? null : formatInterval(t.every),
        cron: t.cron ?? null,
        jitterSeconds: t.jitterSeconds,
        onStartup: t.onStartup,
        text: describeTiming(t),
      },
      state: running !== undefined ? 'running' : this.#queue.includes(r.url) ? 'queued' : 'idle',
      runningSince: this.#iso(running?.startedAt),
      nextRun: this.#iso(this.#planner.nextDue(r.url)),
      lastRun: saved?.lastRun ?? null,
      lastSuccessAt: saved?.lastSuccessAt ?? null,
      failuresSinceSuccess: saved?.failuresSinceSuccess ?? 0,
      runs: saved?.runs ?? { ok: 0, failed: 0, cancelled: 0 },
    }
  }
}

export function noScheduleMessage(file: string | null): string {
  return (
    `no repository in ${file ?? 'the built-in config'} has a schedule with "enabled: true", so vger daemon has nothing to run; ` +
    'add one (for example "schedule: {enabled: true, every: 6h}" at the top level or in a repository), ' +
    'or run the bare "vger" cycle from a systemd timer or cron instead (docs/daemon.md)'
  )
}
