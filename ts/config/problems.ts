/** Config errors that point at a file, line and column. */
import { VgerError } from '../errors.js'

export interface Position {
  line: number
  col: number
}

export interface ConfigProblem extends Position {
  file: string
  message: string
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`
}

/** A `VgerError` with code `VGER_CONFIG`; `problems` lists every located error found in one pass. */
export class ConfigError extends VgerError {
  readonly problems: readonly ConfigProblem[]

  constructor(problemsOrMessage: readonly ConfigProblem[] | string, options?: { cause?: unknown }) {
    const problems = typeof problemsOrMessage === 'string' ? [] : problemsOrMessage
    const message = typeof problemsOrMessage === 'string' ? problemsOrMessage : problemsOrMessage.map(formatProblem).join('\n')
    super('VGER_CONFIG', message, options)
    this.problems = problems
  }
}

/** Edit distance with adjacent transpositions (optimal string alignment), for "did you mean" hints. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  )
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] ?? []
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1)
      row[j] = best
    }
  }
  return at(a.length, b.length)
}

/** The closest candidate if it is plausibly a typo (or an abbreviation) of `word`. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const normal = word.toLowerCase().replaceAll('-', '_')
  if (normal.length >= 2) {
    const prefixed = candidates.find((c) => c.startsWith(normal))
    if (prefixed !== undefined) return prefixed
  }
  let best: { name: string; d: number } | undefined
  for (const name of candidates) {
    const d = distance(normal, name)
    if (best === undefined || d < best.d) best = { name, d }
  }
  if (best === undefined) return undefined
  const limit = best.name.length <= 4 ? 1 : 2
  return best.d <= limit ? best.name : undefined
}
