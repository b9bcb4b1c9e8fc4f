/**
 * Sizes and durations as users write them in the config and on the command line.
 *
 * Sizes: a whole number of bytes, or a number with a unit. `K`, `M`, `G`, `T` and `KiB`…`TiB` are binary
 * (1024); `KB`, `MB`, `GB`, `TB` are decimal (1000); `B` is bytes. Case-insensitive: "2MiB", "512k", "1.5G".
 *
 * Retention durations (`keep_within`, `--since`): `h` hours, `d` days, `w` weeks, `m` months (30 days for
 * `--since`; `keep_within` is passed to the engine as text, whose month is 31 days), `y` years (365 days);
 * a bare number means days.
 *
 * Schedule intervals (`schedule.every`): `s`, `m` (minutes, unlike retention), `h`, `d`; a bare number means days.
 */

import { Cron } from 'croner'

export type Parsed<T> = { value: T } | { error: string }

/**
 * A number and a unit as a JSON Schema pattern, for editors: ECMA-262 without flags, so the case-insensitive
 * match is spelled out (`[kK][iI][bB]`). `units` are the keys of a unit table, '' meaning "no unit".
 */
function unitPattern(number: string, units: readonly string[]): string {
  const caseless = (word: string): string => [...word].map((c) => `[${c.toLowerCase()}${c.toUpperCase()}]`).join('')
  const words = units.filter((u) => u !== '').sort((a, b) => b.length - a.length)
  return `^\\s*${number}\\s*(${words.map(caseless).join('|')})${units.includes('') ? '?' : ''}\\s*$`
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i
const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
}

export const SIZE_EXAMPLE = 'a size such as 2MiB, 512KiB or 1048576'
/** A size written as text (a bare number is bytes). */
export const SIZE_PATTERN = unitPattern('\\d+(\\.\\d+)?', Object.keys(SIZE_UNITS))

/** "2MiB" → 2097152; a non-negative integer is taken as bytes. */
export function parseSize(input: unknown): Parsed<number> {
  if (typeof input === 'number') {
    return Number.isInteger(input) && input >= 0 ? { value: input } : { error: `expected ${SIZE_EXAMPLE}` }
  }
  if (typeof input !== 'string') return { error: `expected ${SIZE_EXAMPLE}` }
  const m = SIZE.exec(input.trim())
  const unit = SIZE_UNITS[(m?.[2] ?? '').toLowerCase()]
  if (m === null || unit === undefined) return { error: `expected ${SIZE_EXAMPLE}, got "${input}"` }
  const bytes = Math.round(Number(m[1]) * unit)
  if (!Number.isSafeInteger(bytes)) return { error: `the size "${input}" is too large` }
  return { value: bytes }
}

const DURATION = /^(\d+)\s*([a-z]?)$/i
const HOUR = 3600
const DAY = 24 * HOUR
const RETENTION_UNITS: Readonly<Record<string, number>> = { '': DAY, h: HOUR, d: DAY, w: 7 * DAY, m: 30 * DAY, y: 365 * DAY }
const INTERVAL_UNITS: Readonly<Record<string, number>> = { '': DAY, s: 1, m: 60, h: HOUR, d: DAY }

export const RETENTION_EXAMPLE = 'a duration such as 24h, 7d, 2w, 6m (months) or 1y'
export const INTERVAL_EXAMPLE = 'an interval such as 30m (minutes), 6h or 1d'
/** Durations and intervals written as text: a whole number greater than zero, then a unit or none. */
export const RETENTION_PATTERN = unitPattern('0*[1-9]\\d*', Object.keys(RETENTION_UNITS))
export const INTERVAL_PATTERN = unitPattern('0*[1-9]\\d*', Object.keys(INTERVAL_UNITS))

function parseWith(units: Readonly<Record<string, number>>, example: string, input: unknown): Parsed<number> {
  const text = typeof input === 'number' ? String(input) : input
  if (typeof text !== 'string') return { error: `expected ${example}` }
  const m = DURATION.exec(text.trim())
  const unit = units[(m?.[2] ?? '').toLowerCase()]
  if (m === null || unit === undefined) return { error: `expected ${example}, got "${text}"` }
  const seconds = Number(m[1]) * unit
  if (seconds <= 0) return { error: `expected ${example} greater than zero, got "${text}"` }
  return { value: seconds }
}

