/**
 * `limits` applied around the engine: niceness for every thread of the process (the engine's included),
 * the thread count and read rate a job gets. The upload, download and connection limits travel with the
 * backend settings (ts/backend-settings.ts).
 */
import { readdirSync } from 'node:fs'
import os from 'node:os'
import type { LimitsConfig } from '../config/types.js'

const MIB = 1024 * 1024

/** The engine options a backup or restore job takes from `limits`. */
export function jobLimits(l: LimitsConfig): { threads: number; readBytesPerSec: number } {
  return { threads: l.threads, readBytesPerSec: l.readMibPerSec * MIB }
}

/**
 * Sets the niceness of every thread of this process to `nice` (on Linux niceness belongs to a thread, and
 * the threads the engine starts later inherit it from the thread that starts them). Returns a warning
 * when it could not (raising priority needs privilege), undefined when done or nothing was to do.
 */
export function applyNice(nice: number): string | undefined {
  if (nice === 0 && os.getPriority() === 0) return undefined
  const tasks = threadIds()
  try {
    for (const tid of tasks) {
      if (os.getPriority(tid) !== nice) os.setPriority(tid, nice)
    }
    if (tasks.length === 0 && os.getPriority() !== nice) os.setPriority(nice)
    return undefined
  } catch (e) {
    return `limits.nice ${nice} could not be applied (${(e as Error).message}); running at niceness ${os.getPriority()}`
  }
}

function threadIds(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number).filter(Number.isInteger)
  } catch {
    return []
  }
}
