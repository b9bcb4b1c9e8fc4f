/** vger's public library API (re-exports only). */
export { Repository, engineErrorCodes, nativeVersion } from './repository.js'
/** Option and outcome types: the wrapper's own, and the addon's generated declarations re-exported. */
export type * from './repository.js'
export { VgerError, asVgerError, isVgerError } from './errors.js'
export type { ErrorCode, NativeErrorCode, TsErrorCode } from './errors.js'
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
