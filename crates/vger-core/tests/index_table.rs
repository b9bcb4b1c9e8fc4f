//! The index kept as a memory-mapped table in the cache directory (issue 18 item 5): it answers
//! exactly as the index built from every segment does, an open after a backup reads only the new
//! segment, a compaction or a tampered table makes it rebuilt, and replayed or rolled-back
//! segments are still recognised without reading the segments the table holds.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use vger_core::{
    Algorithm, CancelToken, CompactOptions, NoProgress, Repository, compact, delete_snapshots,
    plan_compact, plan_delete_snapshots,
};

type Entries = BTreeMap<[u8; 32], ([u8; 32], u32, u32, u32)>;

fn open(dir: &Path, cached: bool) -> Repository {
    let cache = dir.join("cache");
    let cache = cached.then_some(cache.as_path());
    Repository::open_at_cached(&repo_url(dir), &Default::default(), Some(PASS), cache).unwrap()
}

fn entries(repo: &Repository) -> Entries {
    repo.index()
        .iter()
        .map(|(id, pack, l)| (id.0, (pack.0, l.offset, l.len, l.raw_len)))
        .collect()
}

fn table(dir: &Path) -> PathBuf {
    let index = dir.join("cache").join("index");
    let mut files: Vec<PathBuf> = fs::read_dir(index)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one table per repository, no temporary left"
    );
    files.pop().unwrap()
}

fn write_files(src: &Path, n: usize, seed: u64) {
    fs::create_dir_all(src).unwrap();
    for i in 0..n {
        let size = 3_000 + (i * 977) % 40_000;
        fs::write(
            src.join(format!("f{seed}-{i}")),
            bytes(size, seed * 1000 + i as u64),
        )
        .unwrap();
    }
}

