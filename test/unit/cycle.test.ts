/** Bare `vger`: what the full cycle hands to the engine's prune. */
import { describe, expect, it } from 'vitest'
import { nativeRetention, stepOptions } from '../../ts/cli/commands/cycle.js'
import type { CliContext } from '../../ts/cli/context.js'
import { parseConfig } from '../../ts/config/load.js'

const config = parseConfig(
  'repositories:\n  - url: /r\n    label: main\nsources:\n  - path: /a\n    label: a\n    retention: {keep_last: 2}\n  - path: /b\nretention:\n  keep_daily: 7\n  keep_within: 2d\n',
  '/etc/vger.yaml',
  { env: {}, home: '/home/me' },
)

const ctx = (source: string[]): CliContext => ({ config: () => config, options: { source } }) as unknown as CliContext

describe('prune options of the cycle', () => {
  it('turns keep_within back into a duration and keeps the counts', () => {
    expect(nativeRetention({ keepDaily: 7, keepWithin: 2 * 86400 })).toEqual({ keepDaily: 7, keepWithin: '48h' })
  })

  it("passes the repository's rules, each source's own rules by label, -S labels and the UTC offset", () => {
    const repo = config.repositories[0]
    if (repo === undefined) throw new Error('no repository')
    const jan = new Date('2026-01-15T12:00:00Z')
    expect(stepOptions(ctx(['a']), 'prune', repo, jan)).toEqual({
      retention: { keepDaily: 7, keepWithin: '48h' },
      byLabel: { a: { keepLast: 2 } },
      labels: ['a'],
      utcOffsetSecs: -jan.getTimezoneOffset() * 60,
    })
    expect(stepOptions(ctx([]), 'prune', repo, jan)).not.toHaveProperty('labels')
    expect(stepOptions(ctx([]), 'compact', repo)).toEqual({})
  })
})
