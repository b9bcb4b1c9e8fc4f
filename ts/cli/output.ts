/**
 * Everything the CLI prints goes through here: results to stdout (text or `--json`), status and errors to
 * stderr. In `--json` mode stderr carries JSON lines (progress, warnings) plus the final error line.
 */
import { VgerError, asVgerError } from '../errors.js'

export interface Stream {
  write(chunk: string): unknown
  isTTY?: boolean
  columns?: number
}

export interface OutputOptions {
  json: boolean
  quiet: boolean
  verbose: number
}

export class Output {
  constructor(
    readonly stdout: Stream,
    readonly stderr: Stream,
    readonly opts: OutputOptions,
  ) {}

  get json(): boolean {
    return this.opts.json
  }

  /** A line of human-readable result on stdout (nothing in `--json` mode). */
  line(text = ''): void {
    if (!this.opts.json) this.stdout.write(`${text}\n`)
  }

  /** The machine-readable result on stdout (`--json` mode only). */
  result(value: unknown): void {
    if (this.opts.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
  }

  /** A status message on stderr; silenced by `-q` and `--json`. */
  info(text: string): void {
    if (!this.opts.quiet && !this.opts.json) this.stderr.write(`${text}\n`)
  }

  /** A warning on stderr; shown even with `-q`. */
  warn(text: string): void {
    if (this.opts.json) this.event({ type: 'warning', message: text })
    else this.stderr.write(`vger: warning: ${text}\n`)
  }

  /** A JSON line on stderr (`--json` mode only). */
  event(value: Record<string, unknown>): void {
    if (this.opts.json) this.stderr.write(`${JSON.stringify(value)}\n`)
  }

  /** `vger: error[CODE]: message`, continuation lines indented; a stack trace only with `-v`. */
  error(e: unknown, context?: string): VgerError {
    const err = asVgerError(e)
    const text = context === undefined ? err.message : `${context}: ${err.message}`
    this.event({ type: 'error', code: err.code, message: text })
    this.stderr.write(`vger: error[${err.code}]: ${text.replaceAll('\n', '\n  ')}\n`)
    if (this.opts.verbose > 0) {
      const stack = err.cause instanceof Error ? err.cause.stack : err.stack
      if (stack !== undefined) this.stderr.write(`${stack}\n`)
    }
    return err
  }
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** 1536 → "1.5 KiB"; binary units, at most 3 significant digits. */
export function formatBytes(n: number): string {
  let value = n
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  if (unit === 0) return `${value} B`
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2
  return `${value.toFixed(digits)} ${UNITS[unit]}`
}

export function formatCount(n: number, one: string, many = `${one}s`): string {
  return `${formatNumber(n)} ${n === 1 ? one : many}`
}

/**
 * `n` as en-US writes it (1,234,567), without `toLocaleString`: its first call loads ICU's locale
 * data, 56 ms of every backup's summary.
 */
export function formatNumber(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US')
  return (n < 0 ? '-' : '') + String(Math.abs(n)).replace(/\B(?=(\d{3})+$)/g, ',')
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)} s`
  const m = Math.floor(s / 60)
  return `${m} min ${Math.round(s - m * 60)} s`
}

/** RFC 3339 → "2026-01-05 14:03:22" in local time (the input unchanged if it does not parse). */
export function formatTime(iso: string): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const p = (n: number): string => String(n).padStart(2, '0')
  const date = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`
  return `${date} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

const KIND_CHAR: Record<string, string> = {
  dir: 'd',
  symlink: 'l',
  fifo: 'p',
  chardev: 'c',
  blockdev: 'b',
  socket: 's',
}

/** ('dir', 0o755) → "drwxr-xr-x". */
export function formatMode(kind: string, mode: number): string {
  const bits = 'rwxrwxrwx'
  let out = KIND_CHAR[kind] ?? '-'
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : '-'
  return out
}

export type Align = 'left' | 'right'

/** A plain-text table: a header row, then rows; columns padded, the last column not padded. */
export function formatTable(headers: string[], rows: string[][], align: Align[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const render = (cells: string[]): string =>
    cells
      .map((cell, i) => {
        const last = i === cells.length - 1
        if (align[i] === 'right') return cell.padStart(widths[i] ?? 0)
        return last ? cell : cell.padEnd(widths[i] ?? 0)
      })
      .join('  ')
      .trimEnd()
  return [render(headers), ...rows.map(render)].join('\n')
}

/**
 * A file name or path as text for a terminal, like `ls -b`: control characters (C0, DEL, C1) become
 * `\n`, `\t`, `\r` or `\xNN`, and the bidirectional overrides and isolates `\u{NNNN}`, so a name can
 * neither move the cursor, recolour the screen nor fake a line of output. A backslash in a name already
 * arrives doubled from the engine (which writes bytes that are not UTF-8 as `\xNN`), so an escape
 * shown here is never ambiguous. Every path the CLI prints as text goes through this; `--json` keeps
 * the engine's string exact.
 */
export function displayPath(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.codePointAt(0) ?? 0
    if (c === '\n') return '\\n'
    if (c === '\t') return '\\t'
    if (c === '\r') return '\\r'
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`
  })
}

/** The first 8 hex digits of a snapshot or repository id, as users type them. */
export function shortId(id: string): string {
  return id.slice(0, 8)
}
