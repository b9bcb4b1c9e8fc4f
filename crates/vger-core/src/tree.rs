//! Tree blobs: one per directory, content-addressed (a Merkle tree), so an unchanged directory
//! costs nothing in a new snapshot and diffs can skip equal subtrees.
//!
//! Plaintext: `u8 version (1) ‖ u32 entry count ‖ entries sorted by name bytes, each:
//! name (u32 len + bytes) ‖ kind u8 ‖ mode u32 ‖ uid u32 ‖ gid u32 ‖ user ‖ group ‖
//! mtime ns i64 ‖ ctime ns i64 ‖ size u64 ‖ u32 xattr count ‖ xattrs (name, value) ‖ content`
//! where content is, by kind: file `u32 n ‖ n × (chunk id 32 ‖ length u32)`; directory: subtree
//! id 32; symlink: target bytes; hard link: the '/'-separated path of the first link in this
//! snapshot; fifo/socket: nothing; char/block device: rdev u64. Each entry ends with an extension
//! list: `u8 count ‖ count × (key u16 ‖ value bytes)`, keys strictly ascending (see
//! [`vger_types::codec::Reader::extensions`]); the one key today is [`EXT_HOLES`].

use vger_types::codec::{MUST_UNDERSTAND, Reader, Writer};
use vger_types::{ChunkId, Result, VgerError};

const VERSION: u8 = 1;
const MAX_NAME: usize = 4096;
const MAX_XATTR: usize = 1 << 20;
/// The smallest encoded entry: a 1-byte name, empty user and group, no xattrs, no content, no
/// extensions (55 bytes).
const MIN_ENTRY: usize = 4 + 1 + 1 + 4 * 3 + 4 + 4 + 8 * 3 + 4 + 1;

