//! Repository totals for `vger info`.

use vger_types::Result;

use crate::repo::Repository;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoStats {
    /// Snapshots this vger can read.
    pub snapshots: u64,
    /// Sum of the file bytes of every snapshot (what restoring them all would write).
    pub original_bytes: u64,
    /// Distinct blobs in the index (file chunks and trees).
    pub unique_chunks: u64,
    /// Raw bytes of those blobs: the data after deduplication, before compression.
    pub deduplicated_bytes: u64,
    /// Stored bytes of those blobs, after compression and encryption.
    pub compressed_bytes: u64,
    /// Pack files in storage.
    pub packs: u64,
    /// Every object in storage: packs, index, snapshots, keys, locks and config.
    pub stored_bytes: u64,
}

pub fn repo_stats(repo: &Repository) -> Result<RepoStats> {
    let mut s = RepoStats::default();
    for snap in repo.snapshots()?.snapshots {
        s.snapshots += 1;
        s.original_bytes += snap.stats.bytes;
    }
    for (_, _, loc) in repo.index().iter() {
        s.unique_chunks += 1;
        s.deduplicated_bytes += u64::from(loc.raw_len);
        s.compressed_bytes += u64::from(loc.len);
    }
    for prefix in ["packs", "index", "snapshots", "keys", "locks"] {
        for o in repo.backend().list_meta(prefix)? {
            if prefix == "packs" {
                s.packs += 1;
            }
            s.stored_bytes += o.size;
        }
    }
    s.stored_bytes += repo.backend().size("config")?.unwrap_or(0);
    Ok(s)
}
