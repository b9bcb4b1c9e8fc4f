//! `prune`: apply retention. [`plan_prune`] decides with [`crate::retention::plan`] (reading only,
//! without a lease); [`prune`] applies the plan, removing snapshot objects only (under a shared
//! lease, so backups go on), and `compact` reclaims the space afterwards.

use std::collections::HashMap;

use vger_types::{Result, VgerError};

use super::delete_snapshots::{delete_snapshots, delete_unchecked};
use crate::repo::Repository;
use crate::repo::snapshot::Snapshot;
use crate::retention::{self, GroupBy, GroupPlan, RetentionPolicy};

#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// The policy of snapshots whose label has none of its own.
    pub policy: RetentionPolicy,
    /// Per-source policies, by snapshot label.
    pub by_label: HashMap<String, RetentionPolicy>,
    pub group_by: GroupBy,
    /// Only snapshots with one of these labels (all when empty).
    pub labels: Vec<String>,
    /// Only snapshots with every tag of one of these groups (all when empty).
    pub tags: Vec<Vec<String>>,
    /// Apply even when a group would lose every snapshot.
    pub force: bool,
    pub now_ns: i64,
    pub utc_offset_secs: i64,
}

/// Which snapshots retention keeps and removes.
#[derive(Debug, Clone)]
pub struct PrunePlan {
    pub groups: Vec<GroupPlan>,
    /// Snapshots by id, for showing the plan.
    pub snapshots: HashMap<vger_types::SnapshotId, Snapshot>,
    pub keep: u64,
    pub remove: u64,
    /// The snapshots to remove.
    doomed: Vec<Snapshot>,
    /// Left behind by an interrupted tag, pin or description change; removed too.
    pub superseded: Vec<vger_types::SnapshotId>,
    force: bool,
}

/// Applies the policies to the snapshots (reads only).
pub fn plan_prune(repo: &Repository, opts: &PruneOptions) -> Result<PrunePlan> {
    if opts.policy.is_empty() && opts.by_label.values().all(RetentionPolicy::is_empty) {
        return Err(VgerError::invalid(
            "no retention rule is configured: set `retention` (for example keep_daily: 7) in the config",
        ));
    }
    let list = repo.snapshots()?;
    let chosen: Vec<Snapshot> = list
        .snapshots
        .into_iter()
        .filter(|s| opts.labels.is_empty() || opts.labels.contains(&s.label))
        .filter(|s| s.matches_tags(&opts.tags))
        .collect();
    let policy_for = |s: &Snapshot| {
        opts.by_label
            .get(&s.label)
            .cloned()
            .unwrap_or_else(|| opts.policy.clone())
    };
    let mut groups = retention::plan(
        &chosen,
        policy_for,
        opts.group_by,
        opts.now_ns,
        opts.utc_offset_secs,
    );
    let snapshots: HashMap<_, _> = chosen.into_iter().map(|s| (s.id, s)).collect();
    // A pinned snapshot stays whatever the policy says; the rules still count it.
    for g in &mut groups {
        for d in &mut g.decisions {
            if snapshots.get(&d.id).is_some_and(|s| s.meta.pinned) {
                d.keep = true;
                d.reasons.push("pinned".into());
            }
        }
        g.policy_would_remove_all = g.decisions.iter().all(|d| !d.keep);
    }
    let doomed: Vec<Snapshot> = groups
        .iter()
        .flat_map(|g| &g.decisions)
        .filter(|d| !d.keep)
        .filter_map(|d| snapshots.get(&d.id).cloned())
        .collect();
    Ok(PrunePlan {
        keep: (snapshots.len() - doomed.len()) as u64,
        remove: doomed.len() as u64,
        groups,
        snapshots,
        doomed,
        superseded: list.superseded,
        force: opts.force,
    })
}

/// Removes the snapshots the plan does not keep; returns how many were removed. Without `force`
/// it refuses a plan that would remove every snapshot of a group.
pub fn prune(repo: &Repository, plan: &PrunePlan) -> Result<u64> {
    if !plan.force
        && let Some(g) = plan.groups.iter().find(|g| g.policy_would_remove_all)
    {
        return Err(VgerError::invalid(format!(
            "the retention policy would remove every snapshot of {}; check the policy, or use --force",
            describe(g)
        )));
    }
    let n = delete_snapshots(repo, &plan.doomed)?;
    delete_unchecked(repo, plan.superseded.iter().copied())?;
    Ok(n)
}

fn describe(g: &GroupPlan) -> String {
    let mut parts = Vec::new();
    if let Some(h) = &g.hostname {
        parts.push(format!("host {h:?}"));
    }
    if let Some(l) = &g.label {
        parts.push(format!("label {l:?}"));
    }
    if parts.is_empty() {
        "the repository".into()
    } else {
        parts.join(" and ")
    }
}
