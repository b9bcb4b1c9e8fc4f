/**
 * `vger check [--verify-data] [--read-data-subset PCT] [--repair [--dry-run]]`: is every snapshot
 * restorable? Prints each damaged object and, per snapshot, the files the damage affects; fails with
 * `VGER_CHECK_FAILED` (exit 1) when anything is wrong. `--repair` rebuilds the index from the packs,
 * salvages damaged packs, and checks again.
 */
import { VgerError } from '../../errors.js'
import type { CheckReport, RepairOutcome } from '../../repository.js'
import type { Repository } from '../../repository.js'
import type { CliContext } from '../context.js'
import { formatBytes, formatCount, formatTime, shortId } from '../output.js'
import { progressDisplay } from '../progress.js'
import { exitFor, type ExitCode } from '../exit.js'

export interface CheckFlags {
  verifyData?: boolean
  readDataSubset?: number
  repair?: boolean
  dryRun?: boolean
}

/** Files listed per damaged snapshot before "… and N more" (all of them with -v). */
const FILES_SHOWN = 10

export async function runCheck(ctx: CliContext, name: string, repository: Repository, flags: CheckFlags): Promise<CheckReport> {
  const progress = progressDisplay(ctx.out, `check ${name}`, { repository: name, job: 'check' })
  return repository
    .check({
      ...(flags.verifyData === true ? { verifyData: true } : {}),
      ...(flags.readDataSubset === undefined ? {} : { readDataSubsetPct: flags.readDataSubset }),
      signal: ctx.signal,
      onProgress: progress.onProgress,
    })
    .finally(() => progress.finish())
}

async function runRepair(ctx: CliContext, name: string, repository: Repository, flags: CheckFlags): Promise<RepairOutcome> {
  const progress = progressDisplay(ctx.out, `repair ${name}`, { repository: name, job: 'repair' })
  return repository
    .repair({ verifyData: flags.verifyData === true, dryRun: flags.dryRun === true, signal: ctx.signal, onProgress: progress.onProgress })
    .finally(() => progress.finish())
}

export async function check(ctx: CliContext, flags: CheckFlags): Promise<ExitCode> {
  if (flags.dryRun === true && flags.repair !== true) {
    throw new VgerError('VGER_USAGE', '--dry-run goes with --repair (a plain check never changes anything)')
  }
  if (flags.repair === true && flags.readDataSubset !== undefined) {
    throw new VgerError(
      'VGER_USAGE',
      '--repair reads every pack; --read-data-subset does not apply to it (use --verify-data to authenticate every blob)',
    )
  }
  const repos = ctx.repositories('all')
  const verbose = ctx.options.verbose > 0
  const bad: string[] = []
  const { results, failures } = await ctx.eachRepository(repos, async (repo) => {
    const repository = await ctx.open(repo)
    if (flags.repair === true) {
      const outcome = await runRepair(ctx, repo.name, repository, flags)
      ctx.out.line(renderRepair(repo.name, outcome))
      ctx.out.line(renderCheck(repo.name, outcome.check, { allFiles: verbose, after: outcome.applied ? 'after the repair' : 'now' }))
      if (!outcome.check.ok) bad.push(repo.name)
      return outcome as CheckReport | RepairOutcome
    }
    const report = await runCheck(ctx, repo.name, repository, flags)
    ctx.out.line(renderCheck(repo.name, report, { allFiles: verbose }))
    if (!report.ok) bad.push(repo.name)
    return report
  })
  ctx.out.result({ repositories: results.map(({ repo, value }) => ({ repository: repo.name, ...value })), errors: failures })
  if (bad.length > 0) throw checkFailed(bad, flags)
  return exitFor(failures)
}

export function checkFailed(repos: string[], flags: CheckFlags = {}): VgerError {
  const which = repos.map((r) => `"${r}"`).join(', ')
  const next =
    flags.repair === true
      ? flags.dryRun === true
        ? 'run "vger check --repair" to apply the plan above'
        : 'data that is gone cannot be repaired here: back up the affected files again if they still exist (that heals every snapshot), or restore the repository from another copy'
      : 'see the list above; "vger check --repair --dry-run" shows what a repair would do'
  return new VgerError('VGER_CHECK_FAILED', `check found problems in ${which}; ${next}`)
}

/** The counts, each problem, and for each damaged snapshot the files affected. */
export function renderCheck(
  name: string,
  r: CheckReport,
  { allFiles = false, after }: { allFiles?: boolean; after?: string } = {},
): string {
  const counts = [
    formatCount(r.snapshots, 'snapshot'),
    formatCount(r.trees, 'tree'),
    formatCount(r.chunksReferenced, 'chunk'),
    formatCount(r.packs, 'pack'),
  ]
  const data =
    r.packsRead > 0
      ? `; data: ${formatCount(r.packsRead, 'pack')} read (${formatBytes(r.bytesRead)}), ${formatCount(r.blobsVerified, 'blob')} verified`
      : ''
  const when = after === undefined ? '' : ` (${after})`
  const verdict = r.ok ? 'no problems found' : `${formatCount(r.problems.length, 'problem')} found`
  const lines = [`Check "${name}"${when}: ${counts.join(', ')}${data}: ${verdict}`]
  if (r.unindexedPacks > 0)
    lines.push(
      `  ${formatCount(r.unindexedPacks, 'pack')} not in the index (left by an interrupted backup; compact removes them after the grace period)`,
    )
  if (r.hiddenNewer > 0) lines.push(`  ${formatCount(r.hiddenNewer, 'snapshot')} written by a newer vger not checked`)
  for (const p of r.problems) lines.push(`  ${p.object}: ${p.message} [${p.code}]`)
  if (r.damaged.length > 0) {
    lines.push('Damaged snapshots (files that cannot be restored in full):')
    for (const d of r.damaged) {
      const s = d.snapshot
      lines.push(`  ${shortId(s.id)} "${s.label}" ${formatTime(s.time)} ${s.hostname}: ${formatCount(d.filesTotal, 'file')}`)
      const shown = allFiles ? d.files : d.files.slice(0, FILES_SHOWN)
      for (const f of shown) lines.push(`    ${f}`)
      const more = d.filesTotal - shown.length
      if (more > 0) lines.push(`    … and ${more} more${allFiles ? '' : ' (-v lists them all)'}`)
    }
  }
  return lines.join('\n')
}

/** What the repair found and did (or, with --dry-run, would do). */
export function renderRepair(name: string, o: RepairOutcome): string {
  const lines = [`Repair "${name}": ${formatCount(o.packsScanned, 'pack')} scanned, ${formatCount(o.blobsIndexed, 'blob')} readable`]
  if (o.packsDamaged.length > 0) {
    lines.push(`  damaged packs: ${o.packsDamaged.map((p) => p.slice(0, 12)).join(', ')}`)
    lines.push(
      `  ${formatCount(o.blobsDamaged, 'damaged blob')} dropped, ${formatCount(o.blobsSalvaged, 'intact blob')} salvaged into new packs`,
    )
  }
  if (o.packsNewer.length > 0) lines.push(`  left alone (written by a newer vger): ${o.packsNewer.map((p) => p.slice(0, 12)).join(', ')}`)
  const index = `index: ${formatCount(o.entriesDropped, 'entry', 'entries')} dropped, ${formatCount(o.entriesAdded, 'entry', 'entries')} added, ${formatCount(o.segmentsReplaced, 'segment')} replaced`
  lines.push(`  ${index}`)
  lines.push(o.applied ? 'Repaired.' : 'Dry run: nothing changed.')
  return lines.join('\n')
}
