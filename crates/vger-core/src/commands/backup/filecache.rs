//! The file cache: a regular file whose (device, inode, size, mtime, ctime) are unchanged since
//! the last backup of the same sources to the same repository is not read again; its chunk list
//! is reused. The cache is a local file, not part of the repository:
//!
//! ```text
//! <cache dir>/files/<32 hex: BLAKE3 of repository id and source paths>
//! "VGERFC03" ‖ entries ‖ segment ids (32 each) ‖ segment count u32 ‖
//! 32-byte keyed BLAKE3 MAC of everything before it
//! entry: path hash 16 ‖ dev u64 ‖ inode u64 ‖ size u64 ‖ mtime ns i64 ‖ ctime ns i64 ‖
//!        chunk count u32 ‖ count × (chunk id 32 ‖ length u32) ‖
//!        xattrs: 0 u8 (not read) | 1 u8 ‖ count u32 ‖ count × (name len u32 ‖ name ‖
//!        value len u32 ‖ value)                                       (little-endian)
//! ```
//!
//! An entry also keeps the file's extended attributes as the backup read them, so an unchanged
//! file's are not listed again: setting or removing one changes the file's ctime, which is part
//! of the identity, and a file whose ctime falls in the second the backup started is not cached
//! at all (below). A backup with xattrs turned off records "not read", as does one that could not
//! read them all, and a later one lists the file's attributes again.
//!
//! The MAC key is derived from the repository's master key, so a cache written for another
//! repository, or altered, is ignored as a whole. Even an authentic entry is only a suggestion:
//! every chunk must be in the repository index with the same length, and the lengths must add up
//! to the file's size, or the file is read again. Files changed within the second the backup
//! started are not cached (their mtime could change again without a visible difference).
//!
//! The segment ids are the index segments whose entries the index held when the cache was
//! written; every chunk of every entry was in one of them. Segments are never changed, and a
//! segment that a compaction or repair replaced is deleted (or, if it comes back, left out as
//! replayed), so while all of them are still in the index (and no pack was found missing),
//! every entry's chunks are too: the cache is *vouched for*, and an unchanged file is taken
//! without looking up each of its chunks (a re-backup of a large source then touches none of
//! the index). Otherwise each entry is checked chunk by chunk as above.
//!
//! An entry is written only once every chunk of the file is in the index (for a file with new
//! chunks: once the packs holding them are listed by an index segment of this backup), so a
//! checkpoint of the cache ([`FileCache::checkpoint`], written while the backup runs and when it
//! is cancelled) never promises a chunk a rerun would not find. A checkpoint holds this backup's
//! entries so far plus the previous cache's entries for files not visited yet, MACed as above, and
//! replaces the cache file atomically (temporary file, then rename; mode 0600).
//!
//! Between checkpoints, each file is also written to the backup's file log ([`super::filelog`]),
//! which a rerun after `kill -9` adopts ([`FileCache::adopt`]): finished files as entries, and
//! the chunks of a file read so far as a point to resume reading it ([`FileCache::resume`]).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use vger_storage::platform::{private_dir, private_file};
use vger_types::ChunkId;

use super::filelog::{self, FileLog};
use super::previous::{Previous, View};
use crate::clock::NS_PER_SEC;
use crate::platform::meta;
use crate::repo::index::ChunkIndex;

const MAGIC: &[u8; 8] = b"VGERFC03";
const MAC_LEN: usize = 32;

/// What identifies an unchanged file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

impl Identity {
    pub fn of(m: &fs::Metadata) -> Self {
        Identity {
            dev: meta::dev(m),
            ino: meta::ino(m),
            size: m.len(),
            mtime_ns: meta::mtime_ns(m),
            ctime_ns: meta::ctime_ns(m),
        }
    }
}

/// A file's chunks: id and length of each.
pub type ChunkList = Vec<(ChunkId, u32)>;
/// An extended attribute: name, value.
pub type Xattr = (Vec<u8>, Vec<u8>);
/// A file's extended attributes, as a tree entry holds them.
pub type Xattrs = Vec<Xattr>;

