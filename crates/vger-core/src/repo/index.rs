//! The chunk index: where each blob lives. On storage it is a set of append-only segments
//! (`index/<64 hex random id>`), one per backup; the in-memory view is their union.
//!
//! Segment plaintext (sealed with kind IndexSegment and the segment id):
//! `u8 version (1) ‖ u32 pack count ‖ per pack: pack id 32 ‖ u32 blob count ‖ per blob:
//! chunk id 32 ‖ kind u8 ‖ offset u32 ‖ length u32 ‖ raw length u32`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use vger_crypto::{BlobKind, Crypter, random_bytes};
use vger_types::codec::{Reader, Writer};
use vger_types::{ChunkId, PackId, Result, VgerError};

use super::context::{ObjectKind, context};
use super::pack::BlobEntry;

const VERSION: u8 = 1;

/// Chunk ids are keyed BLAKE3 outputs: already uniform and unforgeable without the key, so the
/// map uses their first 8 bytes as the hash instead of SipHash.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 ^= u64::from(*b) << (8 * i);
        }
    }
}

pub type IdMap<V> = HashMap<ChunkId, V, BuildHasherDefault<IdHasher>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub pack: u32,
    pub kind: BlobKind,
    pub offset: u32,
    pub len: u32,
    pub raw_len: u32,
}

#[derive(Default)]
pub struct ChunkIndex {
    packs: Vec<PackId>,
    pack_pos: HashMap<PackId, u32>,
    map: IdMap<Location>,
}

impl ChunkIndex {
    pub fn get(&self, id: &ChunkId) -> Option<(PackId, Location)> {
        self.map.get(id).map(|l| (self.packs[l.pack as usize], *l))
    }

    pub fn contains(&self, id: &ChunkId) -> bool {
        self.map.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every blob: id, pack and location (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&ChunkId, PackId, Location)> + '_ {
        self.map
            .iter()
            .map(|(id, l)| (id, self.packs[l.pack as usize], *l))
    }

    /// The packs the index refers to.
    pub fn packs(&self) -> &[PackId] {
        &self.packs
    }

    pub fn insert_pack(&mut self, pack: PackId, entries: &[BlobEntry]) {
        let next = self.packs.len() as u32;
        let pos = *self.pack_pos.entry(pack).or_insert(next);
        if pos == next {
            self.packs.push(pack);
        }
        for e in entries {
            self.map.entry(e.id).or_insert(Location {
                pack: pos,
                kind: e.kind,
                offset: e.offset,
                len: e.len,
                raw_len: e.raw_len,
            });
        }
    }
}

pub fn segment_key(id: &[u8; 32]) -> String {
    format!("index/{}", hex::encode(id))
}

/// Encodes and seals a new segment; returns its storage key and bytes.
pub fn seal_segment(
    packs: &[(PackId, Vec<BlobEntry>)],
    crypter: &Crypter,
    repo_id: &[u8; 32],
) -> (String, Vec<u8>) {
    let id = random_bytes::<32>();
    let sealed = crypter.seal(
        &context(ObjectKind::IndexSegment, repo_id, &id),
        &encode_segment(packs),
    );
    (segment_key(&id), sealed)
}

/// The plaintext of an index segment.
pub fn encode_segment(packs: &[(PackId, Vec<BlobEntry>)]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(VERSION).u32(packs.len() as u32);
    for (pack, entries) in packs {
        w.raw(&pack.0).u32(entries.len() as u32);
        for e in entries {
            e.encode(&mut w);
        }
    }
    w.finish()
}

/// Opens a segment read from `key` and returns its packs and blobs.
pub fn open_segment(
    key: &str,
    bytes: &[u8],
    crypter: &Crypter,
    repo_id: &[u8; 32],
) -> Result<Vec<(PackId, Vec<BlobEntry>)>> {
    let what = format!("index segment {key}");
    let id = key
        .strip_prefix("index/")
        .and_then(ChunkId::from_hex)
        .ok_or_else(|| VgerError::corrupt(&what, "unexpected object name"))?;
    let plain = crypter
        .open(&context(ObjectKind::IndexSegment, repo_id, &id.0), bytes)
        .ok_or_else(|| VgerError::corrupt(&what, "failed authentication"))?;
    let mut r = Reader::new(&plain, &what);
    let v = r.u8()?;
    if v > VERSION {
        return Err(VgerError::NewerFormat {
            object: what,
            found: v.into(),
            supported: VERSION.into(),
        });
    }
    let npacks = r.count(36)?;
    let mut out = Vec::with_capacity(npacks);
    for _ in 0..npacks {
        let pack = PackId(r.array()?);
        let n = r.count(BlobEntry::LEN)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(BlobEntry::decode(&mut r, &what)?);
        }
        out.push((pack, entries));
    }
    r.finish()?;
    Ok(out)
}
