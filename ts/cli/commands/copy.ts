/**
 * `vger copy [SNAPSHOT...] --to LABEL|URL [-R SOURCE] [-S LABEL]... [--host H] [--tag TAGS]... [--since T]
 * [--until T] [--last N] [--dry-run]`: copies snapshots of one repository into another (the 3-2-1 rule without
 * reading the sources twice). The engine stores only the blobs the destination lacks, sealed with its keys, and
 * skips snapshots the destination already has, so a second run copies nothing.
 */
import { selectRepositories } from '../../config/select.js'
import type { CopyOutcome, SnapshotSummary } from '../../repository.js'
import { VgerError } from '../../errors.js'
import type { CliContext } from '../context.js'
import { formatBytes, formatCount, shortId } from '../output.js'
import { pickSnapshot } from '../snapshots.js'
import { progressDisplay } from '../progress.js'
import { EXIT, type ExitCode } from '../exit.js'
import { type ListFlags, filterSnapshots } from './list.js'

export interface CopyFlags extends Pick<ListFlags, 'host' | 'tag' | 'since' | 'until' | 'last'> {
  to: string
  dryRun?: boolean
}

export async function copy(ctx: CliContext, refs: string[], flags: CopyFlags): Promise<ExitCode> {
  const from = ctx.repository()
  const [to] = selectRepositories(ctx.config(), flags.to, 'one', { cwd: ctx.io.cwd, home: ctx.home })
  if (to === undefined) throw new VgerError('VGER_USAGE', `--to ${flags.to} names no repository`)
  if (to.url === from.url) {
    throw new VgerError('VGER_USAGE', `--to names the source repository "${from.name}"; pick the source with -R and another --to`)
  }
  const source = await ctx.open(from)
  const listing = await source.listSnapshots()
  let chosen: SnapshotSummary[]
  if (refs.length > 0) {
    const byId = new Map<string, SnapshotSummary>()
    for (const ref of refs) {
      const s = pickSnapshot(listing, ref, ctx.options.source)
      byId.set(s.id, s)
    }
    chosen = [...byId.values()]
  } else {
    chosen = filterSnapshots(listing, ctx.options.source, flags)
  }
  if (chosen.length === 0) {
    ctx.out.line(`No snapshot of "${from.name}" matches; nothing to copy.`)
    ctx.out.result({ from: from.name, to: to.name, snapshots: [], blobs: 0, bytes: 0, storedBytes: 0, bytesRead: 0 })
    return EXIT.ok
  }
  const dest = await ctx.open(to)
  const progress = progressDisplay(ctx.out, `copy ${from.name} → ${to.name}`, { repository: to.name })
  const outcome = await source
    .copyTo(
      dest,
      chosen.map((s) => s.id),
      {
        compression: to.compression.algorithm,
        zstdLevel: to.compression.zstdLevel,
        dryRun: flags.dryRun === true,
        signal: ctx.signal,
        onProgress: progress.onProgress,
      },
    )
    .finally(() => progress.finish())
  ctx.out.line(renderCopy(from.name, to.name, outcome))
  ctx.out.result({ from: from.name, to: to.name, ...outcome })
  return EXIT.ok
}

export function renderCopy(from: string, to: string, o: CopyOutcome): string {
  const lines = o.snapshots.map((c) =>
    c.copied == null
      ? `${shortId(c.source.id)}: already in "${to}"`
      : `${shortId(c.source.id)}: ${o.applied ? 'copied' : 'would be copied'}`,
  )
  const copied = o.snapshots.filter((c) => c.copied != null).length
  const verb = o.applied ? 'Copied' : 'Dry run: would copy'
  lines.push(
    `${verb} ${formatCount(copied, 'snapshot')} from "${from}" to "${to}" (${formatCount(o.snapshots.length - copied, 'snapshot')} already there): ` +
      `${formatCount(o.blobs, 'new blob')}, ${formatBytes(o.bytes)} (${formatBytes(o.storedBytes)} stored); ${formatBytes(o.bytesRead)} read from "${from}".`,
  )
  if (o.rechunked && copied > 0) {
    lines.push(
      `The repositories have different chunker keys, so every file of the copied snapshots was read and cut again; ` +
        `a destination made with "vger init --copy-chunker-params-from" reads only what it lacks.`,
    )
  }
  return lines.join('\n')
}
