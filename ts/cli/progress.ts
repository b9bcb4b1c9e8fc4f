/**
 * Progress display: one updating line on a terminal, JSON lines with `--json`, nothing otherwise.
 * Warnings are not shown here; commands print them from the job's outcome so they are never doubled.
 */
import type { ProgressCallback, ProgressEvent } from '../native-types.js'
import { type Output, formatBytes, formatCount } from './output.js'

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
      if (e.type === 'warning' || now - lastRender < RENDER_INTERVAL_MS) return
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

/** "backup docs → default: 1,204 files, 350 MiB, 48.2 MiB/s". */
export function progressLine(title: string, e: ProgressEvent, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? `${formatBytes((e.bytes * 1000) / elapsedMs)}/s` : ''
  if (e.type === 'restore' && e.totalBytes > 0) {
    const pct = Math.min(100, Math.floor((e.bytes * 100) / e.totalBytes))
    const files =
      e.totalFiles > 0
        ? `${e.files.toLocaleString('en-US')}/${formatCount(e.totalFiles, 'file')}`
        : formatCount(e.files, 'file')
    return `${title}: ${files}, ${formatBytes(e.bytes)} of ${formatBytes(e.totalBytes)} (${pct}%), ${rate}`
  }
  return `${title}: ${formatCount(e.files, 'file')}, ${formatBytes(e.bytes)}, ${rate}`
}
