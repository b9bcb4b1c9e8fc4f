/**
 * Fuzzing of the YAML config loader (issue 11, item 11; docs/integrity.md "Fuzzing").
 *
 * Three generators feed `parseConfig`: character-level mutations of valid configs (the starter config and
 * small examples), YAML written from random values over the schema's own keys (so the validator, the
 * unit parsers and the resolver are reached, not just the YAML parser), and arbitrary text. Every input
 * must either load or fail with a `VgerError` carrying a `VGER_*` code and a message, with every located
 * problem at a line and column inside the text: never a TypeError, a RangeError or a stack trace.
 *
 * The short run (a fixed seed, 400 inputs per generator) is part of `vitest run`; `npm run fuzz` runs it
 * for `VGER_FUZZ_SECONDS` seconds in all, a third per generator.
 */
import fc from 'fast-check'
import { stringify } from 'yaml'
import { afterAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../ts/config/load.js'
import { ConfigError } from '../../ts/config/problems.js'
import { configShape } from '../../ts/config/schema.js'
import type { Shape } from '../../ts/config/shape.js'
import { STARTER_CONFIG } from '../../ts/config/starter.js'
import { isVgerError } from '../../ts/errors.js'

const FILE = '/nonexistent/vger-fuzz/config.yaml'
const HOME = '/nonexistent/home'
const ENV = { VGER_FUZZ_SET: 'value # with a hash', EMPTY: '', NUM: '12' }

const SECONDS = Number(process.env.VGER_FUZZ_SECONDS ?? 0)
const LONG = Number.isFinite(SECONDS) && SECONDS > 0
const RUNS = Number(process.env.VGER_FUZZ_RUNS ?? 400)
const SEED = Number(process.env.VGER_FUZZ_SEED ?? 20261202)
/** fast-check parameters: a fixed seed and count here, or a third of the time budget in the long run. */
const params = LONG
  ? { seed: SEED, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: (SECONDS * 1000) / 3, markInterruptAsFailure: false }
  : { seed: SEED, numRuns: RUNS }

const SEEDS = [
  STARTER_CONFIG,
  'repositories:\n  - url: /backups/main\n',
  'repositories:\n  - url: /b\n    label: x\nsources:\n  - /home\n  - path: /etc\n    label: etc\n    exclude: ["*.tmp"]\n',
  'repositories:\n  - url: ${VGER_FUZZ_SET}\nencryption:\n  passphrase: ${UNSET:-fallback}\ncompression: {algorithm: zstd, zstd_level: 3}\n',
  'repositories: [{url: /r}]\nchunker: {min_size: 512KiB, avg_size: 2MiB, max_size: 8MiB}\nretention: {keep_within: 2d, keep_daily: 7}\n',
  'repositories:\n  - url: &a /r\n  - url: *a\nhooks: {before: "true", failed: [a, b]}\nlimits: {threads: 2}\n',
]

/** Every key the schema declares, at any depth. */
function keysOf(shape: Shape, out: Set<string>): Set<string> {
  if (shape.kind === 'object') {
    for (const [k, v] of Object.entries(shape.fields)) {
      out.add(k)
      keysOf(v as Shape, out)
    }
  } else if (shape.kind === 'list') keysOf(shape.items, out)
  else if (shape.kind === 'either') keysOf(shape.object, out)
  return out
}
const KEYS = [...keysOf(configShape, new Set())]

/** What a mutation may insert: YAML's own syntax, expansion, units, odd characters. */
const PIECES = [
  ':',
  ': ',
  '-',
  '- ',
  '\n',
  '\n  ',
  '  ',
  '\t',
  '[',
  ']',
  '{',
  '}',
  ',',
  '#',
  '&a',
  '*a',
  '!!str ',
  '!!binary ',
  '|',
  '>',
  "'",
  '"',
  '%YAML 1.2\n',
  '---\n',
  '...\n',
  '? ',
  '<<: *a',
  '${',
  '}',
  '${UNSET}',
  '${VGER_FUZZ_SET}',
  '${A:-b}',
  '$$',
  '~',
  'null',
  'true',
  '0x1F',
  '-1',
  '1e309',
  '99999999999999999999',
  'NaN',
  '.inf',
  '2MiB',
  '1.5GiB',
  '12h',
  '0d',
  'KiB',
  '\\',
  '\u0000',
  '\u2028',
  '\uFEFF',
  'é',
  '😀',
  ...KEYS,
]

const mutation = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), piece: fc.constantFrom(...PIECES) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ op: fc.constant('char' as const), at: fc.nat(), ch: fc.string({ unit: 'binary', minLength: 1, maxLength: 2 }) }),
  fc.record({ op: fc.constant('lines' as const), a: fc.nat(), b: fc.nat() }),
)
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never