/** Retention / `--since` durations in seconds: "7d" → 604800, "6m" → 180 days. */
export function parseRetentionDuration(input: unknown): Parsed<number> {
  return parseWith(RETENTION_UNITS, RETENTION_EXAMPLE, input)
}

/**
 * `keep_within` as the engine takes it: the same syntax as `--since`, kept as text and normalised to one
 * whole number and a lowercase unit ("7" → "7d", "36H" → "36h"). The engine parses it (its `m` is 31 days).
 */
export function parseKeepWithin(input: unknown): Parsed<string> {
  const checked = parseRetentionDuration(input)
  if ('error' in checked) return checked
  const m = DURATION.exec(String(input).trim())
  const unit = (m?.[2] ?? '').toLowerCase()
  return { value: `${Number(m?.[1])}${unit === '' ? 'd' : unit}` }
}

/** `schedule.every` in seconds: "30m" → 1800. */
export function parseInterval(input: unknown): Parsed<number> {
  return parseWith(INTERVAL_UNITS, INTERVAL_EXAMPLE, input)
}

const CRON_PART = '(\\*|\\d+(-\\d+)?|[A-Za-z]{3}(-[A-Za-z]{3})?)(/\\d+)?'
const CRON_FIELD_SYNTAX = `${CRON_PART}(,${CRON_PART})*`
const CRON_FIELD = new RegExp(`^${CRON_FIELD_SYNTAX}$`)
export const CRON_EXAMPLE = 'a cron expression such as "0 3 * * *" (minute hour day month weekday)'
/** Five fields of the right syntax (their ranges are checked by `parseCron` only). */
export const CRON_PATTERN = `^\\s*${CRON_FIELD_SYNTAX}(\\s+${CRON_FIELD_SYNTAX}){4}\\s*$`
const CRON_RANGES: readonly [string, number, number][] = [
  ['minute', 0, 59],
  ['hour', 0, 23],
  ['day of month', 1, 31],
  ['month', 1, 12],
  ['day of week', 0, 7],
]

/** A 5-field cron expression (minute hour day-of-month month day-of-week); returned unchanged when valid. */
export function parseCron(input: unknown): Parsed<string> {
  if (typeof input !== 'string') return { error: 'expected a cron expression such as "0 3 * * *"' }
  const fields = input.trim().split(/\s+/)
  if (fields.length !== 5) {
    return { error: `expected a cron expression with 5 fields (minute hour day month weekday), got ${fields.length}: "${input}"` }
  }
  for (const [i, field] of fields.entries()) {
    const [name, min, max] = CRON_RANGES[i] ?? ['field', 0, 0]
    if (!CRON_FIELD.test(field)) return { error: `invalid cron ${name} field "${field}" in "${input}"` }
    const numbers = field.split(/[,/-]/).filter((n) => /^\d+$/.test(n))
    const bad = numbers.find((n, j) => {
      // A step (after "/") is not a value of the field.
      const isStep = field.split(',').some((part) => part.endsWith(`/${n}`)) && j > 0
      return !isStep && (Number(n) < min || Number(n) > max)
    })
    if (bad !== undefined) return { error: `cron ${name} "${bad}" is out of range ${min}-${max} in "${input}"` }
  }
  // croner computes the daemon's run times (ts/daemon/schedule.ts): what it refuses, or an expression that
  // never matches a date (such as "0 0 31 2 *"), is an error here, at load time, not when the daemon runs.
  const expected = `expected ${CRON_EXAMPLE}`
  let next: Date | null
  try {
    next = new Cron(input.trim(), { mode: '5-part', paused: true }).nextRun(new Date(0))
  } catch (e) {
    const reason = (e instanceof Error ? e.message : String(e)).replace(/^CronPattern: /, '')
    return { error: `invalid cron expression "${input}" (${reason}); ${expected}` }
  }
  if (next === null) return { error: `the cron expression "${input}" never matches a date; ${expected}` }
  return { value: input.trim() }
}
