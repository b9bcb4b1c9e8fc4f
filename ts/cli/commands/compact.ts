/**
 * `vger compact [--threshold PCT] [--max-repack-size SIZE] [--dry-run]`: gives space back. The engine marks
 * what the snapshots use, plans (repack partly used packs, delete unused ones and old debris, consolidate
 * the index) and, unless `--dry-run`, applies the plan under a maintenance lock (backups go on beside it).
 */
import type { CompactOptions, CompactOutcome, PackUse } from '../../repository.js'
import type { Repository } from '../../repository.js'
import type { CliContext } from '../context.js'
import { withHooks } from '../hooks.js'
import { formatBytes, formatCount } from '../output.js'
import { progressDisplay } from '../progress.js'
import { exitFor, type ExitCode } from '../exit.js'

export interface CompactFlags {
  threshold?: number
  maxRepackSize?: number
  dryRun?: boolean
}

export function compactOptions(flags: CompactFlags): CompactOptions {
  return {
    ...(flags.threshold === undefined ? {} : { thresholdPct: flags.threshold }),
    ...(flags.maxRepackSize === undefined ? {} : { maxRepackBytes: flags.maxRepackSize }),
    ...(flags.dryRun === true ? { dryRun: true } : {}),
  }
}

export async function runCompact(ctx: CliContext, name: string, repository: Repository, flags: CompactFlags): Promise<CompactOutcome> {
  const progress = progressDisplay(ctx.out, `compact ${name}`, { repository: name, job: 'compact' })
  // The command line wins over the config's `compact.threshold`, which wins over the engine's default.
  const threshold = flags.threshold ?? ctx.config().compact.threshold
  return repository
    .compact({ ...compactOptions({ ...flags, threshold }), signal: ctx.signal, onProgress: progress.onProgress })
    .finally(() => progress.finish())
}

export async function compact(ctx: CliContext, flags: CompactFlags): Promise<ExitCode> {
  const repos = ctx.repositories('all')
  const { results, failures } = await ctx.eachRepository(repos, (repo) =>
    withHooks(ctx, { command: 'compact', repo }, async () => {
      const repository = await ctx.open(repo)
      const outcome = await runCompact(ctx, repo.name, repository, flags)
      ctx.out.line(renderCompact(repo.name, outcome, { packs: flags.dryRun === true || ctx.options.verbose > 0 }))
      if (outcome.damagedBlobs > 0) {
        ctx.out.warn(
          `${formatCount(outcome.damagedBlobs, 'damaged blob')} left out while repacking; run "vger check" to see what they affect`,
        )
      }
      return outcome
    }),
  )
  ctx.out.result({ repositories: results.map(({ repo, value }) => ({ repository: repo.name, ...value })), errors: failures })
  return exitFor(failures)
}

function packLine(verb: string, p: PackUse): string {
  const used = p.size > 0 ? Math.round((p.usedBytes * 100) / p.size) : 0
  return `  ${verb} pack ${p.pack.slice(0, 12)}  ${formatBytes(p.size)}, ${used}% used`
}

/** The plan (what is repacked, deleted and freed) and, when applied, what was done. */
export function renderCompact(name: string, o: CompactOutcome, { packs = false } = {}): string {
  const sum = (list: PackUse[]): number => list.reduce((n, p) => n + p.size, 0)
  const lines = [
    `Compact "${name}": ${formatCount(o.packsTotal, 'pack')} (${formatBytes(o.bytesTotal)}) used by ${formatCount(o.snapshots, 'snapshot')}`,
  ]
  const plan: string[] = []
  if (o.repack.length > 0)
    plan.push(`repack ${formatCount(o.repack.length, 'pack')} (${formatBytes(sum(o.repack))}, ${formatBytes(o.bytesRepacked)} still used)`)
  if (o.delete.length > 0) plan.push(`delete ${formatCount(o.delete.length, 'unused pack')} (${formatBytes(sum(o.delete))})`)
  if (o.orphans > 0) plan.push(`delete ${formatCount(o.orphans, 'unindexed pack')} left by interrupted runs`)
  if (o.segments > 0) plan.push(`consolidate ${formatCount(o.segments, 'index segment')}`)
  lines.push(plan.length === 0 ? '  nothing to do' : `  plan: ${plan.join(', ')}; frees ${formatBytes(o.bytesFreed)}`)
  if (o.youngOrphans > 0)
    lines.push(
      `  left alone: ${formatCount(o.youngOrphans, 'unindexed pack')} younger than the grace period (another client holds a lock and may be writing them)`,
    )
  if (o.pendingPacks > 0)
    lines.push(
      `  ${formatCount(o.pendingPacks, 'pack')} retired by an earlier compaction wait for readers that were running then; deleted once they have finished`,
    )
  if (packs) {
    for (const p of o.repack) lines.push(packLine('repack', p))
    for (const p of o.delete) lines.push(packLine('delete', p))
  }
  if (!o.applied) {
    lines.push('Dry run: nothing changed.')
  } else if (plan.length > 0 || o.debrisRemoved > 0) {
    const done = [
      `wrote ${formatCount(o.packsWritten, 'pack')}`,
      `deleted ${formatCount(o.packsDeleted, 'pack')}`,
      `wrote ${formatCount(o.segmentsWritten, 'index segment')}`,
    ]
    if (o.debrisRemoved > 0) done.push(`removed ${formatCount(o.debrisRemoved, 'leftover temporary file')}`)
    lines.push(`Done: ${done.join(', ')}; ${formatBytes(o.bytesFreed)} freed.`)
    if (o.packsPending > 0)
      lines.push(
        `  ${formatCount(o.packsPending, 'retired pack')} stay until the backups and restores running now have finished; the next compact deletes them`,
      )
    if (o.blobsReindexed > 0)
      lines.push(`  ${formatCount(o.blobsReindexed, 'chunk')} of snapshots saved during the compaction were indexed again`)
    if (o.packsAssembled > 0)
      lines.push(
        `  ${formatCount(o.packsAssembled, 'pack')} built by the server from the packs it holds (the kept data did not cross the network)`,
      )
  }
  return lines.join('\n')
}
