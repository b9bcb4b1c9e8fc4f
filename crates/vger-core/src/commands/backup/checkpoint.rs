//! Checkpoints: while a backup runs, the packs it has stored are listed in ordinary index
//! segments and the file cache is saved for the files whose chunks are all in them, so that an
//! interrupted backup's rerun neither uploads those packs again (deduplication finds their blobs)
//! nor reads those files again (the file cache says they are unchanged). The blobs of a
//! checkpointed pack are unreferenced until a snapshot refers to them, like the blobs of a pack
//! whose backup failed; compact treats them as any unused blob.
//!
//! A checkpoint is written once a pack has been stored since the last one and either the packs
//! since then hold at least 1/[`CHECKPOINT_FRACTION`] of the bytes already checkpointed or
//! [`CHECKPOINT_INTERVAL`] has passed, and always when the backup is cancelled. So the segments of
//! one backup grow with the logarithm of its size plus one a minute, and a kill loses at most the
//! files of the pack being filled, of the packs since the last checkpoint (a small fraction of
//! what is done, or a minute's work), and of the file being read.
//!
//! Packs stored after the last checkpoint are not lost with the process either: the in-flight
//! record ([`super::inflight`]) lists them, and the next backup of the same client adds them to
//! the index ([`reclaim`]) and removes the partial pack the kill left behind.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vger_types::{PackId, Result};

use super::filecache::FileCache;
use super::inflight::{self, Inflight};
use super::pipeline::Uploader;
use crate::clock;
use crate::repo::Repository;
use crate::repo::index::seal_segment;
use crate::repo::lock::Lease;
use crate::repo::pack::{self, BlobEntry};

/// A checkpoint is due at the latest this long after the previous one (if a pack was stored).
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);
/// ... or once the packs stored since hold 1/this of the bytes already checkpointed.
pub const CHECKPOINT_FRACTION: u64 = 32;
/// Packs of an unfinished backup stored longer ago than this are not taken into the index by the
/// next backup: compact may remove unreferenced packs older than its grace period (one hour), and
/// a pack must never be listed while it may be being removed. They are left to compact.
pub const RECLAIM_MAX_AGE_SECS: i64 = 30 * 60;

pub struct Checkpoints<'a> {
    repo: &'a Repository,
    lease: &'a Lease,
    inflight: Option<Arc<Inflight>>,
    last: Instant,
    /// Bytes of the packs listed by this backup's segments so far.
    indexed_bytes: u64,
}

impl<'a> Checkpoints<'a> {
    pub fn new(repo: &'a Repository, lease: &'a Lease, inflight: Option<Arc<Inflight>>) -> Self {
        Self {
            repo,
            lease,
            inflight,
            last: Instant::now(),
            indexed_bytes: 0,
        }
    }

    /// Whether a checkpoint is due now.
    pub fn due(&self, uploader: &Uploader) -> bool {
        let pending = uploader.pending_pack_bytes();
        pending > 0
            && (pending.saturating_mul(CHECKPOINT_FRACTION) >= self.indexed_bytes
                || self.last.elapsed() >= CHECKPOINT_INTERVAL)
    }

    /// Lists the packs stored since the last checkpoint in an index segment, then saves the file
    /// cache for every file whose chunks are all in the index.
    pub fn write(&mut self, uploader: &Uploader, cache: &mut FileCache) -> Result<()> {
        let bytes = uploader.pending_pack_bytes();
        let packs = uploader.take_completed();
        self.index(&packs)?;
        self.indexed_bytes += bytes;
        cache.checkpoint(&self.repo.index(), &self.repo.indexed_segments());
        self.last = Instant::now();
        Ok(())
    }

    /// Writes one index segment listing `packs` (fenced like every commit step) and adds them to
    /// the in-memory index.
    pub fn index(&self, packs: &[(PackId, Vec<BlobEntry>)]) -> Result<()> {
        index_packs(self.repo, self.lease, packs, self.inflight.as_deref())
    }
}

fn index_packs(
    repo: &Repository,
    lease: &Lease,
    packs: &[(PackId, Vec<BlobEntry>)],
    inflight: Option<&Inflight>,
) -> Result<()> {
    if packs.is_empty() {
        return Ok(());
    }
    lease.ensure(repo)?;
    let key = repo.put_segment(|generation| {
        seal_segment(packs, generation, repo.crypter(), &repo.config().id)
    })?;
    repo.add_to_index(packs);
    // Counted as loaded: a compaction that consolidates it (and drops its still unreferenced
    // blobs) must be noticed at commit like one that replaced the segments loaded at the start.
    repo.note_segment(key);
    if let Some(r) = inflight {
        for (id, _) in packs {
            r.pack_indexed(&pack::key(id));
        }
    }
    Ok(())
}

/// What [`reclaim`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    /// Partial packs (temporary objects) removed.
    pub temps_removed: u64,
    /// Complete packs taken into the index.
    pub packs_indexed: u64,
}

/// Deals with what this client's unfinished backups of this repository left behind: their
/// partial packs are removed, and their complete packs that no index segment lists are read
/// (id and sealed table verified) and listed in a new segment, so their blobs are not uploaded
/// again. Returns also their file logs, for the file cache to adopt. Called under the
/// backup's lease, before the walk.
pub fn reclaim(
    repo: &Repository,
    lease: &Lease,
    cache_dir: &Path,
) -> Result<(Reclaimed, Vec<Vec<u8>>)> {
    let mut done = Reclaimed::default();
    let mut left = inflight::reclaim(cache_dir, &repo.config().id);
    if left.is_empty() {
        return Ok((done, Vec::new()));
    }
    let logs = std::mem::take(&mut left.file_logs);
    for key in &left.temps {
        // Only a temporary object: a record altered to name a real object is not obeyed.
        let temp = key
            .rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with(".tmp."));
        if temp && vger_storage::delete_if_present(repo.backend().as_ref(), key).unwrap_or(false) {
            done.temps_removed += 1;
        }
    }
    let now = clock::now_ns() / clock::NS_PER_SEC;
    let mut packs = Vec::new();
    for (stored, key) in &left.packs {
        let Some(id) = key.rsplit('/').next().and_then(PackId::from_hex) else {
            continue;
        };
        if pack::key(&id) != *key
            || repo.index().has_pack(&id)
            || now.saturating_sub(*stored) > RECLAIM_MAX_AGE_SECS
        {
            continue;
        }
        // A pack that is gone (compacted) or does not verify is left to compact and check.
        let table = repo
            .backend()
            .get(key)
            .and_then(|b| pack::read_table(&b, &id, repo.crypter(), &repo.config().id));
        if let Ok(entries) = table {
            packs.push((id, entries));
        }
    }
    index_packs(repo, lease, &packs, None)?;
    done.packs_indexed = packs.len() as u64;
    left.done();
    Ok((done, logs))
}