/// Entry extension: the hole map of a sparse regular file, `n × (offset u64 ‖ length u64)`,
/// ascending, not touching, each inside the file. The chunks then hold only the bytes outside
/// the holes, so a reader that ignored the map would put data at the wrong offsets: it must be
/// understood.
pub const EXT_HOLES: u16 = MUST_UNDERSTAND | 1;
/// At most this many holes are recorded; a file with more is stored with its holes read as
/// zeros.
pub const MAX_HOLES: usize = 1 << 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File = 1,
    Dir = 2,
    Symlink = 3,
    HardLink = 4,
    Fifo = 5,
    CharDev = 6,
    BlockDev = 7,
    Socket = 8,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Self> {
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

    pub fn name(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::HardLink => "hardlink",
            Kind::Fifo => "fifo",
            Kind::CharDev => "chardev",
            Kind::BlockDev => "blockdev",
            Kind::Socket => "socket",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    None,
    Chunks(Vec<(ChunkId, u32)>),
    Subtree(ChunkId),
    Target(Vec<u8>),
    Rdev(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub user: String,
    pub group: String,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub size: u64,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    pub content: Content,
    /// Regular files only: the holes, `(offset, length)` ascending; the chunks hold the bytes
    /// between them. Empty for a file stored whole.
    pub holes: Vec<(u64, u64)>,
}

impl Entry {
    /// Where the bytes of a regular file's chunks go: the file offset of each run of stored
    /// bytes, `(stored offset, file offset, length)`, in order; the holes lie between.
    pub fn data_runs(&self) -> Vec<(u64, u64, u64)> {
        let mut runs = Vec::with_capacity(self.holes.len() + 1);
        let (mut stored, mut at) = (0u64, 0u64);
        for &(off, len) in &self.holes {
            if off > at {
                runs.push((stored, at, off - at));
                stored += off - at;
            }
            at = off + len;
        }
        if self.size > at {
            runs.push((stored, at, self.size - at));
        }
        runs
    }
}

/// Joins a '/'-separated relative path and one more name (the root is the empty path).
pub fn join_path(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rel.len() + 1 + name.len());
    out.extend_from_slice(rel);
    if !rel.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// A name is one path component: not empty, not `.` or `..`, no `/` and no NUL.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.contains(&b'/') && !name.contains(&0)
}

/// Encodes entries (sorted here by name) into tree plaintext.
pub fn encode(entries: &mut [Entry]) -> Vec<u8> {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut w = Writer::with_capacity(64 + entries.len() * 128);
    w.u8(VERSION).u32(entries.len() as u32);
    for e in entries.iter() {
        w.bytes(&e.name)
            .u8(e.kind as u8)
            .u32(e.mode)
            .u32(e.uid)
            .u32(e.gid);
        w.str(&e.user)
            .str(&e.group)
            .i64(e.mtime_ns)
            .i64(e.ctime_ns)
            .u64(e.size);
        w.u32(e.xattrs.len() as u32);
        for (k, v) in &e.xattrs {
            w.bytes(k).bytes(v);
        }
        match (&e.kind, &e.content) {
            (Kind::File, Content::Chunks(c)) => {
                w.u32(c.len() as u32);
                for (id, len) in c {
                    w.raw(&id.0).u32(*len);
                }
            }
            (Kind::File, _) => {
                w.u32(0);
            }
            (Kind::Dir, Content::Subtree(id)) => {
                w.raw(&id.0);
            }
            (Kind::Symlink | Kind::HardLink, Content::Target(t)) => {
                w.bytes(t);
            }
            (Kind::CharDev | Kind::BlockDev, Content::Rdev(r)) => {
                w.u64(*r);
            }
            (Kind::Dir, _) => {
                w.raw(&[0u8; 32]);
            }
            (Kind::Symlink | Kind::HardLink, _) => {
                w.u32(0);
            }
            (Kind::CharDev | Kind::BlockDev, _) => {
                w.u64(0);
            }
            (Kind::Fifo | Kind::Socket, _) => {}
        }
        if e.kind == Kind::File && !e.holes.is_empty() {
            let mut map = Vec::with_capacity(e.holes.len() * 16);
            for (off, len) in &e.holes {
                map.extend_from_slice(&off.to_le_bytes());
                map.extend_from_slice(&len.to_le_bytes());
            }
            w.u8(1).extensions(&[(EXT_HOLES, &map)]);
        } else {
            w.u8(0);
        }
    }
    w.finish()
}

/// Decodes and checks a hole map: ascending, not touching, inside the file, and together with
/// the chunks exactly the file's size.
fn decode_holes(v: &[u8], e: &Entry, what: &str) -> Result<Vec<(u64, u64)>> {
    let bad = |d: &str| {
        Err(VgerError::corrupt(
            what,
            format!("hole map of {:?}: {d}", String::from_utf8_lossy(&e.name)),
        ))
    };
    if e.kind != Kind::File {
        return bad("not a regular file");
    }
    if v.is_empty() || !v.len().is_multiple_of(16) {
        return bad("length not a positive multiple of 16");
    }
    let mut holes = Vec::with_capacity(v.len() / 16);
    let mut r = Reader::new(v, what);
    let (mut end, mut total) = (0u64, 0u64);
    while r.remaining() > 0 {
        let (off, len) = (r.u64()?, r.u64()?);
        let Some(hole_end) = off.checked_add(len) else {
            return bad("hole past the end of the file");
        };
        if len == 0 || (!holes.is_empty() && off <= end) {
            return bad("holes empty, out of order or touching");
        }
        if hole_end > e.size {
            return bad("hole past the end of the file");
        }
        (end, total) = (hole_end, total + len);
        holes.push((off, len));
    }
    let stored: u64 = match &e.content {
        Content::Chunks(c) => c.iter().map(|(_, n)| u64::from(*n)).sum(),
        _ => 0,
    };
    if stored.checked_add(total) != Some(e.size) {
        return bad("chunks and holes do not add up to the size");
    }
    Ok(holes)
}

/// Decodes and validates tree plaintext: names must be valid components in strictly ascending
/// order (so no name appears twice and a symlink can never shadow a directory on restore).
pub fn decode(plain: &[u8], what: &str) -> Result<Vec<Entry>> {
    let mut r = Reader::new(plain, what);
    let v = r.u8()?;
    if v > VERSION {
        return Err(VgerError::NewerFormat {
            object: what.into(),
            found: v.into(),
            supported: VERSION.into(),
        });
    }
    let n = r.count(MIN_ENTRY)?;
    let known = [(EXT_HOLES, MAX_HOLES * 16)];
    let mut out: Vec<Entry> = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.bytes(MAX_NAME)?.to_vec();
        if !valid_name(&name) {
            return Err(VgerError::corrupt(
                what,
                format!("invalid entry name {:?}", String::from_utf8_lossy(&name)),
            ));
        }
        if out.last().is_some_and(|p| p.name >= name) {
            return Err(VgerError::corrupt(
                what,
                "entries out of order or duplicated",
            ));
        }
        let kind =
            Kind::from_u8(r.u8()?).ok_or_else(|| VgerError::corrupt(what, "unknown entry kind"))?;
        let mode = r.u32()?;
        let uid = r.u32()?;
        let gid = r.u32()?;
        let user = r.string(MAX_NAME)?;
        let group = r.string(MAX_NAME)?;
        let mtime_ns = r.i64()?;
        let ctime_ns = r.i64()?;
        let size = r.u64()?;
        let nx = r.count(8)?;
        let mut xattrs = Vec::with_capacity(nx);
        for _ in 0..nx {
            let k = r.bytes(MAX_NAME)?.to_vec();
            let v = r.bytes(MAX_XATTR)?.to_vec();
            xattrs.push((k, v));
        }
        let content = match kind {
            Kind::File => {
                let c = r.count(36)?;
                let mut chunks = Vec::with_capacity(c);
                for _ in 0..c {
                    chunks.push((ChunkId(r.array()?), r.u32()?));
                }
                Content::Chunks(chunks)
            }
            Kind::Dir => Content::Subtree(ChunkId(r.array()?)),
            Kind::Symlink | Kind::HardLink => Content::Target(r.bytes(MAX_NAME * 4)?.to_vec()),
            Kind::CharDev | Kind::BlockDev => Content::Rdev(r.u64()?),
            Kind::Fifo | Kind::Socket => Content::None,
        };
        let n_ext = usize::from(r.u8()?);
        let ext = r.extensions(n_ext, &known)?;
        let mut e = Entry {
            name,
            kind,
            mode,
            uid,
            gid,
            user,
            group,
            mtime_ns,
            ctime_ns,
            size,
            xattrs,
            content,
            holes: Vec::new(),
        };
        for (key, value) in ext {
            if key == EXT_HOLES {
                e.holes = decode_holes(value, &e, what)?;
            }
        }
        out.push(e);
    }
    r.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &[u8], kind: Kind, content: Content) -> Entry {
        Entry {
            name: name.to_vec(),
            kind,
            mode: 0o100644,
            uid: 1000,
            gid: 1000,
            user: "u".into(),
            group: "g".into(),
            mtime_ns: 1_700_000_000_123_456_789,
            ctime_ns: 1_700_000_000_000_000_000,
            size: 3,
            xattrs: vec![(b"user.k".to_vec(), b"v".to_vec())],
            content,
            holes: Vec::new(),
        }
    }

    #[test]
    fn round_trip_sorted_and_golden() {
        let mut sparse = entry(
            b"b\xff",
            Kind::File,
            Content::Chunks(vec![(ChunkId([1; 32]), 3)]),
        );
        (sparse.size, sparse.holes) = (4099, vec![(0, 4096)]);
        let mut entries = vec![
            sparse,
            entry(b"a", Kind::Symlink, Content::Target(b"../x".to_vec())),
        ];
        let bytes = encode(&mut entries);
        assert_eq!(entries[0].name, b"a");
        assert_eq!(decode(&bytes, "t").unwrap(), entries);
        assert_eq!(blake3::hash(&bytes).to_hex().as_str(), GOLDEN_TREE_HASH);
    }

    const GOLDEN_TREE_HASH: &str =
        "3f25c147b209dd06ea9d124f00dd667b67798f909211884224c225ffdc640caa";

    /// A one-entry tree (a fifo `a`) whose extension list is `ext`, as a newer writer would
    /// produce it.
    fn fifo_with(ext: &[(u16, &[u8])]) -> Vec<u8> {
        let mut bytes = encode(&mut [entry(b"a", Kind::Fifo, Content::None)]);
        bytes.pop(); // the empty extension count
        let mut w = Writer::new();
        w.u8(ext.len() as u8).extensions(ext);
        bytes.extend(w.finish());
        bytes
    }

    #[test]
    fn unknown_extensions_skipped_or_refused() {
        let plain = encode(&mut [entry(b"a", Kind::Fifo, Content::None)]);
        let optional = fifo_with(&[(0x0001, b"a tag"), (0x7fff, &[0u8; 100])]);
        assert_eq!(
            decode(&optional, "t").unwrap(),
            decode(&plain, "t").unwrap()
        );
        let must = fifo_with(&[(0x0001, b"x"), (0x8100, b"")]);
        let e = decode(&must, "tree 1234").unwrap_err();
        assert_eq!(e.code(), vger_types::ErrorCode::NewerFormat);
        assert!(e.to_string().contains("0x8100"), "{e}");
        for bad in [
            fifo_with(&[(2, b""), (1, b"")]),
            fifo_with(&[(1, b""), (1, b"")]),
        ] {
            let e = decode(&bad, "t").unwrap_err();
            assert_eq!(e.code(), vger_types::ErrorCode::Corrupt, "{e}");
        }
        let mut huge = fifo_with(&[(1, b"")]);
        let n = huge.len();
        huge[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge, "t").is_err());
    }

    fn sparse(holes: &[(u64, u64)], chunk: u32, size: u64) -> Entry {
        let mut e = entry(
            b"f",
            Kind::File,
            Content::Chunks(vec![(ChunkId([1; 32]), chunk)]),
        );
        e.size = size;
        e.holes = holes.to_vec();
        e
    }

    #[test]
    fn hole_maps_round_trip_and_are_checked() {
        let good = sparse(&[(0, 4096), (8192, 4096)], 4096 + 100, 12288 + 100);
        let bytes = encode(&mut [good.clone()]);
        assert_eq!(decode(&bytes, "t").unwrap(), vec![good.clone()]);
        assert_eq!(good.data_runs(), vec![(0, 4096, 4096), (4096, 12288, 100)]);
        assert_eq!(sparse(&[(0, 10)], 0, 10).data_runs(), vec![]);
        for bad in [
            sparse(&[(0, 4096), (4096, 4096)], 4096, 12288), // touching
            sparse(&[(4096, 10), (0, 10)], 4076, 4096 + 10), // out of order
            sparse(&[(0, 0)], 10, 10),                       // empty
            sparse(&[(5, 10)], 0, 10),                       // past the end
            sparse(&[(u64::MAX, 2)], 0, 10),                 // overflow
            sparse(&[(0, 10)], 5, 20),                       // does not add up
        ] {
            let e = decode(&encode(&mut [bad.clone()]), "t").unwrap_err();
            assert_eq!(e.code(), vger_types::ErrorCode::Corrupt, "{bad:?}");
        }
        // On anything but a regular file, a hole map is damage.
        let mut bytes = fifo_with(&[(EXT_HOLES, &[0u8; 16])]);
        assert!(decode(&bytes, "t").is_err());
        // Too many holes: refused by the value limit before reading.
        bytes = fifo_with(&[(EXT_HOLES, &vec![0u8; MAX_HOLES * 16 + 16])]);
        assert!(
            decode(&bytes, "t")
                .unwrap_err()
                .to_string()
                .contains("above the limit")
        );
    }

    #[test]
    fn smallest_entries_decode() {
        let mut many: Vec<Entry> = (0..200u8)
            .map(|i| {
                let mut e = entry(&[b'a' + i % 26, b'0' + i / 26], Kind::Fifo, Content::None);
                (e.user, e.group, e.xattrs) = (String::new(), String::new(), vec![]);
                e
            })
            .collect();
        many.sort_by(|a, b| a.name.cmp(&b.name));
        many.dedup_by(|a, b| a.name == b.name);
        let bytes = encode(&mut many);
        assert_eq!(decode(&bytes, "t").unwrap(), many);
    }

    #[test]
    fn hostile_trees_are_refused() {
        for bad in [&b".."[..], b".", b"a/b", b"", b"a\0"] {
            let mut e = vec![entry(bad, Kind::Fifo, Content::None)];
            assert!(decode(&encode(&mut e), "t").is_err(), "{bad:?}");
        }
        let mut twice = vec![
            entry(b"a", Kind::Fifo, Content::None),
            entry(b"a", Kind::Dir, Content::Subtree(ChunkId([0; 32]))),
        ];
        assert!(decode(&encode(&mut twice), "t").is_err());
        let mut newer = encode(&mut [entry(b"a", Kind::Fifo, Content::None)]);
        newer[0] = 2;
        assert_eq!(
            decode(&newer, "t").unwrap_err().code(),
            vger_types::ErrorCode::NewerFormat
        );
    }
}
