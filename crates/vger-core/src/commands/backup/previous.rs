//! The previous backup's file cache as this backup reads it: the cache file's entries kept as
//! they were read (one buffer), and where each starts, by path hash. An entry is decoded only
//! when the walker asks for it, and copied out as bytes when a checkpoint carries it over.
//!
//! Decoding all of them up front (a map of decoded entries, each chunk list in its own
//! allocation) cost an unchanged re-backup of the corpus ~45 ms before its walk began, and the
//! map's 112-byte slots, touched in no order, cost the walk cache misses. The walk asks for the
//! entries in about the order the last one wrote them, so the entry after the last one found is
//! tried before the map. Memory is the file's size plus 16 bytes a slot.

use std::cell::Cell;
use std::collections::HashMap;

use vger_types::ChunkId;

use super::filecache::{ChunkList, Identity, MAX_XATTRS, Xattrs, decode_xattrs};

/// An entry's fixed part: path hash 16, five 8-byte fields, chunk count 4 (filecache.rs).
pub const HEAD: usize = 60;
/// One chunk in an entry: id 32, length 4.
pub const CHUNK: usize = 36;

#[derive(Default)]
pub struct Previous {
    /// Encoded entries, back to back.
    bytes: Vec<u8>,
    /// Where an entry starts, by the first 8 bytes of its path hash; the whole hash is checked
    /// at the entry (two paths sharing 64 bits, one of them is simply not found).
    at: HashMap<u64, usize>,
    /// Where the last entry found starts, and the one after it (the walker asks for an entry
    /// again when it records the file, then for the next file's).
    last: Cell<usize>,
    next: Cell<usize>,
}

/// One entry, read in place.
pub struct View<'a> {
    pub key: u128,
    pub id: Identity,
    /// `count × (chunk id 32 ‖ length u32)`.
    chunks: &'a [u8],
    /// From the xattrs flag to the end of the entry.
    xattrs: &'a [u8],
    /// The whole entry, as encoded.
    pub raw: &'a [u8],
}

impl Previous {
    /// The entries of a cache file, `bytes[from..]` (the file cut where its segment list
    /// starts, its MAC already checked), or `None` if one does not decode.
    pub fn parse(bytes: Vec<u8>, from: usize) -> Option<Self> {
        // Sized as if every entry had one chunk (97 bytes; an empty file's is 61): growing the
        // map entry by entry cost ~17 ms of rehashing. Entries of many chunks make this an
        // overestimate, by at most one slot per 97 bytes of cache file.
        let at = HashMap::with_capacity(bytes.len() / (HEAD + CHUNK + 1));
        let mut p = Previous {
            bytes,
            at,
            last: Cell::new(usize::MAX),
            next: Cell::new(from),
        };
        let mut pos = from;
        while pos < p.bytes.len() {
            let len = entry_len(&p.bytes[pos..])?;
            p.index(pos);
            pos += len;
        }
        Some(p)
    }

    /// Adds an entry (encoded), replacing one of the same path.
    pub fn insert(&mut self, encoded: &[u8]) {
        if entry_len(encoded) == Some(encoded.len()) {
            let pos = self.bytes.len();
            self.bytes.extend_from_slice(encoded);
            self.index(pos);
        }
    }

    /// Maps the entry at `pos`; one it replaces (same path, or the same first 8 bytes) is buried.
    fn index(&mut self, pos: usize) {
        let key = short(&self.bytes[pos..]);
        if let Some(old) = self.at.insert(key, pos)
            && short(&self.bytes[old..]) == key
        {
            self.bury(old); // once: a second inversion would bring a removed entry back
        }
    }

    /// Makes the entry at `pos` unfindable: its path hash is inverted, which no path's is.
    fn bury(&mut self, pos: usize) {
        self.bytes[pos..pos + 16].iter_mut().for_each(|b| *b = !*b);
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    pub fn get(&self, key: u128) -> Option<View<'_>> {
        self.find(key).and_then(|pos| view(&self.bytes[pos..]))
    }

    /// Where the entry for `key` starts: the last one found or the one after it if it is one of
    /// them, else where the map says.
    fn find(&self, key: u128) -> Option<usize> {
        let is_at = |pos: usize| {
            pos.checked_add(16)
                .and_then(|end| self.bytes.get(pos..end))
                .is_some_and(|k| k == key.to_le_bytes())
        };
        let pos = [self.last.get(), self.next.get()]
            .into_iter()
            .find(|p| is_at(*p))
            .or_else(|| self.at.get(&(key as u64)).copied().filter(|p| is_at(*p)))?;
        self.last.set(pos);
        self.next.set(pos + entry_len(&self.bytes[pos..])?);
        Some(pos)
    }

