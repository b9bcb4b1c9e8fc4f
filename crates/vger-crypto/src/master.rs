use vger_types::ChunkId;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// What a blob holds; part of its id derivation and of its AEAD associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobKind {
    Data = 1,
    Tree = 2,
}

impl BlobKind {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(BlobKind::Data),
            2 => Some(BlobKind::Tree),
            _ => None,
        }
    }
}

pub const MASTER_KEY_LEN: usize = 96;

/// The repository master key: three independent 32-byte keys from OS randomness, never derived
/// from the passphrase. `enc` seals objects, `id` keys chunk ids, `chunker` keys the gear table.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    enc: [u8; 32],
    id: [u8; 32],
    chunker: [u8; 32],
    #[zeroize(skip)]
    tree_id: [u8; 32],
}

/// The id and chunker keys of a master key: a repository made with them (and the same chunker
/// parameters) names and cuts data as the original does, so `copy` between the two moves only
/// missing blobs. Its encryption key stays its own.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct IdKeys {
    id: [u8; 32],
    chunker: [u8; 32],
}

impl std::fmt::Debug for IdKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdKeys(..)")
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        Self::from_bytes(&crate::random_bytes::<MASTER_KEY_LEN>())
    }

    /// A new master key with a fresh encryption key and the given id and chunker keys.
    pub fn generate_with(ids: &IdKeys) -> Self {
        let mut b = zeroize::Zeroizing::new(crate::random_bytes::<MASTER_KEY_LEN>());
        b[32..64].copy_from_slice(&ids.id);
        b[64..].copy_from_slice(&ids.chunker);
        Self::from_bytes(&b)
    }

    pub fn id_keys(&self) -> IdKeys {
        IdKeys {
            id: self.id,
            chunker: self.chunker,
        }
    }

    pub fn from_bytes(b: &[u8; MASTER_KEY_LEN]) -> Self {
        let mut enc = [0u8; 32];
        let mut id = [0u8; 32];
        let mut chunker = [0u8; 32];
        enc.copy_from_slice(&b[..32]);
        id.copy_from_slice(&b[32..64]);
        chunker.copy_from_slice(&b[64..]);
        let tree_id = blake3::derive_key("vger 2026-11 tree id key v1", &id);
        Self {
            enc,
            id,
            chunker,
            tree_id,
        }
    }

    pub fn to_bytes(&self) -> zeroize::Zeroizing<[u8; MASTER_KEY_LEN]> {
        let mut out = zeroize::Zeroizing::new([0u8; MASTER_KEY_LEN]);
        out[..32].copy_from_slice(&self.enc);
        out[32..64].copy_from_slice(&self.id);
        out[64..].copy_from_slice(&self.chunker);
        out
    }

    pub(crate) fn enc_key(&self) -> &[u8; 32] {
        &self.enc
    }

    /// Keyed BLAKE3 of the plaintext; data and tree blobs use separate keys so they never collide.
    pub fn blob_id(&self, kind: BlobKind, plaintext: &[u8]) -> ChunkId {
        let key = match kind {
            BlobKind::Data => &self.id,
            BlobKind::Tree => &self.tree_id,
        };
        ChunkId(*blake3::keyed_hash(key, plaintext).as_bytes())
    }

    /// A key for local caches (the file cache's MAC): derived from the id key, never stored.
    pub fn cache_key(&self) -> [u8; 32] {
        blake3::derive_key("vger 2026-11 local cache mac key v1", &self.id)
    }

    /// The 256-entry FastCDC gear table derived from the chunker key, so that cut points (and so
    /// chunk sizes) do not fingerprint content to someone who lacks the key.
    pub fn gear_table(&self) -> [u64; 256] {
        let mut hasher = blake3::Hasher::new_derive_key("vger 2026-11 fastcdc gear table v1");
        hasher.update(&self.chunker);
        let mut bytes = [0u8; 256 * 8];
        hasher.finalize_xof().fill(&mut bytes);
        let mut table = [0u64; 256];
        for (slot, chunk) in table.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *slot = u64::from_le_bytes(b);
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> MasterKey {
        let mut b = [0u8; MASTER_KEY_LEN];
        for (i, v) in b.iter_mut().enumerate() {
            *v = i as u8;
        }
        MasterKey::from_bytes(&b)
    }

    #[test]
    fn golden_ids_and_gear() {
        let k = fixed();
        assert_eq!(
            k.blob_id(BlobKind::Data, b"hello vger").to_hex(),
            hex::encode(blake3::keyed_hash(&k.id, b"hello vger").as_bytes())
        );
        assert_ne!(
            k.blob_id(BlobKind::Data, b"x"),
            k.blob_id(BlobKind::Tree, b"x")
        );
        let g = k.gear_table();
        let again = fixed().gear_table();
        assert_eq!(g, again);
        assert_ne!(g, MasterKey::generate().gear_table());
    }
}
