/**
 * A small table-driven validator over the YAML syntax tree.
 *
 * It walks `yaml` nodes (not plain values) so that every problem carries the line and column of the
 * offending key or value. Shapes are plain data (shape.ts, declared in schema.ts); the walker collects
 * every problem in one pass and returns the plain JS value plus the position of every path it visited.
 */
import { type Document, type LineCounter, type Node, isAlias, isMap, isScalar, isSeq } from 'yaml'
import { expandedScalar } from './interpolate.js'
import { type ConfigProblem, type Position, didYouMean } from './problems.js'
import {
  type IntegerShape,
  type ListShape,
  type ObjectShape,
  type RecordShape,
  type Shape,
  type StringShape,
  type ValueShape,
  resolveSection,
} from './shape.js'

export interface Validated {
  value: unknown
  problems: ConfigProblem[]
  /** Position of every visited path, e.g. `sources[1].label`; '' is the document. */
  positions: Map<string, Position>
  /** The paths whose value came out of a `${VAR}` expansion. */
  expanded: Set<string>
}

interface Walk {
  file: string
  doc: Document
  lines: LineCounter
  problems: ConfigProblem[]
  positions: Map<string, Position>
  expanded: Set<string>
}

export function validate(doc: Document, lines: LineCounter, file: string, shape: ObjectShape): Validated {
  const walk: Walk = { file, doc, lines, problems: [], positions: new Map(), expanded: new Set() }
  const root = doc.contents as Node | null
  const start = { line: 1, col: 1 }
  walk.positions.set('', start)
  // An empty document is an empty mapping, so the "missing key" messages explain what is needed.
  const value = root === null ? checkObject(walk, null, shape, '', start) : check(walk, root, shape, '', start)
  return { value, problems: walk.problems, positions: walk.positions, expanded: walk.expanded }
}

function positionOf(walk: Walk, node: Node | null | undefined, fallback: Position): Position {
  const offset = node?.range?.[0]
  return offset === undefined ? fallback : walk.lines.linePos(offset)
}

function report(walk: Walk, at: Position, message: string): void {
  walk.problems.push({ file: walk.file, line: at.line, col: at.col, message })
}

function label(path: string): string {
  return path === '' ? 'the config' : path
}

/** What was found, for a message; with `hide` (a secret) its type only, never its value. */
function describe(node: Node, hide = false): string {
  if (isMap(node)) return 'a mapping'
  if (isSeq(node)) return 'a list'
  if (isScalar(node)) {
    const v = node.value
    if (v === null) return 'nothing'
    if (hide) return typeof v === 'string' ? 'a string' : `a ${typeof v}`
    if (typeof v === 'string') return `"${v}"`
    return `a ${typeof v} (${String(v)})`
  }
  return 'something else'
}

function check(walk: Walk, raw: Node, shape: Shape, path: string, fallback: Position): unknown {
  const node = isAlias(raw) ? ((raw.resolve(walk.doc) as Node | undefined) ?? raw) : raw
  const at = positionOf(walk, node, fallback)
  walk.positions.set(path, at)
  if (expandedScalar(node)) walk.expanded.add(path)
  switch (shape.kind) {
    case 'string':
      return checkString(walk, node, shape, path, at)
    case 'integer':
      return checkInteger(walk, node, shape, path, at)
    case 'boolean':
      if (typeof typed(node) === 'boolean') return typed(node) as boolean
      return void report(walk, at, `expected ${path} to be true or false, got ${describe(node)}`)
    case 'value':
      return checkValue(walk, node, shape, path, at)
    case 'strings':
      if (isSeq(node)) return checkList(walk, node, { kind: 'list', items: { kind: 'string' } }, path, at)
      return wrap(checkString(walk, node, { kind: 'string' }, path, at))
    case 'list':
      return checkList(walk, node, shape, path, at)
    case 'object':
      if (!isMap(node)) return void report(walk, at, `expected ${label(path)} to be a mapping, got ${describe(node)}`)
      return checkObject(walk, node, shape, path, at)
    case 'record':
      if (!isMap(node)) return void report(walk, at, `expected ${label(path)} to be a mapping, got ${describe(node)}`)
      return checkRecord(walk, node, shape, path, at)
    case 'either':
      if (isMap(node)) return checkObject(walk, node, shape.object, path, at)
      if (isScalar(node) && typeof node.value === 'string') return checkString(walk, node, shape.string, path, at)
      return void report(walk, at, `expected ${path} to be ${shape.expected}, got ${describe(node)}`)
    case 'refused':
      return void report(walk, at, `${path} is not supported: ${shape.reason}`)
  }
}

