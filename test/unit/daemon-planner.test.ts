/**
 * The daemon's planning with an injected clock (no sleeps): first runs, `on_startup`, jitter drawn once,
 * catch-up after missed runs (one run, never a burst), and the wall clock going back (replanned from
 * now, never a stall or a burst).
 */
import { describe, expect, it } from 'vitest'
import { CLOCK_TOLERANCE_MS, type LastStarts, Planner } from '../../ts/daemon/planner.js'
import { type Timing, cronAfter, describeTiming, formatInterval, nextSlot, timingOf } from '../../ts/daemon/schedule.js'

const S = 1000
const M = 60 * S
const H = 60 * M
const D = 24 * H
/** Local time (TZ is whatever the test runs in): cron works in local time. */
const at = (y: number, mo: number, d: number, h = 0, mi = 0): number => new Date(y, mo - 1, d, h, mi).getTime()

const every = (seconds: number, more: Partial<Timing> = {}): Timing => ({ every: seconds, onStartup: false, jitterSeconds: 0, ...more })
const cron = (expr: string, more: Partial<Timing> = {}): Timing => ({ cron: expr, onStartup: false, jitterSeconds: 0, ...more })

/** A planner over one repository "r", with a fake wall clock and monotonic clock and a state of last starts. */
function harness(timing: Timing, opts: { last?: number; now: number; random?: () => number }) {
  const starts = new Map<string, number>()
  if (opts.last !== undefined) starts.set('r', opts.last)
  const lastStarts: LastStarts = (k) => starts.get(k)
  const planner = new Planner(opts.random ?? (() => 0))
  let wall = opts.now
  let mono = 1_000_000
  planner.configure([{ key: 'r', timing }], lastStarts, wall, true)
  return {
    planner,
    get now() {
      return wall
    },
    /** Time passes normally: both clocks move. */
    advance(ms: number): string[] {
      wall += ms
      mono += ms
      return planner.tick(wall, mono, lastStarts)
    },
    /** The wall clock jumps (suspend, or someone sets it) while the monotonic clock moves `monoMs`. */
    jump(wallMs: number, monoMs = 1000): string[] {
      wall += wallMs
      mono += monoMs
      return planner.tick(wall, mono, lastStarts)
    },
    /** A run started now, took `ms`, and counted. */
    run(ms = 10 * S): void {
      starts.set('r', wall)
      wall += ms
      mono += ms
      planner.finished('r', starts.get('r'), wall)
    },
    due: () => planner.nextDue('r'),
  }
}

describe('schedule', () => {
  it('reads the resolved schedule and describes it', () => {
    expect(timingOf({ enabled: true, every: 7200, onStartup: false, jitterSeconds: 0 })).toEqual(every(7200))
    expect(timingOf({ enabled: true, cron: '0 3 * * *', onStartup: true, jitterSeconds: 60 })).toEqual(
      cron('0 3 * * *', { onStartup: true, jitterSeconds: 60 }),
    )
    expect(describeTiming(every(2, { onStartup: true }))).toBe('every 2s, on startup')
    expect(describeTiming(cron('0 3 * * *', { jitterSeconds: 600 }))).toBe('cron "0 3 * * *", jitter up to 600 s')
    expect([90, 120, 3600, 86400, 5400].map(formatInterval)).toEqual(['90s', '2m', '1h', '1d', '90m'])
  })

  it('plans from the last start, from now without one, and at once on startup when asked', () => {
    const now = at(2026, 3, 10, 12)
    expect(nextSlot(every(3600), now - 10 * M, now, false)).toBe(now + 50 * M)
    expect(nextSlot(every(3600), undefined, now, true)).toBe(now + H)
    expect(nextSlot(every(3600, { onStartup: true }), now - 10 * M, now, true)).toBe(now)
    expect(nextSlot(every(3600, { onStartup: true }), now - 10 * M, now, false)).toBe(now + 50 * M)
    expect(nextSlot(cron('0 3 * * *'), undefined, now, true)).toBe(at(2026, 3, 11, 3))
    expect(nextSlot(cron('0 3 * * *'), at(2026, 3, 10, 3), now, false)).toBe(at(2026, 3, 11, 3))
  })

  it('uses croner for cron: names, steps, weekday 7 as Sunday', () => {
    // 2026-03-10 is a Tuesday.
    expect(cronAfter('30 2 * * sat,sun', at(2026, 3, 10, 12))).toBe(at(2026, 3, 14, 2, 30))
    expect(cronAfter('0 3 * * 7', at(2026, 3, 10, 12))).toBe(at(2026, 3, 15, 3))
    expect(cronAfter('*/15 * * * *', at(2026, 3, 10, 12, 1))).toBe(at(2026, 3, 10, 12, 15))
  })
})

