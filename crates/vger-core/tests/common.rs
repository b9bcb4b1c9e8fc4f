//! Helpers shared by the integration tests.
#![allow(dead_code)]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use vger_core::compress::Compression;
use vger_core::{
    Algorithm, BackupOptions, CancelToken, ChunkerParams, InitOptions, KdfParams, NoProgress,
    Repository, RestoreOptions, RestoreOutcome, backup, init, restore,
};

pub const PASS: &str = "correct horse battery staple";

pub fn small_chunker() -> ChunkerParams {
    ChunkerParams {
        min_size: 1024,
        avg_size: 4096,
        max_size: 16384,
    }
}

pub fn new_repo(dir: &Path, alg: Algorithm) -> Repository {
    let url = dir.join("repo").to_string_lossy().into_owned();
    init(&InitOptions {
        url: url.clone(),
        passphrase: Some(PASS.into()),
        algorithm: alg,
        chunker: small_chunker(),
        kdf: KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        backend: Default::default(),
        id_keys: None,
    })
    .unwrap();
    Repository::open(&url, Some(PASS)).unwrap()
}

pub fn repo_url(dir: &Path) -> String {
    dir.join("repo").to_string_lossy().into_owned()
}

pub fn backup_opts(paths: &[&Path]) -> BackupOptions {
    BackupOptions {
        paths: paths.iter().map(|p| p.to_path_buf()).collect(),
        label: "test".into(),
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

pub fn run_backup(repo: &Repository, paths: &[&Path]) -> vger_core::BackupOutcome {
    backup(repo, &backup_opts(paths), &NoProgress, &CancelToken::new()).unwrap()
}

pub fn run_restore(
    repo: &Repository,
    snapshot: &str,
    dest: &Path,
    pattern: Option<&str>,
) -> vger_core::Result<RestoreOutcome> {
    restore(
        repo,
        &RestoreOptions {
            snapshot: snapshot.into(),
            dest: dest.to_path_buf(),
            patterns: pattern.into_iter().map(str::to_string).collect(),
            threads: 3,
            excludes: Vec::new(),
            overwrite: None,
            delete: false,
            dry_run: false,
        },
        &NoProgress,
        &CancelToken::new(),
    )
}

/// Pseudo-random bytes from a seed (xorshift), so tests are deterministic without a dependency.
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

/// Every path under `root` (relative, sorted) with what must survive a restore.
pub fn describe_tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let m = fs::symlink_metadata(&p).unwrap();
        let rel: PathBuf = p.strip_prefix(root).unwrap().to_path_buf();
        let ft = m.file_type();
        let content = if ft.is_file() {
            format!("{:x}", md5ish(&fs::read(&p).unwrap()))
        } else if ft.is_symlink() {
            format!("-> {:?}", fs::read_link(&p).unwrap())
        } else {
            String::new()
        };
        let mtime = vger_core::clock::ns_from_stat(m.mtime(), m.mtime_nsec());
        out.push(format!(
            "{:?} mode={:o} nlink={} mtime={} {}",
            rel,
            m.mode(),
            if ft.is_dir() { 0 } else { m.nlink() },
            mtime,
            content
        ));
        if ft.is_dir() {
            walk(root, &p, out);
        }
    }
}

fn md5ish(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    })
}
