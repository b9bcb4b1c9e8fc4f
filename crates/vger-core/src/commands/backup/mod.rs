//! `backup`: walk the sources, store new chunks and trees, then commit. The commit order is packs,
//! then one new index segment, then the snapshot object: a crash before the snapshot leaves only
//! unreferenced packs or an index segment over existing packs, never a broken snapshot.
//! While the backup runs, checkpoints list the packs stored so far in index segments and save
//! the file cache (see `checkpoint`), so an interrupted backup's rerun resumes where it stopped.

mod checkpoint;
mod dry_run;
mod filecache;
mod filelog;
mod filter;
mod inflight;
mod pipeline;
mod prefetch;
mod previous;
mod scan;
mod settle;
mod source;
mod sparse;
mod stream;
mod walk;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use vger_types::{Result, SnapshotId, VgerError};

use crate::cancel::CancelToken;
use crate::clock;
use crate::compress::Compression;
use crate::progress::{Progress, Warning};
use crate::repo::Repository;
use crate::repo::lock::LockKind;
use crate::repo::snapshot::{self, Snapshot, SnapshotMeta, SnapshotStats};
use checkpoint::Checkpoints;
pub use checkpoint::Reclaimed;
use filecache::FileCache;
pub use filter::SourceFilter;
use inflight::Inflight;
pub(crate) use pipeline::Uploader;
pub use stream::{StreamFrom, StreamSource};
pub use walk::FileChanges;
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
    /// Command output and standard input stored as files (see `stream`), after the paths.
    pub streams: Vec<StreamSource>,
    /// Bytes per second read from sources at most (0: no limit).
    pub read_bytes_per_sec: u64,
    /// Count what would be stored and store nothing (see `dry_run`).
    pub dry_run: bool,
    /// The time the snapshot records, instead of now (`backup --time`); nanoseconds since the epoch.
    pub time_ns: Option<i64>,
    /// Tags the snapshot carries (`backup --tag`); checked and sorted.
    pub tags: Vec<String>,
    /// A free-text description (`backup --description`).
    pub description: String,
}

impl BackupOptions {
    /// The user-given part of the snapshot, checked.
    pub(crate) fn meta(&self) -> Result<SnapshotMeta> {
        if self.description.len() > 4096 {
            return Err(VgerError::invalid(
                "the description is longer than 4096 bytes",
            ));
        }
        Ok(SnapshotMeta {
            tags: snapshot::normalize_tags(&self.tags)?,
            description: self.description.clone(),
            ..SnapshotMeta::default()
        })
    }
}

