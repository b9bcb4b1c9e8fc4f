//! Walking a source tree depth-first in name order: each directory becomes a tree blob, each
//! regular file a list of chunks. A file that vanishes or cannot be read is skipped with a
//! warning; one bad file never aborts the backup.

use std::collections::HashMap;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::rc::Rc;

use vger_crypto::BlobKind;
use vger_types::{ChunkId, Result, VgerError};

use super::MAX_WARNINGS;
use super::checkpoint::Checkpoints;
use super::filecache::{FileCache, Identity, PathKey, Xattr, Xattrs};
use super::filter::{Excludes, GitIgnores, Verdict};
use super::pipeline::Uploader;
use super::prefetch;
use super::scan;
use super::sparse::{self, ExtentReader};
use crate::cancel::CancelToken;
use crate::chunker::{Chunker, StreamError};
use crate::platform::{meta as pmeta, names};
use crate::progress::{Event, Progress, Warning};
use crate::repo::Repository;
use crate::repo::index::IdMap;
use crate::repo::snapshot::SnapshotStats;
use crate::tree::join_path as join;
use crate::tree::{self, Content, Entry, Kind};

/// Regular files of a backup against the previous one (its file cache, else its parent snapshot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileChanges {
    /// Not in the previous backup.
    pub new: u64,
    /// In the previous backup, read again because its size, mtime or ctime changed.
    pub changed: u64,
    /// Known unchanged, not read.
    pub unmodified: u64,
}

pub struct Walker<'a> {
    repo: &'a Repository,
    uploader: &'a Uploader,
    progress: &'a dyn Progress,
    cancel: &'a CancelToken,
    chunker: Rc<Chunker>,
    buf: Vec<u8>,
    queued: IdMap<()>,
    hardlinks: HashMap<(u64, u64), Vec<u8>>,
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    stats: SnapshotStats,
    warnings: Vec<Warning>,
    omitted: u64,
    cache: FileCache,
    /// No file cache was loaded: the parent snapshot's trees stand in for it.
    use_parent: bool,
    xattrs: bool,
    gitignores: GitIgnores,
    checkpoints: Option<Checkpoints<'a>>,
    read_limit: Option<vger_storage::RateLimit>,
    /// Counts what would be stored and stores nothing.
    dry_run: bool,
    changes: FileChanges,
    /// Bytes read from source files.
    bytes_read: u64,
    /// Entries whose extended attributes were listed (not taken from the file cache).
    xattr_lists: u64,
    /// Directories being walked below the source (each may hold its handle open, see [`Listing`]).
    depth: usize,
    /// Packs stored when the file log was last flushed.
    logged_packs: u64,
    prefetch: prefetch::Prefetcher,
    scan: scan::Scanner,
}

/// Directory entries looked at (lstat) together, ahead of being walked.
const BATCH: usize = 256;

/// Below this many directories being walked, a directory's listing keeps its handle (see
/// [`Listing`]); deeper ones look entries up by their whole path, so a deep tree cannot run the
/// process out of file descriptors.
const MAX_HELD_DIRS: usize = 64;

/// A directory's entry names, sorted by their bytes, and how to look at (`lstat`) each one.
pub(super) struct Listing {
    pub names: Vec<Vec<u8>>,
    looks: Vec<Look>,
}

/// An entry's `lstat`, and a regular file's cache key when it is known already.
type Looked = (std::io::Result<Metadata>, Option<PathKey>);

enum Look {
    /// Looked at already, by the scan-ahead (scan.rs), with a regular file's cache key.
    Done(std::io::Result<Metadata>, Option<PathKey>),
    /// On Unix, the name's [`fs::DirEntry`]: its `metadata()` is an `lstat` relative to the open
    /// directory (`statx(dirfd, name)`), which saves the kernel a lookup of every component of
    /// the whole path. A batch's entries are dropped once looked at, so a directory's handle
    /// stays open during the walk of its subdirectories only if it has more than one batch.
    Handle(fs::DirEntry),
    /// By the whole path.
    Path,
}

