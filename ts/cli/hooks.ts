/**
 * Hooks around the commands that have them (backup, prune, compact, check, and those steps of the bare
 * `vger` cycle), per repository, and around each source's backup. docs/config.md (`hooks`) is the
 * contract: order, environment, placeholders, timeout, and what a failure does.
 *
 * - A failing `before` hook stops the other `before` hooks and the command for that repository (or
 *   source), which then fails with VGER_HOOK_FAILED; `failed` and `finally` hooks still run.
 * - A failing `after`, `failed` or `finally` hook is a warning: the command's own result and exit code
 *   stand.
 * - Output goes to stderr (`hook KEY: line`, hidden by `-q`) or, with `--json`, into a `hook` JSON line;
 *   never to stdout.
 */
import { HOOK_EVENTS, type HookCommand, type HookEvent } from '../config/schema.js'
import type { RepositoryConfig, SourceConfig, VgerConfig } from '../config/types.js'
import { type ErrorCode, VgerError, asVgerError } from '../errors.js'
import { type HookVars, type PlannedHook, hookEnv, planHooks, planSourceHooks, redactUrl, substitute } from '../hooks/plan.js'
import { HOOK_MAX_OUTPUT, HOOK_TIMEOUT_MS, type HookResult, describeFailure, runHook } from '../hooks/run-hook.js'
import type { CliContext } from './context.js'
import { displayPath } from './output.js'

export interface HookScope {
  command: HookCommand
  repo: RepositoryConfig
  /** Set for a source's own hooks, around that source's backup. */
  source?: SourceConfig
}

/**
 * Runs `fn` between the hooks of `scope`. `failureOf` turns a result that is a failure without throwing
 * (a check that found problems, a backup in which a source failed) into the error the `failed` hooks see.
 */
export async function withHooks<T>(
  ctx: CliContext,
  scope: HookScope,
  fn: () => Promise<T>,
  failureOf?: (value: T) => VgerError | undefined,
): Promise<T> {
  const plan = (event: HookEvent): PlannedHook[] =>
    scope.source === undefined
      ? planHooks(event, scope.command, ctx.config().hooks, scope.repo.hooks)
      : planSourceHooks(event, scope.source.hooks)
  if (HOOK_EVENTS.every((event) => plan(event).length === 0)) return fn()

  const vars = hookVars(scope)
  let value: T | undefined
  let thrown: { error: unknown } | undefined
  let failure: VgerError | undefined
  try {
    for (const hook of plan('before')) {
      const r = await runOne(ctx, scope, hook, vars, true)
      if (!r.ok) throw hookFailed(ctx, scope, hook, r)
    }
    value = await fn()
    failure = failureOf?.(value)
  } catch (e) {
    thrown = { error: e }
    failure = asVgerError(e)
  }
  const after = failure === undefined ? vars : { ...vars, error: `${failure.code}: ${failure.message}` }
  for (const hook of plan(failure === undefined ? 'after' : 'failed')) await runReported(ctx, scope, hook, after, failure)
  for (const hook of plan('finally')) await runReported(ctx, scope, hook, after, failure)
  if (thrown !== undefined) throw thrown.error
  return value as T
}

function hookVars(scope: HookScope): HookVars {
  const { repo, source } = scope
  return {
    command: scope.command,
    repository: repo.name,
    repositoryUrl: redactUrl(repo.url),
    ...(repo.label === undefined ? {} : { label: repo.label }),
    ...(source === undefined ? {} : { sourceLabel: source.label, sourcePaths: source.paths }),
  }
}

/** Seconds from `VGER_HOOK_TIMEOUT`, else the config's `hook_timeout`, else vykar's 5 minutes. */
export function hookTimeoutMs(env: NodeJS.ProcessEnv, configSecs?: number): number {
  const text = env.VGER_HOOK_TIMEOUT
  if (text === undefined || text === '') return configSecs === undefined ? HOOK_TIMEOUT_MS : configSecs * 1000
  const secs = Number(text)
  if (!/^\d+(\.\d+)?$/.test(text) || secs <= 0) {
    throw new VgerError('VGER_USAGE', `VGER_HOOK_TIMEOUT must be a number of seconds above 0, e.g. 600 (got "${text}")`)
  }
  return Math.round(secs * 1000)
}

function timeoutOf(ctx: CliContext): number {
  return hookTimeoutMs(ctx.io.env, ctx.config().hookTimeoutSecs)
}

