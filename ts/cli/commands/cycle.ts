/**
 * Bare `vger`: the full cycle for every selected repository, as vykar does: backup of all configured
 * sources (or the `-S` ones), then prune, compact and check. Prune is skipped without retention rules;
 * prune and compact are skipped for a repository whose backup failed. The check verifies structure and
 * reads the config's `check.max_percent` of the packs (default none), or every blob when `check.full_every`
 * says a full check is due (`vger check --verify-data` reads all).
 */
import type { RepositoryConfig } from '../../config/types.js'
import { VgerError, asVgerError, isVgerError } from '../../errors.js'
import type { Repository } from '../../repository.js'
import type { CliContext, Failure } from '../context.js'
import { fullCheckDue, lastFullCheck, recordFullCheck } from '../full-check.js'
import { withHooks } from '../hooks.js'
import { type Saved, backupExitCode, backupSources, runBackups } from './backup.js'
import { renderCheck, runCheck, verdict } from './check.js'
import { renderCompact, runCompact } from './compact.js'
import { hasRetention, renderPrune, runPrune } from './prune.js'
import { EXIT, type ExitCode } from '../exit.js'

/** The jobs of the full cycle after the backup. */
export type MaintenanceStep = 'prune' | 'compact' | 'check'

export type StepStatus = 'ok' | 'skipped' | 'failed'

export interface StepReport {
  step: MaintenanceStep
  status: StepStatus
  reason?: string
  result?: unknown
  error?: { code: string; message: string }
}

const STEPS: readonly MaintenanceStep[] = ['prune', 'compact', 'check']

/** Runs one step on an open repository, prints its summary and returns the engine's result. */
async function runStep(ctx: CliContext, step: MaintenanceStep, repo: RepositoryConfig, repository: Repository): Promise<unknown> {
  switch (step) {
    case 'prune': {
      const outcome = await runPrune(ctx, repo, repository, {})
      ctx.out.line(renderPrune(repo.name, outcome, { hint: false }))
      return outcome
    }
    case 'compact': {
      const outcome = await runCompact(ctx, repo.name, repository, {})
      ctx.out.line(renderCompact(repo.name, outcome))
      return outcome
    }
    case 'check':
      return cycleCheck(ctx, repo, repository)
  }
}

/**
 * The cycle's check: a full one (every blob read and authenticated) when `check.full_every` says one is
 * due, else the config's `check.max_percent` of the packs (0: structure only). A successful full check is
 * recorded; a check that found problems throws VGER_CHECK_FAILED carrying its report.
 */
async function cycleCheck(ctx: CliContext, repo: RepositoryConfig, repository: Repository): Promise<unknown> {
  const { maxPercent: pct, fullEvery } = ctx.config().check
  const id = repository.info().id
  const last = lastFullCheck(ctx.config().cacheDir, id)
  const full = fullCheckDue(fullEvery, last, new Date())
  if (full) {
    const since = last === undefined ? 'none recorded' : `the last one ended ${last.toISOString()}`
    ctx.out.info(`check "${repo.name}": a full check, reading every pack (check.full_every; ${since})`)
  }
  const checked = await runCheck(ctx, repo.name, repository, full ? { verifyData: true } : pct > 0 ? { readDataSubset: pct } : {})
  ctx.out.line(renderCheck(repo.name, checked, { allFiles: ctx.options.verbose > 0 }))
  const report = full ? { ...checked, fullCheck: true } : checked
  if (!report.ok) {
    // The report goes into the JSON result as well; the step counts as failed.
    throw Object.assign(
      new VgerError(
        'VGER_CHECK_FAILED',
        `check: ${verdict(report)} (listed above); run "vger check --repair --dry-run" to see what a repair would do`,
      ),
      { report },
    )
  }
  if (full) {
    const warning = recordFullCheck(ctx.config().cacheDir, id, new Date())
    if (warning !== undefined) ctx.out.warn(warning)
  }
  return report
}

/** What one full cycle did: the `--json` result, every failure (backup and steps) and the exit code. */
export interface CycleRun {
  result: { backup: { snapshots: Saved[]; errors: Failure[] }; repositories: { repository: string; steps: StepReport[] }[] }
  failures: Failure[]
  exitCode: ExitCode
}

export async function cycle(ctx: CliContext): Promise<ExitCode> {
  const run = await runCycle(ctx)
  ctx.out.result(run.result)
  return run.exitCode
}

/** The full cycle for the selected repositories (`-R`), without printing its result (vger daemon records it). */
export async function runCycle(ctx: CliContext): Promise<CycleRun> {
  const sources = backupSources(ctx, [], { exclude: [] })
  const backup = await runBackups(ctx, sources, {})
  const failedRepos = new Set(backup.failures.map((f) => f.repository))
  const repos = ctx.repositories('all')
  const stepFailures: Failure[] = []

  const reports: CycleRun['result']['repositories'] = []
  for (const repo of repos) {
    ctx.throwIfAborted()
    const steps: StepReport[] = []
    const backupFailed = failedRepos.has(repo.name)
    let repository: Repository | undefined
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
        ctx.out.line(`${step} "${repo.name}": skipped (${skip})`)
        continue
      }
      try {
        const result = await withHooks(ctx, { command: step, repo }, async () => {
          repository ??= await ctx.open(repo)
          return runStep(ctx, step, repo, repository)
        })
        steps.push({ step, status: 'ok', result })
      } catch (e) {
        if (ctx.signal.aborted) throw e
        const failure = ctx.fail(e, repo.name)
        const err = asVgerError(e)
        stepFailures.push(failure)
        const report = (e as { report?: unknown }).report
        steps.push({
          step,
          status: 'failed',
          ...(report === undefined ? {} : { result: report }),
          error: { code: err.code, message: err.message },
        })
        // Without an open repository the remaining steps would fail the same way.
        if (repository === undefined) break
      }
    }
    reports.push({ repository: repo.name, steps })
  }

  return {
    result: { backup: { snapshots: backup.saved, errors: backup.failures }, repositories: reports },
    failures: [...backup.failures, ...stepFailures],
    exitCode: stepFailures.length > 0 ? EXIT.error : backupExitCode(backup),
  }
}