fn compact_all(repo: &Repository) {
    let opts = CompactOptions {
        threshold_pct: 0.0,
        grace: Duration::ZERO,
        ..Default::default()
    };
    let plan = plan_compact(repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    compact(repo, plan, &NoProgress, &CancelToken::new()).unwrap();
}

#[test]
fn the_table_answers_as_the_segments_do_through_backups_compaction_and_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let repo = new_repo(dir, Algorithm::Aes256Gcm);
    let (a, b) = (dir.join("a"), dir.join("b"));
    write_files(&a, 40, 1);
    write_files(&b, 40, 2);
    let first = run_backup(&repo, &[&a]).snapshot.id.to_hex();
    run_backup(&repo, &[&b]);

    // First open with a cache directory: the table is built and mapped.
    let cached = open(dir, true);
    let whole = entries(&open(dir, false));
    assert!(whole.len() > 80);
    assert_eq!(entries(&cached), whole);
    assert_eq!(
        cached.index().mapped_len(),
        whole.len(),
        "all of it is mapped"
    );
    let built = fs::metadata(table(dir)).unwrap().ino();

    // A backup adds a segment: the next open keeps the table and adds that segment beside it.
    write_files(&dir.join("c"), 30, 3);
    run_backup(&cached, &[&dir.join("c")]);
    let again = open(dir, true);
    let whole = entries(&open(dir, false));
    assert_eq!(entries(&again), whole);
    assert_eq!(
        fs::metadata(table(dir)).unwrap().ino(),
        built,
        "not rebuilt"
    );
    assert!(again.index().mapped_len() < whole.len());
    for (id, (pack, ..)) in &whole {
        let got = again.index().get(&vger_types::ChunkId(*id)).unwrap();
        assert_eq!(got.0.0, *pack);
    }
    assert_eq!(again.generation(), open(dir, false).generation());

    // A compaction replaces the segments the table holds: the table is rebuilt.
    let plan = plan_delete_snapshots(&again, std::slice::from_ref(&first)).unwrap();
    delete_snapshots(&again, &plan).unwrap();
    compact_all(&again);
    let after = open(dir, true);
    let whole = entries(&open(dir, false));
    assert_eq!(entries(&after), whole);
    assert_eq!(after.index().mapped_len(), whole.len());
    assert_ne!(fs::metadata(table(dir)).unwrap().ino(), built, "rebuilt");

    // A table that is not authentic is ignored and rebuilt; restores still match.
    let path = table(dir);
    let mut bytes = fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    fs::write(&path, &bytes).unwrap();
    let healed = open(dir, true);
    assert_eq!(entries(&healed), whole);
    assert_ne!(fs::read(&path).unwrap(), bytes);
    let out = dir.join("out");
    run_restore(&healed, "latest", &out, None).unwrap();
    assert_eq!(describe_tree(&dir.join("c")), describe_tree(&out));
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir.join("repo").join("index"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

#[test]
fn a_replayed_segment_is_ignored_beside_a_table() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let repo = new_repo(dir, Algorithm::ChaCha20Poly1305);
    let (a, b) = (dir.join("a"), dir.join("b"));
    write_files(&a, 10, 4);
    write_files(&b, 10, 5);
    let gone = run_backup(&repo, &[&a]).snapshot.id.to_hex();
    run_backup(&repo, &[&b]);
    let old: Vec<(PathBuf, Vec<u8>)> = segment_files(dir)
        .into_iter()
        .map(|p| {
            let b = fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    let plan = plan_delete_snapshots(&repo, std::slice::from_ref(&gone)).unwrap();
    delete_snapshots(&repo, &plan).unwrap();
    compact_all(&repo);
    let compacted = open(dir, true);
    let kept = entries(&compacted);
    assert!(compacted.replayed_segments().is_empty());

    // A sync tool copies the old segments back: the table (holding the compaction's segment,
    // which names them as replaced) stays, and they are left out with a warning.
    for (p, b) in &old {
        fs::write(p, b).unwrap();
    }
    let replayed = open(dir, true);
    assert_eq!(replayed.replayed_segments().len(), old.len());
    assert_eq!(
        entries(&replayed),
        kept,
        "nothing of the replayed segments is used"
    );
    assert_eq!(
        replayed
            .replayed_segments()
            .iter()
            .map(|w| w.path.clone())
            .collect::<Vec<_>>(),
        open(dir, false)
            .replayed_segments()
            .iter()
            .map(|w| w.path.clone())
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_rolled_back_repository_is_read_as_it_is_not_as_the_table_remembers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let repo = new_repo(dir, Algorithm::ChaCha20Poly1305);
    let a = dir.join("a");
    write_files(&a, 10, 6);
    run_backup(&repo, &[&a]);
    let old: Vec<(PathBuf, Vec<u8>)> = segment_files(dir)
        .into_iter()
        .map(|p| {
            let b = fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    let first = open(dir, true);
    let (gen_first, entries_first) = (first.generation(), entries(&first));
    write_files(&dir.join("b"), 10, 7);
    run_backup(&first, &[&dir.join("b")]);
    // A table made now holds both backups' segments.
    fs::remove_file(table(dir)).unwrap();
    let newer = open(dir, true);
    assert!(newer.generation() > gen_first);
    assert_eq!(newer.index().mapped_len(), newer.index().len());
    assert!(newer.index().len() > entries_first.len());

    // The host rolls the index back to the first backup's segment alone.
    for p in segment_files(dir) {
        fs::remove_file(p).unwrap();
    }
    for (p, b) in &old {
        fs::write(p, b).unwrap();
    }
    let rolled = open(dir, true);
    assert_eq!(rolled.generation(), gen_first, "the lower generation shows");
    assert_eq!(entries(&rolled), entries_first);
}

#[test]
fn check_finds_a_damaged_segment_the_table_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let repo = new_repo(dir, Algorithm::Aes256Gcm);
    write_files(&dir.join("a"), 10, 8);
    run_backup(&repo, &[&dir.join("a")]);
    write_files(&dir.join("b"), 10, 9);
    run_backup(&repo, &[&dir.join("b")]);
    let cached = open(dir, true);
    assert_eq!(cached.index().mapped_len(), cached.index().len());
    // Storage rots one segment the table holds: an open trusts the table for it...
    let victim = segment_files(dir).remove(0);
    fs::write(&victim, b"rotten").unwrap();
    let reopened = open(dir, true);
    assert!(reopened.warnings().is_empty());
    // ...but check reads every segment and names it.
    let report = vger_core::check(
        &reopened,
        &Default::default(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    let name = victim.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        report.problems.iter().any(|p| p.object.ends_with(&name)),
        "{:?}",
        report.problems
    );
}
