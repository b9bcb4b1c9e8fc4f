/**
 * A repository's snapshots as one read-only tree, for `vger dump` and `vger mount`: the top level holds a
 * directory per snapshot (named by time, label and id, see `snapshotDirName`), each the snapshot's tree.
 * Nothing is loaded up front: a directory is listed when asked for, a file read in windows as a consumer
 * pulls (memory stays at one window per stream, whatever the file's size). Names are in the engine's
 * escaped form (ts/browse/names.ts).
 */
import { Readable } from 'node:stream'
import type { DirEntry, SnapshotSummary } from '../../crates/vger-napi/index.cjs'
import { VgerError } from '../errors.js'
import type { Repository } from '../repository.js'

/** Bytes asked of the engine at a time when streaming a file. */
export const READ_WINDOW = 1 << 20

export interface SnapshotDir {
  /** The directory's name at the top level. */
  name: string
  snapshot: SnapshotSummary
}

/** What a path names: the top level, a snapshot's root, or an entry inside a snapshot. */
export type Located = { kind: 'top' } | { kind: 'entry'; snapshot: SnapshotDir; path: string; entry: DirEntry }

/**
 * `2026-12-03T10-15-00Z_home_1a2b3c4d`: sortable by time, readable, unique by the id (the label loses any
 * `/`). The `:` of the time become `-` so the name is valid on every file system.
 */
export function snapshotDirName(s: SnapshotSummary): string {
  const time = s.time.replace(/\.\d+/, '').replaceAll(':', '-')
  const label = s.label.replaceAll('/', '_').replaceAll('\\', '_') || 'unlabelled'
  return `${time}_${label}_${s.id.slice(0, 8)}`
}

export interface SnapshotFsOptions {
  /** Show only this snapshot (a full id); default all. */
  only?: string
  /** How long a listing of the snapshots is reused before the repository is asked again (default 5 s). */
  refreshMs?: number
}

export class SnapshotFs {
  readonly #repo: Repository
  readonly #only: string | undefined
  readonly #refreshMs: number
  #listed: { at: number; dirs: SnapshotDir[] } | undefined

  constructor(repo: Repository, opts: SnapshotFsOptions = {}) {
    this.#repo = repo
    this.#only = opts.only
    this.#refreshMs = opts.refreshMs ?? 5000
  }

  /** The snapshot directories, oldest first (listed again after `refreshMs`, so new snapshots appear). */
  async snapshots(): Promise<SnapshotDir[]> {
    const now = Date.now()
    if (this.#listed !== undefined && now - this.#listed.at < this.#refreshMs) return this.#listed.dirs
    const listing = await this.#repo.listSnapshots()
    const dirs = listing.snapshots
      .filter((s) => this.#only === undefined || s.id === this.#only)
      .map((snapshot) => ({ name: snapshotDirName(snapshot), snapshot }))
    this.#listed = { at: now, dirs }
    return dirs
  }

  /** The snapshot directory named `name`, asking the repository again once if it is not known yet. */
  async snapshot(name: string): Promise<SnapshotDir | undefined> {
    const find = (dirs: SnapshotDir[]) => dirs.find((d) => d.name === name)
    const hit = find(await this.snapshots())
    if (hit !== undefined) return hit
    this.#listed = undefined
    return find(await this.snapshots())
  }

  /** What the escaped `names` (from the top) point at, or undefined when nothing is there. */
  async locate(names: readonly string[]): Promise<Located | undefined> {
    const [first, ...rest] = names
    if (first === undefined) return { kind: 'top' }
    const snapshot = await this.snapshot(first)
    if (snapshot === undefined) return undefined
    const path = rest.join('/')
    const entry = await this.#repo.statPath(snapshot.snapshot.tree, path)
    if (entry === null) return undefined
    return { kind: 'entry', snapshot, path, entry }
  }

  /** The entries of a directory of `snapshot`, sorted by name. */
  readDir(snapshot: SnapshotDir, path: string): Promise<DirEntry[]> {
    return this.#repo.readDir(snapshot.snapshot.tree, path)
  }

  /** Bytes [start, end) of a file of `snapshot`, as the engine authenticates them. */
  read(snapshot: SnapshotDir, path: string, start: number, length: number): Promise<Buffer> {
    return this.#repo.readFile(snapshot.snapshot.tree, path, start, length)
  }

  /**
   * A stream of bytes [start, end) of the file at `path` (`size` bytes long), read one window at a time as
   * the consumer pulls. A damaged chunk ends the stream with its error (VGER_CORRUPT): never wrong bytes.
   */
  createReadStream(snapshot: SnapshotDir, path: string, start: number, end: number): Readable {
    let at = start
    const stream: Readable = new Readable({
      highWaterMark: READ_WINDOW,
      read: (): void => {
        if (at >= end) {
          stream.push(null)
          return
        }
        const length = Math.min(READ_WINDOW, end - at)
        this.read(snapshot, path, at, length).then(
          (data) => {
            if (data.length === 0) {
              stream.destroy(new VgerError('VGER_CORRUPT', `${path}: the file ends at ${at} bytes, before its recorded size`))
              return
            }
            at += data.length
            stream.push(data)
            if (at >= end) stream.push(null)
          },
          (e: unknown) => stream.destroy(e as Error),
        )
      },
    })
    return stream
  }
}
