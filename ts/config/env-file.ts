/**
 * `env_file:`: KEY=VALUE files loaded before `${VAR}` expansion, so the rest of the config can use them.
 *
 * The key is read from the unexpanded text (it cannot itself use `${VAR}`). Paths are relative to the
 * config file; `~` is the home directory. Lines: `KEY=VALUE`, optionally prefixed with `export `; matching
 * single or double quotes around the value are stripped; blank lines and lines starting with `#` are
 * ignored. A variable already set in the environment wins over the file (as with dotenv), so a caller can
 * still override it.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { type LineCounter, type Node, isMap, isScalar, isSeq, parseDocument, LineCounter as Lines } from 'yaml'
import type { Env } from './interpolate.js'
import { expandHome } from './paths.js'
import { type ConfigProblem, ConfigError } from './problems.js'

const LINE = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/

/** Reads KEY=VALUE lines; problems name the env file and line. */
export function parseEnvFile(text: string, file: string): { vars: Record<string, string>; problems: ConfigProblem[] } {
  const vars: Record<string, string> = {}
  const problems: ConfigProblem[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const m = LINE.exec(line)
    if (m?.[1] === undefined) {
      problems.push({ file, line: i + 1, col: 1, message: 'expected KEY=VALUE (optionally "export KEY=VALUE")' })
      return
    }
    let value = (m[2] ?? '').trim()
    const q = value[0]
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) value = value.slice(1, -1)
    vars[m[1]] = value
  })
  return { vars, problems }
}

/** The env files named in `text` (unexpanded), with the position of each name. */
function envFileEntries(text: string): { name: string; line: number; col: number }[] {
  const lines: LineCounter = new Lines()
  const doc = parseDocument(text, { lineCounter: lines })
  if (doc.errors.length > 0 || !isMap(doc.contents)) return []
  const pair = doc.contents.items.find((p) => isScalar(p.key) && p.key.value === 'env_file')
  const value = pair?.value as Node | null | undefined
  const nodes = isSeq(value) ? (value.items as Node[]) : value === null || value === undefined ? [] : [value]
  return nodes.flatMap((n) => {
    if (!isScalar(n) || typeof n.value !== 'string') return [] // the validator reports the type
    const at = lines.linePos(n.range?.[0] ?? 0)
    return [{ name: n.value, line: at.line, col: at.col }]
  })
}

/** The environment for expansion: `env` plus the variables of every env file named in the config. */
export function loadEnvFiles(text: string, configFile: string, env: Env, home: string): { env: Env; files: string[] } {
  const entries = envFileEntries(text)
  if (entries.length === 0) return { env, files: [] }
  const merged: Record<string, string | undefined> = {}
  const problems: ConfigProblem[] = []
  const files: string[] = []
  for (const e of entries) {
    const file = path.resolve(path.dirname(configFile), expandHome(e.name, home))
    let content: string
    try {
      content = readFileSync(file, 'utf8')
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`
      problems.push({ file: configFile, line: e.line, col: e.col, message: `env_file ${file} ${reason}` })
      continue
    }
    const parsed = parseEnvFile(content, file)
    problems.push(...parsed.problems)
    Object.assign(merged, parsed.vars)
    files.push(file)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  for (const [k, v] of Object.entries(env)) if (v !== undefined) merged[k] = v
  return { env: merged, files }
}
