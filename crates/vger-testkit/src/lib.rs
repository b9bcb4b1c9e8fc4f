//! Test support for vger's campaigns: a backend wrapper that crashes the process (like kill -9)
//! or reports a full disk at a chosen write, deterministic source trees, and a verifier that
//! checks a repository and restores every snapshot against what was backed up.
//!
//! The fault injection is the only fake: everything else is the real engine on a real
//! filesystem, or over a real S3 protocol exchange with the test server (moto; see [`s3`]).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use vger_core::compress::Compression;
use vger_core::{
    Algorithm, BackupOptions, CancelToken, CheckOptions, ChunkerParams, InitOptions, KdfParams,
    NoProgress, Repository, RestoreOptions,
};
use vger_storage::{Backend, BackendOptions, LocalBackend, ObjectMeta, Spooled, Target};
use vger_types::{Result, VgerError};

pub const PASS: &str = "campaign passphrase";

/// What happens at the chosen write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The process dies before the write, as with kill -9.
    Abort,
    /// Half the object reaches a temporary file, then the process dies (a torn write). On an
    /// object store a PUT is atomic (no partial object ever becomes visible), so there this is
    /// the same as [`Fault::Abort`].
    Torn,
    /// The write fails with "no space left on device"; the process goes on.
    NoSpace,
}

impl Fault {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "abort" => Fault::Abort,
            "torn" => Fault::Torn,
            "nospace" => Fault::NoSpace,
            _ => return None,
        })
    }
}

/// Where a campaign's repository lives: a local directory or a remote URL with its settings.
#[derive(Clone, Debug)]
pub struct Store {
    pub url: String,
    pub opts: BackendOptions,
}

impl Store {
    pub fn local(path: &Path) -> Self {
        Self {
            url: path.to_string_lossy().into_owned(),
            opts: BackendOptions::default(),
        }
    }

    /// A repository given on a command line: a URL (`s3+http://…`, with the S3 settings taken
    /// from `VGER_TEST_S3_REGION`, `_KEY` and `_SECRET`) or a local path.
    pub fn from_arg(arg: &str) -> Self {
        if !arg.contains("://") {
            return Self::local(Path::new(arg));
        }
        let var = |k: &str| std::env::var(format!("VGER_TEST_S3_{k}")).ok();
        Self {
            url: arg.to_string(),
            opts: BackendOptions {
                region: var("REGION"),
                access_key_id: var("KEY"),
                secret_access_key: var("SECRET"),
                allow_insecure_http: true,
                ..Default::default()
            },
        }
    }

    /// The directory of a local repository, `None` for a remote one.
    pub fn local_root(&self) -> Option<PathBuf> {
        match Target::parse(&self.url, &self.opts) {
            Ok(Target::Local(p)) => Some(PathBuf::from(p)),
            _ => None,
        }
    }

    pub fn backend(&self) -> Result<Box<dyn Backend>> {
        vger_storage::open_backend_with(&self.url, &self.opts)
    }

    pub fn open(&self) -> Result<Repository> {
        Repository::open_at(&self.url, &self.opts, Some(PASS))
    }
}

/// Counts mutating operations (create and delete) and injects `fault` at number `at` (1-based).
/// Wraps any backend: local or remote.
pub struct FaultyBackend {
    inner: Box<dyn Backend>,
    /// A local repository's directory, where a torn write leaves its temporary file.
    local_root: Option<PathBuf>,
    ops: AtomicU64,
    at: u64,
    fault: Fault,
}

impl FaultyBackend {
    /// Over a local repository in `root`.
    pub fn new(root: &Path, at: u64, fault: Fault) -> Self {
        let url = root.to_string_lossy().into_owned();
        Self::wrap(
            Box::new(LocalBackend::new(root, &url)),
            Some(root.to_path_buf()),
            at,
            fault,
        )
    }

    /// Over any backend; `local_root` is the directory of a local one (`None` for an object
    /// store, where a torn write is an abort: a PUT is atomic).
    pub fn wrap(
        inner: Box<dyn Backend>,
        local_root: Option<PathBuf>,
        at: u64,
        fault: Fault,
    ) -> Self {
        Self {
            inner,
            local_root,
            ops: AtomicU64::new(0),
            at,
            fault,
        }
    }

    /// Over the repository in `store`.
    pub fn open(store: &Store, at: u64, fault: Fault) -> Result<Self> {
        Ok(Self::wrap(store.backend()?, store.local_root(), at, fault))
    }

