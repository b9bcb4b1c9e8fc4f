/**
 * A small JSON Schema (draft-07) checker, enough for schema/vger.schema.json. A keyword it does not know
 * throws, so the generator cannot emit a constraint that the tests would silently skip.
 */

type Schema = boolean | { readonly [keyword: string]: unknown }

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default'])
const ASSERTIONS = ['type', 'enum', 'pattern', 'minimum', 'maximum', 'items', 'minItems', 'properties', 'additionalProperties']
const COMBINATIONS = ['required', 'dependencies', 'anyOf', 'oneOf', 'allOf', 'not']
/** The keywords `checkJsonSchema` understands. */
export const KEYWORDS: ReadonlySet<string> = new Set([...ANNOTATIONS, ...ASSERTIONS, ...COMBINATIONS])

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

function hasType(value: unknown, type: string): boolean {
  const actual = typeOf(value)
  return actual === type || (type === 'number' && actual === 'integer')
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeOf(value) === 'object'
}

/** Every violation, as "/json/pointer: what is wrong"; empty when `value` is valid. */
export function checkJsonSchema(schema: Schema, value: unknown, at = ''): string[] {
  const where = at === '' ? '/' : at
  if (typeof schema === 'boolean') return schema ? [] : [`${where}: no value is allowed here`]
  const errors: string[] = []
  const fail = (message: string): void => void errors.push(`${where}: ${message}`)
  const sub = (s: unknown, v: unknown, path = at): string[] => checkJsonSchema(s as Schema, v, path)
  for (const [keyword, arg] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword)) continue
    switch (keyword) {
      case 'type': {
        const types = Array.isArray(arg) ? (arg as string[]) : [arg as string]
        if (!types.some((t) => hasType(value, t))) fail(`expected ${types.join(' or ')}, got ${typeOf(value)}`)
        break
      }
      case 'enum':
        if (!(arg as unknown[]).some((v) => JSON.stringify(v) === JSON.stringify(value))) fail(`not one of ${JSON.stringify(arg)}`)
        break
      case 'pattern':
        if (typeof value === 'string' && !new RegExp(arg as string, 'u').test(value)) fail(`"${value}" does not match ${String(arg)}`)
        break
      case 'minimum':
        if (typeof value === 'number' && value < (arg as number)) fail(`${value} is below ${String(arg)}`)
        break
      case 'maximum':
        if (typeof value === 'number' && value > (arg as number)) fail(`${value} is above ${String(arg)}`)
        break
      case 'items':
        if (Array.isArray(value)) value.forEach((item, i) => errors.push(...sub(arg, item, `${at}/${i}`)))
        break
      case 'minItems':
        if (Array.isArray(value) && value.length < (arg as number)) fail(`fewer than ${String(arg)} items`)
        break
      case 'properties':
        if (!isObject(value)) break
        for (const [key, s] of Object.entries(arg as Record<string, unknown>)) {
          if (key in value) errors.push(...sub(s, value[key], `${at}/${key}`))
        }
        break
      case 'additionalProperties': {
        if (!isObject(value)) break
        const known = Object.keys((schema.properties ?? {}) as Record<string, unknown>)
        for (const key of Object.keys(value).filter((k) => !known.includes(k))) {
          errors.push(...(arg === false ? [`${at}/${key}: unknown property`] : sub(arg, value[key], `${at}/${key}`)))
        }
        break
      }
      case 'required':
        if (isObject(value)) for (const key of arg as string[]) if (!(key in value)) fail(`missing "${key}"`)
        break
      case 'dependencies':
        if (!isObject(value)) break
        for (const [key, needs] of Object.entries(arg as Record<string, unknown>)) {
          if (!(key in value)) continue
          if (!Array.isArray(needs)) errors.push(...sub(needs, value))
          else for (const k of needs as string[]) if (!(k in value)) fail(`"${key}" needs "${k}"`)
        }
        break
      case 'anyOf':
        if (!(arg as unknown[]).some((s) => sub(s, value).length === 0)) fail('matches none of anyOf')
        break
      case 'oneOf':
        if ((arg as unknown[]).filter((s) => sub(s, value).length === 0).length !== 1) fail('does not match exactly one of oneOf')
        break
      case 'allOf':
        for (const s of arg as unknown[]) errors.push(...sub(s, value))
        break
      case 'not':
        if (sub(arg, value).length === 0) fail(`matches a forbidden schema ${JSON.stringify(arg)}`)
        break
      default:
        throw new Error(`checkJsonSchema: unsupported keyword "${keyword}" at ${where}`)
    }
  }
  return errors
}

/** Every keyword used anywhere in `schema` (to show the checker covers them all). */
export function keywordsOf(schema: Schema): Set<string> {
  const out = new Set<string>()
  const visit = (s: unknown): void => {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return
    for (const [keyword, arg] of Object.entries(s)) {
      out.add(keyword)
      if (keyword === 'properties' || keyword === 'dependencies') Object.values(arg as object).forEach(visit)
      else if (keyword === 'items' || keyword === 'not' || keyword === 'additionalProperties') visit(arg)
      else if (keyword === 'anyOf' || keyword === 'oneOf' || keyword === 'allOf') (arg as unknown[]).forEach(visit)
    }
  }
  visit(schema)
  return out
}
