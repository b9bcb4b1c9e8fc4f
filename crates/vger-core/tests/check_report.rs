//! What check and repair report (issue 11, items 5 and 10): an unreadable root or directory tree,
//! a healthy repository that needs no repair, what a salvage does to the index, and a pack moved
//! into the wrong subdirectory.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::*;
use vger_core::repo::pack;
use vger_core::tree::Content;
use vger_core::{
    Algorithm, CancelToken, CheckOptions, CompactOptions, ErrorCode, NoProgress, RepairOptions,
    Repository, check, compact, list_contents, plan_compact, plan_repair, repair,
};
use vger_types::ChunkId;

fn check_all(repo: &Repository, verify: bool) -> vger_core::CheckReport {
    let opts = CheckOptions {
        verify_data: verify,
        ..Default::default()
    };
    check(repo, &opts, &NoProgress, &CancelToken::new()).unwrap()
}

fn plan(repo: &Repository, verify: bool) -> vger_core::RepairPlan {
    let opts = RepairOptions {
        verify_data: verify,
    };
    plan_repair(repo, &opts, &NoProgress, &CancelToken::new()).unwrap()
}

/// Flips one byte in the middle of a blob, rewriting its pack in place.
fn flip_blob(repo: &Repository, dir: &Path, id: &ChunkId) {
    let (pack, loc) = repo.index().get(id).unwrap();
    let path = dir.join("repo").join(pack::key(&pack));
    let mut b = fs::read(&path).unwrap();
    b[loc.offset as usize + loc.len as usize / 2] ^= 1;
    fs::remove_file(&path).unwrap();
    fs::write(&path, b).unwrap();
}

fn reopen(dir: &Path) -> Repository {
    Repository::open(&repo_url(dir), Some(PASS)).unwrap()
}

/// A source with a file at the top and two files in `sub/`; returns the snapshot id.
fn backed_up(dir: &Path, repo: &Repository) -> vger_core::repo::snapshot::Snapshot {
    let src = dir.join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("top"), bytes(30_000, 1)).unwrap();
    fs::write(src.join("sub/a"), bytes(30_000, 2)).unwrap();
    fs::write(src.join("sub/b"), bytes(30_000, 3)).unwrap();
    run_backup(repo, &[&src]).snapshot
}

#[test]
fn an_unreadable_root_tree_is_the_whole_snapshot_not_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let snap = backed_up(dir.path(), &repo);
    flip_blob(&repo, dir.path(), &snap.tree);
    let report = check_all(&reopen(dir.path()), false);
    assert_eq!(report.damaged.len(), 1);
    let d = &report.damaged[0];
    // The root itself: the empty path, counted as a directory, not as a file.
    assert_eq!(d.files, vec![Vec::<u8>::new()]);
    assert_eq!((d.files_total, d.dirs_total), (1, 1));
}

#[test]
fn an_unreadable_directory_tree_is_named_as_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let snap = backed_up(dir.path(), &repo);
    let hex = snap.id.to_hex();
    let root = list_contents(&repo, &hex, "").unwrap();
    let sub = root
        .iter()
        .find_map(|e| match (&e.entry.content, e.entry.name.as_slice()) {
            (Content::Subtree(id), b"sub") => Some(*id),
            _ => None,
        })
        .unwrap();
    flip_blob(&repo, dir.path(), &sub);
    let report = check_all(&reopen(dir.path()), false);
    let d = &report.damaged[0];
    assert_eq!(d.files, vec![b"sub/".to_vec()]);
    assert_eq!((d.files_total, d.dirs_total), (1, 1));
}

#[test]
fn a_healthy_repository_needs_no_repair_and_repair_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    backed_up(dir.path(), &repo);
    let segments = repo.backend().list("index").unwrap();
    let p = plan(&repo, true);
    assert!(!p.needed(), "a healthy repository needs no repair");
    assert!(p.segments_replaced.is_empty());
    assert_eq!(
        (p.entries_dropped, p.entries_added, p.entries_moved),
        (0, 0, 0)
    );
    repair(&repo, p, &CancelToken::new()).unwrap();
    assert_eq!(repo.backend().list("index").unwrap(), segments);
    assert!(check_all(&repo, true).ok());
}

