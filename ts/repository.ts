/**
 * The one TypeScript wrapper of the native addon: options objects, `AbortSignal` for cancellation,
 * an `onProgress` callback, and errors as `VgerError`.
 *
 * ```ts
 * await Repository.init({ url: '/backups/repo', passphrase, encryption: 'auto' })
 * const repo = await Repository.open({ url: '/backups/repo', passphrase })
 * const outcome = await repo.backup({ paths: ['/home/me'], label: 'home', signal, onProgress: console.log })
 * ```
 *
 * The types of the addon are the generated `crates/vger-napi/index.d.cts`, re-exported here; nothing
 * restates them. The addon loads on first use, not at import time, so that `vger --version` and config
 * errors never pay for (or fail on) it.
 */
import { createRequire } from 'node:module'
import type * as native from '../crates/vger-napi/index.cjs'
import { VgerError, asVgerError, isVgerError } from './errors.js'
import { currentUsername, shortHostname } from './host.js'
import { currentPlatform, loadFailureDetail, nativeUnavailableMessage, runningFromCheckout } from './native-help.js'

export type * from '../crates/vger-napi/index.cjs'

type Addon = typeof native

/** Resolves the same way from ts/ (tests) and dist/ (the published CLI). */
const ADDON_PATH = '../crates/vger-napi/index.cjs'

let addon: Addon | undefined
let tuneAllocator = false
/** How the addon is obtained: `require` of the generated loader, unless a host (the standalone executable) replaced it. */
let addonSource: () => unknown = () => createRequire(import.meta.url)(ADDON_PATH)

/**
 * Replaces how the addon is loaded; the standalone executable (scripts/sea/main.ts) loads it from an
 * embedded asset. Must be called before the first use of the addon. Not part of the library API.
 */
export function setAddonSource(source: () => unknown): void {
  addonSource = source
}

/**
 * Asks for the engine's allocator tuning when the addon loads (see `tune_allocator` in crates/vger-napi).
 * The CLI calls this; a library user's process is left alone, since the setting applies to the whole process.
 */
export function enableAllocatorTuning(): void {
  tuneAllocator = true
}

/** The addon, loaded on first use (also by ts/store.ts, the keyless storage the server uses). */
export function loadAddon(): Addon {
  if (addon !== undefined) return addon
  try {
    const loaded = addonSource() as Addon
    if (tuneAllocator) loaded.tuneAllocator()
    addon = loaded
  } catch (e) {
    const detail = loadFailureDetail(e)
    throw new VgerError('VGER_NATIVE_UNAVAILABLE', nativeUnavailableMessage(detail, currentPlatform(), runningFromCheckout()), {
      cause: e,
    })
  }
  return addon
}

/** True once the addon has been loaded in this process (used to keep `--version` addon-free). */
export function isNativeLoaded(): boolean {
  return addon !== undefined
}

/** The version of the native engine. */
export function nativeVersion(): string {
  return lift(() => loadAddon().version())
}

/** Every code the engine can reject with, in the engine's order. */
export function engineErrorCodes(): native.ErrorCode[] {
  return lift(() => loadAddon().errorCodes())
}

/** Runs a native call; whatever it throws or rejects with becomes a `VgerError`. */
async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (e) {
    throw asVgerError(e)
  }
}

function lift<T>(run: () => T): T {
  try {
    return run()
  } catch (e) {
    throw asVgerError(e)
  }
}

export type ProgressCallback = (event: native.ProgressEvent) => void

/** Options every long job accepts. */
export interface JobOptions {
  /** Aborting cancels the job cooperatively; the promise then rejects with `VGER_CANCELLED`. */
  signal?: AbortSignal
  /** Throttled progress (≤ ~10/s) and warnings. If it throws, the job is cancelled and rejects with that error. */
  onProgress?: ProgressCallback
}

export interface BackupOptions extends Omit<native.BackupOptions, 'hostname' | 'username'>, JobOptions {
  /** Default: the machine's short hostname. */
  hostname?: string
  /** Default: the current user. */
  username?: string
}

