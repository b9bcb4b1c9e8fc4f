/**
 * From validated raw config to `VgerConfig`: defaults, absolute paths, normalised sources.
 *
 * Relative paths in a config file are relative to the file's directory (so cron and systemd see the same
 * paths as an interactive shell); `~` is the home directory.
 */
import path from 'node:path'
import type { Env } from './interpolate.js'
import { defaultRepositoryPath, expandHome } from './paths.js'
import { type ConfigProblem, ConfigError, type Position } from './problems.js'
import type { RawConfig, RawSource } from './schema.js'
import type { CompressionConfig, EncryptionConfig, RepositoryConfig, SourceConfig, VgerConfig } from './types.js'

export const DEFAULT_ENCRYPTION: EncryptionConfig = { mode: 'auto' }
export const DEFAULT_COMPRESSION: CompressionConfig = { algorithm: 'lz4', zstdLevel: 3 }
export const DEFAULT_REPOSITORY_LABEL = 'default'

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//

export interface ResolveContext {
  file: string
  home: string
  positions: ReadonlyMap<string, Position>
}

/** The label of an ad-hoc or unlabelled source: the directory name for one path, else "default". */
export function labelForPaths(paths: readonly string[]): string {
  const only = paths.length === 1 ? paths[0] : undefined
  return only === undefined ? 'default' : path.basename(path.resolve(only)) || 'default'
}

/** A repository URL as given, or a local path made absolute. */
export function resolveRepositoryUrl(url: string, baseDir: string, home: string): string {
  return SCHEME.test(url) ? url : path.resolve(baseDir, expandHome(url, home))
}

export function resolveConfig(raw: RawConfig, ctx: ResolveContext): VgerConfig {
  const baseDir = path.dirname(ctx.file)
  const encryption: EncryptionConfig = { ...DEFAULT_ENCRYPTION, ...raw.encryption }
  const compression: CompressionConfig = {
    algorithm: raw.compression?.algorithm ?? DEFAULT_COMPRESSION.algorithm,
    zstdLevel: raw.compression?.zstd_level ?? DEFAULT_COMPRESSION.zstdLevel,
  }
  const excludePatterns = raw.exclude_patterns ?? []
  const repositories = raw.repositories.map((r): RepositoryConfig => {
    const url = resolveRepositoryUrl(r.url, baseDir, ctx.home)
    return { url, label: r.label, name: r.label ?? url, encryption, compression }
  })
  const sources = resolveSources(raw.sources ?? [], excludePatterns, baseDir, ctx)
  return { file: ctx.file, repositories, sources, excludePatterns, encryption, compression, hostname: raw.hostname }
}

function resolveSources(raw: RawSource[], globalExclude: string[], baseDir: string, ctx: ResolveContext): SourceConfig[] {
  const abs = (p: string): string => path.resolve(baseDir, expandHome(p, ctx.home))
  const sources: { source: SourceConfig; index: number }[] = []
  // All plain-string entries form ONE source, placed where the first of them appears.
  const simple = raw.flatMap((s, index) => (typeof s === 'string' ? [{ path: abs(s), index }] : []))
  raw.forEach((s, index) => {
    if (typeof s === 'string') {
      if (index !== simple[0]?.index) return
      const paths = simple.map((x) => x.path)
      sources.push({ index, source: { label: labelForPaths(paths), paths, exclude: [...globalExclude] } })
      return
    }
    const paths = (s.paths ?? (s.path === undefined ? [] : [s.path])).map(abs)
    const label = s.label ?? labelForPaths(paths)
    sources.push({ index, source: { label, paths, exclude: [...globalExclude, ...(s.exclude ?? [])] } })
  })

  const problems: ConfigProblem[] = []
  const seen = new Map<string, number>()
  for (const { source, index } of sources) {
    const first = seen.get(source.label)
    if (first === undefined) {
      seen.set(source.label, index)
      continue
    }
    const at = ctx.positions.get(`sources[${index}]`) ?? { line: 1, col: 1 }
    problems.push({
      file: ctx.file,
      ...at,
      message: `sources[${index}] and sources[${first}] are both labelled "${source.label}"; give them distinct "label"s`,
    })
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return sources.map((s) => s.source)
}

/** The config used when no file exists: one local repository, encryption auto, no sources. */
export function defaultConfig(env: Env, home: string): VgerConfig {
  const url = defaultRepositoryPath({ env, home })
  const encryption = { ...DEFAULT_ENCRYPTION }
  const compression = { ...DEFAULT_COMPRESSION }
  return {
    file: null,
    repositories: [{ url, label: DEFAULT_REPOSITORY_LABEL, name: DEFAULT_REPOSITORY_LABEL, encryption, compression }],
    sources: [],
    excludePatterns: [],
    encryption,
    compression,
  }
}
