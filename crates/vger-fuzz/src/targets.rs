//! One target per parser of untrusted bytes, each calling the public decode or open function the
//! engine itself uses. A decoder behind authenticated encryption has a `-sealed` target (the
//! bytes a storage host serves) and a `-plain` one (plaintext the harness seals with the
//! repository key, so mutations reach the decoder instead of stopping at authentication).

use vger_core::compress::decompress_into;
use vger_core::repo::MAX_TREE_SIZE;
use vger_core::repo::context::{ObjectKind, context};
use vger_core::repo::index::open_segment;
use vger_core::repo::pack::{self, parse_table, verify_id};
use vger_core::{LockInfo, RepoConfig, Snapshot, tree};
use vger_crypto::{BlobKind, KdfParams, unwrap_master_key, wrap_master_key};
use vger_types::codec::{Reader, Writer};
use vger_types::{ChunkId, ErrorCode, VgerError};

use crate::fixture::{ENVELOPE_CONTEXT, Fixture, PASSPHRASE};

/// What one input did.
#[derive(Debug)]
pub enum Outcome {
    /// Accepted; the number describes its shape (entry counts and the like) for the corpus.
    Accepted(u64),
    /// Refused with an error: the expected end of a hostile input.
    Rejected(VgerError),
    /// A broken promise other than a panic (a forged envelope opened, a cap exceeded).
    Violation(String),
}

impl<T> From<vger_types::Result<T>> for Outcome {
    fn from(r: vger_types::Result<T>) -> Self {
        match r {
            Ok(_) => Outcome::Accepted(0),
            Err(e) => Outcome::Rejected(e),
        }
    }
}

pub struct Target {
    pub name: &'static str,
    pub about: &'static str,
    pub seeds: Seeds,
    /// Applied after every mutation (recomputes a checksum so mutations get past it).
    pub fixup: Option<fn(&mut Vec<u8>)>,
    pub run: Run,
    /// The most the target may allocate (bytes, all allocations added up) for an input length.
    pub alloc_budget: fn(usize) -> usize,
}

/// Decompression of blob plaintext is capped by the caller; the fuzz targets use this cap.
pub const BLOB_CAP: usize = 1 << 20;

fn linear(len: usize) -> usize {
    (256 << 10) + 32 * len
}

fn blob_budget(len: usize) -> usize {
    // The declared size (up to the cap) is allocated up front, plus a zstd context.
    2 * BLOB_CAP + (1 << 20) + 32 * len
}

fn keyfile_budget(len: usize) -> usize {
    // Argon2 memory of at most 1 MiB (see `cheap_kdf`).
    (2 << 20) + 32 * len
}

/// Every target, in the order runs go through them.
pub fn all() -> Vec<Target> {
    vec![
        t(
            "codec",
            "codec Reader driven by a program of reads",
            codec_seeds,
            None,
            codec,
        ),
        t(
            "envelope",
            "Crypter::open on envelopes of the three algorithms",
            |f| f.envelopes.clone(),
            None,
            envelope,
        ),
        Target {
            alloc_budget: keyfile_budget,
            ..t(
                "keyfile",
                "unwrap_master_key on key files",
                keyfile_seeds,
                None,
                keyfile,
            )
        },
        Target {
            alloc_budget: keyfile_budget,
            ..t(
                "keyfile-summed",
                "key files with the checksum recomputed",
                keyfile_seeds,
                Some(resum),
                keyfile,
            )
        },
        t("config", "RepoConfig::decode", config_seeds, None, config),
        t(
            "config-summed",
            "config objects with the checksum recomputed",
            config_seeds,
            Some(resum),
            config,
        ),
        t(
            "pack-sealed",
            "parse_table on whole packs",
            |f| f.packs.iter().map(|p| p.sealed.clone()).collect(),
            None,
            pack_sealed,
        ),
        t(
            "pack-plain",
            "parse_table on packs around a trailer plaintext",
            |f| f.packs.iter().map(|p| p.plain.clone()).collect(),
            None,
            pack_plain,
        ),
        t(
            "index-sealed",
            "open_segment on sealed segments",
            |f| f.segments.iter().map(|s| s.sealed.clone()).collect(),
            None,
            index_sealed,
        ),
        t(
            "index-plain",
            "open_segment on sealed segment plaintext",
            |f| f.segments.iter().map(|s| s.plain.clone()).collect(),
            None,
            index_plain,
        ),
        t(
            "snapshot-sealed",
            "Snapshot::open",
            |f| f.snapshots.iter().map(|s| s.sealed.clone()).collect(),
            None,
            snapshot_sealed,
        ),
        t(
            "snapshot-plain",
            "Snapshot::decode",
            |f| f.snapshots.iter().map(|s| s.plain.clone()).collect(),
            None,
            snapshot_plain,
        ),
        t(
            "tree-sealed",
            "Repository::open_blob and tree::decode on sealed tree blobs",
            |f| f.tree_blobs.iter().map(|s| s.sealed.clone()).collect(),
            None,
            tree_sealed,
        ),
        Target {
            alloc_budget: blob_budget,
            ..t(
                "blob-plain",
                "decompress_into (none, LZ4, zstd) then tree::decode",
                blob_seeds,
                None,
                blob_plain,
            )
        },
        t(
            "tree-plain",
            "tree::decode",
            |f| f.trees.clone(),
            None,
            tree_plain,
        ),
        t(
            "lock-sealed",
            "a sealed lock opened and LockInfo::decode",
            |f| f.locks.iter().map(|s| s.sealed.clone()).collect(),
            None,
            lock_sealed,
        ),
        t(
            "lock-plain",
            "LockInfo::decode",
            |f| f.locks.iter().map(|s| s.plain.clone()).collect(),
            None,
            lock_plain,
        ),
    ]
}

