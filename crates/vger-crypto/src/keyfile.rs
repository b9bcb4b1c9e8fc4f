//! The key file: the master key wrapped under a key-encryption key derived from the passphrase
//! with Argon2id. Layout (little-endian):
//!
//! ```text
//! [0..8]   magic "VGERKEY\0"
//! [8..10]  format version (1)
//! [10]     kdf: 0 = none (repository without encryption, key stored in the clear), 1 = Argon2id
//! [11..15] memory KiB   [15..19] iterations   [19..23] parallelism
//! [23..39] salt (16 random bytes)
//! [39..51] nonce (12 random bytes)
//! [51..55] payload length n (96, or 112 with the tag)
//! [55..55+n] payload: ChaCha20-Poly1305(KEK, nonce, master key, aad) or the key itself (kdf 0)
//! [55+n..] BLAKE3 of every preceding byte (detects damage apart from a wrong passphrase)
//! ```
//! AAD = "vger key v1" ‖ caller context (repository id ‖ BLAKE3 of the config object) ‖ bytes 0..55.

use argon2::{Algorithm as A2Alg, Argon2, Block, Params, Version};
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use rayon::prelude::*;
use vger_types::codec::{Reader, Writer};
use vger_types::{Result, VgerError};
use zeroize::{Zeroize, Zeroizing};

use crate::master::MASTER_KEY_LEN;
use crate::{MasterKey, random_bytes};

const MAGIC: &[u8; 8] = b"VGERKEY\0";
const VERSION: u16 = 1;
const HEADER: usize = 55;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// m = 64 MiB, t = 3, p = 4 for every new key.
    fn default() -> Self {
        Self {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 4,
        }
    }
}

impl KdfParams {
    /// Bounds applied to parameters read from a (possibly hostile) key file, so that opening a
    /// repository can never be made to allocate more than 4 GiB or spin for hours.
    pub fn check(&self) -> Result<()> {
        let ok = (8..=4 * 1024 * 1024).contains(&self.memory_kib)
            && (1..=64).contains(&self.iterations)
            && (1..=64).contains(&self.parallelism)
            && self.memory_kib >= 8 * self.parallelism;
        if ok {
            Ok(())
        } else {
            Err(VgerError::corrupt(
                "key file",
                format!("KDF parameters out of bounds: {self:?}"),
            ))
        }
    }

    fn derive(&self, passphrase: &[u8], salt: &[u8; 16]) -> Result<Zeroizing<[u8; 32]>> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| VgerError::invalid(format!("Argon2id parameters: {e}")))?;
        let mut out = Zeroizing::new([0u8; 32]);
        let mut memory = kdf_memory(params.block_count());
        let hashed = Argon2::new(A2Alg::Argon2id, Version::V0x13, params)
            .hash_password_into_with_memory(passphrase, salt, out.as_mut(), &mut memory);
        // The blocks are derived from the passphrase: wiped before they go back to the allocator.
        memory.par_iter_mut().for_each(Zeroize::zeroize);
        hashed.map_err(|e| VgerError::invalid(format!("Argon2id: {e}")))?;
        Ok(out)
    }
}

/// The Argon2id working memory (64 MiB by default), its pages first touched on every core.
///
/// `hash_password_into` allocates it zeroed, and for memory aligned to 64 bytes Rust's allocator
/// zeroes with one `memset`: its 16,384 page faults came one after another on one thread, 70 of the
/// unlock's 134 ms. Argon2 writes every block before it reads it, so the initial value does not
/// matter; writing it from all cores only spreads the faults.
fn kdf_memory(blocks: usize) -> Vec<Block> {
    let mut memory = Vec::new();
    (0..blocks)
        .into_par_iter()
        .map(|_| Block::default())
        .collect_into_vec(&mut memory);
    memory
}

fn aad(context: &[u8], header: &[u8]) -> Vec<u8> {
    let mut a = b"vger key v1".to_vec();
    a.extend_from_slice(context);
    a.extend_from_slice(header);
    a
}

