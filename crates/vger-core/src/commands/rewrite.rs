//! `snapshot rewrite`: new snapshots without the paths that patterns match, for example a secret
//! that was backed up by mistake. Only trees on the way to a removed path are written again
//! (unchanged subtrees keep their ids); the new snapshot keeps the original's time, host, label,
//! paths, tags and description and records the original's id and the patterns. With `forget` the
//! originals are removed afterwards, and `compact` then gives back the data only they used.
//!
//! The commit order is a backup's: packs, an index segment, the snapshot, and only then the
//! removal of the original, so an interruption leaves either the original or both.

use std::collections::{HashMap, HashSet};

use globset::{Glob, GlobSet, GlobSetBuilder};
use vger_storage::delete_if_present;
use vger_types::{ChunkId, Result, SnapshotId, VgerError};

use super::backup::{Uploader, blob_uploader, commit_snapshot};
use super::delete_snapshots::plan_delete_snapshots;
use crate::cancel::CancelToken;
use crate::compress::Compression;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::repo::lock::LockKind;
use crate::repo::snapshot::{self, Snapshot, SnapshotMeta, SnapshotStats};
use crate::tree::{self, Content, Entry, Kind, join_path};
use vger_crypto::BlobKind;

#[derive(Debug, Clone)]
pub struct RewriteOptions {
    /// Globs over the whole path from the snapshot root (`*` may cross `/`); a matching
    /// directory goes with everything below it.
    pub exclude: Vec<String>,
    /// Remove each original once its rewrite is stored.
    pub forget: bool,
    /// Compute what would be removed; write nothing.
    pub dry_run: bool,
    pub compression: Compression,
    /// Sealing threads (0: one per core).
    pub threads: usize,
}

/// What the rewrite of one snapshot removed, and the snapshot that replaces it.
#[derive(Debug, Clone)]
pub struct Rewritten {
    pub original: Snapshot,
    /// The new snapshot (with `dry_run`, what it would be); `None` when no pattern matched
    /// anything in this snapshot, which is then left as it is.
    pub rewritten: Option<Snapshot>,
    /// Paths removed (a directory counts once, with what it held in `removed_entries`).
    pub removed_paths: Vec<Vec<u8>>,
    /// Entries removed, at every depth.
    pub removed_entries: u64,
    /// Bytes of the regular files removed.
    pub removed_bytes: u64,
    /// The original was removed (`forget`).
    pub forgotten: bool,
}

/// Rewrites every named snapshot (all resolved first: one unknown name changes nothing).
pub fn rewrite(
    repo: &Repository,
    specs: &[String],
    opts: &RewriteOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Vec<Rewritten>> {
    if opts.exclude.is_empty() {
        return Err(VgerError::invalid(
            "give at least one --exclude pattern: a rewrite removes what they match",
        ));
    }
    let set = globs(&opts.exclude)?;
    let originals = plan_delete_snapshots(repo, specs)?;
    if opts.forget
        && let Some(p) = originals.iter().find(|s| s.meta.pinned)
    {
        let short = &p.id.to_hex()[..8];
        return Err(VgerError::invalid(format!(
            "snapshot {short} is pinned, so --forget would not remove it: run `vger snapshot unpin {short}` \
             first, or rewrite without --forget"
        )));
    }
    // Every snapshot is walked before anything is written: an error (a rewrite that would
    // empty a snapshot, a pattern that matches nothing anywhere) changes nothing.
    let mut matched = vec![false; opts.exclude.len()];
    let mut scans = Vec::with_capacity(originals.len());
    for s in &originals {
        cancel.check()?;
        let mut scan = Scan::default();
        scan.walk(repo, &set, &mut matched, &s.tree, b"")?;
        if !scan.removed_files.is_empty() {
            scan.mark_links(repo, &set, &s.tree, b"")?;
        }
        if scan.kept_roots == 0 && !scan.removed_paths.is_empty() {
            return Err(VgerError::invalid(format!(
                "the patterns match everything in snapshot {}: a rewrite would leave it empty; \
                 delete it instead (vger snapshot delete {})",
                &s.id.to_hex()[..8],
                &s.id.to_hex()[..8]
            )));
        }
        scans.push(scan);
    }
    if let Some(i) = matched.iter().position(|m| !m) {
        return Err(VgerError::invalid(format!(
            "the pattern {:?} matches nothing in the snapshots given (patterns match the whole \
             path from the snapshot's root, as `vger snapshot list` shows it; `*` may cross `/`)",
            opts.exclude[i]
        )));
    }
    let note = format!("excluded {}", opts.exclude.join(", "));
    let mut out = Vec::with_capacity(originals.len());
    for (original, scan) in originals.into_iter().zip(scans) {
        cancel.check()?;
        let item = if scan.removed_paths.is_empty() {
            Rewritten {
                original,
                rewritten: None,
                removed_paths: Vec::new(),
                removed_entries: 0,
                removed_bytes: 0,
                forgotten: false,
            }
        } else {
            rewrite_one(repo, original, scan, &note, opts, progress, cancel)?
        };
        out.push(item);
    }
    Ok(out)
}

fn globs(patterns: &[String]) -> Result<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let p = p.trim_start_matches('/');
        b.add(Glob::new(p).map_err(|e| VgerError::invalid(format!("pattern {p:?}: {e}")))?);
    }
    b.build()
        .map_err(|e| VgerError::invalid(format!("patterns: {e}")))
}

