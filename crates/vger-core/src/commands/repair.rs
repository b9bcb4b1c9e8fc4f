//! `check --repair`: rebuild the index from the packs themselves. Every pack in storage is read,
//! its id and sealed table verified, and (with `verify_data`) every blob authenticated; the new
//! index lists exactly the blobs that can be read. Entries for missing or damaged data disappear,
//! so the next backup of a file that still exists uploads those chunks again — and since chunk
//! ids are content addresses, that heals every older snapshot that referenced them. A damaged
//! pack (bytes that no longer match its id) gives up only its damaged blobs: the others are
//! authenticated one by one and copied into a new pack before the damaged one is removed. Snapshots
//! are never rewritten or deleted (least of all one written by a newer vger); files whose data is
//! gone stay listed in the report and restore names them instead of writing wrong bytes. A pack
//! stored under another key than its own (moved into the wrong subdirectory) is copied back to its
//! key and the stray copy removed, never treated as debris. When the packs say exactly what the
//! index says and nothing is damaged or misplaced, the plan is empty: nothing needs repair.
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
            id: c,
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
    /// Chunks the index listed whose data is missing or unreadable: they leave the index.
    pub entries_dropped: u64,
    /// Chunks found in packs that no index segment listed.
    pub entries_added: u64,
    /// Chunks that stay but whose entry changes (salvaged into a new pack, or the old entry
    /// disagreed with the pack's own table).
    pub entries_moved: u64,
    /// Index segments that could not be read (their entries are rebuilt from the packs).
    pub segments_damaged: u64,
    /// Packs found under another key than their own (key found, id): moved back into place.
    pub packs_misplaced: Vec<(String, PackId)>,
    /// Segments replaced by the rebuilt index (none when nothing needs repair).
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
    let segments_damaged = repo.reload_index()?.len() as u64;
    let mut plan = RepairPlan {
        packs_scanned: 0,
        packs_damaged: Vec::new(),
        blobs_salvaged: 0,
        packs_newer: Vec::new(),
        blobs_indexed: 0,
        blobs_damaged: 0,
        entries_dropped: 0,
        entries_added: 0,
        entries_moved: 0,
        segments_damaged,
        packs_misplaced: Vec::new(),
        segments_replaced: Vec::new(),
        rebuilt: Vec::new(),
        salvaged: Vec::new(),
        lease,
    };
    let keys = repo.backend().list("packs")?;
    let listed: HashSet<&String> = keys.iter().collect();
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
        let home = pack::key(&id);
        let misplaced = *key != home;
        if misplaced && listed.contains(&home) {
            continue; // a stray second copy: the pack at its own key is the one indexed
        }
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
            if misplaced {
                plan.packs_misplaced.push((key.clone(), id));
            }
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
    // Entries as (chunk, pack, offset, length, raw length): what a reader of the index uses.
    type Entry = (vger_types::ChunkId, PackId, u32, u32, u32);
    let new: HashSet<Entry> = plan
        .rebuilt
        .iter()
        .flat_map(|(p, es)| {
            es.iter()
                .map(move |e| (e.id, *p, e.offset, e.len, e.raw_len))
        })
        .collect();
    let index_differs = {
        let index = repo.index();
        let old: HashSet<Entry> = index
            .iter()
            .map(|(id, p, l)| (id, p, l.offset, l.len, l.raw_len))
            .collect();
        let old_ids: HashSet<_> = old.iter().map(|e| e.0).collect();
        let new_ids: HashSet<_> = new.iter().map(|e| e.0).collect();
        plan.entries_dropped = old_ids.difference(&new_ids).count() as u64;
        plan.entries_added = new_ids.difference(&old_ids).count() as u64;
        let changed: HashSet<_> = old.symmetric_difference(&new).map(|e| e.0).collect();
        plan.entries_moved = changed
            .intersection(&old_ids)
            .filter(|id| new_ids.contains(*id))
            .count() as u64;
        old != new
    };
    if plan.needed() || index_differs {
        plan.segments_replaced = repo.backend().list("index")?;
    } else {
        plan.rebuilt.clear();
    }
    Ok(plan)
}

impl RepairPlan {
    /// Whether the repair changes anything: damaged or misplaced packs, damaged index segments,
    /// or index entries that differ from what the packs hold. `false` for a healthy repository.
    pub fn needed(&self) -> bool {
        !self.packs_damaged.is_empty()
            || !self.packs_misplaced.is_empty()
            || !self.segments_replaced.is_empty()
            || self.segments_damaged > 0
            || self.blobs_damaged > 0
            || self.entries_dropped + self.entries_added + self.entries_moved > 0
    }
}

/// Writes the plan under the lease it was made under: salvage packs, then the new index
/// segments, then (after fencing) the old segments and the damaged packs go. Releases the lease.
pub fn repair(repo: &Repository, plan: RepairPlan, cancel: &CancelToken) -> Result<()> {
    let RepairPlan {
        packs_damaged,
        packs_misplaced,
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
    // A misplaced pack is copied to its own key before any index entry points there.
    for (at, id) in &packs_misplaced {
        cancel.check()?;
        let bytes = repo.backend().get(at)?;
        pack::verify_id(&bytes, id)?;
        match repo.backend().put_new(&pack::key(id), &bytes) {
            Ok(()) | Err(VgerError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let supersedes = repo.supersession(&segments_replaced)?;
    // At least one segment when any is replaced, even empty: the generation must move on.
    let mut groups: Vec<&[(PackId, Vec<BlobEntry>)]> = rebuilt.chunks(4096).collect();
    if groups.is_empty() && !segments_replaced.is_empty() {
        groups.push(&[]);
    }
    for group in groups {
        cancel.check()?;
        repo.put_segment(|generation| {
            seal_segment_superseding(
                group,
                &supersedes,
                generation,
                repo.crypter(),
                &repo.config().id,
            )
        })?;
    }
    lease.ensure(repo)?;
    for key in &segments_replaced {
        delete_if_present(repo.backend().as_ref(), key)?;
    }
    // Damaged packs go only now: what could be read from them lives in the salvage packs.
    for key in &packs_damaged {
        delete_if_present(repo.backend().as_ref(), key)?;
    }
    for (at, _) in &packs_misplaced {
        delete_if_present(repo.backend().as_ref(), at)?;
    }
    repo.reload_index()?;
    drop(lease);
    Ok(())
}
