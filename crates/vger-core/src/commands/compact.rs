//! `compact`: give space back. [`plan_compact`] takes a maintenance lease (backups, restores and
//! checks go on beside it; another compaction, a repair or a delete cannot), marks what the
//! snapshots use, and decides: repack packs whose unused share is above the threshold, delete
//! packs nothing uses, delete unindexed packs (debris of interrupted backups and compactions:
//! at once when no other client holds a lease, else once older than the grace period), and
//! consolidate the index segments the plan read. The plan keeps the lease; [`compact`] applies
//! it under that same lease. A dry run drops the plan, which releases the lease.
//!
//! Crash safety comes from the order of the writes: new packs, then the new index segments
//! (naming the segments they replace), then the old segments are removed, and only then the old
//! packs. At every point the segments in storage describe packs that exist, so a crash leaves at
//! most unreferenced packs (removed by the next compact) or two segments describing the same
//! blobs.
//!
//! Beside running backups (docs/architecture.md, "Backups beside compaction"): a backup that
//! began before the new index took effect may reference blobs this compaction dropped, and a
//! reader may still read the old packs. So after the switch the old packs are deleted at once
//! only if no other lease is live; otherwise they are recorded as pending ([`pending`]) with the
//! live leases, and a later compaction deletes them once those leases have ended and the index
//! does not name them again. Snapshots that appeared while this compaction ran are marked after
//! the switch, and any blob of theirs the new index lacks is indexed again where it still is.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use vger_storage::delete_if_present;
use vger_types::{ChunkId, PackId, Result, VgerError};

use super::repack::{self, Moving};
use crate::cancel::CancelToken;
use crate::clock;
use crate::progress::Progress;
use crate::repo::index::{IdMap, Location, seal_segment, seal_segment_superseding};
use crate::repo::liveness;
use crate::repo::lock::{Lease, LockKind};
use crate::repo::pack::{self, BlobEntry};
use crate::repo::pending;
use crate::repo::{Repository, SnapshotList};
use vger_types::SnapshotId;

/// Blobs per consolidated index segment.
const SEGMENT_BLOBS: usize = 200_000;

#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Repack a pack when more than this percentage of it is unused (0-100).
    pub threshold_pct: f64,
    /// Stop choosing packs to repack once this many bytes are chosen (None: no limit).
    pub max_repack_bytes: Option<u64>,
    /// While another client holds a lease, unindexed packs younger than this are left alone (a
    /// backup may still be writing them). With no other lease, every unindexed pack is debris.
    pub grace: Duration,
}