impl<'a> Walker<'a> {
    pub fn new(
        repo: &'a Repository,
        uploader: &'a Uploader,
        progress: &'a dyn Progress,
        cancel: &'a CancelToken,
        cache: FileCache,
        use_parent: bool,
        xattrs: bool,
    ) -> Self {
        let chunker = Rc::new(Chunker::new(
            repo.config().chunker,
            repo.master().gear_table(),
        ));
        Self {
            repo,
            uploader,
            progress,
            cancel,
            chunker,
            buf: Vec::new(),
            queued: IdMap::default(),
            hardlinks: HashMap::new(),
            users: HashMap::new(),
            groups: HashMap::new(),
            stats: SnapshotStats::default(),
            warnings: Vec::new(),
            omitted: 0,
            use_parent: use_parent && !cache.loaded(),
            cache,
            xattrs,
            gitignores: GitIgnores::default(),
            checkpoints: None,
            read_limit: None,
            dry_run: false,
            changes: FileChanges::default(),
            bytes_read: 0,
            xattr_lists: 0,
            depth: 0,
            logged_packs: 0,
            prefetch: prefetch::Prefetcher::new(),
            scan: scan::Scanner::new(),
        }
    }

    /// Reads and chunks everything, counts what is new, and stores nothing (`backup --dry-run`).
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Holds reading from sources to a rate (`limits.read_mib_per_sec`).
    pub fn with_read_limit(mut self, limit: Option<vger_storage::RateLimit>) -> Self {
        self.read_limit = limit;
        self
    }

    /// Writes checkpoints as packs are stored (see [`Checkpoints`]).
    pub fn with_checkpoints(mut self, c: Checkpoints<'a>) -> Self {
        self.checkpoints = Some(c);
        self
    }

    /// Bytes read from source files so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Entries whose extended attributes were listed from the filesystem, so far.
    pub fn xattr_lists(&self) -> u64 {
        self.xattr_lists
    }

    /// What regular files did against the previous backup, so far.
    pub fn changes(&self) -> FileChanges {
        self.changes
    }

    pub fn into_parts(self) -> (SnapshotStats, Vec<Warning>, u64, FileCache) {
        (self.stats, self.warnings, self.omitted, self.cache)
    }

    /// Writes a checkpoint if one is due.
    fn checkpoint_if_due(&mut self) -> Result<()> {
        match self.checkpoints.as_mut() {
            Some(c) if c.due(self.uploader) => c.write(self.uploader, &mut self.cache),
            _ => Ok(()),
        }
    }

    /// Once a pack has been stored since the last time, logs the chunks of the file being read
    /// so far and flushes the file log, so that a kill loses no file whose chunks are stored.
    fn log_if_packed(&mut self, reading: Option<(PathKey, &Identity, &[ChunkRef])>) {
        let n = self.uploader.packs_stored();
        if n != self.logged_packs {
            self.logged_packs = n;
            if let Some((path, id, chunks)) = reading {
                self.cache.log_read_so_far(path, id, chunks);
            }
            self.cache.flush_log();
        }
    }

