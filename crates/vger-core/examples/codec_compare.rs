//! The hand-written metadata codec beside MessagePack (rmp-serde) on the trees, index segment and
//! snapshot vger would store for a directory tree. Measures only; the format is unchanged.
//!
//! Usage: `cargo run --release -p vger-core --example codec_compare -- DIR [RUNS]`
//!
//! The walk builds, per directory, the `tree::Entry` list a backup stores, from
//! `symlink_metadata`, `readlink`, xattrs and user/group names as the backup walker does, but with
//! fake chunk lists (one pseudo-random 32-byte id per started MiB of file size) since no data is
//! read. The index segment lists one blob per chunk plus one per tree, in packs filled to
//! `PACK_TARGET` in walk order; the snapshot describes the walk.
//!
//! Four encodings of each object:
//! - hand (format 1): the codec of today (`tree::encode`/`decode`, `index::encode_segment` and the decode
//!   loop of `index::open_segment` without the envelope, `Snapshot::encode`/`decode`);
//! - arrays: rmp-serde `to_vec` (structs as arrays: compact, positional);
//! - maps: rmp-serde `to_vec_named` with the Rust field names as keys (the evolvable form,
//!   where `#[serde(default)]` absorbs new optional fields);
//! - short-key maps: the same maps with one- or two-letter keys.
//!
//! Byte fields (names, targets, xattrs, ids) are MessagePack `bin`, not arrays of integers.
//! MessagePack decoding is timed up to validated vger types (the same name, order, length and kind
//! checks the hand decoders make); encoding is timed from mirror structs built beforehand, as a
//! derive on the real types would serialize. Trees are compressed one blob at a time with vger's own
//! `compress` (zstd-3 and the default lz4), as a backup does; segments and snapshots are not
//! compressed by vger, their zstd-3 size is given for comparison. Each run times every codec in
//! turn (interleaved, so load from elsewhere hits them alike); times are the best of RUNS
//! (default 5) runs, one thread. Findings: docs/architecture.md section 8.
//!
//! Then the hostile-input checks: forged lengths and counts, allocation per input byte, nesting,
//! and how each form takes an added field.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a measurement tool: a failure ends the run"
)]
// The counting allocator below needs `unsafe impl GlobalAlloc`; this is a measuring tool only.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::fs;
use std::hint::black_box;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use vger_core::compress::{Compression, compress};
use vger_core::repo::index::encode_segment;
use vger_core::repo::pack::{BlobEntry, PACK_TARGET};
use vger_core::tree::{self, Content, Entry, Kind};
use vger_core::{Snapshot, SnapshotStats};
use vger_crypto::BlobKind;
use vger_types::codec::Reader;
use vger_types::{ChunkId, PackId, Result, SnapshotId, VgerError};

// ---------------------------------------------------------------------------------------------
// Counting allocator: live and peak heap bytes while `COUNTING` is on.

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    if COUNTING.load(Relaxed) {
        let now = LIVE.fetch_add(n, Relaxed) + n;
        PEAK.fetch_max(now, Relaxed);
    }
}

