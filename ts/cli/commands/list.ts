/** `vger list [-S LABEL]... [--last N] [--host H]`: the snapshots of every selected repository, oldest first. */
import type { SnapshotListing, SnapshotSummary } from '../../repository.js'
import type { CliContext } from '../context.js'
import { formatBytes, formatCount, formatTable, formatTime, shortId } from '../output.js'
import { snapshotsByTime } from '../snapshots.js'
import { exitFor, type ExitCode } from '../exit.js'

export interface ListFlags {
  last?: number
  host?: string
}

/** The snapshots to show: by label (-S), host, then the newest `last` of them; oldest first. */
export function filterSnapshots(listing: SnapshotListing, labels: readonly string[], flags: ListFlags): SnapshotSummary[] {
  const byHost = snapshotsByTime(listing, labels).filter((s) => flags.host === undefined || s.hostname === flags.host)
  return flags.last === undefined ? byHost : byHost.slice(-flags.last)
}

export async function list(ctx: CliContext, flags: ListFlags = {}): Promise<ExitCode> {
  const repos = ctx.repositories('all')
  const { results, failures } = await ctx.eachRepository(repos, async (repo): Promise<SnapshotListing> => {
    const repository = await ctx.open(repo)
    const listing = await repository.listSnapshots()
    const snapshots = filterSnapshots(listing, ctx.options.source, flags)
    const damaged = listing.damaged ?? []
    for (const w of damaged) ctx.out.warn(`repository "${repo.name}": damaged snapshot ${w.path}: ${w.message} [${w.code}]`)
    if (repos.length > 1) ctx.out.line(`Repository "${repo.name}" (${repo.url})`)
    ctx.out.line(renderListing(snapshots, listing.hiddenNewer))
    if (repos.length > 1) ctx.out.line()
    return { snapshots, hiddenNewer: listing.hiddenNewer, damaged }
  })
  ctx.out.result({
    repositories: results.map(({ repo, value }) => ({ repository: repo.name, url: repo.url, ...value })),
    errors: failures,
  })
  return exitFor(failures)
}

export function renderListing(snapshots: SnapshotSummary[], hiddenNewer: number): string {
  const lines: string[] = []
  if (snapshots.length === 0) {
    lines.push('No snapshots.')
  } else {
    const rows = snapshots.map((s) => [
      shortId(s.id) + (s.partial ? '*' : ''),
      formatTime(s.time),
      s.hostname,
      s.label,
      s.stats.files.toLocaleString('en-US'),
      formatBytes(s.stats.bytes),
    ])
    const headers = ['ID', 'Time', 'Host', 'Label', 'Files', 'Size']
    lines.push(formatTable(headers, rows, ['left', 'left', 'left', 'left', 'right', 'right']))
    if (snapshots.some((s) => s.partial)) lines.push('* partial: some entries were skipped (see the backup warnings)')
  }
  if (hiddenNewer > 0) {
    lines.push(`${formatCount(hiddenNewer, 'snapshot')} hidden: written by a newer vger (upgrade to see them)`)
  }
  return lines.join('\n')
}
