/**
 * When a repository's next run is due: pure functions of its `schedule`, the start of its last counted run
 * and the wall clock, all in milliseconds since the epoch (the clock is passed in, never read here).
 *
 * - `every`: the last start plus the interval. `cron`: the first matching minute after the last start
 *   (croner computes it, in local time).
 * - A run missed while the daemon was down or the machine slept gives a planned time in the past: the
 *   daemon runs once at once, and the next time is planned from that run's start, so a week of missed
 *   slots is one run, never a burst.
 * - A last start in the future (the wall clock went back) is not trusted: the next time is planned from
 *   now instead, so the daemon never waits for the clock to catch up with it.
 * - No recorded run: `every` waits one interval from now, `cron` its next match; `on_startup` runs at once.
 * - `jitter_seconds` adds a random delay from 0 up to that many seconds to every planned time.
 */
import { Cron } from 'croner'
import type { ScheduleConfig } from '../config/types.js'

/** The schedule as the daemon uses it: `every` in seconds (absent with `cron`). */
export interface Timing {
  every?: number
  cron?: string
  onStartup: boolean
  jitterSeconds: number
}

export function timingOf(s: ScheduleConfig): Timing {
  return {
    ...(s.cron === undefined ? { every: s.every ?? 86_400 } : { cron: s.cron }),
    onStartup: s.onStartup,
    jitterSeconds: s.jitterSeconds,
  }
}

export function sameTiming(a: Timing, b: Timing): boolean {
  return a.every === b.every && a.cron === b.cron && a.onStartup === b.onStartup && a.jitterSeconds === b.jitterSeconds
}

/** "every 6h", `cron "0 3 * * *"`, with ", jitter up to 600 s" and ", on startup" when set. */
export function describeTiming(t: Timing): string {
  const base = t.cron === undefined ? `every ${formatInterval(t.every ?? 0)}` : `cron "${t.cron}"`
  return `${base}${t.jitterSeconds > 0 ? `, jitter up to ${t.jitterSeconds} s` : ''}${t.onStartup ? ', on startup' : ''}`
}

/** 90 → "90s", 3600 → "1h", 86400 → "1d": the largest unit that divides it. */
export function formatInterval(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`
  }
  return `${seconds}s`
}

const crons = new Map<string, Cron>()

/** The first minute matching `expr` strictly after `after` (Infinity if none: load-time validation refuses such expressions). */
export function cronAfter(expr: string, after: number): number {
  let cron = crons.get(expr)
  if (cron === undefined) {
    cron = new Cron(expr, { mode: '5-part', paused: true })
    crons.set(expr, cron)
  }
  return cron.nextRun(new Date(after))?.getTime() ?? Number.POSITIVE_INFINITY
}

/**
 * The planned time of the next run before jitter. `lastStart` is the start of the last run that counts
 * (finished, successfully or not); `startup` is true only when the daemon plans its first run.
 */
export function nextSlot(t: Timing, lastStart: number | undefined, now: number, startup: boolean): number {
  if (startup && t.onStartup) return now
  // No run yet, or one "in the future" after the clock went back: plan from now.
  const from = lastStart === undefined || lastStart > now ? now : lastStart
  return t.cron === undefined ? from + (t.every ?? 0) * 1000 : cronAfter(t.cron, from)
}

/** The planned time of the next run: `nextSlot` plus a random jitter (`random` returns [0, 1)). */
export function nextRun(t: Timing, lastStart: number | undefined, now: number, startup: boolean, random: () => number): number {
  return nextSlot(t, lastStart, now, startup) + Math.floor(random() * t.jitterSeconds * 1000)
}
