/**
 * `vger check [--verify-data] [--read-data-subset PCT] [--verify-on-server] [--repair [--dry-run]]`: is every snapshot
 * restorable? Prints each damaged object and, per snapshot, the files the damage affects; fails with
 * `VGER_CHECK_FAILED` (exit 1) when anything is wrong. `--repair` rebuilds the index from the packs,
 * salvages damaged packs, and checks again.
 */
import { VgerError } from '../../errors.js'
import type { CheckReport, RepairOutcome } from '../../repository.js'
import type { Repository } from '../../repository.js'
import type { CliContext } from '../context.js'
import { recordFullCheck } from '../full-check.js'
import { withHooks } from '../hooks.js'
import { displayPath, formatBytes, formatCount, formatTime, shortId } from '../output.js'
import { progressDisplay } from '../progress.js'
import { exitFor, type ExitCode } from '../exit.js'

export interface CheckFlags {
  verifyData?: boolean
  readDataSubset?: number
  verifyOnServer?: boolean
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
      ...(flags.verifyOnServer === true ? { verifyOnServer: true } : {}),
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
  if (flags.repair === true && flags.verifyOnServer === true) {
    throw new VgerError('VGER_USAGE', '--verify-on-server goes with a plain check (--repair reads every pack itself)')
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
  // The check hooks see a check that found problems as a failure (the command fails with VGER_CHECK_FAILED).
  const problems = (repo: string): VgerError | undefined =>
    bad.includes(repo) ? new VgerError('VGER_CHECK_FAILED', `check found problems in repository "${repo}"`) : undefined
  const { results, failures } = await ctx.eachRepository(repos, (repo) =>
    withHooks(
      ctx,
      { command: 'check', repo },
      async () => {
        const repository = await ctx.open(repo)
        if (flags.repair === true) {
          const outcome = await runRepair(ctx, repo.name, repository, flags)
          ctx.out.line(renderRepair(repo.name, outcome))
          const after = outcome.applied ? 'after the repair' : 'now'
          ctx.out.line(renderCheck(repo.name, outcome.check, { allFiles: verbose, after, planFound: !outcome.applied && outcome.needed }))
          // A dry run whose plan found damage fails too: the check after it reads no data, so it cannot.
          if (!outcome.check.ok || (!outcome.applied && outcome.needed)) bad.push(repo.name)
          return outcome as CheckReport | RepairOutcome
        }
        const report = await runCheck(ctx, repo.name, repository, flags)
        ctx.out.line(renderCheck(repo.name, report, { allFiles: verbose }))
        if (!report.ok) bad.push(repo.name)
        else if (flags.verifyData === true && flags.verifyOnServer !== true) {
          // A full check: the cycle's `check.full_every` counts from here.
          const warning = recordFullCheck(ctx.config().cacheDir, repository.info().id, new Date())
          if (warning !== undefined) ctx.out.warn(warning)
        }
        return report
      },
      () => problems(repo.name),
    ),
  )
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
  { allFiles = false, after, planFound = false }: { allFiles?: boolean; after?: string; planFound?: boolean } = {},
): string {
  const counts = [
    formatCount(r.snapshots, 'snapshot'),
    formatCount(r.trees, 'tree'),
    formatCount(r.chunksReferenced, 'chunk'),
    formatCount(r.packs, 'pack'),
  ]
  const data =
    (r.packsRead > 0
      ? `; data: ${formatCount(r.packsRead, 'pack')} read (${formatBytes(r.bytesRead)}), ${formatCount(r.blobsVerified, 'blob')} verified`
      : '') + (r.packsVerifiedOnServer > 0 ? `; ${formatCount(r.packsVerifiedOnServer, 'pack')} hashed by the server` : '')
  const when = after === undefined ? '' : ` (${after})`
  // After a dry run whose plan found damage, a clean structure check must not read as "no problems".
  const found = planFound && r.ok ? 'the structure is sound, but the repair plan above found damage' : verdict(r)
  const lines = [`Check "${name}"${when}: ${counts.join(', ')}${data}: ${found}`]
  if (r.problems.length === 0 && r.damaged.length > 0) {
    lines.push('  data the snapshots below use is in no pack any more (the index lists none for it)')
  }
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
      const head = `  ${shortId(s.id)} "${s.label}" ${formatTime(s.time)} ${s.hostname}`
      if (d.files.includes('/')) {
        lines.push(`${head}: its root directory cannot be read, so none of its files can be restored`)
        continue
      }
      lines.push(`${head}: ${damagedCount(d.filesTotal - d.dirsTotal, d.dirsTotal)}`)
      const shown = allFiles ? d.files : d.files.slice(0, FILES_SHOWN)
      for (const f of shown)
        lines.push(`    ${displayPath(f)}${f.endsWith('/') ? ' (directory cannot be read: nothing under it can be restored)' : ''}`)
      const more = d.filesTotal - shown.length
      if (more > 0) lines.push(`    … and ${more} more${allFiles ? '' : ' (-v lists them all)'}`)
    }
  }
  return lines.join('\n')
}

