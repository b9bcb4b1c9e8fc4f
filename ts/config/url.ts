/**
 * Repository URLs: a local path, `file://`, `s3://` / `s3+http://` / `s3+https://`, `sftp://`, or `rests://` /
 * `rest://` (a `vger server`; vykar's `https://` / `http://` are the same). All forms are checked here, where a mistake can be reported with its line; the engine
 * parses them again when it opens the store (crates/vger-storage/src/target.rs, the same rules).
 */
import type { Parsed } from './units.js'

export type RepositoryLocation =
  | { backend: 'local'; path: string }
  /** `endpoint` absent: the configured `endpoint`, else AWS. */
  | { backend: 's3'; endpoint?: string; bucket: string; prefix: string; insecure: boolean }
  | { backend: 'sftp'; user?: string; host: string; port?: number; path: string }
  | { backend: 'rest'; url: string; insecure: boolean }
  | { backend: 'webdav'; url: string; insecure: boolean }

export const URL_FORMS =
  'a local path, file:///path, s3://bucket[/prefix], s3://host[:port]/bucket[/prefix], sftp://[user@]host[:port]/path, rests://host[:port]/repo, rest://host[:port]/repo or webdavs://[user@]host[:port]/path'

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//

export function hasScheme(url: string): boolean {
  return SCHEME.test(url)
}

/**
 * Parses a repository URL; a local path is returned as given (made absolute by the caller). An S3 URL is
 * `s3://bucket[/prefix]`, or vykar's `s3://host[:port]/bucket[/prefix]` when no `endpoint` is configured and
 * the host has a dot or a port (or is localhost) and a path follows; `s3+http://` and `s3+https://` always
 * carry the host.
 */
export function parseRepositoryUrl(url: string, opts: { endpoint?: string } = {}): Parsed<RepositoryLocation> {
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase()
  if (scheme === undefined) return { value: { backend: 'local', path: url } }
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return { error: `"${url}" is not a valid URL; expected ${URL_FORMS}` }
  }
  const path = decodeURIComponent(u.pathname)
  switch (scheme) {
    case 'file':
      if (u.host !== '' && u.host !== 'localhost') {
        return { error: `"${url}": a file:// URL names a local path (file:///path), not host "${u.host}"` }
      }
      return { value: { backend: 'local', path } }
    case 's3':
    case 's3+http':
    case 's3+https': {
      if (u.username !== '' || u.password !== '') {
        return {
          error: `"${scheme}://…@${u.host}${u.pathname}": do not put credentials in the URL; use access_key_id and secret_access_key`,
        }
      }
      if (u.host === '') return { error: `"${url}": an S3 URL needs a bucket: s3://bucket[/prefix]` }
      const parts = path.split('/').filter((p) => p !== '')
      // Checked on the text as written: URL parsing would have resolved the dots away.
      const raw =
        url
          .slice(url.indexOf('://') + 3)
          .split(/[?#]/)[0]
          ?.split('/') ?? []
      if (raw.some((p) => p === '.' || p === '..')) return { error: `"${url}": the prefix must not contain . or ..` }
      const hostlike = u.host.includes('.') || u.host.includes(':') || u.hostname === 'localhost'
      const insecure = scheme === 's3+http'
      if (scheme !== 's3' || (opts.endpoint === undefined && hostlike && parts.length > 0)) {
        const [bucket = '', ...prefix] = parts
        if (bucket === '') return { error: `"${url}": no bucket after the host: s3://host[:port]/bucket[/prefix]` }
        return {
          value: { backend: 's3', endpoint: `${insecure ? 'http' : 'https'}://${u.host}`, bucket, prefix: prefix.join('/'), insecure },
        }
      }
      const insecureEndpoint = opts.endpoint?.startsWith('http://') === true
      return { value: { backend: 's3', bucket: u.host, prefix: parts.join('/'), insecure: insecureEndpoint } }
    }
    case 'sftp': {
      if (u.hostname === '') return { error: `"${url}": an SFTP URL needs a host: sftp://[user@]host[:port]/path` }
      const user = u.username === '' ? undefined : decodeURIComponent(u.username)
      if (u.password !== '') return { error: `"${url}": do not put a password in the URL; use sftp_key` }
      const port = u.port === '' ? undefined : Number(u.port)
      return {
        value: {
          backend: 'sftp',
          host: u.hostname,
          path: path === '' ? '/' : path,
          ...(user === undefined ? {} : { user }),
          ...(port === undefined ? {} : { port }),
        },
      }
    }
    case 'rest':
    case 'rests':
    case 'http':
    case 'https':
      if (u.hostname === '') return { error: `"${url}": a REST URL needs a host` }
      if (u.username !== '' || u.password !== '') {
        // Never echo the credentials themselves.
        const shown = `${scheme}://…@${u.host}${u.pathname}`
        return { error: `"${shown}": do not put credentials in the URL; use access_token` }
      }
      if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(path.replace(/^\/+|\/+$/g, ''))) {
        return {
          error: `"${url}": name one repository of the server after the host: rests://host[:port]/<repo> (lower-case letters, digits, '.', '_' and '-')`,
        }
      }
      {
        // Plain HTTP to this machine stays on this machine; anywhere else it needs allow_insecure_http.
        const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)
        return { value: { backend: 'rest', url, insecure: (scheme === 'http' || scheme === 'rest') && !loopback } }
      }
    case 'webdav':
    case 'webdavs': {
      if (u.hostname === '') return { error: `"${url}": a WebDAV URL needs a host` }
      if (u.password !== '') {
        const shown = `${scheme}://…@${u.host}${u.pathname}`
        return { error: `"${shown}": do not put a password in the URL; use webdav_password` }
      }
      if (path.split('/').some((c) => c === '.' || c === '..')) return { error: `"${url}": the path must not contain . or ..` }
      const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)
      return { value: { backend: 'webdav', url, insecure: scheme === 'webdav' && !loopback } }
    }
    default:
      return { error: `unsupported URL scheme "${scheme}://" in "${url}"; expected ${URL_FORMS}` }
  }
}
