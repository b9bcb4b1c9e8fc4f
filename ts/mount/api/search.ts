/**
 * Searching and comparing over the API: `find` by a name glob across one or all snapshots (the engine's
 * `find`: the glob matches the last path component, `*` stays within it), and the `diff` of two snapshots.
 * Both answer with at most a bounded number of rows and say when they cut the list.
 */
import type { FindOptions } from '../../../crates/vger-napi/index.cjs'
import type { MountRequest } from '../server.js'
import { Query, badRequest, parseSnapshotPath, sendJson, snapshotParam } from './http.js'
import type { DiffResponse, FindResponse } from './types.js'

export const MAX_FIND_RESULTS = 1000
export const MAX_DIFF_ENTRIES = 5000

export async function find(r: MountRequest): Promise<void> {
  const q = new Query(r.req.url)
  const pattern = q.required('pattern')
  if (pattern.length > 1024) throw badRequest('"pattern" is longer than 1024 characters')
  const which = q.optional('snapshot') ?? 'all'
  const path = parseSnapshotPath(q.optional('path'))
  const icase = q.flag('icase')
  const kind = q.oneOf('kind', ['any', 'file', 'dir', 'symlink'] as const, 'any')
  const all = await r.fs.snapshots()
  const searched = which === 'all' ? all : [await snapshotParam(r.fs, q)]
  const nameOf = new Map(all.map((d) => [d.snapshot.id, d.name]))
  for (const d of searched) nameOf.set(d.snapshot.id, d.name)
  const body: FindResponse = { pattern, results: [], truncated: false }
  if (searched.length > 0) {
    const opts: FindOptions = { snapshots: searched.map((d) => d.snapshot.id) }
    if (icase) opts.iname = pattern
    else opts.name = pattern
    if (path !== '') opts.path = path
    if (kind !== 'any') opts.kind = kind
    const results = await r.repository.find(opts)
    body.truncated = results.length > MAX_FIND_RESULTS
    body.results = results.slice(0, MAX_FIND_RESULTS).map((res) => ({
      path: res.path.replace(/^\/+/, ''),
      kind: res.kind,
      versions: res.versions.map((v) => ({
        snapshot: nameOf.get(v.snapshot) ?? v.snapshot,
        time: v.time,
        size: v.size,
        mtime: v.mtime,
        status: v.status,
      })),
    }))
  }
  sendJson(r.res, 200, body)
}

export async function diff(r: MountRequest): Promise<void> {
  const q = new Query(r.req.url)
  const a = await snapshotParam(r.fs, q, 'a')
  const b = await snapshotParam(r.fs, q, 'b')
  const outcome = await r.repository.diff(a.snapshot.id, b.snapshot.id)
  const body: DiffResponse = {
    a: a.name,
    b: b.name,
    entries: outcome.entries.slice(0, MAX_DIFF_ENTRIES).map((e) => ({
      path: e.path.replace(/^\/+/, ''),
      change: e.change,
      kind: e.kind,
      ...(e.oldKind === undefined ? {} : { oldKind: e.oldKind }),
      ...(e.oldSize === undefined ? {} : { oldSize: e.oldSize }),
      ...(e.newSize === undefined ? {} : { newSize: e.newSize }),
      fields: e.fields,
    })),
    truncated: outcome.entries.length > MAX_DIFF_ENTRIES,
    added: outcome.added,
    removed: outcome.removed,
    modified: outcome.modified,
    metadata: outcome.metadata,
    bytesAdded: outcome.bytesAdded,
    bytesRemoved: outcome.bytesRemoved,
  }
  sendJson(r.res, 200, body)
}
