/**
 * From validated raw config to `VgerConfig`: defaults, absolute paths, normalised sources, per-repository
 * overrides (a repository's `encryption`, `compression`, `retention`, `limits` or `schedule` replaces the
 * top-level section wholesale; its `hooks` add to the top-level ones).
 *
 * Relative paths in a config file are relative to the file's directory (so cron and systemd see the same
 * paths as an interactive shell); `~` is the home directory.
 */
import path from 'node:path'
import type { Env } from './interpolate.js'
import { DEFAULT_REPOSITORY_LABEL, NO_SOURCE_DEFAULTS, defaultCacheDir } from './defaults.js'
import { defaultRepositoryPath, expandHome } from './paths.js'
import { type ConfigProblem, ConfigError, type Position } from './problems.js'
import {
  checkOf,
  chunkerOf,
  compactOf,
  compressionOf,
  encryptionOf,
  hooksOf,
  limitsOf,
  retentionOf,
  scheduleOf,
} from './resolve-sections.js'
import { inertKeys } from './inert.js'
import { resolveSources } from './resolve-sources.js'
import { type RawConfig, type RawRepository, backendShape, configShape } from './schema.js'
import { resolveSection } from './shape.js'
import type { EncryptionConfig, RepositoryConfig, VgerConfig } from './types.js'
import { hasScheme, parseRepositoryUrl } from './url.js'

export { DEFAULT_REPOSITORY_LABEL } from './defaults.js'

/** The declared default of `hook_timeout`. */
const HOOK_TIMEOUT_SECS: number = configShape.fields.hook_timeout.default
export { labelForPaths } from './resolve-sources.js'

export interface ResolveContext {
  file: string
  home: string
  env?: Env
  positions: ReadonlyMap<string, Position>
  /** The paths whose value came out of a `${VAR}` expansion. */
  expanded?: ReadonlySet<string>
  /** Env files loaded before expansion (absolute). */
  envFiles?: string[]
}

/** A repository URL as given, or a local path made absolute. */
export function resolveRepositoryUrl(url: string, baseDir: string, home: string): string {
  return hasScheme(url) ? url : path.resolve(baseDir, expandHome(url, home))
}

export function resolveConfig(raw: RawConfig, ctx: ResolveContext): VgerConfig {
  const baseDir = path.dirname(ctx.file)
  const problems: ConfigProblem[] = []
  const at = (key: string): Position => ctx.positions.get(key) ?? { line: 1, col: 1 }
  const problem = (key: string, message: string): void => void problems.push({ file: ctx.file, ...at(key), message })

  const encryption = (e: RawConfig['encryption'], key: string): EncryptionConfig => {
    const resolved = encryptionOf(e)
    return ctx.expanded?.has(`${key}.passphrase`) === true ? { ...resolved, passphraseFromEnv: true } : resolved
  }
  const top = {
    encryption: encryption(raw.encryption, 'encryption'),
    compression: compressionOf(raw.compression),
    retention: retentionOf(raw.retention),
    limits: limitsOf(raw.limits),
    schedule: scheduleOf(raw.schedule),
  }
  const chunker = chunkerOf(raw.chunker)

  const repositories = raw.repositories.map((r, i) => resolveRepository(r, i, top, baseDir, ctx.home, problem, encryption))
  const excludePatterns = raw.exclude_patterns ?? [...NO_SOURCE_DEFAULTS.exclude]
  const defaults = {
    exclude: excludePatterns,
    excludeIfPresent: raw.exclude_if_present ?? [...NO_SOURCE_DEFAULTS.excludeIfPresent],
    oneFileSystem: raw.one_file_system ?? NO_SOURCE_DEFAULTS.oneFileSystem,
    gitIgnore: raw.git_ignore ?? NO_SOURCE_DEFAULTS.gitIgnore,
    xattrs: raw.xattrs?.enabled ?? NO_SOURCE_DEFAULTS.xattrs,
  }
  const labels = repositories.flatMap((r) => (r.label === undefined ? [] : [r.label]))
  const sources = resolveSources(raw.sources ?? [], defaults, baseDir, ctx.home, labels, problem)
  if (problems.length > 0) throw new ConfigError(problems.sort((a, b) => a.line - b.line || a.col - b.col))

  return {
    file: ctx.file,
    repositories,
    sources,
    excludePatterns,
    ...top,
    hostname: raw.hostname,
    chunker,
    hooks: hooksOf(raw.hooks),
    hookTimeoutSecs: raw.hook_timeout ?? HOOK_TIMEOUT_SECS,
    compact: compactOf(raw.compact),
    check: checkOf(raw.check),
    excludeIfPresent: defaults.excludeIfPresent,
    oneFileSystem: defaults.oneFileSystem,
    gitIgnore: defaults.gitIgnore,
    xattrs: defaults.xattrs,
    cacheDir:
      raw.cache_dir === undefined ? defaultCacheDir(ctx.env ?? {}, ctx.home) : path.resolve(baseDir, expandHome(raw.cache_dir, ctx.home)),
    envFiles: ctx.envFiles ?? [],
    inert: inertKeys(raw, ctx.positions),
  }
}

