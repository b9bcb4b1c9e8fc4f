/**
 * What the daemon reports: one event when it starts, when a job starts and ends, on each reload and when
 * it stops. The CLI prints each as one line on stderr (`vger daemon: ...`), or as one JSON line with
 * `--json` (docs/json.md, `vger daemon`).
 */
import type { RunResult } from './state.js'

export interface ErrorInfo {
  code: string
  message: string
}

export interface PlannedRepo {
  repository: string
  schedule: string
  nextRun: string | null
}

export type DaemonEvent =
  | { type: 'daemon_start'; pid: number; config: string | null; status: string | null; repositories: PlannedRepo[] }
  | { type: 'job_start'; repository: string }
  | {
      type: 'job_end'
      repository: string
      result: RunResult
      durationMs: number
      snapshots: number
      partial?: boolean
      error?: ErrorInfo
      nextRun: string | null
    }
  | { type: 'reload'; ok: true; repositories: PlannedRepo[] }
  | { type: 'reload'; ok: false; error: ErrorInfo }
  | { type: 'daemon_stop'; reason: string }

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`
const next = (at: string | null): string => (at === null ? 'not planned' : `next run ${at}`)
const plan = (repos: PlannedRepo[]): string => repos.map((r) => `"${r.repository}" (${r.schedule}; ${next(r.nextRun)})`).join(', ')

/** The event as one line of text (without the `vger daemon: ` prefix). */
export function renderEvent(e: DaemonEvent): string {
  switch (e.type) {
    case 'daemon_start':
      return (
        `started (pid ${e.pid}, config ${e.config ?? 'built-in'}${e.status === null ? '' : `, status at ${e.status}`}); ` +
        `scheduled: ${plan(e.repositories)}`
      )
    case 'job_start':
      return `"${e.repository}": full cycle started`
    case 'job_end': {
      const what =
        e.result === 'ok'
          ? `ok${e.partial === true ? ' (partial: entries skipped)' : ''}`
          : `${e.result}${e.error === undefined ? '' : `: ${e.error.code}: ${e.error.message}`}`
      return `"${e.repository}": full cycle ${what} in ${seconds(e.durationMs)}, ${plural(e.snapshots, 'snapshot')} saved; ${next(e.nextRun)}`
    }
    case 'reload':
      return e.ok
        ? `config reloaded; scheduled: ${plan(e.repositories)}`
        : `config reload failed, keeping the previous config: ${e.error.code}: ${e.error.message}`
    case 'daemon_stop':
      return `stopped (${e.reason})`
  }
}
