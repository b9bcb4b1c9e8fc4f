/** `check.full_every`'s decision and record (ts/cli/full-check.ts), without a repository. */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { fullCheckDue, fullCheckFile, lastFullCheck, recordFullCheck } from '../../ts/cli/full-check.js'
import { tempDir } from '../helpers/temp-dir.js'

const ID = 'a'.repeat(64)
const DAY = 86_400
const now = new Date('2026-06-01T12:00:00Z')
const ago = (secs: number): Date => new Date(now.getTime() - secs * 1000)

describe('fullCheckDue', () => {
  it.each([
    ['no full_every', undefined, undefined, false],
    ['no record', DAY, undefined, true],
    ['a record younger than the interval', DAY, ago(DAY - 1), false],
    ['a record exactly the interval old', DAY, ago(DAY), true],
    ['an older record', DAY, ago(3 * DAY), true],
    ['a record in the future', DAY, ago(-60), true],
  ] as const)('%s', (_, every, last, due) => {
    expect(fullCheckDue(every, last, now)).toBe(due)
  })
})

describe('the record', () => {
  it('round-trips, and an unreadable one counts as none', () => {
    const dir = tempDir()
    expect(lastFullCheck(dir, ID)).toBeUndefined()
    expect(recordFullCheck(dir, ID, now)).toBeUndefined()
    expect(lastFullCheck(dir, ID)).toEqual(now)
    writeFileSync(fullCheckFile(dir, ID) ?? '', 'not json')
    expect(lastFullCheck(dir, ID)).toBeUndefined()
  })

  it('never uses an id that is not hex in a path', () => {
    const dir = tempDir()
    expect(fullCheckFile(dir, '../../etc/passwd')).toBeUndefined()
    expect(recordFullCheck(dir, '../x', now)).toMatch(/not hexadecimal/)
    expect(lastFullCheck(dir, '../x')).toBeUndefined()
  })

  it('returns a warning when it cannot write', () => {
    const dir = tempDir()
    mkdirSync(path.join(dir, 'sub'))
    writeFileSync(path.join(dir, 'sub', 'checks'), 'a file where the directory belongs')
    expect(recordFullCheck(path.join(dir, 'sub'), ID, now)).toMatch(/could not record the full check/)
  })
})
