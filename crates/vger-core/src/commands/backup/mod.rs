//! `backup`: walk the sources, store new chunks and trees, then commit. The commit order is packs,
//! then one new index segment, then the snapshot object: a crash before the snapshot leaves only
//! unreferenced packs or an index segment over existing packs, never a broken snapshot.

mod filecache;
mod filter;
mod pipeline;
mod settle;
mod source;
mod sparse;
mod walk;

use std::path::PathBuf;
use std::time::Instant;

use vger_types::{Result, SnapshotId, VgerError};

use crate::cancel::CancelToken;
use crate::clock;
use crate::compress::Compression;
use crate::progress::{Progress, Warning};
use crate::repo::Repository;
use crate::repo::index::seal_segment;
use crate::repo::lock::LockKind;
use crate::repo::snapshot::{self, Snapshot, SnapshotStats};
use filecache::FileCache;
pub use filter::SourceFilter;
use pipeline::Uploader;
use walk::Walker;

#[derive(Debug, Clone)]
pub struct BackupOptions {
    pub paths: Vec<PathBuf>,
    pub label: String,
    /// gitignore-style patterns, relative to each source root.
    pub exclude: Vec<String>,
    /// Marker files, filesystem boundaries, `.gitignore` files, xattrs.
    pub filter: SourceFilter,
    pub hostname: String,
    pub username: String,
    pub compression: Compression,
    /// Worker threads for compression and encryption; 0 = one per core.
    pub threads: usize,
    /// Where the file cache lives (one file per repository and set of source paths); `None`
    /// turns it off. Without a usable cache the parent snapshot (the latest with the same label
    /// and hostname) stands in for it.
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct BackupOutcome {
    pub snapshot: Snapshot,
    pub warnings: Vec<Warning>,
    pub warnings_omitted: u64,
}

/// Warnings kept in the outcome; further ones are only counted (and still sent as events).
pub const MAX_WARNINGS: usize = 1000;

pub fn backup(
    repo: &Repository,
    opts: &BackupOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<BackupOutcome> {
    if opts.paths.is_empty() {
        return Err(VgerError::invalid(
            "nothing to back up: give at least one path",
        ));
    }
    for (what, v) in [
        ("label", &opts.label),
        ("hostname", &opts.hostname),
        ("username", &opts.username),
    ] {
        if v.len() > 4096 {
            return Err(VgerError::invalid(format!(
                "the {what} is longer than 4096 bytes"
            )));
        }
    }
    // Taking the lease reloads the index if a compaction ran since the repository was opened,
    // so the backup deduplicates against what exists now.
    let lease = repo.lease(LockKind::Shared, "backup")?;
    // An index segment that outlived its packs must not be deduplicated against.
    let (missing_packs, forgotten) = repo.forget_missing_packs()?;
    let start_ns = clock::now_ns();
    let started = Instant::now();
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let uploader = Uploader::start(
        repo.backend().clone(),
        repo.crypter().clone(),
        repo.config().id,
        opts.compression,
        threads,
    );
    let sources: Vec<Vec<u8>> = opts
        .paths
        .iter()
        .map(|p| source::absolute_bytes(p))
        .collect();
    let cache = match &opts.cache_dir {
        Some(dir) => FileCache::open(
            &filecache::cache_file(dir, &repo.config().id, &sources),
            &repo.master().cache_key(),
            start_ns,
        ),
        None => FileCache::disabled(),
    };
    let parent = if cache.loaded() {
        None
    } else {
        parent_tree(repo, opts)
    };
    let mut walker = Walker::new(
        repo,
        &uploader,
        progress,
        cancel,
        cache,
        true,
        opts.filter.xattrs,
    );
    let walked = source::backup_sources(
        &mut walker,
        &opts.paths,
        &opts.exclude,
        &opts.filter,
        parent.as_ref(),
    );
    let (stats, mut warnings, omitted, cache) = walker.into_parts();
    warnings.extend(missing_packs.iter().map(|key| Warning {
        path: key.clone(),
        code: vger_types::ErrorCode::ObjectMissing,
        message: format!(
            "the index lists this pack but storage does not have it ({forgotten} chunks in all such packs were stored again where needed); run `vger check`"
        ),
    }));
    let written = uploader.finish();
    let (tree, written) = match (walked, written) {
        (Ok(t), Ok(w)) => (t, w),
        (_, Err(e)) | (Err(e), _) => return Err(e),
    };
    cancel.check()?;
    // Fencing: commit only while holding the lease.
    lease.ensure(repo)?;
    if !written.packs.is_empty() {
        let (key, bytes) = seal_segment(&written.packs, repo.crypter(), &repo.config().id);
        repo.backend().put_new(&key, &bytes)?;
        repo.add_to_index(&written.packs);
    }
    let partial = stats.skipped > 0;
    let snapshot = Snapshot {
        format_version: snapshot::FORMAT_VERSION,
        id: SnapshotId(vger_crypto::random_bytes()),
        start_ns,
        end_ns: start_ns + clock::duration_ns(started.elapsed()),
        hostname: opts.hostname.clone(),
        username: opts.username.clone(),
        label: opts.label.clone(),
        paths: sources,
        tree,
        stats: SnapshotStats {
            stored_bytes: written.stored_bytes,
            ..stats
        },
        partial,
    };
    // A compaction that switched the index since this backup loaded it may have dropped blobs
    // the snapshot references: index them again before the snapshot exists, and after.
    settle::settle(repo, &snapshot, progress, cancel)?;
    lease.ensure(repo)?;
    repo.backend().put_new(
        &snapshot::key(&snapshot.id),
        &snapshot.seal(repo.crypter(), &repo.config().id),
    )?;
    // Not cancellable: the snapshot exists now, and packs it needs may be kept only for as long
    // as this backup's lease lives.
    settle::settle(repo, &snapshot, progress, &CancelToken::new())?;
    cache.commit();
    Ok(BackupOutcome {
        snapshot,
        warnings,
        warnings_omitted: omitted,
    })
}

/// The root tree of the latest snapshot with the same label and hostname, if any. A repository
/// whose snapshots cannot be listed just has no parent: every file is then read.
fn parent_tree(repo: &Repository, opts: &BackupOptions) -> Option<vger_types::ChunkId> {
    let list = repo.snapshots().ok()?;
    list.snapshots
        .iter()
        .rev()
        .find(|s| s.label == opts.label && s.hostname == opts.hostname)
        .map(|s| s.tree)
}
