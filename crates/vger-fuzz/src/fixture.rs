//! The seed corpus: a real repository in a temporary directory, written by the real encoders
//! (init, two backups of a small tree with files, a subdirectory, a symlink and a hard link, one
//! with LZ4 and one with zstd, and a held lease), read back object by object. Seeds made this way
//! follow the format wherever it changes (new fields in trees, snapshots or locks) with no edit
//! here.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use tempfile::TempDir;
use vger_core::compress::{Compression, decompress_into};
use vger_core::repo::context::{ObjectKind, context};
use vger_core::repo::index::open_segment;
use vger_core::repo::pack;
use vger_core::{
    Algorithm, BackupOptions, CancelToken, ChunkerParams, InitOptions, KdfParams, LockKind,
    NoProgress, Repository, backup, init,
};
use vger_crypto::{BlobKind, Crypter, MasterKey};
use vger_types::{ChunkId, PackId, Result, SnapshotId, VgerError};

pub const PASSPHRASE: &str = "fuzz passphrase";

/// One sealed object with the names it is opened under and its plaintext.
#[derive(Debug, Clone)]
pub struct Sealed<I> {
    pub id: I,
    pub sealed: Vec<u8>,
    pub plain: Vec<u8>,
}

pub struct Fixture {
    _dir: TempDir,
    pub repo: Repository,
    pub config: Vec<u8>,
    pub key_file: Vec<u8>,
    /// The associated data of the key file (repository id ‖ BLAKE3 of the config object).
    pub key_context: Vec<u8>,
    /// Whole packs and their trailer plaintext.
    pub packs: Vec<Sealed<PackId>>,
    pub segments: Vec<Sealed<String>>,
    pub snapshots: Vec<Sealed<SnapshotId>>,
    pub locks: Vec<Sealed<String>>,
    /// Sealed tree blobs; `plain` is the blob plaintext (compression header and payload).
    pub tree_blobs: Vec<Sealed<ChunkId>>,
    /// Tree plaintext (what `tree::decode` reads).
    pub trees: Vec<Vec<u8>>,
    /// Blob plaintext of data blobs (LZ4, zstd and stored).
    pub data_blobs: Vec<Vec<u8>>,
    /// One crypter per algorithm under a fixed master key, and envelopes each sealed.
    pub crypters: Vec<(Algorithm, Crypter)>,
    pub envelopes: Vec<Vec<u8>>,
}

/// The context the envelope target seals and opens under.
pub const ENVELOPE_CONTEXT: &[u8] = b"vger-fuzz envelope";

fn io(what: &str) -> impl Fn(std::io::Error) -> VgerError + '_ {
    move |e| VgerError::io(what, e)
}

fn write_source(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir.join("sub/deeper")).map_err(io("mkdir"))?;
    let text: Vec<u8> = b"the quick brown fox jumps over the lazy dog\n".repeat(300);
    fs::write(dir.join("text.txt"), &text).map_err(io("write"))?;
    let mut x: u64 = 0x1234_5678;
    let noise: Vec<u8> = (0..40_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    fs::write(dir.join("sub/noise.bin"), &noise).map_err(io("write"))?;
    fs::write(dir.join("sub/deeper/empty"), b"").map_err(io("write"))?;
    fs::write(dir.join("sub/deeper/é n\u{7}ame"), b"odd name").map_err(io("write"))?;
    symlink("../text.txt", dir.join("sub/link")).map_err(io("symlink"))?;
    fs::hard_link(dir.join("text.txt"), dir.join("sub/hard")).map_err(io("hard link"))?;
    Ok(())
}

fn backup_options(src: &Path, compression: Compression) -> BackupOptions {
    BackupOptions {
        paths: vec![src.to_path_buf()],
        label: "fuzz".into(),
        exclude: vec![],
        filter: Default::default(),
        hostname: "fuzz-host".into(),
        username: "fuzz-user".into(),
        compression,
        threads: 1,
        cache_dir: None,
        streams: Vec::new(),
        read_bytes_per_sec: 0,
        dry_run: false,
        time_ns: None,
        tags: Vec::new(),
        description: String::new(),
    }
}

fn fixed_master() -> MasterKey {
    // 96 bytes: the master key's length (docs/format.md).
    let mut b = [0u8; 96];
    for (i, v) in b.iter_mut().enumerate() {
        *v = (i as u8).wrapping_mul(7);
    }
    MasterKey::from_bytes(&b)
}

