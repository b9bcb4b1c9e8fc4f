/**
 * The idiomatic library API: options objects, `AbortSignal` for cancellation and an `onProgress` callback.
 *
 * ```ts
 * await Repository.init({ url: '/backups/repo', passphrase, encryption: 'auto' })
 * const repo = await Repository.open({ url: '/backups/repo', passphrase })
 * const outcome = await repo.backup({ paths: ['/home/me'], label: 'home', signal, onProgress: console.log })
 * ```
 */
import { VgerError, isVgerError } from './errors.js'
import { currentUsername, shortHostname } from './host.js'
import { type MaintenanceStep, type NativeRepo, type OptionalMethod, breakLocksAt, createCancelToken, initRepository, openRepository, probeRepository } from './native.js'
import type {
  BackupOptions as NativeBackupOptions,
  BackupOutcome,
  CheckOptions as NativeCheckOptions,
  CheckReport,
  CompactOptions as NativeCompactOptions,
  CompactOutcome,
  DestroyOutcome,
  DiffOutcome,
  FindOptions,
  FindResult,
  InitOptions,
  ForgetOutcome,
  KdfParams,
  ListEntry,
  LockInfo,
  NativeCancelToken,
  OpenOptions,
  ProgressCallback,
  PruneOptions as NativePruneOptions,
  PruneOutcome,
  RepairOptions as NativeRepairOptions,
  RepairOutcome,
  RepoInfo,
  RepoStats,
  RestoreOptions as NativeRestoreOptions,
  RestoreOutcome,
  SnapshotListing,
  Warning,
} from './native-types.js'

/** Options every long job accepts. */
export interface JobOptions {
  /** Aborting cancels the job cooperatively; the promise then rejects with `VGER_CANCELLED`. */
  signal?: AbortSignal
  /** Throttled progress (≤ ~10/s) and warnings. If it throws, the job is cancelled and rejects with that error. */
  onProgress?: ProgressCallback
}

export interface BackupOptions extends Omit<NativeBackupOptions, 'hostname' | 'username'>, JobOptions {
  /** Default: the machine's short hostname. */
  hostname?: string
  /** Default: the current user. */
  username?: string
}

export interface RestoreOptions extends NativeRestoreOptions, JobOptions {}

export interface CompactOptions extends NativeCompactOptions, JobOptions {}
export interface CheckOptions extends NativeCheckOptions, JobOptions {}
export interface RepairOptions extends NativeRepairOptions, JobOptions {}

/** Prune reports no progress and runs to the end once started; `signal` is checked before it starts. */
export interface PruneOptions extends NativePruneOptions {
  signal?: AbortSignal
}

export interface DryRunOptions {
  /** Plan only: say what would be removed, change nothing. */
  dryRun?: boolean
}

export interface ListContentsOptions {
  /** A subtree of the snapshot ('/'-separated). */
  path?: string
}

export class Repository {
  readonly #native: NativeRepo

  private constructor(native: NativeRepo) {
    this.#native = native
  }

  /** Creates a new repository; it must not exist yet. */
  static init(opts: InitOptions): Promise<RepoInfo> {
    return initRepository(opts)
  }

  /** Reads only the unencrypted config: fails with VGER_REPO_NOT_FOUND when there is no repository, and
   * tells whether opening it needs a passphrase (`encryption !== 'none'`). */
  static probe(url: string): Promise<RepoInfo> {
    return probeRepository(url)
  }

  /** Removes every lock object without opening the repository (no passphrase); returns how many. Only for
   * locks of processes that are gone. */
  static breakLocks(url: string): Promise<number> {
    return breakLocksAt(url)
  }

  /** Opens an existing repository (derives the key: takes as long as the KDF). */
  static async open(opts: OpenOptions): Promise<Repository> {
    return new Repository(await openRepository(opts))
  }

  info(): RepoInfo {
    return this.#native.info()
  }

  /** Problems found while opening that did not prevent it (e.g. a damaged index segment). */
  openWarnings(): Warning[] {
    return this.#native.openWarnings()
  }

