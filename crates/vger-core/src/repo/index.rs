//! The chunk index: where each blob lives. On storage it is a set of append-only segments
//! (`index/<64 hex random id>`), one per backup; the in-memory view is their union.
//!
//! Segment plaintext (sealed with kind IndexSegment and the segment id):
//! `u8 version (3) ‖ u32 pack count ‖ per pack: pack id 32 ‖ u32 blob count ‖ per blob:
//! chunk id 32 ‖ kind u8 ‖ offset u32 ‖ length u32 ‖ raw length u32 ‖ u32 superseded count ‖
//! superseded segment ids (32 each) ‖ u64 generation`.
//!
//! The superseded list is how a replayed segment is recognised: a compaction's segments name
//! every segment they replace, and (transitively) every segment those named, so a segment that
//! reappears after it was consolidated (a storage host rolled back, a sync tool copied it back)
//! is ignored with a warning instead of pointing the index at packs that are gone.
//!
//! The generation is one more than the highest generation of the segments its writer had read,
//! so the highest generation in storage never goes down while writers follow the format: a
//! compaction or repair that deletes segments writes a higher one first. A client that remembers
//! the highest generation it saw notices a storage host that rolled the whole repository back.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use vger_crypto::{BlobKind, Crypter, random_bytes};
use vger_types::codec::{Reader, Writer};
use vger_types::{ChunkId, PackId, Result, VgerError};

use super::context::{ObjectKind, context};
use super::index_table::{self, Table};
use super::pack::BlobEntry;

const VERSION: u8 = 3;

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

/// One blob in the sorted table: 48 bytes, no per-entry allocation or hash-table slack (a hash
/// map of the same entries costs 90-110 bytes each at its usual load).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) id: ChunkId,
    /// Index into `packs`; the top bit marks a tree blob.
    pub(crate) pack: u32,
    pub(crate) offset: u32,
    pub(crate) len: u32,
    pub(crate) raw_len: u32,
}

const TREE_BIT: u32 = 1 << 31;

/// A pack and whether it holds a data blob (else only trees).
pub(crate) type PackFlags = (PackId, bool);

impl Slot {
    fn new(id: ChunkId, pack: u32, e: &BlobEntry) -> Self {
        let kind = if e.kind == BlobKind::Tree {
            TREE_BIT
        } else {
            0
        };
        Slot {
            id,
            pack: pack | kind,
            offset: e.offset,
            len: e.len,
            raw_len: e.raw_len,
        }
    }

    fn location(&self) -> Location {
        Location {
            pack: self.pack & !TREE_BIT,
            kind: if self.pack & TREE_BIT != 0 {
                BlobKind::Tree
            } else {
                BlobKind::Data
            },
            offset: self.offset,
            len: self.len,
            raw_len: self.raw_len,
        }
    }
}

/// Where every blob lives: a table sorted by id (built once from the segments) plus a small hash
/// map of blobs added since (those of the running backup). When an id appears in several packs,
/// the first segment read wins, as a reader would find it.
///
/// With a cache directory the bulk of the table is a memory-mapped file ([`index_table`]) and
/// `sorted` holds only the segments written since that file was made.
#[derive(Default)]
pub struct ChunkIndex {
    packs: Vec<PackId>,
    pack_pos: HashMap<PackId, u32>,
    /// By pack position: whether the pack holds a data blob (else only trees).
    holds_data: Vec<bool>,
    table: Option<Table>,
    /// Pack positions whose blobs in `table` are forgotten ([`ChunkIndex::drop_packs`]), and
    /// how many such blobs there are.
    dropped: HashSet<u32>,
    dropped_blobs: usize,
    /// Whether `drop_packs` forgot blobs (of the table or not).
    forgot: bool,
    sorted: Vec<Slot>,
    recent: IdMap<Location>,
}

/// Collects segments, then sorts once ([`IndexBuilder::finish`]).
#[derive(Default)]
pub struct IndexBuilder {
    index: ChunkIndex,
}

impl IndexBuilder {
    /// A builder whose index starts as an opened table (the segments added go beside it).
    pub(crate) fn on_table(opened: index_table::Opened) -> Self {
        let mut index = ChunkIndex::default();
        for (pack, data) in opened.packs {
            let pos = index.pack_position(pack);
            index.holds_data[pos as usize] = data;
        }
        index.table = Some(opened.table);
        IndexBuilder { index }
    }

    /// Blobs added so far (beside a table's).
    pub(crate) fn added(&self) -> usize {
        self.index.sorted.len()
    }

