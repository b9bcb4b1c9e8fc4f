//! The file cache and its stand-in, the parent snapshot: unchanged files keep their chunks,
//! changed ones are read again, and a damaged cache never changes what is stored.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]
#![allow(clippy::print_stderr)] // a test that cannot run here says why

mod common;

use std::fs;
use std::path::Path;

use common::*;
use vger_core::{
    Algorithm, BackupOptions, CancelToken, NoProgress, Repository, backup, list_contents,
};

fn tree(root: &Path) {
    fs::create_dir_all(root.join("a/b")).unwrap();
    fs::write(root.join("a/one.bin"), bytes(50_000, 1)).unwrap();
    fs::write(root.join("a/b/two.txt"), b"two\n").unwrap();
    fs::write(root.join("three.bin"), bytes(20_000, 3)).unwrap();
}

fn run(repo: &Repository, src: &Path, cache: Option<&Path>) -> vger_core::BackupOutcome {
    let opts = BackupOptions {
        cache_dir: cache.map(Path::to_path_buf),
        streams: Vec::new(),
        read_bytes_per_sec: 0,
        dry_run: false,
        time_ns: None,
        tags: Vec::new(),
        description: String::new(),
        ..backup_opts(&[src])
    };
    backup(repo, &opts, &NoProgress, &CancelToken::new()).unwrap()
}

fn restored_equals(repo: &Repository, snap: &str, src: &Path, dest: &Path) {
    run_restore(repo, snap, dest, None).unwrap();
    for rel in ["a/one.bin", "a/b/two.txt", "three.bin"] {
        assert_eq!(
            fs::read(src.join(rel)).unwrap(),
            fs::read(dest.join(rel)).unwrap(),
            "{rel}"
        );
    }
}

/// Same size and mtime but new content: the ctime differs, so the file is read again.
fn rewrite_same_size(path: &Path, seed: u64) {
    let m = fs::metadata(path).unwrap();
    let mtime = filetime::FileTime::from_last_modification_time(&m);
    fs::write(path, bytes(m.len() as usize, seed)).unwrap();
    filetime::set_file_mtime(path, mtime).unwrap();
}

fn cache_files(cache: &Path) -> Vec<std::path::PathBuf> {
    fs::read_dir(cache.join("files"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

fn age(src: &Path) {
    // Files changed in the second the backup starts are not cached: make them older.
    let t = filetime::FileTime::from_unix_time(1_700_000_000, 0);
    for rel in ["a/one.bin", "a/b/two.txt", "three.bin"] {
        filetime::set_file_mtime(src.join(rel), t).unwrap();
    }
}

#[test]
fn cache_reuses_unchanged_files_and_reads_changed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (src, cache) = (dir.path().join("src"), dir.path().join("cache"));
    tree(&src);
    age(&src);
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let first = run(&repo, &src, Some(&cache));
    assert_eq!(
        cache_files(&cache).len(),
        1,
        "one cache file per repository and sources"
    );
    let second = run(&repo, &src, Some(&cache));
    assert_eq!(first.snapshot.tree, second.snapshot.tree);
    assert_eq!(second.snapshot.stats.files, 3);
    assert_eq!(second.snapshot.stats.bytes, first.snapshot.stats.bytes);

    rewrite_same_size(&src.join("a/one.bin"), 9);
    let third = run(&repo, &src, Some(&cache));
    assert_ne!(third.snapshot.tree, first.snapshot.tree);
    restored_equals(
        &repo,
        &third.snapshot.id.to_hex(),
        &src,
        &dir.path().join("out"),
    );
}

#[test]
fn a_damaged_cache_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (src, cache) = (dir.path().join("src"), dir.path().join("cache"));
    tree(&src);
    age(&src);
    let repo = new_repo(dir.path(), Algorithm::ChaCha20Poly1305);
    run(&repo, &src, Some(&cache));
    let file = cache_files(&cache).pop().unwrap();
    let mut b = fs::read(&file).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 1;
    fs::write(&file, &b).unwrap();
    rewrite_same_size(&src.join("three.bin"), 7);
    let again = run(&repo, &src, Some(&cache));
    restored_equals(
        &repo,
        &again.snapshot.id.to_hex(),
        &src,
        &dir.path().join("out"),
    );
    // Another repository's key does not authenticate this repository's cache either.
    let other = new_repo(&dir.path().join("other"), Algorithm::Aes256Gcm);
    let o = run(&other, &src, Some(&cache));
    restored_equals(
        &other,
        &o.snapshot.id.to_hex(),
        &src,
        &dir.path().join("out2"),
    );
}

#[test]
fn without_a_cache_the_parent_snapshot_stands_in() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    tree(&src);
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let first = run(&repo, &src, None);
    let second = run(&repo, &src, None);
    assert_eq!(first.snapshot.tree, second.snapshot.tree);
    rewrite_same_size(&src.join("a/b/two.txt"), 3);
    fs::write(src.join("a/new.txt"), b"new").unwrap();
    let third = run(&repo, &src, None);
    restored_equals(
        &repo,
        &third.snapshot.id.to_hex(),
        &src,
        &dir.path().join("out"),
    );
    assert_eq!(
        fs::read(dir.path().join("out/a/new.txt")).unwrap(),
        b"new".to_vec()
    );
}

