/**
 * The schema of server.yaml (docs/server.md, "Configuration"), declared in the config vocabulary of
 * ts/config/shape.ts, so the file is validated like vger.yaml: every problem in one pass, each with its
 * line and column.
 */
import { backendShape, retryShape } from '../config/schema.js'
import { type Infer, bool, enumOf, int, obj, record, str, value } from '../config/shape.js'
import { SIZE_EXAMPLE, SIZE_PATTERN, parseSize } from '../config/units.js'
import { parseRepositoryUrl } from '../config/url.js'

export const PERMISSIONS = ['read', 'append', 'full'] as const
export type Permission = (typeof PERMISSIONS)[number]

/** A repository name as it appears in client URLs (`rests://host:port/<name>`). */
export const REPO_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/
const REPO_NAME_TEXT = "a repository name (lower-case letters, digits, '.', '_' and '-'; at most 64)"
/** A token as server.yaml holds it: its SHA-256, 64 lower-case hex digits (`vger server hash-token`). */
export const TOKEN_HASH = /^[0-9a-f]{64}$/
const TOKEN_HASH_TEXT = 'the SHA-256 of a token, 64 lower-case hex digits (vger server hash-token prints it)'

const size = (written?: string) =>
  value(
    parseSize,
    {
      anyOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string', pattern: SIZE_PATTERN },
      ],
      description: SIZE_EXAMPLE,
    },
    {
      ...(written === undefined ? {} : { default: written }),
    },
  )

const tokenHash = value(
  (v) => (typeof v === 'string' && TOKEN_HASH.test(v) ? { value: v } : { error: `expected ${TOKEN_HASH_TEXT}, got ${JSON.stringify(v)}` }),
  { type: 'string', pattern: TOKEN_HASH.source },
)

/** Where a repository's objects are stored: the engine's backends, never another vger server. */
const storageUrl = value(
  (v) => {
    if (typeof v !== 'string' || v.trim() === '') return { error: 'expected a local path, or an s3://, sftp:// or webdav(s):// URL' }
    const parsed = parseRepositoryUrl(v)
    if ('error' in parsed) return parsed
    if (parsed.value.backend === 'rest') {
      return { error: `"${v}": a server stores its repositories locally, on S3, SFTP or WebDAV, not on another vger server` }
    }
    return { value: v }
  },
  { type: 'string', pattern: '\\S', description: 'a local path, file:///path, s3://…, sftp://… or webdav(s)://…' },
)

const { access_token: _token, tls_ca: _ca, ...storageSettings } = backendShape.fields

export const serverRepositoryShape = obj(
  {
    url: storageUrl,
    /** Bytes the repository may hold; absent: no limit. */
    quota: size(),
    /** Server-side repack for compacting clients (`POST ?repack`); false: they copy through themselves. */
    repack: bool({ default: true }),
    ...storageSettings,
    retry: retryShape,
    sftp_timeout: int({ min: 1 }),
  },
  { required: ['url'], hint: 'for example: laptop: {url: /srv/vger/laptop}' },
)

export const serverShape = obj(
  {
    address: str(),
    port: int({ min: 0, max: 65535, default: 8585 }),
    tls: obj({ cert: str(), key: str() }, { required: ['cert', 'key'] }),
    allow_insecure_http: bool({ default: false }),
    state_dir: str(),
    max_object_size: size('1GiB'),
    upload_memory: size('1GiB'),
    client_timeout: int({ min: 1, max: 3600, default: 60 }),
    shutdown_timeout: int({ min: 0, max: 3600, default: 30 }),
    metrics_token: tokenHash,
    repositories: record({ pattern: REPO_NAME, expected: REPO_NAME_TEXT }, serverRepositoryShape, { nonEmpty: true }),
    tokens: record(
      { pattern: TOKEN_HASH, expected: TOKEN_HASH_TEXT },
      record({ pattern: REPO_NAME, expected: REPO_NAME_TEXT }, enumOf(PERMISSIONS), { nonEmpty: true }),
    ),
  },
  {
    required: ['repositories'],
    hint: 'for example: repositories: {laptop: {url: /srv/vger/laptop}}',
  },
)

export type RawServerConfig = Infer<typeof serverShape>
export type RawServerRepository = Infer<typeof serverRepositoryShape>