    /// Mutating operations so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::SeqCst)
    }

    fn step(&self, key: &str, data: Option<&[u8]>) -> Result<()> {
        let n = self.ops.fetch_add(1, Ordering::SeqCst) + 1;
        if n != self.at {
            return Ok(());
        }
        match self.fault {
            Fault::Abort => std::process::abort(),
            Fault::Torn => {
                // An object store's PUT is all or nothing: no torn object can exist there.
                if let (Some(root), Some(d)) = (&self.local_root, data) {
                    let path = root.join(key);
                    let dir = path.parent().unwrap_or(root);
                    let _ = fs::create_dir_all(dir);
                    let _ = fs::write(dir.join(".tmp.torn"), &d[..d.len() / 2]);
                }
                std::process::abort()
            }
            Fault::NoSpace => Err(VgerError::NoSpace {
                context: format!("writing {key}"),
            }),
        }
    }
}

impl Backend for FaultyBackend {
    fn get(&self, key: &str) -> Result<Vec<u8>> {
        self.inner.get(key)
    }
    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.inner.get_range(key, offset, len)
    }
    fn get_range_into(&self, key: &str, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.get_range_into(key, offset, len, buf)
    }
    fn put_new(&self, key: &str, data: &[u8]) -> Result<()> {
        self.step(key, Some(data))?;
        self.inner.put_new(key, data)
    }
    // Packs take the wrapped backend's real path. Local: spooled to a temporary file as they
    // fill, then linked into place; a fault before the link leaves the (complete or partial)
    // spool behind. Remote: the default in-memory spool, stored with one PUT.
    fn spool(&self, dir: &str, token: &[u8; 16]) -> Result<Spooled> {
        self.inner.spool(dir, token)
    }
    fn put_spooled(&self, key: &str, spool: Spooled) -> Result<()> {
        self.step(key, None)?;
        self.inner.put_spooled(key, spool)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list(prefix)
    }
    fn list_meta(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.inner.list_meta(prefix)
    }
    fn remove_debris(&self, age: Duration) -> Result<usize> {
        self.inner.remove_debris(age)
    }
    fn destroy(&self) -> Result<()> {
        self.inner.destroy()
    }
    fn size(&self, key: &str) -> Result<Option<u64>> {
        self.inner.size(key)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.step(key, None)?;
        self.inner.delete(key)
    }
    fn is_empty(&self) -> Result<bool> {
        self.inner.is_empty()
    }
    fn create(&self) -> Result<()> {
        self.inner.create()
    }
    fn location(&self) -> &str {
        self.inner.location()
    }
}

/// Small chunks, so small trees have many of them.
pub fn small_chunker() -> ChunkerParams {
    ChunkerParams {
        min_size: 1024,
        avg_size: 4096,
        max_size: 16384,
    }
}

pub fn init_repo(path: &Path) -> Repository {
    let url = path.to_string_lossy().into_owned();
    vger_core::init(&InitOptions {
        url: url.clone(),
        passphrase: Some(PASS.into()),
        algorithm: Algorithm::Aes256Gcm,
        chunker: small_chunker(),
        kdf: KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        backend: Default::default(),
        id_keys: None,
    })
    .expect("init");
    Repository::open(&url, Some(PASS)).expect("open")
}

/// Deterministic pseudo-random bytes (xorshift).
pub fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// A source tree for generation `seed`: some files shared by every generation, some unique,
/// a subdirectory and a symlink.
pub fn write_source(dir: &Path, seed: u64, unique_files: u64, size: usize) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir.join("sub")).expect("mkdir");
    fs::write(dir.join("shared"), bytes(size, 7)).expect("write");
    for f in 0..unique_files {
        fs::write(
            dir.join("sub").join(format!("f{f}")),
            bytes(size, seed * 1000 + f),
        )
        .expect("write");
    }
    symlink("shared", dir.join("link")).expect("symlink");
}

/// Path → content hash (files) or target (symlinks), relative to `root`.
pub fn digest(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Ok(m) = fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                out.insert(rel, "dir".into());
                walk(root, &p, out);
            } else if m.file_type().is_symlink() {
                let t = fs::read_link(&p).map(|t| t.to_string_lossy().into_owned());
                out.insert(rel, format!("-> {}", t.unwrap_or_default()));
            } else {
                let data = fs::read(&p).unwrap_or_default();
                out.insert(rel, blake3::hash(&data).to_hex().to_string());
            }
        }
    }
    walk(root, root, &mut out);
    out
}

pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read_dir").flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().expect("type").is_dir() {
            copy_dir(&src, &dst);
        } else {
            fs::copy(&src, &dst).expect("copy");
        }
    }
}

pub fn backup_opts(src: &Path, label: &str) -> BackupOptions {
    BackupOptions {
        paths: vec![src.to_path_buf()],
        label: label.into(),
        exclude: vec![],
        filter: Default::default(),
        hostname: "host".into(),
        username: "user".into(),
        compression: Compression::Lz4,
        threads: 2,
        cache_dir: None,
        streams: Vec::new(),
        read_bytes_per_sec: 0,
        dry_run: false,
        time_ns: None,
        tags: Vec::new(),
        description: String::new(),
    }
}