/// Wraps `master` under `passphrase` (or stores it in the clear when `passphrase` is `None`,
/// for repositories without encryption).
pub fn wrap_master_key(
    master: &MasterKey,
    passphrase: Option<&[u8]>,
    kdf: KdfParams,
    context: &[u8],
) -> Result<Vec<u8>> {
    wrap_with(
        master,
        passphrase,
        kdf,
        context,
        random_bytes(),
        random_bytes(),
    )
}

fn wrap_with(
    master: &MasterKey,
    passphrase: Option<&[u8]>,
    kdf: KdfParams,
    context: &[u8],
    salt: [u8; 16],
    nonce: [u8; 12],
) -> Result<Vec<u8>> {
    let (kdf_id, kdf) = match passphrase {
        Some(_) => (1u8, kdf),
        None => (
            0u8,
            KdfParams {
                memory_kib: 0,
                iterations: 0,
                parallelism: 0,
            },
        ),
    };
    let payload_len = MASTER_KEY_LEN + if kdf_id == 1 { 16 } else { 0 };
    let mut w = Writer::with_capacity(HEADER + payload_len + 32);
    w.raw(MAGIC).u16(VERSION).u8(kdf_id);
    w.u32(kdf.memory_kib)
        .u32(kdf.iterations)
        .u32(kdf.parallelism);
    w.raw(&salt).raw(&nonce).u32(payload_len as u32);
    let mut out = w.finish();
    let mut payload = master.to_bytes().to_vec();
    if let Some(pass) = passphrase {
        kdf.check()?;
        let kek = kdf.derive(pass, &salt)?;
        let cipher = ChaCha20Poly1305::new(&(*kek).into());
        let tag = cipher
            .encrypt_inout_detached(
                (&nonce).into(),
                &aad(context, &out),
                payload.as_mut_slice().into(),
            )
            .map_err(|_| VgerError::invalid("key wrapping failed"))?;
        payload.extend_from_slice(&tag);
    }
    out.extend_from_slice(&payload);
    zeroize::Zeroize::zeroize(&mut payload);
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    Ok(out)
}