type Seeds = fn(&Fixture) -> Vec<Vec<u8>>;
type Run = fn(&Fixture, &[u8]) -> Outcome;

fn t(
    name: &'static str,
    about: &'static str,
    seeds: Seeds,
    fixup: Option<fn(&mut Vec<u8>)>,
    run: Run,
) -> Target {
    Target {
        name,
        about,
        seeds,
        fixup,
        run,
        alloc_budget: linear,
    }
}

/// Replaces the last 32 bytes with the BLAKE3 of the rest (config object and key file).
#[allow(
    clippy::ptr_arg,
    reason = "the signature of every fixup, which may also resize"
)]
fn resum(b: &mut Vec<u8>) {
    if b.len() >= 32 {
        let n = b.len() - 32;
        let sum = blake3::hash(&b[..n]);
        b[n..].copy_from_slice(sum.as_bytes());
    }
}

fn shape(n: usize) -> u64 {
    (usize::BITS - n.leading_zeros()).into()
}

fn codec_seeds(_: &Fixture) -> Vec<Vec<u8>> {
    let mut w = Writer::new();
    w.u8(1)
        .u16(2)
        .u32(3)
        .u64(4)
        .i64(-5)
        .str("text")
        .bytes(&[7; 40])
        .raw(&[9; 32]);
    let data = w.finish();
    let program = [0u8, 1, 2, 3, 4, 0x36, 0x46, 0x29, 0x0a];
    let mut a = vec![program.len() as u8];
    a.extend_from_slice(&program);
    a.extend_from_slice(&data);
    vec![a, vec![0], vec![4, 0x07, 0x17, 0x27, 0x08, 0, 0, 0, 0x10]]
}

/// `input[0] % 32` op bytes, then the data the ops read. Each op checks what the codec promises.
fn codec(_: &Fixture, input: &[u8]) -> Outcome {
    let k =
        (usize::from(input.first().copied().unwrap_or(0)) % 32).min(input.len().saturating_sub(1));
    let (program, data) = input.get(1..).unwrap_or_default().split_at(k);
    let mut r = Reader::new(data, "fuzz");
    let mut done = 0u64;
    for &op in program {
        let before = r.remaining();
        let small = [0usize, 1, 4, 64, 4096, usize::MAX][usize::from(op >> 4) % 6];
        let min_item = small.clamp(1, 64);
        let step = match op % 11 {
            0 => r.u8().map(|_| 1),
            1 => r.u16().map(|_| 2),
            2 => r.u32().map(|_| 4),
            3 => r.u64().map(|_| 8),
            4 => r.i64().map(|_| 8),
            5 => match r.bytes(small) {
                Ok(b) if b.len() > small => {
                    return Outcome::Violation("bytes() above its max".into());
                }
                Ok(b) => Ok(4 + b.len()),
                Err(e) => Err(e),
            },
            6 => r.string(small).map(|s| 4 + s.len()),
            7 => match r.count(min_item) {
                Ok(n) if n.saturating_mul(min_item) > before - 4 => {
                    return Outcome::Violation(format!("count {n} above what remains ({before})"));
                }
                Ok(_) => Ok(4),
                Err(e) => Err(e),
            },
            8 => r.take(small.min(1 << 20)).map(|b| b.len()),
            9 => r.array::<32>().map(|_| 32),
            _ => return Outcome::from(r.finish()),
        };
        match step {
            Ok(used) if before - r.remaining() != used => {
                return Outcome::Violation(format!(
                    "op {op} consumed {} bytes, not {used}",
                    before - r.remaining()
                ));
            }
            Ok(_) => done += 1,
            Err(e) if e.code() != ErrorCode::Corrupt => {
                return Outcome::Violation(format!("a failed read is not VGER_CORRUPT: {e}"));
            }
            Err(_) => {}
        }
    }
    Outcome::Accepted(done)
}

