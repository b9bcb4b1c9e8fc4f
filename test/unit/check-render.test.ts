/**
 * What `vger check` and `check --repair` say (issue 11, items 5 and 10): findings in words a user can act
 * on, pack ids long enough to recognise, and no "no problems" beside a failure.
 */
import { describe, expect, it } from 'vitest'
import { renderCheck, renderRepair } from '../../ts/cli/commands/check.js'
import type { CheckReport, DamagedSnapshot, RepairOutcome, SnapshotSummary } from '../../ts/repository.js'

const ID = (c: string): string => c.repeat(64)

const SNAP = {
  id: ID('a'),
  time: '2026-01-05T14:03:22Z',
  hostname: 'laptop',
  username: 'me',
  label: 'docs',
  paths: ['/home/me/docs'],
  partial: false,
  stats: {},
  tree: ID('b'),
  formatVersion: 2,
  tags: [],
  description: '',
  pinned: false,
} as unknown as SnapshotSummary

function report(over: Partial<CheckReport> = {}): CheckReport {
  return {
    ok: true,
    snapshots: 1,
    trees: 3,
    chunksReferenced: 10,
    packs: 2,
    packsRead: 0,
    blobsVerified: 0,
    bytesRead: 0,
    packsVerifiedOnServer: 0,
    unindexedPacks: 0,
    misplacedPacks: 0,
    hiddenNewer: 0,
    problems: [],
    damaged: [],
    ...over,
  }
}

const damaged = (files: string[], dirsTotal = 0): DamagedSnapshot => ({ snapshot: SNAP, files, filesTotal: files.length, dirsTotal })

function outcome(over: Partial<RepairOutcome> = {}): RepairOutcome {
  return {
    needed: true,
    applied: false,
    packsScanned: 4,
    packsDamaged: [],
    packsNewer: [],
    packsMisplaced: [],
    blobsIndexed: 40,
    blobsDamaged: 0,
    blobsSalvaged: 0,
    entriesDropped: 0,
    entriesAdded: 0,
    entriesMoved: 0,
    segmentsDamaged: 0,
    segmentsReplaced: 1,
    check: report(),
    ...over,
  }
}

describe('renderCheck', () => {
  it('calls an unreadable root what it is: the whole snapshot, not "1 file: /"', () => {
    const text = renderCheck(
      'main',
      report({ ok: false, problems: [{ object: `tree ${ID('b')}`, code: 'VGER_CORRUPT', message: 'x' }], damaged: [damaged(['/'], 1)] }),
    )
    expect(text).toContain('"docs"')
    expect(text).toContain('its root directory cannot be read, so none of its files can be restored')
    expect(text).not.toMatch(/1 file\b/)
    expect(text).not.toMatch(/^ +\/$/m)
  })

  it('names an unreadable directory as one', () => {
    const text = renderCheck('main', report({ ok: false, damaged: [damaged(['sub/', 'top'], 1)] }))
    expect(text).toContain(': 1 file and 1 unreadable directory')
    expect(text).toMatch(/^ {4}sub\/ \(directory cannot be read: nothing under it can be restored\)$/m)
    expect(text).toMatch(/^ {4}top$/m)
  })

  it('never says "0 problems found" for a check that fails', () => {
    const text = renderCheck('main', report({ ok: false, damaged: [damaged(['a'])] }))
    expect(text).not.toContain('0 problems')
    expect(text).toContain(': 1 damaged snapshot found')
    expect(text).toContain('data the snapshots below use is in no pack any more')
  })

  it('escapes file names for the terminal', () => {
    const text = renderCheck('main', report({ ok: false, damaged: [damaged(['x\u001b[2Jy\nz'])] }))
    expect(text).toContain('x\\x1b[2Jy\\nz')
    expect(text).not.toContain('\u001b')
  })

  it('does not call a dry run whose plan found damage clean', () => {
    const text = renderCheck('main', report(), { after: 'now', planFound: true })
    expect(text).not.toContain('no problems found')
    expect(text).toContain('the repair plan above found damage')
  })
})

describe('renderRepair', () => {
  it('says a healthy repository needs nothing, dry run or not', () => {
    for (const applied of [false, true]) {
      const text = renderRepair('main', outcome({ needed: false, applied, segmentsReplaced: 0 }))
      expect(text).toContain('Nothing needs repair')
      expect(text).not.toMatch(/segment|replaced|Dry run/)
    }
  })

  it('shows recognisable pack ids and what the salvage does to the data', () => {
    const text = renderRepair(
      'main',
      outcome({ packsDamaged: [ID('c')], blobsDamaged: 1, blobsSalvaged: 11, entriesDropped: 1, entriesMoved: 11 }),
    )
    expect(text).toContain(`damaged packs: ${'c'.repeat(12)}`)
    expect(text).not.toContain('c'.repeat(13))
    expect(text).toContain('11 intact blobs to copy into new packs; 1 damaged blob to give up')
    expect(text).toContain('1 chunk whose data is gone to be removed; 11 chunks to point at their new place')
    expect(text).not.toContain('0 entries added')
    expect(text).toContain('Dry run: nothing changed.')
  })

  it('names a misplaced pack and where it was found', () => {
    const text = renderRepair('main', outcome({ applied: true, packsMisplaced: [`packs/00/${ID('d')}`] }))
    expect(text).toContain(`packs outside their place, moved back: ${'d'.repeat(12)} (found at packs/00/)`)
    expect(text).toContain('Repaired.')
  })
})
