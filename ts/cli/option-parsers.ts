/**
 * Parsers of command-line option values: each turns text into a value or throws commander's
 * InvalidArgumentError with the expected form, which the CLI prints as a VGER_USAGE error.
 */

import { InvalidArgumentError } from 'commander'
import { GROUP_BY_KEYS, type GroupByKey } from '../config/schema.js'
import { parseKeepWithin, parseRetentionDuration, parseSize } from '../config/units.js'

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

export function positiveInt(value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1')
  return n
}

export function size(value: string): number {
  const r = parseSize(value)
  if ('error' in r) throw new InvalidArgumentError(r.error)
  return r.value
}

export function seconds(value: string): number {
  const n = Number(value)
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number of seconds, e.g. 600')
  return n
}

export function percent(value: string): number {
  const n = Number(value.replace(/%$/, ''))
  if (!/^\d+(\.\d+)?%?$/.test(value) || n > 100) throw new InvalidArgumentError('expected a percentage from 0 to 100')
  return n
}

export function subsetPercent(value: string): number {
  const n = percent(value)
  if (n <= 0) throw new InvalidArgumentError('expected a percentage above 0 and at most 100')
  return n
}

export function when(value: string): number {
  const text = value.trim()
  const local = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text)
  const ms = local !== null ? localTime(local) : /[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? Date.parse(text) : NaN
  if (!Number.isFinite(ms)) {
    throw new InvalidArgumentError('expected "YYYY-MM-DD[ HH:MM[:SS]]" (local time) or ISO 8601 with a zone, e.g. 2026-12-01T10:00:00Z')
  }
  return ms
}

function localTime(m: RegExpExecArray): number {
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number]
  const date = new Date(y, mo - 1, d, h, mi, s)
  // Reject what Date would roll over (2026-02-30).
  return date.getFullYear() === y && date.getMonth() === mo - 1 && date.getDate() === d ? date.getTime() : NaN
}

/** A date (as --time takes it) or an age ("7d": that long before now), in ms since the epoch. */
export function sinceUntil(value: string): number {
  const age = parseRetentionDuration(value)
  if (!('error' in age) && /[a-zA-Z]$/.test(value.trim())) return Date.now() - age.value * 1000
  try {
    return when(value)
  } catch {
    throw new InvalidArgumentError(
      'expected a date ("2026-11-01", "2026-11-01 08:00", ISO 8601 with a zone) or an age (36h, 7d, 2w, 6m, 1y)',
    )
  }
}

export function nonEmpty(value: string): string {
  if (value.trim() === '' || value.length > 4096) throw new InvalidArgumentError('expected a name of 1 to 4096 characters')
  return value
}

export function count(value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number, e.g. 7')
  return n
}

export function keepWithin(value: string): string {
  const r = parseKeepWithin(value)
  if ('error' in r) throw new InvalidArgumentError(r.error)
  return r.value
}

export function groupBy(value: string): GroupByKey[] {
  const keys = value === '' ? [] : value.split(',').map((k) => k.trim())
  for (const k of keys) {
    if (!(GROUP_BY_KEYS as readonly string[]).includes(k))
      throw new InvalidArgumentError(`expected a comma-separated list of ${GROUP_BY_KEYS.join(', ')}, got "${k}"`)
  }
  return keys as GroupByKey[]
}

export function duration(value: string): number {
  const r = parseRetentionDuration(value)
  if ('error' in r) throw new InvalidArgumentError(r.error)
  return r.value
}

/** `--tag a,b`: one group of tags a snapshot must all carry; each 1 to 128 bytes, no commas. */
export function tagList(value: string): string[] {
  const tags = value.split(',').map((t) => t.trim())
  for (const t of tags) {
    if (t === '' || Buffer.byteLength(t) > 128 || /\p{Cc}/u.test(t))
      throw new InvalidArgumentError(`expected comma-separated tags of 1 to 128 printable characters, got "${value}"`)
  }
  return tags
}

/** Repeated `--tag` options: a list of groups. */
export function collectTags(value: string, previous: string[][] | undefined): string[][] {
  return [...(previous ?? []), tagList(value)]
}