/// Unwraps a key file. A wrong passphrase is reported as [`VgerError::WrongPassphrase`]; damaged
/// bytes as [`VgerError::Corrupt`]; a newer key format as [`VgerError::NewerFormat`].
pub fn unwrap_master_key(
    bytes: &[u8],
    passphrase: Option<&[u8]>,
    context: &[u8],
    url: &str,
) -> Result<MasterKey> {
    let what = "key file";
    let mut r = Reader::new(bytes, what);
    if r.take(8)? != MAGIC {
        return Err(VgerError::corrupt(what, "bad magic"));
    }
    let version = r.u16()?;
    if version > VERSION {
        return Err(VgerError::NewerFormat {
            object: what.into(),
            found: version.into(),
            supported: VERSION.into(),
        });
    }
    if bytes.len() < HEADER + 32 {
        return Err(VgerError::corrupt(what, "truncated"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    if blake3::hash(body).as_bytes() != sum {
        return Err(VgerError::corrupt(what, "checksum mismatch"));
    }
    let kdf_id = r.u8()?;
    let kdf = KdfParams {
        memory_kib: r.u32()?,
        iterations: r.u32()?,
        parallelism: r.u32()?,
    };
    let salt: [u8; 16] = r.array()?;
    let nonce: [u8; 12] = r.array()?;
    let len = r.u32()? as usize;
    let mut payload = Zeroizing::new(r.take(len)?.to_vec());
    match kdf_id {
        0 if len == MASTER_KEY_LEN => {}
        1 if len == MASTER_KEY_LEN + 16 => {
            kdf.check()?;
            let pass = passphrase.ok_or(VgerError::PassphraseRequired)?;
            let kek = kdf.derive(pass, &salt)?;
            let cipher = ChaCha20Poly1305::new(&(*kek).into());
            let mut tag = [0u8; 16];
            tag.copy_from_slice(&payload[MASTER_KEY_LEN..]);
            payload.truncate(MASTER_KEY_LEN);
            cipher
                .decrypt_inout_detached(
                    (&nonce).into(),
                    &aad(context, &bytes[..HEADER]),
                    payload.as_mut_slice().into(),
                    (&tag).into(),
                )
                .map_err(|_| VgerError::WrongPassphrase { url: url.into() })?;
        }
        _ => return Err(VgerError::corrupt(what, "unknown KDF or payload length")),
    }
    let mut key = [0u8; MASTER_KEY_LEN];
    key.copy_from_slice(&payload[..MASTER_KEY_LEN]);
    let master = MasterKey::from_bytes(&key);
    zeroize::Zeroize::zeroize(&mut key);
    Ok(master)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vger_types::ErrorCode;

    const FAST: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn wrap_unwrap_wrong_passphrase_and_tamper() {
        let m = MasterKey::generate();
        let file = wrap_master_key(&m, Some(b"correct horse"), FAST, b"ctx").unwrap();
        let back = unwrap_master_key(&file, Some(b"correct horse"), b"ctx", "r").unwrap();
        assert_eq!(back.to_bytes().as_ref(), m.to_bytes().as_ref());
        let e = unwrap_master_key(&file, Some(b"wrong"), b"ctx", "r")
            .err()
            .unwrap();
        assert_eq!(e.code(), ErrorCode::WrongPassphrase);
        let e = unwrap_master_key(&file, Some(b"correct horse"), b"other", "r")
            .err()
            .unwrap();
        assert_eq!(e.code(), ErrorCode::WrongPassphrase);
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x40;
            let e = unwrap_master_key(&bad, Some(b"correct horse"), b"ctx", "r")
                .err()
                .unwrap();
            assert!(
                matches!(e.code(), ErrorCode::Corrupt | ErrorCode::NewerFormat),
                "byte {i}: {e}"
            );
        }
    }

    #[test]
    fn hostile_kdf_parameters_are_refused() {
        let m = MasterKey::generate();
        let mut file = wrap_master_key(&m, Some(b"p"), FAST, b"").unwrap();
        file[11..15].copy_from_slice(&u32::MAX.to_le_bytes());
        let body = file.len() - 32;
        let sum = *blake3::hash(&file[..body]).as_bytes();
        file[body..].copy_from_slice(&sum);
        let e = unwrap_master_key(&file, Some(b"p"), b"", "r")
            .err()
            .unwrap();
        assert_eq!(e.code(), ErrorCode::Corrupt);
        assert!(e.to_string().contains("KDF parameters"));
    }

    #[test]
    fn derive_with_its_own_memory_equals_argon2id() {
        let kdf = KdfParams {
            memory_kib: 1024,
            iterations: 2,
            parallelism: 4,
        };
        let params = Params::new(1024, 2, 4, Some(32)).unwrap();
        let mut expected = [0u8; 32];
        Argon2::new(A2Alg::Argon2id, Version::V0x13, params)
            .hash_password_into(b"pass", &[7; 16], &mut expected)
            .unwrap();
        assert_eq!(*kdf.derive(b"pass", &[7; 16]).unwrap(), expected);
        assert_ne!(*kdf.derive(b"pasS", &[7; 16]).unwrap(), expected);
    }

    #[test]
    fn golden_key_file() {
        let mut b = [0u8; MASTER_KEY_LEN];
        for (i, v) in b.iter_mut().enumerate() {
            *v = i as u8;
        }
        let m = MasterKey::from_bytes(&b);
        let file = wrap_with(&m, Some(b"pass"), FAST, b"ctx", [1; 16], [2; 12]).unwrap();
        assert_eq!(hex::encode(&file), GOLDEN_KEY);
    }

    const GOLDEN_KEY: &str = "564745524b4559000100014000000001000000010000000101010101010101010101010101010102020202020202020202020270000000efd3bc92e2c9aac94aa20a6bdb4d533543f0e4afdd9d0029ea82bec24b4f8523fbf3ac8678a0fc55a2e6d575d0bca4bcddb61e5260ce9e50e43eb172ec2cd64736a8d4c49c04e6d0f48586c411a61bc73dc79960fdd5012ae755e6181213dcee0ca59516396fbd3450a98ea15b55563a903b177d769940cd0ea2b0af0534b8416025ef8e7be5fad4e3e129bd67510eeb";
}