fn envelope(f: &Fixture, input: &[u8]) -> Outcome {
    let mut opened = 0u64;
    for (i, (alg, c)) in f.crypters.iter().enumerate() {
        let whole = c.open(ENVELOPE_CONTEXT, input);
        let mut buf = input.to_vec();
        let in_place = c
            .open_in_place(ENVELOPE_CONTEXT, &mut buf)
            .map(<[u8]>::to_vec);
        if whole != in_place {
            return Outcome::Violation(format!("{alg:?}: open and open_in_place disagree"));
        }
        if whole.is_some() {
            if !f.envelopes.iter().any(|e| e == input) {
                return Outcome::Violation(format!(
                    "{alg:?}: an envelope that was never sealed opened"
                ));
            }
            opened |= 1 << i;
        }
    }
    Outcome::Accepted(opened)
}

fn keyfile_seeds(f: &Fixture) -> Vec<Vec<u8>> {
    let master = vger_crypto::MasterKey::generate();
    let clear =
        wrap_master_key(&master, None, KdfParams::default(), &f.key_context).unwrap_or_default();
    vec![f.key_file.clone(), clear]
}

/// The passphrase is given only when the key file asks for a cheap Argon2id (at most 1 MiB and
/// two passes): the KDF's own cost, capped at 4 GiB by `KdfParams::check`, is not what is fuzzed.
fn cheap_kdf(b: &[u8]) -> bool {
    let u = |at: usize| {
        b.get(at..at + 4)
            .map_or(u32::MAX, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    };
    u(11) <= 1024 && u(15) <= 2 && u(19) <= 2
}

fn keyfile(f: &Fixture, input: &[u8]) -> Outcome {
    let pass = cheap_kdf(input).then_some(PASSPHRASE.as_bytes());
    unwrap_master_key(input, pass, &f.key_context, "fuzz").into()
}

fn config_seeds(f: &Fixture) -> Vec<Vec<u8>> {
    let mut older = f.config.clone();
    if older.len() >= 12 {
        older[8..12].copy_from_slice(&1u32.to_le_bytes());
        resum(&mut older);
    }
    vec![f.config.clone(), older]
}

fn config(_: &Fixture, input: &[u8]) -> Outcome {
    RepoConfig::decode(input).into()
}

fn entries<T>(r: vger_types::Result<Vec<T>>) -> Outcome {
    match r {
        Ok(v) => Outcome::Accepted(shape(v.len())),
        Err(e) => Outcome::Rejected(e),
    }
}

fn pack_sealed(f: &Fixture, input: &[u8]) -> Outcome {
    let Some(p) = f.packs.first() else {
        return Outcome::Accepted(0);
    };
    let _ = verify_id(input, &p.id);
    entries(parse_table(input, &p.id, f.repo.crypter(), &f.repo_id()))
}

/// The smallest pack with `trailer` sealed in place of its own.
fn pack_plain(f: &Fixture, trailer: &[u8]) -> Outcome {
    let Some(p) = f.packs.iter().min_by_key(|p| p.sealed.len()) else {
        return Outcome::Accepted(0);
    };
    let n = p.sealed.len();
    let tlen = u32::from_le_bytes([
        p.sealed[n - 4],
        p.sealed[n - 3],
        p.sealed[n - 2],
        p.sealed[n - 1],
    ]) as usize;
    let body = &p.sealed[..n - 4 - tlen];
    let repo_id = f.repo_id();
    let sealed = f.repo.crypter().seal(
        &context(
            ObjectKind::PackTrailer,
            &repo_id,
            &body[9..pack::HEADER_LEN],
        ),
        trailer,
    );
    let mut bytes = body.to_vec();
    bytes.extend_from_slice(&sealed);
    bytes.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
    entries(parse_table(&bytes, &p.id, f.repo.crypter(), &repo_id))
}

fn index_sealed(f: &Fixture, input: &[u8]) -> Outcome {
    let key = f.segments.first().map_or("index/00", |s| s.id.as_str());
    entries(open_segment(key, input, f.repo.crypter(), &f.repo_id()).map(|s| s.packs))
}

fn index_plain(f: &Fixture, plain: &[u8]) -> Outcome {
    let key = f.segments.first().map_or("index/00", |s| s.id.as_str());
    let id = key
        .strip_prefix("index/")
        .and_then(ChunkId::from_hex)
        .unwrap_or(ChunkId([0; 32]));
    let repo_id = f.repo_id();
    let sealed = f
        .repo
        .crypter()
        .seal(&context(ObjectKind::IndexSegment, &repo_id, &id.0), plain);
    entries(open_segment(key, &sealed, f.repo.crypter(), &repo_id).map(|s| s.packs))
}

fn snapshot_sealed(f: &Fixture, input: &[u8]) -> Outcome {
    let Some(s) = f.snapshots.first() else {
        return Outcome::Accepted(0);
    };
    match Snapshot::open(&s.id, input, f.repo.crypter(), &f.repo_id()) {
        Ok(s) => Outcome::Accepted(shape(s.paths.len())),
        Err(e) => Outcome::Rejected(e),
    }
}

fn snapshot_plain(_: &Fixture, input: &[u8]) -> Outcome {
    match Snapshot::decode(input, "snapshot") {
        Ok(s) => Outcome::Accepted(shape(s.paths.len()) << 8 | shape(s.hostname.len())),
        Err(e) => Outcome::Rejected(e),
    }
}

fn tree_sealed(f: &Fixture, input: &[u8]) -> Outcome {
    let Some(t) = f.tree_blobs.first() else {
        return Outcome::Accepted(0);
    };
    let plain = match f
        .repo
        .open_blob(&t.id, BlobKind::Tree, input, MAX_TREE_SIZE, "tree blob")
    {
        Ok(p) => p,
        Err(e) => return Outcome::Rejected(e),
    };
    entries(tree::decode(&plain, "tree"))
}

fn blob_seeds(f: &Fixture) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = f.tree_blobs.iter().map(|t| t.plain.clone()).collect();
    out.extend(f.data_blobs.iter().cloned());
    out
}

