/**
 * The native addon's surface, declared by hand from docs/binding.md.
 *
 * The generated `crates/vger-napi/index.d.cts` is not imported on purpose: this file is the contract the
 * TypeScript layer is written against, and a drift between the two shows up as a failing binding test
 * rather than as a silent type change. All numbers are plain `number`, never bigint.
 */

export interface ChunkerParams {
  minSize: number
  avgSize: number
  maxSize: number
}

export interface KdfParams {
  memoryKib: number
  iterations: number
  parallelism: number
}

export type EncryptionMode = 'auto' | 'aes256gcm' | 'chacha20poly1305' | 'none'
export type CompressionAlgorithm = 'lz4' | 'zstd' | 'none'

export interface InitOptions {
  /** Local path or file:// URL (other schemes: VGER_UNSUPPORTED_BACKEND for now). */
  url: string
  /** Required unless encryption === 'none'. */
  passphrase?: string
  encryption: EncryptionMode
  /** Default 512 KiB / 2 MiB / 8 MiB. */
  chunker?: ChunkerParams
  /** Default m=64 MiB, t=3, p=4. */
  kdf?: KdfParams
}

export interface OpenOptions {
  url: string
  passphrase?: string
}

export interface RepoInfo {
  url: string
  id: string
  encryption: string
  formatVersion: number
  chunker: ChunkerParams
  /** RFC 3339. */
  created: string
}

export interface BackupOptions {
  /** Absolute or relative source paths. */
  paths: string[]
  label: string
  /** gitignore-style patterns, relative to each source root. */
  exclude?: string[]
  hostname: string
  username: string
  /** 'lz4' (default) | 'zstd' | 'none'. */
  compression?: CompressionAlgorithm
  /** 1..22, default 3. */
  zstdLevel?: number
  /** Directory of the file cache (the CLI uses `$XDG_CACHE_HOME/vger` or `~/.cache/vger`). Unchanged
   * files (device, inode, size, mtime, ctime) are not read again. Without it, or on a cold cache, the
   * parent snapshot (latest with the same label and hostname) stands in. */
  cacheDir?: string
}

export interface SnapshotStats {
  files: number
  dirs: number
  symlinks: number
  others: number
  /** Original size of regular files. */
  bytes: number
  newChunks: number
  /** Raw bytes not yet in the repository. */
  newBytes: number
  /** Bytes written. */
  storedBytes: number
  /** Entries skipped with a warning. */
  skipped: number
}

export interface Warning {
  path: string
  code: string
  message: string
}

export interface BackupOutcome {
  snapshotId: string
  partial: boolean
  stats: SnapshotStats
  warnings: Warning[]
  warningsOmitted: number
  durationMs: number
}

export interface SnapshotSummary {
  id: string
  time: string
  hostname: string
  username: string
  label: string
  paths: string[]
  partial: boolean
  stats: SnapshotStats
}

export interface SnapshotListing {
  snapshots: SnapshotSummary[]
  hiddenNewer: number
  /** Snapshot objects that failed authentication or decoding. In the addon, not yet in docs/binding.md. */
  damaged?: Warning[]
}

export type EntryKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'chardev' | 'blockdev' | 'socket'

export interface ListEntry {
  /** '/'-separated, relative to the snapshot root; non-UTF-8 bytes escaped as \xNN. */
  path: string
  kind: EntryKind
  size: number
  mode: number
  uid: number
  gid: number
  mtime: string
  target?: string
}

export interface RestoreOptions {
  /** Snapshot id prefix or 'latest'. */
  snapshot: string
  dest: string
  pattern?: string
}

export interface RestoreOutcome {
  files: number
  dirs: number
  symlinks: number
  others: number
  bytes: number
  /** Files that could not be restored (damaged data is never written). */
  errors: Warning[]
}

export interface ProgressEvent {
  type: 'backup' | 'restore' | 'warning'
  files: number
  bytes: number
  newBytes: number
  /** Restore only (0 when unknown). */
  totalFiles: number
  totalBytes: number
  /** For 'warning'. */
  path?: string
  code?: string
  message?: string
}

export type ProgressCallback = (e: ProgressEvent) => void

export interface NativeCancelToken {
  cancel(): void
  readonly cancelled: boolean
}

export interface NativeRepository {
  info(): RepoInfo
  /** Problems found while opening (e.g. a damaged index segment). In the addon, not yet in docs/binding.md. */
  openWarnings?(): Warning[]
  backup(opts: BackupOptions, onProgress?: ProgressCallback, cancel?: NativeCancelToken): Promise<BackupOutcome>
  listSnapshots(): Promise<SnapshotListing>
  listContents(snapshot: string, path?: string): Promise<ListEntry[]>
  restore(opts: RestoreOptions, onProgress?: ProgressCallback, cancel?: NativeCancelToken): Promise<RestoreOutcome>
}

export interface NativeBinding {
  CancelToken: new () => NativeCancelToken
  Repository: {
    init(opts: InitOptions): Promise<RepoInfo>
    open(opts: OpenOptions): Promise<NativeRepository>
    probe(url: string): Promise<RepoInfo>
  }
  version(): string
}
