/**
 * The daemon's state file: per repository (keyed by URL, so a new label keeps its history), the last run
 * and its result, the start of the last run that counts for the schedule, the last success and the
 * failures since, and run counters. A restarted daemon reads it to know when each repository ran last,
 * and so when it is due (a missed run is caught up once). Written after each run as a whole, to a
 * temporary file renamed into place (mode 0600). A missing file is an empty state; an unreadable or
 * damaged one is reported once and replaced.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'

export type RunResult = 'ok' | 'failed' | 'cancelled'

export interface RunRecord {
  startedAt: string
  endedAt: string
  durationMs: number
  result: RunResult
  /** ok only: a snapshot was saved with entries skipped (the exit code 3 of `vger`). */
  partial?: boolean
  /** failed and cancelled: the first error (secrets removed). */
  error?: { code: string; message: string }
  /** How many snapshots the run saved. */
  snapshots: number
}

export interface RepoState {
  /** The repository's name (label, or URL) when it last ran. */
  name: string
  lastRun?: RunRecord
  /** The start of the last run that finished (ok or failed): the schedule counts from it. A cancelled run does not count. */
  lastCountedStart?: string
  lastSuccessAt?: string
  failuresSinceSuccess: number
  runs: Record<RunResult, number>
}

interface StateFile {
  version: 1
  repositories: Record<string, RepoState>
}

export class StateStore {
  readonly #repos: Map<string, RepoState>

  private constructor(
    readonly file: string,
    repos: Map<string, RepoState>,
  ) {
    this.#repos = repos
  }

  /** Reads `file`; `warn` hears about a file that exists but cannot be used (the daemon then starts afresh). */
  static open(file: string, warn: (message: string) => void): StateStore {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warn(`cannot read the daemon state ${file}: ${String(e)}; starting without it`)
      return new StateStore(file, new Map())
    }
    try {
      const parsed = JSON.parse(text) as Partial<StateFile>
      if (parsed.version !== 1 || typeof parsed.repositories !== 'object' || parsed.repositories === null) throw new Error('unknown format')
      return new StateStore(file, new Map(Object.entries(parsed.repositories).map(([k, v]) => [k, normalise(v)])))
    } catch (e) {
      warn(`the daemon state ${file} is damaged (${e instanceof Error ? e.message : String(e)}); starting without it`)
      return new StateStore(file, new Map())
    }
  }

  get(key: string): RepoState | undefined {
    return this.#repos.get(key)
  }

  /** The start of the last counted run of `key`, in ms since the epoch. */
  lastCountedStart(key: string): number | undefined {
    const at = this.#repos.get(key)?.lastCountedStart
    const ms = at === undefined ? Number.NaN : Date.parse(at)
    return Number.isNaN(ms) ? undefined : ms
  }

  /** Records a run of `key` and writes the file (a failure to write is returned, for the log). */
  record(key: string, name: string, run: RunRecord): string | undefined {
    const old = this.#repos.get(key)
    const runs = { ok: 0, failed: 0, cancelled: 0, ...old?.runs }
    runs[run.result]++
    const next: RepoState = {
      name,
      lastRun: run,
      failuresSinceSuccess: run.result === 'ok' ? 0 : (old?.failuresSinceSuccess ?? 0) + (run.result === 'failed' ? 1 : 0),
      runs,
    }
    const counted = run.result === 'cancelled' ? old?.lastCountedStart : run.startedAt
    if (counted !== undefined) next.lastCountedStart = counted
    const success = run.result === 'ok' ? run.endedAt : old?.lastSuccessAt
    if (success !== undefined) next.lastSuccessAt = success
    this.#repos.set(key, next)
    return this.save()
  }

  save(): string | undefined {
    const body: StateFile = { version: 1, repositories: Object.fromEntries(this.#repos) }
    const tmp = `${this.file}.${process.pid}.tmp`
    try {
      mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 })
      writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 })
      renameSync(tmp, this.file)
      return undefined
    } catch (e) {
      return `cannot write the daemon state ${this.file}: ${e instanceof Error ? e.message : String(e)}`
    }
  }
}

function normalise(v: Partial<RepoState>): RepoState {
  return {
    ...v,
    name: typeof v.name === 'string' ? v.name : '',
    failuresSinceSuccess: typeof v.failuresSinceSuccess === 'number' ? v.failuresSinceSuccess : 0,
    runs: { ok: 0, failed: 0, cancelled: 0, ...v.runs },
  }
}
