//! `snapshot delete` (and the apply step of `prune`): remove snapshot objects. Only the snapshot
//! objects go; the data they alone used is reclaimed by the next `compact`, which computes
//! liveness from the snapshots that remain. Deleting snapshots needs only a shared lease, so it
//! never blocks backups for longer than the deletions take.

use vger_storage::delete_if_present;
use vger_types::{Result, VgerError};

use crate::repo::Repository;
use crate::repo::lock::LockKind;
use crate::repo::snapshot::{self, Snapshot};

/// Resolves every reference first: one unknown or ambiguous id removes nothing.
pub fn plan_delete_snapshots(repo: &Repository, specs: &[String]) -> Result<Vec<Snapshot>> {
    if specs.is_empty() {
        return Err(VgerError::invalid("give at least one snapshot id"));
    }
    let mut out: Vec<Snapshot> = Vec::new();
    for s in specs {
        let snap = repo.resolve_snapshot(s)?;
        if !out.iter().any(|x| x.id == snap.id) {
            out.push(snap);
        }
    }
    out.sort_by_key(|s| (s.start_ns, s.id));
    Ok(out)
}

/// Removes the planned snapshot objects; returns how many were removed (one already gone, for
/// example removed by a concurrent prune, is not an error).
/// A pinned snapshot refuses the whole plan.
pub fn delete_snapshots(repo: &Repository, plan: &[Snapshot]) -> Result<u64> {
    if let Some(p) = plan.iter().find(|s| s.meta.pinned) {
        let short = &p.id.to_hex()[..8];
        return Err(VgerError::invalid(format!(
            "snapshot {short} is pinned, so it is not removed: run `vger snapshot unpin {short}` first"
        )));
    }
    delete_unchecked(repo, plan.iter().map(|s| s.id))
}

pub(crate) fn delete_unchecked(
    repo: &Repository,
    ids: impl IntoIterator<Item = vger_types::SnapshotId>,
) -> Result<u64> {
    let _lease = repo.lease(LockKind::Shared, "snapshot delete")?;
    let mut n = 0;
    for id in ids {
        n += u64::from(delete_if_present(
            repo.backend().as_ref(),
            &snapshot::key(&id),
        )?);
    }
    Ok(n)
}