/// Most attributes, and bytes of names and values, a cache entry keeps (the previous cache is
/// held in memory); a file with more is cached without them ("not read"), so each backup lists
/// its attributes again.
pub(super) const MAX_XATTRS: usize = 1024;
const MAX_XATTR_BYTES: usize = 64 << 10;

#[derive(Clone)]
pub struct Cached {
    pub id: Identity,
    pub chunks: Box<[(ChunkId, u32)]>,
    /// `None`: the backup that wrote the entry did not read them.
    pub xattrs: Option<Box<[Xattr]>>,
}

/// The cache of the previous backup (read-only) and the one this backup writes.
pub struct FileCache {
    /// The previous cache's entries for files this backup has not recorded yet.
    old: Previous,
    loaded: bool,
    /// Whether the previous cache's entries are vouched for by the index (module docs).
    vouched: bool,
    /// Entries taken from the file logs of interrupted backups: never vouched for.
    adopted: std::collections::HashSet<u128>,
    new: Option<Writer>,
    /// Encoded entries of files with chunks not yet in the index, in walk order.
    pending: Vec<Vec<u8>>,
    /// From the logs of interrupted backups: the chunks of each file read so far.
    read: HashMap<u128, Cached>,
    /// This backup's file log, and the file whose chunks it lists so far (path hash, count).
    log: Option<FileLog>,
    logged: (u128, usize),
}

struct Writer {
    out: BufWriter<File>,
    mac: blake3::Hasher,
    tmp: PathBuf,
    dest: PathBuf,
    cutoff_ns: i64,
}

/// What the cache knows a file by: the first 16 bytes of the BLAKE3 hash of its path, computed
/// by the walker once for all its cache calls on a file (and once for the read-ahead choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathKey(u128);

impl PathKey {
    pub fn of(path: &Path) -> Self {
        let h = blake3::hash(path.as_os_str().as_encoded_bytes());
        let mut b = [0u8; 16];
        b.copy_from_slice(&h.as_bytes()[..16]);
        PathKey(u128::from_le_bytes(b))
    }
}

/// The cache file for a repository and a set of source paths.
pub fn cache_file(dir: &Path, repo_id: &[u8; 32], sources: &[Vec<u8>]) -> PathBuf {
    let mut h = blake3::Hasher::new();
    h.update(repo_id);
    for s in sources {
        h.update(&(s.len() as u64).to_le_bytes()).update(s);
    }
    dir.join("files")
        .join(hex::encode(&h.finalize().as_bytes()[..16]))
}

impl FileCache {
    /// No cache at all (no cache directory given).
    pub fn disabled() -> Self {
        FileCache {
            old: Previous::default(),
            loaded: false,
            vouched: false,
            adopted: Default::default(),
            new: None,
            pending: Vec::new(),
            read: HashMap::new(),
            log: None,
            logged: (0, 0),
        }
    }

    /// Loads `file` if it is authentic and starts writing its successor. `indexed` are the
    /// segments whose entries the index holds (`None` if the index forgot blobs of missing
    /// packs: nothing is vouched for then). Problems with the cache only turn it off: it never
    /// fails a backup.
    pub fn open(
        file: &Path,
        key: &[u8; 32],
        start_ns: i64,
        indexed: Option<&std::collections::HashSet<[u8; 32]>>,
    ) -> Self {
        let (old, segments) = fs::read(file)
            .ok()
            .and_then(|b| parse(b, key))
            .unwrap_or_default();
        let loaded = !old.is_empty();
        let vouched = indexed.is_some_and(|ix| segments.iter().all(|s| ix.contains(s)));
        let new = Writer::create(file, key, start_ns - start_ns.rem_euclid(NS_PER_SEC)).ok();
        FileCache {
            old,
            loaded,
            vouched,
            adopted: Default::default(),
            new,
            pending: Vec::new(),
            read: HashMap::new(),
            log: None,
            logged: (0, 0),
        }
    }