fn shrank(n: usize) {
    if COUNTING.load(Relaxed) {
        LIVE.fetch_sub(n, Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        shrank(l.size());
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                grew(new - l.size());
            } else {
                shrank(l.size() - new);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result, its time and the peak heap bytes it held at once (what it
/// allocated and had not freed; memory freed by `f` that was allocated before is not subtracted
/// below zero because the counters start at zero here).
fn measured<R>(f: impl FnOnce() -> R) -> (R, Duration, usize) {
    LIVE.store(0, Relaxed);
    PEAK.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
    let t = Instant::now();
    let r = f();
    let d = t.elapsed();
    COUNTING.store(false, Relaxed);
    (r, d, PEAK.load(Relaxed))
}

// ---------------------------------------------------------------------------------------------
// Deterministic fake ids.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn id(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for c in out.chunks_mut(8) {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The walk.

const MIB: u64 = 1 << 20;

#[derive(Default)]
struct Walk {
    rng: Option<Rng>,
    trees: Vec<Vec<Entry>>,
    /// Blobs in the order a backup would pack them: chunks of each file, then its directory's tree.
    blobs: Vec<(ChunkId, BlobKind, u32)>,
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    hardlinks: HashMap<(u64, u64), Vec<u8>>,
    stats: SnapshotStats,
    entries: u64,
    xattrs: u64,
    skipped: u64,
}

impl Walk {
    fn rng(&mut self) -> &mut Rng {
        self.rng.get_or_insert(Rng(0x7667_6572))
    }

    /// Builds the tree of `dir` (and, first, of every subdirectory); returns its fake id.
    fn dir(&mut self, dir: &Path, rel: &[u8]) -> ChunkId {
        let mut names: Vec<_> = match fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect(),
            Err(_) => Vec::new(),
        };
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let mut entries = Vec::with_capacity(names.len());
        for name in names {
            let path = dir.join(&name);
            let name = name.as_bytes().to_vec();
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(_) => {
                    self.skipped += 1;
                    continue;
                }
            };
            let ft = meta.file_type();
            let child_rel = tree::join_path(rel, &name);
            let mut e = self.describe(&path, name, &meta);
            if ft.is_dir() {
                e.kind = Kind::Dir;
                e.content = Content::Subtree(self.dir(&path, &child_rel));
                self.stats.dirs += 1;
            } else if ft.is_file() {
                if meta.nlink() > 1
                    && let Some(first) = self.hardlinks.get(&(meta.dev(), meta.ino()))
                {
                    e.kind = Kind::HardLink;
                    e.content = Content::Target(first.clone());
                } else {
                    if meta.nlink() > 1 {
                        self.hardlinks
                            .insert((meta.dev(), meta.ino()), child_rel.clone());
                    }
                    e.kind = Kind::File;
                    let mut chunks = Vec::new();
                    let mut left = meta.len();
                    while left > 0 {
                        let len = left.min(MIB) as u32;
                        let id = ChunkId(self.rng().id());
                        chunks.push((id, len));
                        self.blobs.push((id, BlobKind::Data, len));
                        left -= u64::from(len);
                    }
                    self.stats.bytes += meta.len();
                    self.stats.new_chunks += chunks.len() as u64;
                    self.stats.new_bytes += meta.len();
                    e.content = Content::Chunks(chunks);
                }
                self.stats.files += 1;
            } else if ft.is_symlink() {
                e.kind = Kind::Symlink;
                let t = fs::read_link(&path).unwrap_or_default();
                e.content = Content::Target(t.as_os_str().as_bytes().to_vec());
                self.stats.symlinks += 1;
            } else {
                e.kind = if ft.is_fifo() {
                    Kind::Fifo
                } else if ft.is_char_device() {
                    Kind::CharDev
                } else if ft.is_block_device() {
                    Kind::BlockDev
                } else {
                    Kind::Socket
                };
                if matches!(e.kind, Kind::CharDev | Kind::BlockDev) {
                    e.content = Content::Rdev(meta.rdev());
                }
                self.stats.others += 1;
            }
            entries.push(e);
        }
        self.entries += entries.len() as u64;
        let plain = tree::encode(&mut entries);
        let id = ChunkId(self.rng().id());
        self.blobs.push((id, BlobKind::Tree, plain.len() as u32));
        self.stats.new_chunks += 1;
        self.trees.push(entries);
        id
    }

    fn describe(&mut self, path: &Path, name: Vec<u8>, meta: &fs::Metadata) -> Entry {
        let user = self
            .users
            .entry(meta.uid())
            .or_insert_with(|| {
                nix::unistd::User::from_uid(meta.uid().into())
                    .ok()
                    .flatten()
                    .map(|u| u.name)
                    .unwrap_or_default()
            })
            .clone();
        let group = self
            .groups
            .entry(meta.gid())
            .or_insert_with(|| {
                nix::unistd::Group::from_gid(meta.gid().into())
                    .ok()
                    .flatten()
                    .map(|g| g.name)
                    .unwrap_or_default()
            })
            .clone();
        let xattrs: Vec<(Vec<u8>, Vec<u8>)> = xattr::list(path)
            .map(|names| {
                names
                    .filter_map(|n| {
                        let v = xattr::get(path, &n).ok().flatten()?;
                        Some((n.as_bytes().to_vec(), v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.xattrs += xattrs.len() as u64;
        Entry {
            name,
            kind: Kind::Fifo,
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
            user,
            group,
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
            size: if meta.is_file() { meta.len() } else { 0 },
            xattrs,
            content: Content::None,
            holes: Vec::new(),
        }
    }

    /// Packs the blobs in walk order, each pack closed once it reaches `PACK_TARGET`.
    fn segment(&mut self) -> Vec<(PackId, Vec<BlobEntry>)> {
        let mut packs = Vec::new();
        let mut cur: Vec<BlobEntry> = Vec::new();
        let mut offset = 32u32;
        let blobs = std::mem::take(&mut self.blobs);
        for (id, kind, raw_len) in blobs {
            // Sealed length: raw plus the 5-byte codec header and the envelope's 28 bytes.
            let len = raw_len + 33;
            cur.push(BlobEntry {
                id,
                kind,
                offset,
                len,
                raw_len,
            });
            offset += len;
            if offset as usize >= PACK_TARGET {
                packs.push((PackId(self.rng().id()), std::mem::take(&mut cur)));
                offset = 32;
            }
        }
        if !cur.is_empty() {
            packs.push((PackId(self.rng().id()), cur));
        }
        packs
    }
}

// ---------------------------------------------------------------------------------------------
// The hand codec: the index segment's decode loop (`index::open_segment` after the envelope).

fn hand_segment_decode(plain: &[u8], what: &str) -> Result<Vec<(PackId, Vec<BlobEntry>)>> {
    let mut r = Reader::new(plain, what);
    let v = r.u8()?;
    if v > 1 {
        return Err(VgerError::corrupt(what, "newer"));
    }
    let npacks = r.count(36)?;
    let mut out = Vec::with_capacity(npacks);
    for _ in 0..npacks {
        let pack = PackId(r.array()?);
        let n = r.count(BlobEntry::LEN)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(BlobEntry::decode(&mut r, what)?);
        }
        out.push((pack, entries));
    }
    r.finish()?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// MessagePack mirrors.

/// Byte strings and ids as MessagePack `bin` (serde's default for `Vec<u8>` is an array of
/// integers, up to 2 bytes per byte).
mod wire {
    use serde::de::{self, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::fmt;

    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct Bytes(pub Vec<u8>);

    impl Serialize for Bytes {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    struct BytesVisitor;

    impl Visitor<'_> for BytesVisitor {
        type Value = Bytes;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a byte string")
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
            Ok(Bytes(v.to_vec()))
        }
        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
            Ok(Bytes(v))
        }
    }

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_byte_buf(BytesVisitor)
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Id(pub [u8; 32]);

    impl Serialize for Id {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    struct IdVisitor;

    impl Visitor<'_> for IdVisitor {
        type Value = Id;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("32 bytes")
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Id, E> {
            v.try_into()
                .map(Id)
                .map_err(|_| E::invalid_length(v.len(), &self))
        }
    }

    impl<'de> Deserialize<'de> for Id {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_bytes(IdVisitor)
        }
    }
}

/// A struct whose fields are keyed by their Rust names (`long`) or by the given short keys.
macro_rules! wire_struct {
    (long; struct $S:ident { $( $(#[$fa:meta])* $f:ident : $t:ty = $k:literal ),* $(,)? }) => {
        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
        #[serde(default)]
        pub struct $S { $( $(#[$fa])* pub $f : $t ),* }
    };
    (short; struct $S:ident { $( $(#[$fa:meta])* $f:ident : $t:ty = $k:literal ),* $(,)? }) => {
        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
        #[serde(default)]
        pub struct $S { $( $(#[$fa])* #[serde(rename = $k)] pub $f : $t ),* }
    };
}

macro_rules! wire_enum {
    (long; enum $E:ident { $( $V:ident $( ( $vt:ty ) )? = $k:literal ),* $(,)? }) => {
        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
        pub enum $E { #[default] $( $V $( ( $vt ) )? ),* }
    };
    (short; enum $E:ident { $( $V:ident $( ( $vt:ty ) )? = $k:literal ),* $(,)? }) => {
        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
        pub enum $E { #[default] $( #[serde(rename = $k)] $V $( ( $vt ) )? ),* }
    };
}

/// The mirror types and their conversions, once per key style.
macro_rules! wire_module {
    ($m:ident, $mode:ident) => {
        #[allow(dead_code)]
        mod $m {
            use serde::{Deserialize, Serialize};

            use super::wire::{Bytes, Id};
            use super::*;

            wire_struct!($mode; struct Tree { v: u8 = "v", entries: Vec<WEntry> = "e" });
            wire_struct!($mode; struct WEntry {
                name: Bytes = "n",
                kind: u8 = "k",
                mode: u32 = "m",
                uid: u32 = "u",
                gid: u32 = "g",
                user: String = "un",
                group: String = "gn",
                mtime_ns: i64 = "mt",
                ctime_ns: i64 = "ct",
                size: u64 = "s",
                xattrs: Vec<(Bytes, Bytes)> = "x",
                content: WContent = "c",
            });
            wire_enum!($mode; enum WContent {
                None = "-",
                Chunks(Vec<(Id, u32)>) = "c",
                Subtree(Id) = "t",
                Target(Bytes) = "l",
                Rdev(u64) = "r",
            });
            wire_struct!($mode; struct Segment { v: u8 = "v", packs: Vec<WPack> = "p" });
            wire_struct!($mode; struct WPack { id: Id = "i", blobs: Vec<WBlob> = "b" });
            wire_struct!($mode; struct WBlob {
                id: Id = "i",
                kind: u8 = "k",
                offset: u32 = "o",
                len: u32 = "l",
                raw_len: u32 = "r",
            });
            wire_struct!($mode; struct WSnapshot {
                v: u32 = "v",
                id: Id = "i",
                start_ns: i64 = "s",
                end_ns: i64 = "e",
                hostname: String = "h",
                username: String = "u",
                label: String = "l",
                paths: Vec<Bytes> = "p",
                tree: Id = "t",
                stats: WStats = "st",
                partial: bool = "pa",
            });
            wire_struct!($mode; struct WStats {
                files: u64 = "f",
                dirs: u64 = "d",
                symlinks: u64 = "l",
                others: u64 = "o",
                bytes: u64 = "b",
                new_chunks: u64 = "nc",
                new_bytes: u64 = "nb",
                stored_bytes: u64 = "sb",
                skipped: u64 = "sk",
            });

            pub fn tree(entries: &[Entry]) -> Tree {
                Tree {
                    v: 1,
                    entries: entries
                        .iter()
                        .map(|e| WEntry {
                            name: Bytes(e.name.clone()),
                            kind: e.kind as u8,
                            mode: e.mode,
                            uid: e.uid,
                            gid: e.gid,
                            user: e.user.clone(),
                            group: e.group.clone(),
                            mtime_ns: e.mtime_ns,
                            ctime_ns: e.ctime_ns,
                            size: e.size,
                            xattrs: e
                                .xattrs
                                .iter()
                                .map(|(k, v)| (Bytes(k.clone()), Bytes(v.clone())))
                                .collect(),
                            content: match &e.content {
                                Content::None => WContent::None,
                                Content::Chunks(c) => WContent::Chunks(
                                    c.iter().map(|(id, len)| (Id(id.0), *len)).collect(),
                                ),
                                Content::Subtree(id) => WContent::Subtree(Id(id.0)),
                                Content::Target(t) => WContent::Target(Bytes(t.clone())),
                                Content::Rdev(r) => WContent::Rdev(*r),
                            },
                        })
                        .collect(),
                }
            }

            /// Into vger's entries with the checks of `tree::decode`.
            pub fn entries(t: Tree, what: &str) -> Result<Vec<Entry>> {
                let bad = |d: &str| VgerError::corrupt(what, d.to_string());
                if t.v > 1 {
                    return Err(bad("newer tree version"));
                }
                let mut out: Vec<Entry> = Vec::with_capacity(t.entries.len());
                for e in t.entries {
                    let name = e.name.0;
                    if name.len() > MAX_NAME || !tree::valid_name(&name) {
                        return Err(bad("invalid entry name"));
                    }
                    if out.last().is_some_and(|p| p.name >= name) {
                        return Err(bad("entries out of order or duplicated"));
                    }
                    if e.user.len() > MAX_NAME || e.group.len() > MAX_NAME {
                        return Err(bad("user or group name too long"));
                    }
                    let kind = kind_from_u8(e.kind).ok_or_else(|| bad("unknown entry kind"))?;
                    let mut xattrs = Vec::with_capacity(e.xattrs.len());
                    for (k, v) in e.xattrs {
                        if k.0.len() > MAX_NAME || v.0.len() > MAX_XATTR {
                            return Err(bad("xattr too long"));
                        }
                        xattrs.push((k.0, v.0));
                    }
                    let content = match (kind, e.content) {
                        (Kind::File, WContent::Chunks(c)) => Content::Chunks(
                            c.into_iter().map(|(id, len)| (ChunkId(id.0), len)).collect(),
                        ),
                        (Kind::Dir, WContent::Subtree(id)) => Content::Subtree(ChunkId(id.0)),
                        (Kind::Symlink | Kind::HardLink, WContent::Target(t))
                            if t.0.len() <= MAX_NAME * 4 =>
                        {
                            Content::Target(t.0)
                        }
                        (Kind::CharDev | Kind::BlockDev, WContent::Rdev(r)) => Content::Rdev(r),
                        (Kind::Fifo | Kind::Socket, WContent::None) => Content::None,
                        _ => return Err(bad("content does not match the kind")),
                    };
                    out.push(Entry {
                        name,
                        kind,
                        mode: e.mode,
                        uid: e.uid,
                        gid: e.gid,
                        user: e.user,
                        group: e.group,
                        mtime_ns: e.mtime_ns,
                        ctime_ns: e.ctime_ns,
                        size: e.size,
                        xattrs,
                        content,
                        holes: Vec::new(),
                    });
                }
                Ok(out)
            }

            pub fn segment(packs: &[(PackId, Vec<BlobEntry>)]) -> Segment {
                Segment {
                    v: 1,
                    packs: packs
                        .iter()
                        .map(|(p, blobs)| WPack {
                            id: Id(p.0),
                            blobs: blobs
                                .iter()
                                .map(|b| WBlob {
                                    id: Id(b.id.0),
                                    kind: b.kind as u8,
                                    offset: b.offset,
                                    len: b.len,
                                    raw_len: b.raw_len,
                                })
                                .collect(),
                        })
                        .collect(),
                }
            }

            pub fn packs(s: Segment, what: &str) -> Result<Vec<(PackId, Vec<BlobEntry>)>> {
                if s.v > 1 {
                    return Err(VgerError::corrupt(what, "newer"));
                }
                let mut out = Vec::with_capacity(s.packs.len());
                for p in s.packs {
                    let mut blobs = Vec::with_capacity(p.blobs.len());
                    for b in p.blobs {
                        blobs.push(BlobEntry {
                            id: ChunkId(b.id.0),
                            kind: BlobKind::from_u8(b.kind)
                                .ok_or_else(|| VgerError::corrupt(what, "unknown blob kind"))?,
                            offset: b.offset,
                            len: b.len,
                            raw_len: b.raw_len,
                        });
                    }
                    out.push((PackId(p.id.0), blobs));
                }
                Ok(out)
            }

            pub fn snapshot(s: &Snapshot) -> WSnapshot {
                let t = &s.stats;
                WSnapshot {
                    v: s.format_version,
                    id: Id(s.id.0),
                    start_ns: s.start_ns,
                    end_ns: s.end_ns,
                    hostname: s.hostname.clone(),
                    username: s.username.clone(),
                    label: s.label.clone(),
                    paths: s.paths.iter().map(|p| Bytes(p.clone())).collect(),
                    tree: Id(s.tree.0),
                    stats: WStats {
                        files: t.files,
                        dirs: t.dirs,
                        symlinks: t.symlinks,
                        others: t.others,
                        bytes: t.bytes,
                        new_chunks: t.new_chunks,
                        new_bytes: t.new_bytes,
                        stored_bytes: t.stored_bytes,
                        skipped: t.skipped,
                    },
                    partial: s.partial,
                }
            }

            pub fn from_wire(w: WSnapshot, what: &str) -> Result<Snapshot> {
                if w.v > 1 {
                    return Err(VgerError::corrupt(what, "newer"));
                }
                let long = [&w.hostname, &w.username, &w.label]
                    .iter()
                    .any(|s| s.len() > MAX_TEXT)
                    || w.paths.iter().any(|p| p.0.len() > MAX_TEXT);
                if long {
                    return Err(VgerError::corrupt(what, "text field too long"));
                }
                let t = w.stats;
                Ok(Snapshot {
                    format_version: w.v,
                    id: SnapshotId(w.id.0),
                    start_ns: w.start_ns,
                    end_ns: w.end_ns,
                    hostname: w.hostname,
                    username: w.username,
                    label: w.label,
                    paths: w.paths.into_iter().map(|p| p.0).collect(),
                    tree: ChunkId(w.tree.0),
                    stats: SnapshotStats {
                        files: t.files,
                        dirs: t.dirs,
                        symlinks: t.symlinks,
                        others: t.others,
                        bytes: t.bytes,
                        new_chunks: t.new_chunks,
                        new_bytes: t.new_bytes,
                        stored_bytes: t.stored_bytes,
                        skipped: t.skipped,
                    },
                    partial: w.partial,
                    meta: Default::default(),
                })
            }
        }
    };
}

// The read limits of the hand decoders (tree.rs, snapshot.rs).
const MAX_NAME: usize = 4096;
const MAX_XATTR: usize = 1 << 20;
const MAX_TEXT: usize = 64 * 1024;

fn kind_from_u8(v: u8) -> Option<Kind> {
    Some(match v {
        1 => Kind::File,
        2 => Kind::Dir,
        3 => Kind::Symlink,
        4 => Kind::HardLink,
        5 => Kind::Fifo,
        6 => Kind::CharDev,
        7 => Kind::BlockDev,
        8 => Kind::Socket,
        _ => return None,
    })
}

wire_module!(long, long);
wire_module!(short, short);

/// Decodes one object that must fill `b` exactly (`from_slice` ignores trailing bytes).
fn strict<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T> {
    let mut de = rmp_serde::Deserializer::new(std::io::Cursor::new(b));
    let v = T::deserialize(&mut de).map_err(|e| mp_err("object", e))?;
    if de.position() != b.len() as u64 {
        return Err(VgerError::corrupt("object", "trailing bytes"));
    }
    Ok(v)
}

fn mp_err(what: &str, e: rmp_serde::decode::Error) -> VgerError {
    VgerError::corrupt(what, format!("msgpack: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The codecs under test, as encode-all / decode-all closures over one object family.

#[derive(Clone, Copy, PartialEq)]
enum Codec {
    Hand,
    MpArray,
    MpMap,
    MpMapShort,
}

const CODECS: [Codec; 4] = [Codec::Hand, Codec::MpArray, Codec::MpMap, Codec::MpMapShort];

impl Codec {
    fn name(self) -> &'static str {
        match self {
            Codec::Hand => "hand (format 1)",
            Codec::MpArray => "rmp `to_vec` (arrays)",
            Codec::MpMap => "rmp `to_vec_named` (maps, Rust names)",
            Codec::MpMapShort => "rmp `to_vec_named` (maps, 1-2 letter keys)",
        }
    }
}

fn encode_tree_mp(c: Codec, long: &long::Tree, short: &short::Tree) -> Vec<u8> {
    match c {
        Codec::Hand => unreachable!(),
        Codec::MpArray => rmp_serde::to_vec(short),
        Codec::MpMap => rmp_serde::to_vec_named(long),
        Codec::MpMapShort => rmp_serde::to_vec_named(short),
    }
    .expect("encoding to memory")
}

fn decode_tree(c: Codec, b: &[u8]) -> Result<Vec<Entry>> {
    let what = "tree";
    match c {
        Codec::Hand => tree::decode(b, what),
        Codec::MpMap => long::entries(rmp_serde::from_slice(b).map_err(|e| mp_err(what, e))?, what),
        Codec::MpArray | Codec::MpMapShort => {
            short::entries(rmp_serde::from_slice(b).map_err(|e| mp_err(what, e))?, what)
        }
    }
}

fn decode_segment(c: Codec, b: &[u8]) -> Result<Vec<(PackId, Vec<BlobEntry>)>> {
    let what = "segment";
    match c {
        Codec::Hand => hand_segment_decode(b, what),
        Codec::MpMap => long::packs(rmp_serde::from_slice(b).map_err(|e| mp_err(what, e))?, what),
        Codec::MpArray | Codec::MpMapShort => {
            short::packs(rmp_serde::from_slice(b).map_err(|e| mp_err(what, e))?, what)
        }
    }
}

fn decode_snapshot(c: Codec, b: &[u8]) -> Result<Snapshot> {
    let what = "snapshot";
    match c {
        Codec::Hand => Snapshot::decode(b, what),
        Codec::MpMap => {
            long::from_wire(rmp_serde::from_slice(b).map_err(|e| mp_err(what, e))?, what)
        }
        Codec::MpArray | Codec::MpMapShort => {
            short::from_wire(rmp_serde::from_slice(b).map_err(|e| mp_err(what, e))?, what)
        }
    }
}

struct Row {
    object: &'static str,
    codec: Codec,
    objects: usize,
    bytes: usize,
    zstd: usize,
    lz4: usize,
    enc: Duration,
    dec: Duration,
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

fn us_each(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

fn compressed(c: Compression, objects: &[Vec<u8>]) -> usize {
    objects.iter().map(|o| compress(c, o).len()).sum()
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(PathBuf::from).filter(|p| p.is_dir()) else {
        eprintln!("usage: codec_compare DIR [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);

    let t = Instant::now();
    let mut walk = Walk::default();
    let root = walk.dir(&dir, b"");
    let walk_time = t.elapsed();
    // `tree::encode` sorted every list in place during the walk; later encodes sort sorted input.
    let trees = std::mem::take(&mut walk.trees);
    let segment = walk.segment();
    let blobs: usize = segment.iter().map(|(_, b)| b.len()).sum();
    let snapshot = Snapshot {
        format_version: vger_core::repo::snapshot::FORMAT_VERSION,
        id: SnapshotId(walk.rng().id()),
        start_ns: 1_764_676_800_000_000_000,
        end_ns: 1_764_676_806_560_000_000,
        hostname: nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default(),
        username: std::env::var("USER").unwrap_or_else(|_| "root".into()),
        label: String::new(),
        paths: vec![
            std::path::absolute(&dir)
                .unwrap_or(dir.clone())
                .as_os_str()
                .as_bytes()
                .to_vec(),
        ],
        tree: root,
        stats: SnapshotStats {
            stored_bytes: walk.stats.bytes,
            ..walk.stats.clone()
        },
        partial: false,
        meta: Default::default(),
    };

    let mut sizes: Vec<usize> = trees.iter().map(|t| t.len()).collect();
    sizes.sort_unstable();
    println!("## Corpus `{}`\n", dir.display());
    println!(
        "{} directories (trees), {} entries ({} files, {} symlinks, {} other, {} skipped), \
         {} xattrs, {:.2} GB of file data → {} fake chunks; entries per tree: median {}, \
         max {}; index segment: {} blobs in {} packs; walk {:.2} s.\n",
        trees.len(),
        walk.entries,
        walk.stats.files,
        walk.stats.symlinks,
        walk.stats.others,
        walk.skipped,
        walk.xattrs,
        walk.stats.bytes as f64 / 1e9,
        walk.stats.new_chunks as usize - trees.len(),
        sizes.get(sizes.len() / 2).copied().unwrap_or(0),
        sizes.last().copied().unwrap_or(0),
        blobs,
        segment.len(),
        walk_time.as_secs_f64(),
    );
    println!(
        "size_of: Entry {} B, BlobEntry {} B, Snapshot {} B\n",
        size_of::<Entry>(),
        size_of::<BlobEntry>(),
        size_of::<Snapshot>()
    );

    let mut rows = Vec::new();
    let mut strict_notes = Vec::new();

    // Trees. Every codec's bytes are made and checked first; then the runs interleave the codecs
    // (hand, arrays, maps, short maps, hand, ...), so a burst of load from elsewhere on the machine
    // hits them alike, and each figure is the best of its runs.
    let long_trees: Vec<long::Tree> = trees.iter().map(|t| long::tree(t)).collect();
    let short_trees: Vec<short::Tree> = trees.iter().map(|t| short::tree(t)).collect();
    let encode_trees = |c: Codec, scratch: &mut [Vec<Entry>]| -> Vec<Vec<u8>> {
        match c {
            Codec::Hand => scratch.iter_mut().map(|e| tree::encode(e)).collect(),
            _ => long_trees
                .iter()
                .zip(&short_trees)
                .map(|(l, s)| encode_tree_mp(c, l, s))
                .collect(),
        }
    };
    let encoded: Vec<Vec<Vec<u8>>> = CODECS
        .iter()
        .map(|&c| encode_trees(c, &mut trees.clone()))
        .collect();
    for (c, enc) in CODECS.iter().zip(&encoded) {
        for (b, t) in enc.iter().zip(&trees) {
            assert_eq!(&decode_tree(*c, b).expect("round trip"), t, "{}", c.name());
        }
    }
    let mut best = [[Duration::MAX; 4]; 4];
    for _ in 0..runs {
        for (i, &c) in CODECS.iter().enumerate() {
            // `tree::encode` takes `&mut` to sort; the copy it sorts is made untimed.
            let mut scratch = if c == Codec::Hand {
                trees.clone()
            } else {
                Vec::new()
            };
            let t = Instant::now();
            black_box(encode_trees(c, &mut scratch));
            let enc = t.elapsed();
            let t = Instant::now();
            for b in &encoded[i] {
                black_box(decode_tree(c, b).expect("decodes"));
            }
            let dec = t.elapsed();
            let (mut plain, mut strict_d) = (Duration::ZERO, Duration::ZERO);
            if c != Codec::Hand {
                let t = Instant::now();
                for b in &encoded[i] {
                    let n = match c {
                        Codec::MpMap => {
                            rmp_serde::from_slice::<long::Tree>(b).map(|t| t.entries.len())
                        }
                        _ => rmp_serde::from_slice::<short::Tree>(b).map(|t| t.entries.len()),
                    };
                    black_box(n.expect("decodes"));
                }
                plain = t.elapsed();
                let t = Instant::now();
                for b in &encoded[i] {
                    let n = match c {
                        Codec::MpMap => strict::<long::Tree>(b).map(|t| t.entries.len()),
                        _ => strict::<short::Tree>(b).map(|t| t.entries.len()),
                    };
                    black_box(n.expect("decodes"));
                }
                strict_d = t.elapsed();
            }
            for (b, d) in best[i].iter_mut().zip([enc, dec, plain, strict_d]) {
                *b = (*b).min(d);
            }
        }
    }
    for (i, &c) in CODECS.iter().enumerate() {
        if c != Codec::Hand {
            strict_notes.push(format!(
                "| {} | {:.2} | {:.2} | {:.2} |",
                c.name(),
                us_each(best[i][2], trees.len()),
                us_each(best[i][3], trees.len()),
                us_each(best[i][1], trees.len()),
            ));
        }
        rows.push(Row {
            object: "trees",
            codec: c,
            objects: trees.len(),
            bytes: encoded[i].iter().map(Vec::len).sum(),
            zstd: compressed(Compression::Zstd(3), &encoded[i]),
            lz4: compressed(Compression::Lz4, &encoded[i]),
            enc: best[i][0],
            dec: best[i][1],
        });
    }

    // The index segment and the snapshot (the snapshot timed over REPS encodes or decodes per
    // run), interleaved the same way.
    const REPS: usize = 10_000;
    let long_seg = long::segment(&segment);
    let short_seg = short::segment(&segment);
    let long_snap = long::snapshot(&snapshot);
    let short_snap = short::snapshot(&snapshot);
    let encode_seg = |c: Codec| match c {
        Codec::Hand => encode_segment(&segment),
        Codec::MpArray => rmp_serde::to_vec(&short_seg).expect("encodes"),
        Codec::MpMap => rmp_serde::to_vec_named(&long_seg).expect("encodes"),
        Codec::MpMapShort => rmp_serde::to_vec_named(&short_seg).expect("encodes"),
    };
    let encode_snap = |c: Codec| match c {
        Codec::Hand => snapshot.encode(),
        Codec::MpArray => rmp_serde::to_vec(&short_snap).expect("encodes"),
        Codec::MpMap => rmp_serde::to_vec_named(&long_snap).expect("encodes"),
        Codec::MpMapShort => rmp_serde::to_vec_named(&short_snap).expect("encodes"),
    };
    let seg_bytes: Vec<Vec<u8>> = CODECS.iter().map(|&c| encode_seg(c)).collect();
    let snap_bytes: Vec<Vec<u8>> = CODECS.iter().map(|&c| encode_snap(c)).collect();
    for (i, &c) in CODECS.iter().enumerate() {
        assert_eq!(
            decode_segment(c, &seg_bytes[i]).expect("round trip"),
            segment
        );
        assert_eq!(
            decode_snapshot(c, &snap_bytes[i]).expect("round trip"),
            snapshot
        );
    }
    let mut best = [[Duration::MAX; 4]; 4];
    for _ in 0..runs {
        for (i, &c) in CODECS.iter().enumerate() {
            let t = Instant::now();
            black_box(encode_seg(c));
            let seg_enc = t.elapsed();
            let t = Instant::now();
            black_box(decode_segment(c, &seg_bytes[i]).expect("decodes"));
            let seg_dec = t.elapsed();
            let t = Instant::now();
            for _ in 0..REPS {
                black_box(encode_snap(c));
            }
            let snap_enc = t.elapsed();
            let t = Instant::now();
            for _ in 0..REPS {
                black_box(decode_snapshot(c, &snap_bytes[i]).expect("decodes"));
            }
            let snap_dec = t.elapsed();
            for (b, d) in best[i]
                .iter_mut()
                .zip([seg_enc, seg_dec, snap_enc, snap_dec])
            {
                *b = (*b).min(d);
            }
        }
    }
    for (object, family, objects, k) in [
        ("index segment", &seg_bytes, 1, 0),
        ("snapshot", &snap_bytes, REPS, 2),
    ] {
        for (i, &c) in CODECS.iter().enumerate() {
            let one = [family[i].clone()];
            rows.push(Row {
                object,
                codec: c,
                objects,
                bytes: one[0].len(),
                zstd: zstd::bulk::compress(&one[0], 3).expect("zstd").len(),
                lz4: compressed(Compression::Lz4, &one),
                enc: best[i][k],
                dec: best[i][k + 1],
            });
        }
    }

    println!("## Sizes and speed (best of {runs} runs, codecs interleaved, one thread)\n");
    println!(
        "Trees: bytes summed over all trees; zstd-3 and lz4 through vger's `compress`, one blob per \
         tree (5-byte header included, stored raw when it does not shrink by 1/32). Segment and \
         snapshot: one object (zstd-3 of the whole object; vger does not compress them). MB/s are \
         of each codec's own encoded bytes; µs are per tree, per segment, per snapshot.\n"
    );
    println!(
        "| object | codec | bytes | vs hand | zstd-3 | lz4 | encode MB/s | encode µs | decode MB/s | decode µs |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut hand_bytes = 0;
    for r in &rows {
        if r.codec == Codec::Hand {
            hand_bytes = r.bytes;
        }
        // Per-object time: the snapshot runs repeat REPS times over one object.
        let (enc_us, dec_us) = (us_each(r.enc, r.objects), us_each(r.dec, r.objects));
        let total = if r.object == "snapshot" {
            r.bytes * REPS
        } else {
            r.bytes
        };
        println!(
            "| {} | {} | {} | {:.2}× | {} | {} | {:.0} | {:.2} | {:.0} | {:.2} |",
            r.object,
            r.codec.name(),
            r.bytes,
            r.bytes as f64 / hand_bytes as f64,
            r.zstd,
            r.lz4,
            mbps(total, r.enc),
            enc_us,
            mbps(total, r.dec),
            dec_us,
        );
    }
    println!();
    println!(
        "Tree decode, µs per tree: to the serde structs only (no checks, no move into vger's \
         types) with `from_slice`, the same through a `Cursor` reader that can refuse trailing \
         bytes, and (from the table above) to checked vger entries:\n"
    );
    println!(
        "| codec | serde structs, `from_slice` | serde structs, `Cursor` + position check | checked `Entry` lists |"
    );
    println!("| --- | ---: | ---: | ---: |");
    for n in &strict_notes {
        println!("{n}");
    }
    println!();

    hostile();
    evolution();
}

// ---------------------------------------------------------------------------------------------
// Hostile input.

fn report(label: &str, r: &Result<impl Sized>, d: Duration, peak: usize) {
    let outcome = match r {
        Ok(_) => "accepted".to_string(),
        Err(e) => {
            let mut s = e.to_string();
            s.truncate(90);
            format!("refused: {s}")
        }
    };
    println!(
        "| {label} | {outcome} | {:.1} µs | {} |",
        d.as_secs_f64() * 1e6,
        human(peak)
    );
}

fn human(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

fn fifo(name: Vec<u8>) -> Entry {
    Entry {
        name,
        kind: Kind::Fifo,
        mode: 0,
        uid: 0,
        gid: 0,
        user: String::new(),
        group: String::new(),
        mtime_ns: 0,
        ctime_ns: 0,
        size: 0,
        xattrs: Vec::new(),
        content: Content::None,
        holes: Vec::new(),
    }
}

fn hostile() {
    println!("## Hostile input\n");
    println!("| input | outcome | time | peak heap during decode |");
    println!("| --- | --- | ---: | ---: |");
    const ALL: [u8; 4] = [0xff; 4];

    // 1. An entry count of 2^32 - 1 in a few bytes.
    let hand = [&[1u8][..], &ALL].concat();
    let (r, d, p) = measured(|| tree::decode(&hand, "t"));
    report("hand tree, count 2^32-1 (5 bytes)", &r, d, p);
    let arr = [&[0x92u8, 0x01, 0xdd][..], &ALL].concat();
    let (r, d, p) = measured(|| decode_tree(Codec::MpArray, &arr));
    report(
        "rmp array tree, `array32` 2^32-1 entries (7 bytes)",
        &r,
        d,
        p,
    );
    let map = [&b"\x82\xa1v\x01\xa7entries\xdd"[..], &ALL].concat();
    let (r, d, p) = measured(|| decode_tree(Codec::MpMap, &map));
    report(
        "rmp map tree, `array32` 2^32-1 entries (16 bytes)",
        &r,
        d,
        p,
    );

    // 2. One file entry whose chunk list declares 2^32 - 1 items (and a few real ones follow).
    let mut file = fifo(b"f".to_vec());
    file.kind = Kind::File;
    file.content = Content::Chunks(Vec::new());
    for (c, label) in [
        (
            Codec::MpArray,
            "rmp array tree, chunk list `array32` 2^32-1",
        ),
        (Codec::MpMap, "rmp map tree, chunk list `array32` 2^32-1"),
    ] {
        let mut b = encode_tree_mp(
            c,
            &long::tree(std::slice::from_ref(&file)),
            &short::tree(std::slice::from_ref(&file)),
        );
        assert_eq!(b.pop(), Some(0x90), "an empty chunk list ends the encoding");
        b.extend_from_slice(&[0xdd, 0xff, 0xff, 0xff, 0xff]);
        // Three real chunks after the forged count.
        for _ in 0..3 {
            b.extend_from_slice(&[0x92, 0xc4, 32]);
            b.extend_from_slice(&[7; 32]);
            b.push(0x01);
        }
        let (r, d, p) = measured(|| decode_tree(c, &b));
        report(&format!("{label} ({} bytes)", b.len()), &r, d, p);
    }
    let mut h = tree::encode(&mut [file.clone()]);
    let n = h.len();
    h[n - 4..].copy_from_slice(&ALL);
    let (r, d, p) = measured(|| tree::decode(&h, "t"));
    report(
        &format!("hand tree, chunk count 2^32-1 ({} bytes)", h.len()),
        &r,
        d,
        p,
    );

    // 3. A name declaring 4 GiB (`bin32`), from a slice and through `from_read`.
    let bin = [&[0x92u8, 0x01, 0x91, 0x9c, 0xc6][..], &ALL, b"abc"].concat();
    let (r, d, p) = measured(|| decode_tree(Codec::MpArray, &bin));
    report("rmp array tree, name `bin32` 4 GiB, `from_slice`", &r, d, p);
    let (r, d, p) = measured(|| {
        rmp_serde::from_read::<_, short::Tree>(&bin[..]).map_err(|e| mp_err("tree", e))
    });
    report("same through `from_read` (an `io::Read`)", &r, d, p);
    let mut hand = tree::encode(&mut [fifo(b"abc".to_vec())]);
    hand[5..9].copy_from_slice(&ALL);
    let (r, d, p) = measured(|| tree::decode(&hand, "t"));
    report("hand tree, name length 2^32-1", &r, d, p);

    // 4. Heap per input byte: 100,000 smallest valid entries.
    let mut many: Vec<Entry> = (0..100_000u32)
        .map(|i| fifo(format!("{i:05}").into_bytes()))
        .collect();
    many.sort_by(|a, b| a.name.cmp(&b.name));
    let hand = tree::encode(&mut many);
    let (lt, st) = (long::tree(&many), short::tree(&many));
    println!();
    println!(
        "Heap per input byte, 100,000 smallest entries (5-byte names; `size_of::<Entry>()` = {}):\n",
        size_of::<Entry>()
    );
    println!(
        "| codec | input bytes | bytes/entry | peak heap | heap / input | peak, serde structs only | \
         decode time |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for c in CODECS {
        let b = match c {
            Codec::Hand => hand.clone(),
            _ => encode_tree_mp(c, &lt, &st),
        };
        let (r, d, p) = measured(|| decode_tree(c, &b));
        assert_eq!(r.expect("valid"), many);
        // Without the move into vger's types, as a derive on `Entry` itself would decode.
        let (_, _, mirror) = measured(|| match c {
            Codec::Hand => 0,
            Codec::MpMap => rmp_serde::from_slice::<long::Tree>(&b).map_or(0, |t| t.entries.len()),
            _ => rmp_serde::from_slice::<short::Tree>(&b).map_or(0, |t| t.entries.len()),
        });
        println!(
            "| {} | {} | {:.1} | {} | {:.1}× | {} | {:.1} ms |",
            c.name(),
            b.len(),
            b.len() as f64 / many.len() as f64,
            human(p),
            p as f64 / b.len() as f64,
            if c == Codec::Hand {
                "-".to_string()
            } else {
                human(mirror)
            },
            d.as_secs_f64() * 1e3
        );
    }
    println!();

    // 5. Nesting: an unknown map key whose value is 100,000 nested arrays.
    println!("| input | outcome | time | peak heap during decode |");
    println!("| --- | --- | ---: | ---: |");
    let mut deep = b"\x83\xa1v\x01\xa7entries\x90\xa1x".to_vec();
    deep.extend(std::iter::repeat_n(0x91u8, 100_000));
    deep.push(0xc0);
    let (r, d, p) = measured(|| decode_tree(Codec::MpMap, &deep));
    report(
        "rmp map tree, unknown key holding 100,000 nested arrays",
        &r,
        d,
        p,
    );
    // 6. An unknown key holding 1,000,000 nils: skipped, costs time linear in the input.
    let mut wide = b"\x83\xa1v\x01\xa7entries\x90\xa1x\xdd\x00\x0f\x42\x40".to_vec();
    wide.extend(std::iter::repeat_n(0xc0u8, 1_000_000));
    let (r, d, p) = measured(|| decode_tree(Codec::MpMap, &wide));
    report(
        "rmp map tree, unknown key holding 1,000,000 nils (1 MB)",
        &r,
        d,
        p,
    );
    // 7. The same key twice.
    let dup = b"\x83\xa1v\x01\xa7entries\x90\xa7entries\x90".to_vec();
    let (r, d, p) = measured(|| decode_tree(Codec::MpMap, &dup));
    report("rmp map tree, `entries` twice", &r, d, p);
    // 8. Trailing bytes after a complete object.
    let mut trail = rmp_serde::to_vec_named(&long::Tree::default()).expect("encodes");
    trail.extend_from_slice(b"junk");
    let (r, d, p) = measured(|| decode_tree(Codec::MpMap, &trail));
    report("rmp map tree followed by 4 junk bytes", &r, d, p);
    let (r, d, p) = measured(|| strict::<long::Tree>(&trail).map(|t| t.entries.len()));
    report(
        "the same through a `Cursor` reader with a position check",
        &r,
        d,
        p,
    );
    let mut trail = tree::encode(&mut []);
    trail.extend_from_slice(b"junk");
    let (r, d, p) = measured(|| tree::decode(&trail, "t"));
    report("hand tree followed by 4 junk bytes", &r, d, p);
    println!();
}

// ---------------------------------------------------------------------------------------------
// Adding a field.

mod evo {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
    #[serde(default)]
    pub struct V1 {
        pub name: String,
        pub size: u64,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
    #[serde(default)]
    pub struct V2 {
        pub name: String,
        pub size: u64,
        pub tags: Vec<String>,
    }

    /// A required field inserted before an existing one (a reordering mistake).
    #[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
    pub struct V2Moved {
        pub tags: Vec<String>,
        pub name: String,
        pub size: u64,
    }
}

fn evolution() {
    use evo::{V1, V2, V2Moved};
    let v1 = V1 {
        name: "a".into(),
        size: 3,
    };
    let v2 = V2 {
        name: "a".into(),
        size: 3,
        tags: vec!["keep".into()],
    };
    fn show<T: std::fmt::Debug>(r: std::result::Result<T, rmp_serde::decode::Error>) -> String {
        match r {
            Ok(v) => format!("`{v:?}`"),
            Err(e) => format!("error: {e}"),
        }
    }
    println!("## Adding an optional field (`tags`, `#[serde(default)]`)\n");
    println!("| written by | read by | maps (`to_vec_named`) | arrays (`to_vec`) |");
    println!("| --- | --- | --- | --- |");
    let n1 = rmp_serde::to_vec_named(&v1).expect("encodes");
    let a1 = rmp_serde::to_vec(&v1).expect("encodes");
    let n2 = rmp_serde::to_vec_named(&v2).expect("encodes");
    let a2 = rmp_serde::to_vec(&v2).expect("encodes");
    println!(
        "| V1 | V2 | {} | {} |",
        show(rmp_serde::from_slice::<V2>(&n1)),
        show(rmp_serde::from_slice::<V2>(&a1))
    );
    println!(
        "| V2 | V1 | {} | {} |",
        show(rmp_serde::from_slice::<V1>(&n2)),
        show(rmp_serde::from_slice::<V1>(&a2))
    );
    println!(
        "| V1 | V2 with `tags` first, no default | {} | {} |",
        show(rmp_serde::from_slice::<V2Moved>(&n1)),
        show(rmp_serde::from_slice::<V2Moved>(&a1))
    );
    println!();
}