/// What the patterns remove from one snapshot.
#[derive(Default)]
struct Scan {
    removed_paths: Vec<Vec<u8>>,
    /// Removed regular files by path: hard links that stay may point to them.
    removed_files: HashMap<Vec<u8>, Entry>,
    /// Totals of what is removed, as snapshot statistics count them.
    removed: SnapshotStats,
    removed_entries: u64,
    /// Entries left in the root tree.
    kept_roots: u64,
    /// Trees that change (by their old id).
    changed: HashMap<ChunkId, ()>,
}

impl Scan {
    /// Walks the tree at `rel`; returns whether something below it is removed.
    fn walk(
        &mut self,
        repo: &Repository,
        set: &GlobSet,
        matched: &mut [bool],
        id: &ChunkId,
        rel: &[u8],
    ) -> Result<bool> {
        let mut changed = false;
        for e in repo.read_tree(id)? {
            let path = join_path(rel, &e.name);
            let hits = set.matches(String::from_utf8_lossy(&path).as_ref());
            for &i in &hits {
                matched[i] = true;
            }
            if !hits.is_empty() {
                self.removed_paths.push(path.clone());
                self.count_removed(repo, &e, &path)?;
                changed = true;
                continue;
            }
            if rel.is_empty() {
                self.kept_roots += 1;
            }
            if let (Kind::Dir, Content::Subtree(sub)) = (e.kind, &e.content)
                && self.walk(repo, set, matched, sub, &path)?
            {
                changed = true;
            }
        }
        if changed {
            self.changed.insert(*id, ());
        }
        Ok(changed)
    }

    /// Marks the trees holding a kept hard link to a removed file (and those above them) as
    /// changed: the link becomes the file. Returns whether `id` holds such a link.
    fn mark_links(
        &mut self,
        repo: &Repository,
        set: &GlobSet,
        id: &ChunkId,
        rel: &[u8],
    ) -> Result<bool> {
        let mut found = false;
        for e in repo.read_tree(id)? {
            let path = join_path(rel, &e.name);
            if set.is_match(String::from_utf8_lossy(&path).as_ref()) {
                continue;
            }
            found |= match (e.kind, &e.content) {
                (Kind::HardLink, Content::Target(t)) => self.removed_files.contains_key(t),
                (Kind::Dir, Content::Subtree(sub)) => self.mark_links(repo, set, sub, &path)?,
                _ => false,
            };
        }
        if found {
            self.changed.insert(*id, ());
        }
        Ok(found)
    }

    fn count_removed(&mut self, repo: &Repository, e: &Entry, path: &[u8]) -> Result<()> {
        self.removed_entries += 1;
        match e.kind {
            Kind::File => {
                self.removed.files += 1;
                self.removed.bytes += e.size;
                self.removed_files.insert(path.to_vec(), e.clone());
            }
            Kind::HardLink => self.removed.files += 1,
            Kind::Symlink => self.removed.symlinks += 1,
            Kind::Dir => {
                self.removed.dirs += 1;
                if let Content::Subtree(sub) = &e.content {
                    for child in repo.read_tree(sub)? {
                        let p = join_path(path, &child.name);
                        self.count_removed(repo, &child, &p)?;
                    }
                }
            }
            _ => self.removed.others += 1,
        }
        Ok(())
    }
}

/// Rebuilds the changed trees of one snapshot into new tree blobs.
struct Rebuild<'a> {
    repo: &'a Repository,
    scan: &'a Scan,
    uploader: Option<&'a Uploader>,
    set: &'a GlobSet,
    /// A removed file a kept hard link pointed to → the path of the link that now holds it.
    relinked: HashMap<Vec<u8>, Vec<u8>>,
    /// Bytes of hard links turned into files (they now count as regular file bytes).
    promoted_bytes: u64,
    new_chunks: u64,
    new_bytes: u64,
    /// New tree blobs already queued (a tree can occur twice).
    queued: HashSet<ChunkId>,
}

