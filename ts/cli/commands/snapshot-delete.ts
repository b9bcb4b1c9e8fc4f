/**
 * `vger snapshot delete SNAPSHOT... [--dry-run]`: removes snapshots from one repository. Every name
 * (`latest`, an id prefix) is resolved first, so one unknown name removes nothing. Only the snapshot
 * objects go; `vger compact` gives their data back.
 */
import type { SnapshotSummary } from '../../repository.js'
import type { CliContext } from '../context.js'
import { formatCount } from '../output.js'
import { pickSnapshot } from '../snapshots.js'
import { renderListing } from './list.js'
import { EXIT, type ExitCode } from '../exit.js'

export async function snapshotDelete(ctx: CliContext, refs: string[], flags: { dryRun?: boolean }): Promise<ExitCode> {
  const repo = ctx.repository()
  const repository = await ctx.open(repo)
  const listing = await repository.listSnapshots()
  const chosen = new Map<string, SnapshotSummary>()
  for (const ref of refs) {
    const s = pickSnapshot(listing, ref, ctx.options.source)
    chosen.set(s.id, s)
  }
  const outcome = await repository.deleteSnapshots([...chosen.keys()], { dryRun: flags.dryRun === true })
  ctx.out.line(renderListing(outcome.snapshots, 0))
  ctx.out.line(
    outcome.applied
      ? `Deleted ${formatCount(outcome.removed, 'snapshot')} from "${repo.name}"; run "vger compact" to give the space back.`
      : `Dry run: would delete ${formatCount(outcome.snapshots.length, 'snapshot')} from "${repo.name}"; nothing changed.`,
  )
  ctx.out.result({ repository: repo.name, ...outcome })
  return EXIT.ok
}
