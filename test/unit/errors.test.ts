import { describe, expect, it } from 'vitest'
import { VgerError, fromNativeError, isVgerError } from '../../ts/errors.js'
import { NativeRepo } from '../../ts/native.js'
import type { NativeRepository } from '../../ts/native-types.js'

describe('fromNativeError', () => {
  it('splits "CODE: text" into code and message, keeping the native error as cause', () => {
    const native = new Error('VGER_WRONG_PASSPHRASE: wrong passphrase for /r; check VGER_PASSPHRASE')
    const err = fromNativeError(native)
    expect(err).toBeInstanceOf(VgerError)
    expect(err.code).toBe('VGER_WRONG_PASSPHRASE')
    expect(err.message).toBe('wrong passphrase for /r; check VGER_PASSPHRASE')
    expect(err.cause).toBe(native)
    expect(err.name).toBe('VgerError')
  })

  it('keeps multi-line text and accepts digits in codes', () => {
    const err = fromNativeError(new Error('VGER_FORMAT_V2: line one\nline two'))
    expect(err.code).toBe('VGER_FORMAT_V2')
    expect(err.message).toBe('line one\nline two')
  })

  it.each([
    ['no code at all', 'something broke'],
    ['lower-case code', 'vger_wrong: nope'],
    ['missing space after colon', 'VGER_X:nope'],
    ['code not at the start', 'failed: VGER_X: nope'],
    ['other prefix', 'GenericFailure: nope'],
  ])('maps %s to VGER_INTERNAL with the whole message', (_, message) => {
    const err = fromNativeError(new Error(message))
    expect(err.code).toBe('VGER_INTERNAL')
    expect(err.message).toBe(message)
  })

  it('handles thrown non-errors', () => {
    expect(fromNativeError('VGER_REPO_LOCKED: held by pid 7').code).toBe('VGER_REPO_LOCKED')
    expect(fromNativeError(undefined).code).toBe('VGER_INTERNAL')
    expect(fromNativeError(new Error('')).message).toBe('unknown error')
  })

  it('is idempotent', () => {
    const err = new VgerError('VGER_CONFIG', 'bad')
    expect(fromNativeError(err)).toBe(err)
  })
})

describe('isVgerError', () => {
  it('checks the class and optionally the code', () => {
    const err = new VgerError('VGER_DEST_NOT_EMPTY', 'x')
    expect(isVgerError(err)).toBe(true)
    expect(isVgerError(err, 'VGER_DEST_NOT_EMPTY')).toBe(true)
    expect(isVgerError(err, 'VGER_CONFIG')).toBe(false)
    expect(isVgerError(new Error('VGER_DEST_NOT_EMPTY: x'))).toBe(false)
  })
})

