/**
 * A repository's storage without its keys: objects by key over the engine's backends (a local
 * directory, S3, SFTP). `vger server` stores what its clients send through it and never holds a
 * passphrase. Every call runs off the JS thread; failures are `VgerError`s with the engine's codes
 * (`VGER_OBJECT_MISSING`, `VGER_ALREADY_EXISTS`, `VGER_CORRUPT` for a pack that is not what its name says).
 */
import type * as native from '../crates/vger-napi/index.cjs'
import { asVgerError } from './errors.js'
import { loadAddon } from './repository.js'

export type { AssembledPack, PackVerdict, RepackRange, StoredObject } from '../crates/vger-napi/index.cjs'

async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (e) {
    throw asVgerError(e)
  }
}

export class Store {
  readonly #native: native.Store

  private constructor(handle: native.Store) {
    this.#native = handle
  }

  /** Opens the storage at `url` (a local path, s3:// or sftp://); nothing is cached. */
  static async open(url: string, settings?: native.BackendSettings): Promise<Store> {
    return new Store(await call(() => loadAddon().Store.open(url, settings)))
  }

  get(key: string): Promise<Buffer> {
    return call(() => this.#native.get(key))
  }

  /** `len` bytes at `offset`; fewer when the object ends first. */
  getRange(key: string, offset: number, len: number): Promise<Buffer> {
    return call(() => this.#native.getRange(key, offset, len))
  }

  /** Creates `key` holding `data` atomically, never over an existing object. */
  async putNew(key: string, data: Buffer): Promise<void> {
    await call(() => this.#native.putNew(key, data))
  }

  /** Like `putNew` for `packs/<xx>/<id>`, once the bytes' BLAKE3 is checked against `<id>`. */
  async putPack(key: string, data: Buffer): Promise<void> {
    await call(() => this.#native.putPack(key, data))
  }

  /** Every object under `prefix` ('' = all), sorted by key. */
  list(prefix: string): Promise<native.StoredObject[]> {
    return call(() => this.#native.list(prefix))
  }

  /** The size of `key`, or null when there is no such object. */
  async size(key: string): Promise<number | null> {
    return (await call(() => this.#native.size(key))) ?? null
  }

  async delete(key: string): Promise<void> {
    await call(() => this.#native.delete(key))
  }

  /** Prepares an empty location for a repository. */
  async create(): Promise<void> {
    await call(() => this.#native.create())
  }

  /** Reads a pack and compares its BLAKE3 with the id its key names. */
  verifyPack(key: string): Promise<native.PackVerdict> {
    return call(() => this.#native.verifyPack(key))
  }

  /**
   * Builds the pack `head ‖ ranges ‖ tail` from packs stored here (each checked against its id first: a
   * damaged one is `VGER_CORRUPT`) and stores it under the key of its hash.
   */
  assemble(head: Buffer, ranges: native.RepackRange[], tail: Buffer): Promise<native.AssembledPack> {
    return call(() => this.#native.assemble(head, ranges, tail))
  }
}