    pub fn add_pack(&mut self, pack: PackId, entries: &[BlobEntry]) {
        let pos = self.index.pack_position(pack);
        self.index.note_kinds(pos, entries);
        self.index
            .sorted
            .extend(entries.iter().map(|e| Slot::new(e.id, pos, e)));
    }

    pub fn finish(self) -> ChunkIndex {
        self.finish_preferring(|_| Ok(true)).unwrap_or_default()
    }

    /// Like [`IndexBuilder::finish`], but when several entries share an id, the first whose pack
    /// `exists` wins (a stale entry into a pack that is gone never hides a good one). `exists` is
    /// asked only when there are such duplicates.
    pub fn finish_preferring(
        mut self,
        mut exists: impl FnMut(&PackId) -> Result<bool>,
    ) -> Result<ChunkIndex> {
        // Stable, so among equal ids the first added stays first, and dedup keeps it.
        self.index.sorted.sort_by_key(|s| s.id.0);
        let dup = self.index.sorted.windows(2).any(|w| w[0].id == w[1].id);
        if dup {
            let packs = &self.index.packs;
            let mut ok = HashMap::new();
            let sorted = &mut self.index.sorted;
            let mut i = 0;
            while i < sorted.len() {
                let mut j = i + 1;
                while j < sorted.len() && sorted[j].id == sorted[i].id {
                    j += 1;
                }
                if j - i > 1 {
                    for k in i..j {
                        let pos = (sorted[k].pack & !TREE_BIT) as usize;
                        let here = match ok.get(&pos) {
                            Some(v) => *v,
                            None => {
                                let v = exists(&packs[pos])?;
                                ok.insert(pos, v);
                                v
                            }
                        };
                        if here {
                            sorted.swap(i, k);
                            break;
                        }
                    }
                }
                i = j;
            }
        }
        self.index.sorted.dedup_by(|b, a| a.id == b.id);
        if let Some(table) = &self.index.table {
            // The table's entry wins, as an earlier segment's would.
            self.index.sorted.retain(|s| table.find(&s.id).is_none());
        }
        self.index.sorted.shrink_to_fit();
        Ok(self.index)
    }
}

impl ChunkIndex {
    fn pack_position(&mut self, pack: PackId) -> u32 {
        let next = self.packs.len() as u32;
        let pos = *self.pack_pos.entry(pack).or_insert(next);
        if pos == next {
            self.packs.push(pack);
            self.holds_data.push(false);
        }
        pos
    }

    fn note_kinds(&mut self, pos: u32, entries: &[BlobEntry]) {
        if entries.iter().any(|e| e.kind == BlobKind::Data) {
            self.holds_data[pos as usize] = true;
        }
    }

    /// Whether the pack at `location.pack` holds tree blobs only (backups and compaction write
    /// trees to packs of their own, which a caching backend keeps whole).
    pub fn tree_only(&self, location: &Location) -> bool {
        self.holds_data
            .get(location.pack as usize)
            .is_some_and(|d| !d)
    }

    fn find(&self, id: &ChunkId) -> Option<Location> {
        if let Some(s) = self.table.as_ref().and_then(|t| t.find(id))
            && !self.dropped.contains(&(s.pack & !TREE_BIT))
        {
            return Some(s.location());
        }
        match self.sorted.binary_search_by(|s| s.id.0.cmp(&id.0)) {
            Ok(i) => Some(self.sorted[i].location()),
            Err(_) => self.recent.get(id).copied(),
        }
    }

    /// Whether [`ChunkIndex::drop_packs`] forgot any blob (the segments then promise more than
    /// the index holds).
    pub fn dropped_any(&self) -> bool {
        !self.dropped.is_empty() || self.dropped_blobs > 0 || self.forgot
    }

    /// Blobs in the memory-mapped table (0 without a cache directory).
    pub fn mapped_len(&self) -> usize {
        self.table.as_ref().map_or(0, Table::len)
    }

    /// The slots to write into a table: the whole index, sorted by id, when none of it is mapped.
    pub(crate) fn table_parts(&self) -> Option<(Vec<PackFlags>, &[Slot])> {
        if self.table.is_some() || !self.recent.is_empty() || !self.dropped.is_empty() {
            return None;
        }
        let packs = self
            .packs
            .iter()
            .copied()
            .zip(self.holds_data.iter().copied());
        Some((packs.collect(), &self.sorted))
    }

    pub fn get(&self, id: &ChunkId) -> Option<(PackId, Location)> {
        self.find(id).map(|l| (self.packs[l.pack as usize], l))
    }

    pub fn contains(&self, id: &ChunkId) -> bool {
        self.find(id).is_some()
    }