/// The cache vouches for its entries only while every index segment it names is still in the
/// index: after a compaction dropped the chunks of an unchanged file, the file is read and
/// stored again instead of being referenced from a cache entry whose chunks are gone.
#[test]
fn a_cache_is_not_trusted_past_a_compaction_that_dropped_its_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (src, cache) = (dir.path().join("src"), dir.path().join("cache"));
    tree(&src);
    age(&src);
    // Changed (ctime) in an earlier second than the backup starts, so the files are cached.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let first = run(&repo, &src, Some(&cache));
    assert!(first.bytes_read > 70_000);
    let unchanged = run(&repo, &src, Some(&cache));
    assert_eq!(unchanged.bytes_read, 0, "vouched for: nothing is read");

    // Every snapshot goes and a compaction removes their data and replaces the segments.
    let ids: Vec<String> = [&first, &unchanged]
        .iter()
        .map(|o| o.snapshot.id.to_hex())
        .collect();
    let plan = vger_core::plan_delete_snapshots(&repo, &ids).unwrap();
    vger_core::delete_snapshots(&repo, &plan).unwrap();
    let opts = vger_core::CompactOptions {
        threshold_pct: 0.0,
        grace: std::time::Duration::ZERO,
        ..Default::default()
    };
    let plan = vger_core::plan_compact(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    vger_core::compact(&repo, plan, &NoProgress, &CancelToken::new()).unwrap();

    let fresh = Repository::open(&repo_url(dir.path()), Some(PASS)).unwrap();
    let again = run(&fresh, &src, Some(&cache));
    assert_eq!(
        again.bytes_read, first.bytes_read,
        "every file is read again"
    );
    restored_equals(
        &fresh,
        &again.snapshot.id.to_hex(),
        &src,
        &dir.path().join("out"),
    );
    let report = vger_core::check(
        &fresh,
        &Default::default(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

/// The cache keeps each file's extended attributes, so an unchanged file's are not listed again;
/// changing one changes the file's ctime, and the next backup lists and records the new value.
/// A cache written with xattrs turned off has none to give: they are listed again.
#[test]
fn unchanged_files_keep_their_xattrs_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (src, cache) = (dir.path().join("src"), dir.path().join("cache"));
    tree(&src);
    let file = src.join("a/one.bin");
    if xattr::set(&file, "user.vger", b"one").is_err() {
        eprintln!("skipped: this filesystem has no user xattrs");
        return;
    }
    age(&src);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let with = |xattrs: bool| {
        let opts = BackupOptions {
            cache_dir: Some(cache.clone()),
            filter: vger_core::SourceFilter {
                xattrs,
                ..Default::default()
            },
            ..backup_opts(&[&src])
        };
        let out = backup(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
        let list = list_contents(&repo, &out.snapshot.id.to_hex(), "a/one.bin").unwrap();
        (out, list[0].entry.xattrs.clone())
    };
    let one = vec![(b"user.vger".to_vec(), b"one".to_vec())];
    // The source's two directories and three files.
    let (first, x) = with(true);
    assert_eq!((first.xattr_lists, x), (5, one.clone()));
    let (second, x) = with(true);
    assert_eq!(second.bytes_read, 0);
    assert_eq!(
        (second.xattr_lists, x),
        (2, one.clone()),
        "the directories only"
    );

    xattr::set(&file, "user.vger", b"two").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (third, x) = with(true);
    assert_eq!(third.xattr_lists, 3, "and the file whose ctime changed");
    assert_eq!(x, vec![(b"user.vger".to_vec(), b"two".to_vec())]);

    let (off, x) = with(false);
    assert_eq!((off.xattr_lists, x), (0, vec![]));
    let (on, x) = with(true);
    assert_eq!(on.xattr_lists, 5, "the cache had no xattrs to give");
    assert_eq!(x, vec![(b"user.vger".to_vec(), b"two".to_vec())]);
    let (again, _) = with(true);
    assert_eq!(again.xattr_lists, 2);
}

/// A tree the scan-ahead (`scan.rs`) works through: many directories, nested, and one with more
/// entries than a scan thread looks at (2,048; the walker looks at the rest). The files a thread
/// looked at carry the cache key it computed, the rest the walker's own: the second backup must
/// find every file unchanged, and the restore must equal the source.
#[test]
fn a_tree_scanned_ahead_is_stored_whole_and_found_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (src, cache) = (dir.path().join("src"), dir.path().join("cache"));
    let old = filetime::FileTime::from_unix_time(1_700_000_000, 0);
    let mut files = 0;
    for d in 0..40 {
        let sub = src.join(format!("d{d:02}")).join(format!("e{}", d % 3));
        fs::create_dir_all(&sub).unwrap();
        for f in 0..(d % 5 + 1) {
            let p = sub.join(format!("f{f}"));
            fs::write(&p, bytes(100 + d * 7 + f, (d * 10 + f) as u64)).unwrap();
            filetime::set_file_mtime(&p, old).unwrap();
            files += 1;
        }
    }
    let wide = src.join("wide");
    fs::create_dir(&wide).unwrap();
    for f in 0..2_100 {
        let p = wide.join(format!("w{f:04}"));
        fs::write(&p, format!("{f}\n")).unwrap();
        filetime::set_file_mtime(&p, old).unwrap();
        files += 1;
    }
    // Files whose ctime falls in the second a backup starts are not cached.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let first = run(&repo, &src, Some(&cache));
    assert_eq!(first.snapshot.stats.files, files as u64);
    assert_eq!(first.changes.new, files as u64);
    let second = run(&repo, &src, Some(&cache));
    assert_eq!(second.snapshot.tree, first.snapshot.tree);
    assert_eq!(
        (second.changes.unmodified, second.bytes_read),
        (files as u64, 0),
        "every file found in the cache, none read"
    );
    let out = dir.path().join("out");
    run_restore(&repo, &second.snapshot.id.to_hex(), &out, None).unwrap();
    assert_eq!(describe_tree(&out), describe_tree(&src));
}