    /// Takes in what the file logs of this client's interrupted backups say (read by the
    /// in-flight record's reclaim): their finished files become entries, newer than the cache's.
    pub fn adopt(&mut self, logs: &[Vec<u8>], key: &[u8; 32]) {
        if logs.is_empty() {
            return;
        }
        let logged = filelog::parse(logs, key);
        self.loaded |= !logged.read.is_empty();
        self.adopted.extend(logged.finished.keys().copied());
        for (key, c) in logged.finished {
            self.old
                .insert(&encode(key, &c.id, &c.chunks, c.xattrs.as_deref()));
        }
        self.read = logged.read;
    }

    /// Writes this backup's file log to `file`.
    pub fn log_to(&mut self, file: File, key: &[u8; 32]) {
        if self.new.is_some() {
            self.log = Some(FileLog::new(file, key));
        }
    }

    /// Logs the chunks of the file being read so far (those not logged yet).
    pub fn log_read_so_far(&mut self, path: PathKey, id: &Identity, chunks: &[(ChunkId, u32)]) {
        let (Some(log), Some(w)) = (self.log.as_mut(), self.new.as_ref()) else {
            return;
        };
        if id.mtime_ns >= w.cutoff_ns || id.ctime_ns >= w.cutoff_ns {
            return;
        }
        let key = path.0;
        let from = if self.logged.0 == key {
            self.logged.1
        } else {
            0
        };
        if let Some(rest) = chunks.get(from..).filter(|r| !r.is_empty()) {
            log.append(
                filelog::READ_SO_FAR,
                from as u32,
                &encode(key, id, rest, None),
            );
            self.logged = (key, chunks.len());
        }
    }

    /// Writes the file log's buffered records to disk (called whenever a pack has been stored).
    pub fn flush_log(&mut self) {
        if let Some(log) = self.log.as_mut() {
            log.flush();
        }
    }

    /// Where to resume reading a file an interrupted backup had begun: the longest prefix of
    /// the chunks it logged that are all in the index with their lengths, and its length.
    pub fn resume(
        &self,
        path: PathKey,
        id: &Identity,
        index: &ChunkIndex,
    ) -> Option<(Vec<(ChunkId, u32)>, u64)> {
        let c = self.read.get(&path.0).filter(|c| c.id == *id)?;
        let n = c
            .chunks
            .iter()
            .take_while(|(chunk, len)| stored(chunk, *len, index))
            .count();
        let offset: u64 = c.chunks[..n].iter().map(|(_, len)| u64::from(*len)).sum();
        (n > 0 && offset <= id.size).then(|| (c.chunks[..n].to_vec(), offset))
    }

    /// Whether a previous cache was loaded (if not, the parent snapshot stands in).
    pub fn loaded(&self) -> bool {
        self.loaded
    }

    /// Whether the previous cache has an entry for `path` with this identity (so the file is
    /// likely unchanged; [`FileCache::lookup`] decides).
    pub fn matches(&self, path: PathKey, id: &Identity) -> bool {
        self.old.get(path.0).is_some_and(|c| c.id == *id)
    }

    /// Whether the previous cache knew a file at `path` (changed or not).
    pub fn knows(&self, path: PathKey) -> bool {
        self.old.get(path.0).is_some()
    }

    /// The chunks of an unchanged file, if every one is still in the index with its length,
    /// and its extended attributes if the backup that cached it read them.
    pub fn lookup(
        &self,
        path: PathKey,
        id: &Identity,
        index: &ChunkIndex,
    ) -> Option<(ChunkList, Option<Xattrs>)> {
        let key = path.0;
        let c = self.old.get(key).filter(|c| c.id == *id)?;
        let vouched = self.vouched && !self.adopted.contains(&key);
        still_valid(vouched, &c, index).then(|| (c.chunk_list(), c.xattrs()))
    }