function apply(text: string, m: Mutation): string {
  const at = text.length === 0 ? 0 : (m.op === 'lines' ? 0 : m.at) % (text.length + 1)
  switch (m.op) {
    case 'insert':
      return text.slice(0, at) + m.piece + text.slice(at)
    case 'delete':
      return text.slice(0, at) + text.slice(at + m.len)
    case 'char':
      return text.slice(0, at) + m.ch + text.slice(at + 1)
    case 'lines': {
      // Copy one line over another (duplicated keys, wrong indentation, moved sections).
      const lines = text.split('\n')
      const from = lines[m.a % lines.length] ?? ''
      lines.splice(m.b % (lines.length + 1), 0, from)
      return lines.join('\n')
    }
  }
}

const mutated = fc
  .tuple(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 8 }))
  .map(([seed, ms]) => ms.reduce(apply, seed))

/** Values over the schema's keys and odd scalars, written out as YAML. */
const { value: structured } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, 2 ** 53, '', '2MiB', '7d', '${VGER_FUZZ_SET}', '${UNSET}', 'zstd', 'none'),
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 })), tie('value'), { maxKeys: 6 }),
  ),
}))
const schemaYaml = fc
  .dictionary(fc.constantFrom(...KEYS), structured, { maxKeys: 8 })
  .map((v) => stringify(v, { aliasDuplicateObjects: false }))

const arbitraryText = fc.string({ unit: 'binary', maxLength: 400 })

/** The property: it loads, or it is a VgerError with a code and located problems inside the text. */
let inputs = 0
function check(text: string): void {
  inputs++
  try {
    parseConfig(text, FILE, { env: { ...ENV }, home: HOME })
  } catch (e) {
    if (!isVgerError(e)) throw new Error(`not a VgerError: ${String(e)}`, { cause: e })
    expect(e.code).toMatch(/^VGER_[A-Z_]+$/)
    expect(e.message.length).toBeGreaterThan(0)
    if (e instanceof ConfigError) {
      const lines = text.split(/\r\n|\r|\n/).length + 1
      for (const p of e.problems) {
        expect(p.line).toBeGreaterThanOrEqual(1)
        expect(p.col).toBeGreaterThanOrEqual(1)
        if (p.file === FILE) expect(p.line).toBeLessThanOrEqual(lines)
      }
    }
  }
}

const timeout = LONG ? SECONDS * 1000 + 60_000 : 60_000

describe('fuzzing the config loader', () => {
  afterAll(() => {
    if (LONG) console.log(`config-loader: ${inputs} inputs in ${SECONDS} s`)
  })

  it('every seed loads', () => {
    for (const s of SEEDS) expect(() => parseConfig(s, FILE, { env: { ...ENV }, home: HOME })).not.toThrow()
  })

  it('mutated configs load or fail with a VgerError', { timeout }, () => {
    fc.assert(fc.property(mutated, check), params)
  })

  it('YAML over the schema keys loads or fails with a VgerError', { timeout }, () => {
    fc.assert(fc.property(schemaYaml, check), params)
  })

  it('arbitrary text loads or fails with a VgerError', { timeout }, () => {
    fc.assert(fc.property(arbitraryText, check), params)
  })
})
