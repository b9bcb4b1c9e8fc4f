//! A backup's commit beside compaction (docs/architecture.md, "Backups beside compaction").
//!
//! A backup deduplicates against the index it loaded when it took its lease. A compaction that
//! switches the index while the backup runs may drop blobs the backup references (they were
//! unused when the compaction marked) and move others; it defers deleting the old packs while
//! the backup's lease is live. So when the index in storage is no longer the one the backup
//! loaded, the backup marks its own snapshot, and every blob of it that the index in storage now
//! lacks is indexed again at the place the backup's view has it (the pack is still there). The
//! check runs before the snapshot is written (a snapshot is never committed over data that is
//! gone: that is an error) and again after it, until the index is stable: a compaction that
//! switched after that last look marks the snapshot itself (see `compact`).

use std::collections::HashMap;

use vger_types::{PackId, Result, VgerError};

use crate::cancel::CancelToken;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::repo::index::seal_segment;
use crate::repo::liveness;
use crate::repo::pack::{self, BlobEntry};
use crate::repo::snapshot::Snapshot;

/// How many times the index may change under a committing backup before it gives up.
const ROUNDS: usize = 8;

/// Makes sure the index in storage names every blob of `snap`; returns the blobs indexed again.
pub fn settle(
    repo: &Repository,
    snap: &Snapshot,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<u64> {
    let mut total = 0;
    for _ in 0..ROUNDS {
        if repo.index_still_current()? {
            return Ok(total);
        }
        total += reindex(repo, snap, progress, cancel)?;
    }
    Err(VgerError::LockLost(format!(
        "the index kept changing while this backup committed ({ROUNDS} compactions); run the backup again"
    )))
}

fn reindex(
    repo: &Repository,
    snap: &Snapshot,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<u64> {
    let load = repo.read_index()?;
    // Read through this backup's own view, which knows where everything it referenced was.
    let live = liveness::mark(repo, std::slice::from_ref(snap), progress, cancel)?;
    let mut again: HashMap<PackId, Vec<BlobEntry>> = HashMap::new();
    {
        let view = repo.index();
        for id in live.blobs.keys() {
            if load.index.contains(id) {
                continue;
            }
            let Some((pack, loc)) = view.get(id) else {
                return Err(gone(&id.to_hex()));
            };
            again.entry(pack).or_default().push(BlobEntry {
                id: *id,
                kind: loc.kind,
                offset: loc.offset,
                len: loc.len,
                raw_len: loc.raw_len,
            });
        }
    }
    for p in again.keys() {
        if repo.backend().size(&pack::key(p))?.is_none() {
            return Err(gone(&pack::key(p)));
        }
    }
    let mut groups: Vec<(PackId, Vec<BlobEntry>)> = again.into_iter().collect();
    groups.sort_by_key(|(p, _)| p.0);
    let n = groups.iter().map(|(_, e)| e.len() as u64).sum();
    let key = if groups.is_empty() {
        None
    } else {
        Some(repo.put_segment(|generation| {
            seal_segment(&groups, generation, repo.crypter(), &repo.config().id)
        })?)
    };
    repo.install_index(load);
    repo.add_to_index(&groups);
    if let Some(key) = key {
        repo.note_segment(key);
    }
    Ok(n)
}

fn gone(what: &str) -> VgerError {
    VgerError::corrupt(
        what,
        "data this backup deduplicated against is no longer in the repository, so no snapshot was saved; run the backup again (it stores the data anew) and `vger check`",
    )
}