#[test]
fn a_salvage_counts_moved_chunks_apart_from_lost_ones() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let snap = backed_up(dir.path(), &repo);
    let hex = snap.id.to_hex();
    let top = list_contents(&repo, &hex, "top").unwrap();
    let Content::Chunks(chunks) = &top[0].entry.content else {
        panic!("top is a file")
    };
    flip_blob(&repo, dir.path(), &chunks[0].0);
    let p = plan(&repo, true);
    assert!(p.needed());
    assert_eq!(p.packs_damaged.len(), 1);
    assert_eq!(p.blobs_damaged, 1);
    assert!(p.blobs_salvaged > 0);
    // One chunk's data is gone; every salvaged one stays, at its new place; none is new.
    assert_eq!(p.entries_dropped, 1);
    assert_eq!(p.entries_moved, p.blobs_salvaged);
    assert_eq!(p.entries_added, 0);
}

#[test]
fn a_pack_in_the_wrong_subdirectory_is_reported_kept_by_compact_and_moved_back_by_repair() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let snap = backed_up(dir.path(), &repo);
    let key = repo.backend().list("packs").unwrap()[0].clone();
    let name = key.rsplit('/').next().unwrap().to_string();
    let wrong_dir = if name.starts_with("00") { "01" } else { "00" };
    let wrong = format!("packs/{wrong_dir}/{name}");
    let root = dir.path().join("repo");
    fs::create_dir_all(root.join("packs").join(wrong_dir)).unwrap();
    fs::rename(root.join(&key), root.join(&wrong)).unwrap();

    let report = check_all(&repo, false);
    assert!(!report.ok());
    assert_eq!(report.misplaced_packs, 1);
    assert_eq!(report.unindexed_packs, 0, "not debris");
    // Until it is back, what it holds cannot be restored, and check says which files.
    assert!(!report.damaged.is_empty());
    let p = report.problems.iter().find(|p| p.object == wrong).unwrap();
    assert_eq!(p.code, ErrorCode::ObjectMissing);
    assert!(p.message.contains(&key) && p.message.contains("--repair"));

    // Compact, even with no grace period, never deletes it (here it refuses to run at all, since
    // a snapshot's pack is missing from its place).
    let Err(e) = plan_compact(&repo, &no_grace(), &NoProgress, &CancelToken::new()) else {
        panic!("compact planned around a missing pack")
    };
    assert_eq!(e.code(), ErrorCode::Corrupt);
    assert!(root.join(&wrong).exists());

    let p = plan(&repo, false);
    assert!(p.needed());
    assert_eq!(
        p.packs_misplaced
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        vec![wrong.as_str()]
    );
    repair(&repo, p, &CancelToken::new()).unwrap();
    assert!(root.join(&key).exists() && !root.join(&wrong).exists());
    assert!(check_all(&repo, true).ok());
    let out = dir.path().join("out");
    let r = run_restore(&repo, &snap.id.to_hex(), &out, None).unwrap();
    assert!(r.errors.is_empty());
    assert_eq!(fs::read(out.join("sub/b")).unwrap(), bytes(30_000, 3));
}

fn no_grace() -> CompactOptions {
    CompactOptions {
        grace: Duration::ZERO,
        ..Default::default()
    }
}

#[test]
fn compact_does_not_take_a_pack_outside_its_place_for_debris() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    backed_up(dir.path(), &repo);
    let key = repo.backend().list("packs").unwrap()[0].clone();
    let name = key.rsplit('/').next().unwrap().to_string();
    // A stray copy directly under packs/ (the pack at its own key is the one indexed).
    let root = dir.path().join("repo");
    let stray = root.join("packs").join(&name);
    fs::copy(root.join(&key), &stray).unwrap();
    assert!(pack::is_misplaced(&format!("packs/{name}")) && !pack::is_misplaced(&key));
    let c = plan_compact(&repo, &no_grace(), &NoProgress, &CancelToken::new()).unwrap();
    assert!(c.orphans.is_empty(), "{:?}", c.orphans);
    compact(&repo, c, &NoProgress, &CancelToken::new()).unwrap();
    assert!(stray.exists());
    assert!(check_all(&repo, true).ok());
}
