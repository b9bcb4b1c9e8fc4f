/**
 * The YAML config schema: the one declaration of every key, its type, limits and default.
 *
 * The validator (validate.ts), the JSON Schema for editors (json-schema.ts, published as
 * schema/vger.schema.json), the raw types below and the resolved section types (types.ts) all come from
 * it. Keys are snake_case, following vykar. docs/config.md documents every key; test/unit/docs.test.ts
 * fails when a key of `configShape` is not mentioned there.
 *
 * Adding a key: declare it below (type, limits, default), add its row to docs/config.md, and run
 * `npm run schema` to regenerate schema/vger.schema.json (a test fails until it is committed). A key of a
 * section (encryption, compression, chunker, retention, limits, schedule, a repository's backend
 * settings) then reaches the resolved config by itself; a top-level or source key whose meaning needs code
 * also gets its field in types.ts and its line in resolve.ts or resolve-sources.ts.
 */
import type { ChunkerParams, CompressionAlgorithm, EncryptionMode } from '../repository.js'
import { type Infer, type JsonSchema, bool, either, enumOf, int, list, obj, refused, secret, str, strings, value } from './shape.js'
import {
  CRON_EXAMPLE,
  CRON_PATTERN,
  INTERVAL_EXAMPLE,
  INTERVAL_PATTERN,
  RETENTION_EXAMPLE,
  RETENTION_PATTERN,
  SIZE_EXAMPLE,
  SIZE_PATTERN,
  parseCron,
  parseInterval,
  parseKeepWithin,
  parseRetentionDuration,
  parseSize,
} from './units.js'
import { URL_FORMS, parseRepositoryUrl } from './url.js'

export const ENCRYPTION_MODES: readonly EncryptionMode[] = ['auto', 'aes256gcm', 'chacha20poly1305', 'none']
export const COMPRESSION_ALGORITHMS: readonly CompressionAlgorithm[] = ['lz4', 'zstd', 'none']
export const HOOK_EVENTS = ['before', 'after', 'failed', 'finally'] as const
export const HOOK_COMMANDS = ['backup', 'prune', 'compact', 'check'] as const
export type HookEvent = (typeof HOOK_EVENTS)[number]
export type HookCommand = (typeof HOOK_COMMANDS)[number]
export type HookKey = HookEvent | `${HookEvent}_${HookCommand}`
/** `before`, …, `finally`, then `before_backup`, …, `finally_check`. */
export const HOOK_KEYS: readonly HookKey[] = [...HOOK_EVENTS, ...HOOK_COMMANDS.flatMap((c) => HOOK_EVENTS.map((e) => `${e}_${c}` as const))]
export const GROUP_BY_KEYS = ['host', 'label', 'paths'] as const
export type GroupByKey = (typeof GROUP_BY_KEYS)[number]

const text = str()
const textList = list(text)
const flag = bool()
const count = int({ min: 0 })

/** For editors: a value written as a whole number, or as text (`pattern`) such as "2MiB" or "7d". */
const numberOrText = (minimum: number, pattern: string, description: string): JsonSchema => ({
  anyOf: [
    { type: 'integer', minimum },
    { type: 'string', pattern },
  ],
  description,
})
const size = <const D extends string>(written: D) => value(parseSize, numberOrText(0, SIZE_PATTERN, SIZE_EXAMPLE), { default: written })
const duration = value(parseKeepWithin, numberOrText(1, RETENTION_PATTERN, RETENTION_EXAMPLE))
const cron = value(parseCron, { type: 'string', pattern: CRON_PATTERN, description: CRON_EXAMPLE })

const repositoryUrl = value(
  (v) => {
    if (v === undefined) return { error: 'expected a string (a path or URL)' }
    if (typeof v !== 'string') return { error: `expected a string, got a ${typeof v} (${String(v)}); quote it: "${String(v)}"` }
    if (v.trim() === '') return { error: 'expected a non-empty string' }
    const parsed = parseRepositoryUrl(v)
    return 'error' in parsed ? parsed : { value: v }
  },
  { type: 'string', pattern: '\\S', description: URL_FORMS },
)

export const encryptionShape = obj({
  mode: enumOf(ENCRYPTION_MODES, { default: 'auto' }),
  passphrase: secret(),
  passcommand: secret(),
})

export const compressionShape = obj({
  algorithm: enumOf(COMPRESSION_ALGORITHMS, { default: 'lz4' }),
  zstd_level: int({ min: 1, max: 22, default: 3 }),
})

