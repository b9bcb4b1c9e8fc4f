/**
 * The JSON the web UI's API answers with (docs/ui.md). The front end keeps a copy of these types in
 * ui/src/api-types.ts; test/unit/mount-ui-api.test.ts checks at compile time that the two agree.
 * Names and paths are in the engine's escaped form (`\xNN` for a byte that is not UTF-8, `\\` for `\`).
 */

export interface ApiError {
  code: string
  message: string
}

export interface SnapshotStatsJson {
  files: number
  dirs: number
  bytes: number
  newBytes: number
}

export interface SnapshotJson {
  id: string
  /** The snapshot's directory name: what every other call names it by. */
  name: string
  time: string
  label: string
  hostname: string
  username: string
  paths: string[]
  partial: boolean
  stats: SnapshotStatsJson
}

export interface SnapshotsResponse {
  repository: string
  /** Oldest first. */
  snapshots: SnapshotJson[]
  /** Snapshot objects that could not be read. */
  damaged: number
}

export interface EntryJson {
  name: string
  kind: string
  size: number
  mtime: string
  mtimeMs: number
  mode: number
  user: string
  group: string
  target?: string
  etag: string
}

export interface DirResponse {
  snapshot: string
  path: string
  entry: EntryJson
  /** Entries in the directory in all. */
  total: number
  offset: number
  entries: EntryJson[]
}

export interface FindVersionJson {
  /** The snapshot's directory name. */
  snapshot: string
  time: string
  size: number
  mtime: string
  status: string
}

export interface FindResultJson {
  path: string
  kind: string
  versions: FindVersionJson[]
}

export interface FindResponse {
  pattern: string
  results: FindResultJson[]
  /** More paths matched than were returned. */
  truncated: boolean
}

export interface DiffEntryJson {
  path: string
  change: string
  kind: string
  oldKind?: string
  oldSize?: number
  newSize?: number
  fields: string[]
}

export interface DiffResponse {
  a: string
  b: string
  entries: DiffEntryJson[]
  truncated: boolean
  added: number
  removed: number
  modified: number
  metadata: number
  bytesAdded: number
  bytesRemoved: number
}

export interface RestoreRequest {
  snapshot: string
  /** Escaped paths from the snapshot's root; empty: the whole snapshot. */
  paths: string[]
  /** An absolute path on the server's machine: a new or empty directory. */
  dest: string
}

export interface RestoreResponse {
  dest: string
  files: number
  dirs: number
  symlinks: number
  bytes: number
  errors: { path: string; message: string }[]
  skipped: { path: string; reason: string }[]
}
