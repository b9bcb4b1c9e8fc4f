/** `sources:` → `SourceConfig[]`: plain paths grouped into one source, rich entries resolved, labels checked. */
import path from 'node:path'
import { type SourceDefaults, makeSource } from './defaults.js'
import { expandHome } from './paths.js'
import { hooksOf, retentionOf } from './resolve-sections.js'
import type { RawRichSource, RawSource } from './schema.js'
import type { SourceConfig } from './types.js'
import { didYouMean } from './problems.js'

/** The label of an ad-hoc or unlabelled source: the directory name for one path, else "default". */
export function labelForPaths(paths: readonly string[]): string {
  const only = paths.length === 1 ? paths[0] : undefined
  return only === undefined ? 'default' : path.basename(path.resolve(only)) || 'default'
}

type Report = (key: string, message: string) => void

export function resolveSources(
  raw: RawSource[],
  defaults: SourceDefaults,
  baseDir: string,
  home: string,
  repoLabels: readonly string[],
  problem: Report,
): SourceConfig[] {
  const abs = (p: string): string => path.resolve(baseDir, expandHome(p, home))
  const sources: { source: SourceConfig; index: number }[] = []
  // All plain-string entries form ONE source, placed where the first of them appears.
  const simple = raw.flatMap((s, index) => (typeof s === 'string' ? [{ path: abs(s), index }] : []))
  raw.forEach((s, index) => {
    if (typeof s === 'string') {
      if (index !== simple[0]?.index) return
      const paths = simple.map((x) => x.path)
      sources.push({ index, source: makeSource(labelForPaths(paths), paths, defaults) })
      return
    }
    sources.push({ index, source: richSource(s, index, defaults, abs, repoLabels, problem) })
  })

  const seen = new Map<string, number>()
  for (const { source, index } of sources) {
    const first = seen.get(source.label)
    if (first === undefined) {
      seen.set(source.label, index)
      continue
    }
    problem(`sources[${index}]`, `sources[${index}] and sources[${first}] are both labelled "${source.label}"; give them distinct "label"s`)
  }
  return sources.map((s) => s.source)
}

function richSource(
  s: RawRichSource,
  index: number,
  defaults: SourceDefaults,
  abs: (p: string) => string,
  repoLabels: readonly string[],
  problem: Report,
): SourceConfig {
  const key = `sources[${index}]`
  const paths = (s.paths ?? (s.path === undefined ? [] : [s.path])).map(abs)
  const dumps = s.command_dumps ?? []
  if (paths.length === 0 && dumps.length === 0) {
    problem(key, `missing required key "path" or "paths" in ${key} (or "command_dumps" with a "label")`)
  } else if (paths.length === 0 && s.label === undefined) {
    problem(key, `${key} has only command dumps: give it a "label"`)
  }
  dumps.forEach((d, j) => {
    if (/[/\\]/.test(d.name) || d.name === '.' || d.name === '..') {
      problem(`${key}.command_dumps[${j}].name`, `${key}.command_dumps[${j}].name "${d.name}" must be a plain file name (no "/" or "\\")`)
    }
  })
  ;(s.repos ?? []).forEach((label, j) => {
    if (repoLabels.includes(label)) return
    const guess = didYouMean(label, repoLabels)
    const hint = guess === undefined ? `; labelled repositories: ${repoLabels.join(', ') || 'none'}` : ` (did you mean "${guess}"?)`
    problem(`${key}.repos[${j}]`, `${key}.repos names "${label}", which is not a repository label${hint}`)
  })
  const source = makeSource(s.label ?? labelForPaths(paths), paths, defaults)
  source.exclude.push(...(s.exclude ?? []))
  if (s.exclude_if_present !== undefined) source.excludeIfPresent = [...s.exclude_if_present]
  if (s.one_file_system !== undefined) source.oneFileSystem = s.one_file_system
  if (s.git_ignore !== undefined) source.gitIgnore = s.git_ignore
  if (s.xattrs?.enabled !== undefined) source.xattrs = s.xattrs.enabled
  if (s.repos !== undefined) source.repos = [...s.repos]
  if (s.retention !== undefined) source.retention = retentionOf(s.retention)
  source.hooks = hooksOf(s.hooks)
  source.commandDumps = dumps.map((d) => ({ name: d.name, command: d.command }))
  return source
}