export const chunkerShape = obj(
  { min_size: size('512KiB'), avg_size: size('1MiB'), max_size: size('8MiB') },
  { check: (c) => chunkerProblems(c as unknown as ChunkerParams) },
)

/**
 * The engine's FastCDC bounds (vger-core ChunkerParams::check): every size out of its bounds, or else
 * (sizes in bounds) their order.
 */
export function chunkerProblems(c: ChunkerParams): string[] {
  const MiB = 1024 * 1024
  const out: string[] = []
  const bound = (key: string, got: number, min: number, max: number, range: string): void => {
    if (got < min || got > max) out.push(`chunker.${key} must be from ${range}, got ${got} bytes`)
  }
  bound('min_size', c.minSize, 64, MiB, '64 B to 1 MiB')
  bound('avg_size', c.avgSize, 256, 4 * MiB, '256 B to 4 MiB')
  bound('max_size', c.maxSize, 1024, 16 * MiB, '1 KiB to 16 MiB')
  if (out.length === 0 && (c.minSize > c.avgSize || c.avgSize > c.maxSize)) {
    out.push(`chunker sizes must satisfy min_size <= avg_size <= max_size, got ${c.minSize} / ${c.avgSize} / ${c.maxSize} bytes`)
  }
  return out
}

/** A source's own retention rules (grouping is a property of the whole prune, not of one source). */
export const sourceRetentionShape = obj({
  keep_last: count,
  keep_hourly: count,
  keep_daily: count,
  keep_weekly: count,
  keep_monthly: count,
  keep_yearly: count,
  keep_within: duration,
})

/** Top-level and per-repository retention: the rules, and how snapshots are grouped before applying them. */
export const retentionShape = obj({
  ...sourceRetentionShape.fields,
  group_by: list(enumOf(GROUP_BY_KEYS)),
})

/** Resource limits; `connections` without a value leaves the engine's default (8). */
export const limitsShape = obj({
  connections: int({ min: 1, max: 64 }),
  threads: int({ min: 0, max: 128, default: 0 }),
  nice: int({ min: -20, max: 19, default: 0 }),
  upload_mib_per_sec: int({ min: 0, default: 0 }),
  download_mib_per_sec: int({ min: 0, default: 0 }),
  read_mib_per_sec: int({ min: 0, default: 0 }),
})

export const scheduleShape = obj(
  {
    enabled: bool({ default: false }),
    /** The default applies only without `cron`. */
    every: value(parseInterval, numberOrText(1, INTERVAL_PATTERN, INTERVAL_EXAMPLE), { default: '24h' }),
    cron,
    on_startup: bool({ default: false }),
    jitter_seconds: int({ min: 0, default: 0 }),
  },
  { rules: [{ rule: 'exclusive', keys: ['every', 'cron'] }] },
)

const hooksFor = <K extends HookKey>(keys: readonly K[]) =>
  obj(Object.fromEntries(keys.map((k) => [k, strings()])) as Record<K, ReturnType<typeof strings>>)

/** Global and per-repository hooks: every event, optionally per command. */
export const hooksShape = hooksFor(HOOK_KEYS)
/** Per-source hooks: around that source's backup only. */
export const sourceHooksShape = hooksFor(HOOK_EVENTS)

/** `name` is the file name under `vger-dumps/` in the snapshot. */
export const commandDumpShape = obj({ name: text, command: text }, { required: ['name', 'command'] })

/** `compact`: the threshold `vger compact` and the full cycle use when `--threshold` is not given. */
export const compactShape = obj({ threshold: int({ min: 0, max: 100 }) })

/**
 * `check` in the full cycle (bare `vger`): `max_percent` of the packs are read and verified each time (0:
 * structure only); `full_every` (seconds once resolved; a month is 30 days): a full `--verify-data` check
 * when the last one of that repository is at least this old (ts/cli/full-check.ts).
 */
export const checkShape = obj({
  max_percent: int({ min: 0, max: 100, default: 0 }),
  full_every: value(parseRetentionDuration, numberOrText(1, RETENTION_PATTERN, RETENTION_EXAMPLE)),
})

/** Retries of remote requests after a transient failure (vykar's names): count, first delay, longest delay. */
export const retryShape = obj({ max_retries: count, retry_delay_ms: count, retry_max_delay_ms: count })

