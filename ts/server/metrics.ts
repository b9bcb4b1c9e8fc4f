/**
 * Counters for `GET /metrics`, rendered in the Prometheus text format (version 0.0.4): requests by method
 * and status, bytes in and out, errors by code, uploads held in memory, and per repository the bytes
 * stored, the quota and the seconds since the last snapshot.
 */
import type { ServedRepository } from './repositories.js'

const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE'])

export interface Gauges {
  uploadBytesInMemory: number
  uploadsWaiting: number
  requestsInFlight: number
}

export class Metrics {
  readonly #requests = new Map<string, number>()
  readonly #errors = new Map<string, number>()
  bytesIn = 0
  bytesOut = 0

  count(method: string, status: number, code: string | undefined, bytesIn: number, bytesOut: number): void {
    const m = METHODS.has(method) ? method : 'OTHER'
    const k = `method="${m}",status="${status}"`
    this.#requests.set(k, (this.#requests.get(k) ?? 0) + 1)
    if (code !== undefined) this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1)
    this.bytesIn += bytesIn
    this.bytesOut += bytesOut
  }

  /** The exposition text; `repos` are the repositories the caller may see. */
  render(repos: readonly ServedRepository[], gauges: Gauges, now = Date.now() / 1000): string {
    const out: string[] = []
    const family = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      for (const [labels, v] of samples) out.push(`${name}${labels === '' ? '' : `{${labels}}`} ${v}`)
    }
    const sorted = (m: Map<string, number>): [string, number][] => [...m].sort(([a], [b]) => (a < b ? -1 : 1))
    family('vger_server_requests_total', 'counter', 'Requests answered, by method and status.', sorted(this.#requests))
    family(
      'vger_server_errors_total',
      'counter',
      'Error answers, by code.',
      sorted(this.#errors).map(([code, v]) => [`code="${code}"`, v]),
    )
    family('vger_server_received_bytes_total', 'counter', 'Request body bytes received.', [['', this.bytesIn]])
    family('vger_server_sent_bytes_total', 'counter', 'Response body bytes sent.', [['', this.bytesOut]])
    family('vger_server_requests_in_flight', 'gauge', 'Requests being answered.', [['', gauges.requestsInFlight]])
    family('vger_server_upload_memory_bytes', 'gauge', 'Upload bytes held in memory.', [['', gauges.uploadBytesInMemory]])
    family('vger_server_uploads_waiting', 'gauge', 'Uploads waiting for memory.', [['', gauges.uploadsWaiting]])
    const label = (r: ServedRepository): string => `repository="${r.name}"`
    family(
      'vger_server_repository_stored_bytes',
      'gauge',
      'Bytes the repository holds (counted at start, then kept up to date).',
      repos.map((r) => [label(r), r.usage.stored]),
    )
    family(
      'vger_server_repository_quota_bytes',
      'gauge',
      'The repository quota (repositories without one are not listed).',
      repos.flatMap((r) => (r.usage.quota === undefined ? [] : [[label(r), r.usage.quota] as [string, number]])),
    )
    family(
      'vger_server_repository_last_snapshot_age_seconds',
      'gauge',
      'Seconds since the repository received its last snapshot (repositories without one are not listed).',
      repos.flatMap((r) => {
        const at = r.state.lastSnapshotAt
        return at === null ? [] : [[label(r), Math.max(0, Math.round(now - at))] as [string, number]]
      }),
    )
    return `${out.join('\n')}\n`
  }
}
