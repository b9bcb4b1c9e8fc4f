/**
 * `vger list [-S LABEL]... [--host H] [--path P]... [--since T] [--until T] [--last N] [--group-by KEYS]`: the
 * snapshots of every selected repository, oldest first, optionally in groups with their totals.
 */
import type { SnapshotListing, SnapshotSummary } from '../../repository.js'
import type { CliContext } from '../context.js'
import { formatBytes, formatCount, formatNumber, formatTable, formatTime, shortId } from '../output.js'
import { snapshotsByTime } from '../snapshots.js'
import { exitFor, type ExitCode } from '../exit.js'
import type { GroupByKey } from '../../config/schema.js'

export interface ListFlags {
  last?: number
  host?: string
  /** Absolute source paths a snapshot must include (all of them). */
  path?: string[]
  /** Only snapshots at or after / before this time (ms since the epoch). */
  since?: number
  until?: number
  groupBy?: GroupByKey[]
  /** Only snapshots with every tag of one of these groups (`--tag a,b`, repeatable). */
  tag?: string[][]
}

/** Whether a snapshot carries every tag of at least one group (no groups: every snapshot does). */
export function hasTags(s: SnapshotSummary, groups: readonly string[][] | undefined): boolean {
  return groups === undefined || groups.length === 0 || groups.some((g) => g.every((t) => s.tags.includes(t)))
}

/** The snapshots to show: by label (-S), host, paths and time, then the newest `last` of them; oldest first. */
export function filterSnapshots(listing: SnapshotListing, labels: readonly string[], flags: ListFlags): SnapshotSummary[] {
  const kept = snapshotsByTime(listing, labels).filter((s) => {
    const t = Date.parse(s.time)
    return (
      (flags.host === undefined || s.hostname === flags.host) &&
      (flags.path ?? []).every((p) => s.paths.includes(p)) &&
      (flags.since === undefined || t >= flags.since) &&
      (flags.until === undefined || t <= flags.until) &&
      hasTags(s, flags.tag)
    )
  })
  return flags.last === undefined ? kept : kept.slice(-flags.last)
}

export interface SnapshotGroup {
  hostname?: string
  label?: string
  paths?: string[]
  snapshots: SnapshotSummary[]
  /** Sums over the group's snapshots: files and bytes of the newest, new and stored bytes of all. */
  totals: { snapshots: number; files: number; bytes: number; newBytes: number; storedBytes: number }
}

/** `snapshots` in groups by the given keys (one group of all for none), in the order their first snapshot comes. */
export function groupSnapshots(snapshots: SnapshotSummary[], keys: readonly GroupByKey[]): SnapshotGroup[] {
  const groups = new Map<string, SnapshotGroup>()
  for (const s of snapshots) {
    const key = JSON.stringify(keys.map((k) => (k === 'host' ? s.hostname : k === 'label' ? s.label : [...s.paths].sort())))
    let g = groups.get(key)
    if (g === undefined) {
      g = { snapshots: [], totals: { snapshots: 0, files: 0, bytes: 0, newBytes: 0, storedBytes: 0 } }
      if (keys.includes('host')) g.hostname = s.hostname
      if (keys.includes('label')) g.label = s.label
      if (keys.includes('paths')) g.paths = [...s.paths].sort()
      groups.set(key, g)
    }
    g.snapshots.push(s)
    g.totals.snapshots += 1
    g.totals.files = s.stats.files
    g.totals.bytes = s.stats.bytes
    g.totals.newBytes += s.stats.newBytes
    g.totals.storedBytes += s.stats.storedBytes
  }
  return [...groups.values()]
}

function groupTitle(g: SnapshotGroup): string {
  const parts: string[] = []
  if (g.hostname !== undefined) parts.push(`host ${g.hostname}`)
  if (g.label !== undefined) parts.push(`label ${g.label}`)
  if (g.paths !== undefined) parts.push(`paths ${g.paths.join(', ')}`)
  const t = g.totals
  const what = parts.length === 0 ? 'all snapshots' : parts.join(', ')
  return (
    `${what}: ${formatCount(t.snapshots, 'snapshot')}; the newest has ${formatNumber(t.files)} files, ${formatBytes(t.bytes)}; ` +
    `together they added ${formatBytes(t.newBytes)} (${formatBytes(t.storedBytes)} stored)`
  )
}

export async function list(ctx: CliContext, flags: ListFlags = {}): Promise<ExitCode> {
  const repos = ctx.repositories('all')
  const { results, failures } = await ctx.eachRepository(repos, async (repo): Promise<SnapshotListing & { groups?: SnapshotGroup[] }> => {
    const repository = await ctx.open(repo)
    const listing = await repository.listSnapshots()
    const snapshots = filterSnapshots(listing, ctx.options.source, flags)
    const damaged = listing.damaged ?? []
    for (const w of damaged) ctx.out.warn(`repository "${repo.name}": damaged snapshot ${w.path}: ${w.message} [${w.code}]`)
    if (repos.length > 1) ctx.out.line(`Repository "${repo.name}" (${repo.url})`)
    if (flags.groupBy === undefined) {
      ctx.out.line(renderListing(snapshots, listing.hiddenNewer))
      if (repos.length > 1) ctx.out.line()
      return { snapshots, hiddenNewer: listing.hiddenNewer, damaged }
    }
    const groups = groupSnapshots(snapshots, flags.groupBy)
    for (const g of groups) ctx.out.line(`${groupTitle(g)}\n${renderListing(g.snapshots, 0)}\n`)
    if (groups.length === 0) ctx.out.line(renderListing([], listing.hiddenNewer))
    return { snapshots, groups, hiddenNewer: listing.hiddenNewer, damaged }
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
    // The Tags column only when some snapshot has tags or a pin, so plain listings stay narrow.
    const tagged = snapshots.some((s) => s.tags.length > 0 || s.pinned)
    const rows = snapshots.map((s) => [
      shortId(s.id) + (s.partial ? '*' : ''),
      formatTime(s.time),
      s.hostname,
      s.label,
      formatNumber(s.stats.files),
      formatBytes(s.stats.bytes),
      ...(tagged ? [tagCell(s)] : []),
    ])
    const headers = ['ID', 'Time', 'Host', 'Label', 'Files', 'Size', ...(tagged ? ['Tags'] : [])]
    lines.push(formatTable(headers, rows, ['left', 'left', 'left', 'left', 'right', 'right', 'left']))
    if (snapshots.some((s) => s.partial)) lines.push('* partial: some entries were skipped (see the backup warnings)')
  }
  if (hiddenNewer > 0) {
    lines.push(`${formatCount(hiddenNewer, 'snapshot')} hidden: written by a newer vger (upgrade to see them)`)
  }
  return lines.join('\n')
}

/** Tags, comma-separated, after "(pinned)" for a pinned snapshot. */
export function tagCell(s: SnapshotSummary): string {
  return [...(s.pinned ? ['(pinned)'] : []), s.tags.join(',')].filter((x) => x !== '').join(' ')
}
