//! The local index table: a repository's chunk index kept as one sorted, memory-mapped file in
//! the cache directory (`<cache dir>/index/<repository id>`), so that opening a repository reads
//! only the index segments written since the table was made, and the index costs memory only
//! for the pages a backup actually touches instead of 48 bytes per blob.
//!
//! ```text
//! "VGERIT01" ‖ repository id 32 ‖ generation u64 ‖ slot count u64 ‖ pack count u32 ‖
//! segment count u32 ‖ superseded count u32 ‖ filter block count u32 ‖
//! segment ids (32 each) ‖ superseded segment ids (32 each) ‖ packs (id 32 ‖ holds data u8) ‖
//! zero padding to a multiple of 8 ‖ slots (48 each, sorted by id) ‖
//! fences (u64 big-endian: the first 8 id bytes of every 64th slot) ‖ filter (32-byte blocks) ‖
//! 32-byte keyed BLAKE3 MAC of everything before it                          (little-endian)
//! slot: id 32 ‖ pack position u32 (top bit: tree blob) ‖ offset u32 ‖ length u32 ‖ raw length u32
//! ```
//!
//! The segment ids say which segments the table holds, so a later open adds only the segments
//! listed since; the superseded ids and the generation carry what those segments said (see
//! [`super::index`]), so replay and rollback checks work without reading them again. A table
//! whose segments are not all still listed (a compaction replaced them) is rebuilt.
//!
//! A lookup first asks the filter (a split-block Bloom filter, 16 bits per blob; a miss, as for
//! every chunk of new data, is answered without touching the slots), then the fences (one
//! 8-byte key per 64 slots), then binary-searches one run of 64 slots: at most two pages of the
//! table. The MAC key is derived from the repository's master key and the MAC is checked on
//! every open (by reading the file, not through the mapping, so checking costs no resident
//! memory); a table that fails it, or that belongs to another repository, is ignored and rebuilt.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use vger_crypto::random_bytes;
use vger_types::{ChunkId, PackId};

use super::index::Slot;

const MAGIC: &[u8; 8] = b"VGERIT01";
const HEADER: usize = 8 + 32 + 8 + 8 + 4 * 4;
pub(crate) const SLOT_LEN: usize = 48;
const STRIDE: usize = 64;
const BLOCK: usize = 32;
/// Filter bits per blob.
const BITS_PER_KEY: usize = 16;
const MAC_LEN: usize = 32;
const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// What the segments held in a table said beyond their entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableMeta {
    /// The segments whose entries the table holds.
    pub segments: Vec<[u8; 32]>,
    /// Every segment those named as replaced.
    pub superseded: Vec<[u8; 32]>,
    /// The highest generation among them.
    pub generation: u64,
}

/// An opened table: the mapping and where its parts start.
pub struct Table {
    map: Mmap,
    count: usize,
    slots: usize,
    fences: usize,
    filter: usize,
    blocks: usize,
}

/// A table as opened: slots, its packs (id, holds a data blob) and what its segments said.
pub struct Opened {
    pub table: Table,
    pub packs: Vec<(PackId, bool)>,
    pub meta: TableMeta,
}

/// The table file of a repository under a cache directory.
pub fn table_file(cache_dir: &Path, repo_id: &[u8; 32]) -> PathBuf {
    cache_dir.join("index").join(hex::encode(repo_id))
}

/// The MAC key of tables, from the repository's local cache key.
pub fn mac_key(cache_key: &[u8; 32]) -> [u8; 32] {
    blake3::derive_key("vger 2026-12 index table mac key v1", cache_key)
}

fn blocks_for(count: usize) -> usize {
    (count * BITS_PER_KEY).div_ceil(BLOCK * 8).max(1)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn prefix(id: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&id[..8]);
    u64::from_be_bytes(a)
}

