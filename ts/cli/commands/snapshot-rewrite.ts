/**
 * `vger snapshot rewrite SNAPSHOT... --exclude PATTERN... [--forget] [--dry-run]`: new snapshots without the
 * paths the patterns match. The originals stay unless `--forget`; `vger compact` then gives back the space of
 * what only they held. Every name is resolved and every snapshot walked before anything is written, so a
 * pattern that matches nothing, or one that would empty a snapshot, changes nothing.
 */
import type { RewriteOutcome, SnapshotSummary } from '../../repository.js'
import type { CliContext } from '../context.js'
import { displayPath, formatBytes, formatCount, shortId } from '../output.js'
import { pickSnapshot } from '../snapshots.js'
import { progressDisplay } from '../progress.js'
import { EXIT, type ExitCode } from '../exit.js'

export interface RewriteFlags {
  exclude: string[]
  forget?: boolean
  dryRun?: boolean
}

export async function snapshotRewrite(ctx: CliContext, refs: string[], flags: RewriteFlags): Promise<ExitCode> {
  const repo = ctx.repository()
  const repository = await ctx.open(repo)
  const listing = await repository.listSnapshots()
  const chosen = new Map<string, SnapshotSummary>()
  for (const ref of refs) {
    const s = pickSnapshot(listing, ref, ctx.options.source)
    chosen.set(s.id, s)
  }
  const progress = progressDisplay(ctx.out, 'rewrite', { repository: repo.name })
  const outcome = await repository
    .rewriteSnapshots([...chosen.keys()], {
      exclude: flags.exclude,
      forget: flags.forget === true,
      dryRun: flags.dryRun === true,
      compression: repo.compression.algorithm,
      zstdLevel: repo.compression.zstdLevel,
      signal: ctx.signal,
      onProgress: progress.onProgress,
    })
    .finally(() => progress.finish())
  ctx.out.line(renderRewrite(outcome, flags))
  ctx.out.result({ repository: repo.name, ...outcome })
  return EXIT.ok
}

export function renderRewrite(o: RewriteOutcome, flags: Pick<RewriteFlags, 'forget'>): string {
  const lines: string[] = []
  for (const i of o.items) {
    const old = shortId(i.original.id)
    if (i.rewritten == null) {
      lines.push(`${old}: nothing matched; left as it is`)
      continue
    }
    const verb = o.applied ? 'rewritten as' : 'would be rewritten as'
    const gone = i.forgotten ? ' (original removed)' : ''
    lines.push(
      `${old}: ${verb} ${shortId(i.rewritten.id)}${gone}, without ${formatCount(i.removedEntries, 'entry', 'entries')} ` +
        `(${formatBytes(i.removedBytes)} of files):`,
    )
    for (const p of i.removedPaths) lines.push(`  - ${displayPath(p)}`)
  }
  const changed = o.items.filter((i) => i.rewritten != null).length
  if (!o.applied) lines.push(`Dry run: would rewrite ${formatCount(changed, 'snapshot')}; nothing changed.`)
  else if (changed > 0)
    lines.push(
      flags.forget === true
        ? 'Run "vger compact" to give back the space of what was removed.'
        : 'The originals are kept: delete them (or rewrite with --forget), then run "vger compact" to give the space back.',
    )
  return lines.join('\n')
}
