//! Packs: many sealed blobs in one object, so the storage host sees neither chunk boundaries nor
//! chunk sizes. Layout:
//!
//! ```text
//! [0..8]   magic "VGERPACK"
//! [8]      pack format version (1)
//! [9..25]  salt (16 random bytes; binds the trailer to this pack)
//! [25..t]  blobs: sealed envelopes, back to back
//! [t..e]   trailer: sealed (kind PackTrailer, id = salt) table of the blobs
//! [e..e+4] trailer length (u32 LE)
//! ```
//! Trailer plaintext: `u8 version (1) ‖ u32 count ‖ count × (chunk id 32 ‖ kind u8 ‖ offset u32 ‖
//! length u32 ‖ raw length u32)`. The pack id is the unkeyed BLAKE3 of all the bytes; the object
//! is stored at `packs/<first 2 hex>/<64 hex>`.

use vger_crypto::{BlobKind, Crypter, random_bytes};
use vger_types::codec::{Reader, Writer};
use vger_types::{ChunkId, PackId, Result, VgerError};

use super::context::{ObjectKind, context};

pub const MAGIC: &[u8; 8] = b"VGERPACK";
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 25;
const ENTRY_LEN: usize = 32 + 1 + 4 + 4 + 4;

pub fn key(id: &PackId) -> String {
    let h = id.to_hex();
    format!("packs/{}/{}", &h[..2], h)
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

/// Builds one pack in memory.
pub struct PackWriter {
    buf: Vec<u8>,
    salt: [u8; 16],
    entries: Vec<BlobEntry>,
}

impl Default for PackWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PackWriter {
    pub fn new() -> Self {
        let salt = random_bytes::<16>();
        let mut buf = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(MAGIC);
        buf.push(VERSION);
        buf.extend_from_slice(&salt);
        Self {
            buf,
            salt,
            entries: Vec::new(),
        }
    }

    pub fn add(&mut self, id: ChunkId, kind: BlobKind, sealed: &[u8], raw_len: u32) {
        self.entries.push(BlobEntry {
            id,
            kind,
            offset: self.buf.len() as u32,
            len: sealed.len() as u32,
            raw_len,
        });
        self.buf.extend_from_slice(sealed);
    }

    pub fn size(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Seals the trailer and returns the pack id, its bytes, and its blobs.
    pub fn finish(
        mut self,
        crypter: &Crypter,
        repo_id: &[u8; 32],
    ) -> (PackId, Vec<u8>, Vec<BlobEntry>) {
        let trailer = encode_table(&self.entries);
        let sealed = crypter.seal(
            &context(ObjectKind::PackTrailer, repo_id, &self.salt),
            &trailer,
        );
        self.buf.extend_from_slice(&sealed);
        self.buf
            .extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        let id = PackId(*blake3::hash(&self.buf).as_bytes());
        (id, self.buf, self.entries)
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
