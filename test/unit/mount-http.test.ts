/** The HTTP pieces of `vger mount` that need no repository: one byte range, conditional requests, markup escaping. */
import { describe, expect, it } from 'vitest'
import { escapeMarkup } from '../../ts/mount/body-writer.js'
import { evaluatePreconditions, ifRangeHolds, parseRange } from '../../ts/mount/http-range.js'

describe('parseRange', () => {
  it.each([
    [undefined, 10, { kind: 'full' }],
    ['bytes=0-0', 10, { kind: 'partial', start: 0, end: 0 }],
    ['bytes=2-5', 10, { kind: 'partial', start: 2, end: 5 }],
    ['bytes=2-', 10, { kind: 'partial', start: 2, end: 9 }],
    ['bytes=5-100', 10, { kind: 'partial', start: 5, end: 9 }],
    ['bytes=-3', 10, { kind: 'partial', start: 7, end: 9 }],
    ['bytes=-30', 10, { kind: 'partial', start: 0, end: 9 }],
    ['bytes=10-', 10, { kind: 'unsatisfiable' }],
    ['bytes=-0', 10, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=-5', 0, { kind: 'unsatisfiable' }],
    ['bytes=5-2', 10, { kind: 'full' }],
    ['bytes=0-1,3-4', 10, { kind: 'full' }],
    ['items=0-1', 10, { kind: 'full' }],
    ['bytes=-', 10, { kind: 'full' }],
    ['bytes=x-1', 10, { kind: 'full' }],
  ] as const)('%s of %i bytes', (header, size, answer) => {
    expect(parseRange(header, size)).toEqual(answer)
  })
})

describe('preconditions', () => {
  const v = { etag: '"abc"', modifiedMs: Date.parse('Thu, 03 Dec 2026 10:00:00 GMT') }
  it('If-None-Match wins over If-Modified-Since, and a weak tag matches', () => {
    expect(evaluatePreconditions({ 'if-none-match': '"abc"' }, v)).toBe(304)
    expect(evaluatePreconditions({ 'if-none-match': 'W/"abc", "x"' }, v)).toBe(304)
    expect(evaluatePreconditions({ 'if-none-match': '*' }, v)).toBe(304)
    expect(evaluatePreconditions({ 'if-none-match': '"other"', 'if-modified-since': 'Thu, 03 Dec 2026 11:00:00 GMT' }, v)).toBe(200)
  })
  it('If-Modified-Since compares whole seconds; a bad date is ignored', () => {
    expect(evaluatePreconditions({ 'if-modified-since': 'Thu, 03 Dec 2026 10:00:00 GMT' }, v)).toBe(304)
    expect(evaluatePreconditions({ 'if-modified-since': 'Thu, 03 Dec 2026 09:59:59 GMT' }, v)).toBe(200)
    expect(evaluatePreconditions({ 'if-modified-since': 'yesterday' }, v)).toBe(200)
  })
  it('If-Match and If-Unmodified-Since fail with 412', () => {
    expect(evaluatePreconditions({ 'if-match': '"other"' }, v)).toBe(412)
    expect(evaluatePreconditions({ 'if-match': '"abc"' }, v)).toBe(200)
    expect(evaluatePreconditions({ 'if-unmodified-since': 'Thu, 03 Dec 2026 09:00:00 GMT' }, v)).toBe(412)
  })
  it('If-Range holds only for the current ETag or date', () => {
    expect(ifRangeHolds(undefined, v)).toBe(true)
    expect(ifRangeHolds('"abc"', v)).toBe(true)
    expect(ifRangeHolds('"old"', v)).toBe(false)
    expect(ifRangeHolds('W/"abc"', v)).toBe(false)
    expect(ifRangeHolds('Thu, 03 Dec 2026 10:00:00 GMT', v)).toBe(true)
    expect(ifRangeHolds('Thu, 03 Dec 2026 09:00:00 GMT', v)).toBe(false)
  })
})

describe('escapeMarkup', () => {
  it('escapes markup and makes control characters visible (XML 1.0 cannot carry them)', () => {
    expect(escapeMarkup(`a<b>&"'`)).toBe('a&lt;b&gt;&amp;&quot;&#39;')
    expect(escapeMarkup('x\u0001y\nz')).toBe('x\\x01y\\x0az')
    expect(escapeMarkup('bad\\xff ünï')).toBe('bad\\xff ünï')
  })
})
