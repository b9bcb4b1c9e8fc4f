//! Browsing a snapshot: lookups by path, byte ranges equal to the file's bytes wherever they fall
//! (chunk edges, holes, the end), and a damaged pack is an error rather than wrong bytes.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::io::{Seek, SeekFrom, Write};

use common::*;
use vger_core::tree::Kind;
use vger_core::{Algorithm, BrowseCache, lookup, read_range};

fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn names(path: &str) -> Vec<Vec<u8>> {
    path.split('/').map(|n| n.as_bytes().to_vec()).collect()
}

#[test]
fn ranges_of_a_file_equal_its_bytes_wherever_they_fall() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    let data = pseudo_random(300_000, 7);
    fs::write(src.join("sub/data.bin"), &data).unwrap();
    // A sparse file: data, a 1 MiB hole, data.
    let mut f = fs::File::create(src.join("sparse.bin")).unwrap();
    f.write_all(&data[..50_000]).unwrap();
    f.seek(SeekFrom::Current(1 << 20)).unwrap();
    f.write_all(&data[50_000..90_000]).unwrap();
    drop(f);
    let sparse = fs::read(src.join("sparse.bin")).unwrap();

    let out = run_backup(&repo, &[&src]);
    let root = out.snapshot.tree;
    let cache = BrowseCache::new();
    let top = lookup(&repo, &cache, &root, &[]).unwrap().unwrap();
    assert_eq!((top.kind, top.name.len()), (Kind::Dir, 0));
    let sub = lookup(&repo, &cache, &root, &names("sub"))
        .unwrap()
        .unwrap();
    assert_eq!(sub.kind, Kind::Dir);
    let entry = lookup(&repo, &cache, &root, &names("sub/data.bin"))
        .unwrap()
        .unwrap();
    assert_eq!(entry.size, data.len() as u64);
    let sp = lookup(&repo, &cache, &root, &names("sparse.bin"))
        .unwrap()
        .unwrap();

    let mut x = 99u64;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    for (e, bytes) in [(&entry, &data), (&sp, &sparse)] {
        let size = bytes.len() as u64;
        // Whole, from the start, across the end, past the end, empty.
        assert_eq!(&read_range(&repo, &cache, e, 0, size).unwrap(), bytes);
        assert_eq!(
            read_range(&repo, &cache, e, size - 10, 100).unwrap(),
            bytes[bytes.len() - 10..]
        );
        assert!(read_range(&repo, &cache, e, size, 10).unwrap().is_empty());
        assert!(read_range(&repo, &cache, e, 5, 0).unwrap().is_empty());
        for _ in 0..200 {
            let off = next(size);
            let len = next(70_000);
            let got = read_range(&repo, &cache, e, off, len).unwrap();
            let end = (off + len).min(size) as usize;
            assert_eq!(got, bytes[off as usize..end], "offset {off} length {len}");
        }
    }
    for missing in ["nope", "sub/nope", "sub/data.bin/x"] {
        let found = lookup(&repo, &cache, &root, &names(missing)).unwrap();
        assert!(found.is_none(), "{missing}");
    }
    assert!(read_range(&repo, &cache, &sub, 0, 10).is_err());
}

#[test]
fn a_damaged_pack_is_an_error_never_wrong_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("repo");
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    let data = pseudo_random(200_000, 3);
    fs::write(src.join("f"), &data).unwrap();
    let root = run_backup(&repo, &[&src]).snapshot.tree;
    let cache = BrowseCache::new();
    let e = lookup(&repo, &cache, &root, &names("f")).unwrap().unwrap();
    // Flip one byte in the middle of every data pack.
    for pack in walk_files(&repo_dir.join("packs")) {
        let mut bytes = fs::read(&pack).unwrap();
        if bytes.len() > 150_000 {
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x40;
            fs::write(&pack, bytes).unwrap();
        }
    }
    let fresh = BrowseCache::new();
    let mut errors = 0;
    for off in (0..data.len() as u64).step_by(8192) {
        match read_range(&repo, &fresh, &e, off, 8192) {
            Ok(got) => assert_eq!(
                got,
                data[off as usize..(off as usize + 8192).min(data.len())]
            ),
            Err(err) => {
                assert_eq!(err.code(), vger_core::ErrorCode::Corrupt, "{err}");
                errors += 1;
            }
        }
    }
    assert!(errors > 0);
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}
