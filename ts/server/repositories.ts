/**
 * A served repository: its store, its quota accounting, its persisted state, and the one scan that
 * counts what the store holds. Uploads and deletes wait for the scan, so the count they change is exact;
 * a scan that fails (the storage unreachable at start) is tried again by the next request that needs it.
 */
import { Store } from '../store.js'
import type { ServerRepository } from './config.js'
import type { ServerLog } from './log.js'
import { RepositoryState } from './state.js'
import { isLockKey, isValidKey } from './target.js'
import { Usage } from './usage.js'

export class ServedRepository {
  readonly usage: Usage
  #scan: Promise<void> | undefined

  private constructor(
    readonly config: ServerRepository,
    readonly store: Store,
    readonly state: RepositoryState,
    private readonly log: ServerLog,
  ) {
    this.usage = new Usage(config.quotaBytes)
  }

  static async open(config: ServerRepository, stateDir: string, log: ServerLog): Promise<ServedRepository> {
    const store = await Store.open(config.url, config.settings)
    const state = await RepositoryState.load(stateDir, config.name, (m) => log.event('warn', m, { repo: config.name }))
    return new ServedRepository(config, store, state, log)
  }

  get name(): string {
    return this.config.name
  }

  /** Resolves once the store's contents are counted (at most one scan runs; a failed one is retried). */
  ready(): Promise<void> {
    this.#scan ??= this.#count().catch((e: unknown) => {
      this.#scan = undefined
      throw e
    })
    return this.#scan
  }

  async #count(): Promise<void> {
    const objects = await this.store.list('')
    let bytes = 0
    let newest: number | null = null
    const locks = new Set<string>()
    for (const o of objects) {
      bytes += o.size
      if (o.key.startsWith('snapshots/') && isValidKey(o.key) && o.modified != null) newest = Math.max(newest ?? 0, o.modified)
      if (isLockKey(o.key)) locks.add(o.key)
    }
    this.usage.reset(bytes)
    // Owners of locks that are gone are forgotten; a missing last-snapshot time is taken from the listing.
    let changed = false
    for (const key of this.state.lockKeys()) if (!locks.has(key)) changed = this.state.forgetLock(key) || changed
    if (this.state.lastSnapshotAt === null && newest !== null) {
      this.state.lastSnapshotAt = newest
      changed = true
    }
    if (changed) await this.state.save()
    this.log.event('info', 'repository counted', { repo: this.name, objects: objects.length, bytes, quota: this.config.quotaBytes ?? null })
  }
}
