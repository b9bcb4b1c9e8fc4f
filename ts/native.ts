/**
 * The single import of the native addon.
 *
 * The addon loads on first use, not at import time, so that `vger --version` and config errors never pay
 * for (or fail on) it. Every call goes through `guard`, which turns a native rejection
 * `"VGER_CODE: text"` into a `VgerError` with that code; anything else becomes `VGER_INTERNAL`.
 */
import { createRequire } from 'node:module'
import { VgerError, fromNativeError } from './errors.js'
import type {
  BackupOptions,
  BackupOutcome,
  CheckOptions,
  CheckReport,
  CompactOptions,
  CompactOutcome,
  DestroyOutcome,
  DiffOutcome,
  ForgetOutcome,
  LockInfo,
  PruneOptions,
  PruneOutcome,
  RepairOptions,
  RepairOutcome,
  FindOptions,
  FindResult,
  InitOptions,
  KdfParams,
  ListEntry,
  NativeBinding,
  NativeCancelToken,
  NativeRepository,
  OpenOptions,
  ProgressCallback,
  RepoInfo,
  RepoStats,
  RestoreOptions,
  RestoreOutcome,
  SnapshotListing,
  Warning,
} from './native-types.js'

/** Resolves the same way from ts/ (tests) and dist/ (the published CLI). */
const ADDON_PATH = '../crates/vger-napi/index.cjs'

let binding: NativeBinding | undefined
let tuneAllocator = false

/**
 * Asks for the engine's allocator tuning when the addon loads (see `tune_allocator` in
 * crates/vger-napi). The CLI calls this; a library user's process is left alone, since the setting
 * applies to the whole process.
 */
export function enableAllocatorTuning(): void {
  tuneAllocator = true
}

export function loadNative(): NativeBinding {
  if (binding !== undefined) return binding
  try {
    binding = createRequire(import.meta.url)(ADDON_PATH) as NativeBinding
    if (tuneAllocator) binding.tuneAllocator?.()
  } catch (e) {
    const detail = e instanceof Error ? e.message.split('\n')[0] : String(e)
    throw new VgerError(
      'VGER_NATIVE_UNAVAILABLE',
      `the native addon could not be loaded (${detail}); build it with "npm run build:native"`,
      { cause: e },
    )
  }
  return binding
}

/** True once the addon has been loaded in this process (used to keep `--version` addon-free). */
export function isNativeLoaded(): boolean {
  return binding !== undefined
}

async function guard<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (e) {
    throw fromNativeError(e)
  }
}

function guardSync<T>(call: () => T): T {
  try {
    return call()
  } catch (e) {
    throw fromNativeError(e)
  }
}

/** A native repository handle whose every method throws `VgerError`. */
export class NativeRepo {
  readonly #raw: NativeRepository

  constructor(raw: NativeRepository) {
    this.#raw = raw
  }

