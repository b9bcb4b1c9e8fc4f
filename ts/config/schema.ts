/**
 * The YAML config schema: the validation table and the raw (validated, not yet resolved) types.
 *
 * Keys are snake_case, following vykar. docs/config.md documents every key; test/unit/docs.test.ts fails
 * when a key of `configShape` is not mentioned there.
 */
import type { CompressionAlgorithm, EncryptionMode } from '../repository.js'
import { parseCron, parseInterval, parseKeepWithin, parseSize } from './units.js'
import { parseRepositoryUrl } from './url.js'
import type { ObjectShape, Shape, StringShape, ValueShape } from './validate.js'

export const ENCRYPTION_MODES: readonly EncryptionMode[] = ['auto', 'aes256gcm', 'chacha20poly1305', 'none']
export const COMPRESSION_ALGORITHMS: readonly CompressionAlgorithm[] = ['lz4', 'zstd', 'none']
export const HOOK_EVENTS = ['before', 'after', 'failed', 'finally'] as const
export const HOOK_COMMANDS = ['backup', 'prune', 'compact', 'check'] as const
export type HookEvent = (typeof HOOK_EVENTS)[number]
export type HookCommand = (typeof HOOK_COMMANDS)[number]
/** `before`, …, `finally`, then `before_backup`, …, `finally_check`. */
export const HOOK_KEYS: readonly string[] = [
  ...HOOK_EVENTS,
  ...HOOK_COMMANDS.flatMap((c) => HOOK_EVENTS.map((e) => `${e}_${c}`)),
]

const text: StringShape = { kind: 'string' }
const textList: Shape = { kind: 'list', items: text }
const flag: Shape = { kind: 'boolean' }
const count: Shape = { kind: 'integer', min: 0 }
const size: ValueShape = { kind: 'value', parse: parseSize }
const strings: Shape = { kind: 'strings' }

const repositoryUrl: ValueShape = {
  kind: 'value',
  parse: (v) => {
    if (v === undefined) return { error: 'expected a string (a path or URL)' }
    if (typeof v !== 'string') return { error: `expected a string, got a ${typeof v} (${String(v)}); quote it: "${String(v)}"` }
    if (v.trim() === '') return { error: 'expected a non-empty string' }
    const parsed = parseRepositoryUrl(v)
    return 'error' in parsed ? parsed : { value: v }
  },
}

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

export const chunkerShape: ObjectShape = {
  kind: 'object',
  fields: { min_size: size, avg_size: size, max_size: size },
}

export const GROUP_BY_KEYS = ['host', 'label', 'paths'] as const
export type GroupByKey = (typeof GROUP_BY_KEYS)[number]

/** A source's own retention rules (grouping is a property of the whole prune, not of one source). */
export const sourceRetentionShape: ObjectShape = {
  kind: 'object',
  fields: {
    keep_last: count,
    keep_hourly: count,
    keep_daily: count,
    keep_weekly: count,
    keep_monthly: count,
    keep_yearly: count,
    keep_within: { kind: 'value', parse: parseKeepWithin },
  },
}

/** Top-level and per-repository retention: the rules, and how snapshots are grouped before applying them. */
export const retentionShape: ObjectShape = {
  kind: 'object',
  fields: {
    ...sourceRetentionShape.fields,
    group_by: { kind: 'list', items: { kind: 'string', oneOf: GROUP_BY_KEYS } },
  },
}

export const limitsShape: ObjectShape = {
  kind: 'object',
  fields: {
    connections: { kind: 'integer', min: 1, max: 16 },
    threads: { kind: 'integer', min: 0, max: 128 },
    nice: { kind: 'integer', min: -20, max: 19 },
    upload_mib_per_sec: count,
    download_mib_per_sec: count,
  },
}

export const scheduleShape: ObjectShape = {
  kind: 'object',
  fields: {
    enabled: flag,
    every: { kind: 'value', parse: parseInterval },
    cron: { kind: 'value', parse: parseCron },
    on_startup: flag,
    jitter_seconds: count,
  },
  rules: [{ rule: 'exclusive', keys: ['every', 'cron'] }],
}

const hooksFor = (keys: readonly string[]): ObjectShape => ({
  kind: 'object',
  fields: Object.fromEntries(keys.map((k) => [k, strings])),
})

