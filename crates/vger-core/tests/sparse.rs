//! Sparse files (issue 11 item 5): holes are found with SEEK_DATA/SEEK_HOLE at backup, never read,
//! recorded in the entry's hole map, and left unallocated at restore.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]
#![allow(clippy::print_stderr)] // the figures measured, and why a test cannot run here

mod common;

use std::fs::{self, File};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::time::Instant;

use common::{PASS, bytes, run_backup, run_restore};
use vger_core::tree::{Content, Entry};
use vger_core::{Algorithm, ChunkerParams, InitOptions, KdfParams, Repository, init};

const GIB: u64 = 1 << 30;

/// A repository with the default chunker (chunks up to 8 MiB), where a chunk of zeros around a
/// little data is what made a sparse file come back 8 MiB allocated.
fn default_repo(dir: &Path) -> Repository {
    let url = dir.join("repo").to_string_lossy().into_owned();
    init(&InitOptions {
        url: url.clone(),
        passphrase: Some(PASS.into()),
        algorithm: Algorithm::ChaCha20Poly1305,
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
    Repository::open(&url, Some(PASS)).unwrap()
}

/// A file of `size` bytes with `data` written at each offset, the rest never written.
fn sparse_file(path: &Path, size: u64, data: &[(u64, Vec<u8>)]) {
    let f = File::create(path).unwrap();
    f.set_len(size).unwrap();
    for (off, d) in data {
        f.write_all_at(d, *off).unwrap();
    }
}

fn allocated(path: &Path) -> u64 {
    fs::metadata(path).unwrap().blocks() * 512
}

/// The data extents of a file (SEEK_DATA/SEEK_HOLE); outside them it reads as zeros.
fn extents(f: &File, size: u64) -> Vec<(u64, u64)> {
    use nix::unistd::{Whence, lseek};
    let mut out = Vec::new();
    let mut pos = 0i64;
    while (pos as u64) < size {
        let Ok(data) = lseek(f, pos, Whence::SeekData) else {
            break;
        };
        let hole = lseek(f, data, Whence::SeekHole).unwrap();
        out.push((data as u64, hole as u64));
        pos = hole;
    }
    out
}

/// Compares two files byte for byte. Reading gigabytes of holes takes minutes on a busy machine,
/// so only the ranges that are data in either file are read: outside them both read as zeros.
fn same_content(a: &Path, b: &Path) -> bool {
    let (fa, fb) = (File::open(a).unwrap(), File::open(b).unwrap());
    let size = fa.metadata().unwrap().len();
    if fb.metadata().unwrap().len() != size {
        return false;
    }
    let mut ranges = extents(&fa, size);
    ranges.extend(extents(&fb, size));
    ranges.sort();
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut done = 0u64;
    for (start, end) in ranges {
        let mut at = start.max(done);
        while at < end {
            let n = (end - at).min(1 << 20) as usize;
            fa.read_exact_at(&mut x[..n], at).unwrap();
            fb.read_exact_at(&mut y[..n], at).unwrap();
            if x[..n] != y[..n] {
                return false;
            }
            at += n as u64;
        }
        done = done.max(end);
    }
    true
}

fn stored_bytes(e: &Entry) -> u64 {
    match &e.content {
        Content::Chunks(c) => c.iter().map(|(_, n)| u64::from(*n)).sum(),
        _ => panic!("not a file"),
    }
}

#[test]
fn sparse_files_keep_their_holes_and_their_holes_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    // The file of the issue: 2 GiB, 4 KiB of data (in the middle).
    sparse_file(&src.join("big"), 2 * GIB, &[(GIB, bytes(4096, 1))]);
    // Several holes, data at the start, in between and at the very end.
    let size = 64 << 20;
    let several = [
        (0, bytes(8192, 2)),
        (5 << 20, bytes(4096, 3)),
        (20 << 20, bytes(100_000, 4)),
        (size - 4096, bytes(4096, 5)),
    ];
    sparse_file(&src.join("several"), size, &several);
    // Nothing but a hole.
    sparse_file(&src.join("hole"), 100 << 20, &[]);
    if allocated(&src.join("big")) > 64 << 10 {
        eprintln!("skipped: this filesystem does not keep holes");
        return;
    }

    let repo = default_repo(dir.path());
    let started = Instant::now();
    let out = run_backup(&repo, &[&src]);
    let took = started.elapsed();
    eprintln!("backup of 2.16 GB of sparse files: {took:?}");
    // What was chunked (hence read) is the data alone: the chunk lists hold only the data bytes
    // and the hole maps the rest.
    let entries = repo.read_tree(&out.snapshot.tree).unwrap();
    let by_name = |n: &[u8]| entries.iter().find(|e| e.name == n).unwrap();
    assert_eq!(stored_bytes(by_name(b"big")), 4096);
    assert_eq!(
        by_name(b"big").holes,
        vec![(0, GIB), (GIB + 4096, GIB - 4096)]
    );
    // Extents are whole filesystem blocks: the last partial block of the 100,000 bytes is data.
    let data = 8192 + 4096 + 100_000 + 4096;
    let stored = stored_bytes(by_name(b"several"));
    assert!((data..data + (64 << 10)).contains(&stored), "{stored}");
    assert_eq!(by_name(b"several").holes.len(), 3);
    assert_eq!(stored_bytes(by_name(b"hole")), 0);
    assert_eq!(by_name(b"hole").holes, vec![(0, 100 << 20)]);
    assert!(
        out.snapshot.stats.new_bytes < 1 << 20,
        "{:?}",
        out.snapshot.stats
    );
    assert_eq!(out.snapshot.stats.bytes, 2 * GIB + size + (100 << 20));

    let dest = dir.path().join("out");
    let started = Instant::now();
    let r = run_restore(&repo, "latest", &dest, None).unwrap();
    eprintln!("restore: {:?}", started.elapsed());
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    for (name, most) in [("big", 64 << 10), ("several", 512 << 10), ("hole", 0)] {
        let (a, b) = (src.join(name), dest.join(name));
        assert!(same_content(&a, &b), "{name} differs");
        assert!(
            allocated(&b) <= most,
            "{name}: {} bytes allocated after restore",
            allocated(&b)
        );
    }

    // Unchanged, the next backup takes chunks and holes from its parent: the same tree.
    let again = run_backup(&repo, &[&src]);
    assert_eq!(again.snapshot.tree, out.snapshot.tree);
    assert_eq!(again.snapshot.stats.new_chunks, 0);
}

#[test]
fn a_hard_link_restored_without_its_first_link_keeps_the_holes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    sparse_file(&src.join("a"), 32 << 20, &[(16 << 20, bytes(5000, 9))]);
    fs::hard_link(src.join("a"), src.join("b")).unwrap();
    if allocated(&src.join("a")) > 64 << 10 {
        eprintln!("skipped: this filesystem does not keep holes");
        return;
    }
    let repo = default_repo(dir.path());
    run_backup(&repo, &[&src]);
    let dest = dir.path().join("out");
    let r = run_restore(&repo, "latest", &dest, Some("b")).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(same_content(&src.join("b"), &dest.join("b")));
    assert!(allocated(&dest.join("b")) <= 64 << 10);
}
