//! The sealed envelope around every stored object (format 2):
//!
//! ```text
//! [0..12]   nonce (12 random bytes)
//! [12..n]   ciphertext (the plaintext itself for `none`)
//! [n..n+16] tag: the AEAD tag, or for `none` the first 16 bytes of a keyed BLAKE3 MAC
//! ```
//!
//! Nothing in an envelope repeats from one envelope to the next: no algorithm byte, no session
//! id, no length. Packed back to back, blobs therefore leave no structure a scan of a pack could
//! find (format 1 began every blob with the same 17 cleartext bytes, which gave away every blob
//! boundary and size).
//!
//! Every object has its own key, derived from the repository's encryption key and the object's
//! context (`"vger/2" ‖ kind ‖ repository id ‖ object id`, built by the caller from what it
//! expects, never from the object):
//! `key = BLAKE3-derive_key("vger 2026-12 object key v2", enc_key ‖ context)`. So the master key
//! never encrypts anything, an envelope cannot be opened as another object or in another
//! repository, and a key seals only the few messages its one object ever needs (a chunk stored
//! again, a lock refreshed), far below the 2^32-message bound for random 96-bit nonces, with no
//! counter shared between writers. The context is also the associated data.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use zeroize::Zeroize;

use crate::{Algorithm, MasterKey, random_bytes};

/// The cleartext in front of the ciphertext: the nonce.
pub const HEADER_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
pub const ENVELOPE_OVERHEAD: usize = HEADER_LEN + TAG_LEN;

const KEY_CONTEXT: &str = "vger 2026-12 object key v2";
const MAC_CONTEXT: &str = "vger 2026-12 none-mode object mac key v2";

enum Cipher {
    Aes(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
    Mac([u8; 32]),
}

impl Drop for Cipher {
    fn drop(&mut self) {
        if let Cipher::Mac(k) = self {
            k.zeroize();
        }
    }
}

impl Cipher {
    /// The key of one object.
    fn for_object(alg: Algorithm, enc_key: &[u8; 32], context: &[u8]) -> Self {
        let mut h = blake3::Hasher::new_derive_key(if alg == Algorithm::None {
            MAC_CONTEXT
        } else {
            KEY_CONTEXT
        });
        h.update(enc_key);
        h.update(context);
        let mut key: [u8; 32] = *h.finalize().as_bytes();
        let cipher = match alg {
            Algorithm::None => Cipher::Mac(key),
            Algorithm::Aes256Gcm => Cipher::Aes(Box::new(Aes256Gcm::new(&key.into()))),
            Algorithm::ChaCha20Poly1305 => {
                Cipher::ChaCha(Box::new(ChaCha20Poly1305::new(&key.into())))
            }
        };
        key.zeroize();
        cipher
    }

    fn mac(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], data: &[u8]) -> [u8; TAG_LEN] {
        let mut h = blake3::Hasher::new_keyed(key);
        h.update(nonce);
        h.update(&(aad.len() as u64).to_le_bytes());
        h.update(aad);
        h.update(data);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&h.finalize().as_bytes()[..TAG_LEN]);
        tag
    }

    /// Encrypts `buf` in place and returns the tag.
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let tag = match self {
            Cipher::Aes(c) => c.encrypt_inout_detached(nonce.into(), aad, buf.into()),
            Cipher::ChaCha(c) => c.encrypt_inout_detached(nonce.into(), aad, buf.into()),
            Cipher::Mac(k) => return Self::mac(k, nonce, aad, buf),
        };
        // Encryption only fails for messages above 64 GiB; packs and objects are far smaller.
        tag.map(Into::into).unwrap_or([0; TAG_LEN])
    }

    /// Verifies and decrypts `buf` in place.
    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        match self {
            Cipher::Aes(c) => c
                .decrypt_inout_detached(nonce.into(), aad, buf.into(), tag.into())
                .is_ok(),
            Cipher::ChaCha(c) => c
                .decrypt_inout_detached(nonce.into(), aad, buf.into(), tag.into())
                .is_ok(),
            Cipher::Mac(k) => {
                let expect = Self::mac(k, nonce, aad, buf);
                expect
                    .iter()
                    .zip(tag)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
        }
    }
}

/// Seals and opens envelopes for one repository. Thread-safe; cheap to share behind an `Arc`.
pub struct Crypter {
    alg: Algorithm,
    enc_key: [u8; 32],
}

impl Drop for Crypter {
    fn drop(&mut self) {
        self.enc_key.zeroize();
    }
}

impl Crypter {
    pub fn new(alg: Algorithm, master: &MasterKey) -> Self {
        Self {
            alg,
            enc_key: *master.enc_key(),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Seals `plaintext` as the object named by `context`; returns the whole envelope.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        self.seal_with(context, plaintext, random_bytes())
    }

    fn seal_with(&self, context: &[u8], plaintext: &[u8], nonce: [u8; 12]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + ENVELOPE_OVERHEAD);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let cipher = Cipher::for_object(self.alg, &self.enc_key, context);
        let tag = cipher.seal(&nonce, context, &mut out[HEADER_LEN..]);
        out.extend_from_slice(&tag);
        out
    }

    /// Seals in place: `buf` holds [`HEADER_LEN`] bytes of room followed by the plaintext; on
    /// return it holds the whole envelope (the same layout [`Crypter::seal`] returns), without
    /// copying the plaintext. A `buf` shorter than the header is taken as room for an empty plaintext.
    pub fn seal_in_place(&self, context: &[u8], buf: &mut Vec<u8>) {
        if buf.len() < HEADER_LEN {
            buf.resize(HEADER_LEN, 0);
        }
        let nonce: [u8; 12] = random_bytes();
        buf[..HEADER_LEN].copy_from_slice(&nonce);
        let cipher = Cipher::for_object(self.alg, &self.enc_key, context);
        let tag = cipher.seal(&nonce, context, &mut buf[HEADER_LEN..]);
        buf.extend_from_slice(&tag);
    }

