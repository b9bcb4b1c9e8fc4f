/**
 * The resolved configuration: defaults applied, paths absolute, sources normalised, overrides merged.
 *
 * The sections are derived from their declaration in schema.ts (camelCase keys, defaults applied); the
 * interfaces below are the shape of the resolved whole, which resolve.ts assembles.
 */
import type { ChunkerParams } from '../repository.js'
import type {
  HookKey,
  backendShape,
  checkShape,
  commandDumpShape,
  compactShape,
  compressionShape,
  encryptionShape,
  limitsShape,
  retentionShape,
  scheduleShape,
} from './schema.js'
import type { InertKey } from './inert.js'
import type { Infer, Resolved } from './shape.js'
import type { RepositoryLocation } from './url.js'

/**
 * Encryption: `mode` (default auto), `passphrase`, `passcommand`. `passphraseFromEnv` says the passphrase
 * was written as a `${VAR}`, so it is not stored in the file (no plain-text warning).
 */
export type EncryptionConfig = Resolved<typeof encryptionShape> & { passphraseFromEnv?: true }
/** Compression: `algorithm` (default lz4) and `zstdLevel` (1..22, default 3). */
export type CompressionConfig = Resolved<typeof compressionShape>
/**
 * Retention rules; an empty object means "no rules" (prune then keeps everything). `keepWithin` is the
 * duration text as the engine parses it ("48h", "7d", "6m"); `groupBy` (default host and label) exists at
 * the top level and in repositories only.
 */
export type RetentionConfig = Resolved<typeof retentionShape>
/** Resource limits (parsed and validated; the engine does not apply them yet). `threads` 0 = automatic. */
export type LimitsConfig = Resolved<typeof limitsShape>
/**
 * When `vger daemon` runs the full cycle for a repository (ts/daemon/schedule.ts). `every` is in seconds,
 * and is absent when `cron` is set.
 */
export type ScheduleConfig = Omit<Resolved<typeof scheduleShape>, 'every'> & { every?: number }

/** `threshold`: the default of `vger compact --threshold` (absent: the engine's default). */
export type CompactConfig = Resolved<typeof compactShape>
/** The full cycle's check: `maxPercent` of the packs read and verified (0: structure only). */
export type CheckConfig = Resolved<typeof checkShape>

/** Hook commands by key (`before`, `after_backup`, …); each a list of shell commands, in order. */
export type HooksConfig = Readonly<Partial<Record<HookKey, readonly string[]>>>

/** `name` is the file name under `vger-dumps/` in the snapshot. */
export type CommandDump = Infer<typeof commandDumpShape>

export interface RepositoryConfig {
  /** Local absolute path, or a URL with a scheme (file://, s3://, sftp://, http(s)://). */
  url: string
  label?: string
  /** How the user addresses it: the label, or the URL when there is none. */
  name: string
  /** Where the repository lives, parsed from `url`. Absent for ad-hoc repositories given with -R. */
  location?: RepositoryLocation
  /** The effective settings: the repository's own section when set, else the top-level one (no field merge). */
  encryption: EncryptionConfig
  compression: CompressionConfig
  retention: RetentionConfig
  limits: LimitsConfig
  schedule: ScheduleConfig
  /** The repository's own hooks; they run in addition to the top-level hooks. */
  hooks: HooksConfig
  backend?: BackendSettings
  /** `retry`: retries of remote requests, as given (the engine's defaults fill the rest). */
  retry?: { maxRetries?: number; retryDelayMs?: number; retryMaxDelayMs?: number }
  /** `sftp_timeout`: longest an SFTP request may take, in seconds. */
  sftpTimeoutSecs?: number
}

/** Backend settings (S3, SFTP, REST), as given; `sftpKey` and `sftpKnownHosts` made absolute. */
export type BackendSettings = Resolved<typeof backendShape>

export interface SourceConfig {
  label: string
  /** Absolute paths (empty for a source made of command dumps only). */
  paths: string[]
  /** Global `exclude_patterns` followed by the source's own `exclude`. */
  exclude: string[]
  /** Marker file names: a directory holding one is skipped (the source's list replaces the global one). */
  excludeIfPresent: string[]
  oneFileSystem: boolean
  gitIgnore: boolean
  xattrs: boolean
  /** Case-insensitive patterns (`vger backup --iexclude`). */
  iexclude: string[]
  /** Regular files larger than this many bytes are left out (`--exclude-larger-than`). */
  excludeLargerThan?: number
  /** Directories with a signed CACHEDIR.TAG are left out (`--exclude-caches`). */
  excludeCaches: boolean
  /** Labels of the repositories this source goes to; absent means all. */
  repos?: string[]
  /** The source's own retention rules, replacing the repository's for its snapshots. */
  retention?: RetentionConfig
  hooks: HooksConfig
  commandDumps: CommandDump[]
  /** Set by `vger backup --stdin` or `--stdin-from-command` only: a stream stored as `path` at the root. */
  stdin?: { path: string; command?: string[] }
}

export interface VgerConfig {
  /** The file it came from, or null for the embedded default. */
  file: string | null
  repositories: RepositoryConfig[]
  sources: SourceConfig[]
  excludePatterns: string[]
  encryption: EncryptionConfig
  compression: CompressionConfig
  hostname?: string
  /** Used by `vger init` for new repositories. */
  chunker: ChunkerParams
  retention: RetentionConfig
  limits: LimitsConfig
  schedule: ScheduleConfig
  hooks: HooksConfig
  /** `hook_timeout`: seconds a hook may run (default 300, vykar's fixed limit). */
  hookTimeoutSecs: number
  compact: CompactConfig
  check: CheckConfig
  excludeIfPresent: string[]
  oneFileSystem: boolean
  gitIgnore: boolean
  xattrs: boolean
  /** Default `$XDG_CACHE_HOME/vger` or `~/.cache/vger`. */
  cacheDir: string
  /** The env files that were loaded (absolute paths). */
  envFiles: string[]
  /** Keys the file sets that this version accepts but does not apply yet (inert.ts). */
  inert: InertKey[]
}
