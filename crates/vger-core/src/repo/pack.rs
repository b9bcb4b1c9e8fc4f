//! Packs: many sealed blobs in one object, so the storage host sees neither chunk boundaries nor
//! chunk sizes: an envelope (format 2) is a random nonce, ciphertext and tag, so the body is one
//! run of random-looking bytes with nothing to find in it. Layout:
//!
//! ```text
//! [0..8]   magic "VGERPACK"
//! [8]      pack format version (2)
//! [9..25]  salt (16 random bytes; binds the trailer to this pack)
//! [25..t]  blobs: sealed envelopes, back to back
//! [t..e]   trailer: sealed (kind PackTrailer, id = salt) table of the blobs
//! [e..e+4] trailer length (u32 LE)
//! ```
//! Trailer plaintext: `u8 version (2) ‖ u32 count ‖ count × (chunk id 32 ‖ kind u8 ‖ offset u32 ‖
//! length u32 ‖ raw length u32)`. The pack id is the unkeyed BLAKE3 of all the bytes; the object
//! is stored at `packs/<first 2 hex>/<64 hex>`.

use vger_crypto::{BlobKind, Crypter, random_bytes};
use vger_storage::Spooled;
use vger_types::codec::{Reader, Writer};
use vger_types::{ChunkId, PackId, Result, VgerError};

use super::context::{ObjectKind, context};

pub const MAGIC: &[u8; 8] = b"VGERPACK";
pub const VERSION: u8 = 2;
pub const HEADER_LEN: usize = 25;
/// Packs are closed once they reach this size (backup, compact and repair alike).
pub const PACK_TARGET: usize = 32 << 20;
const ENTRY_LEN: usize = 32 + 1 + 4 + 4 + 4;

pub fn key(id: &PackId) -> String {
    let h = id.to_hex();
    format!("packs/{}/{}", &h[..2], h)
}

/// Whether `key` names a pack (its last component is a pack id) stored somewhere else than
/// [`key`] of that id, e.g. moved into the wrong subdirectory.
pub fn is_misplaced(stored: &str) -> bool {
    stored
        .rsplit('/')
        .next()
        .and_then(ChunkId::from_hex)
        .is_some_and(|c| key(&PackId(c.0)) != stored)
}

/// One blob's place in a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobEntry {
    pub id: ChunkId,
    pub kind: BlobKind,
    pub offset: u32,
    pub len: u32,
    pub raw_len: u32,
}

/// Builds one pack in memory (compact and repair): a [`PackStream`] over a memory spool, whose
/// writes cannot fail.
pub struct PackWriter(PackStream);

impl Default for PackWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PackWriter {
    pub fn new() -> Self {
        Self(PackStream::new(Spooled::memory()).expect("writing to memory does not fail"))
    }

    pub fn add(&mut self, id: ChunkId, kind: BlobKind, sealed: &[u8], raw_len: u32) {
        self.0
            .add(id, kind, sealed, raw_len)
            .expect("writing to memory does not fail");
    }

    pub fn size(&self) -> usize {
        self.0.size()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Seals the trailer and returns the pack id, its bytes, and its blobs.
    pub fn finish(
        self,
        crypter: &Crypter,
        repo_id: &[u8; 32],
    ) -> (PackId, Vec<u8>, Vec<BlobEntry>) {
        let (id, out, entries) = self
            .0
            .finish(crypter, repo_id)
            .expect("writing to memory does not fail");
        let bytes = out.into_bytes().expect("a memory spool is its bytes");
        (id, bytes, entries)
    }
}

/// The sealed trailer followed by its length: the end of a pack.
fn trailer(
    entries: &[BlobEntry],
    salt: &[u8; 16],
    crypter: &Crypter,
    repo_id: &[u8; 32],
) -> Vec<u8> {
    let mut sealed = crypter.seal(
        &context(ObjectKind::PackTrailer, repo_id, salt),
        &encode_table(entries),
    );
    let len = sealed.len() as u32;
    sealed.extend_from_slice(&len.to_le_bytes());
    sealed
}

fn header(salt: &[u8; 16]) -> [u8; HEADER_LEN] {
    let mut head = [0u8; HEADER_LEN];
    head[..8].copy_from_slice(MAGIC);
    head[8] = VERSION;
    head[9..].copy_from_slice(salt);
    head
}

/// A pack whose blobs the storage server copies from packs it holds (server-side repack): this
/// side knows only each blob's length, so it makes the header and the sealed trailer, and the
/// server puts the blobs, in the order added, between them.
pub struct PackLayout {
    salt: [u8; 16],
    entries: Vec<BlobEntry>,
    size: usize,
}

impl Default for PackLayout {
    fn default() -> Self {
        Self::new()
    }
}

impl PackLayout {
    pub fn new() -> Self {
        Self {
            salt: random_bytes::<16>(),
            entries: Vec::new(),
            size: HEADER_LEN,
        }
    }