/** Global and per-repository hooks: every event, optionally per command. */
export const hooksShape: ObjectShape = hooksFor(HOOK_KEYS)
/** Per-source hooks: around that source's backup only. */
export const sourceHooksShape: ObjectShape = hooksFor(HOOK_EVENTS)

const commandDumpShape: ObjectShape = {
  kind: 'object',
  fields: { name: text, command: text },
  required: ['name', 'command'],
}

const xattrsShape: ObjectShape = { kind: 'object', fields: { enabled: flag } }

const repositoryShape: ObjectShape = {
  kind: 'object',
  fields: {
    url: repositoryUrl,
    label: text,
    allow_insecure_http: flag,
    region: text,
    access_key_id: text,
    secret_access_key: text,
    sftp_key: text,
    sftp_known_hosts: text,
    access_token: text,
    encryption: encryptionShape,
    compression: compressionShape,
    retention: retentionShape,
    limits: limitsShape,
    schedule: scheduleShape,
    hooks: hooksShape,
  },
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
      exclude_if_present: textList,
      one_file_system: flag,
      git_ignore: flag,
      xattrs: xattrsShape,
      repos: { kind: 'list', items: text, nonEmpty: true },
      retention: sourceRetentionShape,
      hooks: sourceHooksShape,
      command_dumps: { kind: 'list', items: commandDumpShape, uniqueKey: 'name' },
    },
    rules: [
      { rule: 'exclusive', keys: ['path', 'paths'] },
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
    exclude_if_present: textList,
    one_file_system: flag,
    git_ignore: flag,
    xattrs: xattrsShape,
    encryption: encryptionShape,
    compression: compressionShape,
    chunker: chunkerShape,
    retention: retentionShape,
    limits: limitsShape,
    schedule: scheduleShape,
    hooks: hooksShape,
    hostname: text,
    cache_dir: text,
    env_file: strings,
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

export interface RawChunker {
  min_size?: number
  avg_size?: number
  max_size?: number
}

export interface RawRetention {
  keep_last?: number
  keep_hourly?: number
  keep_daily?: number
  keep_weekly?: number
  keep_monthly?: number
  keep_yearly?: number
  /** Normalised duration text ("48h", "7d"). */
  keep_within?: string
  group_by?: GroupByKey[]
}

export interface RawLimits {
  connections?: number
  threads?: number
  nice?: number
  upload_mib_per_sec?: number
  download_mib_per_sec?: number
}

export interface RawSchedule {
  enabled?: boolean
  /** Seconds. */
  every?: number
  cron?: string
  on_startup?: boolean
  jitter_seconds?: number
}

export type RawHooks = Partial<Record<string, string[]>>

export interface RawCommandDump {
  name: string
  command: string
}

export interface RawRepository {
  url: string
  label?: string
  allow_insecure_http?: boolean
  region?: string
  access_key_id?: string
  secret_access_key?: string
  sftp_key?: string
  sftp_known_hosts?: string
  access_token?: string
  encryption?: RawEncryption
  compression?: RawCompression
  retention?: RawRetention
  limits?: RawLimits
  schedule?: RawSchedule
  hooks?: RawHooks
}

export interface RawRichSource {
  path?: string
  paths?: string[]
  label?: string
  exclude?: string[]
  exclude_if_present?: string[]
  one_file_system?: boolean
  git_ignore?: boolean
  xattrs?: { enabled?: boolean }
  repos?: string[]
  retention?: RawRetention
  hooks?: RawHooks
  command_dumps?: RawCommandDump[]
}

export type RawSource = string | RawRichSource

/** What `configShape` accepts, once validation found no problem. */
export interface RawConfig {
  repositories: RawRepository[]
  sources?: RawSource[]
  exclude_patterns?: string[]
  exclude_if_present?: string[]
  one_file_system?: boolean
  git_ignore?: boolean
  xattrs?: { enabled?: boolean }
  encryption?: RawEncryption
  compression?: RawCompression
  chunker?: RawChunker
  retention?: RawRetention
  limits?: RawLimits
  schedule?: RawSchedule
  hooks?: RawHooks
  hostname?: string
  cache_dir?: string
  env_file?: string[]
}
