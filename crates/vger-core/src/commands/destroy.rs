//! `vger delete`: remove a whole repository. The config goes first, so an interrupted delete
//! leaves a location that no longer opens as a repository (and that `init` refuses until it is
//! emptied) rather than a repository with holes.

use vger_storage::delete_if_present;
use vger_types::Result;

use crate::repo::Repository;
use crate::repo::lock::LockKind;

#[derive(Debug, Clone, Default)]
pub struct DestroyPlan {
    pub objects: u64,
    pub bytes: u64,
}

pub fn plan_destroy(repo: &Repository) -> Result<DestroyPlan> {
    let mut plan = DestroyPlan::default();
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

pub fn destroy(repo: &Repository) -> Result<DestroyPlan> {
    let plan = plan_destroy(repo)?;
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
    b.destroy()?;
    Ok(plan)
}
