import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isVgerError } from '../../ts/errors.js'
import { KnownRepositories } from '../../ts/known-repos.js'
import { isRoot } from '../helpers/addon.js'
import { tempDir } from '../helpers/temp-dir.js'

const A = { id: 'a'.repeat(64), encryption: 'aes256gcm' }
const B = { id: 'b'.repeat(64), encryption: 'aes256gcm' }

function codeOf(fn: () => void): string | undefined {
  try {
    fn()
  } catch (e) {
    return isVgerError(e) ? e.code : 'not a VgerError'
  }
  return undefined
}

describe('known repositories', () => {
  it('trusts the first contact, then refuses another id at the same URL', () => {
    const known = new KnownRepositories(path.join(tempDir(), 'vger', 'known-repositories.json'))
    expect(codeOf(() => known.check('/r', 'r', A))).toBeUndefined()
    expect(known.remember('/r', A)).toBeUndefined()
    expect(codeOf(() => known.check('/r', 'r', A))).toBeUndefined()
    expect(codeOf(() => known.check('/r', 'r', B))).toBe('VGER_REPO_CHANGED')
    expect(codeOf(() => known.check('/other', 'o', B))).toBeUndefined()
  })

  it('refuses an unencrypted repository where an encrypted one was, even with the same id', () => {
    const known = new KnownRepositories(path.join(tempDir(), 'k.json'))
    known.remember('/r', A)
    let message = ''
    try {
      known.check('/r', 'r', { id: A.id, encryption: 'none' })
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toMatch(/was encrypted \(aes256gcm\).*now unencrypted/)
    expect(message).toContain('k.json')
    // The other way round (none → encrypted, same id) is not a downgrade.
    const plain = new KnownRepositories(path.join(tempDir(), 'k.json'))
    plain.remember('/p', { id: A.id, encryption: 'none' })
    expect(codeOf(() => plain.check('/p', 'p', A))).toBeUndefined()
  })

  it('remembers the highest generation seen and refuses a lower one at the same URL', () => {
    const file = path.join(tempDir(), 'k.json')
    const known = new KnownRepositories(file)
    known.remember('/r', A)
    expect(known.checkGeneration('/r', 'r', 0)).toBe(0)
    known.remember('/r', A, new Date(), 5)
    known.remember('/r', A, new Date(), 3)
    expect(known.checkGeneration('/r', 'r', 5)).toBe(5)
    expect(known.checkGeneration('/r', 'r', 9)).toBe(5)
    expect(codeOf(() => known.checkGeneration('/r', 'r', 4))).toBe('VGER_REPO_ROLLED_BACK')
    // Another repository at the URL starts from nothing (the id check runs first and refuses it anyway).
    known.forget('/r')
    known.remember('/r', B, new Date(), 1)
    expect(known.checkGeneration('/r', 'r', 1)).toBe(1)
    // A value that is not a count is ignored, never trusted.
    const data = JSON.parse(readFileSync(file, 'utf8')) as { repositories: Record<string, { generation: unknown }> }
    for (const bad of [-1, 1.5, '7', null]) {
      ;(data.repositories['/r'] as { generation: unknown }).generation = bad
      writeFileSync(file, JSON.stringify(data))
      expect(known.checkGeneration('/r', 'r', 0)).toBe(0)
    }
  })

  it('keeps the first-seen time, forgets on request, and writes the file atomically with mode 0600', () => {
    const file = path.join(tempDir(), 'k.json')
    const known = new KnownRepositories(file)
    known.remember('/r', A, new Date('2026-01-01T00:00:00Z'))
    known.remember('/r', A, new Date('2026-06-01T00:00:00Z'))
    const data = JSON.parse(readFileSync(file, 'utf8')) as { repositories: Record<string, { firstSeen: string }> }
    expect(data.repositories['/r']?.firstSeen).toBe('2026-01-01T00:00:00.000Z')
    expect(known.forget('/r')).toBeUndefined()
    expect(codeOf(() => known.check('/r', 'r', B))).toBeUndefined()
    known.remember('/r', B)
    expect(statSync(file).mode & 0o777).toBe(0o600)
  })

  it('a damaged file is a VGER_CONFIG error with the path; an unwritable one is only a warning', () => {
    const dir = tempDir()
    const file = path.join(dir, 'k.json')
    writeFileSync(file, '{"version": 7}')
    expect(codeOf(() => new KnownRepositories(file).check('/r', 'r', A))).toBe('VGER_CONFIG')
    expect(new KnownRepositories(file).remember('/r', A)).toMatch(/could not record the repository in .*k\.json/)
    if (!isRoot) {
      const ro = path.join(dir, 'ro')
      mkdirSync(ro)
      chmodSync(ro, 0o500)
      expect(new KnownRepositories(path.join(ro, 'k.json')).remember('/r', A)).toMatch(/could not record/)
    }
  })
})