  info(): RepoInfo {
    return guardSync(() => this.#raw.info())
  }

  openWarnings(): Warning[] {
    return guardSync(() => this.#raw.openWarnings?.() ?? [])
  }

  backup(opts: BackupOptions, onProgress?: ProgressCallback, cancel?: NativeCancelToken): Promise<BackupOutcome> {
    return guard(() => this.#raw.backup(opts, onProgress, cancel))
  }

  listSnapshots(): Promise<SnapshotListing> {
    return guard(() => this.#raw.listSnapshots())
  }

  listContents(snapshot: string, path?: string): Promise<ListEntry[]> {
    return guard(() => this.#raw.listContents(snapshot, path))
  }

  restore(opts: RestoreOptions, onProgress?: ProgressCallback, cancel?: NativeCancelToken): Promise<RestoreOutcome> {
    return guard(() => this.#raw.restore(opts, onProgress, cancel))
  }

  stats(): Promise<RepoStats> {
    return guard(() => this.#need('stats').stats())
  }

  diff(a: string, b: string): Promise<DiffOutcome> {
    return guard(() => this.#need('diff').diff(a, b))
  }

  find(opts: FindOptions): Promise<FindResult[]> {
    return guard(() => this.#need('find').find(opts))
  }

  changePassphrase(newPassphrase: string, kdf?: KdfParams): Promise<void> {
    return guard(() => this.#need('changePassphrase').changePassphrase(newPassphrase, kdf))
  }

  deleteSnapshots(ids: string[], dryRun?: boolean): Promise<ForgetOutcome> {
    return guard(() => this.#need('deleteSnapshots').deleteSnapshots(ids, dryRun))
  }

  prune(opts: PruneOptions): Promise<PruneOutcome> {
    return guard(() => this.#need('prune').prune(opts))
  }

  compact(opts: CompactOptions, onProgress?: ProgressCallback, cancel?: NativeCancelToken): Promise<CompactOutcome> {
    return guard(() => this.#need('compact').compact(opts, onProgress, cancel))
  }

  check(opts: CheckOptions, onProgress?: ProgressCallback, cancel?: NativeCancelToken): Promise<CheckReport> {
    return guard(() => this.#need('check').check(opts, onProgress, cancel))
  }

  repair(opts: RepairOptions, onProgress?: ProgressCallback, cancel?: NativeCancelToken): Promise<RepairOutcome> {
    return guard(() => this.#need('repair').repair(opts, onProgress, cancel))
  }

  locks(): Promise<LockInfo[]> {
    return guard(() => this.#need('locks').locks())
  }

  breakLock(): Promise<number> {
    return guard(() => this.#need('breakLock').breakLock())
  }

  deleteRepository(dryRun?: boolean): Promise<DestroyOutcome> {
    return guard(() => this.#need('deleteRepository').deleteRepository(dryRun))
  }

  /** Whether the loaded addon has this method (newer engine features land one by one). */
  has(method: OptionalMethod): boolean {
    return typeof (this.#raw as unknown as Record<string, unknown>)[method] === 'function'
  }

  #need(method: OptionalMethod): NativeRepository {
    if (!this.has(method)) throw notAvailable(method)
    return this.#raw
  }
}

/** The jobs of the full cycle after the backup. */
export type MaintenanceStep = 'prune' | 'compact' | 'check'

/** Methods an older build of the addon may lack (checked before each call). */
export type OptionalMethod =
  | MaintenanceStep
  | 'stats'
  | 'diff'
  | 'find'
  | 'changePassphrase'
  | 'deleteSnapshots'
  | 'repair'
  | 'locks'
  | 'breakLock'
  | 'deleteRepository'

function notAvailable(method: string): VgerError {
  return new VgerError(
    'VGER_NOT_AVAILABLE',
    `this build of the native addon has no "${method}" yet; rebuild it with "npm run build:native" from a newer checkout`,
  )
}

export function initRepository(opts: InitOptions): Promise<RepoInfo> {
  return guard(() => loadNative().Repository.init(opts))
}

export async function openRepository(opts: OpenOptions): Promise<NativeRepo> {
  return new NativeRepo(await guard(() => loadNative().Repository.open(opts)))
}

export function probeRepository(url: string): Promise<RepoInfo> {
  return guard(() => loadNative().Repository.probe(url))
}

/** Removes every lock object of the repository at `url` without a passphrase (falls back to VGER_NOT_AVAILABLE on an older addon). */
export function breakLocksAt(url: string): Promise<number> {
  return guard(() => {
    const Repository = loadNative().Repository
    if (typeof Repository.breakLocks !== 'function') return Promise.reject(notAvailable('breakLocks'))
    return Repository.breakLocks(url)
  })
}

export function createCancelToken(): NativeCancelToken {
  return guardSync(() => new (loadNative().CancelToken)())
}

export function nativeVersion(): string {
  return guardSync(() => loadNative().version())
}
