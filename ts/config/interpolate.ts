/**
 * `${VAR}` and `${VAR:-default}` expansion inside the parsed config's scalar values.
 *
 * Expansion happens after YAML parsing, inside each string value (keys and comments are left alone), so
 * a value's characters are never read as YAML: `passphrase: ${PW}` with `PW='correct horse #battery'`
 * gives the whole passphrase, where expanding the raw text would have cut it at ` #`.
 *
 * `${VAR}` must be set (it may be empty); `${VAR:-default}` uses the default when VAR is unset or empty.
 * Names match `[A-Za-z_][A-Za-z0-9_]*`. A malformed placeholder is an error; there is no escape syntax.
 * An expanded value stays a string; an integer or boolean key accepts an expanded string that spells
 * one (`zstd_level: ${LEVEL}`), see {@link expandedScalar}.
 */
import { type Document, type LineCounter, type Scalar, visit } from 'yaml'
import { ConfigError, type ConfigProblem } from './problems.js'

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export type Env = Readonly<Record<string, string | undefined>>

/** The scalars whose value came out of an expansion (validate.ts accepts "8" for an integer there). */
const expanded = new WeakSet<object>()

export function expandedScalar(node: unknown): boolean {
  return typeof node === 'object' && node !== null && expanded.has(node)
}

/** Expands every string value of `doc` in place; throws one ConfigError listing every bad placeholder. */
export function interpolateDocument(doc: Document, lines: LineCounter, env: Env, file: string): void {
  const problems: ConfigProblem[] = []
  visit(doc, {
    // Keys are names, not values: only map values and list items are expanded.
    Scalar: (key, node) => {
      if (key !== 'key') expandScalar(node, env, lines, file, problems)
    },
  })
  if (problems.length > 0) throw new ConfigError(problems)
}

function expandScalar(node: Scalar, env: Env, lines: LineCounter, file: string, problems: ConfigProblem[]): void {
  if (typeof node.value !== 'string' || !node.value.includes('${') || expanded.has(node)) return
  const start = node.range?.[0] ?? 0
  // Plain and quoted scalars keep their columns in the source as long as they are on one line and hold
  // no escapes, which covers every placeholder in practice; otherwise the scalar's start is reported.
  const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE'
  const offsetOf = (i: number): number => (node.type === 'PLAIN' ? start + i : quoted ? start + 1 + i : start)
  node.value = expandString(node.value, env, (i, message) => {
    const at = lines.linePos(offsetOf(i))
    problems.push({ file, line: at.line, col: at.col, message })
  })
  expanded.add(node)
}

/** Expands the placeholders of one string; `report` gets the index of a bad placeholder in `text`. */
export function expandString(text: string, env: Env, report: (index: number, message: string) => void): string {
  let out = ''
  let from = 0
  for (;;) {
    const start = text.indexOf('${', from)
    if (start < 0) return out + text.slice(from)
    out += text.slice(from, start)
    const end = text.indexOf('}', start + 2)
    if (end < 0) {
      report(start, 'unterminated "${": write ${NAME} or ${NAME:-default}')
      return out + text.slice(start)
    }
    const body = text.slice(start + 2, end)
    const sep = body.indexOf(':-')
    const name = sep < 0 ? body : body.slice(0, sep)
    from = end + 1
    if (!NAME.test(name)) {
      report(start, `invalid environment variable name "${name}" in "\${${body}}"`)
      continue
    }
    const value = env[name]
    if (sep >= 0) {
      out += value === undefined || value === '' ? body.slice(sep + 2) : value
    } else if (value === undefined) {
      report(start, `environment variable "${name}" is not set (export it, or write \${${name}:-default})`)
    } else {
      out += value
    }
  }
}
