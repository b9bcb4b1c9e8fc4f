/**
 * What an open repository says about its locks while a command runs: who holds the lock it waits for,
 * since when and for how long it will still wait; the lock of a dead process it removed; a read without
 * a lock. With `--json` every event is a JSON line on stderr (`lockWait`, `warning`); otherwise a wait is
 * a line when it starts, one every 30 seconds while it lasts and one when it ends (silenced by `-q`), and
 * a warning is a warning.
 */
import type { ProgressCallback, ProgressEvent } from '../repository.js'
import { type Output, formatDuration, formatTime } from './output.js'
import { formatEta } from './progress.js'

type LockWaitEvent = Extract<ProgressEvent, { type: 'lockWait' }>

/** How often a wait that goes on is reported again in text. */
const TEXT_EVERY_MS = 30_000

/** "compact (exclusive lock, pid 4242 on nas)" */
function holder(e: LockWaitEvent): string {
  return `${e.operation} (${e.exclusive ? 'exclusive' : 'shared'} lock, pid ${e.pid} on ${e.hostname})`
}

export function lockWaitLine(repository: string, e: LockWaitEvent, first: boolean): string {
  if (e.acquired) return `repository "${repository}": got the lock after ${formatDuration(e.waitedSecs * 1000)}`
  const left = `waiting up to ${formatEta(e.remainingSecs)} more (--lock-wait)`
  if (first) return `repository "${repository}" is locked by ${holder(e)} since ${formatTime(e.since)}; ${left}`
  return `repository "${repository}": still waiting for ${holder(e)} after ${formatEta(e.waitedSecs)}; ${left}`
}

export function lockEventPrinter(out: Output, repository: string): ProgressCallback {
  let lastLine: number | undefined
  return (e) => {
    if (out.json) {
      out.event({ ...e, repository })
      return
    }
    if (e.type === 'warning') {
      out.warn(`repository "${repository}": ${e.message} [${e.code}]`)
      return
    }
    if (e.type !== 'lockWait') return
    const now = Date.now()
    if (e.acquired) {
      if (lastLine !== undefined) out.info(lockWaitLine(repository, e, false))
      lastLine = undefined
      return
    }
    if (lastLine !== undefined && now - lastLine < TEXT_EVERY_MS) return
    out.info(lockWaitLine(repository, e, lastLine === undefined))
    lastLine = now
  }
}
