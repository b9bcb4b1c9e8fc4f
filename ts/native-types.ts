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
  /** How long to wait for a conflicting lock before failing with VGER_LOCKED (default 600 s). */
  lockWaitSecs?: number
  /** Lifetime of this client's lock objects; renewed every third of it (default 180 s). */
  lockTtlSecs?: number
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
  /** A directory holding an entry with one of these names (e.g. `.nobackup`, `CACHEDIR.TAG`) is skipped;
   * a source root never is. */
  excludeIfPresent?: string[]
  /** Stay on the source root's filesystem: mount points are stored as empty directories. Default false. */
  oneFileSystem?: boolean
  /** Honour `.gitignore` files found in the tree (each applies below its directory). Default false. */
  gitIgnore?: boolean
  /** Record extended attributes. Default true. */
  xattrs?: boolean
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
  /** Root tree id (hex). */
  tree: string
  formatVersion: number
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
  type: 'backup' | 'restore' | 'step' | 'warning'
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
  /**
   * For 'step': the phase of a maintenance job (mark, repack, packs, data, snapshots…) and its
   * progress (`total` 0 when unknown).
   */
  phase?: string
  done: number
  total: number
}

export interface RepoStats {
  snapshots: number
  /** Sum of the snapshots' file bytes. */
  originalBytes: number
  uniqueChunks: number
  /** Raw bytes of the unique chunks. */
  deduplicatedBytes: number
  /** Stored (compressed + encrypted) bytes of the unique chunks. */
  compressedBytes: number
  packs: number
  /** Total bytes of all repository objects. */
  storedBytes: number
}

export type DiffChange = 'added' | 'removed' | 'modified' | 'metadata'

export interface DiffEntry {
  path: string
  change: DiffChange
  kind: EntryKind
  oldKind?: EntryKind
  oldSize?: number
  newSize?: number
  /** Which fields differ, for modified/metadata: 'content'|'size'|'kind'|'mode'|'uid'|'gid'|'mtime'|'target'|'xattrs'. */
  fields: string[]
}

export interface DiffOutcome {
  /** Full ids. */
  a: string
  b: string
  /** Sorted by path. */
  entries: DiffEntry[]
  added: number
  removed: number
  modified: number
  metadata: number
  bytesAdded: number
  bytesRemoved: number
}

export interface FindOptions {
  /** Snapshot ids; results follow snapshot time order. */
  snapshots: string[]
  /** '/'-separated prefix relative to the snapshot root. */
  path?: string
  /** Glob on the basename. */
  name?: string
  /** Case-insensitive glob on the basename. */
  iname?: string
  kind?: 'file' | 'dir' | 'symlink'
  /** Bytes. */
  larger?: number
  smaller?: number
}

export interface FindVersion {
  snapshot: string
  time: string
  size: number
  mtime: string
  status: 'added' | 'modified' | 'unchanged'
}

export interface FindResult {
  path: string
  kind: EntryKind
  versions: FindVersion[]
}

/** What `deleteSnapshots` removed (or, with `dryRun`, would remove). */
export interface ForgetOutcome {
  snapshots: SnapshotSummary[]
  removed: number
  applied: boolean
}

/** Retention rules as the engine takes them. */
export interface Retention {
  keepLast?: number
  keepHourly?: number
  keepDaily?: number
  keepWeekly?: number
  keepMonthly?: number
  keepYearly?: number
  /** "36h", "2d", "1w", "6m", "1y" (the engine parses it: m = 31 days, y = 365 days). */
  keepWithin?: string
}

export interface GroupByOptions {
  host: boolean
  label: boolean
  paths: boolean
}

export interface PruneOptions {
  retention: Retention
  /** Per-source policies keyed by snapshot label. */
  byLabel?: Record<string, Retention>
  groupBy?: GroupByOptions
  labels?: string[]
  force?: boolean
  dryRun?: boolean
  /** The caller's offset from UTC, for local days, weeks, months and years. */
  utcOffsetSecs?: number
}

export interface PruneDecision {
  snapshot: SnapshotSummary
  keep: boolean
  /** The rules that keep it ("last 1", "daily 3", "within 2d"…); empty when it is removed. */
  reasons: string[]
}

