/**
 * Keys vger accepts (so a config written for the coming features loads today) but does not act on yet.
 * Every command that reads the config warns about each one the file sets, naming where, so nobody
 * believes a setting is in force when it is not. docs/config.md marks the same keys
 * "not applied yet" (test/unit/docs.test.ts keeps the two lists equal).
 */
import type { Position } from './problems.js'
import type { RawConfig } from './schema.js'

/**
 * The inert keys, by where they may appear: none today. (vykar's keys vger cannot honour, such as its pack
 * sizes and soft deletes, are not inert but refused: schema.ts declares them `refused`, with the reason.)
 */
export const INERT_KEYS = {
  top: [],
  repository: [],
  source: [],
} as const

export interface InertKey {
  /** The key's path, e.g. `repositories[1].schedule`. */
  path: string
  at: Position
}

/** The inert keys `raw` sets, in file order. */
export function inertKeys(raw: RawConfig, positions: ReadonlyMap<string, Position>): InertKey[] {
  const out: InertKey[] = []
  const add = (obj: object, keys: readonly string[], prefix: string): void => {
    for (const key of keys) {
      if (!(key in obj)) continue
      const path = prefix + key
      out.push({ path, at: positions.get(path) ?? { line: 1, col: 1 } })
    }
  }
  add(raw, INERT_KEYS.top, '')
  raw.repositories.forEach((r, i) => add(r, INERT_KEYS.repository, `repositories[${i}].`))
  ;(raw.sources ?? []).forEach((s, i) => {
    if (typeof s === 'object') add(s, INERT_KEYS.source, `sources[${i}].`)
  })
  return out.sort((a, b) => a.at.line - b.at.line || a.at.col - b.at.col)
}

export function inertWarning(file: string, key: InertKey): string {
  return `${file}:${key.at.line}:${key.at.col}: "${key.path}" is accepted but not applied by this version yet; it has no effect`
}
