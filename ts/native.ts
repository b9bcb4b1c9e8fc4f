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
  DiffOutcome,
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

export function loadNative(): NativeBinding {
  if (binding !== undefined) return binding
  try {
    binding = createRequire(import.meta.url)(ADDON_PATH) as NativeBinding
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

  /** Whether the loaded addon has this method (newer engine features land one by one). */
  has(method: MaintenanceStep | 'stats' | 'diff' | 'find' | 'changePassphrase'): boolean {
    return typeof (this.#raw as unknown as Record<string, unknown>)[method] === 'function'
  }

  /** Runs prune/compact/check when the addon has them; the options are passed through unchanged. */
  maintenance(step: MaintenanceStep, opts: Record<string, unknown>, onProgress?: ProgressCallback, cancel?: NativeCancelToken): Promise<unknown> {
    const fn = (this.#raw as unknown as Record<string, unknown>)[step]
    if (typeof fn !== 'function') return Promise.reject(notAvailable(step))
    return guard(() => (fn as MaintenanceFn).call(this.#raw, opts, onProgress, cancel))
  }

  #need(method: 'stats' | 'diff' | 'find' | 'changePassphrase'): NativeRepository {
    if (!this.has(method)) throw notAvailable(method)
    return this.#raw
  }
}

export type MaintenanceStep = 'prune' | 'compact' | 'check'
type MaintenanceFn = (opts: Record<string, unknown>, onProgress?: ProgressCallback, cancel?: NativeCancelToken) => Promise<unknown>

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

export function createCancelToken(): NativeCancelToken {
  return guardSync(() => new (loadNative().CancelToken)())
}

export function nativeVersion(): string {
  return guardSync(() => loadNative().version())
}