type Top = Pick<RepositoryConfig, 'encryption' | 'compression' | 'retention' | 'limits' | 'schedule'>

function resolveRepository(
  r: RawRepository,
  i: number,
  top: Top,
  baseDir: string,
  home: string,
  problem: (key: string, message: string) => void,
  encryption: (e: RawConfig['encryption'], key: string) => EncryptionConfig,
): RepositoryConfig {
  const url = resolveRepositoryUrl(r.url, baseDir, home)
  const parsed = parseRepositoryUrl(url, typeof r.endpoint === 'string' ? { endpoint: r.endpoint } : {})
  const location = 'value' in parsed ? parsed.value : undefined
  const key = `repositories[${i}]`
  if (location !== undefined && 'insecure' in location && location.insecure && r.allow_insecure_http !== true) {
    problem(
      `${key}.url`,
      `${key}.url uses plain http; set "allow_insecure_http: true" in ${key} to accept that (credentials and metadata travel unencrypted)`,
    )
  }
  if (r.schedule !== undefined && (r.schedule.every !== undefined || r.schedule.cron !== undefined) && r.schedule.enabled !== true) {
    problem(`${key}.schedule`, `${key}.schedule sets "every" or "cron" but not "enabled: true"; add it, or remove the cadence`)
  }
  if ((r.access_key_id === undefined) !== (r.secret_access_key === undefined)) {
    const [given, missing] = r.access_key_id === undefined ? ['secret_access_key', 'access_key_id'] : ['access_key_id', 'secret_access_key']
    problem(
      `${key}.${given}`,
      `${key} sets ${given} without ${missing}; give both, or neither (then the AWS environment or profile is used)`,
    )
  }
  const backend = resolveSection(backendShape, r)
  // vykar's `rest_token` is `access_token` under its old name (the schema refuses both at once).
  if (r.rest_token !== undefined) backend.accessToken = r.rest_token
  if (backend.sftpKey !== undefined) backend.sftpKey = path.resolve(baseDir, expandHome(backend.sftpKey, home))
  if (backend.sftpKnownHosts !== undefined) backend.sftpKnownHosts = path.resolve(baseDir, expandHome(backend.sftpKnownHosts, home))
  if (backend.tlsCa !== undefined) backend.tlsCa = path.resolve(baseDir, expandHome(backend.tlsCa, home))
  return {
    url,
    label: r.label,
    name: r.label ?? url,
    location,
    encryption: r.encryption === undefined ? top.encryption : encryption(r.encryption, `${key}.encryption`),
    compression: r.compression === undefined ? top.compression : compressionOf(r.compression),
    retention: r.retention === undefined ? top.retention : retentionOf(r.retention),
    limits: r.limits === undefined ? top.limits : limitsOf(r.limits),
    schedule: r.schedule === undefined ? top.schedule : scheduleOf(r.schedule),
    hooks: hooksOf(r.hooks),
    backend,
    ...(r.retry === undefined
      ? {}
      : {
          retry: {
            ...(r.retry.max_retries === undefined ? {} : { maxRetries: r.retry.max_retries }),
            ...(r.retry.retry_delay_ms === undefined ? {} : { retryDelayMs: r.retry.retry_delay_ms }),
            ...(r.retry.retry_max_delay_ms === undefined ? {} : { retryMaxDelayMs: r.retry.retry_max_delay_ms }),
          },
        }),
    ...(r.sftp_timeout === undefined ? {} : { sftpTimeoutSecs: r.sftp_timeout }),
  }
}

/** The config used when no file exists: one local repository, no sources, every declared default. */
export function defaultConfig(env: Env, home: string): VgerConfig {
  const url = defaultRepositoryPath({ env, home })
  const top = {
    encryption: encryptionOf(undefined),
    compression: compressionOf(undefined),
    retention: retentionOf(undefined),
    limits: limitsOf(undefined),
    schedule: scheduleOf(undefined),
  }
  return {
    file: null,
    repositories: [
      {
        url,
        label: DEFAULT_REPOSITORY_LABEL,
        name: DEFAULT_REPOSITORY_LABEL,
        location: { backend: 'local', path: url },
        ...top,
        hooks: {},
      },
    ],
    sources: [],
    excludePatterns: [...NO_SOURCE_DEFAULTS.exclude],
    ...top,
    chunker: chunkerOf(undefined),
    hooks: {},
    hookTimeoutSecs: HOOK_TIMEOUT_SECS,
    compact: compactOf(undefined),
    check: checkOf(undefined),
    excludeIfPresent: [...NO_SOURCE_DEFAULTS.excludeIfPresent],
    oneFileSystem: NO_SOURCE_DEFAULTS.oneFileSystem,
    gitIgnore: NO_SOURCE_DEFAULTS.gitIgnore,
    xattrs: NO_SOURCE_DEFAULTS.xattrs,
    cacheDir: defaultCacheDir(env, home),
    envFiles: [],
    inert: [],
  }
}