    /// Records a file for the next backup: at once if all its chunks are in the index (or
    /// `indexed` says so: an unchanged file whose entry was just checked), else once a
    /// checkpoint or the commit finds them there. `xattrs`: the file's extended attributes,
    /// `None` if this backup does not read them.
    pub fn record(
        &mut self,
        path: PathKey,
        id: &Identity,
        chunks: &[(ChunkId, u32)],
        xattrs: Option<&[Xattr]>,
        index: &ChunkIndex,
        indexed: bool,
    ) {
        let Some(w) = self.new.as_ref() else { return };
        if id.mtime_ns >= w.cutoff_ns || id.ctime_ns >= w.cutoff_ns {
            return;
        }
        let key = path.0;
        let e = encode(key, id, chunks, xattrs);
        // An entry the cache file had as it is now needs no log record: until the next
        // checkpoint replaces that file (and the checkpoint holds the entry), a rerun after
        // `kill -9` finds it there. An unchanged re-backup then writes no log at all.
        let kept = !self.adopted.contains(&key) && self.old.get(key).is_some_and(|o| o.raw == e);
        self.old.remove(key);
        if let Some(log) = self.log.as_mut().filter(|_| !kept) {
            log.append(filelog::FINISHED, 0, &e);
        }
        if indexed || chunks.iter().all(|(c, _)| index.contains(c)) {
            self.append(&e);
        } else {
            self.pending.push(e);
        }
    }

    fn append(&mut self, e: &[u8]) {
        if let Some(w) = self.new.as_mut() {
            w.mac.update(e);
            if w.out.write_all(e).is_err() {
                self.new = None; // a cache that cannot be written is simply not kept
            }
        }
    }

    /// Writes the pending entries whose chunks are all in the index now.
    fn promote(&mut self, index: &ChunkIndex) {
        for e in std::mem::take(&mut self.pending) {
            if entry_chunks(&e).all(|c| index.contains(&c)) {
                self.append(&e);
            } else {
                self.pending.push(e);
            }
        }
    }

    /// Replaces the cache file with what is known now: this backup's entries whose chunks are
    /// all in the index, and the previous cache's entries for files not visited yet. Called
    /// after each checkpoint's index segment, so an interrupted backup's rerun does not read
    /// again the files finished before the interruption.
    pub fn checkpoint(
        &mut self,
        index: &ChunkIndex,
        indexed: &std::collections::HashSet<[u8; 32]>,
    ) {
        self.promote(index);
        let Some(w) = self.new.as_mut() else { return };
        if w.out.flush().is_err() {
            self.new = None;
            return;
        }
        let dir = w.dest.parent().unwrap_or(Path::new("."));
        let ck = dir.join(format!(
            ".tmp.{}",
            hex::encode(vger_crypto::random_bytes::<8>())
        ));
        let mut mac = w.mac.clone();
        let (old, vouched, adopted) = (&self.old, self.vouched, &self.adopted);
        let mut written = || -> std::io::Result<()> {
            // The entries so far (the copy keeps the temporary file's mode, 0600).
            fs::copy(&w.tmp, &ck)?;
            let mut out =
                BufWriter::with_capacity(1 << 16, OpenOptions::new().append(true).open(&ck)?);
            // The segments named vouch for every entry written: the previous cache's entries
            // are carried over only if they are still valid.
            for c in old
                .entries()
                .filter(|c| still_valid(vouched && !adopted.contains(&c.key), c, index))
            {
                mac.update(c.raw);
                out.write_all(c.raw)?;
            }
            let trailer = trailer(indexed);
            mac.update(&trailer);
            out.write_all(&trailer)?;
            out.write_all(mac.finalize().as_bytes())?;
            out.flush()?;
            fs::rename(&ck, &w.dest)
        };
        if written().is_err() {
            let _ = fs::remove_file(&ck);
        }
    }

    /// Makes the new cache the current one; called after the snapshot is stored (when every
    /// pack of the backup is in the index).
    pub fn commit(mut self, index: &ChunkIndex, indexed: &std::collections::HashSet<[u8; 32]>) {
        self.promote(index);
        if let Some(mut w) = self.new.take() {
            let trailer = trailer(indexed);
            w.mac.update(&trailer);
            let mac = *w.mac.finalize().as_bytes();
            let ok = w.out.write_all(&trailer).is_ok()
                && w.out.write_all(&mac).is_ok()
                && w.out.flush().is_ok();
            if !(ok && fs::rename(&w.tmp, &w.dest).is_ok()) {
                let _ = fs::remove_file(&w.tmp);
            }
        }
    }
}

