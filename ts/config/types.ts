/** The resolved configuration: defaults applied, paths absolute, sources normalised, overrides merged. */
import type { ChunkerParams, CompressionAlgorithm, EncryptionMode } from '../repository.js'
import type { RepositoryLocation } from './url.js'

export interface EncryptionConfig {
  mode: EncryptionMode
  passphrase?: string
  passcommand?: string
}

export interface CompressionConfig {
  algorithm: CompressionAlgorithm
  /** 1..22. */
  zstdLevel: number
}

/** Retention rules; an empty object means "no rules" (prune then keeps everything). */
export interface RetentionConfig {
  keepLast?: number
  keepHourly?: number
  keepDaily?: number
  keepWeekly?: number
  keepMonthly?: number
  keepYearly?: number
  /** Keep every snapshot younger than this: duration text as the engine parses it ("48h", "7d", "6m"). */
  keepWithin?: string
  /** How snapshots are grouped before the rules apply (default host and label); top level and repositories only. */
  groupBy?: ('host' | 'label' | 'paths')[]
}

/** Resource limits (parsed and validated; the engine does not apply them yet). */
export interface LimitsConfig {
  /** 1..16, default 2. */
  connections: number
  /** 0 = automatic. */
  threads: number
  /** -20..19, default 0. */
  nice: number
  /** 0 = unlimited. */
  uploadMibPerSec: number
  downloadMibPerSec: number
}

/** When the daemon runs the full cycle (parsed and validated; there is no daemon yet). */
export interface ScheduleConfig {
  enabled: boolean
  /** Seconds between runs (default 24 h) unless `cron` is set. */
  every?: number
  cron?: string
  onStartup: boolean
  jitterSeconds: number
}

/** Hook commands by key (`before`, `after_backup`, …); each a list of shell commands, in order. */
export type HooksConfig = Readonly<Partial<Record<string, readonly string[]>>>

export interface CommandDump {
  /** The file name under `vger-dumps/` in the snapshot. */
  name: string
  command: string
}

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
  /** Backend settings (S3, SFTP, REST), as given. */
  backend?: BackendSettings
}

export interface BackendSettings {
  allowInsecureHttp: boolean
  region?: string
  accessKeyId?: string
  secretAccessKey?: string
  sftpKey?: string
  sftpKnownHosts?: string
  accessToken?: string
}

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
  /** Labels of the repositories this source goes to; absent means all. */
  repos?: string[]
  /** The source's own retention rules, replacing the repository's for its snapshots. */
  retention?: RetentionConfig
  hooks: HooksConfig
  commandDumps: CommandDump[]
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
  excludeIfPresent: string[]
  oneFileSystem: boolean
  gitIgnore: boolean
  xattrs: boolean
  /** Default `$XDG_CACHE_HOME/vger` or `~/.cache/vger`. */
  cacheDir: string
  /** The env files that were loaded (absolute paths). */
  envFiles: string[]
}
