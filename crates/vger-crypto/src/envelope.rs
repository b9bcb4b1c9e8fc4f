//! The sealed envelope around every stored blob and object:
//!
//! ```text
//! [0]      algorithm (0 none, 1 AES-256-GCM, 2 ChaCha20-Poly1305)
//! [1..17]  session id (16 random bytes, one per writing session)
//! [17..29] nonce (12 random bytes)
//! [29..n]  ciphertext (plaintext itself for `none`)
//! [n..n+16] tag: the AEAD tag, or for `none` the first 16 bytes of a keyed BLAKE3 MAC
//! ```
//!
//! The key of a session is `BLAKE3-derive_key("vger 2026-11 session key v1", enc_key ‖ session_id)`,
//! so the master key itself never encrypts anything. A session seals at most
//! [`SESSION_MESSAGE_LIMIT`] (2^31) messages under random 96-bit nonces and then rolls over to a
//! fresh session id, keeping every subkey far below the 2^32-message bound for random nonces.
//! The associated data is the caller's context (object kind, repository id, object id) followed by
//! the 29 header bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;

use crate::{Algorithm, MasterKey, random_bytes};

pub const HEADER_LEN: usize = 29;
pub const TAG_LEN: usize = 16;
pub const ENVELOPE_OVERHEAD: usize = HEADER_LEN + TAG_LEN;
pub const SESSION_MESSAGE_LIMIT: u64 = 1 << 31;

const SESSION_CONTEXT: &str = "vger 2026-11 session key v1";
const MAC_CONTEXT: &str = "vger 2026-11 none-mode mac key v1";

enum Cipher {
    Aes(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
    Mac([u8; 32]),
}

impl Cipher {
    fn for_session(alg: Algorithm, enc_key: &[u8; 32], session: &[u8; 16]) -> Self {
        let mut ikm = [0u8; 48];
        ikm[..32].copy_from_slice(enc_key);
        ikm[32..].copy_from_slice(session);
        let context = if alg == Algorithm::None {
            MAC_CONTEXT
        } else {
            SESSION_CONTEXT
        };
        let key = blake3::derive_key(context, &ikm);
        match alg {
            Algorithm::None => Cipher::Mac(key),
            Algorithm::Aes256Gcm => Cipher::Aes(Box::new(Aes256Gcm::new(&key.into()))),
            Algorithm::ChaCha20Poly1305 => {
                Cipher::ChaCha(Box::new(ChaCha20Poly1305::new(&key.into())))
            }
        }
    }

    fn mac(key: &[u8; 32], aad: &[u8], data: &[u8]) -> [u8; TAG_LEN] {
        let mut h = blake3::Hasher::new_keyed(key);
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
            Cipher::Mac(k) => return Self::mac(k, aad, buf),
        };
        // Encryption only fails for messages above 64 GiB, which no caller produces.
        tag.expect("AEAD message length within limits").into()
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
                let expect = Self::mac(k, aad, buf);
                expect
                    .iter()
                    .zip(tag)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
        }
    }
}

struct Session {
    id: [u8; 16],
    cipher: Cipher,
    used: AtomicU64,
}

/// Seals and opens envelopes for one repository. Thread-safe; cheap to share behind an `Arc`.
pub struct Crypter {
    alg: Algorithm,
    enc_key: [u8; 32],
    current: Mutex<Arc<Session>>,
    opened: Mutex<HashMap<[u8; 16], Arc<Session>>>,
}

impl Drop for Crypter {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.enc_key);
    }
}

impl Crypter {
    pub fn new(alg: Algorithm, master: &MasterKey) -> Self {
        let enc_key = *master.enc_key();
        let session = Self::new_session(alg, &enc_key, random_bytes());
        Self {
            alg,
            enc_key,
            current: Mutex::new(session),
            opened: Mutex::new(HashMap::new()),
        }
    }