export interface RestoreOptions extends native.RestoreOptions, JobOptions {}
export interface CompactOptions extends native.CompactOptions, JobOptions {}
export interface RewriteOptions extends native.RewriteOptions, JobOptions {}
export interface CopyOptions extends native.CopyOptions, JobOptions {}
export interface CheckOptions extends native.CheckOptions, JobOptions {}
export interface RepairOptions extends native.RepairOptions, JobOptions {}

/** Prune reports no progress and runs to the end once started; `signal` is checked before it starts. */
export interface PruneOptions extends native.PruneOptions {
  signal?: AbortSignal
}

export interface DryRunOptions {
  /** Plan only: say what would be removed, change nothing. */
  dryRun?: boolean
}

export interface OpenOptions extends native.OpenOptions {
  /**
   * Lock events of every operation on this repository: `lockWait` when it waits for a conflicting lock
   * (when the wait starts, every few seconds, and once more with `acquired`), and `warning` for the lock of
   * a dead process it removed or a read without a lock (read-only or full repository).
   */
  onLockEvent?: ProgressCallback
}

export interface ListContentsOptions {
  /** A subtree of the snapshot ('/'-separated). */
  path?: string
}

export class Repository {
  readonly #native: native.Repository

  private constructor(handle: native.Repository) {
    this.#native = handle
  }

  /** Creates a new repository; it must not exist yet. */
  static init(opts: native.InitOptions): Promise<native.RepoInfo> {
    return call(() => loadAddon().Repository.init(opts))
  }