    /// Buries the entry for `key`; its slot in the map stays (a lookup there finds another path
    /// hash and fails), which spares the walker a map lookup per file.
    pub fn remove(&mut self, key: u128) {
        if let Some(pos) = self.find(key) {
            self.bury(pos);
        }
    }

    /// The entries not removed, in the order they were read.
    pub fn entries(&self) -> impl Iterator<Item = View<'_>> {
        let mut starts: Vec<usize> = self
            .at
            .iter()
            .filter(|(short_key, pos)| short(&self.bytes[**pos..]) == **short_key)
            .map(|(_, pos)| *pos)
            .collect();
        starts.sort_unstable();
        starts.into_iter().filter_map(|p| view(&self.bytes[p..]))
    }
}

impl View<'_> {
    pub fn chunks(&self) -> impl Iterator<Item = (ChunkId, u32)> + '_ {
        self.chunks.chunks_exact(CHUNK).map(|c| {
            let mut id = [0u8; 32];
            id.copy_from_slice(&c[..32]);
            (
                ChunkId(id),
                u32::from_le_bytes([c[32], c[33], c[34], c[35]]),
            )
        })
    }

    pub fn chunk_list(&self) -> ChunkList {
        self.chunks().collect()
    }

    /// The sum of the chunks' lengths.
    pub fn stored_len(&self) -> u64 {
        self.chunks
            .chunks_exact(CHUNK)
            .map(|c| u64::from(u32::from_le_bytes([c[32], c[33], c[34], c[35]])))
            .sum()
    }

    /// The extended attributes, `None` if the backup that wrote the entry did not read them.
    pub fn xattrs(&self) -> Option<Xattrs> {
        decode_xattrs(self.xattrs, 0)
            .and_then(|(x, _)| x)
            .map(Vec::from)
    }
}

/// The first 8 bytes of an entry's path hash, the map's key.
fn short(entry: &[u8]) -> u64 {
    u64::from_le_bytes(entry[..8].try_into().unwrap_or([0; 8]))
}