    fn new_session(alg: Algorithm, key: &[u8; 32], id: [u8; 16]) -> Arc<Session> {
        Arc::new(Session {
            id,
            cipher: Cipher::for_session(alg, key, &id),
            used: AtomicU64::new(0),
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    fn session(&self) -> Arc<Session> {
        let mut cur = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if cur.used.fetch_add(1, Ordering::Relaxed) >= SESSION_MESSAGE_LIMIT {
            *cur = Self::new_session(self.alg, &self.enc_key, random_bytes());
            cur.used.store(1, Ordering::Relaxed);
        }
        Arc::clone(&cur)
    }

    /// Seals `plaintext` with associated data `context`; returns the whole envelope.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        self.seal_with(context, plaintext, &self.session(), random_bytes())
    }

    fn seal_with(
        &self,
        context: &[u8],
        plaintext: &[u8],
        session: &Session,
        nonce: [u8; 12],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + ENVELOPE_OVERHEAD);
        out.push(self.alg as u8);
        out.extend_from_slice(&session.id);
        out.extend_from_slice(&nonce);
        let mut aad = Vec::with_capacity(context.len() + HEADER_LEN);
        aad.extend_from_slice(context);
        aad.extend_from_slice(&out);
        out.extend_from_slice(plaintext);
        let tag = session.cipher.seal(&nonce, &aad, &mut out[HEADER_LEN..]);
        out.extend_from_slice(&tag);
        out
    }

    /// Seals in place: `buf` holds [`HEADER_LEN`] bytes of room followed by the plaintext; on
    /// return it holds the whole envelope (the same bytes [`Crypter::seal`] returns), without
    /// copying the plaintext.
    pub fn seal_in_place(&self, context: &[u8], buf: &mut Vec<u8>) {
        assert!(buf.len() >= HEADER_LEN, "seal_in_place needs header room");
        let session = self.session();
        let nonce: [u8; 12] = random_bytes();
        buf[0] = self.alg as u8;
        buf[1..17].copy_from_slice(&session.id);
        buf[17..HEADER_LEN].copy_from_slice(&nonce);
        let mut aad = Vec::with_capacity(context.len() + HEADER_LEN);
        aad.extend_from_slice(context);
        aad.extend_from_slice(&buf[..HEADER_LEN]);
        let tag = session.cipher.seal(&nonce, &aad, &mut buf[HEADER_LEN..]);
        buf.extend_from_slice(&tag);
    }

    /// Verifies and opens an envelope. `None` means it is not authentic under this key and
    /// context: damaged, forged, or moved from another object.
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
        if envelope.len() < ENVELOPE_OVERHEAD || envelope[0] != self.alg as u8 {
            return None;
        }
        let mut session_id = [0u8; 16];
        session_id.copy_from_slice(&envelope[1..17]);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&envelope[17..29]);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&envelope[envelope.len() - TAG_LEN..]);
        let session = {
            let mut map = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
            if map.len() > 4096 {
                map.clear();
            }
            Arc::clone(
                map.entry(session_id)
                    .or_insert_with(|| Self::new_session(self.alg, &self.enc_key, session_id)),
            )
        };
        let mut aad = Vec::with_capacity(context.len() + HEADER_LEN);
        aad.extend_from_slice(context);
        aad.extend_from_slice(&envelope[..HEADER_LEN]);
        let end = envelope.len() - TAG_LEN;
        let buf = &mut envelope[HEADER_LEN..end];
        if session.cipher.open(&nonce, &aad, buf, &tag) {
            Some(&envelope[HEADER_LEN..end])
        } else {
            None
        }
    }

    /// Deterministic sealing for golden test vectors only.
    #[doc(hidden)]
    pub fn seal_fixed(
        &self,
        context: &[u8],
        plaintext: &[u8],
        session: [u8; 16],
        nonce: [u8; 12],
    ) -> Vec<u8> {
        let s = Self::new_session(self.alg, &self.enc_key, session);
        self.seal_with(context, plaintext, &s, nonce)
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
    fn golden_envelopes() {
        let s = [7u8; 16];
        let n = [9u8; 12];
        let aes = Crypter::new(Algorithm::Aes256Gcm, &key()).seal_fixed(b"ctx", b"vger", s, n);
        let cha =
            Crypter::new(Algorithm::ChaCha20Poly1305, &key()).seal_fixed(b"ctx", b"vger", s, n);
        let none = Crypter::new(Algorithm::None, &key()).seal_fixed(b"ctx", b"vger", s, n);
        assert_eq!(
            [hex::encode(&aes), hex::encode(&cha), hex::encode(&none)],
            [GOLDEN_AES, GOLDEN_CHACHA, GOLDEN_NONE]
        );
    }

    const GOLDEN_AES: &str = "01070707070707070707070707070707070909090909090909090909093a41f9cef37fa9374e08e6e8a0f1d78d8d2c27a5";
    const GOLDEN_CHACHA: &str = "02070707070707070707070707070707070909090909090909090909095e4748a350c827569b7af6788cdd5333b6502b92";
    const GOLDEN_NONE: &str = "00070707070707070707070707070707070909090909090909090909097667657292d58dd0eb62440c061d4efcb6fd95c2";
}
