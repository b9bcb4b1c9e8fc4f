//! `check --repair`: rebuild the index from the packs themselves. Every pack in storage is read,
//! its id and sealed table verified, and (with `verify_data`) every blob authenticated; the new
//! index lists exactly the blobs that can be read. Entries for missing or damaged data disappear,
//! so the next backup of a file that still exists uploads those chunks again — and since chunk
//! ids are content addresses, that heals every older snapshot that referenced them. A damaged
//! pack (bytes that no longer match its id) gives up only its damaged blobs: the others are
//! authenticated one by one and copied into a new pack before the damaged one is removed. Snapshots
//! are never rewritten or deleted (least of all one written by a newer vger); files whose data is
//! gone stay listed in the report and restore names them instead of writing wrong bytes.
//!
//! [`plan_repair`] takes an exclusive lease, reads every pack and builds the new index (and the
//! salvage packs) in memory; the plan keeps the lease, and [`repair`] writes it under that same
//! lease. A dry run drops the plan, which releases the lease.

use std::collections::HashSet;

use vger_storage::delete_if_present;
use vger_types::{PackId, Result, VgerError};

use crate::cancel::CancelToken;
use crate::progress::{Event, Progress};
use crate::repo::Repository;
use crate::repo::index::seal_segment_superseding;
use crate::repo::lock::{Lease, LockKind};
use crate::repo::pack::{self, BlobEntry, PACK_TARGET, PackWriter};

fn seal_pack(repo: &Repository, w: PackWriter) -> (PackId, Vec<u8>, Vec<BlobEntry>) {
    w.finish(repo.crypter(), &repo.config().id)
}