fn blob_plain(_: &Fixture, input: &[u8]) -> Outcome {
    let mut out = Vec::new();
    match decompress_into(input, BLOB_CAP, "blob", &mut out) {
        Ok(plain) if plain.len() > BLOB_CAP => {
            Outcome::Violation(format!("{} bytes out, cap {BLOB_CAP}", plain.len()))
        }
        Ok(plain) => match tree::decode(plain, "tree") {
            Ok(v) => Outcome::Accepted(1 << 8 | shape(v.len())),
            Err(_) => Outcome::Accepted(u64::from(input.first().copied().unwrap_or(0))),
        },
        Err(e) => Outcome::Rejected(e),
    }
}

fn tree_plain(_: &Fixture, input: &[u8]) -> Outcome {
    match tree::decode(input, "tree") {
        Ok(v) => {
            let kinds = v.iter().fold(0u64, |acc, e| acc | 1 << (e.kind as u8));
            Outcome::Accepted(kinds << 8 | shape(v.len()))
        }
        Err(e) => Outcome::Rejected(e),
    }
}

fn lock_key(f: &Fixture) -> &str {
    f.locks.first().map_or("locks/00", |l| l.id.as_str())
}

fn lock_sealed(f: &Fixture, input: &[u8]) -> Outcome {
    let key = lock_key(f);
    let id = key
        .strip_prefix("locks/")
        .and_then(|h| hex::decode(h).ok())
        .unwrap_or_default();
    let Some(plain) = f
        .repo
        .crypter()
        .open(&context(ObjectKind::Lock, &f.repo_id(), &id), input)
    else {
        return Outcome::Rejected(VgerError::corrupt("lock", "failed authentication"));
    };
    LockInfo::decode(key, &plain).into()
}

fn lock_plain(f: &Fixture, input: &[u8]) -> Outcome {
    match LockInfo::decode(lock_key(f), input) {
        Ok(l) => Outcome::Accepted(shape(l.hostname.len()) << 8 | shape(l.operation.len())),
        Err(e) => Outcome::Rejected(e),
    }
}
