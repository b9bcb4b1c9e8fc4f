/** The Repository wrapper's job plumbing (AbortSignal → CancelToken, progress), against a fake addon. */
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { BackupOptions, NativeCancelToken, ProgressCallback, ProgressEvent } from '../../ts/native-types.js'

interface FakeJob {
  opts: BackupOptions
  progress?: ProgressCallback
  token?: NativeCancelToken
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
}

const jobs: FakeJob[] = []
const tokens: { cancelled: boolean; cancel: ReturnType<typeof vi.fn> }[] = []

vi.mock('../../ts/native.js', () => {
  const fakeRepo = {
    backup: (opts: BackupOptions, progress?: ProgressCallback, token?: NativeCancelToken) =>
      new Promise((resolve, reject) => jobs.push({ opts, progress, token, resolve, reject })),
  }
  return {
    openRepository: async () => fakeRepo,
    initRepository: async () => ({}),
    createCancelToken: () => {
      const token = {
        cancelled: false,
        cancel: vi.fn(() => {
          token.cancelled = true
        }),
      }
      tokens.push(token)
      return token
    },
  }
})

const { Repository } = await import('../../ts/repository.js')
const { VgerError } = await import('../../ts/errors.js')

const EVENT: ProgressEvent = { type: 'backup', files: 1, bytes: 10, newBytes: 10, totalFiles: 0, totalBytes: 0, done: 0, total: 0 }
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
    const nativeError = new VgerError('VGER_SOMETHING_NATIVE', 'stopped between files')
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
