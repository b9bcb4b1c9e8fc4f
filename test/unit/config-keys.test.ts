/**
 * No silent config (issue 14, item 6): every key of `vger.yaml` either acts or is refused with a reason.
 *
 * The test walks `configShape` to every key path (sections and leaves, through list items) and requires a
 * proof for each in config-keys.proofs.ts. A key added to the schema without one fails here. A refused key
 * must fail to load with VGER_CONFIG and its reason; a key that acts must change what commands hand on
 * when set, and name where its effect is observed (a test that must exist and mention the key, or the
 * engine code that applies it). Keys of the features still being built are allowed as pending only under
 * PENDING below, and must still warn as not applied (ts/config/inert.ts).
 */
import { existsSync, readFileSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import { describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { INERT_KEYS } from '../../ts/config/inert.js'
import { parseConfig } from '../../ts/config/load.js'
import { ConfigError } from '../../ts/config/problems.js'
import { configShape } from '../../ts/config/schema.js'
import type { Shape } from '../../ts/config/shape.js'
import { PROOFS, type Proof, type Raw, type Ref } from './config-keys.proofs.js'

/**
 * Key paths whose proof may be `pending` (and every key below them): a feature accepted before it acts,
 * which must then warn as not applied (ts/config/inert.ts). None today.
 */
const PENDING: string[] = []

const ROOT = new URL('../../', import.meta.url)
const read = (file: string): string => readFileSync(new URL(file, ROOT), 'utf8')

/** Every key path of `shape`, with its shape: `repositories[].retry.max_retries`, … */
function keyPaths(shape: Shape, at = ''): [string, Shape][] {
  switch (shape.kind) {
    case 'object':
      return Object.entries(shape.fields).flatMap(([key, field]) => {
        const path = at === '' ? key : `${at}.${key}`
        return [[path, field] as [string, Shape], ...keyPaths(field, path)]
      })
    case 'list':
      return keyPaths(shape.items, `${at}[]`)
    case 'either':
      return keyPaths(shape.object, at)
    default:
      return []
  }
}

const KEYS = keyPaths(configShape)
const isPending = (path: string): boolean => PENDING.some((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[]`))

/** A config that loads, for a key to be set in. */
function base(): Raw {
  return { repositories: [{ url: '/r', label: 'r' }], sources: [{ path: '/src', label: 'src' }] }
}

/** `raw` with `value` at `path` (a list step is its first item). */
function setAt(raw: Raw, path: string, value: unknown): Raw {
  const steps = path.split('.')
  let node = raw as Record<string, unknown>
  for (const [i, step] of steps.entries()) {
    const list = step.endsWith('[]')
    const key = list ? step.slice(0, -2) : step
    if (i === steps.length - 1) {
      node[key] = value
      break
    }
    if (list) {
      const items = (node[key] ??= [{}]) as Record<string, unknown>[]
      node = items[0] as Record<string, unknown>
    } else node = (node[key] ??= {}) as Record<string, unknown>
  }
  return raw
}

const load = (raw: Raw) => parseConfig(stringify(raw), '/etc/vger/vger.yaml', { env: {}, home: '/home/tester' })

/** The concrete path of the first item, as messages write it: `repositories[0].min_pack_size`. */
const concrete = (path: string): string => path.replaceAll('[]', '[0]')

function checkRef(ref: Ref): void {
  expect(existsSync(new URL(ref.file, ROOT)), `${ref.file} exists`).toBe(true)
  const text = read(ref.file)
  if ('code' in ref) expect(text, `${ref.file} applies the setting`).toContain(ref.code)
  else if (ref.file.endsWith('.rs')) expect(text, `${ref.file} has fn ${ref.test}`).toMatch(new RegExp(`\\bfn ${ref.test}\\(`))
  else expect(text, `${ref.file} has the test "${ref.test}"`).toContain(ref.test)
}

describe('every config key acts or is refused', () => {
  it('walks the whole schema', () => {
    expect(KEYS.length).toBeGreaterThan(150)
    expect(KEYS.map(([p]) => p)).toEqual(expect.arrayContaining(['repositories[].retry.max_retries', 'sources[].command_dumps[].name']))
  })

  it.each(KEYS.map(([p]) => [p]))('%s has a proof', (path) => {
    expect(PROOFS[path], `add "${path}" to test/unit/config-keys.proofs.ts`).toBeDefined()
  })

  it('has no proof for a key the schema does not have', () => {
    const known = new Set(KEYS.map(([p]) => p))
    expect(Object.keys(PROOFS).filter((p) => !known.has(p))).toEqual([])
  })

  it('refuses exactly the keys the schema declares refused', () => {
    const declared = KEYS.filter(([, s]) => s.kind === 'refused').map(([p]) => p)
    const proven = Object.entries(PROOFS)
      .filter(([, p]) => 'refused' in p)
      .map(([k]) => k)
    expect(proven.sort()).toEqual(declared.sort())
  })

  it('allows pending proofs only under PENDING, and those keys still warn as not applied', () => {
    const pendingProofs = Object.entries(PROOFS).filter(([, p]) => 'pending' in p)
    for (const [path] of pendingProofs) expect(isPending(path), `${path} is pending but not in PENDING`).toBe(true)
    for (const [path] of KEYS.filter(([p]) => isPending(p))) {
      expect('pending' in (PROOFS[path] ?? {}), `${path} has a real proof now: remove it from PENDING`).toBe(true)
    }
    const inert = [
      ...INERT_KEYS.top,
      ...INERT_KEYS.repository.map((k) => `repositories[].${k}`),
      ...INERT_KEYS.source.map((k) => `sources[].${k}`),
    ]
    expect(new Set(PENDING)).toEqual(new Set(inert))
  })
})

const byKind = (want: 'refused' | 'acts') =>
  Object.entries(PROOFS).filter(([, p]) => (want === 'refused' ? 'refused' in p : !('refused' in p) && !('pending' in p))) as [
    string,
    Proof,
  ][]

describe('refused keys', () => {
  it.each(byKind('refused'))('%s fails to load with VGER_CONFIG, the reason and what to do', (path, proof) => {
    if (!('refused' in proof)) throw new Error('not a refusal')
    let error: unknown
    try {
      load(setAt(base(), path, proof.set))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).code).toBe('VGER_CONFIG')
    const message = (error as ConfigError).message
    expect(message).toContain(`${concrete(path)} is not supported: `)
    // A reason (a sentence of some length) and the next step.
    expect(message.split('is not supported: ')[1]?.length).toBeGreaterThan(60)
    expect(message).toContain('remove the key')
  })
})

describe('keys that act', () => {
  it.each(byKind('acts'))('%s changes what commands hand on, and its effect is shown', (path, proof) => {
    if ('refused' in proof || 'pending' in proof) throw new Error('not an acting key')
    const without = base()
    proof.patch?.(without)
    const withKey = setAt(structuredClone(without), path, proof.set)
    const before = proof.read(load(without))
    const after = proof.read(load(withKey))
    expect(after, `${path} reaches what commands read`).toBeDefined()
    expect(isDeepStrictEqual(after, before), `setting ${path} changes ${JSON.stringify(before)}`).toBe(false)

    expect(proof.shown.length).toBeGreaterThan(0)
    for (const ref of proof.shown) checkRef(ref)
    // At least one of the places that show the effect deals with this very key.
    const leaf = path.split('.').pop()?.replace('[]', '') ?? path
    const names = [proof.mentions ?? leaf, leaf.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())]
    const mentioned = proof.shown.some((ref) => names.some((n) => read(ref.file).includes(n)))
    expect(mentioned, `one of ${proof.shown.map((r) => r.file).join(', ')} mentions ${names.join(' or ')}`).toBe(true)
  })
})