  /**
   * Creates a repository that names and cuts data as `like` does (its id and chunker keys and chunker
   * parameters, with a fresh encryption key), so `like.copyTo(it)` moves only the blobs it lacks.
   */
  static initLike(opts: native.InitOptions, like: Repository): Promise<native.RepoInfo> {
    return call(() => loadAddon().Repository.initLike(opts, like.#native))
  }

  /** Reads only the unencrypted config: fails with VGER_REPO_NOT_FOUND when there is no repository, and
   * tells whether opening it needs a passphrase (`encryption !== 'none'`). */
  static probe(url: string, backend?: native.BackendSettings): Promise<native.RepoInfo> {
    return call(() => loadAddon().Repository.probe(url, backend))
  }

  /** Removes every lock object without opening the repository (no passphrase); returns how many. Only for
   * locks of processes that are gone. */
  static breakLocks(url: string, backend?: native.BackendSettings): Promise<number> {
    return call(() => loadAddon().Repository.breakLocks(url, backend))
  }

  /** Opens an existing repository (derives the key: takes as long as the KDF). */
  static async open(opts: OpenOptions): Promise<Repository> {
    const { onLockEvent, ...nativeOpts } = opts
    // A throwing callback must not escape into the engine's thread-safe call.
    const onEvent =
      onLockEvent === undefined
        ? undefined
        : (e: native.ProgressEvent): void => {
            try {
              onLockEvent(e)
            } catch {
              // Reporting a lock event is best effort.
            }
          }
    return new Repository(await call(() => loadAddon().Repository.open(nativeOpts, onEvent)))
  }

  info(): native.RepoInfo {
    return lift(() => this.#native.info())
  }

  /**
   * The highest index generation this handle has read or written. It never goes down while the repository is
   * used as the format says, so a caller that remembers it can tell a repository rolled back to an older state.
   */
  generation(): number {
    return lift(() => this.#native.generation())
  }

  /** Makes index segments written from now on carry a generation above `floor` (the highest one seen before). */
  raiseGeneration(floor: number): void {
    lift(() => this.#native.raiseGeneration(floor))
  }

  /** Problems found while opening that did not prevent it (e.g. a damaged index segment). */
  openWarnings(): native.Warning[] {
    return lift(() => this.#native.openWarnings())
  }

  backup(opts: BackupOptions): Promise<native.BackupOutcome> {
    const { signal, onProgress, hostname, username, ...rest } = opts
    const nativeOpts: native.BackupOptions = {
      ...rest,
      hostname: hostname ?? shortHostname(),
      username: username ?? currentUsername(),
    }
    return runJob({ signal, onProgress }, (progress, token) => this.#native.backup(nativeOpts, progress, token))
  }

  listSnapshots(): Promise<native.SnapshotListing> {
    return call(() => this.#native.listSnapshots())
  }

  listContents(snapshot: string, opts: ListContentsOptions = {}): Promise<native.ListEntry[]> {
    return call(() => this.#native.listContents(snapshot, opts.path))
  }

  /**
   * Browsing without restoring (`vger dump`, `vger mount`). A snapshot is named by its root tree
   * (`SnapshotSummary.tree`); a path is `/`-separated and escaped as `ListEntry.path` is (`\xNN` for a byte
   * that is not UTF-8, `\\` for a backslash). The entries of one directory, sorted by name:
   */
  readDir(tree: string, path: string): Promise<native.DirEntry[]> {
    return call(() => this.#native.readDir(tree, path))
  }

  /** The entry at `path` (the root: a directory with an empty name), or `null` when the snapshot has none. */
  statPath(tree: string, path: string): Promise<native.DirEntry | null> {
    return call(async () => (await this.#native.statPath(tree, path)) ?? null)
  }

  /** Up to `length` bytes of the file at `path` from `offset`; every chunk is authenticated (VGER_CORRUPT otherwise). */
  readFile(tree: string, path: string, offset: number, length: number): Promise<Buffer> {
    return call(() => this.#native.readFile(tree, path, offset, length))
  }

  restore(opts: RestoreOptions): Promise<native.RestoreOutcome> {
    const { signal, onProgress, ...nativeOpts } = opts
    return runJob({ signal, onProgress }, (progress, token) => this.#native.restore(nativeOpts, progress, token))
  }

  /** Repository totals: snapshots, original / deduplicated / compressed / stored bytes, chunks, packs. */
  stats(): Promise<native.RepoStats> {
    return call(() => this.#native.stats())
  }

  /** What changed from snapshot `a` to snapshot `b` (full ids or unique prefixes). */
  diff(a: string, b: string): Promise<native.DiffOutcome> {
    return call(() => this.#native.diff(a, b))
  }

  /** A per-path timeline of matching entries across the given snapshots. */
  find(opts: native.FindOptions): Promise<native.FindResult[]> {
    return call(() => this.#native.find(opts))
  }

  /** Re-wraps the master key with a new passphrase (the data is not re-encrypted). */
  async changePassphrase(newPassphrase: string, kdf?: native.KdfParams): Promise<void> {
    await call(() => this.#native.changePassphrase(newPassphrase, kdf))
  }

  /** The key files; `current` marks the one this handle was opened with. */
  listKeys(): Promise<native.KeyInfo[]> {
    return call(() => this.#native.listKeys())
  }

  /** Adds a key file for another passphrase (the others keep working); resolves to its id. */
  addKey(passphrase: string, kdf?: native.KdfParams): Promise<string> {
    return call(() => this.#native.addKey(passphrase, kdf))
  }

  /** Removes a key file other than the one in use (a unique prefix of its id is enough); resolves to its id. */
  removeKey(id: string): Promise<string> {
    return call(() => this.#native.removeKey(id))
  }

  /** Removes snapshots by full id (the engine resolves them all first: one unknown id removes nothing). */
  deleteSnapshots(ids: string[], opts: DryRunOptions = {}): Promise<native.DeleteSnapshotsOutcome> {
    return call(() => this.#native.deleteSnapshots(ids, opts.dryRun))
  }

  /**
   * Changes tags, pin or description of snapshots (full ids; all are resolved first). Snapshots are never
   * changed in place: each changed one is replaced by a new snapshot with a new id (`items[].after`).
   */
  changeSnapshots(ids: string[], change: native.SnapshotChange): Promise<native.SnapshotChangeOutcome> {
    return call(() => this.#native.changeSnapshots(ids, change))
  }

  /**
   * New snapshots without the paths `exclude` matches (globs over the path from the snapshot root); with
   * `forget` the originals are removed once their rewrites are stored, and `compact` then frees the data.
   */
  rewriteSnapshots(ids: string[], opts: RewriteOptions): Promise<native.RewriteOutcome> {
    const { signal, onProgress, ...nativeOpts } = opts
    return runJob({ signal, onProgress }, (progress, token) => this.#native.rewriteSnapshots(ids, nativeOpts, progress, token))
  }

  /**
   * Copies snapshots of this repository (full ids) into `dest`, storing only the blobs it lacks, sealed with its
   * keys; snapshots `dest` already has are skipped.
   */
  copyTo(dest: Repository, ids: string[], opts: CopyOptions = {}): Promise<native.CopyOutcome> {
    const { signal, onProgress, ...nativeOpts } = opts
    return runJob({ signal, onProgress }, (progress, token) => this.#native.copyTo(dest.#native, ids, nativeOpts, progress, token))
  }

  /** Applies retention (snapshot objects only; `compact` reclaims the space). */
  async prune(opts: PruneOptions): Promise<native.PruneOutcome> {
    const { signal, ...nativeOpts } = opts
    if (isAborted(signal)) throw cancelledError(signal?.reason)
    return call(() => this.#native.prune(nativeOpts))
  }

  /** Repacks or deletes packs no snapshot (fully) uses, removes old debris, consolidates the index. */
  compact(opts: CompactOptions = {}): Promise<native.CompactOutcome> {
    const { signal, onProgress, ...nativeOpts } = opts
    return runJob({ signal, onProgress }, (progress, token) => this.#native.compact(nativeOpts, progress, token))
  }

  /** Verifies that every snapshot is restorable; with `verifyData`, reads and authenticates the data too. */
  check(opts: CheckOptions = {}): Promise<native.CheckReport> {
    const { signal, onProgress, ...nativeOpts } = opts
    return runJob({ signal, onProgress }, (progress, token) => this.#native.check(nativeOpts, progress, token))
  }

  /** Rebuilds the index from the packs and salvages damaged packs; returns the plan and a check afterwards. */
  repair(opts: RepairOptions = {}): Promise<native.RepairOutcome> {
    const { signal, onProgress, ...nativeOpts } = opts
    return runJob({ signal, onProgress }, (progress, token) => this.#native.repair(nativeOpts, progress, token))
  }

  /** Lock objects in the repository, live and stale. */
  locks(): Promise<native.LockInfo[]> {
    return call(() => this.#native.locks())
  }

  /** Removes every lock object; returns how many. Only for locks of processes that are gone. */
  breakLock(): Promise<number> {
    return call(() => this.#native.breakLock())
  }

  /** Deletes the whole repository (with `dryRun`: counts what that would remove). */
  deleteRepository(opts: DryRunOptions = {}): Promise<native.DeleteRepositoryOutcome> {
    return call(() => this.#native.deleteRepository(opts.dryRun))
  }
}

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
  start: (progress: ProgressCallback | undefined, token: native.CancelToken) => Promise<T>,
): Promise<T> {
  if (signal !== undefined && isAborted(signal)) throw cancelledError(signal.reason)
  const token = lift(() => new (loadAddon().CancelToken)())
  const onAbort = (): void => token.cancel()
  signal?.addEventListener('abort', onAbort, { once: true })

  // Set when onProgress throws: the job is cancelled and the caller gets that error instead.
  const failed: { error?: unknown; set: boolean } = { set: false }
  const progress =
    onProgress === undefined
      ? undefined
      : (e: native.ProgressEvent): void => {
          if (failed.set) return
          try {
            onProgress(e)
          } catch (error) {
            Object.assign(failed, { error, set: true })
            token.cancel()
          }
        }

  try {
    const result = await call(() => start(progress, token))
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
