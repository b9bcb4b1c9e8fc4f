/**
 * One list of error codes: the engine's (Rust `ErrorCode::ALL`, through the binding's exhaustive enum into
 * the generated `index.d.cts`), the TypeScript layer's (`TS_ERROR_CODES`) and docs/errors.md must agree.
 * Adding a code to the engine without its binding name does not compile; without its docs row, this fails.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { TS_ERROR_CODES } from '../../ts/errors.js'
import { ROOT, addonBuilt } from '../helpers/addon.js'

const read = (file: string): string => readFileSync(`${ROOT}/${file}`, 'utf8')

/** The members of `export type ErrorCode = 'A' | 'B'` in the generated declarations. */
function generatedCodes(): string[] {
  const match = /^export type ErrorCode = (.+)$/m.exec(read('crates/vger-napi/index.d.cts'))
  if (match?.[1] === undefined) throw new Error('no ErrorCode union in index.d.cts')
  return [...match[1].matchAll(/'(VGER_[A-Z0-9_]+)'/g)].map((m) => m[1] ?? '')
}

/** The codes in the first column of a `## heading` table of docs/errors.md. */
function documented(heading: string): string[] {
  const doc = read('docs/errors.md')
  const start = doc.indexOf(`## ${heading}\n`)
  if (start < 0) throw new Error(`no "${heading}" section in docs/errors.md`)
  const end = doc.indexOf('\n## ', start + 1)
  const section = doc.slice(start, end < 0 ? undefined : end)
  return [...section.matchAll(/^\| `(VGER_[A-Z0-9_]+)` \|/gm)].map((m) => m[1] ?? '')
}

/** The codes the Rust enum declares, read from its `as_str` table. */
function rustCodes(): string[] {
  const src = read('crates/vger-types/src/error.rs')
  return [...src.matchAll(/ErrorCode::\w+ => "(VGER_[A-Z0-9_]+)"/g)].map((m) => m[1] ?? '')
}

describe('error codes', () => {
  it('the generated ErrorCode type lists exactly the Rust codes', () => {
    expect(generatedCodes()).toEqual(rustCodes())
  })

  it('docs/errors.md documents every engine code once, and no other', () => {
    expect([...documented('Engine codes')].sort()).toEqual([...rustCodes()].sort())
  })

  it('docs/errors.md documents every TypeScript code once, and no other', () => {
    expect([...documented('TypeScript codes')].sort()).toEqual([...TS_ERROR_CODES].sort())
  })

  it.skipIf(!addonBuilt)('the loaded addon reports the same codes as its declarations', async () => {
    const { engineErrorCodes } = await import('../../ts/repository.js')
    expect(engineErrorCodes()).toEqual(generatedCodes())
  })
})
