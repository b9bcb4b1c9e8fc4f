/**
 * The vocabulary the config schema is declared in (schema.ts).
 *
 * Each constructor returns a plain-data shape, read three ways: the validator walks it over the YAML
 * syntax tree (validate.ts), the generator translates it into JSON Schema for editors (json-schema.ts),
 * and the type checker reads it: `Infer<typeof shape>` is the value a shape accepts, `Resolved<typeof
 * section>` is a section as the resolved config holds it (keys in camelCase, declared defaults applied).
 * So a key is declared once, here, with its type, its limits and its default.
 */
import type { Parsed } from './units.js'

export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json }
/** A JSON Schema (draft-07) fragment. */
export type JsonSchema = { readonly [key: string]: Json }

export type Shape =
  StringShape | IntegerShape | BooleanShape | ValueShape | StringsShape | ListShape | ObjectShape | EitherShape | RecordShape | RefusedShape

/** A non-empty string, or one of a closed set of words. */
export interface StringShape<T extends string = string> {
  kind: 'string'
  /** Allowed values (an enum). */
  oneOf?: readonly T[]
  default?: T
  /** A passphrase or credential: no message ever shows the value, whatever its type. */
  secret?: boolean
}

export interface IntegerShape {
  kind: 'integer'
  min?: number
  max?: number
  default?: number
}

export interface BooleanShape {
  kind: 'boolean'
  default?: boolean
}

/** A scalar (string or number) turned into a typed value by `parse`, e.g. "2MiB" → 2097152. */
export interface ValueShape<T = unknown> {
  kind: 'value'
  /** Errors start with "expected …" (rephrased as "expected PATH to be …") or are a sentence of their own. */
  parse: (value: unknown) => Parsed<T>
  /** What `parse` accepts, for editors. */
  json: JsonSchema
  /** As a user writes it ("24h"); parsed when the config is resolved. */
  default?: string | number
}

/** A string or a list of strings, always returned as a list (hooks, env_file). */
export interface StringsShape {
  kind: 'strings'
}

export interface ListShape<I extends Shape = Shape> {
  kind: 'list'
  items: I
  nonEmpty?: boolean
  /** Items (mappings) whose value for this key must be unique. */
  uniqueKey?: string
  default?: readonly []
}

export type Fields = Readonly<Record<string, Shape>>

export type ObjectRule<K extends string = string> =
  { rule: 'exclusive'; keys: readonly [K, K] } | { rule: 'oneRequired'; keys: readonly K[] } | { rule: 'requires'; key: K; needs: K }

/** A mapping with known keys (any other key is an error); `R` are the required ones. */
export interface ObjectShape<F extends Fields = Fields, R extends string = string> {
  kind: 'object'
  fields: F
  required?: readonly R[]
  /** Cross-key rules (the constructor checks that they name keys of `fields`). */
  rules?: readonly ObjectRule[]
  /**
   * A rule on the values together, run by the validator in the same pass as every other check once the
   * mapping's own keys are valid. It gets the section as `resolveSection` gives it (camelCase, defaults
   * applied) and returns every problem (reported at the mapping; each message names its keys).
   */
  check?: (section: Readonly<Record<string, unknown>>) => readonly string[]
  /** Appended to "missing required key" problems. */
  hint?: string
}

/**
 * A mapping whose keys are names the user chooses (server.yaml's repositories by name, tokens by hash),
 * each matching `key.pattern`, and whose values all have the shape `values`.
 */
export interface RecordShape<V extends Shape = Shape> {
  kind: 'record'
  key: { pattern: RegExp; expected: string }
  values: V
  nonEmpty?: boolean
}

/** A plain string or a mapping, e.g. a source given as a path or as `{path, label}`. */
export interface EitherShape<O extends ObjectShape = ObjectShape> {
  kind: 'either'
  string: StringShape
  object: O
  /** What the value should be, for the error message. */
  expected: string
}

/**
 * A key vger knows but refuses whatever its value (another tool's setting it cannot honour): loading a
 * config that sets it is an error giving `reason`, which says why and what to do instead. So a config
 * never silently asks for something vger does not do.
 */
export interface RefusedShape {
  kind: 'refused'
  reason: string
}

export const str = (): StringShape => ({ kind: 'string' })
/** A string no error message may show (passphrases, keys, tokens). */
export const secret = (): StringShape => ({ kind: 'string', secret: true })

export function enumOf<const T extends string, const O extends { default?: NoInfer<T> } = {}>(
  values: readonly T[],
  opts?: O,
): StringShape<T> & O {
  return { kind: 'string', oneOf: values, ...opts } as StringShape<T> & O
}

export function int<const O extends { min?: number; max?: number; default?: number } = {}>(opts?: O): IntegerShape & O {
  return { kind: 'integer', ...opts } as IntegerShape & O
}