    /// The entries of a tree of the parent snapshot, sorted by name; empty when the parent is
    /// not used or the tree cannot be read (the files are then simply read again).
    pub fn parent_entries(&self, tree: Option<&ChunkId>) -> Vec<Entry> {
        match tree {
            Some(id) if self.use_parent => self.repo.read_tree(id).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Records a skipped entry.
    fn warn(&mut self, path: &Path, err: &VgerError) {
        self.stats.skipped += 1;
        self.note(path, err);
    }

    /// The entries of directory `path`, sorted by name bytes: as the scan-ahead found them, or
    /// listed now. A name this platform cannot store (on Windows, not valid Unicode) is skipped
    /// with a warning.
    fn list(&mut self, path: &Path) -> std::io::Result<Listing> {
        let Some(scanned) = self.scan.take(path) else {
            return self.read_names(path);
        };
        let scanned = scanned?;
        for p in &scanned.unstorable {
            self.warn(p, &names::not_unicode(p));
        }
        let hold = cfg!(unix) && self.depth < MAX_HELD_DIRS;
        let looks = scanned
            .looked
            .into_iter()
            .map(|(meta, key)| Look::Done(meta, key))
            .chain(scanned.rest.into_iter().map(
                |e| {
                    if hold { Look::Handle(e) } else { Look::Path }
                },
            ))
            .collect();
        Ok(Listing {
            names: scanned.names,
            looks,
        })
    }

    /// [`Walker::list`] by the walker itself.
    fn read_names(&mut self, path: &Path) -> std::io::Result<Listing> {
        let hold = cfg!(unix) && self.depth < MAX_HELD_DIRS;
        let mut out = Vec::new();
        for e in fs::read_dir(path)? {
            let e = e?;
            let n = e.file_name();
            match names::bytes(&n) {
                Some(b) => out.push((b.to_vec(), if hold { Look::Handle(e) } else { Look::Path })),
                None => {
                    let p = path.join(&n);
                    self.warn(&p, &names::not_unicode(&p));
                }
            }
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let (names, looks) = out.into_iter().unzip();
        Ok(Listing { names, looks })
    }

    /// Records a warning about an entry that was stored anyway.
    pub(super) fn note(&mut self, path: &Path, err: &VgerError) {
        let w = Warning {
            path: path.display().to_string(),
            code: err.code(),
            message: err.to_string(),
        };
        self.progress.event(Event::Warning(w.clone()));
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        } else {
            self.omitted += 1;
        }
    }

    /// Stores a blob unless the repository or this backup already has it.
    fn store_blob(&mut self, kind: BlobKind, data: &[u8]) -> Result<ChunkId> {
        let id = self.repo.master().blob_id(kind, data);
        if !self.queued.contains_key(&id) && !self.repo.index().contains(&id) {
            self.queued.insert(id, ());
            self.stats.new_chunks += 1;
            self.stats.new_bytes += data.len() as u64;
            if !self.dry_run {
                self.uploader
                    .submit(id, kind, self.uploader.copy_of(data))?;
            }
        }
        Ok(id)
    }

    pub fn store_tree(&mut self, mut entries: Vec<Entry>) -> Result<ChunkId> {
        let plain = tree::encode(&mut entries);
        self.store_blob(BlobKind::Tree, &plain)
    }

    /// The entries of source root directory `path`; an unreadable root is an error.
    pub fn root_entries(
        &mut self,
        path: &Path,
        ex: &Excludes,
        parent: Option<&ChunkId>,
    ) -> Result<Vec<Entry>> {
        let listing = self
            .list(path)
            .map_err(|e| VgerError::io(format!("reading directory {}", path.display()), e))?;
        self.dir_entries(path, listing, b"", ex, parent)
    }

    fn dir_tree(
        &mut self,
        path: &Path,
        listing: Listing,
        rel: &[u8],
        ex: &Excludes,
        parent: Option<&ChunkId>,
    ) -> Result<ChunkId> {
        self.depth += 1;
        let entries = self.dir_entries(path, listing, rel, ex, parent);
        self.depth -= 1;
        self.store_tree(entries?)
    }

    fn dir_entries(
        &mut self,
        path: &Path,
        listing: Listing,
        rel: &[u8],
        ex: &Excludes,
        parent: Option<&ChunkId>,
    ) -> Result<Vec<Entry>> {
        let old = self.parent_entries(parent);
        let pushed = ex.reads_gitignore() && self.push_gitignore(path, &listing.names);
        let mut entries = Vec::with_capacity(listing.names.len());
        let mut result = Ok(());
        // In batches: the batch's entries are looked at (lstat) first, so the files the walker
        // will read are known and read ahead (prefetch.rs) while it works through them.
        let mut names = listing.names.into_iter().zip(listing.looks);
        'batches: loop {
            let looked_at: Vec<(Vec<u8>, std::path::PathBuf, Looked)> = names
                .by_ref()
                .take(BATCH)
                .map(|(n, look)| {
                    let child = path.join(names::os_str_lossy(&n));
                    let (meta, key) = match look {
                        Look::Done(m, key) => (m, key),
                        Look::Handle(h) => (h.metadata(), None),
                        Look::Path => (fs::symlink_metadata(&child), None),
                    };
                    // A regular file's cache key, hashed once for the read-ahead and the walk.
                    let key = key.or_else(|| {
                        let is_file = meta.as_ref().is_ok_and(|m| m.file_type().is_file());
                        is_file.then(|| PathKey::of(&child))
                    });
                    (n, child, (meta, key))
                })
                .collect();
            if looked_at.is_empty() {
                break;
            }
            let (batch, metas): (Vec<_>, Vec<_>) =
                looked_at.into_iter().map(|(n, c, m)| ((n, c), m)).unzip();
            self.scan.ask(self.subdirs(&batch, &metas, ex));
            let mut window = prefetch::Window::new(self.to_read_ahead(&batch, &metas, &old, ex));
            for (i, ((name, child), looked)) in batch.into_iter().zip(metas).enumerate() {
                window.advance(i, &self.prefetch);
                let child_rel = join(rel, &name);
                let prev = find(&old, &name);
                match self.entry_with(&child, name, &child_rel, ex, prev, looked) {
                    Ok(Some(e)) => entries.push(e),
                    Ok(None) => {}
                    Err(e) => {
                        result = Err(e);
                        break 'batches;
                    }
                }
            }
        }
        if pushed {
            self.gitignores.pop();
        }
        result.map(|()| entries)
    }

    /// Loads `dir/.gitignore` (see [`GitIgnores::push`]) and reports its problems.
    fn push_gitignore(&mut self, dir: &Path, names: &[Vec<u8>]) -> bool {
        let (pushed, problems) = self.gitignores.push(dir, names);
        if !problems.is_empty() {
            let file = dir.join(".gitignore");
            for e in &problems {
                self.note(&file, e);
            }
        }
        pushed
    }

    /// The directories of a batch the walker will walk into, for the scan-ahead.
    fn subdirs(
        &self,
        batch: &[(Vec<u8>, std::path::PathBuf)],
        metas: &[Looked],
        ex: &Excludes,
    ) -> Vec<std::path::PathBuf> {
        batch
            .iter()
            .zip(metas)
            .filter(|((_, child), (meta, _))| {
                meta.as_ref().is_ok_and(|m| {
                    m.file_type().is_dir()
                        && matches!(ex.verdict(child, m, &self.gitignores), Verdict::Keep)
                })
            })
            .map(|((_, child), _)| child.clone())
            .collect()
    }

    /// The files of a batch the walker will read (regular, small, kept, not unchanged), with
    /// their positions and sizes.
    fn to_read_ahead(
        &self,
        batch: &[(Vec<u8>, std::path::PathBuf)],
        metas: &[Looked],
        old: &[Entry],
        ex: &Excludes,
    ) -> Vec<(usize, std::path::PathBuf, u64)> {
        let mut out = Vec::new();
        for (i, ((name, child), (meta, key))) in batch.iter().zip(metas).enumerate() {
            let (Ok(meta), Some(key)) = (meta, key) else {
                continue;
            };
            let size = meta.len();
            if !meta.file_type().is_file() || size == 0 || size > prefetch::MAX_FILE {
                continue;
            }
            let id = Identity::of(meta);
            let unchanged = if self.use_parent {
                find(old, name).is_some_and(|e| {
                    e.kind == Kind::File
                        && (e.size, e.mtime_ns, e.ctime_ns) == (id.size, id.mtime_ns, id.ctime_ns)
                })
            } else {
                self.cache.matches(*key, &id)
            };
            if !unchanged && matches!(ex.verdict(child, meta, &self.gitignores), Verdict::Keep) {
                out.push((i, child.clone(), size));
            }
        }
        out
    }

    /// Describes one filesystem object and stores its content. `None` when excluded or skipped.
    pub fn entry(
        &mut self,
        path: &Path,
        name: Vec<u8>,
        rel: &[u8],
        ex: &Excludes,
        prev: Option<&Entry>,
    ) -> Result<Option<Entry>> {
        let meta = fs::symlink_metadata(path);
        self.entry_with(path, name, rel, ex, prev, (meta, None))
    }

    /// [`Walker::entry`] with the object's `lstat` taken already.
    fn entry_with(
        &mut self,
        path: &Path,
        name: Vec<u8>,
        rel: &[u8],
        ex: &Excludes,
        prev: Option<&Entry>,
        (meta, key): Looked,
    ) -> Result<Option<Entry>> {
        self.cancel.check()?;
        let meta = match meta {
            Ok(m) => m,
            Err(e) => {
                self.warn(path, &vanished_or_io(path, e));
                return Ok(None);
            }
        };
        match ex.verdict(path, &meta, &self.gitignores) {
            Verdict::Skip => return Ok(None),
            Verdict::MountPoint => {
                let mut e = self.describe(path, name, &meta, None);
                e.kind = Kind::Dir;
                e.content = Content::Subtree(self.store_tree(Vec::new())?);
                self.stats.dirs += 1;
                return Ok(Some(e));
            }
            Verdict::Keep => {}
        }
        let ft = meta.file_type();
        if ft.is_dir() {
            let listing = match self.list(path) {
                Ok(l) => l,
                Err(err) => {
                    self.warn(path, &vanished_or_io(path, err));
                    return Ok(None);
                }
            };
            if ex.marked(path, &listing.names) {
                return Ok(None);
            }
            let mut e = self.describe(path, name, &meta, None);
            e.kind = Kind::Dir;
            let sub = match prev {
                Some(Entry {
                    kind: Kind::Dir,
                    content: Content::Subtree(id),
                    ..
                }) => Some(id),
                _ => None,
            };
            e.content = Content::Subtree(self.dir_tree(path, listing, rel, ex, sub)?);
            self.stats.dirs += 1;
            return Ok(Some(e));
        }
        if ft.is_file() {
            let key = key.unwrap_or_else(|| PathKey::of(path));
            return self.file_entry(path, key, name, rel, &meta, prev);
        }
        let mut e = self.describe(path, name, &meta, None);
        if ft.is_symlink() {
            match fs::read_link(path) {
                Ok(t) => {
                    let Some(t) = names::bytes(t.as_os_str()) else {
                        self.warn(path, &names::not_unicode(&t));
                        return Ok(None);
                    };
                    e.kind = Kind::Symlink;
                    e.content = Content::Target(t.to_vec());
                    self.stats.symlinks += 1;
                }
                Err(err) => {
                    self.warn(path, &vanished_or_io(path, err));
                    return Ok(None);
                }
            }
        } else {
            e.kind = pmeta::special(ft);
            if matches!(e.kind, Kind::CharDev | Kind::BlockDev) {
                e.content = Content::Rdev(pmeta::rdev(&meta));
            }
            self.stats.others += 1;
        }
        Ok(Some(e))
    }

    /// A regular file's entry: a hard link to a file seen before, the file cache's (or the parent
    /// snapshot's) chunks if it is unchanged, else its chunks as read now. `None`: skipped.
    fn file_entry(
        &mut self,
        path: &Path,
        key: PathKey,
        name: Vec<u8>,
        rel: &[u8],
        meta: &Metadata,
        prev: Option<&Entry>,
    ) -> Result<Option<Entry>> {
        if pmeta::nlink(meta) > 1
            && let Some(first) = self.hardlinks.get(&(pmeta::dev(meta), pmeta::ino(meta)))
        {
            let first = first.clone();
            let mut e = self.describe(path, name, meta, None);
            e.kind = Kind::HardLink;
            e.content = Content::Target(first);
            self.stats.files += 1;
            return Ok(Some(e));
        }
        let (found, known_xattrs) = match self.unchanged(key, meta, prev) {
            Some((stored, xattrs)) => (Some(stored), xattrs),
            None => (None, None),
        };
        // Read here when the cache has none, so that only a complete list is cached.
        let (known_xattrs, cacheable) = match (self.xattrs, known_xattrs) {
            (true, None) => {
                self.xattr_lists += 1;
                let (x, complete) = pmeta::xattrs_checked(path);
                (Some(x), complete)
            }
            (_, known) => (known, true),
        };
        let mut e = self.describe(path, name, meta, known_xattrs);
        let xattrs = (self.xattrs && cacheable).then_some(e.xattrs.as_slice());
        let seen_before = found.is_some()
            || matches!(
                prev,
                Some(Entry {
                    kind: Kind::File,
                    ..
                })
            )
            || self.cache.knows(key);
        let unchanged = found.is_some();
        let read = match found {
            Some(stored) => Some(self.take_unchanged(key, meta, stored, xattrs)),
            None => self.read_file(path, key, meta, xattrs)?,
        };
        let Some((chunks, holes)) = read else {
            return Ok(None);
        };
        match (unchanged, seen_before) {
            (true, _) => self.changes.unmodified += 1,
            (false, true) => self.changes.changed += 1,
            (false, false) => self.changes.new += 1,
        }
        e.kind = Kind::File;
        e.content = Content::Chunks(chunks);
        e.holes = holes;
        if pmeta::nlink(meta) > 1 {
            self.hardlinks
                .insert((pmeta::dev(meta), pmeta::ino(meta)), rel.to_vec());
        }
        Ok(Some(e))
    }

    /// Metadata common to every kind; the caller sets kind and content. `known_xattrs`: the
    /// entry's extended attributes if the file cache has them (else they are listed, when the
    /// backup records them).
    pub fn describe(
        &mut self,
        path: &Path,
        name: Vec<u8>,
        meta: &Metadata,
        known_xattrs: Option<Xattrs>,
    ) -> Entry {
        let (uid, gid) = (pmeta::uid(meta), pmeta::gid(meta));
        let user = self
            .users
            .entry(uid)
            .or_insert_with(|| pmeta::user_name(uid))
            .clone();
        let group = self
            .groups
            .entry(gid)
            .or_insert_with(|| pmeta::group_name(gid))
            .clone();
        let xattrs = match (self.xattrs, known_xattrs) {
            (false, _) => Vec::new(),
            (true, Some(known)) => known,
            (true, None) => {
                self.xattr_lists += 1;
                pmeta::xattrs(path)
            }
        };
        Entry {
            name,
            kind: Kind::Fifo,
            mode: pmeta::mode(meta),
            uid,
            gid,
            user,
            group,
            mtime_ns: pmeta::mtime_ns(meta),
            ctime_ns: pmeta::ctime_ns(meta),
            size: if meta.is_file() { meta.len() } else { 0 },
            xattrs,
            content: Content::None,
            holes: Vec::new(),
        }
    }

    /// The chunks (and holes) of a file that has not changed since the last backup: from the
    /// file cache, or without one from the parent snapshot's entry (same size, mtime and
    /// ctime); with its extended attributes if the cache has them. The cache holds no hole maps,
    /// so a sparse file is found only through the parent.
    fn unchanged(
        &self,
        key: PathKey,
        meta: &Metadata,
        prev: Option<&Entry>,
    ) -> Option<(Stored, Option<Xattrs>)> {
        let id = Identity::of(meta);
        if self.cache.loaded() {
            let (chunks, xattrs) = self.cache.lookup(key, &id, &self.repo.index())?;
            return Some(((chunks, Vec::new()), xattrs));
        }
        match prev {
            Some(Entry {
                kind: Kind::File,
                content: Content::Chunks(c),
                size,
                mtime_ns,
                ctime_ns,
                holes,
                ..
            }) if (*size, *mtime_ns, *ctime_ns) == (id.size, id.mtime_ns, id.ctime_ns)
                && super::filecache::chunks_valid(
                    c,
                    id.size
                        .saturating_sub(holes.iter().map(|h| h.1).sum::<u64>()),
                    &self.repo.index(),
                ) =>
            {
                Some(((c.clone(), holes.clone()), None))
            }
            _ => None,
        }
    }

    /// Takes an unchanged file's chunks: counted as read, recorded in the new cache.
    fn take_unchanged(
        &mut self,
        key: PathKey,
        meta: &Metadata,
        (chunks, holes): Stored,
        xattrs: Option<&[Xattr]>,
    ) -> Stored {
        let id = Identity::of(meta);
        if holes.is_empty() {
            self.cache
                .record(key, &id, &chunks, xattrs, &self.repo.index(), true);
        }
        self.log_if_packed(None);
        self.stats.files += 1;
        self.stats.bytes += id.size;
        self.progress.event(Event::Backup {
            files: self.stats.files,
            bytes: self.stats.bytes,
            new_bytes: self.stats.new_bytes,
        });
        (chunks, holes)
    }

    /// Chunks and stores all that `reader` yields (a command's output, standard input), counted
    /// as one file read.
    pub(super) fn chunk_stream(
        &mut self,
        reader: impl Read,
    ) -> std::result::Result<Vec<ChunkRef>, StreamError> {
        let mut buf = std::mem::take(&mut self.buf);
        let chunker = Rc::clone(&self.chunker);
        let mut chunks = Vec::new();
        let mut bytes = 0u64;
        let result = chunker.stream(reader, &mut buf, |chunk: &[u8]| {
            self.cancel.check()?;
            if let Some(l) = &self.read_limit {
                l.take(chunk.len() as u64);
            }
            self.checkpoint_if_due()?;
            let cid = self.store_blob(BlobKind::Data, chunk)?;
            chunks.push((cid, chunk.len() as u32));
            bytes += chunk.len() as u64;
            self.progress.event(Event::Backup {
                files: self.stats.files,
                bytes: self.stats.bytes + bytes,
                new_bytes: self.stats.new_bytes,
            });
            Ok(())
        });
        self.buf = buf;
        self.bytes_read += bytes;
        result?;
        self.stats.files += 1;
        self.stats.bytes += bytes;
        Ok(chunks)
    }

    /// Chunks a regular file; of a sparse file only the data extents are read, and the rest is
    /// returned as its holes. `Ok(None)` means it was skipped with a warning.
    fn read_file(
        &mut self,
        path: &Path,
        key: PathKey,
        meta: &Metadata,
        xattrs: Option<&[Xattr]>,
    ) -> Result<Option<Stored>> {
        let file = match pmeta::no_follow(OpenOptions::new().read(true)).open(path) {
            Ok(f) => f,
            Err(e) => {
                self.warn(path, &vanished_or_io(path, e));
                return Ok(None);
            }
        };
        let id = Identity::of(meta);
        let extents = sparse::data_extents(&file, meta);
        // A file an interrupted backup had begun is read on from where its stored chunks end.
        let resumed = match extents {
            None => self
                .cache
                .resume(key, &id, &self.repo.index())
                .filter(|(_, offset)| (&file).seek(SeekFrom::Start(*offset)).is_ok()),
            Some(_) => None,
        };
        let (mut chunks, skipped) =
            resumed.unwrap_or_else(|| (Vec::with_capacity(1 + meta.len() as usize / (2 << 20)), 0));
        let mut buf = std::mem::take(&mut self.buf);
        let mut bytes = 0u64;
        let chunker = Rc::clone(&self.chunker);
        let mut sink = |chunk: &[u8]| {
            self.cancel.check()?;
            if let Some(l) = &self.read_limit {
                l.take(chunk.len() as u64);
            }
            self.checkpoint_if_due()?;
            let cid = self.store_blob(BlobKind::Data, chunk)?;
            chunks.push((cid, chunk.len() as u32));
            bytes += chunk.len() as u64;
            self.log_if_packed(Some((key, &id, &chunks)));
            Ok(())
        };
        let (result, holes) = match extents {
            None => (chunker.stream(&file, &mut buf, &mut sink), Vec::new()),
            Some(extents) => {
                let mut reader = ExtentReader::new(&file, extents);
                let r = chunker.stream(&mut reader, &mut buf, &mut sink);
                (r, reader.holes(meta.len()))
            }
        };
        // The size the snapshot counts: holes are part of it, as for a file stored whole.
        bytes += holes.iter().map(|h| h.1).sum::<u64>();
        self.buf = buf;
        self.bytes_read += bytes;
        bytes += skipped;
        match result {
            Ok(()) => {}
            Err(StreamError::Sink(e)) => return Err(e),
            Err(StreamError::Read(e)) => {
                self.warn(
                    path,
                    &VgerError::io(format!("reading {}", path.display()), e),
                );
                return Ok(None);
            }
        }
        self.stats.files += 1;
        self.stats.bytes += bytes;
        if changed(&file, meta) {
            // Not cached: the next backup must read it again.
            let err = VgerError::SourceChanged(path.display().to_string());
            self.note(path, &err);
        } else if holes.is_empty() {
            self.cache
                .record(key, &id, &chunks, xattrs, &self.repo.index(), false);
        }
        self.checkpoint_if_due()?;
        self.log_if_packed(None);
        self.progress.event(Event::Backup {
            files: self.stats.files,
            bytes: self.stats.bytes,
            new_bytes: self.stats.new_bytes,
        });
        Ok(Some((chunks, holes)))
    }
}

/// A chunk of a file: its id and length.
pub(super) type ChunkRef = (ChunkId, u32);

/// A file's chunks and holes.
type Stored = (Vec<(ChunkId, u32)>, Vec<(u64, u64)>);

/// The entry named `name` in a tree's entries (sorted by name).
pub fn find<'e>(entries: &'e [Entry], name: &[u8]) -> Option<&'e Entry> {
    entries
        .binary_search_by(|e| e.name.as_slice().cmp(name))
        .ok()
        .map(|i| &entries[i])
}

fn changed(file: &File, before: &Metadata) -> bool {
    file.metadata().is_ok_and(|after| {
        after.len() != before.len() || pmeta::mtime_ns(&after) != pmeta::mtime_ns(before)
    })
}

fn vanished_or_io(path: &Path, e: std::io::Error) -> VgerError {
    if e.kind() == std::io::ErrorKind::NotFound {
        VgerError::SourceNotFound(format!(
            "{} (it vanished during the backup)",
            path.display()
        ))
    } else {
        VgerError::io(format!("reading {}", path.display()), e)
    }
}