/// The filter block of `id` and the 8 bits it sets there (one per 32-bit word).
fn filter_bits(id: &ChunkId, blocks: usize) -> (usize, [u32; 8]) {
    let b = &id.0;
    let block = ((u64::from(u32_at(b, 8)) * blocks as u64) >> 32) as usize;
    let key = u32_at(b, 12);
    let mut bits = [0u32; 8];
    for (bit, salt) in bits.iter_mut().zip(SALT) {
        *bit = 1 << (key.wrapping_mul(salt) >> 27);
    }
    (block, bits)
}

fn encode_slot(s: &Slot, out: &mut [u8]) {
    out[..32].copy_from_slice(&s.id.0);
    out[32..36].copy_from_slice(&s.pack.to_le_bytes());
    out[36..40].copy_from_slice(&s.offset.to_le_bytes());
    out[40..44].copy_from_slice(&s.len.to_le_bytes());
    out[44..48].copy_from_slice(&s.raw_len.to_le_bytes());
}

fn decode_slot(b: &[u8]) -> Slot {
    let mut id = [0u8; 32];
    id.copy_from_slice(&b[..32]);
    Slot {
        id: ChunkId(id),
        pack: u32_at(b, 32),
        offset: u32_at(b, 36),
        len: u32_at(b, 40),
        raw_len: u32_at(b, 44),
    }
}

/// Writes a table of `slots` (sorted by id, no id twice) to `path`, through a temporary file and
/// a rename, so a reader sees the old table or the new one, never a part.
pub(crate) fn write(
    path: &Path,
    key: &[u8; 32],
    repo_id: &[u8; 32],
    meta: &TableMeta,
    packs: &[(PackId, bool)],
    slots: &[Slot],
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let tmp = dir.join(format!(".tmp-{}", hex::encode(random_bytes::<8>())));
    let result = write_to(&tmp, key, repo_id, meta, packs, slots).and_then(|()| {
        fs::rename(&tmp, path)?;
        Ok(())
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

struct MacWriter {
    out: BufWriter<File>,
    mac: blake3::Hasher,
}

impl MacWriter {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.mac.update(b);
        self.out.write_all(b)
    }
}

fn write_to(
    tmp: &Path,
    key: &[u8; 32],
    repo_id: &[u8; 32],
    meta: &TableMeta,
    packs: &[(PackId, bool)],
    slots: &[Slot],
) -> std::io::Result<()> {
    let count = slots.len();
    let blocks = blocks_for(count);
    let too_many = || std::io::Error::other("index table too large");
    let mut w = MacWriter {
        out: BufWriter::with_capacity(1 << 20, create_private_file(tmp)?),
        mac: blake3::Hasher::new_keyed(key),
    };
    w.put(MAGIC)?;
    w.put(repo_id)?;
    w.put(&meta.generation.to_le_bytes())?;
    w.put(&(count as u64).to_le_bytes())?;
    for n in [
        packs.len(),
        meta.segments.len(),
        meta.superseded.len(),
        blocks,
    ] {
        w.put(&u32::try_from(n).map_err(|_| too_many())?.to_le_bytes())?;
    }
    for s in meta.segments.iter().chain(&meta.superseded) {
        w.put(s)?;
    }
    for (p, data) in packs {
        w.put(&p.0)?;
        w.put(&[u8::from(*data)])?;
    }
    let head = HEADER + 32 * (meta.segments.len() + meta.superseded.len()) + 33 * packs.len();
    w.put(&[0u8; 8][..head.next_multiple_of(8) - head])?;
    let mut buf = [0u8; SLOT_LEN];
    for s in slots {
        encode_slot(s, &mut buf);
        w.put(&buf)?;
    }
    for s in slots.iter().step_by(STRIDE) {
        w.put(&prefix(&s.id.0).to_be_bytes())?;
    }
    let mut filter = vec![0u32; blocks * 8];
    for s in slots {
        let (block, bits) = filter_bits(&s.id, blocks);
        for (word, bit) in filter[block * 8..block * 8 + 8].iter_mut().zip(bits) {
            *word |= bit;
        }
    }
    for word in &filter {
        w.put(&word.to_le_bytes())?;
    }
    let mac = *w.mac.finalize().as_bytes();
    w.out.write_all(&mac)?;
    w.out.flush()?;
    Ok(())
}

/// Opens the table at `path` if it is there, authentic under `key` and of repository `repo_id`;
/// `None` otherwise (the caller rebuilds it).
pub fn open(path: &Path, key: &[u8; 32], repo_id: &[u8; 32]) -> Option<Opened> {
    let mut file = File::open(path).ok()?;
    let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
    let body = len.checked_sub(MAC_LEN)?;
    if body < HEADER {
        return None;
    }
    // The MAC is checked by reading, not through the mapping: pages read here go to the page
    // cache, not into this process's resident memory.
    let mut mac = blake3::Hasher::new_keyed(key);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = body;
    while left > 0 {
        let n = left.min(buf.len());
        file.read_exact(&mut buf[..n]).ok()?;
        mac.update(&buf[..n]);
        left -= n;
    }
    let mut stored = [0u8; MAC_LEN];
    file.read_exact(&mut stored).ok()?;
    if *mac.finalize().as_bytes() != stored {
        return None;
    }
    let map = map_file(&file)?;
    parse(map, body, repo_id)
}

#[allow(
    unsafe_code,
    reason = "mapping a file is unsafe because another process could change it while mapped"
)]
fn map_file(file: &File) -> Option<Mmap> {
    // SAFETY: tables are private to the user (mode 0600 in a 0700 directory) and never changed
    // in place: a new table is written to a temporary file and renamed over the old one, which
    // leaves this mapping on the old file's data.
    unsafe { Mmap::map(file) }.ok()
}

