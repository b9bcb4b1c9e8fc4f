/**
 * Progress display: one updating line on a terminal, JSON lines with `--json`, nothing otherwise.
 * Warnings are not shown here; commands print them from the job's outcome so they are never doubled.
 */
import type { ProgressCallback, ProgressEvent } from '../repository.js'
import { type Output, formatBytes, formatCount, formatNumber } from './output.js'

export interface ProgressDisplay {
  onProgress?: ProgressCallback
  /** Clears the line; call when the job ends, successfully or not. */
  finish(): void
}

const RENDER_INTERVAL_MS = 100

/** `context` is merged into every JSON event (e.g. repository and source label). */
export function progressDisplay(out: Output, title: string, context: Record<string, string>): ProgressDisplay {
  if (out.json) {
    return { onProgress: (e) => out.event({ ...e, ...context }), finish: () => {} }
  }
  const tty = out.stderr.isTTY === true
  if (!tty || out.opts.quiet) return { finish: () => {} }

  const started = Date.now()
  let lastRender = 0
  let shown = false
  return {
    onProgress: (e) => {
      const now = Date.now()
      // Lock events come from the repository's own printer (lock-events.ts).
      if (e.type === 'warning' || e.type === 'lockWait' || now - lastRender < RENDER_INTERVAL_MS) return
      lastRender = now
      // A pty may report 0 columns; assume 80 then.
      const columns = out.stderr.columns !== undefined && out.stderr.columns > 0 ? out.stderr.columns : 80
      const width = Math.max(20, columns - 1)
      out.stderr.write(`\r\x1b[2K${progressLine(title, e, now - started).slice(0, width)}`)
      shown = true
    },
    finish: () => {
      if (shown) out.stderr.write('\r\x1b[2K')
      shown = false
    },
  }
}

/** "1:05" or "1:02:03": the time left at the current rate. */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  const p = (n: number): string => String(n).padStart(2, '0')
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return h > 0 ? `${h}:${p(m)}:${p(s % 60)}` : `${m}:${p(s % 60)}`
}

/** "[#####-----]" for a fraction from 0 to 1. */
export function bar(fraction: number, width = 20): string {
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * width)
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`
}

/**
 * "backup docs → default: 1,204 files, 350 MiB, 48.2 MiB/s"; when the total is known (restore):
 * "restore 1a2b3c4d: [#####---] 50%, 5/10 files, 512 B of 1.00 KiB, 512 B/s, ETA 0:01".
 */
export function progressLine(title: string, e: Exclude<ProgressEvent, { type: 'warning' | 'lockWait' }>, elapsedMs: number): string {
  if (e.type === 'step') return stepLine(title, e)
  const perSecond = elapsedMs > 0 ? (e.bytes * 1000) / elapsedMs : 0
  const rate = elapsedMs > 0 ? `${formatBytes(perSecond)}/s` : ''
  if (e.type === 'restore' && e.totalBytes > 0) {
    const fraction = Math.min(1, e.bytes / e.totalBytes)
    const pct = Math.floor(fraction * 100)
    const files = e.totalFiles > 0 ? `${formatNumber(e.files)}/${formatCount(e.totalFiles, 'file')}` : formatCount(e.files, 'file')
    const eta = perSecond > 0 && e.bytes < e.totalBytes ? `, ETA ${formatEta((e.totalBytes - e.bytes) / perSecond)}` : ''
    return `${title}: ${bar(fraction)} ${pct}%, ${files}, ${formatBytes(e.bytes)} of ${formatBytes(e.totalBytes)}, ${rate}${eta}`
  }
  return `${title}: ${formatCount(e.files, 'file')}, ${formatBytes(e.bytes)}, ${rate}`
}

/**
 * A maintenance job's phase: "check main: data [####------] 40%, 4/10" when the total is known, else
 * "compact main: mark 120".
 */
export function stepLine(title: string, e: Extract<ProgressEvent, { type: 'step' }>): string {
  const phase = e.phase
  if (e.total > 0) {
    const fraction = Math.min(1, e.done / e.total)
    const done = formatNumber(e.done)
    return `${title}: ${phase} ${bar(fraction)} ${Math.floor(fraction * 100)}%, ${done}/${formatNumber(e.total)}`
  }
  return `${title}: ${phase} ${formatNumber(e.done)}`
}
