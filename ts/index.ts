/** vger's public library API (re-exports only). */
export { Repository } from './repository.js'
export type {
  BackupOptions,
  CheckOptions,
  CompactOptions,
  DryRunOptions,
  JobOptions,
  ListContentsOptions,
  MaintenanceStep,
  PruneOptions,
  RepairOptions,
  RestoreOptions,
} from './repository.js'
export { VgerError, isVgerError } from './errors.js'
export type { ErrorCode, NativeErrorCode, TsErrorCode } from './errors.js'
export { nativeVersion } from './native.js'
export type {
  BackupOutcome,
  CheckReport,
  ChunkerParams,
  CompactOutcome,
  DamagedSnapshot,
  DestroyOutcome,
  CompressionAlgorithm,
  DiffChange,
  DiffEntry,
  DiffOutcome,
  EncryptionMode,
  EntryKind,
  FindOptions,
  FindResult,
  FindVersion,
  ForgetOutcome,
  GroupByOptions,
  InitOptions,
  KdfParams,
  ListEntry,
  LockInfo,
  OpenOptions,
  PackUse,
  Problem,
  ProgressCallback,
  ProgressEvent,
  PruneDecision,
  PruneGroup,
  PruneOutcome,
  RepairOutcome,
  RepoInfo,
  RepoStats,
  RestoreOutcome,
  Retention,
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