fn parse(map: Mmap, body: usize, repo_id: &[u8; 32]) -> Option<Opened> {
    let b = &map[..body];
    if &b[..8] != MAGIC || b[8..40] != repo_id[..] {
        return None;
    }
    let u64_at = |at: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(a)
    };
    let generation = u64_at(40);
    let count = usize::try_from(u64_at(48)).ok()?;
    let [npacks, nsegments, nsuperseded, blocks] =
        [56, 60, 64, 68].map(|at| u32_at(b, at) as usize);
    let ids_end = HEADER.checked_add(nsegments.checked_add(nsuperseded)?.checked_mul(32)?)?;
    let head = ids_end.checked_add(npacks.checked_mul(33)?)?;
    let slots = head.next_multiple_of(8);
    let fences = slots.checked_add(count.checked_mul(SLOT_LEN)?)?;
    let filter = fences.checked_add(count.div_ceil(STRIDE) * 8)?;
    if blocks != blocks_for(count) || filter.checked_add(blocks.checked_mul(BLOCK)?)? != body {
        return None;
    }
    let id_list = |from: usize, n: usize| -> Vec<[u8; 32]> {
        (0..n)
            .map(|i| {
                let mut a = [0u8; 32];
                a.copy_from_slice(&b[from + 32 * i..from + 32 * i + 32]);
                a
            })
            .collect()
    };
    let meta = TableMeta {
        segments: id_list(HEADER, nsegments),
        superseded: id_list(HEADER + 32 * nsegments, nsuperseded),
        generation,
    };
    let packs = (0..npacks)
        .map(|i| {
            let at = ids_end + 33 * i;
            let mut a = [0u8; 32];
            a.copy_from_slice(&b[at..at + 32]);
            (PackId(a), b[at + 32] != 0)
        })
        .collect();
    let table = Table {
        map,
        count,
        slots,
        fences,
        filter,
        blocks,
    };
    Some(Opened { table, packs, meta })
}

impl Table {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn record(&self, i: usize) -> &[u8] {
        let at = self.slots + i * SLOT_LEN;
        &self.map[at..at + SLOT_LEN]
    }

    pub(crate) fn slot(&self, i: usize) -> Slot {
        decode_slot(self.record(i))
    }

    fn fence(&self, i: usize) -> u64 {
        prefix(&self.map[self.fences + 8 * i..])
    }

    fn may_contain(&self, id: &ChunkId) -> bool {
        let (block, bits) = filter_bits(id, self.blocks);
        let at = self.filter + block * BLOCK;
        bits.iter()
            .enumerate()
            .all(|(w, bit)| u32_at(&self.map, at + 4 * w) & bit != 0)
    }

