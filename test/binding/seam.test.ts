/**
 * The seam itself, straight from the addon: `err.code` set by the binding (no message parsing), progress
 * events as a tagged union without placeholder fields, string enums checked by napi.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type * as native from '../../crates/vger-napi/index.cjs'
import { Repository } from '../../ts/repository.js'
import { ADDON_LOADER, FAST_KDF, NO_ADDON_REASON, addonBuilt } from '../helpers/addon.js'
import { tempDir } from '../helpers/temp-dir.js'

const PASS = 'correct horse battery staple'

/** What a rejection of the raw addon carries. */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: unknown }> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(Error)
    return e as Error & { code?: unknown }
  }
  throw new Error('expected a rejection')
}

describe.skipIf(!addonBuilt)(`the binding seam${addonBuilt ? '' : ` — skipped: ${NO_ADDON_REASON}`}`, () => {
  const addon = createRequire(import.meta.url)(ADDON_LOADER) as typeof native
  let url: string
  let src: string

  beforeAll(async () => {
    const work = tempDir()
    url = path.join(work, 'repo')
    src = path.join(work, 'src')
    mkdirSync(path.join(src, 'sub'), { recursive: true })
    for (let i = 0; i < 20; i++) writeFileSync(path.join(src, `f${i}.txt`), `file ${i}\n`.repeat(1000 * (i + 1)))
    // A .gitignore that cannot be read (a directory): the engine warns about it and goes on.
    mkdirSync(path.join(src, 'sub', '.gitignore'))
    await addon.Repository.init({ url, passphrase: PASS, encryption: 'auto', kdf: FAST_KDF })
  })

  it('rejects a wrong passphrase with err.code set by the addon and the text alone as message', async () => {
    const err = await rejection(addon.Repository.open({ url, passphrase: 'not it' }))
    expect(err.code).toBe('VGER_WRONG_PASSPHRASE')
    expect(err.message).toMatch(/^wrong passphrase for repository /)
    expect(err.message).not.toContain('VGER_')
  })

  it('gives a missing repository its own code, also from a static method', async () => {
    const err = await rejection(addon.Repository.probe(path.join(url, 'nothing-here')))
    expect(err.code).toBe('VGER_REPO_NOT_FOUND')
  })

  it('refuses a word outside a string enum before the engine runs (and the wrapper names it)', async () => {
    const bad = { url: path.join(url, 'x'), encryption: 'rot13' } as unknown as native.InitOptions
    let thrown: unknown
    try {
      await addon.Repository.init(bad)
    } catch (e) {
      thrown = e
    }
    expect((thrown as { code?: unknown }).code).toBe('InvalidArg')
    await expect(Repository.init(bad)).rejects.toMatchObject({ name: 'VgerError', code: 'VGER_INVALID_ARGUMENT' })
  })

  it('sends progress as a tagged union: each event has its own fields and no placeholders', async () => {
    const repo = await addon.Repository.open({ url, passphrase: PASS })
    const events: native.ProgressEvent[] = []
    const outcome = await repo.backup(
      { paths: [src], label: 'src', hostname: 'h', username: 'u', gitIgnore: true },
      (e: native.ProgressEvent) => events.push(e),
    )
    expect(outcome.stats.files).toBeGreaterThanOrEqual(20)
    const totals = events.filter((e) => e.type === 'backup')
    expect(totals.length).toBeGreaterThan(0)
    for (const e of totals) {
      // Narrowed by `type`: newBytes is a number here, and restore/step fields do not exist.
      const newBytes: number = e.newBytes
      expect(newBytes).toBeGreaterThanOrEqual(0)
      expect(Object.keys(e).sort()).toEqual(['bytes', 'files', 'newBytes', 'type'])
    }
    const last = totals.at(-1)
    expect(last?.files).toBe(outcome.stats.files)
    const warnings = events.filter((e) => e.type === 'warning')
    expect(warnings).toHaveLength(1)
    const [w] = warnings
    const code: native.ErrorCode | undefined = w?.code
    expect(code).toBe('VGER_INVALID_ARGUMENT')
    expect(w?.path).toBe(path.join(src, 'sub', '.gitignore'))
    expect(Object.keys(w ?? {}).sort()).toEqual(['code', 'message', 'path', 'type'])
    expect(outcome.warnings.map((x) => x.code)).toEqual(['VGER_INVALID_ARGUMENT'])
  })

  it('sends step events for maintenance jobs', async () => {
    const repo = await addon.Repository.open({ url, passphrase: PASS })
    const steps: Extract<native.ProgressEvent, { type: 'step' }>[] = []
    const report = await repo.check({ verifyData: true }, (e: native.ProgressEvent) => {
      if (e.type === 'step') steps.push(e)
    })
    expect(report.ok).toBe(true)
    expect(steps.length).toBeGreaterThan(0)
    for (const s of steps) expect(Object.keys(s).sort()).toEqual(['done', 'phase', 'total', 'type'])
  })

  it('returns closed sets as their words', async () => {
    const repo = await addon.Repository.open({ url, passphrase: PASS })
    const entries = await repo.listContents('latest')
    const kinds = new Set(entries.map((e) => e.kind))
    expect([...kinds].sort()).toEqual(['dir', 'file'])
    expect(['aes256gcm', 'chacha20poly1305']).toContain(repo.info().encryption)
  })
})