impl Default for CompactOptions {
    fn default() -> Self {
        Self {
            threshold_pct: 10.0,
            max_repack_bytes: None,
            grace: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackUse {
    pub pack: PackId,
    pub size: u64,
    /// Stored bytes of the blobs some snapshot uses.
    pub used_bytes: u64,
    /// Stored bytes of every blob the index lists in the pack (the rest of `size` is its header
    /// and trailer, which a repack would write again).
    pub blob_bytes: u64,
    pub live_blobs: u64,
}

/// What a compaction does, decided under an exclusive lease that the plan holds until it is
/// applied by [`compact`] or dropped.
pub struct CompactPlan {
    pub snapshots: u64,
    pub live_blobs: u64,
    pub packs_total: u64,
    pub bytes_total: u64,
    /// Partly used packs whose live blobs move to new packs.
    pub repack: Vec<PackUse>,
    /// Indexed packs no snapshot uses.
    pub delete: Vec<PackUse>,
    /// Packs in storage that no index segment lists: all of them when no other client held a
    /// lease, else those older than the grace period.
    pub orphans: Vec<(String, u64)>,
    /// Unindexed packs younger than the grace period, left alone because another client held a
    /// lease (they may be its packs, not yet indexed).
    pub young_orphans: u64,
    /// Packs earlier compactions retired that wait for readers to finish (deleted by the apply
    /// once those readers are gone).
    pub pending_packs: u64,
    /// Index segments to replace with consolidated ones.
    pub segments: Vec<String>,
    /// Bytes the plan frees (roughly: deleted packs plus the unused part of repacked ones).
    pub bytes_freed: u64,
    /// Live bytes copied by repacking.
    pub bytes_repacked: u64,
    /// The live blobs of each pack to repack, the ones the apply copies.
    moving: Moving,
    /// Temporary files older than this are debris the apply removes.
    grace: Duration,
    /// The snapshots the mark saw (the apply marks the ones that appear after it).
    marked: HashSet<SnapshotId>,
    /// The maintenance lease the plan was made under; the apply fences with it.
    lease: Lease,
}

/// What applying a [`CompactPlan`] did.
#[derive(Debug, Clone, Default)]
pub struct CompactOutcome {
    pub packs_written: u64,
    pub packs_deleted: u64,
    pub segments_written: u64,
    pub debris_removed: u64,
    /// Live blobs that failed authentication while repacking (left out; `check` names them).
    pub damaged_blobs: u64,
    /// Retired packs left for a later compaction because other clients were reading.
    pub packs_pending: u64,
    /// Blobs of snapshots made while this compaction ran, indexed again where they are.
    pub blobs_reindexed: u64,
    /// New packs the storage host (a vger server) built from ranges of packs it holds.
    pub packs_assembled: u64,
}

/// Marks and decides under a maintenance lease (reads only); the lease stays with the plan.
pub fn plan_compact(
    repo: &Repository,
    opts: &CompactOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<CompactPlan> {
    if !(0.0..=100.0).contains(&opts.threshold_pct) {
        return Err(VgerError::invalid(
            "the threshold is a percentage between 0 and 100",
        ));
    }
    let lease = repo.lease(LockKind::Maintenance, "compact")?;
    let mine = lease.info().lease;
    let mut attempt = 0;
    let (list, live) = loop {
        match mark_all(repo, progress, cancel) {
            Ok(marked) => break marked,
            // A backup that committed its snapshot while a compaction switched the index
            // indexes again what that snapshot references right after writing it (see
            // `backup::settle`); data missing while another client holds a lease may be that.
            Err(e @ VgerError::Corrupt { .. }) => {
                attempt += 1;
                if attempt > MARK_RETRIES || pending::live_leases(repo, &mine)?.is_empty() {
                    return Err(e);
                }
                cancel.check()?;
                std::thread::sleep(Duration::from_millis(100 * attempt as u64));
            }
            Err(e) => return Err(e),
        }
    };
    let mut plan = make_plan(repo, opts, list.snapshots.len() as u64, &live.blobs, lease)?;
    plan.marked = list.snapshots.iter().map(|s| s.id).collect();
    Ok(plan)
}

/// How many times a plan marks again while data is missing and another client holds a lease
/// (about 8 s of waiting in all).
const MARK_RETRIES: usize = 12;

/// Reads the index and the snapshots and marks what they use; data they reference that the
/// index lacks is an error.
fn mark_all(
    repo: &Repository,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<(SnapshotList, liveness::Live)> {
    let damaged = repo.reload_index()?;
    if let Some(w) = damaged.first() {
        return Err(refuse(&w.path, "its index segment is damaged"));
    }
    let list = repo.snapshots()?;
    if list.hidden_newer > 0 {
        return Err(VgerError::invalid(format!(
            "{} snapshot(s) were written by a newer vger, whose data this vger cannot trace; compact with the newer vger",
            list.hidden_newer
        )));
    }
    if let Some(w) = list.damaged.first() {
        return Err(refuse(&w.path, "this snapshot is damaged"));
    }
    let live = liveness::mark(repo, &list.snapshots, progress, cancel)?;
    // Guard (as restic's prune): with referenced data missing, the repository is not in the
    // state this plan assumes; make the damage visible first.
    let missing = {
        let index = repo.index();
        live.blobs.keys().filter(|id| !index.contains(id)).count()
    };
    if missing > 0 {
        return Err(VgerError::corrupt(
            "the repository",
            format!(
                "{missing} chunk(s) that snapshots reference are missing; run `vger check` to see the affected snapshots, then back the files up again (which heals them) or delete those snapshots before compacting"
            ),
        ));
    }
    Ok((list, live))
}

fn refuse(object: &str, why: &str) -> VgerError {
    VgerError::corrupt(
        object,
        format!("{why}; compact needs a sound repository, run `vger check --repair` first"),
    )
}

fn make_plan(
    repo: &Repository,
    opts: &CompactOptions,
    snapshots: u64,
    live: &IdMap<()>,
    lease: Lease,
) -> Result<CompactPlan> {
    let stored: HashMap<String, (u64, Option<SystemTime>)> = repo
        .backend()
        .list_meta("packs")?
        .into_iter()
        .map(|m| (m.key, (m.size, m.modified)))
        .collect();
    let mut uses: HashMap<PackId, PackUse> = HashMap::new();
    let index = repo.index();
    for pack in index.packs() {
        let key = pack::key(pack);
        let Some((size, _)) = stored.get(&key) else {
            return Err(refuse(&key, "the index lists this pack but it is missing"));
        };
        uses.insert(
            *pack,
            PackUse {
                pack: *pack,
                size: *size,
                used_bytes: 0,
                blob_bytes: 0,
                live_blobs: 0,
            },
        );
    }
    let mut plan = CompactPlan {
        snapshots,
        live_blobs: 0,
        packs_total: 0,
        bytes_total: 0,
        repack: Vec::new(),
        delete: Vec::new(),
        orphans: Vec::new(),
        young_orphans: 0,
        pending_packs: 0,
        segments: Vec::new(),
        bytes_freed: 0,
        bytes_repacked: 0,
        moving: HashMap::new(),
        grace: opts.grace,
        marked: HashSet::new(),
        lease,
    };
    for (id, pack, loc) in index.iter() {
        let Some(u) = uses.get_mut(&pack) else {
            continue;
        };
        u.blob_bytes += u64::from(loc.len);
        if live.contains_key(&id) {
            u.used_bytes += u64::from(loc.len);
            u.live_blobs += 1;
            plan.live_blobs += 1;
        }
    }
    let mut indexed: HashSet<String> = index.packs().iter().map(pack::key).collect();
    drop(index);
    // Packs are written only under a lease, so with no other lease live after the listing above,
    // every unindexed pack it saw is debris of a client that is gone, unless that client indexed
    // it after this compaction loaded the index (a backup that committed while it marked): so
    // the index is read again, after looking at the leases. Packs retired by earlier
    // compactions wait for their readers in `pending/`, and only the sweep deletes them.
    let alone = pending::live_leases(repo, &plan.lease.info().lease)?.is_empty();
    indexed.extend(repo.read_index()?.index.packs().iter().map(pack::key));
    for (_, p) in pending::list(repo)?.0 {
        plan.pending_packs += p.packs.len() as u64;
        indexed.extend(p.packs);
    }
    for (key, (size, modified)) in &stored {
        plan.packs_total += 1;
        plan.bytes_total += size;
        if indexed.contains(key) {
            continue;
        }
        if pack::is_misplaced(key) {
            // A pack moved out of its place is not debris: check reports it, repair moves it back.
            continue;
        }
        let age = modified.and_then(clock::age);
        if alone || age.is_some_and(|a| a >= opts.grace) {
            plan.orphans.push((key.clone(), *size));
            plan.bytes_freed += size;
        } else {
            plan.young_orphans += 1;
        }
    }
    plan.orphans.sort();
    let mut candidates: Vec<PackUse> = uses.into_values().collect();
    // The share of a pack's bytes that are blobs no snapshot uses. A header and a trailer are
    // not unused: a small pack (the trees of a small backup) would otherwise be repacked by
    // every compaction, into a pack just as small.
    let unused = |u: &PackUse| (u.blob_bytes - u.used_bytes) as f64 / u.size.max(1) as f64;
    // Emptiest first, so a repack budget buys the most space.
    candidates.sort_by(|a, b| {
        unused(b)
            .total_cmp(&unused(a))
            .then(a.pack.0.cmp(&b.pack.0))
    });
    let mut budget = opts.max_repack_bytes.unwrap_or(u64::MAX);
    for u in candidates {
        if u.live_blobs == 0 {
            plan.bytes_freed += u.size;
            plan.delete.push(u);
            continue;
        }
        let unused_pct = 100.0 * unused(&u);
        if unused_pct > opts.threshold_pct && u.used_bytes <= budget {
            budget -= u.used_bytes;
            plan.bytes_freed += u.size - u.used_bytes;
            plan.bytes_repacked += u.used_bytes;
            plan.repack.push(u);
        }
    }
    let repacked: HashSet<PackId> = plan.repack.iter().map(|u| u.pack).collect();
    for (id, pack, loc) in repo.index().iter() {
        if repacked.contains(&pack) && live.contains_key(&id) {
            plan.moving.entry(pack).or_default().push((id, loc));
        }
    }
    // The segments the index was built from (not a new listing: a backup may have added one
    // since, whose packs this plan does not know).
    let segments = repo.loaded_segments();
    // Consolidate when there is more than one segment or when any pack goes away.
    if segments.len() > 1 || !plan.repack.is_empty() || !plan.delete.is_empty() {
        plan.segments = segments;
    }
    Ok(plan)
}

/// Applies the plan under the lease it was made under, then releases the lease.
pub fn compact(
    repo: &Repository,
    plan: CompactPlan,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<CompactOutcome> {
    let mut out = CompactOutcome::default();
    let CompactPlan {
        repack,
        delete,
        orphans,
        segments,
        moving,
        grace,
        marked,
        lease,
        ..
    } = plan;
    let mine = lease.info().lease;
    let gone: HashSet<PackId> = repack.iter().chain(&delete).map(|u| u.pack).collect();
    // 1. Copy live blobs out of the packs being repacked (authenticated first, or on a storage
    //    host that checks each source pack against its id: damage is never copied).
    let sources: Vec<PackId> = repack.iter().map(|u| u.pack).collect();
    let made = repack::repack(repo, &sources, &moving, progress, cancel)?;
    out.packs_written = made.kept.len() as u64;
    out.packs_assembled = made.assembled;
    out.damaged_blobs = made.damaged_blobs;
    let kept = made.kept;
    // 2. New index segments: every blob of the packs that stay, plus the new packs; they name the
    //    segments they replace (and those the replaced ones named), so a replayed one is known.
    if !segments.is_empty() {
        let mut stay: HashMap<PackId, Vec<BlobEntry>> = HashMap::new();
        for (id, pack, loc) in repo.index().iter() {
            if !gone.contains(&pack) {
                stay.entry(pack).or_default().push(entry(id, loc));
            }
        }
        let mut all: Vec<(PackId, Vec<BlobEntry>)> = stay.into_iter().collect();
        all.sort_by_key(|(p, _)| p.0);
        all.extend(kept);
        let supersedes = repo.supersession(&segments)?;
        for group in segments_of(all) {
            cancel.check()?;
            repo.put_segment(|generation| {
                seal_segment_superseding(
                    &group,
                    &supersedes,
                    generation,
                    repo.crypter(),
                    &repo.config().id,
                )
            })?;
            out.segments_written += 1;
        }
        // 3. Only while still holding the repository: retire the old segments.
        cancel.check()?;
        lease.ensure(repo)?;
        for key in &segments {
            delete_if_present(repo.backend().as_ref(), key)?;
        }
    }
    lease.ensure(repo)?;
    // 4. The switch is done: every lease taken from now on reads the new index. Leases live now
    //    may have read the old one, so they are listed after the switch.
    let readers: Vec<[u8; 16]> = pending::live_leases(repo, &mine)?
        .iter()
        .map(|l| l.lease)
        .collect();
    let mut doomed: Vec<String> = repack
        .iter()
        .chain(&delete)
        .map(|u| pack::key(&u.pack))
        .chain(orphans.iter().map(|(k, _)| k.clone()))
        .collect();
    // 5. Snapshots committed while this compaction ran were not marked: whatever of theirs the
    //    new index lacks is indexed again where it still is, and those packs stay.
    let (reindexed, keep) = reindex_new_snapshots(repo, &marked, progress, cancel)?;
    out.blobs_reindexed = reindexed;
    doomed.retain(|k| !keep.contains(k));
    // Whatever the index in storage names stays, whoever indexed it since this compaction read
    // the index; the leases listed above are the only clients that may still index a doomed
    // pack, and while one lives the pack is only recorded as pending.
    let named: HashSet<String> = repo
        .read_index()?
        .index
        .packs()
        .iter()
        .map(pack::key)
        .collect();
    doomed.retain(|k| !named.contains(k));
    let alone = readers.is_empty();
    if alone {
        for key in &doomed {
            out.packs_deleted += u64::from(delete_if_present(repo.backend().as_ref(), key)?);
        }
    } else if !doomed.is_empty() {
        out.packs_pending = doomed.len() as u64;
        pending::record(repo, readers, doomed)?;
    }
    // 6. Packs earlier compactions retired whose readers are gone.
    let swept = pending::sweep(repo, &mine)?;
    out.packs_deleted += swept.packs_deleted;
    // Temporary files may be another client's writes in progress: while others hold leases,
    // only those older than an hour go, whatever the grace asked for.
    let debris_grace = if alone {
        grace
    } else {
        grace.max(Duration::from_secs(3600))
    };
    out.debris_removed = repo.backend().remove_debris(debris_grace)? as u64;
    repo.reload_index()?;
    drop(lease);
    Ok(out)
}

fn entry(id: ChunkId, loc: Location) -> BlobEntry {
    BlobEntry {
        id,
        kind: loc.kind,
        offset: loc.offset,
        len: loc.len,
        raw_len: loc.raw_len,
    }
}

/// Marks the snapshots that are not in `marked` (committed while the compaction ran) and indexes
/// again, at the place the compaction's own view of the index has them, the blobs of theirs the
/// index in storage now lacks. Returns how many blobs, and the keys of the packs they are in.
fn reindex_new_snapshots(
    repo: &Repository,
    marked: &HashSet<SnapshotId>,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<(u64, HashSet<String>)> {
    let list = repo.snapshots()?;
    let new: Vec<_> = list
        .snapshots
        .into_iter()
        .filter(|s| !marked.contains(&s.id))
        .collect();
    if new.is_empty() {
        return Ok((0, HashSet::new()));
    }
    let now = repo.read_index()?.index;
    // The view the compaction worked from knows the blobs it dropped; the packs written since
    // (by the backups that made the new snapshots) are added to it so their trees can be read.
    let added: Vec<(PackId, Vec<BlobEntry>)> = {
        let view = repo.index();
        let mut by_pack: HashMap<PackId, Vec<BlobEntry>> = HashMap::new();
        for (id, pack, loc) in now.iter() {
            if !view.contains(&id) {
                by_pack.entry(pack).or_default().push(entry(id, loc));
            }
        }
        by_pack.into_iter().collect()
    };
    repo.add_to_index(&added);
    let live = liveness::mark(repo, &new, progress, cancel)?;
    let mut again: HashMap<PackId, Vec<BlobEntry>> = HashMap::new();
    {
        let view = repo.index();
        for id in live.blobs.keys() {
            if now.contains(id) {
                continue;
            }
            if let Some((pack, loc)) = view.get(id) {
                again.entry(pack).or_default().push(entry(*id, loc));
            }
        }
    }
    if again.is_empty() {
        return Ok((0, HashSet::new()));
    }
    let mut groups: Vec<(PackId, Vec<BlobEntry>)> = again.into_iter().collect();
    groups.sort_by_key(|(p, _)| p.0);
    let n = groups.iter().map(|(_, e)| e.len() as u64).sum();
    let keep = groups.iter().map(|(p, _)| pack::key(p)).collect();
    repo.put_segment(|generation| {
        seal_segment(&groups, generation, repo.crypter(), &repo.config().id)
    })?;
    Ok((n, keep))
}

/// Splits packs into groups of at most [`SEGMENT_BLOBS`] blobs (a pack is never split).
fn segments_of(all: Vec<(PackId, Vec<BlobEntry>)>) -> Vec<Vec<(PackId, Vec<BlobEntry>)>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut n = 0;
    for (p, e) in all {
        if n > 0 && n + e.len() > SEGMENT_BLOBS {
            out.push(std::mem::take(&mut cur));
            n = 0;
        }
        n += e.len();
        cur.push((p, e));
    }
    // At least one, even empty: the generation must move on when every segment goes.
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}
