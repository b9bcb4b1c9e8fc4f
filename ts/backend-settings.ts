/**
 * What the engine needs to reach a repository beyond its URL: the repository's backend settings from the
 * config, and for S3 the standard AWS environment variables where the config is silent (the engine never
 * reads the environment itself). Secrets travel in this object only; they never reach a message.
 */
import path from 'node:path'
import type * as native from '../crates/vger-napi/index.cjs'
import type { RepositoryConfig } from './config/types.js'

type Env = Readonly<Record<string, string | undefined>>

const MIB = 1024 * 1024

/**
 * The engine's settings for `repo`; for a local repository only its rate limits (undefined without them).
 * `cacheDir` (the config's `cache_dir`) gets a `metadata/` directory of copies of the repository's index
 * segments, snapshots and packs of trees.
 */
export function backendSettings(
  repo: Pick<RepositoryConfig, 'url' | 'location' | 'backend' | 'retry' | 'sftpTimeoutSecs'> & Partial<Pick<RepositoryConfig, 'limits'>>,
  env: Env = {},
  cacheDir?: string,
): native.BackendSettings | undefined {
  const kind = repo.location?.backend ?? (/^(s3|s3\+https?|sftp|rests?|https?|webdavs?):\/\//.exec(repo.url) === null ? 'local' : 'remote')
  const rates: native.BackendSettings = {}
  const l = repo.limits
  if (l !== undefined && l.uploadMibPerSec > 0) rates.uploadBytesPerSec = l.uploadMibPerSec * MIB
  if (l !== undefined && l.downloadMibPerSec > 0) rates.downloadBytesPerSec = l.downloadMibPerSec * MIB
  if (kind === 'local') return Object.keys(rates).length > 0 ? rates : undefined
  const b = repo.backend ?? { allowInsecureHttp: false, virtualHostStyle: false }
  const s: native.BackendSettings = {
    allowInsecureHttp: b.allowInsecureHttp,
    virtualHostStyle: b.virtualHostStyle,
    ...rates,
  }
  const set = <K extends keyof native.BackendSettings>(key: K, value: native.BackendSettings[K] | undefined): void => {
    if (value !== undefined && value !== '') s[key] = value
  }
  const s3 = repo.location?.backend === 's3' || repo.url.startsWith('s3')
  set('endpoint', b.endpoint ?? (s3 ? (env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL) : undefined))
  set('region', b.region ?? (s3 ? (env.AWS_REGION ?? env.AWS_DEFAULT_REGION) : undefined))
  set('storageClass', b.storageClass)
  set('sftpKey', b.sftpKey)
  set('sftpKnownHosts', b.sftpKnownHosts)
  if (b.accessKeyId !== undefined || b.secretAccessKey !== undefined) {
    set('accessKeyId', b.accessKeyId)
    set('secretAccessKey', b.secretAccessKey)
  } else if (s3 && env.AWS_ACCESS_KEY_ID !== undefined && env.AWS_SECRET_ACCESS_KEY !== undefined) {
    set('accessKeyId', env.AWS_ACCESS_KEY_ID)
    set('secretAccessKey', env.AWS_SECRET_ACCESS_KEY)
    set('sessionToken', env.AWS_SESSION_TOKEN)
  } else {
    set('profile', b.profile ?? (s3 ? env.AWS_PROFILE : undefined))
  }
  if (repo.location?.backend === 'rest') set('restToken', b.accessToken ?? env.VGER_REST_TOKEN)
  set('tlsCa', b.tlsCa)
  set('webdavPassword', b.webdavPassword)
  const r = repo.retry
  set('maxRetries', r?.maxRetries)
  set('retryDelayMs', r?.retryDelayMs)
  set('retryMaxDelayMs', r?.retryMaxDelayMs)
  set('timeoutSecs', repo.sftpTimeoutSecs)
  set('connections', l?.connections)
  if (cacheDir !== undefined) set('metadataCache', path.join(cacheDir, 'metadata'))
  return s
}
