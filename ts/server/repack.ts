/**
 * `POST /<repo>/?repack` (docs/server.md section 4): server-side repack. A compacting client sends the new
 * pack's header and sealed trailer and the ranges of packs stored here that go between them; the engine
 * checks each source pack against its id, builds the pack and stores it under the key of its hash. The
 * blobs a compaction keeps never cross the network. A `full` token only; `repack: false` in the
 * repository's config answers 501, and the client then copies the blobs through itself.
 */
import { isVgerError } from '../errors.js'
import { readJson } from './body.js'
import { type ServerContext, permitted } from './context.js'
import { HttpError, badRequest, notFound } from './errors.js'
import type { Exchange } from './exchange.js'
import { guard } from './objects.js'
import { isPackKey, isValidKey } from './target.js'

/** The body: hex header and trailer, and the ranges (a 32 MiB pack of 16 KiB blobs has ~2,000). */
const MAX_BODY = 16 * 1024 * 1024
const MAX_RANGES = 100_000
/** A pack header is 25 bytes; a trailer, 45 bytes per blob plus its seal. */
const MAX_HEAD_HEX = 2 * 1024

interface Range {
  pack: string
  offset: number
  length: number
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isHex = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length <= max && v.length % 2 === 0 && /^[0-9a-f]*$/.test(v)

function parse(body: unknown): { head: Buffer; tail: Buffer; ranges: Range[] } {
  const b = body as { head?: unknown; tail?: unknown; ranges?: unknown } | null
  const ranges = b?.ranges
  const ok =
    b !== null &&
    typeof b === 'object' &&
    isHex(b.head, MAX_HEAD_HEX) &&
    isHex(b.tail, MAX_BODY) &&
    Array.isArray(ranges) &&
    ranges.length > 0 &&
    ranges.length <= MAX_RANGES &&
    ranges.every((r: unknown) => {
      const x = r as Partial<Range> | null
      return (
        x !== null &&
        typeof x === 'object' &&
        typeof x.pack === 'string' &&
        isValidKey(x.pack) &&
        isPackKey(x.pack) &&
        isCount(x.offset) &&
        isCount(x.length) &&
        x.length > 0
      )
    })
  if (!ok) {
    throw badRequest(
      `the body must be {"head": hex, "ranges": [{"pack": "packs/<xx>/<id>", "offset": n, "length": n}, …], "tail": hex} with 1 to ${MAX_RANGES} ranges`,
    )
  }
  return { head: Buffer.from(b.head as string, 'hex'), tail: Buffer.from(b.tail as string, 'hex'), ranges: ranges as Range[] }
}

export async function repackRoute(ctx: ServerContext, ex: Exchange, name: string): Promise<void> {
  const { repo } = permitted(ctx, ex, name, 'full')
  if (!repo.config.repack) {
    throw new HttpError(
      501,
      'VGER_SERVER_NOT_IMPLEMENTED',
      `server-side repack is off for repository "${name}" (repack: false); compact copies through the client`,
    )
  }
  const { head, tail, ranges } = parse(await readJson(ex, MAX_BODY, ctx.config.clientTimeoutSecs * 1000))
  const size = head.length + tail.length + ranges.reduce((n, r) => n + r.length, 0)
  if (size > ctx.config.maxObjectSize) {
    throw new HttpError(
      413,
      'VGER_SERVER_TOO_LARGE',
      `the pack would hold ${size} bytes; an object may hold at most ${ctx.config.maxObjectSize} (max_object_size)`,
    )
  }
  await repo.ready()
  for (const pack of new Set(ranges.map((r) => r.pack))) await guard(ctx, repo, pack, false)
  if (!repo.usage.reserve(size)) {
    throw new HttpError(
      413,
      'VGER_SERVER_QUOTA',
      `repository "${name}" would go over its quota of ${repo.usage.quota} bytes (${repo.usage.stored} stored, ${size} more asked); ` +
        'delete the packs the compaction retires first, or ask the administrator for a larger quota',
    )
  }
  // The new pack, and one source pack at a time, are in memory while it is built.
  const release = await ex.busy(() => ctx.budget.acquire(2 * size))
  try {
    const done = await ex.busy(() => repo.store.assemble(head, ranges, tail))
    if (done.created) repo.usage.commit(size)
    else repo.usage.release(size)
    ex.json(201, { key: done.key, size: done.size })
  } catch (e) {
    repo.usage.release(size)
    if (isVgerError(e, 'VGER_CORRUPT')) {
      throw new HttpError(
        400,
        'VGER_SERVER_BAD_PACK',
        `${errorObject(e)} is damaged (its bytes do not hash to its id); nothing was built, copy through the client`,
      )
    }
    if (isVgerError(e, 'VGER_OBJECT_MISSING')) throw notFound('a source pack')
    if (isVgerError(e, 'VGER_INVALID_ARGUMENT')) throw badRequest(`${(e as Error).message}; nothing was built`)
    throw e
  } finally {
    release()
  }
}

function errorObject(e: unknown): string {
  const m = /^(packs\/[0-9a-f]{2}\/[0-9a-f]{64})/.exec((e as Error).message)
  return m?.[1] ?? 'a source pack'
}