/// What the current index says a pack holds.
fn old_entries(repo: &Repository, id: &PackId) -> Vec<BlobEntry> {
    repo.index()
        .iter()
        .filter(|(_, p, _)| p == id)
        .map(|(c, _, l)| BlobEntry {
            id: *c,
            kind: l.kind,
            offset: l.offset,
            len: l.len,
            raw_len: l.raw_len,
        })
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct RepairOptions {
    /// Authenticate every blob and leave damaged ones out of the index.
    pub verify_data: bool,
}

/// What a repair writes and removes, decided under an exclusive lease that the plan holds until
/// it is applied by [`repair`] or dropped.
pub struct RepairPlan {
    pub packs_scanned: u64,
    /// Damaged packs (bytes do not match the id, or the table is unreadable): their readable
    /// blobs move to new packs, then the damaged pack is removed.
    pub packs_damaged: Vec<String>,
    /// Blobs copied out of damaged packs.
    pub blobs_salvaged: u64,
    /// Packs written by a newer vger (left in place, never touched).
    pub packs_newer: Vec<String>,
    pub blobs_indexed: u64,
    /// Blobs left out because they failed authentication.
    pub blobs_damaged: u64,
    /// Index entries that pointed at missing or unreadable data.
    pub entries_dropped: u64,
    /// Blobs found in packs that no index segment listed.
    pub entries_added: u64,
    /// Segments replaced by the rebuilt index.
    pub segments_replaced: Vec<String>,
    /// The new index: the readable blobs of every intact pack and of the salvage packs.
    rebuilt: Vec<(PackId, Vec<BlobEntry>)>,
    /// Sealed salvage packs (id, bytes, blobs), written before anything is removed.
    salvaged: Vec<(PackId, Vec<u8>, Vec<BlobEntry>)>,
    /// The exclusive lease the plan was made under; the apply fences with it.
    lease: Lease,
}

/// Reads and verifies every pack under an exclusive lease (writes nothing); the lease stays with
/// the plan.
pub fn plan_repair(
    repo: &Repository,
    opts: &RepairOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<RepairPlan> {
    let lease = repo.lease(LockKind::Exclusive, "repair")?;
    repo.reload_index()?;
    let mut plan = RepairPlan {
        packs_scanned: 0,
        packs_damaged: Vec::new(),
        blobs_salvaged: 0,
        packs_newer: Vec::new(),
        blobs_indexed: 0,
        blobs_damaged: 0,
        entries_dropped: 0,
        entries_added: 0,
        segments_replaced: Vec::new(),
        rebuilt: Vec::new(),
        salvaged: Vec::new(),
        lease,
    };
    let keys = repo.backend().list("packs")?;
    let total = keys.len() as u64;
    let mut salvage = PackWriter::new();
    for (i, key) in keys.iter().enumerate() {
        cancel.check()?;
        let Some(id) = key
            .rsplit('/')
            .next()
            .and_then(vger_types::ChunkId::from_hex)
            .map(|c| PackId(c.0))
        else {
            continue;
        };
        plan.packs_scanned += 1;
        let bytes = repo.backend().get(key)?;
        let intact = pack::verify_id(&bytes, &id).is_ok();
        let table = match pack::parse_table(&bytes, &id, repo.crypter(), &repo.config().id) {
            Ok(t) => Some(t),
            Err(VgerError::NewerFormat { .. }) => {
                plan.packs_newer.push(key.clone());
                continue;
            }
            Err(VgerError::Corrupt { .. }) => None,
            Err(e) => return Err(e),
        };
        // A damaged pack's blobs are found through its table or, failing that, the old index.
        let candidates = match table {
            Some(t) => t,
            None => old_entries(repo, &id),
        };
        let verify = opts.verify_data || !intact;
        let mut good = Vec::with_capacity(candidates.len());
        for e in candidates {
            let what = format!("chunk {} in {key}", e.id.to_hex());
            let Some(sealed) = bytes.get(e.offset as usize..(e.offset as usize + e.len as usize))
            else {
                plan.blobs_damaged += 1;
                continue;
            };
            let cap = (e.raw_len as usize).max(1);
            if verify && repo.open_blob(&e.id, e.kind, sealed, cap, &what).is_err() {
                plan.blobs_damaged += 1;
                continue;
            }
            if intact {
                good.push(e);
            } else {
                salvage.add(e.id, e.kind, sealed, e.raw_len);
                if salvage.size() >= PACK_TARGET {
                    plan.salvaged
                        .push(seal_pack(repo, std::mem::take(&mut salvage)));
                }
            }
        }
        if intact {
            plan.blobs_indexed += good.len() as u64;
            plan.rebuilt.push((id, good));
        } else {
            plan.packs_damaged.push(key.clone());
        }
        progress.event(Event::Step {
            phase: "packs",
            done: i as u64 + 1,
            total,
        });
    }
    if !salvage.is_empty() {
        plan.salvaged.push(seal_pack(repo, salvage));
    }
    for (id, _, entries) in &plan.salvaged {
        plan.blobs_indexed += entries.len() as u64;
        plan.blobs_salvaged += entries.len() as u64;
        plan.rebuilt.push((*id, entries.clone()));
    }
    let new: HashSet<(vger_types::ChunkId, PackId)> = plan
        .rebuilt
        .iter()
        .flat_map(|(p, es)| es.iter().map(move |e| (e.id, *p)))
        .collect();
    {
        let index = repo.index();
        let old: HashSet<(vger_types::ChunkId, PackId)> =
            index.iter().map(|(id, p, _)| (*id, p)).collect();
        plan.entries_dropped = old.difference(&new).count() as u64;
        let old_ids: HashSet<_> = index.iter().map(|(id, _, _)| *id).collect();
        plan.entries_added = new
            .iter()
            .map(|(id, _)| *id)
            .collect::<HashSet<_>>()
            .difference(&old_ids)
            .count() as u64;
    }
    plan.segments_replaced = repo.backend().list("index")?;
    Ok(plan)
}

/// Writes the plan under the lease it was made under: salvage packs, then the new index
/// segments, then (after fencing) the old segments and the damaged packs go. Releases the lease.
pub fn repair(repo: &Repository, plan: RepairPlan, cancel: &CancelToken) -> Result<()> {
    let RepairPlan {
        packs_damaged,
        segments_replaced,
        rebuilt,
        salvaged,
        lease,
        ..
    } = plan;
    for (id, bytes, _) in &salvaged {
        match repo.backend().put_new(&pack::key(id), bytes) {
            Ok(()) | Err(VgerError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let supersedes = repo.supersession(&segments_replaced)?;
    for group in rebuilt.chunks(4096) {
        cancel.check()?;
        let (key, bytes) =
            seal_segment_superseding(group, &supersedes, repo.crypter(), &repo.config().id);
        repo.backend().put_new(&key, &bytes)?;
    }
    lease.ensure(repo)?;
    for key in &segments_replaced {
        delete_if_present(repo.backend().as_ref(), key)?;
    }
    // Damaged packs go only now: what could be read from them lives in the salvage packs.
    for key in &packs_damaged {
        delete_if_present(repo.backend().as_ref(), key)?;
    }
    repo.reload_index()?;
    drop(lease);
    Ok(())
}
