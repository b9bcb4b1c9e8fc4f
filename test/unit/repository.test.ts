/** The Repository wrapper's job plumbing (AbortSignal → CancelToken, progress), against a fake addon. */
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { BackupOptions, ProgressCallback, ProgressEvent } from '../../ts/repository.js'

interface FakeToken {
  cancelled: boolean
  cancel: ReturnType<typeof vi.fn>
}

interface FakeJob {
  opts: BackupOptions
  progress?: ProgressCallback
  token?: FakeToken
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
}

const jobs: FakeJob[] = []
const tokens: FakeToken[] = []

/** An error as the addon rejects with: `code` set by the binding. */
function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

/** Native methods that fail, for the error-lifting tests. */
const failing: Record<string, (...args: unknown[]) => unknown> = {
  info: () => {
    throw coded('VGER_LOCKED', 'locked')
  },
  stats: () => Promise.reject(coded('VGER_IO', 'cannot list packs')),
  diff: () => Promise.reject(coded('VGER_SNAPSHOT_NOT_FOUND', 'no snapshot abc')),
  find: () => Promise.reject(coded('InvalidArg', 'value `x` does not match any variant of enum `FindKind`')),
  listSnapshots: () => Promise.reject(new Error('disk on fire')),
  listContents: () => {
    throw coded('VGER_SNAPSHOT_NOT_FOUND', 'no snapshot abc')
  },
  restore: () => Promise.reject(coded('VGER_DEST_NOT_EMPTY', '/d is not empty')),
  compact: () => Promise.reject(coded('VGER_LOCKED', 'the repository is locked by backup')),
  check: () => Promise.reject(coded('VGER_LOCK_LOST', 'the lease expired')),
}

const fakeRepo = {
  ...failing,
  backup: (opts: BackupOptions, progress?: ProgressCallback, token?: FakeToken) =>
    new Promise((resolve, reject) => jobs.push({ opts, progress, token, resolve, reject })),
}

const fakeAddon = {
  Repository: {
    open: async () => fakeRepo,
    init: () => Promise.reject(coded('VGER_REPO_EXISTS', 'a repository already exists at /r')),
  },
  CancelToken: class {
    cancelled = false
    cancel = vi.fn(() => {
      this.cancelled = true
    })
    constructor() {
      tokens.push(this)
    }
  },
}

// The wrapper loads the addon with createRequire; hand it the fake instead.
vi.mock('node:module', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:module')>()),
  createRequire: () => () => fakeAddon,
}))

const { Repository } = await import('../../ts/repository.js')
const { VgerError } = await import('../../ts/errors.js')

const EVENT: ProgressEvent = { type: 'backup', files: 1, bytes: 10, newBytes: 10 }
const OUTCOME = { snapshotId: 'ab', partial: false }

async function started(): Promise<FakeJob> {
  await vi.waitFor(() => expect(jobs.length).toBeGreaterThan(0))
  const job = jobs.shift()
  if (job === undefined) throw new Error('no job')
  return job
}

beforeEach(() => {
  jobs.length = 0
  tokens.length = 0
})