impl Drop for FileCache {
    fn drop(&mut self) {
        if let Some(w) = self.new.take() {
            let _ = fs::remove_file(&w.tmp);
        }
    }
}

impl Writer {
    fn create(dest: &Path, key: &[u8; 32], cutoff_ns: i64) -> std::io::Result<Self> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        // The cache names every file backed up and its chunk ids: its owner's eyes only.
        private_dir(fs::DirBuilder::new().recursive(true)).create(dir)?;
        let tmp = dir.join(format!(
            ".tmp.{}",
            hex::encode(vger_crypto::random_bytes::<8>())
        ));
        let file = private_file(OpenOptions::new().write(true).create_new(true)).open(&tmp)?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        out.write_all(MAGIC)?;
        let mut mac = blake3::Hasher::new_keyed(key);
        mac.update(MAGIC);
        Ok(Writer {
            out,
            mac,
            tmp,
            dest: dest.to_path_buf(),
            cutoff_ns,
        })
    }
}

/// One entry, encoded as in the file.
pub fn encode(
    key: u128,
    id: &Identity,
    chunks: &[(ChunkId, u32)],
    xattrs: Option<&[Xattr]>,
) -> Vec<u8> {
    let bytes = |x: &[Xattr]| -> usize {
        x.iter()
            .map(|(name, value)| 8 + name.len() + value.len())
            .sum()
    };
    let xattrs = xattrs.filter(|x| x.len() <= MAX_XATTRS && bytes(x) <= MAX_XATTR_BYTES);
    let xattrs_len = xattrs.map_or(0, |x| 4 + bytes(x));
    // Exact: entries wait in memory (pending) until their chunks are indexed.
    let mut e = Vec::with_capacity(61 + chunks.len() * 36 + xattrs_len);
    e.extend_from_slice(&key.to_le_bytes());
    for v in [id.dev, id.ino, id.size] {
        e.extend_from_slice(&v.to_le_bytes());
    }
    e.extend_from_slice(&id.mtime_ns.to_le_bytes());
    e.extend_from_slice(&id.ctime_ns.to_le_bytes());
    e.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
    for (c, n) in chunks {
        e.extend_from_slice(&c.0);
        e.extend_from_slice(&n.to_le_bytes());
    }
    match xattrs {
        None => e.push(0),
        Some(x) => {
            e.push(1);
            e.extend_from_slice(&(x.len() as u32).to_le_bytes());
            for (name, value) in x {
                for b in [name, value] {
                    e.extend_from_slice(&(b.len() as u32).to_le_bytes());
                    e.extend_from_slice(b);
                }
            }
        }
    }
    e
}

/// The chunk ids of an encoded entry.
fn entry_chunks(e: &[u8]) -> impl Iterator<Item = ChunkId> + '_ {
    let n = e
        .get(56..60)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let end = n.saturating_mul(36).saturating_add(60).min(e.len());
    e.get(60..end)
        .unwrap_or_default()
        .chunks_exact(36)
        .map(|c| {
            let mut id = [0u8; 32];
            id.copy_from_slice(&c[..32]);
            ChunkId(id)
        })
}

/// [`chunks_valid`] for an entry, without asking the index if it is `vouched` for.
fn still_valid(vouched: bool, c: &View<'_>, index: &ChunkIndex) -> bool {
    (vouched || c.chunks().all(|(id, len)| stored(&id, len, index))) && c.stored_len() == c.id.size
}

/// Every chunk is in the index with the recorded length, and the lengths add up to `size`.
pub fn chunks_valid(chunks: &[(ChunkId, u32)], size: u64, index: &ChunkIndex) -> bool {
    chunks.iter().all(|(id, len)| stored(id, *len, index))
        && chunks.iter().map(|(_, len)| u64::from(*len)).sum::<u64>() == size
}