/** "2 problems found (1 damaged snapshot)", "1 damaged snapshot found", or "no problems found". */
export function verdict(r: CheckReport): string {
  if (r.ok) return 'no problems found'
  const snapshots = formatCount(r.damaged.length, 'damaged snapshot')
  if (r.problems.length === 0) return `${snapshots} found`
  return `${formatCount(r.problems.length, 'problem')} found${r.damaged.length > 0 ? ` (${snapshots})` : ''}`
}

function damagedCount(files: number, dirs: number): string {
  const parts = []
  if (files > 0 || dirs === 0) parts.push(formatCount(files, 'file'))
  if (dirs > 0) parts.push(formatCount(dirs, 'unreadable directory', 'unreadable directories'))
  return parts.join(' and ')
}

/** Pack ids as text: 12 hex digits, as in `vger compact` (the JSON result has all 64). */
const packIds = (ids: string[]): string => ids.map((p) => p.slice(0, 12)).join(', ')

/** What the repair found and did (or, with --dry-run, would do), in what it means for the data. */
export function renderRepair(name: string, o: RepairOutcome): string {
  const head = `Repair "${name}": ${formatCount(o.packsScanned, 'pack')} read, ${formatCount(o.blobsIndexed, 'blob')} readable`
  if (!o.needed) return `${head}\nNothing needs repair: the packs and the index agree and nothing is damaged.`
  const will = (done: string, planned: string): string => (o.applied ? done : planned)
  const lines = [head]
  if (o.packsDamaged.length > 0) {
    lines.push(`  damaged packs: ${packIds(o.packsDamaged)}`)
    lines.push(
      `    ${formatCount(o.blobsSalvaged, 'intact blob')} ${will('copied', 'to copy')} into new packs; ` +
        `${formatCount(o.blobsDamaged, 'damaged blob')} ${will('given up', 'to give up')}; the damaged packs ${will('were removed', 'to remove')}`,
    )
  } else if (o.blobsDamaged > 0) {
    lines.push(`  ${formatCount(o.blobsDamaged, 'damaged blob')} ${will('left out of the index', 'to leave out of the index')}`)
  }
  if (o.packsMisplaced.length > 0) {
    const where = o.packsMisplaced.map(
      (k) => `${k.split('/').at(-1)?.slice(0, 12) ?? k} (found at ${k.split('/').slice(0, -1).join('/')}/)`,
    )
    lines.push(`  packs outside their place, ${will('moved back', 'to move back')}: ${where.join(', ')}`)
  }
  if (o.packsNewer.length > 0) lines.push(`  left alone (written by a newer vger): ${packIds(o.packsNewer)}`)
  if (o.segmentsDamaged > 0) lines.push(`  ${formatCount(o.segmentsDamaged, 'index segment')} could not be read`)
  const index = []
  if (o.entriesDropped > 0) index.push(`${formatCount(o.entriesDropped, 'chunk')} whose data is gone ${will('were', 'to be')} removed`)
  if (o.entriesMoved > 0) index.push(`${formatCount(o.entriesMoved, 'chunk')} ${will('now point', 'to point')} at their new place`)
  if (o.entriesAdded > 0)
    index.push(`${formatCount(o.entriesAdded, 'chunk')} found in packs no index listed ${will('were', 'to be')} added`)
  lines.push(`  index ${will('rebuilt', 'to rebuild')} from the packs${index.length > 0 ? `: ${index.join('; ')}` : ''}`)
  lines.push(o.applied ? 'Repaired.' : 'Dry run: nothing changed. "vger check --repair" applies this plan.')
  return lines.join('\n')
}
