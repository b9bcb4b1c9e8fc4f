//! `backup --dry-run`: the same walk, reading and chunking every file a backup would read (the
//! file cache and the parent snapshot still spare the unchanged ones), counting the chunks the
//! repository lacks, and writing nothing: no pack, no index segment, no snapshot, no lock beyond
//! a reader's lease, no file cache. Dump commands and standard input are read too, since what
//! they would add cannot be known otherwise.

use std::time::Instant;

use vger_types::Result;

use super::filecache::{self, FileCache};
use super::pipeline::Uploader;
use super::walk::Walker;
use super::{BackupOptions, BackupOutcome, Reclaimed, parent_tree, source, stream};
use crate::cancel::CancelToken;
use crate::clock;
use crate::progress::Progress;
use crate::repo::Repository;

/// What `backup` with these options would add; the outcome's snapshot is not stored (its id is
/// random) and its `stored_bytes` is 0, as nothing was compressed.
pub fn backup_dry_run(
    repo: &Repository,
    opts: &BackupOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<BackupOutcome> {
    let _lease = repo.read_lease("backup --dry-run")?;
    let start_ns = clock::now_ns();
    let started = Instant::now();
    // Never given a blob: it exists because the walker's type asks for one.
    let uploader = Uploader::start(
        repo.backend().clone(),
        repo.crypter().clone(),
        repo.config().id,
        opts.compression,
        1,
        repo.pack_target(),
        None,
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
            repo.vouching_segments().as_ref(),
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
    )
    .dry_run()
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
    let (stats, warnings, omitted, _cache) = walker.into_parts();
    uploader.finish()?;
    let tree = walked?;
    cancel.check()?;
    let snapshot = opts.snapshot(sources, tree, stats, start_ns, started, opts.meta()?);
    Ok(BackupOutcome {
        snapshot,
        warnings,
        warnings_omitted: omitted,
        bytes_read,
        reclaimed: Reclaimed::default(),
        changes,
        xattr_lists,
    })
}
