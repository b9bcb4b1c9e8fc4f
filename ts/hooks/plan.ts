/**
 * Which hook commands run, in what order, with what text and environment. Pure: no process is started
 * here (run-hook.ts does that), so every rule below is unit-tested without a shell.
 *
 * The rules are vykar's, with vger's names:
 * - `before` hooks run global bare → repository bare → global per-command → repository per-command;
 *   `after`, `failed` and `finally` run in the reverse order (the most specific first), so a pair of
 *   hooks nests like brackets. A source's hooks run inside, around that source's backup.
 * - `{command}`, `{repository}`, `{label}`, `{error}`, `{source_label}` and `{source_path}` in the text
 *   are replaced by shell-quoted values, in one pass (a value is never scanned again).
 * - The environment is the CLI's own, minus every secret (by name and by value), plus the `VGER_*`
 *   variables of the hook.
 */
import type { HookCommand, HookEvent, HookKey } from '../config/schema.js'
import type { HooksConfig } from '../config/types.js'

/** One shell command to run, and the key it was configured under (for messages). */
export interface PlannedHook {
  key: HookKey
  /** Where the key was set: `global`, `repository` or `source`. */
  scope: 'global' | 'repository' | 'source'
  command: string
}

/** The hook commands of `event` around `command`, in running order. */
export function planHooks(event: HookEvent, command: HookCommand, global: HooksConfig, repository: HooksConfig): PlannedHook[] {
  const specific: HookKey = `${event}_${command}`
  const order: [PlannedHook['scope'], HooksConfig, HookKey][] = [
    ['global', global, event],
    ['repository', repository, event],
    ['global', global, specific],
    ['repository', repository, specific],
  ]
  const planned = order.flatMap(([scope, hooks, key]) => (hooks[key] ?? []).map((c) => ({ key, scope, command: c })))
  return event === 'before' ? planned : planned.reverse()
}

/** A source's own hooks (bare keys only) of `event`, in the order written. */
export function planSourceHooks(event: HookEvent, source: HooksConfig): PlannedHook[] {
  return (source[event] ?? []).map((c) => ({ key: event, scope: 'source' as const, command: c }))
}

/** What a hook is told about the run; `undefined` fields become empty placeholders and unset variables. */
export interface HookVars {
  command: HookCommand
  /** The repository's label, or its URL when it has none (how the user addresses it). */
  repository: string
  /** The repository's URL with any credentials removed. */
  repositoryUrl: string
  /** The repository's label (empty when it has none). */
  label?: string
  /** `CODE: message` of the failure, for `failed` and `finally` hooks of a failed command. */
  error?: string
  sourceLabel?: string
  /** The source's paths. */
  sourcePaths?: readonly string[]
}

/** `text` in single quotes, safe as one word for `sh` (`it's` → `'it'\''s'`). */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`
}

const PLACEHOLDER = /\{(command|repository|label|error|source_label|source_path)\}/g

/** The command text with its placeholders replaced by quoted values; other braces are left alone. */
export function substitute(command: string, vars: HookVars): string {
  const values: Record<string, string> = {
    command: vars.command,
    repository: vars.repository,
    label: vars.label ?? '',
    error: vars.error ?? '',
    source_label: vars.sourceLabel ?? '',
    source_path: (vars.sourcePaths ?? []).join(':'),
  }
  return command.replace(PLACEHOLDER, (_m, name: string) => shellQuote(values[name] ?? ''))
}

/**
 * Variables removed by name whatever their value: vger's own secrets and the storage credentials a hook
 * has no business with. Every inherited `VGER_*` variable goes as well (the hook's own are set afresh).
 */
const SECRET_NAMES = new Set(['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN'])

/** A secret this long is also looked for inside other values (a URL with a password, a connection string). */
const MIN_CONTAINED_SECRET = 8

/**
 * The hook's environment: `base` without secrets (by name, and any variable whose value is one of
 * `secrets` or contains a long one), plus `VGER_COMMAND`, `VGER_REPOSITORY`, `VGER_REPOSITORY_URL`,
 * `VGER_LABEL`, `VGER_HOOK`, and when known `VGER_ERROR`, `VGER_SOURCE_LABEL`, `VGER_SOURCE_PATH`.
 */
export function hookEnv(base: NodeJS.ProcessEnv, vars: HookVars, key: HookKey, secrets: Iterable<string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = scrubbedEnv(base, secrets)
  env.VGER_COMMAND = vars.command
  env.VGER_HOOK = key
  env.VGER_REPOSITORY = vars.repository
  env.VGER_REPOSITORY_URL = vars.repositoryUrl
  env.VGER_LABEL = vars.label ?? ''
  if (vars.error !== undefined) env.VGER_ERROR = vars.error
  if (vars.sourceLabel !== undefined) env.VGER_SOURCE_LABEL = vars.sourceLabel
  if (vars.sourcePaths !== undefined) env.VGER_SOURCE_PATH = vars.sourcePaths.join(':')
  return env
}

/**
 * `base` without secrets: by name, `VGER_*` variables, and any variable whose value is one of `secrets` or
 * contains a long one. What hooks and dump commands start from.
 */
export function scrubbedEnv(base: NodeJS.ProcessEnv, secrets: Iterable<string>): Record<string, string> {
  const known = [...secrets].filter((s) => s !== '')
  const leaks = (value: string): boolean => known.some((s) => value === s || (s.length >= MIN_CONTAINED_SECRET && value.includes(s)))
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined || name.startsWith('VGER_') || SECRET_NAMES.has(name) || leaks(value)) continue
    env[name] = value
  }
  return env
}

/**
 * A repository URL fit to show a hook: user info (a WebDAV user, anything with a password), the query
 * and the fragment are dropped. A local path is returned as it is.
 */
export function redactUrl(url: string): string {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) return url
  try {
    const u = new URL(url)
    u.username = ''
    u.password = ''
    u.search = ''
    u.hash = ''
    return u.toString()
  } catch {
    // Not parseable: keep the scheme and drop everything up to the last '@' of the authority.
    return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/]*@/, '$1').replace(/[?#].*$/, '')
  }
}
