//! `vger delete`: remove a whole repository. The config goes first, so an interrupted delete
//! leaves a location that no longer opens as a repository (and that `init` refuses until it is
//! emptied) rather than a repository with holes.

use vger_storage::delete_if_present;
use vger_types::Result;

use crate::repo::Repository;
use crate::repo::lock::LockKind;

/// What deleting the repository removes.
#[derive(Debug, Clone, Default)]
pub struct DeleteRepositoryPlan {
    /// Objects in storage, the config included.
    pub objects: u64,
    pub bytes: u64,
}

/// Counts what [`delete_repository`] would remove (reads only).
pub fn plan_delete_repository(repo: &Repository) -> Result<DeleteRepositoryPlan> {
    let mut plan = DeleteRepositoryPlan::default();
    for prefix in ["packs", "index", "snapshots", "keys", "locks"] {
        for o in repo.backend().list_meta(prefix)? {
            plan.objects += 1;
            plan.bytes += o.size;
        }
    }
    plan.objects += 1;
    plan.bytes += repo.backend().size("config")?.unwrap_or(0);
    Ok(plan)
}

/// Removes every object of the repository, under an exclusive lease, and then its location.
pub fn delete_repository(repo: &Repository) -> Result<()> {
    let lease = repo.lease(LockKind::Exclusive, "delete")?;
    lease.ensure(repo)?;
    let b = repo.backend();
    b.delete("config")?;
    for prefix in ["snapshots", "index", "packs", "keys"] {
        for key in b.list(prefix)? {
            delete_if_present(b.as_ref(), &key)?;
        }
    }
    drop(lease);
    for key in b.list("locks")? {
        let _ = b.delete(&key);
    }
    b.remove_debris(std::time::Duration::ZERO)?;
    b.destroy()
}