    pub fn len(&self) -> usize {
        self.mapped_len() - self.dropped_blobs + self.sorted.len() + self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every blob: id, pack and location (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (ChunkId, PackId, Location)> + '_ {
        let table = self.table.iter().flat_map(|t| {
            (0..t.len())
                .map(|i| t.slot(i))
                .filter(|s| !self.dropped.contains(&(s.pack & !TREE_BIT)))
        });
        let sorted = table.chain(self.sorted.iter().copied()).map(|s| {
            let l = s.location();
            (s.id, self.packs[l.pack as usize], l)
        });
        let recent = self
            .recent
            .iter()
            .map(|(id, l)| (*id, self.packs[l.pack as usize], *l));
        sorted.chain(recent)
    }

    /// The packs the index refers to.
    pub fn packs(&self) -> &[PackId] {
        &self.packs
    }

    /// Drops every blob of the packs `gone` names (packs the index lists that storage lacks);
    /// returns how many blobs were dropped.
    pub fn drop_packs(&mut self, gone: &std::collections::HashSet<PackId>) -> usize {
        let doomed: std::collections::HashSet<u32> = gone
            .iter()
            .filter_map(|p| self.pack_pos.get(p).copied())
            .collect();
        if doomed.is_empty() {
            return 0;
        }
        self.forgot = true;
        let before = self.len();
        if let Some(t) = &self.table {
            let fresh: HashSet<u32> = doomed.difference(&self.dropped).copied().collect();
            self.dropped_blobs += (0..t.len())
                .filter(|i| fresh.contains(&(t.slot(*i).pack & !TREE_BIT)))
                .count();
            self.dropped.extend(fresh);
        }
        self.sorted
            .retain(|s| !doomed.contains(&(s.pack & !TREE_BIT)));
        self.recent.retain(|_, l| !doomed.contains(&l.pack));
        before - self.len()
    }

    /// Whether an index segment lists `pack`.
    pub fn has_pack(&self, pack: &PackId) -> bool {
        self.pack_pos.contains_key(pack)
    }

    /// Adds a pack written after the index was built (an id already present keeps its place).
    pub fn insert_pack(&mut self, pack: PackId, entries: &[BlobEntry]) {
        let pos = self.pack_position(pack);
        self.note_kinds(pos, entries);
        for e in entries {
            if !self.contains(&e.id) {
                self.recent.insert(e.id, Slot::new(e.id, pos, e).location());
            }
        }
    }
}

pub fn segment_key(id: &[u8; 32]) -> String {
    format!("index/{}", hex::encode(id))
}

/// The id in a segment's storage key.
pub fn segment_id(key: &str) -> Option<[u8; 32]> {
    key.strip_prefix("index/")
        .and_then(ChunkId::from_hex)
        .map(|c| c.0)
}

/// Encodes and seals a new segment that supersedes none; returns its storage key and bytes.
pub fn seal_segment(
    packs: &[(PackId, Vec<BlobEntry>)],
    generation: u64,
    crypter: &Crypter,
    repo_id: &[u8; 32],
) -> (String, Vec<u8>) {
    seal_segment_superseding(packs, &[], generation, crypter, repo_id)
}

/// Encodes and seals a segment that replaces the segments `supersedes` names.
pub fn seal_segment_superseding(
    packs: &[(PackId, Vec<BlobEntry>)],
    supersedes: &[[u8; 32]],
    generation: u64,
    crypter: &Crypter,
    repo_id: &[u8; 32],
) -> (String, Vec<u8>) {
    let id = random_bytes::<32>();
    let sealed = crypter.seal(
        &context(ObjectKind::IndexSegment, repo_id, &id),
        &encode_segment_with(packs, supersedes, generation),
    );
    (segment_key(&id), sealed)
}

/// The plaintext of an index segment that supersedes none, generation 0.
pub fn encode_segment(packs: &[(PackId, Vec<BlobEntry>)]) -> Vec<u8> {
    encode_segment_with(packs, &[], 0)
}

/// The plaintext of an index segment.
pub fn encode_segment_with(
    packs: &[(PackId, Vec<BlobEntry>)],
    supersedes: &[[u8; 32]],
    generation: u64,
) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(VERSION).u32(packs.len() as u32);
    for (pack, entries) in packs {
        w.raw(&pack.0).u32(entries.len() as u32);
        for e in entries {
            e.encode(&mut w);
        }
    }
    w.u32(supersedes.len() as u32);
    for s in supersedes {
        w.raw(s);
    }
    w.u64(generation);
    w.finish()
}

/// An opened index segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segment {
    pub packs: Vec<(PackId, Vec<BlobEntry>)>,
    /// Ids of the segments this one replaces (see the module documentation).
    pub supersedes: Vec<[u8; 32]>,
    /// See the module documentation; 0 in a version 2 segment.
    pub generation: u64,
}