    /// The slot of `id`, if the table has it.
    pub(crate) fn find(&self, id: &ChunkId) -> Option<Slot> {
        if self.count == 0 || !self.may_contain(id) {
            return None;
        }
        let key = prefix(&id.0);
        let fences = self.count.div_ceil(STRIDE);
        // Slots whose id starts with `key` lie after the last fence below it and before the
        // first fence above it.
        let (mut lo, mut hi) = (0, fences);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.fence(mid) < key {
                lo = mid + 1
            } else {
                hi = mid
            }
        }
        let start = lo.saturating_sub(1) * STRIDE;
        let mut end_fence = lo;
        while end_fence < fences && self.fence(end_fence) <= key {
            end_fence += 1;
        }
        let (mut lo, mut hi) = (start, (end_fence * STRIDE).min(self.count));
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.record(mid)[..32].cmp(&id.0[..]) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.slot(mid)),
            }
        }
        None
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

fn create_private_file(path: &Path) -> std::io::Result<File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(i: u64) -> Slot {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&(i * 7919).to_be_bytes());
        id[8..16].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
        Slot {
            id: ChunkId(id),
            pack: (i % 3) as u32,
            offset: i as u32,
            len: 10,
            raw_len: 20,
        }
    }

    #[test]
    fn finds_every_slot_and_rejects_others_and_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_file(dir.path(), &[5; 32]);
        let key = [9; 32];
        let slots: Vec<Slot> = (0..1000).map(slot).collect();
        let packs = vec![
            (PackId([1; 32]), true),
            (PackId([2; 32]), false),
            (PackId([3; 32]), true),
        ];
        let meta = TableMeta {
            segments: vec![[4; 32], [6; 32]],
            superseded: vec![[7; 32]],
            generation: 12,
        };
        write(&path, &key, &[5; 32], &meta, &packs, &slots).unwrap();
        let opened = open(&path, &key, &[5; 32]).unwrap();
        assert_eq!(opened.meta, meta);
        assert_eq!(opened.packs, packs);
        assert_eq!(opened.table.len(), 1000);
        for s in &slots {
            let found = opened.table.find(&s.id).unwrap();
            assert_eq!(
                (found.id, found.offset, found.pack),
                (s.id, s.offset, s.pack)
            );
        }
        let absent = (1000..3000).filter(|i| opened.table.find(&slot(*i).id).is_some());
        assert_eq!(absent.count(), 0);
        assert!(open(&path, &[8; 32], &[5; 32]).is_none(), "another key");
        assert!(open(&path, &key, &[6; 32]).is_none(), "another repository");
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER + 200] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(open(&path, &key, &[5; 32]).is_none(), "altered");
    }

    #[test]
    fn ids_sharing_a_prefix_across_runs_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        // 200 ids with one 8-byte prefix span several runs of 64.
        let mut slots: Vec<Slot> = (0..200)
            .map(|i| {
                let mut s = slot(i);
                s.id.0[..8].copy_from_slice(&[0xab; 8]);
                s.id.0[31] = i as u8;
                s.id.0[30] = (i >> 8) as u8;
                s
            })
            .chain((0..100).map(slot))
            .collect();
        slots.sort_by_key(|s| s.id.0);
        write(
            &path,
            &[1; 32],
            &[2; 32],
            &TableMeta::default(),
            &[],
            &slots,
        )
        .unwrap();
        let t = open(&path, &[1; 32], &[2; 32]).unwrap().table;
        for s in &slots {
            assert_eq!(t.find(&s.id).map(|f| f.offset), Some(s.offset));
        }
        let empty = dir.path().join("e");
        write(&empty, &[1; 32], &[2; 32], &TableMeta::default(), &[], &[]).unwrap();
        assert!(
            open(&empty, &[1; 32], &[2; 32])
                .unwrap()
                .table
                .find(&slots[0].id)
                .is_none()
        );
    }
}
