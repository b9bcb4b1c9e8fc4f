/**
 * The status page (`GET /`): the same facts as `GET /status`, as a small HTML table. Every value is
 * escaped; the page loads nothing and runs no script (the server sends a Content-Security-Policy that
 * forbids both), and reloads itself every 30 seconds.
 */
import type { DaemonStatus, RepoStatus } from './daemon.js'

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const e = escapeHtml

function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)} s`
  const m = Math.floor(s / 60)
  return `${m} min ${Math.round(s - m * 60)} s`
}

function lastRun(r: RepoStatus): string {
  const run = r.lastRun
  if (run === null) return 'never'
  const what = run.result === 'ok' ? `ok${run.partial === true ? ' (partial)' : ''}` : run.result
  const error = run.error === undefined ? '' : `<br><code>${e(run.error.code)}</code> ${e(run.error.message)}`
  return (
    `<span class="${e(run.result)}">${e(what)}</span>, ${e(run.startedAt)} → ${e(run.endedAt)} ` +
    `(${e(duration(run.durationMs))}, ${run.snapshots} snapshot${run.snapshots === 1 ? '' : 's'})${error}`
  )
}

function row(r: RepoStatus): string {
  const state = r.state === 'running' ? `running since ${r.runningSince ?? '?'}` : r.state
  const cells = [
    `<strong>${e(r.name)}</strong><br><small>${e(r.url)}</small>`,
    e(r.schedule.text),
    e(state),
    e(r.nextRun ?? '—'),
    lastRun(r),
    e(r.lastSuccessAt ?? 'never'),
    String(r.failuresSinceSuccess),
  ]
  return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`
}

export function renderStatusPage(s: DaemonStatus): string {
  const d = s.daemon
  const reload =
    d.lastReload === null
      ? 'none'
      : d.lastReload.ok
        ? `ok at ${e(d.lastReload.at)}`
        : `<span class="failed">failed</span> at ${e(d.lastReload.at)}: ${e(d.lastReload.error?.message ?? '')}`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="30">
<title>vger daemon</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
.ok { color: #070; } .failed { color: #b00; } .cancelled { color: #960; }
</style>
</head>
<body>
<h1>vger daemon</h1>
<p>pid ${d.pid}, vger ${e(d.version)}, started ${e(d.startedAt)}; config ${e(d.configFile ?? 'built-in')}; last reload: ${reload}; queue: ${e(s.queue.length === 0 ? 'empty' : s.queue.join(', '))}</p>
<table>
<tr><th>repository</th><th>schedule</th><th>state</th><th>next run</th><th>last run</th><th>last success</th><th>failures since</th></tr>
${s.repositories.map(row).join('\n')}
</table>
<p><a href="/status">/status</a> (JSON)</p>
</body>
</html>
`
}
