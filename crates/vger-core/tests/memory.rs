//! Peak memory of a large backup. This file is its own test binary with one test, so the
//! process's high-water mark (VmHWM in /proc/self/status) is the backup's peak.
//!
//! The source: FILES small files (each a distinct blob, so the index and the file cache grow with
//! them) and a sparse file of BIG_LEN bytes with DATA_REGIONS regions of pseudo-random data (the
//! rest reads as zeros, which deduplicate to one chunk). Disk use stays near 100 MB and everything
//! is deleted afterwards. Backed up twice with the file cache, with the repository's default
//! chunker sizes.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]
#![allow(clippy::print_stderr)]

mod common;

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::time::Instant;

use common::*;
use vger_core::{
    Algorithm, BackupOptions, CancelToken, ChunkerParams, InitOptions, KdfParams, NoProgress,
    Repository, backup, init,
};

const FILES: usize = 200_000;
const BIG_LEN: u64 = 2 << 30;
const DATA_REGIONS: u64 = 8;
const REGION: usize = 8 << 20;
/// Peak resident memory allowed for the whole test process, in MiB, chosen from measurements on
/// the 2-core machine with packs spooled to temporary files: 121 MiB with 100,000 files, 160 MiB
/// with the 200,000 the issue asks for (the re-backup's file cache and the trees being built grow
/// by ~450 bytes per file); ~60 s in all.
const BOUND_MIB: u64 = 185;

fn vm_hwm_kib() -> u64 {
    let s = fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn backup_of_many_files_and_a_2_gib_file_stays_within_the_memory_bound() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    for d in 0..FILES / 1000 {
        let sub = src.join(format!("d{d:03}"));
        fs::create_dir_all(&sub).unwrap();
        for f in 0..1000 {
            let n = d * 1000 + f;
            fs::write(
                sub.join(format!("f{f:04}")),
                format!("small file {n}\n").repeat(8),
            )
            .unwrap();
        }
    }
    let big = File::create(src.join("big.img")).unwrap();
    big.set_len(BIG_LEN).unwrap();
    for r in 0..DATA_REGIONS {
        big.write_all_at(&bytes(REGION, r + 1), r * (BIG_LEN / DATA_REGIONS))
            .unwrap();
    }
    drop(big);
    let made = t0.elapsed();

    let url = dir.path().join("repo").to_string_lossy().into_owned();
    init(&InitOptions {
        url: url.clone(),
        passphrase: Some(PASS.into()),
        algorithm: Algorithm::Aes256Gcm,
        chunker: ChunkerParams::default(),
        kdf: KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        backend: Default::default(),
        id_keys: None,
    })
    .unwrap();
    let repo = Repository::open(&url, Some(PASS)).unwrap();
    let opts = BackupOptions {
        cache_dir: Some(dir.path().join("cache")),
        streams: Vec::new(),
        read_bytes_per_sec: 0,
        dry_run: false,
        time_ns: None,
        tags: Vec::new(),
        description: String::new(),
        compression: vger_core::compress::Compression::Zstd(3),
        ..backup_opts(&[&src])
    };
    let before = vm_hwm_kib();
    let first = backup(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    let after_first = vm_hwm_kib();
    let t1 = Instant::now();
    let second = backup(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    let peak = vm_hwm_kib();
    eprintln!(
        "memory test: {FILES} files + {} GiB sparse file; made in {:.1} s; first backup {:.1} s, \
         re-backup {:.1} s; VmHWM before {} MiB, after the first backup {} MiB, peak {} MiB \
         (bound {BOUND_MIB} MiB)",
        BIG_LEN >> 30,
        made.as_secs_f64(),
        (first.snapshot.end_ns - first.snapshot.start_ns) as f64 / 1e9,
        t1.elapsed().as_secs_f64(),
        before / 1024,
        after_first / 1024,
        peak / 1024,
    );
    assert_eq!(first.snapshot.stats.files, FILES as u64 + 1);
    assert_eq!(second.snapshot.tree, first.snapshot.tree);
    assert!(
        peak / 1024 < BOUND_MIB,
        "peak resident memory {} MiB is above the bound of {BOUND_MIB} MiB",
        peak / 1024
    );
}