    pub fn add(&mut self, id: ChunkId, kind: BlobKind, len: u32, raw_len: u32) {
        self.entries.push(BlobEntry {
            id,
            kind,
            offset: self.size as u32,
            len,
            raw_len,
        });
        self.size += len as usize;
    }

    /// The header and the blobs so far.
    pub fn size(&self) -> usize {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The header, the sealed trailer (with its length), and the blobs.
    pub fn finish(
        self,
        crypter: &Crypter,
        repo_id: &[u8; 32],
    ) -> (Vec<u8>, Vec<u8>, Vec<BlobEntry>) {
        let tail = trailer(&self.entries, &self.salt, crypter, repo_id);
        (header(&self.salt).to_vec(), tail, self.entries)
    }
}

/// Builds one pack into a backend spool (for the local backend a temporary file in `packs/`,
/// so the pack is never held in memory), hashing as it goes.
pub struct PackStream {
    out: Spooled,
    hasher: blake3::Hasher,
    salt: [u8; 16],
    entries: Vec<BlobEntry>,
}

impl PackStream {
    pub fn new(out: Spooled) -> Result<Self> {
        let mut s = Self {
            out,
            hasher: blake3::Hasher::new(),
            salt: random_bytes::<16>(),
            entries: Vec::new(),
        };
        let head = header(&s.salt);
        s.put(&head)?;
        Ok(s)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.out.write(bytes)
    }

    pub fn add(&mut self, id: ChunkId, kind: BlobKind, sealed: &[u8], raw_len: u32) -> Result<()> {
        self.entries.push(BlobEntry {
            id,
            kind,
            offset: self.out.len() as u32,
            len: sealed.len() as u32,
            raw_len,
        });
        self.put(sealed)
    }

    pub fn size(&self) -> usize {
        self.out.len() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes the sealed trailer; returns the pack id, the spooled bytes, and the blobs.
    pub fn finish(
        mut self,
        crypter: &Crypter,
        repo_id: &[u8; 32],
    ) -> Result<(PackId, Spooled, Vec<BlobEntry>)> {
        let end = trailer(&self.entries, &self.salt, crypter, repo_id);
        self.put(&end)?;
        let id = PackId(*self.hasher.finalize().as_bytes());
        Ok((id, self.out, self.entries))
    }
}

impl BlobEntry {
    /// Encoded size: chunk id 32 ‖ kind u8 ‖ offset u32 ‖ length u32 ‖ raw length u32.
    pub const LEN: usize = ENTRY_LEN;

    /// The same 45 bytes in a pack trailer and in an index segment.
    pub fn encode(&self, w: &mut Writer) {
        w.raw(&self.id.0)
            .u8(self.kind as u8)
            .u32(self.offset)
            .u32(self.len)
            .u32(self.raw_len);
    }

