/** vger's public library API (re-exports only). */
export { Repository } from './repository.js'
export type { BackupOptions, JobOptions, ListContentsOptions, MaintenanceStep, RestoreOptions } from './repository.js'
export { VgerError, isVgerError } from './errors.js'
export type { ErrorCode, NativeErrorCode, TsErrorCode } from './errors.js'
export { nativeVersion } from './native.js'
export type {
  BackupOutcome,
  ChunkerParams,
  CompressionAlgorithm,
  DiffChange,
  DiffEntry,
  DiffOutcome,
  EncryptionMode,
  EntryKind,
  FindOptions,
  FindResult,
  FindVersion,
  InitOptions,
  KdfParams,
  ListEntry,
  OpenOptions,
  ProgressCallback,
  ProgressEvent,
  RepoInfo,
  RepoStats,
  RestoreOutcome,
  SnapshotListing,
  SnapshotStats,
  SnapshotSummary,
  Warning,
} from './native-types.js'
export { loadConfig } from './config/load.js'
export type {
  CommandDump,
  CompressionConfig,
  EncryptionConfig,
  HooksConfig,
  LimitsConfig,
  RepositoryConfig,
  RetentionConfig,
  ScheduleConfig,
  SourceConfig,
  VgerConfig,
} from './config/types.js'
export type { RepositoryLocation } from './config/url.js'
export { resolvePassphrase } from './passphrase.js'
