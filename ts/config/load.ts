/** Find, read, expand, parse, validate and resolve the config. */
import { readFileSync } from 'node:fs'
import { type Document, LineCounter, parseDocument } from 'yaml'
import { loadEnvFiles } from './env-file.js'
import { type Env, interpolateDocument } from './interpolate.js'
import { type Locations, defaultLocations, findConfigFile } from './paths.js'
import { type ConfigProblem, ConfigError } from './problems.js'
import { defaultConfig, resolveConfig } from './resolve.js'
import { type RawConfig, configShape } from './schema.js'
import type { VgerConfig } from './types.js'
import { validate } from './validate.js'

export interface LoadConfigOptions extends Partial<Locations> {
  /** The `--config` flag. */
  configFile?: string
}

/** Loads the config from the first file in the search order, or the embedded default if there is none. */
export function loadConfig(opts: LoadConfigOptions = {}): VgerConfig {
  const loc: Locations = { ...defaultLocations(opts.env), ...withoutUndefined(opts) }
  const found = findConfigFile(opts.configFile, loc)
  if (found === null) return defaultConfig(loc.env, loc.home)
  let text: string
  try {
    text = readFileSync(found.file, 'utf8')
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e)
    throw new ConfigError(`cannot read config file ${found.file}: ${reason}`, { cause: e })
  }
  return parseConfig(text, found.file, loc)
}

/** Parses config text as if read from `file` (relative paths resolve against its directory). */
export function parseConfig(text: string, file: string, loc: Pick<Locations, 'env' | 'home'>): VgerConfig {
  const envFiles = loadEnvFiles(text, file, loc.env, loc.home)
  const { doc, lines } = parseYaml(text, file)
  interpolateDocument(doc, lines, envFiles.env, file)
  const { value, problems, positions, expanded } = validate(doc, lines, file, configShape)
  if (problems.length > 0) throw new ConfigError(problems)
  return resolveConfig(value as RawConfig, { file, home: loc.home, env: envFiles.env, positions, expanded, envFiles: envFiles.files })
}

/** Parses YAML text read from `file`; every syntax error is a located problem of one ConfigError. */
export function parseYaml(text: string, file: string): { doc: Document; lines: LineCounter } {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true })
  const syntax = [...doc.errors, ...doc.warnings].map((e): ConfigProblem => {
    const at = e.linePos?.[0] ?? lines.linePos(e.pos[0])
    // The yaml message repeats the position and adds a code frame; keep the first sentence only.
    const message = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '')
    return { file, line: at.line, col: at.col, message: `invalid YAML: ${message}` }
  })
  if (syntax.length > 0) throw new ConfigError(syntax)
  return { doc, lines }
}

function withoutUndefined(opts: LoadConfigOptions): Partial<Locations> {
  return Object.fromEntries(Object.entries(opts).filter(([k, v]) => v !== undefined && k !== 'configFile'))
}

export type { Env }
