/**
 * The YAML config schema: the validation table and the raw (validated, not yet resolved) types.
 *
 * Keys are snake_case as in the seed docs. This first cut covers repositories, sources, excludes,
 * encryption, compression and hostname; later sections (chunker, retention, hooks, schedule, limits,
 * per-repository overrides) are new entries in these tables plus a field in types.ts.
 */
import type { CompressionAlgorithm, EncryptionMode } from '../native-types.js'
import type { ObjectShape, Shape, StringShape } from './validate.js'

export const ENCRYPTION_MODES: readonly EncryptionMode[] = ['auto', 'aes256gcm', 'chacha20poly1305', 'none']
export const COMPRESSION_ALGORITHMS: readonly CompressionAlgorithm[] = ['lz4', 'zstd', 'none']

const text: StringShape = { kind: 'string' }
const textList: Shape = { kind: 'list', items: text }

export const encryptionShape: ObjectShape = {
  kind: 'object',
  fields: {
    mode: { kind: 'string', oneOf: ENCRYPTION_MODES },
    passphrase: text,
    passcommand: text,
  },
}

export const compressionShape: ObjectShape = {
  kind: 'object',
  fields: {
    algorithm: { kind: 'string', oneOf: COMPRESSION_ALGORITHMS },
    zstd_level: { kind: 'integer', min: 1, max: 22 },
  },
}

const repositoryShape: ObjectShape = {
  kind: 'object',
  fields: { url: text, label: text },
  required: ['url'],
}

const sourceShape: Shape = {
  kind: 'either',
  expected: 'a path or a mapping with "path" or "paths"',
  string: text,
  object: {
    kind: 'object',
    fields: {
      path: text,
      paths: { kind: 'list', items: text, nonEmpty: true },
      label: text,
      exclude: textList,
    },
    rules: [
      { rule: 'exclusive', keys: ['path', 'paths'] },
      { rule: 'oneRequired', keys: ['path', 'paths'] },
      { rule: 'requires', key: 'paths', needs: 'label' },
    ],
  },
}

export const configShape: ObjectShape = {
  kind: 'object',
  fields: {
    repositories: { kind: 'list', items: repositoryShape, nonEmpty: true, uniqueKey: 'label' },
    sources: { kind: 'list', items: sourceShape, uniqueKey: 'label' },
    exclude_patterns: textList,
    encryption: encryptionShape,
    compression: compressionShape,
    hostname: text,
  },
  required: ['repositories'],
  hint: 'for example: repositories: [{url: /backups/repo}]',
}

export interface RawEncryption {
  mode?: EncryptionMode
  passphrase?: string
  passcommand?: string
}

export interface RawCompression {
  algorithm?: CompressionAlgorithm
  zstd_level?: number
}

export interface RawRepository {
  url: string
  label?: string
}

export type RawSource = string | { path?: string; paths?: string[]; label?: string; exclude?: string[] }

/** What `configShape` accepts, once validation found no problem. */
export interface RawConfig {
  repositories: RawRepository[]
  sources?: RawSource[]
  exclude_patterns?: string[]
  encryption?: RawEncryption
  compression?: RawCompression
  hostname?: string
}