/** Where a hook was configured and its text, for messages: `hooks.before_backup of repository "x": "cmd"`. */
function describeHook(scope: HookScope, hook: PlannedHook): string {
  const where =
    hook.scope === 'global'
      ? `hooks.${hook.key}`
      : hook.scope === 'repository'
        ? `hooks.${hook.key} of repository "${scope.repo.name}"`
        : `hooks.${hook.key} of source "${scope.source?.label ?? ''}"`
  const text = hook.command.length > 120 ? `${hook.command.slice(0, 117)}...` : hook.command
  return `${where} ("${displayPath(text)}")`
}

async function runOne(ctx: CliContext, scope: HookScope, hook: PlannedHook, vars: HookVars, cancellable: boolean): Promise<HookResult> {
  const timeoutMs = timeoutOf(ctx)
  const r = await runHook(substitute(hook.command, vars), {
    env: hookEnv(ctx.io.env, vars, hook.key, ctx.secretValues()),
    cwd: ctx.io.cwd,
    timeoutMs,
    maxOutput: HOOK_MAX_OUTPUT,
    ...(cancellable ? { signal: ctx.signal } : {}),
  })
  print(ctx, scope, hook, r)
  return r
}

/** An `after`, `failed` or `finally` hook: runs even after an interrupt; its failure is a warning. */
async function runReported(ctx: CliContext, scope: HookScope, hook: PlannedHook, vars: HookVars, failure: VgerError | undefined) {
  const r = await runOne(ctx, scope, hook, vars, false)
  if (r.ok) return
  const outcome = failure === undefined ? 'succeeded' : `failed (${failure.code})`
  ctx.out.warn(
    `${describeHook(scope, hook)} ${describeFailure(r, timeoutOf(ctx))}${lastLine(r)}; ` +
      `the ${scope.command} of ${target(scope)} ${outcome} all the same`,
  )
}

function target(scope: HookScope): string {
  const repo = `repository "${scope.repo.name}"`
  return scope.source === undefined ? repo : `source "${scope.source.label}" to ${repo}`
}

function lastLine(r: HookResult): string {
  return r.lastLine === '' ? '' : `: ${displayPath(r.lastLine)}`
}

function hookFailed(ctx: CliContext, scope: HookScope, hook: PlannedHook, r: HookResult): VgerError {
  const file = ctx.config().file ?? 'the config'
  return new VgerError(
    'VGER_HOOK_FAILED',
    `${describeHook(scope, hook)} ${describeFailure(r, timeoutOf(ctx))}${lastLine(r)}; ` +
      `the ${scope.command} of ${target(scope)} was not run. ` +
      `Run the hook yourself (sh -c '...') to see why and fix it, or remove it from ${file}`,
  )
}

/** The hook's output: `hook KEY: line` on stderr (not with -q), or one `hook` JSON line with --json. */
function print(ctx: CliContext, scope: HookScope, hook: PlannedHook, r: HookResult): void {
  const out = ctx.out
  if (out.json) {
    out.event({
      type: 'hook',
      hook: hook.key,
      scope: hook.scope,
      command: scope.command,
      repository: scope.repo.name,
      ...(scope.source === undefined ? {} : { source: scope.source.label }),
      ok: r.ok,
      exitCode: r.exitCode,
      ...(r.signal === null ? {} : { signal: r.signal }),
      ...(r.timedOut ? { timedOut: true } : {}),
      durationMs: r.durationMs,
      output: r.output,
      ...(r.droppedBytes > 0 ? { droppedBytes: r.droppedBytes } : {}),
    })
    return
  }
  const lines = r.output.split('\n')
  if (lines.at(-1) === '') lines.pop()
  for (const line of lines) out.info(`hook ${hook.key}: ${displayPath(line)}`)
  if (r.droppedBytes > 0) out.info(`hook ${hook.key}: ... ${r.droppedBytes} more bytes of output not shown`)
}

/** Every secret value the config holds (passphrases, passcommands, storage credentials). */
export function configSecrets(config: VgerConfig): string[] {
  const out: (string | undefined)[] = [config.encryption.passphrase, config.encryption.passcommand]
  for (const r of config.repositories) {
    out.push(r.encryption.passphrase, r.encryption.passcommand)
    out.push(r.backend?.secretAccessKey, r.backend?.accessToken, r.backend?.webdavPassword)
  }
  return out.filter((s): s is string => s !== undefined && s !== '')
}

/** A failure record of the CLI as the error a `failed` hook sees. */
export function failureError(f: { code: string; message: string }): VgerError {
  return new VgerError(f.code as ErrorCode, f.message)
}