/// Opens a segment read from `key`.
pub fn open_segment(
    key: &str,
    bytes: &[u8],
    crypter: &Crypter,
    repo_id: &[u8; 32],
) -> Result<Segment> {
    let what = format!("index segment {key}");
    let id = segment_id(key).ok_or_else(|| VgerError::corrupt(&what, "unexpected object name"))?;
    let plain = crypter
        .open(&context(ObjectKind::IndexSegment, repo_id, &id), bytes)
        .ok_or_else(|| VgerError::corrupt(&what, "failed authentication"))?;
    decode_segment(&plain, &what)
}

/// Decodes a segment's plaintext.
pub fn decode_segment(plain: &[u8], what: &str) -> Result<Segment> {
    let mut r = Reader::new(plain, what);
    let v = r.u8()?;
    if v > VERSION {
        return Err(VgerError::NewerFormat {
            object: what.to_string(),
            found: v.into(),
            supported: VERSION.into(),
        });
    }
    let npacks = r.count(36)?;
    let mut out = Segment::default();
    for _ in 0..npacks {
        let pack = PackId(r.array()?);
        let n = r.count(BlobEntry::LEN)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(BlobEntry::decode(&mut r, what)?);
        }
        out.packs.push((pack, entries));
    }
    if v >= 2 {
        let n = r.count(32)?;
        for _ in 0..n {
            out.supersedes.push(r.array()?);
        }
    }
    if v >= 3 {
        out.generation = r.u64()?;
    }
    r.finish()?;
    Ok(out)
}

#[cfg(test)]
mod table_tests {
    use super::*;

    fn entry(id: u8, kind: BlobKind, offset: u32) -> BlobEntry {
        BlobEntry {
            id: ChunkId([id; 32]),
            kind,
            offset,
            len: 10,
            raw_len: 20,
        }
    }

    #[test]
    fn a_duplicate_in_a_pack_that_is_gone_never_hides_a_good_one() {
        let (gone, good) = (PackId([1; 32]), PackId([2; 32]));
        let mut b = IndexBuilder::default();
        b.add_pack(
            gone,
            &[entry(3, BlobKind::Data, 100), entry(4, BlobKind::Data, 1)],
        );
        b.add_pack(good, &[entry(3, BlobKind::Data, 300)]);
        let mut asked = Vec::new();
        let idx = b
            .finish_preferring(|p| {
                asked.push(*p);
                Ok(*p == good)
            })
            .unwrap();
        assert_eq!(idx.get(&ChunkId([3; 32])).unwrap().0, good);
        assert_eq!(
            idx.get(&ChunkId([4; 32])).unwrap().0,
            gone,
            "no duplicate, kept"
        );
        assert_eq!(idx.len(), 2);
        assert_eq!(asked, [gone, good]);
    }

    #[test]
    fn sorted_table_first_wins_and_recent_inserts() {
        assert_eq!(std::mem::size_of::<Slot>(), 48);
        let (p1, p2, p3) = (PackId([1; 32]), PackId([2; 32]), PackId([3; 32]));
        let mut b = IndexBuilder::default();
        b.add_pack(
            p1,
            &[entry(9, BlobKind::Data, 100), entry(3, BlobKind::Tree, 200)],
        );
        b.add_pack(
            p2,
            &[entry(3, BlobKind::Data, 300), entry(5, BlobKind::Data, 400)],
        );
        let mut idx = b.finish();
        assert_eq!(idx.len(), 3);
        let (pack, loc) = idx.get(&ChunkId([3; 32])).unwrap();
        assert_eq!(
            (pack, loc.kind, loc.offset),
            (p1, BlobKind::Tree, 200),
            "first wins"
        );
        assert_eq!(idx.get(&ChunkId([5; 32])).unwrap().0, p2);
        assert!(!idx.contains(&ChunkId([7; 32])));
        idx.insert_pack(
            p3,
            &[entry(7, BlobKind::Data, 1), entry(9, BlobKind::Data, 2)],
        );
        assert_eq!(idx.len(), 4);
        assert_eq!(idx.get(&ChunkId([7; 32])).unwrap().0, p3);
        assert_eq!(
            idx.get(&ChunkId([9; 32])).unwrap().1.offset,
            100,
            "kept its place"
        );
        let mut ids: Vec<u8> = idx.iter().map(|(id, _, _)| id.0[0]).collect();
        ids.sort();
        assert_eq!(ids, [3, 5, 7, 9]);
        assert_eq!(idx.packs(), &[p1, p2, p3]);
    }
}
