/** vger's public library API (re-exports only). */
export { Repository } from './repository.js'
export type { BackupOptions, JobOptions, ListContentsOptions, RestoreOptions } from './repository.js'
export { VgerError, isVgerError } from './errors.js'
export type { ErrorCode, NativeErrorCode, TsErrorCode } from './errors.js'
export { nativeVersion } from './native.js'
export type {
  BackupOutcome,
  ChunkerParams,
  CompressionAlgorithm,
  EncryptionMode,
  EntryKind,
  InitOptions,
  KdfParams,
  ListEntry,
  OpenOptions,
  ProgressCallback,
  ProgressEvent,
  RepoInfo,
  RestoreOutcome,
  SnapshotListing,
  SnapshotStats,
  SnapshotSummary,
  Warning,
} from './native-types.js'
export { loadConfig } from './config/load.js'
export type { VgerConfig, RepositoryConfig, SourceConfig } from './config/types.js'
export { resolvePassphrase } from './passphrase.js'