export interface PruneGroup {
  hostname?: string
  label?: string
  paths?: string[]
  policyWouldRemoveAll: boolean
  /** Newest first. */
  decisions: PruneDecision[]
}

export interface PruneOutcome {
  groups: PruneGroup[]
  keep: number
  remove: number
  removed: number
  applied: boolean
}

export interface CompactOptions {
  /** Repack packs more than this percent unused (default 10). */
  thresholdPct?: number
  maxRepackBytes?: number
  /** Unindexed packs younger than this are left alone (default 3600). */
  graceSecs?: number
  dryRun?: boolean
}

export interface PackUse {
  pack: string
  size: number
  usedBytes: number
}

export interface CompactOutcome {
  applied: boolean
  snapshots: number
  packsTotal: number
  bytesTotal: number
  repack: PackUse[]
  delete: PackUse[]
  orphans: number
  youngOrphans: number
  segments: number
  bytesFreed: number
  bytesRepacked: number
  packsWritten: number
  packsDeleted: number
  segmentsWritten: number
  debrisRemoved: number
  damagedBlobs: number
}

export interface CheckOptions {
  verifyData?: boolean
  readDataSubsetPct?: number
}

export interface Problem {
  object: string
  code: string
  message: string
}

export interface DamagedSnapshot {
  snapshot: SnapshotSummary
  /** Affected files ('/' for the root), possibly only the first ones. */
  files: string[]
  filesTotal: number
}

export interface CheckReport {
  ok: boolean
  snapshots: number
  trees: number
  chunksReferenced: number
  packs: number
  packsRead: number
  blobsVerified: number
  bytesRead: number
  unindexedPacks: number
  hiddenNewer: number
  problems: Problem[]
  damaged: DamagedSnapshot[]
}

export interface RepairOptions {
  verifyData?: boolean
  dryRun?: boolean
}

export interface RepairOutcome {
  applied: boolean
  packsScanned: number
  packsDamaged: string[]
  packsNewer: string[]
  blobsIndexed: number
  blobsDamaged: number
  blobsSalvaged: number
  entriesDropped: number
  entriesAdded: number
  segmentsReplaced: number
  check: CheckReport
}

export interface LockInfo {
  key: string
  kind: 'shared' | 'exclusive'
  created: string
  expires: string
  live: boolean
  hostname: string
  pid: number
  operation: string
}

export interface DestroyOutcome {
  objects: number
  bytes: number
  applied: boolean
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
  stats(): Promise<RepoStats>
  diff(a: string, b: string): Promise<DiffOutcome>
  find(opts: FindOptions): Promise<FindResult[]>
  changePassphrase(newPassphrase: string, kdf?: KdfParams): Promise<void>
  /** Removes snapshot objects (all references are resolved first; one bad id removes nothing). */
  deleteSnapshots(ids: string[], dryRun?: boolean): Promise<ForgetOutcome>
  prune(opts: PruneOptions): Promise<PruneOutcome>
  compact(opts: CompactOptions, onProgress?: ProgressCallback, cancel?: NativeCancelToken): Promise<CompactOutcome>
  check(opts: CheckOptions, onProgress?: ProgressCallback, cancel?: NativeCancelToken): Promise<CheckReport>
  repair(opts: RepairOptions, onProgress?: ProgressCallback, cancel?: NativeCancelToken): Promise<RepairOutcome>
  /** Lock objects in the repository (live and stale). */
  locks(): Promise<LockInfo[]>
  /** Removes every lock object at once; returns how many. */
  breakLock(): Promise<number>
  /** Deletes the whole repository (or, with dryRun, says what that would remove). */
  deleteRepository(dryRun?: boolean): Promise<DestroyOutcome>
}

export interface NativeBinding {
  CancelToken: new () => NativeCancelToken
  Repository: {
    init(opts: InitOptions): Promise<RepoInfo>
    open(opts: OpenOptions): Promise<NativeRepository>
    probe(url: string): Promise<RepoInfo>
    /** Removes every lock object without opening the repository (no passphrase needed). */
    breakLocks(url: string): Promise<number>
  }
  version(): string
  /** Allocator tuning for a CLI process (absent in older addons). */
  tuneAllocator?(): void
}
