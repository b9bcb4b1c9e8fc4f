/**
 * Defaults that are not a key's declared default (those live in schema.ts), and the per-source options a
 * source inherits; shared by the resolver, the embedded default config and ad-hoc input.
 */
import path from 'node:path'
import type { Env } from './interpolate.js'
import { configShape } from './schema.js'
import type { SourceConfig } from './types.js'

export const DEFAULT_REPOSITORY_LABEL = 'default'

/** The per-source options a source inherits from the top level when it does not set them. */
export interface SourceDefaults {
  exclude: string[]
  excludeIfPresent: string[]
  oneFileSystem: boolean
  gitIgnore: boolean
  xattrs: boolean
}

const top = configShape.fields

/** What a source inherits when the top level does not set it either: the declared defaults. */
export const NO_SOURCE_DEFAULTS: SourceDefaults = {
  exclude: [...top.exclude_patterns.default],
  excludeIfPresent: [...top.exclude_if_present.default],
  oneFileSystem: top.one_file_system.default,
  gitIgnore: top.git_ignore.default,
  xattrs: top.xattrs.fields.enabled.default,
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
    iexclude: [],
    excludeCaches: false,
    hooks: {},
    commandDumps: [],
  }
}

/** `$XDG_CACHE_HOME/vger`, or `~/.cache/vger` (relative XDG values are ignored, as the spec says). */
export function defaultCacheDir(env: Env, home: string): string {
  const xdg = env.XDG_CACHE_HOME
  return path.join(xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(home, '.cache'), 'vger')
}