  backup(opts: BackupOptions): Promise<BackupOutcome> {
    const { signal, onProgress, hostname, username, ...rest } = opts
    const nativeOpts: NativeBackupOptions = {
      ...rest,
      hostname: hostname ?? shortHostname(),
      username: username ?? currentUsername(),
    }
    return runJob({ signal, onProgress }, (progress, token) => this.#native.backup(nativeOpts, progress, token))
  }

  listSnapshots(): Promise<SnapshotListing> {
    return this.#native.listSnapshots()
  }

  listContents(snapshot: string, opts: ListContentsOptions = {}): Promise<ListEntry[]> {
    return this.#native.listContents(snapshot, opts.path)
  }

  restore(opts: RestoreOptions): Promise<RestoreOutcome> {
    const { signal, onProgress, ...nativeOpts } = opts
    return runJob({ signal, onProgress }, (progress, token) => this.#native.restore(nativeOpts, progress, token))
  }

  /** Repository totals: snapshots, original / deduplicated / compressed / stored bytes, chunks, packs. */
  stats(): Promise<RepoStats> {
    return this.#native.stats()
  }

  /** What changed from snapshot `a` to snapshot `b` (full ids or unique prefixes). */
  diff(a: string, b: string): Promise<DiffOutcome> {
    return this.#native.diff(a, b)
  }

  /** A per-path timeline of matching entries across the given snapshots. */
  find(opts: FindOptions): Promise<FindResult[]> {
    return this.#native.find(opts)
  }

  /** Re-wraps the master key with a new passphrase (the data is not re-encrypted). */
  changePassphrase(newPassphrase: string, kdf?: KdfParams): Promise<void> {
    return this.#native.changePassphrase(newPassphrase, kdf)
  }

  /** Removes snapshots by full id (the engine resolves them all first: one unknown id removes nothing). */
  deleteSnapshots(ids: string[], opts: DryRunOptions = {}): Promise<ForgetOutcome> {
    return this.#native.deleteSnapshots(ids, opts.dryRun)
  }

  /** Applies retention (snapshot objects only; `compact` reclaims the space). */
  async prune(opts: PruneOptions): Promise<PruneOutcome> {
    const { signal, ...nativeOpts } = opts
    if (isAborted(signal)) throw cancelledError(signal?.reason)
    return this.#native.prune(nativeOpts)
  }

  /** Repacks or deletes packs no snapshot (fully) uses, removes old debris, consolidates the index. */
  compact(opts: CompactOptions = {}): Promise<CompactOutcome> {
    const { signal, onProgress, ...nativeOpts } = opts
    return runJob({ signal, onProgress }, (progress, token) => this.#native.compact(nativeOpts, progress, token))
  }

  /** Verifies that every snapshot is restorable; with `verifyData`, reads and authenticates the data too. */
  check(opts: CheckOptions = {}): Promise<CheckReport> {
    const { signal, onProgress, ...nativeOpts } = opts
    return runJob({ signal, onProgress }, (progress, token) => this.#native.check(nativeOpts, progress, token))
  }

  /** Rebuilds the index from the packs and salvages damaged packs; returns the plan and a check afterwards. */
  repair(opts: RepairOptions = {}): Promise<RepairOutcome> {
    const { signal, onProgress, ...nativeOpts } = opts
    return runJob({ signal, onProgress }, (progress, token) => this.#native.repair(nativeOpts, progress, token))
  }

  /** Lock objects in the repository, live and stale. */
  locks(): Promise<LockInfo[]> {
    return this.#native.locks()
  }

  /** Removes every lock object; returns how many. Only for locks of processes that are gone. */
  breakLock(): Promise<number> {
    return this.#native.breakLock()
  }

  /** Deletes the whole repository (with `dryRun`: counts what that would remove). */
  deleteRepository(opts: DryRunOptions = {}): Promise<DestroyOutcome> {
    return this.#native.deleteRepository(opts.dryRun)
  }

  /** Whether the loaded engine has this method yet. */
  has(method: OptionalMethod): boolean {
    return this.#native.has(method)
  }
}

export type { MaintenanceStep }

function cancelledError(cause?: unknown): VgerError {
  return new VgerError('VGER_CANCELLED', 'the operation was cancelled', { cause })
}

/** A function, not a property read, so TypeScript does not narrow `aborted` across awaits. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

/** Wires an AbortSignal and a progress callback to a native job through a CancelToken. */
async function runJob<T>(
  { signal, onProgress }: JobOptions,
  start: (progress: ProgressCallback | undefined, token: NativeCancelToken) => Promise<T>,
): Promise<T> {
  if (signal !== undefined && isAborted(signal)) throw cancelledError(signal.reason)
  const token = createCancelToken()
  const onAbort = (): void => token.cancel()
  signal?.addEventListener('abort', onAbort, { once: true })

  // Set when onProgress throws: the job is cancelled and the caller gets that error instead.
  const failed: { error?: unknown; set: boolean } = { set: false }
  const progress =
    onProgress === undefined
      ? undefined
      : (e: Parameters<ProgressCallback>[0]): void => {
          if (failed.set) return
          try {
            onProgress(e)
          } catch (error) {
            Object.assign(failed, { error, set: true })
            token.cancel()
          }
        }

  try {
    const result = await start(progress, token)
    if (failed.set) throw failed.error
    return result
  } catch (e) {
    if (failed.set) throw failed.error
    if (isAborted(signal) && !isVgerError(e, 'VGER_CANCELLED')) throw cancelledError(e)
    throw e
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}
