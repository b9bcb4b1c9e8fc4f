/**
 * `${VAR}` and `${VAR:-default}` expansion on the raw config text, before YAML parsing (comments too).
 *
 * `${VAR}` must be set (it may be empty); `${VAR:-default}` uses the default when VAR is unset or empty.
 * Names match `[A-Za-z_][A-Za-z0-9_]*`. A malformed placeholder is an error; there is no escape syntax.
 */
import { ConfigError, type ConfigProblem } from './problems.js'

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export type Env = Readonly<Record<string, string | undefined>>

export function interpolateEnv(text: string, env: Env, file: string): string {
  const problems: ConfigProblem[] = []
  const lines = text.split('\n')
  const out = lines.map((line, i) => expandLine(line, env, (col, message) => problems.push({ file, line: i + 1, col, message })))
  if (problems.length > 0) throw new ConfigError(problems)
  return out.join('\n')
}

function expandLine(line: string, env: Env, report: (col: number, message: string) => void): string {
  let out = ''
  let from = 0
  for (;;) {
    const start = line.indexOf('${', from)
    if (start < 0) return out + line.slice(from)
    out += line.slice(from, start)
    const col = start + 1
    const end = line.indexOf('}', start + 2)
    if (end < 0) {
      report(col, 'unterminated "${": write ${NAME} or ${NAME:-default}')
      return out + line.slice(start)
    }
    const body = line.slice(start + 2, end)
    const sep = body.indexOf(':-')
    const name = sep < 0 ? body : body.slice(0, sep)
    from = end + 1
    if (!NAME.test(name)) {
      report(col, `invalid environment variable name "${name}" in "\${${body}}"`)
      continue
    }
    const value = env[name]
    if (sep >= 0) {
      out += value === undefined || value === '' ? body.slice(sep + 2) : value
    } else if (value === undefined) {
      report(col, `environment variable "${name}" is not set (export it, or write \${${name}:-default})`)
    } else {
      out += value
    }
  }
}