    /// Verifies and opens an envelope. `None` means it is not authentic under this key and
    /// context: damaged, forged, moved from another object, or sealed with another algorithm.
    pub fn open(&self, context: &[u8], envelope: &[u8]) -> Option<Vec<u8>> {
        let mut buf = envelope.to_vec();
        let n = self.open_in_place(context, &mut buf)?.len();
        buf.copy_within(HEADER_LEN..HEADER_LEN + n, 0);
        buf.truncate(n);
        Some(buf)
    }

    /// Like [`Crypter::open`], decrypting in place: returns the plaintext, a part of `envelope`.
    /// On `None` the bytes of `envelope` are unspecified.
    pub fn open_in_place<'b>(&self, context: &[u8], envelope: &'b mut [u8]) -> Option<&'b [u8]> {
        if envelope.len() < ENVELOPE_OVERHEAD {
            return None;
        }
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&envelope[..HEADER_LEN]);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&envelope[envelope.len() - TAG_LEN..]);
        let end = envelope.len() - TAG_LEN;
        let cipher = Cipher::for_object(self.alg, &self.enc_key, context);
        if cipher.open(&nonce, context, &mut envelope[HEADER_LEN..end], &tag) {
            Some(&envelope[HEADER_LEN..end])
        } else {
            None
        }
    }

    /// Deterministic sealing for golden test vectors only.
    #[doc(hidden)]
    pub fn seal_fixed(&self, context: &[u8], plaintext: &[u8], nonce: [u8; 12]) -> Vec<u8> {
        self.seal_with(context, plaintext, nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_in_place_opens_like_seal() {
        let c = Crypter::new(Algorithm::Aes256Gcm, &MasterKey::generate());
        let mut buf = vec![0u8; HEADER_LEN];
        buf.extend_from_slice(b"in place");
        c.seal_in_place(b"ctx", &mut buf);
        assert_eq!(buf.len(), 8 + ENVELOPE_OVERHEAD);
        assert_eq!(c.open(b"ctx", &buf).as_deref(), Some(&b"in place"[..]));
        assert!(c.open(b"other", &buf).is_none());
    }
    use crate::master::MASTER_KEY_LEN;

    fn key() -> MasterKey {
        let mut b = [0u8; MASTER_KEY_LEN];
        for (i, v) in b.iter_mut().enumerate() {
            *v = i as u8;
        }
        MasterKey::from_bytes(&b)
    }

    #[test]
    fn round_trip_every_algorithm_and_context_binding() {
        for alg in [
            Algorithm::None,
            Algorithm::Aes256Gcm,
            Algorithm::ChaCha20Poly1305,
        ] {
            let c = Crypter::new(alg, &key());
            let env = c.seal(b"ctx-a", b"secret bytes");
            assert_eq!(env.len(), 12 + ENVELOPE_OVERHEAD);
            assert_eq!(
                c.open(b"ctx-a", &env).as_deref(),
                Some(&b"secret bytes"[..])
            );
            assert!(
                c.open(b"ctx-b", &env).is_none(),
                "{alg:?} must bind context"
            );
            for i in 0..env.len() {
                let mut bad = env.clone();
                bad[i] ^= 0x01;
                assert!(c.open(b"ctx-a", &bad).is_none(), "{alg:?} flip at {i}");
            }
            if alg != Algorithm::None {
                assert!(!env.windows(6).any(|w| w == b"secret"));
            }
        }
    }

    #[test]
    fn every_object_has_its_own_key() {
        let c = Crypter::new(Algorithm::Aes256Gcm, &key());
        let n = [9u8; 12];
        let a = c.seal_fixed(b"object a", b"same bytes", n);
        let b = c.seal_fixed(b"object b", b"same bytes", n);
        assert_eq!(a[..HEADER_LEN], b[..HEADER_LEN]);
        assert_ne!(
            a[HEADER_LEN..],
            b[HEADER_LEN..],
            "same nonce, other object: other keystream"
        );
        let other = Crypter::new(Algorithm::ChaCha20Poly1305, &key());
        assert!(
            other.open(b"object a", &a).is_none(),
            "another algorithm fails"
        );
    }

    #[test]
    fn golden_envelopes() {
        let n = [9u8; 12];
        let aes = Crypter::new(Algorithm::Aes256Gcm, &key()).seal_fixed(b"ctx", b"vger", n);
        let cha = Crypter::new(Algorithm::ChaCha20Poly1305, &key()).seal_fixed(b"ctx", b"vger", n);
        let none = Crypter::new(Algorithm::None, &key()).seal_fixed(b"ctx", b"vger", n);
        assert_eq!(
            [hex::encode(&aes), hex::encode(&cha), hex::encode(&none)],
            [GOLDEN_AES, GOLDEN_CHACHA, GOLDEN_NONE]
        );
    }

    const GOLDEN_AES: &str = "0909090909090909090909091ae1e49b1d71d79094239e01fcfea2d83bbdb016";
    const GOLDEN_CHACHA: &str = "0909090909090909090909090ef3bcc8dcd9dcab62efff6e66e96ebe4361c5ae";
    const GOLDEN_NONE: &str = "0909090909090909090909097667657217a76185ef3395b63d7f40b3b6c5d690";
}
