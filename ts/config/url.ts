/**
 * Repository URLs: a local path, `file://`, `s3://` / `s3+http://`, `sftp://`, or `http(s)://` (the REST
 * server). All forms are parsed and checked here; this version of the engine opens local ones only (the
 * others fail with VGER_UNSUPPORTED_BACKEND when used).
 */
import type { Parsed } from './units.js'

export type RepositoryLocation =
  | { backend: 'local'; path: string }
  | { backend: 's3'; endpoint: string; bucket: string; prefix: string; insecure: boolean }
  | { backend: 'sftp'; user?: string; host: string; port?: number; path: string }
  | { backend: 'rest'; url: string; insecure: boolean }

export const URL_FORMS = 'a local path, file:///path, s3://host[:port]/bucket[/prefix], sftp://[user@]host[:port]/path or https://host/path'

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//

export function hasScheme(url: string): boolean {
  return SCHEME.test(url)
}

/** Parses a repository URL; a local path is returned as given (made absolute by the caller). */
export function parseRepositoryUrl(url: string): Parsed<RepositoryLocation> {
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
    case 's3+http': {
      const [bucket = '', ...prefix] = path.split('/').filter((p) => p !== '')
      if (u.host === '' || bucket === '') {
        return { error: `"${url}": an S3 URL needs a host and a bucket: s3://host[:port]/bucket[/prefix]` }
      }
      const insecure = scheme === 's3+http'
      return {
        value: { backend: 's3', endpoint: `${insecure ? 'http' : 'https'}://${u.host}`, bucket, prefix: prefix.join('/'), insecure },
      }
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
    case 'http':
    case 'https':
      if (u.hostname === '') return { error: `"${url}": a REST URL needs a host` }
      if (u.username !== '' || u.password !== '') {
        // Never echo the credentials themselves.
        const shown = `${scheme}://…@${u.host}${u.pathname}`
        return { error: `"${shown}": do not put credentials in the URL; use access_token` }
      }
      return { value: { backend: 'rest', url, insecure: scheme === 'http' } }
    default:
      return { error: `unsupported URL scheme "${scheme}://" in "${url}"; expected ${URL_FORMS}` }
  }
}