export function bool<const O extends { default?: boolean } = {}>(opts?: O): BooleanShape & O {
  return { kind: 'boolean', ...opts } as BooleanShape & O
}

/** A parsed scalar; a declared default must parse (checked here, so a bad one fails at load). */
export function value<T, const O extends { default?: string | number } = {}>(
  parse: (value: unknown) => Parsed<T>,
  json: JsonSchema,
  opts?: O,
): ValueShape<T> & O {
  const shape = { kind: 'value', parse, json, ...opts } as ValueShape<T> & O
  if (shape.default !== undefined) parsedDefault(shape)
  return shape
}

export const strings = (): StringsShape => ({ kind: 'strings' })

export const refused = (reason: string): RefusedShape => ({ kind: 'refused', reason })

export function list<I extends Shape, const O extends { nonEmpty?: boolean; uniqueKey?: string; default?: readonly [] } = {}>(
  items: I,
  opts?: O,
): ListShape<I> & O {
  return { kind: 'list', items, ...opts } as ListShape<I> & O
}

export function obj<F extends Fields, R extends keyof F & string = never>(
  fields: F,
  opts: {
    required?: readonly R[]
    rules?: readonly ObjectRule<keyof F & string>[]
    hint?: string
    check?: (section: Readonly<Record<string, unknown>>) => readonly string[]
  } = {},
): ObjectShape<F, NoInfer<R>> {
  // NoInfer: inside another shape, the context must not widen R (making every key required).
  return { kind: 'object', fields, ...opts }
}

export function record<V extends Shape, const O extends { nonEmpty?: boolean } = {}>(
  key: { pattern: RegExp; expected: string },
  values: V,
  opts?: O,
): RecordShape<V> & O {
  return { kind: 'record', key, values, ...opts } as RecordShape<V> & O
}

export function either<O extends ObjectShape>(object: O, expected: string): EitherShape<O> {
  return { kind: 'either', string: str(), object, expected }
}

/** The value a shape accepts, once validated. */
export type Infer<S extends Shape> =
  S extends StringShape<infer T>
    ? T
    : S extends IntegerShape
      ? number
      : S extends BooleanShape
        ? boolean
        : S extends ValueShape<infer T>
          ? T
          : S extends StringsShape
            ? string[]
            : S extends ListShape<infer I>
              ? Infer<I>[]
              : S extends ObjectShape<infer F, infer R>
                ? InferObject<F, R>
                : S extends EitherShape<infer O>
                  ? string | Infer<O>
                  : S extends RecordShape<infer V>
                    ? Record<string, Infer<V>>
                    : never

type Simplify<T> = { [K in keyof T]: T[K] } & {}

type InferObject<F extends Fields, R extends string> = Simplify<
  { -readonly [K in keyof F as K extends R ? K : never]: Infer<F[K]> } & {
    -readonly [K in keyof F as K extends R ? never : K]?: Infer<F[K]>
  }
>

/** `zstd_level` → `zstdLevel`. */
export type Camel<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S

export function camel(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
}

type Defaulted = { default: unknown }

/** A section as resolved: camelCase keys, required where the schema declares a default. */
export type Resolved<S extends ObjectShape> =
  S extends ObjectShape<infer F>
    ? Simplify<
        { [K in keyof F & string as F[K] extends Defaulted ? Camel<K> : never]: Infer<F[K]> } & {
          [K in keyof F & string as F[K] extends Defaulted ? never : Camel<K>]?: Infer<F[K]>
        }
      >
    : never

/** A shape's declared default as the resolved config holds it ("24h" → 86400), or undefined. */
export function defaultOf(shape: Shape): unknown {
  if (!('default' in shape) || shape.default === undefined) return undefined
  if (shape.kind === 'value') return parsedDefault(shape)
  return Array.isArray(shape.default) ? [...shape.default] : shape.default
}

function parsedDefault(shape: ValueShape): unknown {
  const parsed = shape.parse(shape.default)
  if ('error' in parsed) throw new Error(`the schema declares a default that does not parse: ${parsed.error}`)
  return parsed.value
}

/** Every key of `shape` that `raw` sets or that has a default, camelCased; lists are copied. */
export function resolveSection<S extends ObjectShape>(shape: S, raw: object | undefined): Resolved<S> {
  const given = (raw ?? {}) as Readonly<Record<string, unknown>>
  const out: Record<string, unknown> = {}
  for (const [key, field] of Object.entries(shape.fields)) {
    const v = given[key] ?? defaultOf(field)
    if (v !== undefined) out[camel(key)] = Array.isArray(v) ? [...(v as unknown[])] : v
  }
  return out as unknown as Resolved<S>
}
