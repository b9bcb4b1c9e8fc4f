/**
 * `vger prune [--dry-run] [--list] [--force] [--keep-* N] [--group-by KEYS] [--compact]`: applies the
 * retention to every selected repository. The rules are the repository's `retention` (its own or the
 * top-level one) and each source's `retention` for its label, grouped by `retention.group_by`; rules given
 * on the command line replace all of those (as restic's `forget --keep-*`). `-S` restricts prune to those
 * labels. Only snapshot objects are removed; `--compact` (or `vger compact`) gives the space back.
 */
import type { RepositoryConfig, RetentionConfig } from '../../config/types.js'
import { VgerError, isVgerError } from '../../errors.js'
import type { PruneGroup, PruneOptions, PruneOutcome, Retention } from '../../repository.js'
import type { Repository } from '../../repository.js'
import type { CliContext } from '../context.js'
import { withHooks } from '../hooks.js'
import { renderCompact, runCompact } from './compact.js'
import { displayPath, formatCount, formatTable, formatTime, shortId } from '../output.js'
import { exitFor, type ExitCode } from '../exit.js'

export interface PruneFlags {
  dryRun?: boolean
  list?: boolean
  force?: boolean
  /** Rules from the command line: they replace every configured rule (top level, repository, sources). */
  rules?: Omit<RetentionConfig, 'groupBy'>
  /** Grouping from the command line, replacing `retention.group_by`. */
  groupBy?: RetentionConfig['groupBy']
  /** Compact each repository after its prune (not with --dry-run). */
  compact?: boolean
  /** Only snapshots with every tag of one of these groups (`--tag`). */
  tag?: string[][]
}

/** Retention rules as the engine takes them (the grouping goes to `groupBy`, not here). */
export function nativeRetention(r: RetentionConfig): Retention {
  const { groupBy: _groupBy, ...rules } = r
  return { ...rules }
}

function hasRules(r: RetentionConfig | undefined): boolean {
  if (r === undefined) return false
  const { groupBy: _groupBy, ...rules } = r
  return Object.keys(rules).length > 0
}

/** Whether prune has any rule for this repository: from the command line, its own (or the top-level) rules, or a source's. */
export function hasRetention(ctx: CliContext, repo: RepositoryConfig, flags: PruneFlags = {}): boolean {
  return flags.rules !== undefined || hasRules(repo.retention) || ctx.config().sources.some((s) => hasRules(s.retention))
}

/** What the engine's prune gets: the rules, each source's own rules by label, grouping, -S labels, the UTC offset. */
export function pruneOptions(ctx: CliContext, repo: RepositoryConfig, flags: PruneFlags = {}, now = new Date()): PruneOptions {
  const byLabel =
    flags.rules !== undefined
      ? {}
      : Object.fromEntries(
          ctx
            .config()
            .sources.flatMap((s) => (hasRules(s.retention) && s.retention !== undefined ? [[s.label, nativeRetention(s.retention)]] : [])),
        )
  const labels = ctx.options.source
  const groupBy = flags.groupBy ?? repo.retention.groupBy
  return {
    retention: flags.rules ?? nativeRetention(repo.retention),
    byLabel,
    ...(groupBy === undefined
      ? {}
      : { groupBy: { host: groupBy.includes('host'), label: groupBy.includes('label'), paths: groupBy.includes('paths') } }),
    ...(labels.length > 0 ? { labels } : {}),
    ...(flags.tag === undefined ? {} : { tags: flags.tag }),
    ...(flags.force === true ? { force: true } : {}),
    ...(flags.dryRun === true ? { dryRun: true } : {}),
    utcOffsetSecs: -now.getTimezoneOffset() * 60,
  }
}

function noRetention(ctx: CliContext, repo: RepositoryConfig): VgerError {
  const where = ctx.config().file ?? 'a config file (vger config writes a starter one)'
  return new VgerError(
    'VGER_CONFIG',
    `no retention rules for repository "${repo.name}": add for example "retention: {keep_daily: 7, keep_weekly: 4}" to ${where} ` +
      '(top level, the repository, or a source), then run "vger prune --dry-run --list" to see what it would remove',
  )
}

