/**
 * Snapshot addressing: `latest` (the newest by time, among the `-S` labels when given) or a unique prefix
 * of an id (at least 4 hex digits). Resolved here from `listSnapshots()`, so native calls always get a full id.
 */
import { VgerError } from '../errors.js'
import type { SnapshotListing, SnapshotSummary } from '../repository.js'
import type { Repository } from '../repository.js'

const PREFIX = /^[0-9a-f]{4,64}$/

/** Snapshots sorted oldest first, restricted to `labels` when any are given. */
export function snapshotsByTime(listing: SnapshotListing, labels: readonly string[] = []): SnapshotSummary[] {
  const wanted = labels.length === 0 ? listing.snapshots : listing.snapshots.filter((s) => labels.includes(s.label))
  return [...wanted].sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id))
}

/** Picks the snapshot `ref` names in `listing` (pure; see the module comment). */
export function pickSnapshot(listing: SnapshotListing, ref: string, labels: readonly string[] = []): SnapshotSummary {
  const onlyLabels = labels.length === 0 ? '' : ` with label ${labels.map((l) => `"${l}"`).join(' or ')}`
  if (ref === 'latest') {
    const newest = snapshotsByTime(listing, labels).at(-1)
    if (newest === undefined) {
      throw new VgerError('VGER_SNAPSHOT_NOT_FOUND', `there is no snapshot${onlyLabels} yet; run "vger backup" first`)
    }
    return newest
  }
  const prefix = ref.toLowerCase()
  if (!PREFIX.test(prefix)) {
    throw new VgerError('VGER_USAGE', `"${ref}" is not a snapshot: give "latest" or at least 4 hex digits of an id (see "vger list")`)
  }
  const matches = listing.snapshots.filter((s) => s.id.startsWith(prefix))
  const [only, second] = matches
  if (only === undefined) {
    // A snapshot object that cannot be read is not "not found": say so, and what it means.
    const damaged = listing.damaged.find((w) => (w.path.split('/').at(-1) ?? '').startsWith(prefix))
    if (damaged !== undefined) {
      const id = damaged.path.split('/').at(-1) ?? damaged.path
      throw new VgerError(
        'VGER_CORRUPT',
        `snapshot ${id.slice(0, 12)} is damaged and cannot be read (${damaged.message}); ` +
          'no file of it can be restored. Other snapshots are unaffected: "vger check" lists what is damaged',
      )
    }
    throw new VgerError('VGER_SNAPSHOT_NOT_FOUND', `no snapshot id starts with "${ref}"; run "vger list" to see the ids`)
  }
  if (second !== undefined) {
    const ids = matches.map((s) => s.id.slice(0, 12)).join(', ')
    throw new VgerError('VGER_SNAPSHOT_AMBIGUOUS', `"${ref}" matches ${matches.length} snapshots (${ids}); give more hex digits`)
  }
  return only
}

export async function resolveSnapshot(repo: Repository, ref: string, labels: readonly string[] = []): Promise<SnapshotSummary> {
  return pickSnapshot(await repo.listSnapshots(), ref, labels)
}