impl BackupOptions {
    /// The snapshot of a walk that started at `start_ns` (`started` on the monotonic clock).
    pub(crate) fn snapshot(
        &self,
        sources: Vec<Vec<u8>>,
        tree: vger_types::ChunkId,
        stats: SnapshotStats,
        start_ns: i64,
        started: Instant,
        meta: SnapshotMeta,
    ) -> Snapshot {
        let start = self.time_ns.unwrap_or(start_ns);
        Snapshot {
            format_version: snapshot::FORMAT_VERSION,
            id: SnapshotId(vger_crypto::random_bytes()),
            start_ns: start,
            end_ns: start + clock::duration_ns(started.elapsed()),
            hostname: self.hostname.clone(),
            username: self.username.clone(),
            label: self.label.clone(),
            paths: sources
                .into_iter()
                .chain(self.streams.iter().map(|s| s.path.clone()))
                .collect(),
            tree,
            partial: stats.skipped > 0,
            stats,
            meta,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BackupOutcome {
    pub snapshot: Snapshot,
    pub warnings: Vec<Warning>,
    pub warnings_omitted: u64,
    /// Bytes read from source files (files the file cache or the parent snapshot showed
    /// unchanged are not read).
    pub bytes_read: u64,
    /// What this client's interrupted backups of this repository had left behind, dealt with
    /// before this one started.
    pub reclaimed: Reclaimed,
    /// Regular files new, changed and unmodified against the previous backup.
    pub changes: FileChanges,
    /// Entries whose extended attributes were listed from the filesystem (an unchanged file's
    /// come from the file cache).
    pub xattr_lists: u64,
}

/// Warnings kept in the outcome; further ones are only counted (and still sent as events).
pub const MAX_WARNINGS: usize = 1000;

pub fn backup(
    repo: &Repository,
    opts: &BackupOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<BackupOutcome> {
    if opts.paths.is_empty() && opts.streams.is_empty() {
        return Err(VgerError::invalid(
            "nothing to back up: give at least one path",
        ));
    }
    stream::validate(&opts.streams)?;
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
    let meta = opts.meta()?;
    if opts.dry_run {
        return dry_run::backup_dry_run(repo, opts, progress, cancel);
    }
    // Taking the lease reloads the index if a compaction ran since the repository was opened,
    // so the backup deduplicates against what exists now.
    let lease = repo.lease(LockKind::Shared, "backup")?;
    // An index segment that outlived its packs must not be deduplicated against.
    let (missing_packs, forgotten) = repo.forget_missing_packs()?;
    let (reclaimed, file_logs) = match &opts.cache_dir {
        Some(dir) => checkpoint::reclaim(repo, &lease, dir)?,
        None => (Reclaimed::default(), Vec::new()),
    };
    let inflight = opts
        .cache_dir
        .as_ref()
        .and_then(|d| Inflight::create(d, &repo.config().id))
        .map(Arc::new);
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
        repo.pack_target(),
        inflight.clone(),
    );
    let sources: Vec<Vec<u8>> = opts
        .paths
        .iter()
        .map(|p| source::absolute_bytes(p))
        .collect();
    let cache_key = repo.master().cache_key();
    let mut cache = match &opts.cache_dir {
        Some(dir) => FileCache::open(
            &filecache::cache_file(dir, &repo.config().id, &sources),
            &cache_key,
            start_ns,
            repo.vouching_segments().as_ref(),
        ),
        None => FileCache::disabled(),
    };
    // What interrupted backups of this client had finished (or begun) since their last
    // checkpoint; and this backup's own log of the same.
    cache.adopt(&file_logs, &cache_key);
    if let Some(log) = inflight.as_ref().and_then(|r| r.take_log()) {
        cache.log_to(log, &cache_key);
    }
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
    )
    .with_checkpoints(Checkpoints::new(repo, &lease, inflight.clone()))
    .with_read_limit(vger_storage::RateLimit::new(opts.read_bytes_per_sec));
    let walked = source::backup_sources(
        &mut walker,
        &opts.paths,
        &opts.exclude,
        &opts.filter,
        parent.as_ref(),
    )
    .and_then(|mut root| {
        stream::add_streams(&mut walker, &mut root, &opts.streams, cancel)?;
        walker.store_tree(root)
    });
    let bytes_read = walker.bytes_read();
    let changes = walker.changes();
    let xattr_lists = walker.xattr_lists();
    let (stats, mut warnings, omitted, mut cache) = walker.into_parts();
    let checkpoints = Checkpoints::new(repo, &lease, inflight.clone());
    warnings.extend(missing_packs.iter().map(|key| Warning {
        path: key.clone(),
        code: vger_types::ErrorCode::ObjectMissing,
        message: format!(
            "the index lists this pack but storage does not have it ({forgotten} chunks in all such packs were stored again where needed); run `vger check`"
        ),
    }));
    let written = uploader.finish();
    let (tree, written) = match (walked, written) {
        (Ok(t), Ok(w)) if cancel.check().is_ok() => (t, w),
        // Cancelled: a last checkpoint keeps what is done for the rerun (packs in an index
        // segment, finished files in the file cache); nothing more is written.
        (Ok(_) | Err(VgerError::Cancelled), Ok(w)) => {
            if checkpoints.index(&w.packs).is_ok() {
                cache.checkpoint(&repo.index(), &repo.indexed_segments());
            }
            return Err(VgerError::Cancelled);
        }
        (_, Err(e)) | (Err(e), _) => return Err(e),
    };
    // Fencing: commit only while holding the lease.
    lease.ensure(repo)?;
    checkpoints.index(&written.packs)?;
    let stats = SnapshotStats {
        stored_bytes: written.stored_bytes,
        ..stats
    };
    let snapshot = opts.snapshot(sources, tree, stats, start_ns, started, meta);
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
    cache.commit(&repo.index(), &repo.indexed_segments());
    drop(inflight);
    Ok(BackupOutcome {
        snapshot,
        warnings,
        warnings_omitted: omitted,
        bytes_read,
        reclaimed,
        changes,
        xattr_lists,
    })
}

/// The commit of a snapshot whose new blobs are in `packs` (used by `snapshot rewrite`): an
/// index segment for the packs, the snapshot, each fenced by the lease, with the index settled
/// against a concurrent compaction before and after, as a backup commits.
pub(crate) fn commit_snapshot(
    repo: &Repository,
    lease: &crate::repo::lock::Lease,
    packs: &[(vger_types::PackId, Vec<crate::repo::pack::BlobEntry>)],
    snap: &Snapshot,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    lease.ensure(repo)?;
    Checkpoints::new(repo, lease, None).index(packs)?;
    settle::settle(repo, snap, progress, cancel)?;
    lease.ensure(repo)?;
    repo.backend().put_new(
        &snapshot::key(&snap.id),
        &snap.seal(repo.crypter(), &repo.config().id),
    )?;
    settle::settle(repo, snap, progress, &CancelToken::new())?;
    Ok(())
}

/// A pipeline that seals and packs new blobs for `repo` (threads 0: one per core), for jobs other
/// than a backup (`snapshot rewrite`, `copy`) that store blobs and then commit a snapshot.
pub(crate) fn blob_uploader(
    repo: &Repository,
    compression: Compression,
    threads: usize,
) -> Uploader {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    Uploader::start(
        repo.backend().clone(),
        repo.crypter().clone(),
        repo.config().id,
        compression,
        threads,
        repo.pack_target(),
        None,
    )
}

/// Lists `packs` in an index segment (fenced by the lease): what an interrupted job stored stays
/// usable by the next one.
pub(crate) fn index_written(
    repo: &Repository,
    lease: &crate::repo::lock::Lease,
    packs: &[(vger_types::PackId, Vec<crate::repo::pack::BlobEntry>)],
) -> Result<()> {
    Checkpoints::new(repo, lease, None).index(packs)
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

/// Writes the file cache that a backup of `sources` with `cache_dir` reads, listing `files`
/// (path, chunks) as unchanged, vouched for by the segments the index holds now. For benchmarks
/// that build a large synthetic repository without reading data; every chunk must be in the
/// index, and a file whose identity changes later is simply read again.
#[doc(hidden)]
pub fn seed_file_cache(
    repo: &Repository,
    cache_dir: &std::path::Path,
    sources: &[PathBuf],
    files: &[(PathBuf, Vec<(vger_types::ChunkId, u32)>)],
) -> Result<()> {
    let sources: Vec<Vec<u8>> = sources.iter().map(|p| source::absolute_bytes(p)).collect();
    let file = filecache::cache_file(cache_dir, &repo.config().id, &sources);
    // Entries are kept only for files last changed before the second the cache starts in.
    let mut cache = FileCache::open(
        &file,
        &repo.master().cache_key(),
        clock::now_ns() + 2 * clock::NS_PER_SEC,
        None,
    );
    let index = repo.index();
    for (path, chunks) in files {
        let meta = std::fs::symlink_metadata(path)
            .map_err(|e| VgerError::io(format!("reading {}", path.display()), e))?;
        let path = source::absolute(path);
        cache.record(
            filecache::PathKey::of(&path),
            &filecache::Identity::of(&meta),
            chunks,
            None,
            &index,
            false,
        );
    }
    cache.commit(&index, &repo.indexed_segments());
    Ok(())
}