/** Runs the engine's prune on an open repository; the engine's refusal to empty a group gets the next step. */
export async function runPrune(ctx: CliContext, repo: RepositoryConfig, repository: Repository, flags: PruneFlags): Promise<PruneOutcome> {
  try {
    return await repository.prune({ ...pruneOptions(ctx, repo, flags), signal: ctx.signal })
  } catch (e) {
    if (isVgerError(e, 'VGER_INVALID_ARGUMENT') && e.message.includes('would remove every snapshot')) {
      throw new VgerError(
        'VGER_INVALID_ARGUMENT',
        `repository "${repo.name}": ${e.message.replace(/; check the policy, or use --force$/, '')}; nothing was removed. ` +
          'See the plan with "vger prune --dry-run --list"; if that is really what you want, run "vger prune --force"',
        { cause: e },
      )
    }
    throw e
  }
}

export async function prune(ctx: CliContext, flags: PruneFlags): Promise<ExitCode> {
  const repos = ctx.repositories('all')
  const missing = repos.find((r) => !hasRetention(ctx, r, flags))
  if (missing !== undefined) throw noRetention(ctx, missing)
  const compactToo = flags.compact === true && flags.dryRun !== true
  if (flags.compact === true && !compactToo)
    ctx.out.info('--compact is skipped with --dry-run: it would plan against snapshots not yet removed')
  const { results, failures } = await ctx.eachRepository(repos, async (repo) => {
    let repository: Repository | undefined
    const outcome = await withHooks(ctx, { command: 'prune', repo }, async () => {
      repository = await ctx.open(repo)
      const outcome = await runPrune(ctx, repo, repository, flags)
      ctx.out.line(renderPrune(repo.name, outcome, { list: flags.list === true, hint: !compactToo }))
      for (const g of outcome.groups.filter((g) => g.policyWouldRemoveAll && !outcome.applied)) {
        ctx.out.warn(`the policy would remove every snapshot of ${groupName(g)}; a real run refuses that without --force`)
      }
      return outcome
    })
    if (!compactToo || repository === undefined) return outcome
    const opened = repository
    const compacted = await withHooks(ctx, { command: 'compact', repo }, async () => {
      const c = await runCompact(ctx, repo.name, opened, {})
      ctx.out.line(renderCompact(repo.name, c))
      return c
    })
    return { ...outcome, compact: compacted }
  })
  ctx.out.result({ repositories: results.map(({ repo, value }) => ({ repository: repo.name, ...value })), errors: failures })
  return exitFor(failures)
}

/** "host laptop, label docs", or "all snapshots" when grouping by nothing. */
export function groupName(g: PruneGroup): string {
  const parts: string[] = []
  if (g.hostname !== undefined) parts.push(`host ${g.hostname}`)
  if (g.label !== undefined) parts.push(`label ${g.label}`)
  if (g.paths !== undefined) parts.push(`paths ${g.paths.map(displayPath).join(', ')}`)
  return parts.length === 0 ? 'all snapshots' : parts.join(', ')
}

/** The summary line, and with `list` every snapshot with its decision and the rules that made it. */
export function renderPrune(name: string, o: PruneOutcome, { list = false, hint = true } = {}): string {
  const verb = o.applied
    ? `removed ${formatCount(o.removed, 'snapshot')}`
    : `would remove ${formatCount(o.remove, 'snapshot')} (dry run: nothing removed)`
  const lines = [`Prune "${name}": keeping ${formatCount(o.keep, 'snapshot')}, ${verb}`]
  if (list) {
    for (const g of o.groups) {
      lines.push('', `${groupName(g)}:`)
      const rows = g.decisions.map((d) => [
        d.keep ? 'keep' : 'remove',
        shortId(d.snapshot.id),
        formatTime(d.snapshot.time),
        d.snapshot.label,
        d.keep ? d.reasons.join(', ') : '-',
      ])
      const table = formatTable(['Action', 'ID', 'Time', 'Label', 'Rules'], rows)
      lines.push(...table.split('\n').map((l) => `  ${l}`))
    }
  }
  if (hint && o.applied && o.removed > 0) lines.push('Run "vger compact" to give the space back.')
  return lines.join('\n')
}
