import { describe, expect, it } from 'vitest'
import { renderListing } from '../../ts/cli/commands/list.js'
import { renderEntries } from '../../ts/cli/commands/snapshot-list.js'
import {
  Output,
  displayPath,
  formatBytes,
  formatCount,
  formatDuration,
  formatMode,
  formatNumber,
  formatTable,
  shortId,
} from '../../ts/cli/output.js'
import { formatEta, progressDisplay, progressLine } from '../../ts/cli/progress.js'
import type { SnapshotSummary } from '../../ts/repository.js'

describe('formatNumber', () => {
  it('writes numbers as en-US does, without loading locale data', () => {
    const values = [0, 1, 12, 999, 1000, 1001, 78587, 999999, 1000000, 123456789, -1, -1234, -999999, 2 ** 53 - 1]
    for (const n of values) expect(formatNumber(n)).toBe(n.toLocaleString('en-US'))
    expect(formatNumber(1234567)).toBe('1,234,567')
    expect(formatNumber(1.5)).toBe('1.5')
    expect(formatCount(78587, 'file')).toBe('78,587 files')
    expect(formatCount(1, 'file')).toBe('1 file')
  })
})

describe('formatters', () => {
  it('formats sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(1536)).toBe('1.50 KiB')
    expect(formatBytes(10.5 * 1024 * 1024)).toBe('10.5 MiB')
    expect(formatBytes(300 * 1024 ** 3)).toBe('300 GiB')
  })

  it('formats modes like ls', () => {
    expect(formatMode('dir', 0o755)).toBe('drwxr-xr-x')
    expect(formatMode('file', 0o640)).toBe('-rw-r-----')
    expect(formatMode('symlink', 0o777)).toBe('lrwxrwxrwx')
  })

  it('formats durations', () => {
    expect(formatDuration(250)).toBe('250 ms')
    expect(formatDuration(12_340)).toBe('12.3 s')
    expect(formatDuration(125_000)).toBe('2 min 5 s')
  })

  it('aligns table columns', () => {
    expect(
      formatTable(
        ['A', 'Num'],
        [
          ['x', '1'],
          ['long', '100'],
        ],
        ['left', 'right'],
      ),
    ).toBe('A     Num\nx       1\nlong  100')
  })

  it('renders a progress line', () => {
    const e = { type: 'restore' as const, files: 5, bytes: 512, totalFiles: 10, totalBytes: 1024 }
    expect(progressLine('restore latest', e, 1000)).toBe(
      'restore latest: [##########----------] 50%, 5/10 files, 512 B of 1.00 KiB, 512 B/s, ETA 0:01',
    )
    const backup = { type: 'backup' as const, files: 1204, bytes: 3 * 1024 * 1024, newBytes: 0 }
    expect(progressLine('backup docs', backup, 2000)).toBe('backup docs: 1,204 files, 3.00 MiB, 1.50 MiB/s')
  })

  it('formats the time left', () => {
    expect(formatEta(65)).toBe('1:05')
    expect(formatEta(3723)).toBe('1:02:03')
  })

  it('shows a bar on a terminal and nothing when stderr is not a terminal', () => {
    const written: string[] = []
    const tty = { write: (s: string) => written.push(s), isTTY: true, columns: 120 }
    const display = progressDisplay(new Output({ write: () => true }, tty, { json: false, quiet: false, verbose: 0 }), 'restore x', {})
    display.onProgress?.({ type: 'restore', files: 1, bytes: 10, totalFiles: 2, totalBytes: 20 })
    display.finish()
    expect(written[0]).toMatch(/^\r\x1b\[2Krestore x: \[#{10}-{10}\] 50%, 1\/2 files/)
    expect(written.at(-1)).toBe('\r\x1b[2K')
    const quiet: string[] = []
    const pipe = progressDisplay(
      new Output({ write: () => true }, { write: (s: string) => quiet.push(s) }, { json: false, quiet: false, verbose: 0 }),
      't',
      {},
    )
    expect(pipe.onProgress).toBeUndefined()
    pipe.finish()
    expect(quiet).toEqual([])
  })

  it('emits JSON progress lines with --json', () => {
    const lines: string[] = []
    const display = progressDisplay(
      new Output({ write: () => true }, { write: (s: string) => lines.push(s) }, { json: true, quiet: false, verbose: 0 }),
      't',
      { repository: 'r' },
    )
    display.onProgress?.({ type: 'backup', files: 1, bytes: 2, newBytes: 2 })
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([{ type: 'backup', files: 1, bytes: 2, newBytes: 2, repository: 'r' }])
  })
})

describe('displayPath (file names for a terminal)', () => {
  it.each([
    ['plain', 'docs/report 2026.txt', 'docs/report 2026.txt'],
    ['an escape sequence', 'a\u001b]0;owned\u0007b', 'a\\x1b]0;owned\\x07b'],
    ['a colour change', '\u001b[31mred', '\\x1b[31mred'],
    ['newline, tab, carriage return', 'one\ntwo\tthree\rfour', 'one\\ntwo\\tthree\\rfour'],
    ['DEL and C1 controls', 'x\u007fy\u009bz', 'x\\x7fy\\x9bz'],
    ['a bidi override', 'invoice\u202eexe.pdf', 'invoice\\u{202e}exe.pdf'],
    ['other Unicode', 'café/日本', 'café/日本'],
  ])('%s', (_, name, shown) => {
    expect(displayPath(name)).toBe(shown)
  })
})

describe('vger list rendering', () => {
  const stats = {
    files: 1234,
    dirs: 3,
    symlinks: 0,
    others: 0,
    bytes: 5 * 1024 * 1024,
    newChunks: 0,
    newBytes: 0,
    storedBytes: 0,
    skipped: 0,
  }
  const snap = (id: string, partial = false): SnapshotSummary => ({
    id,
    time: '2026-01-05T14:03:22Z',
    hostname: 'laptop',
    username: 'me',
    tree: 'ab'.repeat(32),
    formatVersion: 1,
    tags: [],
    description: '',
    pinned: false,
    label: 'docs',
    paths: ['/home/me/docs'],
    partial,
    stats,
  })

  it('shows the first 8 hex digits and the columns', () => {
    const text = renderListing([snap('0123456789abcdef'), snap('fedcba9876543210', true)], 0)
    const lines = text.split('\n')
    expect(lines[0]).toMatch(/^ID\s+Time\s+Host\s+Label\s+Files\s+Size$/)
    expect(lines[1]).toMatch(/^01234567 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +laptop +docs +1,234 +5\.00 MiB$/)
    expect(lines[2]).toMatch(/^fedcba98\* /)
    expect(lines[3]).toBe('* partial: some entries were skipped (see the backup warnings)')
    expect(shortId('0123456789')).toBe('01234567')
  })

  it('mentions snapshots written by a newer vger', () => {
    expect(renderListing([], 2)).toBe('No snapshots.\n2 snapshots hidden: written by a newer vger (upgrade to see them)')
    expect(renderListing([snap('00000000')], 0)).not.toContain('hidden')
  })

  it('lists entries with symlink targets', () => {
    const text = renderEntries([
      { path: 'docs', kind: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0, mtime: '2026-01-05T14:03:22Z' },
      { path: 'docs/link', kind: 'symlink', size: 0, mode: 0o777, uid: 0, gid: 0, mtime: '2026-01-05T14:03:22Z', target: 'a.txt' },
    ])
    expect(text.split('\n')[1]).toMatch(/^drwxr-xr-x +- +\S+ \S+ +docs$/)
    expect(text.split('\n')[2]).toMatch(/docs\/link -> a\.txt$/)
  })
})