    pub fn decode(r: &mut Reader<'_>, what: &str) -> Result<Self> {
        let id = ChunkId(r.array()?);
        let kind = BlobKind::from_u8(r.u8()?)
            .ok_or_else(|| VgerError::corrupt(what, "unknown blob kind"))?;
        Ok(BlobEntry {
            id,
            kind,
            offset: r.u32()?,
            len: r.u32()?,
            raw_len: r.u32()?,
        })
    }
}

/// The trailer plaintext (the blob table).
pub fn encode_table(entries: &[BlobEntry]) -> Vec<u8> {
    let mut w = Writer::with_capacity(5 + entries.len() * ENTRY_LEN);
    w.u8(VERSION).u32(entries.len() as u32);
    for e in entries {
        e.encode(&mut w);
    }
    w.finish()
}

/// Reads a whole pack: checks its id, opens its trailer, and returns its blob table.
pub fn read_table(
    bytes: &[u8],
    id: &PackId,
    crypter: &Crypter,
    repo_id: &[u8; 32],
) -> Result<Vec<BlobEntry>> {
    verify_id(bytes, id)?;
    parse_table(bytes, id, crypter, repo_id)
}

/// Whether a pack's bytes hash to its id.
pub fn verify_id(bytes: &[u8], id: &PackId) -> Result<()> {
    if blake3::hash(bytes).as_bytes() != &id.0 {
        return Err(VgerError::corrupt(
            format!("pack {}", id.to_hex()),
            "content does not match its id",
        ));
    }
    Ok(())
}

/// Opens a pack's trailer without checking the id (to salvage blobs from a damaged pack: each
/// blob is still authenticated on its own).
pub fn parse_table(
    bytes: &[u8],
    id: &PackId,
    crypter: &Crypter,
    repo_id: &[u8; 32],
) -> Result<Vec<BlobEntry>> {
    let what = format!("pack {}", id.to_hex());
    if bytes.len() < HEADER_LEN + 4 || &bytes[..8] != MAGIC {
        return Err(VgerError::corrupt(&what, "bad header"));
    }
    if bytes[8] > VERSION {
        return Err(VgerError::NewerFormat {
            object: what,
            found: bytes[8].into(),
            supported: VERSION.into(),
        });
    }
    if bytes[8] < VERSION {
        return Err(VgerError::OlderFormat {
            object: what,
            found: bytes[8].into(),
            supported: VERSION.into(),
        });
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(&bytes[bytes.len() - 4..]);
    let tlen = u32::from_le_bytes(len) as usize;
    let tstart = (bytes.len() - 4)
        .checked_sub(tlen)
        .filter(|&s| s >= HEADER_LEN)
        .ok_or_else(|| VgerError::corrupt(&what, "bad trailer length"))?;
    let salt = &bytes[9..25];
    let table = crypter
        .open(
            &context(ObjectKind::PackTrailer, repo_id, salt),
            &bytes[tstart..bytes.len() - 4],
        )
        .ok_or_else(|| VgerError::corrupt(&what, "trailer failed authentication"))?;
    let mut r = Reader::new(&table, &what);
    let v = r.u8()?;
    if v > VERSION {
        return Err(VgerError::NewerFormat {
            object: what.clone(),
            found: v.into(),
            supported: VERSION.into(),
        });
    }
    let n = r.count(ENTRY_LEN)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let e = BlobEntry::decode(&mut r, &what)?;
        if (e.offset as usize) < HEADER_LEN || e.offset as usize + e.len as usize > tstart {
            return Err(VgerError::corrupt(&what, "blob outside the pack body"));
        }
        out.push(e);
    }
    r.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vger_crypto::{Algorithm, MasterKey};

    #[test]
    fn a_pack_is_header_blobs_and_sealed_table_and_its_id_is_its_hash() {
        let master = MasterKey::generate();
        let crypter = Crypter::new(Algorithm::Aes256Gcm, &master);
        let repo_id = [7u8; 32];
        let mut w = PackWriter::new();
        let blobs: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 1000 + usize::from(i)]).collect();
        for (i, blob) in blobs.iter().enumerate() {
            w.add(ChunkId([i as u8; 32]), BlobKind::Data, blob, 7);
        }
        let body = w.size();
        let (id, bytes, entries) = w.finish(&crypter, &repo_id);
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(bytes[8], VERSION);
        assert_eq!(body, HEADER_LEN + blobs.iter().map(Vec::len).sum::<usize>());
        for (e, blob) in entries.iter().zip(&blobs) {
            let at = e.offset as usize;
            assert_eq!(&bytes[at..at + e.len as usize], blob.as_slice());
        }
        assert_eq!(id, PackId(*blake3::hash(&bytes).as_bytes()));
        assert_eq!(
            read_table(&bytes, &id, &crypter, &repo_id).unwrap(),
            entries
        );
    }
}