impl Fixture {
    pub fn new() -> Result<Self> {
        let dir = tempfile::tempdir().map_err(io("temporary directory"))?;
        let url = dir.path().join("repo").to_string_lossy().into_owned();
        init(&InitOptions {
            url: url.clone(),
            passphrase: Some(PASSPHRASE.into()),
            algorithm: Algorithm::Aes256Gcm,
            chunker: ChunkerParams {
                min_size: 1024,
                avg_size: 4096,
                max_size: 16384,
            },
            kdf: KdfParams {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            backend: Default::default(),
            id_keys: None,
        })?;
        let repo = Repository::open(&url, Some(PASSPHRASE))?;
        let src = dir.path().join("src");
        write_source(&src)?;
        let cancel = CancelToken::new();
        backup(
            &repo,
            &backup_options(&src, Compression::Lz4),
            &NoProgress,
            &cancel,
        )?;
        fs::write(src.join("text.txt"), b"changed ".repeat(500)).map_err(io("write"))?;
        backup(
            &repo,
            &backup_options(&src, Compression::Zstd(3)),
            &NoProgress,
            &cancel,
        )?;
        repo.reload_index()?;

        let b = repo.backend();
        let repo_id = repo.config().id;
        let crypter = repo.crypter();
        let config = b.get("config")?;
        let key_name = b.list("keys")?.into_iter().next();
        let key_file = b.get(&key_name.unwrap_or_default())?;
        let mut key_context = repo_id.to_vec();
        key_context.extend_from_slice(blake3::hash(&config).as_bytes());

        let mut packs = Vec::new();
        for key in b.list("packs")? {
            let Some(id) = key.rsplit('/').next().and_then(PackId::from_hex) else {
                continue;
            };
            let bytes = b.get(&key)?;
            let plain = trailer_plain(&bytes, crypter, &repo_id).unwrap_or_default();
            packs.push(Sealed {
                id,
                sealed: bytes,
                plain,
            });
        }
        let mut segments = Vec::new();
        for key in b.list("index")? {
            let sealed = b.get(&key)?;
            let plain = key
                .strip_prefix("index/")
                .and_then(ChunkId::from_hex)
                .and_then(|id| {
                    crypter.open(&context(ObjectKind::IndexSegment, &repo_id, &id.0), &sealed)
                })
                .unwrap_or_default();
            open_segment(&key, &sealed, crypter, &repo_id)?;
            segments.push(Sealed {
                id: key,
                sealed,
                plain,
            });
        }
        let mut snapshots = Vec::new();
        for snap in repo.snapshots()?.snapshots {
            let sealed = b.get(&vger_core::repo::snapshot::key(&snap.id))?;
            snapshots.push(Sealed {
                id: snap.id,
                sealed,
                plain: snap.encode(),
            });
        }

        let mut tree_blobs = Vec::new();
        let mut trees = Vec::new();
        let mut data_blobs = Vec::new();
        let entries: Vec<_> = repo.index().iter().collect();
        for (id, pack_id, loc) in entries {
            let Some(p) = packs.iter().find(|p| p.id == pack_id) else {
                continue;
            };
            let (at, len) = (loc.offset as usize, loc.len as usize);
            let Some(sealed) = p.sealed.get(at..at + len) else {
                continue;
            };
            let ctx = context(ObjectKind::from(loc.kind), &repo_id, &id.0);
            let Some(plain) = crypter.open(&ctx, sealed) else {
                continue;
            };
            if loc.kind == BlobKind::Tree {
                let mut out = Vec::new();
                trees.push(decompress_into(&plain, 1 << 24, "tree", &mut out)?.to_vec());
                tree_blobs.push(Sealed {
                    id,
                    sealed: sealed.to_vec(),
                    plain,
                });
            } else if data_blobs.len() < 8 {
                data_blobs.push(plain);
            }
        }

        let mut locks = Vec::new();
        for kind in [LockKind::Shared, LockKind::Exclusive] {
            let lease = repo.lease(kind, "fuzz: a lease held while the seeds are read")?;
            let info = lease.info();
            let sealed = b.get(&info.key)?;
            locks.push(Sealed {
                id: info.key.clone(),
                sealed,
                plain: info.encode(),
            });
        }

        let master = fixed_master();
        let crypters: Vec<(Algorithm, Crypter)> = [
            Algorithm::None,
            Algorithm::Aes256Gcm,
            Algorithm::ChaCha20Poly1305,
        ]
        .into_iter()
        .map(|a| (a, Crypter::new(a, &master)))
        .collect();
        let mut envelopes = Vec::new();
        // Fixed nonces as well as a fixed key: the same envelopes in every process, so a corpus
        // written by one run is still "never sealed" or "sealed" in the next.
        for (_, c) in &crypters {
            for (i, plain) in [&b""[..], b"x", &b"sealed plaintext ".repeat(40)]
                .iter()
                .enumerate()
            {
                envelopes.push(c.seal_fixed(ENVELOPE_CONTEXT, plain, [i as u8 + 1; 12]));
            }
        }

        Ok(Self {
            _dir: dir,
            repo,
            config,
            key_file,
            key_context,
            packs,
            segments,
            snapshots,
            locks,
            tree_blobs,
            trees,
            data_blobs,
            crypters,
            envelopes,
        })
    }

    pub fn repo_id(&self) -> [u8; 32] {
        self.repo.config().id
    }
}

/// The trailer plaintext of a well-formed pack.
fn trailer_plain(bytes: &[u8], crypter: &Crypter, repo_id: &[u8; 32]) -> Option<Vec<u8>> {
    let n = bytes.len();
    let tlen = u32::from_le_bytes(bytes.get(n.checked_sub(4)?..)?.try_into().ok()?) as usize;
    let start = (n - 4).checked_sub(tlen)?;
    let salt = bytes.get(9..pack::HEADER_LEN)?;
    crypter.open(
        &context(ObjectKind::PackTrailer, repo_id, salt),
        bytes.get(start..n - 4)?,
    )
}