/// A data chunk is in the index with this length.
fn stored(id: &ChunkId, len: u32, index: &ChunkIndex) -> bool {
    index
        .get(id)
        .is_some_and(|(_, loc)| loc.raw_len == len && loc.kind == vger_crypto::BlobKind::Data)
}

/// The segment list that ends a cache file (module docs), sorted.
fn trailer(indexed: &std::collections::HashSet<[u8; 32]>) -> Vec<u8> {
    let mut ids: Vec<&[u8; 32]> = indexed.iter().collect();
    ids.sort_unstable();
    let mut out: Vec<u8> = ids.into_iter().flatten().copied().collect();
    out.extend_from_slice(&(indexed.len() as u32).to_le_bytes());
    out
}

type Parsed = (Previous, Vec<[u8; 32]>);

fn parse(mut bytes: Vec<u8>, key: &[u8; 32]) -> Option<Parsed> {
    let body_len = bytes.len().checked_sub(MAC_LEN)?;
    let (body, mac) = bytes.split_at(body_len);
    if !body.starts_with(MAGIC)
        || blake3::keyed_hash(key, body) != *<&[u8; 32]>::try_from(mac).ok()?
    {
        return None;
    }
    let count_at = body.len().checked_sub(4)?;
    let count = u32::from_le_bytes(body[count_at..].try_into().ok()?) as usize;
    let ids_at = count_at.checked_sub(count.checked_mul(32)?)?;
    if ids_at < MAGIC.len() {
        return None;
    }
    let segments = body[ids_at..count_at]
        .chunks_exact(32)
        .map(|c| c.try_into().unwrap_or([0; 32]))
        .collect();
    bytes.truncate(ids_at);
    Some((Previous::parse(bytes, MAGIC.len())?, segments))
}

/// Decodes the entry at the start of `bytes`: its path hash, the entry, and the bytes it used.
pub fn decode_entry(bytes: &[u8]) -> Option<(u128, Cached, usize)> {
    let head = bytes.get(..60)?;
    let u64_at = |i: usize| u64::from_le_bytes(head[i..i + 8].try_into().unwrap_or([0; 8]));
    let key = u128::from_le_bytes(head[..16].try_into().ok()?);
    let id = Identity {
        dev: u64_at(16),
        ino: u64_at(24),
        size: u64_at(32),
        mtime_ns: u64_at(40) as i64,
        ctime_ns: u64_at(48) as i64,
    };
    let n = u32::from_le_bytes(head[56..60].try_into().ok()?) as usize;
    let end = n.checked_mul(36)?.checked_add(60)?;
    let chunks = bytes
        .get(60..end)?
        .chunks_exact(36)
        .map(|c| {
            let mut id = [0u8; 32];
            id.copy_from_slice(&c[..32]);
            (
                ChunkId(id),
                u32::from_le_bytes([c[32], c[33], c[34], c[35]]),
            )
        })
        .collect();
    let (xattrs, used) = decode_xattrs(bytes, end)?;
    Some((key, Cached { id, chunks, xattrs }, used))
}

/// The xattrs part of an entry that starts at `at`, and where the entry ends.
pub(super) fn decode_xattrs(bytes: &[u8], at: usize) -> Option<(Option<Box<[Xattr]>>, usize)> {
    let mut at = at;
    let mut take = |n: usize| -> Option<&[u8]> {
        let b = bytes.get(at..at.checked_add(n)?)?;
        at += n;
        Some(b)
    };
    let u32_of = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    match take(1)?[0] {
        0 => Some((None, at)),
        1 => {
            let count = u32_of(take(4)?);
            if count > MAX_XATTRS {
                return None;
            }
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                let n = u32_of(take(4)?);
                let name = take(n)?.to_vec();
                let n = u32_of(take(4)?);
                let value = take(n)?.to_vec();
                out.push((name, value));
            }
            Some((Some(out.into_boxed_slice()), at))
        }
        _ => None,
    }
}