impl Rebuild<'_> {
    fn tree(&mut self, id: &ChunkId, rel: &[u8]) -> Result<ChunkId> {
        if !self.scan.changed.contains_key(id) {
            return Ok(*id);
        }
        let mut kept = Vec::new();
        for mut e in self.repo.read_tree(id)? {
            let path = join_path(rel, &e.name);
            if self.set.is_match(String::from_utf8_lossy(&path).as_ref()) {
                continue;
            }
            match (e.kind, &e.content) {
                (Kind::Dir, Content::Subtree(sub)) => {
                    let sub = *sub;
                    e.content = Content::Subtree(self.tree(&sub, &path)?);
                }
                (Kind::HardLink, Content::Target(t)) => {
                    if let Some(target) = self.scan.removed_files.get(t) {
                        match self.relinked.get(t) {
                            Some(first) => e.content = Content::Target(first.clone()),
                            None => {
                                // The first link left holds the file's data now.
                                self.relinked.insert(t.clone(), path.clone());
                                e.kind = Kind::File;
                                e.content = target.content.clone();
                                e.holes = target.holes.clone();
                                e.size = target.size;
                                self.promoted_bytes += target.size;
                            }
                        }
                    }
                }
                _ => {}
            }
            kept.push(e);
        }
        let plain = tree::encode(&mut kept);
        let new = self.repo.master().blob_id(BlobKind::Tree, &plain);
        if !self.repo.index().contains(&new) && self.queued.insert(new) {
            self.new_chunks += 1;
            self.new_bytes += plain.len() as u64;
            if let Some(u) = self.uploader {
                u.submit(new, BlobKind::Tree, plain)?;
            }
        }
        Ok(new)
    }
}

fn rewrite_one(
    repo: &Repository,
    original: Snapshot,
    scan: Scan,
    note: &str,
    opts: &RewriteOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Rewritten> {
    let set = globs(&opts.exclude)?;
    let lease = (!opts.dry_run)
        .then(|| repo.lease(LockKind::Shared, "snapshot rewrite"))
        .transpose()?;
    let uploader = lease
        .as_ref()
        .map(|_| blob_uploader(repo, opts.compression, opts.threads));
    let mut rb = Rebuild {
        repo,
        scan: &scan,
        uploader: uploader.as_ref(),
        set: &set,
        relinked: HashMap::new(),
        promoted_bytes: 0,
        new_chunks: 0,
        new_bytes: 0,
        queued: HashSet::new(),
    };
    let built = rb.tree(&original.tree, b"");
    let (promoted, new_chunks, new_bytes) = (rb.promoted_bytes, rb.new_chunks, rb.new_bytes);
    let o = &original.stats;
    let r = &scan.removed;
    let mut snap = Snapshot {
        id: SnapshotId(vger_crypto::random_bytes()),
        format_version: snapshot::FORMAT_VERSION,
        tree: ChunkId([0; 32]),
        stats: SnapshotStats {
            files: o.files.saturating_sub(r.files),
            dirs: o.dirs.saturating_sub(r.dirs),
            symlinks: o.symlinks.saturating_sub(r.symlinks),
            others: o.others.saturating_sub(r.others),
            bytes: o.bytes.saturating_sub(r.bytes) + promoted,
            new_chunks,
            new_bytes,
            stored_bytes: 0,
            skipped: o.skipped,
        },
        meta: SnapshotMeta {
            supersedes: None,
            rewritten_from: Some((original.id, note.to_string())),
            ..original.meta.clone()
        },
        ..original.clone()
    };
    let mut forgotten = false;
    match (uploader, lease) {
        (Some(uploader), Some(lease)) => {
            let written = uploader.finish();
            snap.tree = built?;
            let written = written?;
            cancel.check()?;
            snap.stats.stored_bytes = written.stored_bytes;
            commit_snapshot(repo, &lease, &written.packs, &snap, progress, cancel)?;
            if opts.forget {
                delete_if_present(repo.backend().as_ref(), &snapshot::key(&original.id))?;
                forgotten = true;
            }
        }
        _ => snap.tree = built?,
    }
    Ok(Rewritten {
        original,
        rewritten: Some(snap),
        removed_paths: scan.removed_paths,
        removed_entries: scan.removed_entries,
        removed_bytes: scan.removed.bytes,
        forgotten,
    })
}