/// The length of the entry at the start of `bytes`, if it is whole: its chunks, and its
/// extended attributes' lengths (read, not copied) within it.
fn entry_len(bytes: &[u8]) -> Option<usize> {
    let u32_at = |i: usize| -> Option<usize> {
        let b = bytes.get(i..i.checked_add(4)?)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let n = u32_at(HEAD - 4)?;
    let mut at = n.checked_mul(CHUNK)?.checked_add(HEAD)?;
    match *bytes.get(at)? {
        0 => Some(at + 1),
        1 => {
            let count = u32_at(at + 1)?;
            at += 5;
            if count > MAX_XATTRS {
                return None;
            }
            // Name and value: each a length and that many bytes.
            for _ in 0..2 * count {
                at = at.checked_add(4)?.checked_add(u32_at(at)?)?;
            }
            (at <= bytes.len()).then_some(at)
        }
        _ => None,
    }
}

/// The entry at the start of `bytes` (one that [`entry_len`] accepted).
fn view(bytes: &[u8]) -> Option<View<'_>> {
    let len = entry_len(bytes)?;
    let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or([0; 8]));
    let n = u32::from_le_bytes(bytes[HEAD - 4..HEAD].try_into().ok()?) as usize;
    let end = HEAD + n * CHUNK;
    Some(View {
        key: u128::from_le_bytes(bytes[..16].try_into().ok()?),
        id: Identity {
            dev: u64_at(16),
            ino: u64_at(24),
            size: u64_at(32),
            mtime_ns: u64_at(40) as i64,
            ctime_ns: u64_at(48) as i64,
        },
        chunks: &bytes[HEAD..end],
        xattrs: &bytes[end..len],
        raw: &bytes[..len],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::backup::filecache::encode;

    fn id(n: u64) -> Identity {
        Identity {
            dev: 1,
            ino: n,
            size: 10 * n,
            mtime_ns: n as i64,
            ctime_ns: -(n as i64),
        }
    }

    fn entry(key: u128, n: u64, xattrs: Option<&[(Vec<u8>, Vec<u8>)]>) -> Vec<u8> {
        let chunks: Vec<(ChunkId, u32)> = (0..n).map(|i| (ChunkId([i as u8; 32]), 10)).collect();
        encode(key, &id(n), &chunks, xattrs)
    }

    fn file(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut b = b"MAGIC123".to_vec();
        entries.iter().for_each(|e| b.extend_from_slice(e));
        b
    }

    #[test]
    fn entries_are_found_by_their_whole_path_hash_and_read_in_place() {
        let x = vec![(b"user.a".to_vec(), b"1".to_vec())];
        let (a, b, c) = (7u128, (9u128 << 64) | 7, 3u128);
        let bytes = file(&[
            entry(a, 2, Some(&x)),
            entry(c, 0, None),
            entry(b, 3, Some(&[])),
        ]);
        let p = Previous::parse(bytes, 8).unwrap();
        // `b` shares `a`'s first 8 bytes and came later: it is found, `a` is not.
        assert!(p.get(a).is_none());
        let v = p.get(b).unwrap();
        assert_eq!((v.id, v.stored_len(), v.chunk_list().len()), (id(3), 30, 3));
        assert_eq!(v.xattrs(), Some(vec![]));
        assert_eq!(v.raw, entry(b, 3, Some(&[])).as_slice());
        let v = p.get(c).unwrap();
        assert_eq!((v.id, v.stored_len(), v.xattrs()), (id(0), 0, None));
        assert!(p.get(4).is_none());

        let p = Previous::parse(file(&[entry(a, 2, Some(&x))]), 8).unwrap();
        let v = p.get(a).unwrap();
        assert_eq!(v.xattrs(), Some(x));
        assert_eq!(v.chunk_list()[1], (ChunkId([1; 32]), 10));
    }

    #[test]
    fn removed_entries_are_left_out_and_the_rest_kept_in_order() {
        let keys = [5u128, 1, 9, 3];
        let mut p = Previous::parse(file(&keys.map(|k| entry(k, 1, None))), 8).unwrap();
        p.remove(9);
        p.remove(9 | (1 << 100)); // another path with the same first 8 bytes: not removed
        p.insert(&entry(6, 2, None));
        p.insert(&entry(5, 4, None)); // replaces the entry of the same path
        let order: Vec<(u128, u64)> = p.entries().map(|v| (v.key, v.id.ino)).collect();
        assert_eq!(order, [(1, 1), (3, 1), (6, 2), (5, 4)]);
        assert!(!p.is_empty());
        // Found in order (the entry after the last found is tried first) or not: the same
        // answers. The old entry of 5 is first in the buffer, 9's follows 1's.
        assert_eq!(p.get(5).unwrap().id.ino, 4);
        assert_eq!(p.get(1).unwrap().id.ino, 1);
        assert!(p.get(9).is_none(), "removed");
        assert_eq!(p.get(3).unwrap().id.ino, 1);
        assert_eq!(p.get(6).unwrap().id.ino, 2);
        assert_eq!(p.get(5).unwrap().id.ino, 4);
        p.remove(5);
        assert!(p.get(5).is_none());
        assert_eq!(p.entries().count(), 3);
        // Replaced after being removed: the new entry is found, the removed ones stay buried.
        p.insert(&entry(5, 3, None));
        let order: Vec<(u128, u64)> = p.entries().map(|v| (v.key, v.id.ino)).collect();
        assert_eq!(order, [(1, 1), (3, 1), (6, 2), (5, 3)]);
        assert_eq!(p.get(5).unwrap().id.ino, 3);
    }

    #[test]
    fn a_cut_or_malformed_entry_is_refused() {
        let whole = entry(1, 2, Some(&[(b"n".to_vec(), b"v".to_vec())]));
        for cut in 1..whole.len() {
            let bytes = file(&[entry(2, 1, None), whole[..cut].to_vec()]);
            assert!(Previous::parse(bytes, 8).is_none(), "cut at {cut}");
        }
        let mut bad_flag = entry(1, 0, None);
        *bad_flag.last_mut().unwrap() = 2;
        assert!(Previous::parse(file(&[bad_flag]), 8).is_none());
        let mut p = Previous::default();
        p.insert(&whole[..whole.len() - 1]);
        assert!(p.is_empty(), "a cut entry is not adopted");
    }
}
