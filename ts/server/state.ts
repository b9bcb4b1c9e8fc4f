/**
 * What the server remembers about a repository across restarts, in `<state_dir>/<repo>.json`: which
 * token created each lock object (an `append` token may delete only its own locks), and when the last
 * snapshot arrived. Writes replace the file atomically (temporary file, fsync, rename) and run one at a
 * time; each `save()` resolves once a write that includes every change made before it is durable.
 */
import { open, mkdir, readFile, rename } from 'node:fs/promises'
import path from 'node:path'

interface StateFile {
  version: 1
  /** Lock key → SHA-256 of the token that created it. */
  locks: Record<string, string>
  /** Seconds since the epoch. */
  lastSnapshotAt: number | null
}

export class RepositoryState {
  readonly #locks: Map<string, string>
  #lastSnapshotAt: number | null
  #chain: Promise<void> = Promise.resolve()

  private constructor(
    readonly file: string,
    data: StateFile,
  ) {
    this.#locks = new Map(Object.entries(data.locks))
    this.#lastSnapshotAt = data.lastSnapshotAt
  }

  /** Reads the state of `repo`; a missing file is an empty state, an unreadable one is reported by `warn`. */
  static async load(dir: string, repo: string, warn: (message: string) => void): Promise<RepositoryState> {
    const file = path.join(dir, `${repo}.json`)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const empty: StateFile = { version: 1, locks: {}, lastSnapshotAt: null }
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      return new RepositoryState(file, empty)
    }
    const data = parseState(text)
    if (data === undefined)
      warn(`${file} is not a valid state file; starting with no lock owners (append tokens cannot delete older locks)`)
    return new RepositoryState(file, data ?? empty)
  }

  lockOwner(key: string): string | undefined {
    return this.#locks.get(key)
  }

  lockKeys(): string[] {
    return [...this.#locks.keys()]
  }

  setLockOwner(key: string, tokenHash: string): void {
    this.#locks.set(key, tokenHash)
  }

  forgetLock(key: string): boolean {
    return this.#locks.delete(key)
  }

  get lastSnapshotAt(): number | null {
    return this.#lastSnapshotAt
  }

  set lastSnapshotAt(seconds: number | null) {
    this.#lastSnapshotAt = seconds
  }

  /** Writes the state as it is when the write starts (after the writes queued before it). */
  save(): Promise<void> {
    const run = this.#chain.then(() => this.#write())
    this.#chain = run.catch(() => {})
    return run
  }

  async #write(): Promise<void> {
    const data: StateFile = { version: 1, locks: Object.fromEntries(this.#locks), lastSnapshotAt: this.#lastSnapshotAt }
    const tmp = `${this.file}.tmp`
    const f = await open(tmp, 'w', 0o600)
    try {
      await f.writeFile(`${JSON.stringify(data, null, 1)}\n`)
      await f.sync()
    } finally {
      await f.close()
    }
    await rename(tmp, this.file)
  }
}

function parseState(text: string): StateFile | undefined {
  try {
    const v = JSON.parse(text) as Partial<StateFile> | null
    const locks = v?.locks
    if (v?.version !== 1 || typeof locks !== 'object' || locks === null) return undefined
    if (!Object.values(locks).every((h) => typeof h === 'string')) return undefined
    const at = v.lastSnapshotAt
    return { version: 1, locks, lastSnapshotAt: typeof at === 'number' ? at : null }
  } catch {
    return undefined
  }
}
