/**
 * server.yaml: read, `${VAR}`-expanded, validated (serverShape, with line and column in every problem)
 * and resolved: defaults applied, paths made absolute against the file's directory, each repository's
 * storage settings turned into the engine's, and the cross-checks the schema cannot say (a token names
 * only configured repositories; plain HTTP listens on loopback only unless allowed).
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type * as native from '../../crates/vger-napi/index.cjs'
import { backendSettings } from '../backend-settings.js'
import { type Env, interpolateDocument } from '../config/interpolate.js'
import { parseYaml } from '../config/load.js'
import { expandHome } from '../config/paths.js'
import { type ConfigProblem, ConfigError, type Position } from '../config/problems.js'
import { backendShape } from '../config/schema.js'
import { resolveSection } from '../config/shape.js'
import { parseRepositoryUrl } from '../config/url.js'
import { validate } from '../config/validate.js'
import { type Permission, type RawServerConfig, type RawServerRepository, serverShape } from './config-schema.js'

export type { Permission }

export interface ServerRepository {
  name: string
  /** A local absolute path, or an s3:// or sftp:// URL. */
  url: string
  /** The directory of a local store (the symlink guard walks it), else undefined. */
  localPath?: string
  quotaBytes?: number
  /** Whether compacting clients may have this server build packs from ranges (`?repack`). */
  repack: boolean
  /** The engine's settings for a remote store. */
  settings?: native.BackendSettings
}

export interface ServerConfig {
  file: string
  address: string
  port: number
  tls?: { cert: string; key: string }
  stateDir: string
  maxObjectSize: number
  uploadMemory: number
  clientTimeoutSecs: number
  shutdownTimeoutSecs: number
  metricsToken?: string
  repositories: ReadonlyMap<string, ServerRepository>
  /** Token hash → repository name → permission. */
  tokens: ReadonlyMap<string, ReadonlyMap<string, Permission>>
}

/** The addresses plain HTTP may listen on without `allow_insecure_http`. */
export function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || address === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(address)
}

export function loadServerConfig(file: string, env: Env, home: string): ServerConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e)
    throw new ConfigError(`cannot read the server config ${file}: ${reason}`, { cause: e })
  }
  return parseServerConfig(text, path.resolve(file), env, home)
}

export function parseServerConfig(text: string, file: string, env: Env, home: string): ServerConfig {
  const { doc, lines } = parseYaml(text, file)
  interpolateDocument(doc, lines, env, file)
  const { value, problems, positions } = validate(doc, lines, file, serverShape)
  if (problems.length > 0) throw new ConfigError(problems)
  return resolveServerConfig(value as RawServerConfig, file, env, home, positions)
}

function resolveServerConfig(
  raw: RawServerConfig,
  file: string,
  env: Env,
  home: string,
  positions: ReadonlyMap<string, Position>,
): ServerConfig {
  const dir = path.dirname(file)
  const abs = (p: string): string => path.resolve(dir, expandHome(p, home))
  const problems: ConfigProblem[] = []
  const problem = (key: string, message: string): void => {
    const at = positions.get(key) ?? { line: 1, col: 1 }
    problems.push({ file, line: at.line, col: at.col, message })
  }

  const address = raw.address ?? '127.0.0.1'
  if (raw.tls === undefined && raw.allow_insecure_http !== true && !isLoopback(address)) {
    problem(
      'address',
      `plain HTTP on ${address} would send tokens and data unencrypted over the network; add tls: {cert, key}, listen on 127.0.0.1, or set "allow_insecure_http: true"`,
    )
  }
  const repositories = new Map<string, ServerRepository>()
  for (const [name, r] of Object.entries(raw.repositories)) {
    const repo = resolveRepository(name, r, abs, env)
    const parsed = parseRepositoryUrl(r.url)
    if ('value' in parsed && 'insecure' in parsed.value && parsed.value.insecure && r.allow_insecure_http !== true) {
      problem(
        `repositories.${name}.url`,
        `repositories.${name}.url uses plain http; set "allow_insecure_http: true" in repositories.${name} to accept that`,
      )
    }
    repositories.set(name, repo)
  }
  const tokens = new Map<string, Map<string, Permission>>()
  for (const [hash, grants] of Object.entries(raw.tokens ?? {})) {
    for (const repo of Object.keys(grants)) {
      if (!repositories.has(repo)) {
        problem(
          `tokens.${hash}.${repo}`,
          `tokens.${hash.slice(0, 8)}…: no repository "${repo}" is configured (repositories: ${[...repositories.keys()].join(', ')})`,
        )
      }
    }
    tokens.set(hash, new Map(Object.entries(grants)))
  }
  if (problems.length > 0) throw new ConfigError(problems.sort((a, b) => a.line - b.line || a.col - b.col))

  const xdgState =
    env.XDG_STATE_HOME !== undefined && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(home, '.local', 'state')
  return {
    file,
    address,
    port: raw.port ?? 8585,
    ...(raw.tls === undefined ? {} : { tls: { cert: abs(raw.tls.cert), key: abs(raw.tls.key) } }),
    stateDir: raw.state_dir === undefined ? path.join(xdgState, 'vger', 'server') : abs(raw.state_dir),
    maxObjectSize: raw.max_object_size ?? 1024 ** 3,
    uploadMemory: raw.upload_memory ?? 1024 ** 3,
    clientTimeoutSecs: raw.client_timeout ?? 60,
    shutdownTimeoutSecs: raw.shutdown_timeout ?? 30,
    ...(raw.metrics_token === undefined ? {} : { metricsToken: raw.metrics_token }),
    repositories,
    tokens,
  }
}

function resolveRepository(name: string, r: RawServerRepository, abs: (p: string) => string, env: Env): ServerRepository {
  const parsed = parseRepositoryUrl(r.url)
  const location = 'value' in parsed ? parsed.value : undefined
  const url = location?.backend === 'local' ? abs(location.path) : r.url
  const backend = resolveSection(backendShape, r)
  if (backend.sftpKey !== undefined) backend.sftpKey = abs(backend.sftpKey)
  if (backend.sftpKnownHosts !== undefined) backend.sftpKnownHosts = abs(backend.sftpKnownHosts)
  const retry =
    r.retry === undefined
      ? undefined
      : {
          ...(r.retry.max_retries === undefined ? {} : { maxRetries: r.retry.max_retries }),
          ...(r.retry.retry_delay_ms === undefined ? {} : { retryDelayMs: r.retry.retry_delay_ms }),
          ...(r.retry.retry_max_delay_ms === undefined ? {} : { retryMaxDelayMs: r.retry.retry_max_delay_ms }),
        }
  const settings = backendSettings(
    {
      url,
      ...(location === undefined || location.backend === 'local' ? {} : { location }),
      backend,
      ...(retry === undefined ? {} : { retry }),
      ...(r.sftp_timeout === undefined ? {} : { sftpTimeoutSecs: r.sftp_timeout }),
    },
    env,
  )
  return {
    name,
    url,
    ...(location?.backend === 'local' ? { localPath: url } : {}),
    ...(r.quota === undefined ? {} : { quotaBytes: r.quota }),
    repack: r.repack ?? true,
    ...(settings === undefined ? {} : { settings }),
  }
}
