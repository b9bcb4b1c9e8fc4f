/**
 * `vger snapshot tag add|remove|set TAGS SNAPSHOT...`, `vger snapshot pin|unpin SNAPSHOT...` and
 * `vger snapshot describe SNAPSHOT TEXT`: change what snapshots say about themselves. Snapshot objects are
 * never changed in place, so each changed snapshot is replaced by a new one with a new id; the output
 * shows both ids. Every name is resolved first: one unknown name changes nothing.
 */
import type { SnapshotChange, SnapshotChangeOutcome, SnapshotSummary } from '../../repository.js'
import type { CliContext } from '../context.js'
import { formatCount, formatTable, formatTime, shortId } from '../output.js'
import { pickSnapshot } from '../snapshots.js'
import { EXIT, type ExitCode } from '../exit.js'
import { tagCell } from './list.js'

export async function snapshotChange(
  ctx: CliContext,
  refs: string[],
  change: Omit<SnapshotChange, 'dryRun'>,
  flags: { dryRun?: boolean },
): Promise<ExitCode> {
  const repo = ctx.repository()
  const repository = await ctx.open(repo)
  const listing = await repository.listSnapshots()
  const chosen = new Map<string, SnapshotSummary>()
  for (const ref of refs) {
    const s = pickSnapshot(listing, ref, ctx.options.source)
    chosen.set(s.id, s)
  }
  const outcome = await repository.changeSnapshots([...chosen.keys()], { ...change, dryRun: flags.dryRun === true })
  ctx.out.line(renderChange(outcome))
  ctx.out.result({ repository: repo.name, ...outcome })
  return EXIT.ok
}

export function renderChange(o: SnapshotChangeOutcome): string {
  const rows = o.items.map((i) => [
    shortId(i.before.id),
    i.after === undefined || i.after === null ? '(unchanged)' : shortId(i.after.id),
    formatTime(i.before.time),
    i.before.label,
    tagCell(i.after ?? i.before),
    (i.after ?? i.before).description,
  ])
  const table = formatTable(['ID', 'New ID', 'Time', 'Label', 'Tags', 'Description'], rows)
  const summary = o.applied
    ? `Changed ${formatCount(o.changed, 'snapshot')}; each changed snapshot has a new id.`
    : `Dry run: would change ${formatCount(o.changed, 'snapshot')}; nothing changed.`
  return `${table}\n${summary}`
}