/// Checks a repository after a crash: stale locks broken (what a user does with `vger
/// break-lock`), `check --verify-data` clean, and every snapshot restores to the tree it was
/// taken from (`expected` maps snapshot id → digest; a snapshot not in it must match
/// `new_source`, the tree the interrupted backup was reading). Returns the ids present.
pub fn verify(
    repo_path: &Path,
    scratch: &Path,
    expected: &HashMap<String, BTreeMap<String, String>>,
    new_source: Option<&BTreeMap<String, String>>,
) -> std::result::Result<Vec<String>, String> {
    verify_at(&Store::local(repo_path), scratch, expected, new_source)
}

/// [`verify`] for a repository in any store.
pub fn verify_at(
    store: &Store,
    scratch: &Path,
    expected: &HashMap<String, BTreeMap<String, String>>,
    new_source: Option<&BTreeMap<String, String>>,
) -> std::result::Result<Vec<String>, String> {
    let repo = store.open().map_err(|e| format!("open: {e}"))?;
    vger_core::break_locks(&repo).map_err(|e| format!("break-lock: {e}"))?;
    let report = vger_core::check(
        &repo,
        &CheckOptions {
            verify_data: true,
            ..Default::default()
        },
        &NoProgress,
        &CancelToken::new(),
    )
    .map_err(|e| format!("check: {e}"))?;
    if !report.ok() {
        return Err(format!(
            "check found {:?} / damaged {:?}",
            report.problems,
            report
                .damaged
                .iter()
                .map(|d| d.snapshot.id.to_hex())
                .collect::<Vec<_>>()
        ));
    }
    let list = repo.snapshots().map_err(|e| format!("list: {e}"))?;
    let mut ids = Vec::new();
    for (i, s) in list.snapshots.iter().enumerate() {
        let id = s.id.to_hex();
        let want = match (expected.get(&id), new_source) {
            (Some(w), _) => w,
            (None, Some(n)) => n,
            (None, None) => return Err(format!("snapshot {id} appeared from nowhere")),
        };
        let dest = scratch.join(format!("restore-{i}"));
        let out = vger_core::restore(
            &repo,
            &RestoreOptions {
                snapshot: id.clone(),
                dest: dest.clone(),
                patterns: Vec::new(),
                threads: 2,
                excludes: Vec::new(),
                overwrite: None,
                delete: false,
                dry_run: false,
            },
            &NoProgress,
            &CancelToken::new(),
        )
        .map_err(|e| format!("restore {id}: {e}"))?;
        if !out.errors.is_empty() {
            return Err(format!("restore {id}: {:?}", out.errors));
        }
        let got = digest(&dest);
        if &got != want {
            return Err(format!("snapshot {id} restored different content"));
        }
        let _ = fs::remove_dir_all(&dest);
        ids.push(id);
    }
    Ok(ids)
}

/// A seed from the environment (to replay a failure) or from the clock.
pub fn seed(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            // The clock's nanoseconds as bits; 1 if the clock is before the epoch.
            vger_core::clock::now_ns().max(1) as u64
        })
}

/// A small deterministic generator for choosing trials.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

pub fn faulty(repo_path: &Path, at: u64, fault: Fault) -> (Arc<FaultyBackend>, Repository) {
    faulty_at(&Store::local(repo_path), at, fault)
}

/// [`faulty`] for a repository in any store.
pub fn faulty_at(store: &Store, at: u64, fault: Fault) -> (Arc<FaultyBackend>, Repository) {
    let backend = Arc::new(FaultyBackend::open(store, at, fault).expect("backend"));
    let repo = Repository::open_with(backend.clone(), Some(PASS)).expect("open");
    (backend, repo)
}

/// Stores every file under `dir` in `backend`, keyed by its `/`-separated relative path (a
/// local repository's layout is its keys), e.g. to copy a fixture repository into a bucket.
pub fn upload_dir(dir: &Path, backend: &dyn Backend) -> Result<u64> {
    fn walk(root: &Path, dir: &Path, backend: &dyn Backend, n: &mut u64) -> Result<()> {
        let rd = fs::read_dir(dir).map_err(|e| VgerError::io(dir.display().to_string(), e))?;
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(root, &p, backend, n)?;
                continue;
            }
            let key = p
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/"))
                .unwrap_or_default();
            let data = fs::read(&p).map_err(|e| VgerError::io(p.display().to_string(), e))?;
            backend.put_new(&key, &data)?;
            *n += 1;
        }
        Ok(())
    }
    let mut n = 0;
    walk(dir, dir, backend, &mut n)?;
    Ok(n)
}

/// The S3 test server (moto, started by `scripts/peers/s3.sh`) shared by a test binary.
pub mod s3;
pub mod synth;