/** A repository's storage settings, kept together in the resolved config as `backend`. */
export const backendShape = obj({
  allow_insecure_http: bool({ default: false }),
  /** S3: the service endpoint, `https://host[:port]`, for `s3://bucket/prefix` URLs (AWS when absent). */
  endpoint: text,
  region: text,
  /** S3: a profile of the AWS shared config files, used when no access key is given. */
  profile: text,
  /** S3: the storage class of new objects. */
  storage_class: text,
  /** S3: address buckets as bucket.host (default: host/bucket, path style). */
  virtual_host_style: bool({ default: false }),
  access_key_id: text,
  secret_access_key: secret(),
  sftp_key: text,
  sftp_known_hosts: text,
  access_token: secret(),
  /** WebDAV: the password of the user named in the URL. */
  webdav_password: secret(),
  /** REST: a PEM certificate to trust for rests:// besides the system's (a server with its own certificate). */
  tls_ca: text,
})

/**
 * vykar's pack size bounds. The engine can aim at another size (vger-core `Repository::set_pack_target`),
 * but the binding does not expose it yet, so the keys are refused rather than ignored.
 */
const PACK_SIZE =
  "vger closes each pack at a fixed target of 32 MiB (vykar's smallest), and this version cannot change it; " +
  'remove the key (the packs vger writes are read by any version whatever their size)'

/** vykar's tombstone deletes for S3 Object Lock buckets. */
const S3_SOFT_DELETE =
  'vger deletes objects outright (prune, compact, delete) and cannot write tombstones instead; remove the key. To keep ' +
  'deleted data recoverable, turn on versioning for the bucket (a deleted object stays as a noncurrent version) with a ' +
  'lifecycle rule that expires noncurrent versions after a while, and Object Lock if they must not be removed early; ' +
  'for backups that can never delete, use vger server with an append-only token (docs/server.md)'

const repositoryShape = obj(
  {
    url: repositoryUrl,
    label: text,
    ...backendShape.fields,
    /** vykar's older name for `access_token`. */
    rest_token: secret(),
    s3_soft_delete: refused(S3_SOFT_DELETE),
    sftp_timeout: int({ min: 1 }),
    retry: retryShape,
    min_pack_size: refused(PACK_SIZE),
    max_pack_size: refused(PACK_SIZE),
    encryption: encryptionShape,
    compression: compressionShape,
    retention: retentionShape,
    limits: limitsShape,
    schedule: scheduleShape,
    hooks: hooksShape,
  },
  { required: ['url'], rules: [{ rule: 'exclusive', keys: ['access_token', 'rest_token'] }] },
)

const richSourceShape = obj(
  {
    path: text,
    paths: list(text, { nonEmpty: true }),
    label: text,
    exclude: textList,
    exclude_if_present: textList,
    one_file_system: flag,
    git_ignore: flag,
    xattrs: obj({ enabled: flag }),
    repos: list(text, { nonEmpty: true }),
    retention: sourceRetentionShape,
    hooks: sourceHooksShape,
    command_dumps: list(commandDumpShape, { uniqueKey: 'name' }),
  },
  {
    rules: [
      { rule: 'exclusive', keys: ['path', 'paths'] },
      { rule: 'requires', key: 'paths', needs: 'label' },
    ],
  },
)

export const configShape = obj(
  {
    repositories: list(repositoryShape, { nonEmpty: true, uniqueKey: 'label' }),
    sources: list(either(richSourceShape, 'a path or a mapping with "path" or "paths"'), { uniqueKey: 'label' }),
    exclude_patterns: list(text, { default: [] }),
    exclude_if_present: list(text, { default: [] }),
    one_file_system: bool({ default: false }),
    git_ignore: bool({ default: false }),
    xattrs: obj({ enabled: bool({ default: true }) }),
    encryption: encryptionShape,
    compression: compressionShape,
    chunker: chunkerShape,
    retention: retentionShape,
    limits: limitsShape,
    schedule: scheduleShape,
    hooks: hooksShape,
    /** Seconds a hook may run before it is killed with its process group (`VGER_HOOK_TIMEOUT` wins). */
    hook_timeout: int({ min: 1, default: 300 }),
    compact: compactShape,
    check: checkShape,
    hostname: text,
    cache_dir: text,
    env_file: strings(),
  },
  { required: ['repositories'], hint: 'for example: repositories: [{url: /backups/repo}]' },
)

/** What `configShape` accepts, once validation found no problem. */
export type RawConfig = Infer<typeof configShape>
export type RawRepository = Infer<typeof repositoryShape>
export type RawRichSource = Infer<typeof richSourceShape>
export type RawSource = NonNullable<RawConfig['sources']>[number]
export type RawHooks = Infer<typeof hooksShape>
