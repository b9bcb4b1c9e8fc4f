//! The `config` object: unencrypted, written once at init. Layout (little-endian):
//!
//! ```text
//! [0..8]   magic "VGERREPO"
//! [8..12]  format version (1)
//! [12..44] repository id (32 random bytes)
//! [44]     algorithm (0 none, 1 AES-256-GCM, 2 ChaCha20-Poly1305)
//! [45..57] chunker min / avg / max size (u32 each)
//! [57..65] creation time, ns since the Unix epoch (i64)
//! [65..97] BLAKE3 of bytes 0..65
//! ```

use vger_crypto::Algorithm;
use vger_types::codec::{Reader, Writer};
use vger_types::{Result, VgerError};

/// Format 2: envelopes without a cleartext header, one derived key per object (docs/format.md §7).
/// Format 1 repositories are refused as older (nothing was released with it).
pub const FORMAT_VERSION: u32 = 2;
const MAGIC: &[u8; 8] = b"VGERREPO";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkerParams {
    pub min_size: u32,
    pub avg_size: u32,
    pub max_size: u32,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        Self {
            min_size: 512 * 1024,
            avg_size: 1024 * 1024,
            max_size: 8 * 1024 * 1024,
        }
    }
}

impl ChunkerParams {
    /// FastCDC bounds: min 64 B..1 MiB, avg 256 B..4 MiB, max 1 KiB..16 MiB, min <= avg <= max.
    pub fn check(&self) -> Result<()> {
        let ok = (64..=1 << 20).contains(&self.min_size)
            && (256..=4 << 20).contains(&self.avg_size)
            && (1024..=16 << 20).contains(&self.max_size)
            && self.min_size <= self.avg_size
            && self.avg_size <= self.max_size;
        if ok {
            Ok(())
        } else {
            Err(VgerError::invalid(format!(
                "chunker sizes {}/{}/{} are out of range: need 64 B <= min <= avg <= max, min <= 1 MiB, \
                 256 B <= avg <= 4 MiB, 1 KiB <= max <= 16 MiB",
                self.min_size, self.avg_size, self.max_size
            )))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoConfig {
    pub id: [u8; 32],
    pub algorithm: Algorithm,
    pub chunker: ChunkerParams,
    pub created_ns: i64,
}

impl RepoConfig {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(97);
        w.raw(MAGIC)
            .u32(FORMAT_VERSION)
            .raw(&self.id)
            .u8(self.algorithm as u8);
        w.u32(self.chunker.min_size)
            .u32(self.chunker.avg_size)
            .u32(self.chunker.max_size);
        w.i64(self.created_ns);
        let mut out = w.finish();
        let sum = blake3::hash(&out);
        out.extend_from_slice(sum.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let what = "repository config";
        let mut r = Reader::new(bytes, what);
        if r.take(8)? != MAGIC {
            return Err(VgerError::corrupt(
                what,
                "not a vger repository config (bad magic)",
            ));
        }
        let version = r.u32()?;
        if version > FORMAT_VERSION {
            return Err(VgerError::NewerFormat {
                object: what.into(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        // Format 1 had this same 97-byte layout: a config that checks out under it is older, one
        // that does not is damaged (a flipped version byte must not pass for an old repository).
        if bytes.len() != 97 || blake3::hash(&bytes[..65]).as_bytes() != &bytes[65..] {
            return Err(VgerError::corrupt(what, "checksum mismatch"));
        }
        if version < FORMAT_VERSION {
            return Err(VgerError::OlderFormat {
                object: what.into(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let id = r.array()?;
        let algorithm = Algorithm::from_u8(r.u8()?)
            .ok_or_else(|| VgerError::corrupt(what, "unknown encryption algorithm"))?;
        let chunker = ChunkerParams {
            min_size: r.u32()?,
            avg_size: r.u32()?,
            max_size: r.u32()?,
        };
        chunker
            .check()
            .map_err(|e| VgerError::corrupt(what, e.to_string()))?;
        Ok(Self {
            id,
            algorithm,
            chunker,
            created_ns: r.i64()?,
        })
    }
}
