/**
 * The daemon's plan: for each scheduled repository, when it runs next, or that it is waiting in the queue
 * or running. Pure bookkeeping over the times it is given, so every decision is testable with a fake clock
 * (test/unit/daemon-planner.test.ts): nothing here reads a clock, sleeps or runs a job.
 *
 * - A planned time is drawn once (jitter included) and kept until the repository has run, its schedule
 *   changed on a reload, or the wall clock went back; so a reload or a wake-up never re-rolls the jitter.
 * - `tick` hands out every repository whose time has come, each once, however many slots it missed (the
 *   daemon then runs it once; the next time is planned from that run's start).
 * - The wall clock going back is noticed by comparing how far it moved with a monotonic clock between two
 *   ticks: the waiting repositories are then planned again from the new time (schedule.ts), instead of
 *   waiting for the old planned times, which may now be days away.
 */
import { type Timing, nextRun, sameTiming } from './schedule.js'

export interface PlanEntry {
  /** The repository's URL: stays the same when its label changes. */
  key: string
  timing: Timing
}

/** The start of each repository's last counted run (ms since the epoch), from the state file. */
export type LastStarts = (key: string) => number | undefined

interface Slot {
  timing: Timing
  /** The planned time; undefined while the repository is queued or running. */
  due: number | undefined
}

/** The wall clock may disagree with the monotonic clock by this much before it counts as set back. */
export const CLOCK_TOLERANCE_MS = 5000

export class Planner {
  readonly #slots = new Map<string, Slot>()
  #last: { wall: number; mono: number } | undefined

  constructor(readonly random: () => number = Math.random) {}

  /**
   * Takes the scheduled repositories (at start, `startup` true, and after each reload). A repository whose
   * schedule is unchanged keeps its planned time; a new or changed one is planned from its last start; a
   * repository no longer scheduled is dropped (the daemon lets a run of it that is under way finish).
   */
  configure(entries: readonly PlanEntry[], lastStarts: LastStarts, now: number, startup: boolean): void {
    const keep = new Set(entries.map((e) => e.key))
    for (const key of this.#slots.keys()) if (!keep.has(key)) this.#slots.delete(key)
    for (const { key, timing } of entries) {
      const old = this.#slots.get(key)
      if (old !== undefined && (old.due === undefined || sameTiming(old.timing, timing))) {
        // Queued or running: planned again when it ends, with the new timing.
        old.timing = timing
        continue
      }
      this.#slots.set(key, { timing, due: nextRun(timing, lastStarts(key), now, startup, this.random) })
    }
  }

  /**
   * The repositories whose time has come, earliest first; each is marked as pending (queued or running)
   * until `finished`. `mono` is a monotonic clock in ms, used to notice the wall clock going back.
   */
  tick(now: number, mono: number, lastStarts: LastStarts): string[] {
    if (this.#last !== undefined && now < this.#last.wall + (mono - this.#last.mono) - CLOCK_TOLERANCE_MS) {
      for (const [key, slot] of this.#slots) {
        if (slot.due !== undefined) slot.due = nextRun(slot.timing, lastStarts(key), now, false, this.random)
      }
    }
    this.#last = { wall: now, mono }
    const due = [...this.#slots].filter(([, s]) => s.due !== undefined && s.due <= now).sort(([, a], [, b]) => (a.due ?? 0) - (b.due ?? 0))
    for (const [, slot] of due) slot.due = undefined
    return due.map(([key]) => key)
  }

  /** A run of `key` ended (or was dropped from the queue): plans its next one from its last counted start. */
  finished(key: string, lastStart: number | undefined, now: number): void {
    const slot = this.#slots.get(key)
    if (slot !== undefined) slot.due = nextRun(slot.timing, lastStart, now, false, this.random)
  }

  /** The planned time of `key`; undefined while it is queued or running, or when it is not scheduled. */
  nextDue(key: string): number | undefined {
    return this.#slots.get(key)?.due
  }

  has(key: string): boolean {
    return this.#slots.has(key)
  }

  /** How long until the earliest planned time (0 when one has passed); undefined when nothing is planned. */
  wakeIn(now: number): number | undefined {
    let earliest: number | undefined
    for (const { due } of this.#slots.values()) if (due !== undefined && (earliest === undefined || due < earliest)) earliest = due
    return earliest === undefined ? undefined : Math.max(0, earliest - now)
  }
}
