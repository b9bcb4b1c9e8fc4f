//! Snapshot objects: `snapshots/<64 hex random id>`, sealed with kind Snapshot and the id.
//! A snapshot is the commit point of a backup: it is written last, after its packs and index
//! segment, and only ever created, never changed.
//!
//! Plaintext: `u32 format version (1) ‖ id 32 ‖ start ns i64 ‖ end ns i64 ‖ hostname ‖ username ‖
//! label ‖ u32 path count ‖ paths (u32 length + bytes each) ‖ tree root 32 ‖ 9 × u64 stats
//! (files, dirs, symlinks, others, bytes, new chunks, new bytes, stored bytes, skipped) ‖
//! u8 flags (bit 0: partial) ‖ u16 extension count ‖ extensions (key u16 ‖ value bytes, keys
//! strictly ascending; no key is defined yet, so unknown optional keys are skipped and an unknown
//! must-understand key hides the snapshot as written by a newer vger)`.

use vger_crypto::Crypter;
use vger_types::codec::{Reader, Writer};
use vger_types::{ChunkId, Result, SnapshotId, VgerError};

use super::context::{ObjectKind, context};

pub const FORMAT_VERSION: u32 = 1;
const MAX_TEXT: usize = 64 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub others: u64,
    pub bytes: u64,
    pub new_chunks: u64,
    pub new_bytes: u64,
    pub stored_bytes: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The format version it was written with (always [`FORMAT_VERSION`] when writing).
    pub format_version: u32,
    pub id: SnapshotId,
    pub start_ns: i64,
    pub end_ns: i64,
    pub hostname: String,
    pub username: String,
    pub label: String,
    pub paths: Vec<Vec<u8>>,
    pub tree: ChunkId,
    pub stats: SnapshotStats,
    pub partial: bool,
}

pub fn key(id: &SnapshotId) -> String {
    format!("snapshots/{}", id.to_hex())
}

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(FORMAT_VERSION)
            .raw(&self.id.0)
            .i64(self.start_ns)
            .i64(self.end_ns);
        w.str(&self.hostname).str(&self.username).str(&self.label);
        w.u32(self.paths.len() as u32);
        for p in &self.paths {
            w.bytes(p);
        }
        w.raw(&self.tree.0);
        let s = &self.stats;
        for v in [
            s.files,
            s.dirs,
            s.symlinks,
            s.others,
            s.bytes,
            s.new_chunks,
            s.new_bytes,
            s.stored_bytes,
            s.skipped,
        ] {
            w.u64(v);
        }
        w.u8(u8::from(self.partial));
        w.u16(0);
        w.finish()
    }

    pub fn decode(plain: &[u8], what: &str) -> Result<Self> {
        let mut r = Reader::new(plain, what);
        let version = r.u32()?;
        if version > FORMAT_VERSION {
            return Err(VgerError::NewerFormat {
                object: what.into(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let id = SnapshotId(r.array()?);
        let start_ns = r.i64()?;
        let end_ns = r.i64()?;
        let hostname = r.string(MAX_TEXT)?;
        let username = r.string(MAX_TEXT)?;
        let label = r.string(MAX_TEXT)?;
        let n = r.count(4)?;
        let mut paths = Vec::with_capacity(n);
        for _ in 0..n {
            paths.push(r.bytes(MAX_TEXT)?.to_vec());
        }
        let tree = ChunkId(r.array()?);
        let mut v = [0u64; 9];
        for x in v.iter_mut() {
            *x = r.u64()?;
        }
        let [
            files,
            dirs,
            symlinks,
            others,
            bytes,
            new_chunks,
            new_bytes,
            stored_bytes,
            skipped,
        ] = v;
        let partial = r.u8()? & 1 == 1;
        let n_ext = usize::from(r.u16()?);
        r.extensions(n_ext, &[])?;
        r.finish()?;
        Ok(Self {
            format_version: version,
            id,
            start_ns,
            end_ns,
            hostname,
            username,
            label,
            paths,
            tree,
            stats: SnapshotStats {
                files,
                dirs,
                symlinks,
                others,
                bytes,
                new_chunks,
                new_bytes,
                stored_bytes,
                skipped,
            },
            partial,
        })
    }

    pub fn seal(&self, crypter: &Crypter, repo_id: &[u8; 32]) -> Vec<u8> {
        crypter.seal(
            &context(ObjectKind::Snapshot, repo_id, &self.id.0),
            &self.encode(),
        )
    }

    /// Opens `snapshots/<id>`; the id inside must match the name it was stored under.
    pub fn open(
        id: &SnapshotId,
        bytes: &[u8],
        crypter: &Crypter,
        repo_id: &[u8; 32],
    ) -> Result<Self> {
        let what = format!("snapshot {}", id.to_hex());
        let plain = crypter
            .open(&context(ObjectKind::Snapshot, repo_id, &id.0), bytes)
            .ok_or_else(|| VgerError::corrupt(&what, "failed authentication"))?;
        let snap = Self::decode(&plain, &what)?;
        if snap.id != *id {
            return Err(VgerError::corrupt(
                &what,
                "id does not match the object name",
            ));
        }
        Ok(snap)
    }
}
