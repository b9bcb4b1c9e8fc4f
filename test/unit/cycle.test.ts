/** What prune (and the full cycle's prune step) hands to the engine. */
import { describe, expect, it } from 'vitest'
import { hasRetention, nativeRetention, pruneOptions } from '../../ts/cli/commands/prune.js'
import type { CliContext } from '../../ts/cli/context.js'
import { parseConfig } from '../../ts/config/load.js'

const load = (yaml: string) => parseConfig(yaml, '/etc/vger.yaml', { env: {}, home: '/home/me' })

const config = load(
  'repositories:\n  - url: /r\n    label: main\n  - url: /s\n    label: other\n    retention: {keep_last: 1, group_by: [label]}\n' +
    'sources:\n  - path: /a\n    label: a\n    retention: {keep_last: 2}\n  - path: /b\nretention:\n  keep_daily: 7\n  keep_within: 2d\n',
)

const ctx = (source: string[], c = config): CliContext => ({ config: () => c, options: { source } }) as unknown as CliContext

describe('prune options', () => {
  it('keeps keep_within as the duration text the engine parses, normalised', () => {
    expect(config.repositories[0]?.retention).toEqual({ keepDaily: 7, keepWithin: '2d' })
    const bare = load('repositories: [{url: /r}]\nretention: {keep_within: 7}\n')
    expect(bare.retention.keepWithin).toBe('7d')
    const upper = load('repositories: [{url: /r}]\nretention: {keep_within: 36H}\n')
    expect(upper.retention.keepWithin).toBe('36h')
    expect(nativeRetention({ keepDaily: 7, keepWithin: '6m', groupBy: ['host'] })).toEqual({ keepDaily: 7, keepWithin: '6m' })
  })

  it("passes the repository's rules, each source's own rules by label, -S labels, flags and the UTC offset", () => {
    const repo = config.repositories[0]
    if (repo === undefined) throw new Error('no repository')
    const jan = new Date('2026-01-15T12:00:00Z')
    expect(pruneOptions(ctx(['a']), repo, { dryRun: true, force: true }, jan)).toEqual({
      retention: { keepDaily: 7, keepWithin: '2d' },
      byLabel: { a: { keepLast: 2 } },
      labels: ['a'],
      force: true,
      dryRun: true,
      utcOffsetSecs: -jan.getTimezoneOffset() * 60,
    })
    expect(pruneOptions(ctx([]), repo, {}, jan)).not.toHaveProperty('labels')
    expect(pruneOptions(ctx([]), repo, {}, jan)).not.toHaveProperty('groupBy')
  })

  it('a repository override brings its own rules and grouping', () => {
    const other = config.repositories[1]
    if (other === undefined) throw new Error('no repository')
    const opts = pruneOptions(ctx([]), other)
    expect(opts.retention).toEqual({ keepLast: 1 })
    expect(opts.groupBy).toEqual({ host: false, label: true, paths: false })
  })

  it('group_by is refused on a source (grouping belongs to the whole prune)', () => {
    expect(() => load('repositories: [{url: /r}]\nsources:\n  - path: /a\n    retention: {keep_last: 1, group_by: [host]}\n')).toThrow(
      /group_by/,
    )
  })

  it('knows when there is no rule at all (group_by alone is not a rule)', () => {
    const none = load('repositories: [{url: /r}]\nretention: {group_by: [host]}\n')
    const repo = none.repositories[0]
    if (repo === undefined) throw new Error('no repository')
    expect(hasRetention(ctx([], none), repo)).toBe(false)
    const main = config.repositories[0]
    if (main === undefined) throw new Error('no repository')
    expect(hasRetention(ctx([]), main)).toBe(true)
  })
})
