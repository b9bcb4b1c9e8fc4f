//! Tree blobs: one per directory, content-addressed (a Merkle tree), so an unchanged directory
//! costs nothing in a new snapshot and diffs can skip equal subtrees.
//!
//! Plaintext: `u8 version (1) ‖ u32 entry count ‖ entries sorted by name bytes, each:
//! name (u32 len + bytes) ‖ kind u8 ‖ mode u32 ‖ uid u32 ‖ gid u32 ‖ user ‖ group ‖
//! mtime ns i64 ‖ ctime ns i64 ‖ size u64 ‖ u32 xattr count ‖ xattrs (name, value) ‖ content`
//! where content is, by kind: file `u32 n ‖ n × (chunk id 32 ‖ length u32)`; directory: subtree
//! id 32; symlink: target bytes; hard link: the '/'-separated path of the first link in this
//! snapshot; fifo/socket: nothing; char/block device: rdev u64.

use vger_types::codec::{Reader, Writer};
use vger_types::{ChunkId, Result, VgerError};

const VERSION: u8 = 1;
const MAX_NAME: usize = 4096;
const MAX_XATTR: usize = 1 << 20;
/// The smallest encoded entry: a 1-byte name, empty user and group, no xattrs, no content (54 bytes).
const MIN_ENTRY: usize = 4 + 1 + 1 + 4 * 3 + 4 + 4 + 8 * 3 + 4;

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
    }
    w.finish()
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
        out.push(Entry {
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
        });
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
        }
    }

    #[test]
    fn round_trip_sorted_and_golden() {
        let mut entries = vec![
            entry(
                b"b\xff",
                Kind::File,
                Content::Chunks(vec![(ChunkId([1; 32]), 3)]),
            ),
            entry(b"a", Kind::Symlink, Content::Target(b"../x".to_vec())),
        ];
        let bytes = encode(&mut entries);
        assert_eq!(entries[0].name, b"a");
        assert_eq!(decode(&bytes, "t").unwrap(), entries);
        assert_eq!(blake3::hash(&bytes).to_hex().as_str(), GOLDEN_TREE_HASH);
    }

    const GOLDEN_TREE_HASH: &str =
        "08856e4751b285b5667c4ae5c4b77655e9a8e471fe386f32495f9401c2fc30d5";

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
