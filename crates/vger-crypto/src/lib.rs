//! Cryptography of vger: the random master key, Argon2id key wrapping, keyed chunk ids, the keyed
//! FastCDC gear table, and the sealed envelope that authenticates (and, unless the repository is
//! `none`, encrypts) every stored object under its own derived key.

mod algorithm;
mod envelope;
mod keyfile;
mod master;

pub use algorithm::Algorithm;
pub use envelope::{Crypter, ENVELOPE_OVERHEAD, HEADER_LEN, TAG_LEN};
pub use keyfile::{KdfParams, unwrap_master_key, wrap_master_key};
pub use master::{BlobKind, IdKeys, MasterKey};

/// Fills a buffer from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The OS source failing is not recoverable; every vger object depends on it.
    getrandom::fill(&mut out).expect("the operating system random source failed");
    out
}
