/** The resolved configuration: defaults applied, paths absolute, sources normalised. */
import type { CompressionAlgorithm, EncryptionMode } from '../native-types.js'

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

export interface RepositoryConfig {
  /** Local absolute path, or a URL with a scheme (file://, later s3:// etc.). */
  url: string
  label?: string
  /** How the user addresses it: the label, or the URL when there is none. */
  name: string
  /** The effective settings for this repository (per-repository overrides will land here). */
  encryption: EncryptionConfig
  compression: CompressionConfig
}

export interface SourceConfig {
  label: string
  /** Absolute paths. */
  paths: string[]
  /** Global `exclude_patterns` followed by the source's own `exclude`. */
  exclude: string[]
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
}
