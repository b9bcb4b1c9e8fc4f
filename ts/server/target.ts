/**
 * What a request addresses, read from its raw path and query (docs/server.md section 1). The path is
 * taken as written: no valid repository name or key needs percent-encoding, so any `%` (and with it
 * `%2F`, `%2e%2e`, `%00`, `%5C`) is refused before anything is decoded, and two spellings never reach
 * one object. Keys must have one of the layout's exact shapes.
 */
import { REPO_NAME } from './config-schema.js'
import { badKey, badRequest } from './errors.js'

export type RepositoryAction = 'stats' | 'init' | 'verify-packs' | 'repack'

export type Target =
  | { kind: 'health' }
  | { kind: 'metrics' }
  | { kind: 'object'; repo: string; key: string }
  /** `prefix` '' lists the whole repository. */
  | { kind: 'list'; repo: string; prefix: string }
  | { kind: 'repository'; repo: string; action: RepositoryAction }

/** The layout's keys (docs/format.md section 2); a pack's directory is the first two digits of its id. */
const KEY =
  /^(?:config|keys\/[0-9a-f]{16}|packs\/([0-9a-f]{2})\/\1[0-9a-f]{62}|(?:index|snapshots)\/[0-9a-f]{64}|(?:locks|pending)\/[0-9a-f]{32})$/
/** What `?list` may name: a top directory, or one directory of packs. */
const LIST_PREFIX = /^(?:keys|packs|index|snapshots|locks|pending|packs\/[0-9a-f]{2})$/
const QUERIES = new Set(['list', 'stats', 'init', 'verify-packs', 'repack'])

export function isValidKey(key: string): boolean {
  return KEY.test(key)
}

export function isPackKey(key: string): boolean {
  return key.startsWith('packs/')
}

export function isLockKey(key: string): boolean {
  return key.startsWith('locks/')
}

/** Parses `req.url`; throws a 400 for anything outside the protocol. */
export function parseTarget(url: string): Target {
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  const query = q < 0 ? undefined : url.slice(q + 1)
  if (!path.startsWith('/')) throw badRequest('the request target must be a path')
  if (path.includes('%')) throw badKey('percent-encoding is not accepted in paths (no repository name or key needs it)')
  if (!/^[\x21-\x7e]*$/.test(path) || path.includes('\\')) throw badKey('the path holds a character no key has')
  if (query !== undefined && !QUERIES.has(query)) throw badRequest('unknown query: expected ?list, ?stats, ?init, ?verify-packs or ?repack')
  if (path === '/health' && query === undefined) return { kind: 'health' }
  if (path === '/metrics' && query === undefined) return { kind: 'metrics' }

  const slash = path.indexOf('/', 1)
  const repo = slash < 0 ? path.slice(1) : path.slice(1, slash)
  if (!REPO_NAME.test(repo)) throw badKey(`"${clip(repo)}" is not a repository name`)
  if (slash < 0) throw badKey('name an object after the repository: /<repo>/<key>')
  const rest = path.slice(slash + 1)
  if (query === 'list') {
    if (rest === '') return { kind: 'list', repo, prefix: '' }
    const prefix = rest.endsWith('/') ? rest.slice(0, -1) : undefined
    if (prefix === undefined || !LIST_PREFIX.test(prefix))
      throw badKey('?list takes /<repo>/?list or /<repo>/<keys|packs|index|snapshots|locks|pending>/?list')
    return { kind: 'list', repo, prefix }
  }
  if (query !== undefined) {
    if (rest !== '') throw badRequest(`?${query} applies to the repository: /<repo>/?${query}`)
    return { kind: 'repository', repo, action: query as RepositoryAction }
  }
  if (!KEY.test(rest)) throw badKey(`"${clip(rest)}" is not a key of the repository layout`)
  return { kind: 'object', repo, key: rest }
}

/** A piece of the request, short enough for a message or a log line. */
export function clip(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`
}
