/**
 * The memory uploads may hold at once: a byte-weighted semaphore, first come first served. An upload
 * waits (its body unread, so TCP holds the sender back) until its share is free; one larger than the
 * whole budget waits until it is alone.
 */
export class ByteBudget {
  #used = 0
  readonly #waiting: { bytes: number; grant: () => void }[] = []

  constructor(readonly capacity: number) {}

  get used(): number {
    return this.#used
  }

  get waiting(): number {
    return this.#waiting.length
  }

  /** Resolves with the release function once `bytes` (at most the capacity) are granted. */
  acquire(bytes: number): Promise<() => void> {
    const n = Math.min(Math.max(bytes, 0), this.capacity)
    return new Promise((resolve) => {
      const grant = (): void => {
        this.#used += n
        let released = false
        resolve(() => {
          if (released) return
          released = true
          this.#used -= n
          this.#drain()
        })
      }
      if (this.#waiting.length === 0 && this.#used + n <= this.capacity) grant()
      else this.#waiting.push({ bytes: n, grant })
    })
  }

  #drain(): void {
    for (let next = this.#waiting[0]; next !== undefined && this.#used + next.bytes <= this.capacity; next = this.#waiting[0]) {
      this.#waiting.shift()
      next.grant()
    }
  }
}
