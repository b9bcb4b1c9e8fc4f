/**
 * The config schema as JSON Schema, for editors: draft-07, the newest draft yaml-language-server supports.
 *
 * It is built from the same declaration as the validator (schema.ts). `npm run schema` writes it to
 * schema/vger.schema.json, the starter config names the published copy in its first line, and
 * test/unit/json-schema.test.ts fails when the committed file differs from a fresh render.
 *
 * It checks values as written, before `${VAR}` expansion. Some checks cannot be said in JSON Schema and
 * stay vger's own: unique labels and dump names, cron field ranges, the URL forms, the chunker's bounds,
 * the repository labels a source names. And vger reads `key:` with no value as "not set", where an editor
 * reports a value of the wrong type.
 */
import { configShape } from './schema.js'
import type { JsonSchema, ObjectRule, ObjectShape, Shape } from './shape.js'

export const SCHEMA_URL = 'https://raw.githubusercontent.com/vger-backup/vger/main/schema/vger.schema.json'
const DOCS_URL = 'https://github.com/vger-backup/vger/blob/main/docs/config.md'

const NON_EMPTY_STRING: JsonSchema = { type: 'string', pattern: '\\S' }

/** The whole document, with its `$schema` and `$id`. */
export function configJsonSchema(): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: SCHEMA_URL,
    title: 'vger configuration',
    description: `The vger config file (vger.yaml). Reference: ${DOCS_URL}`,
    ...toJsonSchema(configShape),
  }
}

/** The text of schema/vger.schema.json. */
export function renderJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`
}

export function toJsonSchema(shape: Shape): JsonSchema {
  const schema = withoutDefault(shape)
  // Editors offer the default when completing a key.
  return 'default' in shape && shape.default !== undefined ? { ...schema, default: shape.default } : schema
}

function withoutDefault(shape: Shape): JsonSchema {
  switch (shape.kind) {
    case 'string':
      return shape.oneOf === undefined ? NON_EMPTY_STRING : { type: 'string', enum: shape.oneOf }
    case 'integer':
      return {
        type: 'integer',
        ...(shape.min === undefined ? {} : { minimum: shape.min }),
        ...(shape.max === undefined ? {} : { maximum: shape.max }),
      }
    case 'boolean':
      return { type: 'boolean' }
    case 'value':
      return shape.json
    case 'strings':
      return { anyOf: [NON_EMPTY_STRING, { type: 'array', items: NON_EMPTY_STRING }] }
    case 'list':
      return { type: 'array', items: toJsonSchema(shape.items), ...(shape.nonEmpty === true ? { minItems: 1 } : {}) }
    case 'object':
      return objectSchema(shape)
    case 'either':
      return { anyOf: [toJsonSchema(shape.string), toJsonSchema(shape.object)] }
    case 'refused':
      // Any value is an error; editors show why on hover.
      return { not: {}, description: `Not supported: ${shape.reason}` }
    case 'record':
      return {
        type: 'object',
        propertyNames: { pattern: shape.key.pattern.source },
        additionalProperties: toJsonSchema(shape.values),
        ...(shape.nonEmpty === true ? { minProperties: 1 } : {}),
      }
  }
}

function objectSchema(shape: ObjectShape): JsonSchema {
  const rules = (shape.rules ?? []).map(ruleSchema)
  return {
    type: 'object',
    properties: Object.fromEntries(Object.entries(shape.fields).map(([key, field]) => [key, toJsonSchema(field)])),
    ...(shape.required === undefined || shape.required.length === 0 ? {} : { required: shape.required }),
    additionalProperties: false,
    ...(rules.length === 0 ? {} : { allOf: rules }),
  }
}

function ruleSchema(rule: ObjectRule): JsonSchema {
  switch (rule.rule) {
    case 'exclusive':
      return { not: { required: rule.keys } }
    case 'oneRequired':
      return { anyOf: rule.keys.map((key) => ({ required: [key] })) }
    case 'requires':
      return { dependencies: { [rule.key]: [rule.needs] } }
  }
}
