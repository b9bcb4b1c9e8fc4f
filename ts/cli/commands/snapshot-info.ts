/** `vger snapshot info SNAPSHOT`: the metadata and statistics of one snapshot. */
import type { SnapshotSummary } from '../../repository.js'
import type { CliContext } from '../context.js'
import { displayPath, formatBytes, formatCount, formatTime } from '../output.js'
import { resolveSnapshot } from '../snapshots.js'
import { EXIT, type ExitCode } from '../exit.js'

export async function snapshotInfo(ctx: CliContext, ref: string): Promise<ExitCode> {
  const repo = ctx.repository()
  const repository = await ctx.open(repo)
  const snapshot = await resolveSnapshot(repository, ref, ctx.options.source)
  ctx.out.line(renderSnapshotInfo(snapshot))
  ctx.out.result({ repository: repo.name, snapshot })
  return EXIT.ok
}

export function renderSnapshotInfo(s: SnapshotSummary): string {
  const st = s.stats
  const rows: [string, string][] = [
    ['ID', s.id],
    ['Time', formatTime(s.time)],
    ['Label', s.label],
    ['Host', s.hostname],
    ['User', s.username],
    ['Paths', s.paths.map(displayPath).join(', ')],
    ['Partial', s.partial ? `yes: ${st.skipped} entries skipped` : 'no'],
    [
      'Entries',
      [
        formatCount(st.files, 'file'),
        formatCount(st.dirs, 'dir'),
        formatCount(st.symlinks, 'symlink'),
        formatCount(st.others, 'other'),
      ].join(', '),
    ],
    ['Size', formatBytes(st.bytes)],
    ['Added', `${formatBytes(st.newBytes)} new data in ${st.newChunks} chunks, ${formatBytes(st.storedBytes)} stored`],
    ...extraRows(s),
    ['Tree', s.tree],
    ['Format version', String(s.formatVersion)],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${v}`).join('\n')
}

/** Rows only some snapshots have: tags, pin, description, rewrite history. */
function extraRows(s: SnapshotSummary): [string, string][] {
  const rows: [string, string][] = []
  if (s.tags.length > 0) rows.push(['Tags', s.tags.join(', ')])
  if (s.pinned) rows.push(['Pinned', 'yes: prune and snapshot delete leave it (vger snapshot unpin releases it)'])
  if (s.description !== '') rows.push(['Description', s.description])
  if (s.rewrittenFrom != null) rows.push(['Rewritten from', `${s.rewrittenFrom.id} (${s.rewrittenFrom.note})`])
  return rows
}
