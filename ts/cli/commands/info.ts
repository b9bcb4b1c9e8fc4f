/** `vger info`: each selected repository's details and totals. */
import type { RepoInfo, RepoStats, SnapshotSummary } from '../../repository.js'
import type { CliContext } from '../context.js'
import { formatBytes, formatCount, formatNumber, formatTime, shortId } from '../output.js'
import { snapshotsByTime } from '../snapshots.js'
import { exitFor, type ExitCode } from '../exit.js'

export interface InfoResult extends RepoInfo {
  stats: RepoStats
  lastSnapshot: { id: string; time: string; label: string } | null
}

export async function info(ctx: CliContext): Promise<ExitCode> {
  const repos = ctx.repositories('all')
  const { results, failures } = await ctx.eachRepository(repos, async (repo): Promise<InfoResult> => {
    const repository = await ctx.open(repo)
    const [stats, listing] = await Promise.all([repository.stats(), repository.listSnapshots()])
    const last = snapshotsByTime(listing).at(-1)
    const result: InfoResult = { ...repository.info(), stats, lastSnapshot: last === undefined ? null : pickLast(last) }
    ctx.out.line(renderInfo(repo.name, result))
    if (repos.length > 1) ctx.out.line()
    return result
  })
  ctx.out.result({
    repositories: results.map(({ repo, value }) => ({ repository: repo.name, ...value })),
    errors: failures,
  })
  return exitFor(failures)
}

function pickLast(s: SnapshotSummary): { id: string; time: string; label: string } {
  return { id: s.id, time: s.time, label: s.label }
}

function ratio(part: number, whole: number): string {
  // Tree blobs count as chunks, so on tiny repositories the ratio can pass 100%: not worth showing then.
  return whole > 0 && part <= whole ? ` (${((part * 100) / whole).toFixed(1)}% of original)` : ''
}

export function renderInfo(name: string, r: InfoResult): string {
  const s = r.stats
  const rows: [string, string][] = [
    ['Repository', name],
    ['URL', r.url],
    ['ID', shortId(r.id)],
    ['Encryption', r.encryption],
    ['Format version', String(r.formatVersion)],
    ['Chunker', `${formatBytes(r.chunker.minSize)} / ${formatBytes(r.chunker.avgSize)} / ${formatBytes(r.chunker.maxSize)}`],
    ['Created', formatTime(r.created)],
    ['Snapshots', formatNumber(s.snapshots)],
    [
      'Last snapshot',
      r.lastSnapshot === null ? '-' : `${shortId(r.lastSnapshot.id)} "${r.lastSnapshot.label}" ${formatTime(r.lastSnapshot.time)}`,
    ],
    ['Original size', formatBytes(s.originalBytes)],
    ['Deduplicated size', `${formatBytes(s.deduplicatedBytes)}${ratio(s.deduplicatedBytes, s.originalBytes)}`],
    ['Compressed size', `${formatBytes(s.compressedBytes)}${ratio(s.compressedBytes, s.originalBytes)}`],
    ['Stored size', formatBytes(s.storedBytes)],
    ['Unique chunks', formatCount(s.uniqueChunks, 'chunk')],
    ['Packs', formatCount(s.packs, 'pack')],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${v}`).join('\n')
}
