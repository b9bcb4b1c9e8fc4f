//! Server-side repack: a pack built on the storage host from byte ranges of packs it already
//! holds, so that a compaction sends a header, a sealed trailer and a list of ranges instead of
//! downloading and uploading every blob it keeps (docs/server.md, `?repack`). The host needs no
//! keys: a pack's id is the BLAKE3 of its bytes, so it checks every source pack against its id
//! before copying from it (damage is never copied), and names the new pack by its own hash.

use serde::{Deserialize, Serialize};
use vger_types::{Result, VgerError};

use crate::{Backend, delete_if_present, temp_key};

/// `length` bytes at `offset` of the pack stored at `pack` (a `packs/<xx>/<id>` key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRange {
    pub pack: String,
    pub offset: u64,
    pub length: u64,
}

/// What [`assemble_here`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    pub key: String,
    pub size: u64,
    /// False when a pack with the same bytes was there already.
    pub created: bool,
}

/// The size of the pack `head ‖ ranges ‖ tail`.
pub fn assembled_size(head: &[u8], ranges: &[SourceRange], tail: &[u8]) -> u64 {
    let body: u64 = ranges.iter().map(|r| r.length).sum();
    head.len() as u64 + body + tail.len() as u64
}

/// The pack id a `packs/<xx>/<64 hex>` key names.
pub fn pack_key_id(key: &str) -> Option<[u8; 32]> {
    let mut parts = key.split('/');
    let (Some("packs"), Some(shard), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let mut out = [0u8; 32];
    let lower = id
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (lower && id.get(..2) == Some(shard) && hex::decode_to_slice(id, &mut out).is_ok())
        .then_some(out)
}

/// The key of the pack whose bytes hash to `id`.
pub fn pack_key(id: &[u8; 32]) -> String {
    let h = hex::encode(id);
    format!("packs/{}/{h}", &h[..2])
}

/// Builds the pack `head ‖ ranges ‖ tail` in `backend` from packs it holds, checking each source
/// pack against its id first; stores it create-only under the key of its hash.
pub fn assemble_here(
    backend: &dyn Backend,
    head: &[u8],
    ranges: &[SourceRange],
    tail: &[u8],
) -> Result<Assembled> {
    for r in ranges {
        if pack_key_id(&r.pack).is_none() {
            return Err(VgerError::invalid(format!(
                "{} is not a pack key (packs/<xx>/<64 hex>)",
                r.pack
            )));
        }
    }
    let mut token = [0u8; 16];
    getrandom::fill(&mut token).map_err(|e| VgerError::Internal(e.to_string()))?;
    let mut out = backend.spool("packs", &token)?;
    let written = (|| {
        let mut hasher = blake3::Hasher::new();
        let mut put = |bytes: &[u8]| -> Result<()> {
            hasher.update(bytes);
            out.write(bytes)
        };
        put(head)?;
        // One source pack in memory at a time: ranges of one pack come together.
        let mut source: Option<(&str, Vec<u8>)> = None;
        for r in ranges {
            if source.as_ref().is_none_or(|(k, _)| *k != r.pack) {
                let bytes = backend.get(&r.pack)?;
                let id = pack_key_id(&r.pack).unwrap_or_default();
                if blake3::hash(&bytes).as_bytes() != &id {
                    return Err(VgerError::corrupt(
                        &r.pack,
                        "its bytes do not hash to its id; nothing is copied from it",
                    ));
                }
                source = Some((&r.pack, bytes));
            }
            let bytes = source.as_ref().map(|(_, b)| b.as_slice()).unwrap_or(&[]);
            let chunk = usize::try_from(r.offset)
                .ok()
                .zip(usize::try_from(r.length).ok())
                .and_then(|(o, l)| bytes.get(o..o.checked_add(l)?))
                .ok_or_else(|| {
                    VgerError::invalid(format!(
                        "bytes {}..+{} are outside {} ({} bytes)",
                        r.offset,
                        r.length,
                        r.pack,
                        bytes.len()
                    ))
                })?;
            put(chunk)?;
        }
        put(tail)?;
        Ok(*hasher.finalize().as_bytes())
    })();
    let id = match written {
        Ok(id) => id,
        Err(e) => {
            let _ = delete_if_present(backend, &temp_key("packs", &token));
            return Err(e);
        }
    };
    let key = pack_key(&id);
    let size = out.len();
    let created = match backend.put_spooled(&key, out) {
        Ok(()) => true,
        // Same bytes, same id: that pack is there already.
        Err(VgerError::AlreadyExists { .. }) => false,
        Err(e) => return Err(e),
    };
    Ok(Assembled { key, size, created })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;
    use crate::LocalBackend;

    fn store_pack(b: &LocalBackend, bytes: &[u8]) -> String {
        let key = pack_key(blake3::hash(bytes).as_bytes());
        b.put_new(&key, bytes).unwrap();
        key
    }

    #[test]
    fn a_pack_is_built_from_ranges_of_sound_packs_only() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path(), "t");
        b.create().unwrap();
        let p1 = store_pack(&b, b"0123456789");
        let p2 = store_pack(&b, b"abcdefghij");
        let ranges = [
            SourceRange {
                pack: p1.clone(),
                offset: 2,
                length: 3,
            },
            SourceRange {
                pack: p2.clone(),
                offset: 0,
                length: 2,
            },
            SourceRange {
                pack: p1.clone(),
                offset: 9,
                length: 1,
            },
        ];
        let done = assemble_here(&b, b"H", &ranges, b"T").unwrap();
        let want = b"H234ab9T";
        assert_eq!(done.key, pack_key(blake3::hash(want).as_bytes()));
        assert_eq!((done.size, done.created), (8, true));
        assert_eq!(assembled_size(b"H", &ranges, b"T"), 8);
        assert_eq!(b.get(&done.key).unwrap(), want);
        // Again: the same pack, not created twice.
        assert!(!assemble_here(&b, b"H", &ranges, b"T").unwrap().created);

        // Out of bounds, a non-pack key, a missing pack, a damaged pack: refused, nothing left.
        let before = b.list("packs").unwrap();
        let bad = |pack: &str, offset, length| {
            let r = [SourceRange {
                pack: pack.to_string(),
                offset,
                length,
            }];
            assemble_here(&b, b"H", &r, b"T").unwrap_err().code()
        };
        use vger_types::ErrorCode as C;
        assert_eq!(bad(&p1, 8, 3), C::InvalidArgument);
        assert_eq!(bad(&p1, u64::MAX, 2), C::InvalidArgument);
        assert_eq!(bad("config", 0, 1), C::InvalidArgument);
        assert_eq!(
            bad(&p1.replace("packs/", "packs/../"), 0, 1),
            C::InvalidArgument
        );
        assert_eq!(bad(&pack_key(&[7; 32]), 0, 1), C::ObjectMissing);
        std::fs::write(dir.path().join(&p2), b"abcdefghiJ").unwrap();
        assert_eq!(bad(&p2, 0, 1), C::Corrupt);
        assert_eq!(b.list("packs").unwrap(), before);
    }
}