describe('NativeRepo (the guard around every native call)', () => {
  const failing: NativeRepository = {
    info: () => {
      throw new Error('VGER_REPO_LOCKED: locked')
    },
    backup: () => Promise.reject(new Error('VGER_SOURCE_MISSING: /nope does not exist')),
    listSnapshots: () => Promise.reject(new Error('disk on fire')),
    stats: () => Promise.reject(new Error('VGER_IO: cannot list packs')),
    diff: () => Promise.reject(new Error('VGER_SNAPSHOT_NOT_FOUND: no snapshot abc')),
    find: () => Promise.reject(new Error('VGER_CORRUPT: tree 12')),
    changePassphrase: () => Promise.reject(new Error('VGER_IO: read-only')),
    listContents: () => {
      throw new Error('VGER_SNAPSHOT_NOT_FOUND: no snapshot abc')
    },
    restore: () => Promise.reject(new Error('VGER_DEST_NOT_EMPTY: /d is not empty')),
    deleteSnapshots: () => Promise.reject(new Error('VGER_SNAPSHOT_NOT_FOUND: no snapshot abc')),
    prune: () => Promise.reject(new Error('VGER_INVALID_ARGUMENT: no retention rule is configured')),
    compact: () => Promise.reject(new Error('VGER_LOCKED: the repository is locked by backup (shared lock, pid 1 on h)')),
    check: () => Promise.reject(new Error('VGER_LOCK_LOST: the lease expired; nothing was committed, run the command again')),
    repair: () => Promise.reject(new Error('VGER_CANCELLED: the operation was cancelled')),
    locks: () => Promise.reject(new Error('VGER_IO: cannot list locks')),
    breakLock: () => Promise.reject(new Error('VGER_IO: cannot delete')),
    deleteRepository: () => Promise.reject(new Error('VGER_IO: read-only')),
  }
  const repo = new NativeRepo(failing)

  it('re-throws rejections as VgerError with the parsed code', async () => {
    const opts = { paths: ['/nope'], label: 'x', hostname: 'h', username: 'u' }
    await expect(repo.backup(opts)).rejects.toMatchObject({ name: 'VgerError', code: 'VGER_SOURCE_MISSING' })
    await expect(repo.restore({ snapshot: 'latest', dest: '/d' })).rejects.toMatchObject({ code: 'VGER_DEST_NOT_EMPTY' })
    await expect(repo.listSnapshots()).rejects.toMatchObject({ code: 'VGER_INTERNAL', message: 'disk on fire' })
  })

  it('wraps stats, diff, find and changePassphrase the same way', async () => {
    await expect(repo.stats()).rejects.toMatchObject({ name: 'VgerError', code: 'VGER_IO', message: 'cannot list packs' })
    await expect(repo.diff('a', 'b')).rejects.toMatchObject({ code: 'VGER_SNAPSHOT_NOT_FOUND' })
    await expect(repo.find({ snapshots: ['a'] })).rejects.toMatchObject({ code: 'VGER_CORRUPT' })
    await expect(repo.changePassphrase('new')).rejects.toMatchObject({ code: 'VGER_IO' })
  })

  it('maps the maintenance rejections, lock codes included', async () => {
    await expect(repo.deleteSnapshots(['abcd'])).rejects.toMatchObject({ code: 'VGER_SNAPSHOT_NOT_FOUND' })
    await expect(repo.prune({ retention: {} })).rejects.toMatchObject({ code: 'VGER_INVALID_ARGUMENT' })
    await expect(repo.compact({})).rejects.toMatchObject({ code: 'VGER_LOCKED', message: expect.stringContaining('locked by backup') as string })
    await expect(repo.check({})).rejects.toMatchObject({ code: 'VGER_LOCK_LOST' })
    await expect(repo.repair({})).rejects.toMatchObject({ code: 'VGER_CANCELLED' })
    await expect(repo.locks()).rejects.toMatchObject({ code: 'VGER_IO' })
    await expect(repo.breakLock()).rejects.toMatchObject({ code: 'VGER_IO' })
    await expect(repo.deleteRepository(true)).rejects.toMatchObject({ code: 'VGER_IO' })
  })

  it('reports VGER_NOT_AVAILABLE for a method an older addon lacks, and feature-detects it', async () => {
    const { stats: _s, diff: _d, find: _f, changePassphrase: _c, prune: _p, compact: _k, ...older } = failing
    const old = new NativeRepo(older as NativeRepository)
    await expect(old.stats()).rejects.toMatchObject({ code: 'VGER_NOT_AVAILABLE' })
    expect(old.has('prune')).toBe(false)
    await expect(old.prune({ retention: { keepLast: 1 } })).rejects.toMatchObject({ code: 'VGER_NOT_AVAILABLE' })
    await expect(old.compact({})).rejects.toMatchObject({ code: 'VGER_NOT_AVAILABLE' })
    const calls: unknown[] = []
    const outcome = { groups: [], keep: 1, remove: 0, removed: 0, applied: true }
    const withPrune = new NativeRepo({ ...failing, prune: (opts) => (calls.push(opts), Promise.resolve(outcome)) })
    expect(withPrune.has('prune')).toBe(true)
    await expect(withPrune.prune({ retention: { keepLast: 1 } })).resolves.toEqual(outcome)
    expect(calls).toEqual([{ retention: { keepLast: 1 } }])
  })

  it('also converts synchronous throws', async () => {
    expect(() => repo.info()).toThrow(expect.objectContaining({ code: 'VGER_REPO_LOCKED' }) as Error)
    await expect(repo.listContents('abc')).rejects.toMatchObject({ code: 'VGER_SNAPSHOT_NOT_FOUND' })
  })
})
