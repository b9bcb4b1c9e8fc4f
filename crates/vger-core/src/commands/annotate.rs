//! `snapshot tag`, `snapshot pin|unpin` and `snapshot describe`: change what a snapshot says
//! about itself.
//!
//! Snapshot objects are never changed in place: caches keep them by id, and an append-only
//! server refuses overwrites. A change writes a new snapshot (new id, same tree, time, host,
//! label and statistics) that names the old one in its `supersedes` field, then removes the old
//! one. If the removal does not happen (a crash, an append-only server), the listing hides the
//! old snapshot because a present one supersedes it, and the next prune removes it.

use vger_storage::delete_if_present;
use vger_types::{Result, SnapshotId, VgerError};

use super::delete_snapshots::plan_delete_snapshots;
use crate::repo::Repository;
use crate::repo::lock::LockKind;
use crate::repo::snapshot::{self, Snapshot, SnapshotMeta, normalize_tags};

/// How the tags change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagChange {
    Add(Vec<String>),
    Remove(Vec<String>),
    Set(Vec<String>),
}

/// A change to apply to each chosen snapshot; `None` leaves that field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotation {
    pub tags: Option<TagChange>,
    pub pinned: Option<bool>,
    pub description: Option<String>,
}

/// One chosen snapshot and, when the change alters it, the snapshot that replaces it.
#[derive(Debug, Clone)]
pub struct AnnotatePlan {
    pub items: Vec<(Snapshot, Option<Snapshot>)>,
}

impl AnnotatePlan {
    /// How many snapshots the change alters.
    pub fn changed(&self) -> usize {
        self.items.iter().filter(|(_, n)| n.is_some()).count()
    }
}

/// Resolves every reference first (one unknown id changes nothing) and computes the new
/// snapshots; reads only.
pub fn plan_annotate(
    repo: &Repository,
    specs: &[String],
    change: &Annotation,
) -> Result<AnnotatePlan> {
    if change == &Annotation::default() {
        return Err(VgerError::invalid("nothing to change"));
    }
    let tags = match &change.tags {
        Some(TagChange::Add(t) | TagChange::Remove(t) | TagChange::Set(t)) => normalize_tags(t)?,
        None => Vec::new(),
    };
    if matches!(&change.tags, Some(TagChange::Add(_) | TagChange::Remove(_))) && tags.is_empty() {
        return Err(VgerError::invalid("give at least one tag"));
    }
    if let Some(d) = &change.description
        && d.len() > 4096
    {
        return Err(VgerError::invalid(
            "the description is longer than 4096 bytes",
        ));
    }
    let items = plan_delete_snapshots(repo, specs)?
        .into_iter()
        .map(|old| {
            let meta = apply(&old.meta, change, &tags)?;
            let new = (meta != old.meta).then(|| Snapshot {
                id: SnapshotId(vger_crypto::random_bytes()),
                format_version: snapshot::FORMAT_VERSION,
                meta: SnapshotMeta {
                    supersedes: Some(old.id),
                    ..meta
                },
                ..old.clone()
            });
            Ok((old, new))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AnnotatePlan { items })
}

fn apply(meta: &SnapshotMeta, change: &Annotation, tags: &[String]) -> Result<SnapshotMeta> {
    let mut out = meta.clone();
    match &change.tags {
        Some(TagChange::Set(_)) => out.tags = tags.to_vec(),
        Some(TagChange::Add(_)) => {
            out.tags.extend(tags.iter().cloned());
            out.tags = normalize_tags(&out.tags)?;
        }
        Some(TagChange::Remove(_)) => out.tags.retain(|t| !tags.contains(t)),
        None => {}
    }
    if let Some(p) = change.pinned {
        out.pinned = p;
    }
    if let Some(d) = &change.description {
        out.description = d.clone();
    }
    // `supersedes` is left as it is, so an unchanged result compares equal to `meta` and the
    // caller writes nothing for it.
    Ok(out)
}

/// Writes each new snapshot, then removes the one it replaces; returns how many changed.
pub fn annotate(repo: &Repository, plan: &AnnotatePlan) -> Result<u64> {
    let lease = repo.lease(LockKind::Shared, "snapshot change")?;
    let mut n = 0;
    for (old, new) in &plan.items {
        let Some(new) = new else { continue };
        lease.ensure(repo)?;
        repo.backend().put_new(
            &snapshot::key(&new.id),
            &new.seal(repo.crypter(), &repo.config().id),
        )?;
        delete_if_present(repo.backend().as_ref(), &snapshot::key(&old.id))?;
        n += 1;
    }
    Ok(n)
}