describe('Repository.backup', () => {
  it('fills hostname and username and keeps signal/onProgress out of the native options', async () => {
    const repo = await Repository.open({ url: '/r' })
    const done = repo.backup({ paths: ['/a'], label: 'a', signal: new AbortController().signal, onProgress: () => {} })
    const job = await started()
    expect(Object.keys(job.opts).sort()).toEqual(['hostname', 'label', 'paths', 'username'])
    expect(job.opts.hostname).not.toContain('.')
    expect(job.opts.username).not.toBe('')
    expect(job.token).toBe(tokens[0])
    job.resolve(OUTCOME)
    expect(await done).toBe(OUTCOME)
  })

  it('does not start when the signal is already aborted', async () => {
    const repo = await Repository.open({ url: '/r' })
    const controller = new AbortController()
    controller.abort()
    await expect(repo.backup({ paths: ['/a'], label: 'a', signal: controller.signal })).rejects.toMatchObject({ code: 'VGER_CANCELLED' })
    expect(jobs).toHaveLength(0)
  })

  it('cancels the native token on abort and rejects with VGER_CANCELLED, keeping the native error as cause', async () => {
    const repo = await Repository.open({ url: '/r' })
    const controller = new AbortController()
    const done = repo.backup({ paths: ['/a'], label: 'a', signal: controller.signal })
    const job = await started()
    expect(tokens[0]?.cancel).not.toHaveBeenCalled()
    controller.abort()
    expect(tokens[0]?.cancel).toHaveBeenCalledOnce()
    const nativeError = new VgerError('VGER_IO', 'stopped between files')
    job.reject(nativeError)
    await expect(done).rejects.toMatchObject({ code: 'VGER_CANCELLED', cause: nativeError })
  })

  it('forwards progress, and a throwing callback cancels the job and becomes the rejection', async () => {
    const repo = await Repository.open({ url: '/r' })
    const seen: ProgressEvent[] = []
    const boom = new Error('renderer broke')
    const done = repo.backup({
      paths: ['/a'],
      label: 'a',
      onProgress: (e) => {
        seen.push(e)
        if (seen.length === 2) throw boom
      },
    })
    const job = await started()
    job.progress?.(EVENT)
    expect(tokens[0]?.cancel).not.toHaveBeenCalled()
    job.progress?.(EVENT)
    expect(tokens[0]?.cancel).toHaveBeenCalledOnce()
    job.progress?.(EVENT) // ignored after the failure
    job.resolve(OUTCOME) // even if the engine finished anyway
    await expect(done).rejects.toBe(boom)
    expect(seen).toHaveLength(2)
  })

  it('stops listening to the signal once the job is over', async () => {
    const repo = await Repository.open({ url: '/r' })
    const controller = new AbortController()
    const done = repo.backup({ paths: ['/a'], label: 'a', signal: controller.signal })
    ;(await started()).resolve(OUTCOME)
    await done
    controller.abort()
    expect(tokens[0]?.cancel).not.toHaveBeenCalled()
  })
})

describe('Repository (errors of the addon)', () => {
  it('lifts rejections into VgerError with the code the addon set', async () => {
    const repo = await Repository.open({ url: '/r' })
    await expect(repo.stats()).rejects.toMatchObject({ name: 'VgerError', code: 'VGER_IO', message: 'cannot list packs' })
    await expect(repo.diff('a', 'b')).rejects.toMatchObject({ code: 'VGER_SNAPSHOT_NOT_FOUND' })
    await expect(repo.restore({ snapshot: 'latest', dest: '/d' })).rejects.toMatchObject({ code: 'VGER_DEST_NOT_EMPTY' })
    await expect(repo.compact()).rejects.toMatchObject({
      code: 'VGER_LOCKED',
      message: expect.stringContaining('locked by backup') as string,
    })
    await expect(repo.check()).rejects.toMatchObject({ code: 'VGER_LOCK_LOST' })
    await expect(Repository.init({ url: '/r', encryption: 'none' })).rejects.toMatchObject({ code: 'VGER_REPO_EXISTS' })
  })

  it("maps napi's argument check and uncoded errors", async () => {
    const repo = await Repository.open({ url: '/r' })
    await expect(repo.find({ snapshots: ['a'] })).rejects.toMatchObject({ code: 'VGER_INVALID_ARGUMENT' })
    await expect(repo.listSnapshots()).rejects.toMatchObject({ code: 'VGER_INTERNAL', message: 'disk on fire' })
  })

  it('also converts synchronous throws', async () => {
    const repo = await Repository.open({ url: '/r' })
    expect(() => repo.info()).toThrow(expect.objectContaining({ name: 'VgerError', code: 'VGER_LOCKED' }) as Error)
    await expect(repo.listContents('abc')).rejects.toMatchObject({ code: 'VGER_SNAPSHOT_NOT_FOUND' })
  })
})
