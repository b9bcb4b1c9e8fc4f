import { describe, expect, it } from 'vitest'
import { lockEventPrinter } from '../../ts/cli/lock-events.js'
import { Output } from '../../ts/cli/output.js'
import type { ProgressEvent } from '../../ts/repository.js'

function capture(json: boolean, quiet = false): { out: Output; stderr: string[] } {
  const stderr: string[] = []
  const out = new Output({ write: () => true }, { write: (s: string) => stderr.push(s) }, { json, quiet, verbose: 0 })
  return { out, stderr }
}

const wait = (waitedSecs: number, remainingSecs: number, acquired = false): ProgressEvent => ({
  type: 'lockWait',
  key: 'locks/ab',
  hostname: 'nas',
  pid: 4242,
  operation: 'compact',
  exclusive: true,
  since: '2026-01-05T14:03:22Z',
  waitedSecs,
  remainingSecs,
  acquired,
})

describe('lock events', () => {
  it('say who holds the lock, since when and how long the wait may last; then when it ended', () => {
    const { out, stderr } = capture(false)
    const print = lockEventPrinter(out, 'main')
    print(wait(0, 600))
    print(wait(2, 598)) // within 30 s of the last line: not repeated
    print(wait(3.5, 0, true))
    expect(stderr).toHaveLength(2)
    expect(stderr[0]).toMatch(
      /^repository "main" is locked by compact \(exclusive lock, pid 4242 on nas\) since 2026-01-0\d \d\d:\d\d:22; waiting up to 10:00 more \(--lock-wait\)\n$/,
    )
    expect(stderr[1]).toBe('repository "main": got the lock after 3.5 s\n')
  })

  it('print warnings as warnings, and everything as JSON lines with --json', () => {
    const text = capture(false, true)
    lockEventPrinter(text.out, 'main')({ type: 'warning', path: 'locks/ab', code: 'VGER_LOCKED', message: 'removed the lock of x' })
    lockEventPrinter(text.out, 'main')(wait(0, 600))
    expect(text.stderr).toEqual(['vger: warning: repository "main": removed the lock of x [VGER_LOCKED]\n'])

    const json = capture(true)
    lockEventPrinter(json.out, 'main')(wait(1, 9))
    expect(JSON.parse(json.stderr[0] ?? '')).toMatchObject({ type: 'lockWait', pid: 4242, remainingSecs: 9, repository: 'main' })
  })
})
