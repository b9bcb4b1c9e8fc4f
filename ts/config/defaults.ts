/** Defaults of every config section, shared by the resolver, the embedded default config and ad-hoc input. */
import path from 'node:path'
import type { ChunkerParams } from '../repository.js'
import type { Env } from './interpolate.js'
import type { CompressionConfig, EncryptionConfig, LimitsConfig, ScheduleConfig, SourceConfig } from './types.js'

export const DEFAULT_ENCRYPTION: EncryptionConfig = { mode: 'auto' }
export const DEFAULT_COMPRESSION: CompressionConfig = { algorithm: 'lz4', zstdLevel: 3 }
export const DEFAULT_CHUNKER: ChunkerParams = { minSize: 512 * 1024, avgSize: 2 * 1024 * 1024, maxSize: 8 * 1024 * 1024 }
export const DEFAULT_LIMITS: LimitsConfig = { connections: 2, threads: 0, nice: 0, uploadMibPerSec: 0, downloadMibPerSec: 0 }
export const DEFAULT_SCHEDULE: ScheduleConfig = { enabled: false, every: 24 * 3600, onStartup: false, jitterSeconds: 0 }
export const DEFAULT_REPOSITORY_LABEL = 'default'

/** The per-source options a source inherits from the top level when it does not set them. */
export interface SourceDefaults {
  exclude: string[]
  excludeIfPresent: string[]
  oneFileSystem: boolean
  gitIgnore: boolean
  xattrs: boolean
}

export const NO_SOURCE_DEFAULTS: SourceDefaults = {
  exclude: [],
  excludeIfPresent: [],
  oneFileSystem: false,
  gitIgnore: false,
  xattrs: true,
}

/** A source with the inherited options filled in. */
export function makeSource(label: string, paths: string[], d: SourceDefaults): SourceConfig {
  return {
    label,
    paths,
    exclude: [...d.exclude],
    excludeIfPresent: [...d.excludeIfPresent],
    oneFileSystem: d.oneFileSystem,
    gitIgnore: d.gitIgnore,
    xattrs: d.xattrs,
    hooks: {},
    commandDumps: [],
  }
}

/** `$XDG_CACHE_HOME/vger`, or `~/.cache/vger` (relative XDG values are ignored, as the spec says). */
export function defaultCacheDir(env: Env, home: string): string {
  const xdg = env.XDG_CACHE_HOME
  return path.join(xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(home, '.cache'), 'vger')
}