describe('planner', () => {
  it('runs an interval schedule when due, once, and plans the next from the run', () => {
    const h = harness(every(3600), { now: at(2026, 3, 10, 12) })
    expect(h.due()).toBe(at(2026, 3, 10, 13))
    expect(h.advance(59 * M)).toEqual([])
    expect(h.advance(M)).toEqual(['r'])
    expect(h.due()).toBeUndefined()
    expect(h.advance(S)).toEqual([]) // queued or running: not handed out again
    h.run(5 * M)
    expect(h.due()).toBe(at(2026, 3, 10, 14, 0) + S)
  })

  it('runs at once on startup with on_startup', () => {
    const h = harness(every(3600, { onStartup: true }), { now: at(2026, 3, 10, 12), last: at(2026, 3, 10, 11, 50) })
    expect(h.advance(0)).toEqual(['r'])
  })

  it('after downtime catches up once, not once per missed slot (interval)', () => {
    // Last run 10 days ago, every hour: 240 slots were missed.
    const h = harness(every(3600), { now: at(2026, 3, 20, 12), last: at(2026, 3, 10, 12) })
    expect(h.due()).toBe(at(2026, 3, 10, 13))
    expect(h.advance(0)).toEqual(['r'])
    expect(h.advance(S)).toEqual([])
    h.run(M)
    expect(h.due()).toBe(at(2026, 3, 20, 13) + S)
    expect(h.advance(30 * M)).toEqual([])
  })

  it('a forward jump of the wall clock (machine slept) gives one run, then the normal plan (cron)', () => {
    // Daily at 03:00; last ran Monday 03:00, planned Tuesday 03:00; the machine sleeps until Thursday 10:00.
    const h = harness(cron('0 3 * * *'), { now: at(2026, 3, 9, 3, 1), last: at(2026, 3, 9, 3) })
    expect(h.due()).toBe(at(2026, 3, 10, 3))
    expect(h.jump(at(2026, 3, 12, 10) - h.now, 2 * S)).toEqual(['r'])
    expect(h.advance(30 * S)).toEqual([])
    h.run(20 * M)
    expect(h.due()).toBe(at(2026, 3, 13, 3))
    expect(h.advance(16 * H)).toEqual([])
    expect(h.advance(40 * M)).toEqual(['r'])
  })

  it('a forward jump during a run does not queue it again; it runs once after it', () => {
    const start = at(2026, 3, 10, 12)
    const h = harness(every(60), { now: start, last: at(2026, 3, 10, 11, 59) })
    expect(h.advance(0)).toEqual(['r'])
    expect(h.jump(5 * H)).toEqual([])
    expect(h.jump(5 * H)).toEqual([])
    // The run ends: planned a minute after its start, ten hours ago: one more run, not 600.
    h.planner.finished('r', start, h.now)
    expect(h.advance(0)).toEqual(['r'])
    expect(h.advance(S)).toEqual([])
  })

  it('the wall clock going back is replanned from now: no stall, no burst (interval)', () => {
    const h = harness(every(3600), { now: at(2026, 3, 10, 12), last: at(2026, 3, 10, 11, 30) })
    expect(h.due()).toBe(at(2026, 3, 10, 12, 30))
    expect(h.advance(10 * M)).toEqual([])
    // Set back by two days: without replanning the next run would wait 2 days and 20 minutes.
    expect(h.jump(-2 * D, S)).toEqual([])
    expect(h.due()).toBe(h.now + H)
    expect(h.advance(59 * M)).toEqual([])
    expect(h.advance(M)).toEqual(['r'])
    h.run(M)
    expect(h.due()).toBe(h.now - M + H)
  })

  it('the wall clock going back is replanned from now (cron)', () => {
    const h = harness(cron('0 3 * * *'), { now: at(2026, 3, 10, 10), last: at(2026, 3, 10, 3) })
    expect(h.due()).toBe(at(2026, 3, 11, 3))
    expect(h.advance(M)).toEqual([])
    expect(h.jump(at(2026, 3, 7, 10) - h.now, S)).toEqual([])
    expect(h.due()).toBe(at(2026, 3, 8, 3))
  })

  it('ignores a small correction of the clock', () => {
    const h = harness(every(3600, { jitterSeconds: 600 }), { now: at(2026, 3, 10, 12), random: randoms([0.5, 0.9]) })
    const planned = h.due()
    expect(planned).toBe(at(2026, 3, 10, 13) + 300 * S)
    h.jump(-(CLOCK_TOLERANCE_MS - S), S)
    expect(h.due()).toBe(planned)
  })

  it('a last start in the future (the clock went back while the daemon was down) is planned from now', () => {
    const now = at(2026, 3, 10, 12)
    const h = harness(every(3600), { now, last: now + 3 * D })
    expect(h.due()).toBe(now + H)
  })

  it('draws the jitter once per planned run, keeps it across reloads, and draws again for a new schedule', () => {
    const h = harness(every(3600, { jitterSeconds: 100 }), { now: at(2026, 3, 10, 12), random: randoms([0.25, 0.75, 0.5]) })
    expect(h.due()).toBe(at(2026, 3, 10, 13) + 25 * S)
    for (let i = 0; i < 5; i++) h.advance(M)
    expect(h.due()).toBe(at(2026, 3, 10, 13) + 25 * S)
    // A reload with the same schedule keeps the planned time.
    h.planner.configure([{ key: 'r', timing: every(3600, { jitterSeconds: 100 }) }], () => undefined, h.now, false)
    expect(h.due()).toBe(at(2026, 3, 10, 13) + 25 * S)
    // A new jitter is planned again (from now: no recorded run).
    h.planner.configure([{ key: 'r', timing: every(3600, { jitterSeconds: 200 }) }], () => undefined, h.now, false)
    expect(h.due()).toBe(h.now + H + 150 * S)
  })

  it('hands out several due repositories once each, earliest first; a reload drops a repository', () => {
    const now = at(2026, 3, 10, 12)
    const starts = new Map([
      ['a', now - 50 * M],
      ['b', now - 70 * M],
      ['c', now - 80 * M],
    ])
    const p = new Planner(() => 0)
    const entries = ['a', 'b', 'c'].map((key) => ({ key, timing: every(3600) }))
    p.configure(entries, (k) => starts.get(k), now, true)
    expect(p.tick(now, 0, (k) => starts.get(k))).toEqual(['c', 'b'])
    expect(p.tick(now + 10 * M, 10 * M, (k) => starts.get(k))).toEqual(['a'])
    p.configure(entries.slice(1), (k) => starts.get(k), now, false)
    expect(p.has('a')).toBe(false)
    expect(p.wakeIn(now + 10 * M)).toBeUndefined() // b and c are still pending
    p.finished('b', now + 10 * M, now + 11 * M)
    expect(p.wakeIn(now + 11 * M)).toBe(59 * M)
  })
})

/** A random source that returns the given values in turn. */
function randoms(values: number[]): () => number {
  let i = 0
  return () => values[i++ % values.length] ?? 0
}
