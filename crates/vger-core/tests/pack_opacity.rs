//! What a storage host can learn from a pack's bytes (docs/format.md §18): the header, an opaque
//! body and the trailer length, nothing else. Packs are written from real files (this workspace's
//! sources and docs, compressible text of many sizes), then searched with the pack's blob table in
//! hand for any value that would let a scan find blob boundaries, and their bodies are tested for
//! byte frequencies against uniform.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{new_repo, run_backup};
use vger_core::Algorithm;
use vger_core::repo::pack::{self, BlobEntry, HEADER_LEN};
use vger_types::PackId;

/// How many bytes around each blob start are examined.
const REACH: usize = 32;

/// Packs of one backup of real files, with their blob tables (read with the key, as only the
/// client can).
fn packs(alg: Algorithm) -> Vec<(Vec<u8>, Vec<BlobEntry>)> {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sources = [root.join("crates"), root.join("docs")];
    let repo = new_repo(dir.path(), alg);
    run_backup(&repo, &[&sources[0], &sources[1]]);
    let mut out = Vec::new();
    for key in repo.backend().list("packs").unwrap() {
        let name = key.rsplit('/').next().unwrap();
        let id = PackId::from_hex(name).unwrap();
        let bytes = repo.backend().get(&key).unwrap();
        let table = pack::read_table(&bytes, &id, repo.crypter(), &repo.config().id).unwrap();
        out.push((bytes, table));
    }
    assert!(!out.is_empty());
    out
}

fn word(bytes: &[u8], at: usize) -> Option<[u8; 8]> {
    bytes.get(at..at + 8).map(|w| w.try_into().unwrap())
}

#[test]
fn no_value_marks_the_blob_boundaries() {
    for alg in [Algorithm::Aes256Gcm, Algorithm::ChaCha20Poly1305] {
        let packs = packs(alg);
        let blobs: usize = packs.iter().map(|(_, t)| t.len()).sum();
        assert!(blobs >= 200, "{blobs} blobs is too few to mean anything");
        for (bytes, table) in &packs {
            let body_end = bytes.len() - 4 - trailer_len(bytes);
            // At each distance from a blob start (before it and into it), every 8-byte value seen
            // must be seen at that distance once only: a value shared by two blobs (format 1's
            // algorithm byte and session id) lets a scan find boundaries.
            for delta in -(REACH as isize)..REACH as isize {
                let mut seen: HashMap<[u8; 8], usize> = HashMap::new();
                for e in table {
                    let at = e.offset as isize + delta;
                    if at < HEADER_LEN as isize || at as usize + 8 > body_end {
                        continue;
                    }
                    if let Some(w) = word(bytes, at as usize) {
                        *seen.entry(w).or_default() += 1;
                    }
                }
                let repeated: Vec<_> = seen.values().filter(|&&n| n > 1).collect();
                assert!(
                    repeated.is_empty(),
                    "{alg:?}: an 8-byte value recurs at distance {delta} from {} blob starts",
                    repeated.len()
                );
            }
            // And no 8-byte value at a blob start occurs anywhere else in the body more than chance
            // allows (a repeated header would show up here too).
            let mut starts: HashMap<[u8; 8], usize> = HashMap::new();
            for e in table {
                if let Some(w) = word(bytes, e.offset as usize) {
                    starts.insert(w, 0);
                }
            }
            for at in HEADER_LEN..body_end.saturating_sub(8) {
                if let Some(n) = word(bytes, at).and_then(|w| starts.get_mut(&w)) {
                    *n += 1;
                }
            }
            assert!(
                starts.values().all(|&n| n == 1),
                "{alg:?}: a blob's first 8 bytes occur elsewhere in the pack"
            );
        }
    }
}

#[test]
fn pack_bodies_look_uniformly_random() {
    for alg in [Algorithm::Aes256Gcm, Algorithm::ChaCha20Poly1305] {
        let packs = packs(alg);
        let mut counts = [0u64; 256];
        let mut n = 0u64;
        for (bytes, _) in &packs {
            // Everything after the header: blobs, the sealed trailer, not the 4-byte length.
            for &b in &bytes[HEADER_LEN..bytes.len() - 4] {
                counts[b as usize] += 1;
                n += 1;
            }
        }
        assert!(n > 100_000, "{n} bytes is too few for the test");
        let expected = n as f64 / 256.0;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        // 255 degrees of freedom: the statistic exceeds 377 with probability 1e-6 for random
        // bytes (Wilson-Hilferty). Text, a length prefix or a repeated header would push it far
        // beyond that; compressed plaintext alone does too.
        assert!(chi2 < 377.0, "{alg:?}: chi-square {chi2:.1} over {n} bytes");
    }
}

fn trailer_len(bytes: &[u8]) -> usize {
    let mut len = [0u8; 4];
    len.copy_from_slice(&bytes[bytes.len() - 4..]);
    u32::from_le_bytes(len) as usize
}