function checkString(walk: Walk, node: Node, shape: StringShape, path: string, at: Position): string | undefined {
  if (!isScalar(node) || typeof node.value !== 'string') {
    if (shape.oneOf !== undefined) {
      return void report(walk, at, `expected ${path} to be one of ${shape.oneOf.join(', ')}, got ${describe(node)}`)
    }
    const hide = shape.secret === true
    const written = isScalar(node) && node.value !== null
    const quote = !written ? '' : hide ? '; quote it (the value is not shown here)' : `; quote it: "${String(node.value)}"`
    return void report(walk, at, `expected ${path} to be a string, got ${describe(node, hide)}${quote}`)
  }
  const value = node.value
  if (shape.oneOf !== undefined && !shape.oneOf.includes(value)) {
    const guess = didYouMean(value, shape.oneOf)
    const hint = guess === undefined ? '' : ` (did you mean "${guess}"?)`
    return void report(walk, at, `expected ${path} to be one of ${shape.oneOf.join(', ')}, got "${value}"${hint}`)
  }
  if (value.trim() === '') return void report(walk, at, `expected ${path} to be a non-empty string`)
  return value
}

/**
 * A scalar's value as YAML would type it. An expanded `${VAR}` stays a string, so that a passphrase of
 * digits is still a string, but where a number or a boolean is expected its text counts as one.
 */
function typed(node: Node): unknown {
  if (!isScalar(node)) return undefined
  const v = node.value
  if (typeof v !== 'string' || !expandedScalar(node)) return v
  const t = v.trim()
  if (/^[-+]?[0-9]+$/.test(t)) return Number(t)
  if (/^(true|True|TRUE)$/.test(t)) return true
  if (/^(false|False|FALSE)$/.test(t)) return false
  return v
}

function checkInteger(walk: Walk, node: Node, shape: IntegerShape, path: string, at: Position): number | undefined {
  const value = typed(node)
  const { min, max } = shape
  const range = min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` of at least ${min}` : ''
  const inRange =
    typeof value === 'number' && Number.isInteger(value) && (min === undefined || value >= min) && (max === undefined || value <= max)
  if (!inRange) {
    return void report(walk, at, `expected ${path} to be an integer${range}, got ${describe(node)}`)
  }
  return value
}

function wrap(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : [value]
}

function checkValue(walk: Walk, node: Node, shape: ValueShape, path: string, at: Position): unknown {
  const parsed = shape.parse(typed(node))
  if ('value' in parsed) return parsed.value
  const message = parsed.error.startsWith('expected ')
    ? `expected ${path} to be ${parsed.error.slice('expected '.length)}`
    : `${path}: ${parsed.error}`
  // Say what was found when the parser could not (e.g. a list where a size belongs).
  const found = isScalar(node) || message.includes(', got ') ? '' : `, got ${describe(node)}`
  return void report(walk, at, message + found)
}

function checkList(walk: Walk, node: Node, shape: ListShape, path: string, at: Position): unknown[] | undefined {
  if (!isSeq(node)) return void report(walk, at, `expected ${path} to be a list, got ${describe(node)}`)
  if (shape.nonEmpty === true && node.items.length === 0) {
    return void report(walk, at, `expected ${path} to list at least one entry`)
  }
  const seen = new Map<string, Position>()
  return node.items.map((item, i) => {
    const itemPath = `${path}[${i}]`
    const value = check(walk, item as Node, shape.items, itemPath, at)
    const key = shape.uniqueKey
    if (key !== undefined && typeof value === 'object' && value !== null) {
      const v = (value as Record<string, unknown>)[key]
      const keyAt = walk.positions.get(`${itemPath}.${key}`)
      if (typeof v === 'string' && keyAt !== undefined) {
        const first = seen.get(v)
        if (first !== undefined) report(walk, keyAt, `duplicate ${key} "${v}" in ${path} (first used at line ${first.line})`)
        else seen.set(v, keyAt)
      }
    }
    return value
  })
}

