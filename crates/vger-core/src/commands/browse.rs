//! Browsing a snapshot without restoring it: one directory at a time and byte ranges of a file,
//! for `vger dump` and `vger mount`. Nothing is loaded up front: a directory costs one tree, a
//! range the chunks it covers. Every chunk is authenticated as it is read (as in a restore), so a
//! damaged pack is an error, never wrong bytes.
//!
//! Browsing takes no lease: it may run for hours beside backups and compactions. When a
//! compaction moved a chunk since the index was loaded, the read fails with the chunk's pack
//! missing; the index is then reloaded and the read tried once more.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use vger_crypto::BlobKind;
use vger_types::{ChunkId, ErrorCode, Result, VgerError};

use crate::repo::Repository;
use crate::tree::{Content, Entry, Kind};

/// Decoded trees and chunks kept for the next request: a file is read in windows smaller than its
/// chunks, and a directory is looked up once per file read in it.
pub struct BrowseCache {
    trees: Mutex<VecDeque<(ChunkId, Arc<Vec<Entry>>)>>,
    chunks: Mutex<VecDeque<(ChunkId, Arc<Vec<u8>>)>>,
}

const CACHED_TREES: usize = 16;
const CACHED_CHUNKS: usize = 8;

impl Default for BrowseCache {
    fn default() -> Self {
        Self::new()
    }
}

impl BrowseCache {
    pub fn new() -> Self {
        BrowseCache {
            trees: Mutex::new(VecDeque::new()),
            chunks: Mutex::new(VecDeque::new()),
        }
    }

    /// The entries of tree `id`, sorted by name.
    pub fn tree(&self, repo: &Repository, id: &ChunkId) -> Result<Arc<Vec<Entry>>> {
        if let Some(t) = recall(&self.trees, id) {
            return Ok(t);
        }
        let entries = Arc::new(retrying(repo, || repo.read_tree(id))?);
        remember(&self.trees, *id, entries.clone(), CACHED_TREES);
        Ok(entries)
    }

    fn chunk(&self, repo: &Repository, id: &ChunkId, len: u32) -> Result<Arc<Vec<u8>>> {
        if let Some(c) = recall(&self.chunks, id) {
            return Ok(c);
        }
        let data = retrying(repo, || repo.read_blob(id, BlobKind::Data, len as usize))?;
        if data.len() != len as usize {
            return Err(VgerError::corrupt(
                format!("chunk {}", id.to_hex()),
                format!("{} bytes where the tree says {len}", data.len()),
            ));
        }
        let data = Arc::new(data);
        remember(&self.chunks, *id, data.clone(), CACHED_CHUNKS);
        Ok(data)
    }
}

fn recall<T: Clone>(cache: &Mutex<VecDeque<(ChunkId, T)>>, id: &ChunkId) -> Option<T> {
    let mut c = cache.lock().unwrap_or_else(PoisonError::into_inner);
    let i = c.iter().position(|(k, _)| k == id)?;
    let hit = c.remove(i)?;
    c.push_front(hit.clone());
    Some(hit.1)
}

fn remember<T>(cache: &Mutex<VecDeque<(ChunkId, T)>>, id: ChunkId, value: T, cap: usize) {
    let mut c = cache.lock().unwrap_or_else(PoisonError::into_inner);
    c.push_front((id, value));
    c.truncate(cap);
}

/// Runs `read`; when it fails because a pack is missing, reloads the index (a compaction may
/// have moved the data) and runs it once more.
fn retrying<T>(repo: &Repository, read: impl Fn() -> Result<T>) -> Result<T> {
    match read() {
        Err(e) if e.code() == ErrorCode::ObjectMissing => {
            repo.reload_index()?;
            read()
        }
        other => other,
    }
}

/// The entry at `path` (names from the root) under root tree `root`, or `None` when there is no
/// such entry. The root itself (an empty path) is a directory entry with an empty name.
pub fn lookup(
    repo: &Repository,
    cache: &BrowseCache,
    root: &ChunkId,
    path: &[Vec<u8>],
) -> Result<Option<Entry>> {
    let mut found = root_entry(*root);
    for name in path {
        let tree = match (&found.kind, &found.content) {
            (Kind::Dir, Content::Subtree(id)) => *id,
            _ => return Ok(None),
        };
        let entries = cache.tree(repo, &tree)?;
        match entries.binary_search_by(|e| e.name.as_slice().cmp(name)) {
            Ok(at) => found = entries[at].clone(),
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(found))
}

fn root_entry(root: ChunkId) -> Entry {
    Entry {
        name: Vec::new(),
        kind: Kind::Dir,
        mode: 0o040755,
        uid: 0,
        gid: 0,
        user: String::new(),
        group: String::new(),
        mtime_ns: 0,
        ctime_ns: 0,
        size: 0,
        xattrs: Vec::new(),
        content: Content::Subtree(root),
        holes: Vec::new(),
    }
}

/// Up to `len` bytes of regular file `entry` from `offset` (fewer at its end; none past it).
/// Holes read as zeros.
pub fn read_range(
    repo: &Repository,
    cache: &BrowseCache,
    entry: &Entry,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>> {
    let chunks = match (&entry.kind, &entry.content) {
        (Kind::File, Content::Chunks(c)) => c.as_slice(),
        (Kind::File, _) => &[],
        _ => {
            return Err(VgerError::invalid(format!(
                "{:?} is not a regular file",
                String::from_utf8_lossy(&entry.name)
            )));
        }
    };
    let end = offset.saturating_add(len).min(entry.size);
    if offset >= end {
        return Ok(Vec::new());
    }
    let mut out = vec![0u8; (end - offset) as usize];
    // Where each chunk starts in the stored bytes.
    let mut starts = Vec::with_capacity(chunks.len());
    let mut at = 0u64;
    for (_, n) in chunks {
        starts.push(at);
        at += u64::from(*n);
    }
    for (stored, file_at, run_len) in entry.data_runs() {
        let lo = offset.max(file_at);
        let hi = end.min(file_at + run_len);
        if lo >= hi {
            continue;
        }
        // Stored bytes [s_lo, s_hi) land at out[lo - offset ..].
        let (s_lo, s_hi) = (stored + (lo - file_at), stored + (hi - file_at));
        let mut i = starts.partition_point(|s| *s <= s_lo).saturating_sub(1);
        while i < chunks.len() && starts[i] < s_hi {
            let (id, n) = chunks[i];
            let c_lo = starts[i];
            let data = cache.chunk(repo, &id, n)?;
            let from = s_lo.max(c_lo);
            let to = s_hi.min(c_lo + u64::from(n));
            let dst = (lo + (from - s_lo) - offset) as usize;
            out[dst..dst + (to - from) as usize]
                .copy_from_slice(&data[(from - c_lo) as usize..(to - c_lo) as usize]);
            i += 1;
        }
    }
    Ok(out)
}
