/**
 * The repository routes (docs/server.md section 4): listings, `?stats`, `?init`, `?verify-packs`, and
 * `?repack` (in repack.ts).
 */
import { readJson } from './body.js'
import { type ServerContext, permitted } from './context.js'
import { HttpError, badRequest, forbidden } from './errors.js'
import type { Exchange } from './exchange.js'
import { repackRoute } from './repack.js'
import { type RepositoryAction, isPackKey, isValidKey } from './target.js'
import { throughSymlink } from './symlinks.js'

const MAX_VERIFY = 100

function method(ex: Exchange, expected: 'GET' | 'POST', what: string): void {
  if (ex.method !== expected) throw new HttpError(405, 'VGER_SERVER_METHOD', `${what} takes ${expected}`, { Allow: expected })
}

export async function listRoute(ctx: ServerContext, ex: Exchange, name: string, prefix: string): Promise<void> {
  method(ex, 'GET', '?list')
  const { repo } = permitted(ctx, ex, name, 'read')
  const objects = await ex.busy(() => repo.store.list(prefix))
  // Only keys of the layout: a stray file in the store is nobody's business.
  const listed = objects.filter((o) => isValidKey(o.key)).map((o) => ({ key: o.key, size: o.size, modified: o.modified ?? null }))
  ex.json(200, listed)
}

export async function repositoryRoute(ctx: ServerContext, ex: Exchange, name: string, action: RepositoryAction): Promise<void> {
  switch (action) {
    case 'stats':
      return stats(ctx, ex, name)
    case 'init':
      return init(ctx, ex, name)
    case 'verify-packs':
      return verifyPacks(ctx, ex, name)
    case 'repack':
      method(ex, 'POST', '?repack')
      return repackRoute(ctx, ex, name)
  }
}

async function stats(ctx: ServerContext, ex: Exchange, name: string): Promise<void> {
  method(ex, 'GET', '?stats')
  const { repo } = permitted(ctx, ex, name, 'read')
  const objects = (await ex.busy(() => repo.store.list(''))).filter((o) => isValidKey(o.key))
  const at = repo.state.lastSnapshotAt
  ex.json(200, {
    objects: objects.length,
    bytes: objects.reduce((n, o) => n + o.size, 0),
    packs: objects.filter((o) => isPackKey(o.key)).length,
    quotaBytes: repo.usage.quota ?? null,
    lastSnapshotAt: at === null ? null : new Date(at * 1000).toISOString(),
  })
}

async function init(ctx: ServerContext, ex: Exchange, name: string): Promise<void> {
  method(ex, 'POST', '?init')
  const { repo, who } = permitted(ctx, ex, name, 'append')
  if (who.grants.get(name) !== 'full' && (await repo.store.list('')).length > 0) {
    throw forbidden(`repository "${name}" holds objects already; only a full token may prepare it again`)
  }
  await repo.store.create()
  ex.send(204, undefined)
}

async function verifyPacks(ctx: ServerContext, ex: Exchange, name: string): Promise<void> {
  method(ex, 'POST', '?verify-packs')
  const { repo } = permitted(ctx, ex, name, 'read')
  const body = (await readJson(ex, 64 * 1024, ctx.config.clientTimeoutSecs * 1000)) as { packs?: unknown } | null
  const packs = body?.packs
  if (!Array.isArray(packs) || packs.length > MAX_VERIFY || !packs.every((k) => typeof k === 'string' && isValidKey(k) && isPackKey(k))) {
    throw badRequest(`the body must be {"packs": [...]} with at most ${MAX_VERIFY} pack keys (packs/<xx>/<id>)`)
  }
  const results = []
  for (const key of packs as string[]) {
    const root = repo.config.localPath
    const size = root !== undefined && (await throughSymlink(root, key)) ? null : await repo.store.size(key)
    if (size === null) {
      results.push({ key, ok: false, size: 0, error: 'missing' })
      continue
    }
    // A pack is read whole to be hashed: it takes its size from the upload memory budget meanwhile.
    const release = await ex.busy(() => ctx.budget.acquire(size))
    try {
      const v = await ex.busy(() => repo.store.verifyPack(key))
      results.push({ key: v.key, ok: v.ok, size: v.size, error: v.error ?? null })
    } finally {
      release()
    }
  }
  ex.json(200, { results })
}
