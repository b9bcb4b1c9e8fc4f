/**
 * Bearer tokens. server.yaml holds each token's SHA-256 only; a request's token is hashed and compared
 * with every configured hash in constant time (no early exit, so the time says nothing about which hash
 * came close). The token itself is never stored, logged or echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Permission } from './config-schema.js'

export interface Identity {
  /** The SHA-256 of the token, hex: what server.yaml and the lock-owner records hold. */
  hash: string
  /** Repository name → permission. */
  grants: ReadonlyMap<string, Permission>
  /** The token is the configured `metrics_token`. */
  metrics: boolean
}

const RANK: Readonly<Record<Permission, number>> = { read: 1, append: 2, full: 3 }
/** Longer than any token worth hashing; anything longer is refused unhashed. */
const MAX_TOKEN = 1024

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^Bearer +([^\s]+) *$/i.exec(header)
  const token = m?.[1]
  return token === undefined || token.length > MAX_TOKEN ? undefined : token
}

export class Tokens {
  readonly #entries: { digest: Buffer; hash: string; grants: ReadonlyMap<string, Permission>; metrics: boolean }[] = []

  constructor(tokens: ReadonlyMap<string, ReadonlyMap<string, Permission>>, metricsToken?: string) {
    for (const [hash, grants] of tokens) this.#entries.push({ digest: Buffer.from(hash, 'hex'), hash, grants, metrics: false })
    if (metricsToken !== undefined) {
      const known = this.#entries.find((e) => e.hash === metricsToken)
      if (known !== undefined) known.metrics = true
      else this.#entries.push({ digest: Buffer.from(metricsToken, 'hex'), hash: metricsToken, grants: new Map(), metrics: true })
    }
  }

  /** Who holds `token`, or undefined for an unknown one. Every configured hash is compared. */
  identify(token: string): Identity | undefined {
    const digest = createHash('sha256').update(token, 'utf8').digest()
    let found: Identity | undefined
    for (const e of this.#entries) {
      if (timingSafeEqual(digest, e.digest) && found === undefined) found = { hash: e.hash, grants: e.grants, metrics: e.metrics }
    }
    return found
  }
}

/** Whether `who` holds at least `need` on `repo`. */
export function allows(who: Identity, repo: string, need: Permission): boolean {
  const has = who.grants.get(repo)
  return has !== undefined && RANK[has] >= RANK[need]
}