function checkObject(walk: Walk, node: Node | null, shape: ObjectShape, path: string, at: Position): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const given = new Set<string>()
  const known = Object.keys(shape.fields)
  const problemsBefore = walk.problems.length
  for (const pair of isMap(node) ? node.items : []) {
    const keyNode = pair.key as Node | null
    const keyAt = positionOf(walk, keyNode, at)
    const key = isScalar(keyNode) ? keyNode.value : undefined
    if (typeof key !== 'string') {
      report(walk, keyAt, `expected a key name in ${label(path)}, got ${keyNode === null ? 'nothing' : describe(keyNode)}`)
      continue
    }
    const fieldShape = shape.fields[key]
    const keyPath = path === '' ? key : `${path}.${key}`
    if (fieldShape === undefined) {
      const guess = didYouMean(key, known)
      const validKeys = `; valid keys${path === '' ? '' : ` in ${path}`}: ${known.join(', ')}`
      const hint = guess !== undefined ? ` (did you mean "${guess}"?)` : validKeys
      report(walk, keyAt, `unknown key "${key}"${hint}`)
      continue
    }
    const valueNode = pair.value as Node | null
    // `key:` with nothing after it means "not set", as in most YAML tools.
    if (valueNode === null || (isScalar(valueNode) && valueNode.value === null)) continue
    given.add(key)
    const value = check(walk, valueNode, fieldShape, keyPath, keyAt)
    if (value !== undefined) out[key] = value
    // Keys point at their key, which is what a reader looks for in "missing"/"duplicate" messages.
    if (!walk.positions.has(keyPath)) walk.positions.set(keyPath, keyAt)
  }
  checkRules(walk, shape, given, path, at)
  // The rule on the whole mapping needs valid values; it runs in this pass, so its problems come with all others.
  if (shape.check !== undefined && walk.problems.length === problemsBefore) {
    for (const message of shape.check(resolveSection<ObjectShape<{}>>(shape, out))) report(walk, at, message)
  }
  return out
}

function checkRecord(walk: Walk, node: Node, shape: RecordShape, path: string, at: Position): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const pairs = isMap(node) ? node.items : []
  if (shape.nonEmpty === true && pairs.length === 0) report(walk, at, `expected ${path} to have at least one entry`)
  for (const pair of pairs) {
    const keyNode = pair.key as Node | null
    const keyAt = positionOf(walk, keyNode, at)
    const key = isScalar(keyNode) ? keyNode.value : undefined
    if (typeof key !== 'string' || !shape.key.pattern.test(key)) {
      const found = keyNode === null ? 'nothing' : describe(keyNode)
      report(walk, keyAt, `expected each key of ${path} to be ${shape.key.expected}, got ${found}`)
      continue
    }
    const keyPath = `${path}.${key}`
    const valueNode = pair.value as Node | null
    if (valueNode === null || (isScalar(valueNode) && valueNode.value === null)) {
      report(walk, keyAt, `${keyPath} has no value`)
      continue
    }
    const value = check(walk, valueNode, shape.values, keyPath, keyAt)
    if (value !== undefined) out[key] = value
    walk.positions.set(keyPath, keyAt)
  }
  return out
}

/** Cross-key rules; `given` holds the keys written with a value (valid or not, to avoid double reports). */
function checkRules(walk: Walk, shape: ObjectShape, given: Set<string>, path: string, at: Position): void {
  const where = path === '' ? '' : ` in ${path}`
  const present = (key: string): boolean => given.has(key)
  for (const key of shape.required ?? []) {
    const hint = shape.hint === undefined ? '' : ` (${shape.hint})`
    if (!present(key)) report(walk, at, `missing required key "${key}"${where}${hint}`)
  }
  for (const r of shape.rules ?? []) {
    if (r.rule === 'exclusive' && present(r.keys[0]) && present(r.keys[1])) {
      report(walk, at, `use either "${r.keys[0]}" or "${r.keys[1]}"${where}, not both`)
    } else if (r.rule === 'oneRequired' && !r.keys.some(present)) {
      report(walk, at, `missing required key ${r.keys.map((k) => `"${k}"`).join(' or ')}${where}`)
    } else if (r.rule === 'requires' && present(r.key) && !present(r.needs)) {
      report(walk, at, `"${r.key}" needs a "${r.needs}"${where}`)
    }
  }
}
