//! The index generation (docs/format.md section 10, issue 11 item 9): it never goes down while
//! the repository is used as the format says, so a client that remembers the highest one it saw
//! can tell a repository rolled back to an older copy of itself. Here: backups raise it, a
//! compaction that retires every segment and a repair that lost the newest one still raise it,
//! and a restored older copy shows the older generation.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use vger_core::{
    Algorithm, CancelToken, CompactOptions, NoProgress, RepairOptions, Repository, compact,
    delete_snapshots, plan_compact, plan_delete_snapshots, plan_repair, repair,
};

fn reopen(dir: &Path) -> Repository {
    Repository::open(&repo_url(dir), Some(PASS)).unwrap()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir.join("repo").join("index"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            fs::copy(&p, &target).unwrap();
        }
    }
}

#[test]
fn backups_raise_the_generation_and_an_older_copy_shows_a_lower_one() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path(), Algorithm::ChaCha20Poly1305);
    assert_eq!(repo.generation(), 0, "a new repository has no segment");
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.bin"), bytes(200_000, 1)).unwrap();
    run_backup(&repo, &[&src]);
    let first = reopen(tmp.path()).generation();
    assert!(first >= 1);
    copy_dir(&tmp.path().join("repo"), &tmp.path().join("old"));

    fs::write(src.join("b.bin"), bytes(200_000, 2)).unwrap();
    run_backup(&repo, &[&src]);
    assert!(repo.generation() > first, "the handle that wrote knows");
    let second = reopen(tmp.path()).generation();
    assert!(second > first);

    // The host puts the older copy back: consistent, and one generation behind.
    fs::remove_dir_all(tmp.path().join("repo")).unwrap();
    copy_dir(&tmp.path().join("old"), &tmp.path().join("repo"));
    assert_eq!(reopen(tmp.path()).generation(), first);
}

#[test]
fn a_compaction_that_retires_every_segment_still_raises_the_generation() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path(), Algorithm::ChaCha20Poly1305);
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.bin"), bytes(300_000, 3)).unwrap();
    let id = run_backup(&repo, &[&src]).snapshot.id.to_hex();
    let before = reopen(tmp.path()).generation();
    let plan = plan_delete_snapshots(&repo, std::slice::from_ref(&id)).unwrap();
    delete_snapshots(&repo, &plan).unwrap();
    let opts = CompactOptions {
        threshold_pct: 0.0,
        grace: Duration::ZERO,
        ..Default::default()
    };
    let plan = plan_compact(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    compact(&repo, plan, &NoProgress, &CancelToken::new()).unwrap();
    let fresh = reopen(tmp.path());
    assert!(fresh.index().is_empty(), "nothing is left to index");
    assert_eq!(segments(tmp.path()).len(), 1, "an empty segment carries it");
    assert!(fresh.generation() > before);
}

#[test]
fn a_repair_that_lost_the_newest_segment_goes_above_what_the_caller_saw() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path(), Algorithm::ChaCha20Poly1305);
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.bin"), bytes(200_000, 4)).unwrap();
    run_backup(&repo, &[&src]);
    fs::write(src.join("b.bin"), bytes(200_000, 5)).unwrap();
    run_backup(&repo, &[&src]);
    let seen = reopen(tmp.path()).generation();
    // The newest segment is damaged: what can be read is one generation behind.
    let newest = segments(tmp.path())
        .into_iter()
        .find(|p| {
            let r = reopen(tmp.path());
            let bytes = fs::read(p).unwrap();
            fs::write(p, b"damaged").unwrap();
            let lower = reopen(tmp.path()).generation() < r.generation();
            fs::write(p, bytes).unwrap();
            lower
        })
        .unwrap();
    fs::write(&newest, b"damaged").unwrap();
    let damaged = reopen(tmp.path());
    assert!(damaged.generation() < seen);
    // The caller says what it saw; the repair's segments go above it.
    damaged.raise_generation(seen);
    let opts = RepairOptions { verify_data: true };
    let plan = plan_repair(&damaged, &opts, &NoProgress, &CancelToken::new()).unwrap();
    repair(&damaged, plan, &CancelToken::new()).unwrap();
    assert!(reopen(tmp.path()).generation() > seen);
}
