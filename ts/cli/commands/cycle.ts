/**
 * Bare `vger`: the full cycle for every selected repository, as vykar does: backup of all configured
 * sources (or the `-S` ones), then prune, compact and check. Prune is skipped without retention rules;
 * prune and compact are skipped for a repository whose backup failed. A step the loaded engine does not
 * have yet is reported as "not available yet" and does not fail the run.
 */
import type { RepositoryConfig, RetentionConfig } from '../../config/types.js'
import { fromNativeError } from '../../errors.js'
import type { MaintenanceStep } from '../../repository.js'
import type { CliContext, Failure } from '../context.js'
import { backupExitCode, backupSources, runBackups } from './backup.js'

export type StepStatus = 'ok' | 'skipped' | 'unavailable' | 'failed'

export interface StepReport {
  step: MaintenanceStep
  status: StepStatus
  reason?: string
  result?: unknown
  error?: { code: string; message: string }
}

const STEPS: readonly MaintenanceStep[] = ['prune', 'compact', 'check']

/** Retention rules as the engine takes them: `keepWithin` as a duration string ("48h"). */
export function nativeRetention(r: RetentionConfig): Record<string, unknown> {
  const { keepWithin, ...counts } = r
  return keepWithin === undefined ? { ...counts } : { ...counts, keepWithin: `${Math.round(keepWithin / 3600)}h` }
}

/**
 * The options passed to the engine's maintenance jobs: prune gets the repository's rules, each source's
 * own rules by label, the -S labels and the local UTC offset (for local days and weeks); compact and the
 * cycle's check take the defaults (the check verifies metadata, not every data pack).
 */
export function stepOptions(ctx: CliContext, step: MaintenanceStep, repo: RepositoryConfig, now = new Date()): Record<string, unknown> {
  if (step !== 'prune') return {}
  const byLabel = Object.fromEntries(
    ctx.config().sources.flatMap((s) => (s.retention === undefined ? [] : [[s.label, nativeRetention(s.retention)]])),
  )
  const labels = ctx.options.source
  return {
    retention: nativeRetention(repo.retention),
    byLabel,
    ...(labels.length > 0 ? { labels } : {}),
    utcOffsetSecs: -now.getTimezoneOffset() * 60,
  }
}

function hasRetention(ctx: CliContext, repo: RepositoryConfig): boolean {
  return Object.keys(repo.retention).length > 0 || ctx.config().sources.some((s) => s.retention !== undefined && Object.keys(s.retention).length > 0)
}

export async function cycle(ctx: CliContext): Promise<number> {
  const sources = backupSources(ctx, [], { exclude: [] })
  const backup = await runBackups(ctx, sources, {})
  const failedRepos = new Set(backup.failures.map((f) => f.repository))
  const repos = ctx.repositories('all')
  const stepFailures: Failure[] = []

  const reports = []
  for (const repo of repos) {
    ctx.throwIfAborted()
    const steps: StepReport[] = []
    const backupFailed = failedRepos.has(repo.name)
    let repository: Awaited<ReturnType<CliContext['open']>> | undefined
    for (const step of STEPS) {
      ctx.throwIfAborted()
      const skip =
        backupFailed && step !== 'check'
          ? 'the backup failed'
          : step === 'prune' && !hasRetention(ctx, repo)
            ? 'no retention rules are configured'
            : undefined
      if (skip !== undefined) {
        steps.push({ step, status: 'skipped', reason: skip })
        ctx.out.info(`${step} "${repo.name}": skipped (${skip})`)
        continue
      }
      try {
        repository ??= await ctx.open(repo)
        if (!repository.hasMaintenance(step)) {
          steps.push({ step, status: 'unavailable', reason: 'not available in this version yet' })
          ctx.out.line(`${step} "${repo.name}": not available in this version yet`)
          continue
        }
        const result = await repository.maintenance(step, stepOptions(ctx, step, repo), { signal: ctx.signal })
        steps.push({ step, status: 'ok', result })
        ctx.out.line(`${step} "${repo.name}": done`)
      } catch (e) {
        if (ctx.signal.aborted) throw e
        const failure = ctx.fail(e, repo.name)
        const err = fromNativeError(e)
        stepFailures.push(failure)
        steps.push({ step, status: 'failed', error: { code: err.code, message: err.message } })
        // Without an open repository the remaining steps would fail the same way.
        if (repository === undefined) break
      }
    }
    reports.push({ repository: repo.name, steps })
  }

  ctx.out.result({ backup: { snapshots: backup.saved, errors: backup.failures }, repositories: reports })
  if (stepFailures.length > 0) return 1
  return backupExitCode(backup)
}
