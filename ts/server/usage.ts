/**
 * A repository's bytes against its quota. An upload reserves its Content-Length before a byte of its body
 * is read; the reservation becomes stored bytes when the object is created and is given back otherwise.
 * Node runs this on one thread, so "check, then reserve" cannot interleave: the sum of stored and reserved
 * bytes never exceeds the quota, however many uploads run at once.
 */
export class Usage {
  #stored = 0
  #reserved = 0

  constructor(readonly quota: number | undefined) {}

  get stored(): number {
    return this.#stored
  }

  get reserved(): number {
    return this.#reserved
  }

  /** Sets what the store holds (from a listing, before any upload or delete is accepted). */
  reset(stored: number): void {
    this.#stored = stored
  }

  /**
   * Reserves `bytes`; false when that would go over the quota by more than `allowance` (lock objects get a
   * little room above it, so a full repository can still be locked for prune and compact).
   */
  reserve(bytes: number, allowance = 0): boolean {
    if (this.quota !== undefined && this.#stored + this.#reserved + bytes > this.quota + allowance) return false
    this.#reserved += bytes
    return true
  }

  /** A reserved upload was created. */
  commit(bytes: number): void {
    this.#reserved -= bytes
    this.#stored += bytes
  }

  /** A reserved upload did not happen. */
  release(bytes: number): void {
    this.#reserved -= bytes
  }

  /** An object of `bytes` was deleted. */
  removed(bytes: number): void {
    this.#stored = Math.max(0, this.#stored - bytes)
  }
}
