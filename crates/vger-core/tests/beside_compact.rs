//! Backups beside compaction (issue 11 item 3) and replayed index segments (item 9), on real
//! repositories. A compaction is run from inside a backup's progress callback, so it switches
//! the index while that backup is between its walk and its commit, every time.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);
use std::time::Duration;

use common::*;
use vger_core::{
    Algorithm, CancelToken, CheckOptions, CompactOptions, Event, LeaseSettings, NoProgress,
    Progress, Repository, backup, check, compact, delete_snapshots, plan_compact,
    plan_delete_snapshots,
};

fn compact_with(repo: &Repository) -> vger_core::CompactOutcome {
    let opts = CompactOptions {
        threshold_pct: 0.0,
        grace: Duration::ZERO,
        ..Default::default()
    };
    let plan = plan_compact(repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    compact(repo, plan, &NoProgress, &CancelToken::new()).unwrap()
}

fn assert_clean(repo: &Repository) {
    let opts = CheckOptions {
        verify_data: true,
        ..Default::default()
    };
    let r = check(repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    assert!(
        r.ok(),
        "check found problems: {:?} {:?}",
        r.problems,
        r.damaged
    );
    assert_eq!(r.unindexed_packs, 0, "debris left behind");
}

fn restores_to(repo: &Repository, id: &str, src: &Path, scratch: &Path) {
    let dest = scratch.join(format!(
        "restore-{id}-{}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let out = run_restore(repo, id, &dest, None).unwrap();
    assert!(out.errors.is_empty(), "restore of {id}: {:?}", out.errors);
    assert_eq!(describe_tree(&dest), describe_tree(src), "snapshot {id}");
}

/// Runs a whole compaction (on its own repository handle, lease wait 0) at the first progress
/// event of the backup it is given to.
struct CompactDuring<'a> {
    other: &'a Repository,
    done: Mutex<Option<vger_core::CompactOutcome>>,
}

impl Progress for CompactDuring<'_> {
    fn event(&self, _event: Event) {
        let mut done = self.done.lock().unwrap();
        if done.is_none() {
            *done = Some(compact_with(self.other));
        }
    }
}

#[test]
fn a_backup_commits_while_a_compaction_drops_what_it_deduplicated_against() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path(), Algorithm::ChaCha20Poly1305);
    let (old, keep) = (tmp.path().join("old"), tmp.path().join("keep"));
    fs::create_dir_all(&old).unwrap();
    fs::create_dir_all(&keep).unwrap();
    fs::write(old.join("a.bin"), bytes(300_000, 1)).unwrap();
    fs::write(keep.join("b.bin"), bytes(200_000, 2)).unwrap();
    let s1 = run_backup(&repo, &[&old]).snapshot.id.to_hex();
    let s2 = run_backup(&repo, &[&keep]).snapshot.id.to_hex();
    // S1 goes: its chunks are now unused, and a compaction would drop them.
    let plan = plan_delete_snapshots(&repo, std::slice::from_ref(&s1)).unwrap();
    delete_snapshots(&repo, &plan).unwrap();

    // A new backup of the same content deduplicates against those chunks, and a compaction runs
    // (and drops them) while it is under way.
    let mut other = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    other.set_lease_settings(LeaseSettings {
        wait: Duration::ZERO,
        ..LeaseSettings::default()
    });
    let during = CompactDuring {
        other: &other,
        done: Mutex::new(None),
    };
    let writer = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    let s3 = backup(&writer, &backup_opts(&[&old]), &during, &CancelToken::new()).unwrap();
    let outcome = during.done.lock().unwrap().take().unwrap();
    assert!(
        outcome.packs_pending > 0,
        "the compaction kept the retired packs for the running backup: {outcome:?}"
    );
    assert_eq!(
        s3.snapshot.stats.stored_bytes, 0,
        "the backup stored nothing new: it deduplicated"
    );

    let fresh = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    let s3 = s3.snapshot.id.to_hex();
    restores_to(&fresh, &s3, &old, tmp.path());
    restores_to(&fresh, &s2, &keep, tmp.path());
    // The next compaction, with the backup gone, deletes the retired packs except those the
    // backup indexed again: here it indexed every one again (it stored nothing new), so nothing
    // goes, and every pack left is fully used (a compaction at threshold 0 repacks none);
    // everything still restores and checks clean.
    let next = compact_with(&fresh);
    assert_eq!((next.packs_deleted, next.packs_written), (0, 0), "{next:?}");
    assert_eq!(
        fs::read_dir(repo_path(tmp.path(), "pending"))
            .unwrap()
            .count(),
        0
    );
    let fresh = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    restores_to(&fresh, &s3, &old, tmp.path());
    restores_to(&fresh, &s2, &keep, tmp.path());
    assert_clean(&fresh);
}

fn repo_path(dir: &Path, sub: &str) -> std::path::PathBuf {
    dir.join("repo").join(sub)
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn a_replayed_index_segment_is_ignored_and_never_deduplicated_against() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path(), Algorithm::ChaCha20Poly1305);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(a.join("a.bin"), bytes(250_000, 3)).unwrap();
    fs::write(b.join("b.bin"), bytes(250_000, 4)).unwrap();
    let s1 = run_backup(&repo, &[&a]).snapshot.id.to_hex();
    let s2 = run_backup(&repo, &[&b]).snapshot.id.to_hex();
    let saved: Vec<(std::path::PathBuf, Vec<u8>)> = files_under(&repo_path(tmp.path(), "index"))
        .into_iter()
        .map(|p| {
            let b = fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    assert_eq!(saved.len(), 2);
    let plan = plan_delete_snapshots(&repo, std::slice::from_ref(&s1)).unwrap();
    delete_snapshots(&repo, &plan).unwrap();
    compact_with(&repo);
    // A rolled-back host (or a sync tool) puts the old segments back.
    for (p, b) in &saved {
        fs::write(p, b).unwrap();
    }
    let fresh = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    let replayed = fresh.replayed_segments();
    assert_eq!(replayed.len(), 2, "{replayed:?}");
    assert!(
        fresh
            .warnings()
            .iter()
            .any(|w| w.message.contains("rolled back"))
    );
    restores_to(&fresh, &s2, &b, tmp.path());
    // The next backup of A must store A again, not reference the chunks the replayed segment
    // names in a pack that is gone.
    let s3 = run_backup(&fresh, &[&a]);
    assert!(
        s3.snapshot.stats.stored_bytes > 200_000,
        "{:?}",
        s3.snapshot.stats
    );
    let fresh = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    restores_to(&fresh, &s3.snapshot.id.to_hex(), &a, tmp.path());
    // Compaction removes the replayed segments; afterwards the repository checks clean.
    compact_with(&fresh);
    let fresh = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    assert!(fresh.replayed_segments().is_empty());
    assert_clean(&fresh);
}

#[test]
fn a_backup_never_deduplicates_against_a_pack_that_is_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path(), Algorithm::ChaCha20Poly1305);
    let a = tmp.path().join("a");
    fs::create_dir_all(&a).unwrap();
    fs::write(a.join("a.bin"), bytes(250_000, 5)).unwrap();
    run_backup(&repo, &[&a]);
    // Every pack vanishes while the index still names them (a host that lost data).
    for p in files_under(&repo_path(tmp.path(), "packs")) {
        fs::remove_file(p).unwrap();
    }
    let fresh = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    let out = run_backup(&fresh, &[&a]);
    assert!(out.snapshot.stats.stored_bytes > 200_000, "stored again");
    assert!(
        out.warnings
            .iter()
            .any(|w| w.message.contains("storage does not have it")),
        "{:?}",
        out.warnings
    );
    let fresh = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    restores_to(&fresh, &out.snapshot.id.to_hex(), &a, tmp.path());
}

#[test]
fn a_maintenance_lease_coexists_with_shared_ones_and_excludes_its_own_kind() {
    use vger_core::{ErrorCode, LockKind};
    let tmp = tempfile::tempdir().unwrap();
    let mut repo = new_repo(tmp.path(), Algorithm::ChaCha20Poly1305);
    repo.set_lease_settings(LeaseSettings {
        wait: Duration::ZERO,
        ..LeaseSettings::default()
    });
    let backup = repo.lease(LockKind::Shared, "backup").unwrap();
    let compact = repo.lease(LockKind::Maintenance, "compact").unwrap();
    let restore = repo.lease(LockKind::Shared, "restore").unwrap();
    for kind in [LockKind::Maintenance, LockKind::Exclusive] {
        let e = repo.lease(kind, "second").err().unwrap();
        assert_eq!(e.code(), ErrorCode::Locked, "{kind:?}");
    }
    drop((backup, restore));
    assert_eq!(
        repo.lease(LockKind::Exclusive, "repair")
            .err()
            .unwrap()
            .code(),
        ErrorCode::Locked
    );
    drop(compact);
    repo.lease(LockKind::Exclusive, "repair").unwrap();
}

/// Runs a whole compaction once the backup it is given to has written a checkpoint segment.
struct CompactAfterCheckpoint<'a> {
    other: &'a Repository,
    index_dir: std::path::PathBuf,
    done: Mutex<Option<vger_core::CompactOutcome>>,
}

impl Progress for CompactAfterCheckpoint<'_> {
    fn event(&self, _event: Event) {
        let mut done = self.done.lock().unwrap();
        if done.is_none() && fs::read_dir(&self.index_dir).unwrap().count() > 0 {
            *done = Some(compact_with(self.other));
        }
    }
}

#[test]
fn a_first_backup_notices_a_compaction_that_consolidated_its_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    new_repo(tmp.path(), Algorithm::ChaCha20Poly1305);
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    for i in 0..12 {
        fs::write(src.join(format!("f{i}")), bytes(700_000, 100 + i)).unwrap();
    }
    let mut writer = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    writer.set_pack_target(1 << 20);
    let other = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    let during = CompactAfterCheckpoint {
        other: &other,
        index_dir: repo_path(tmp.path(), "index"),
        done: Mutex::new(None),
    };
    let out = backup(&writer, &backup_opts(&[&src]), &during, &CancelToken::new()).unwrap();
    let compacted = during.done.lock().unwrap().take();
    assert!(
        compacted.is_some_and(|c| c.packs_pending > 0),
        "a compaction ran mid-backup and retired the checkpointed packs"
    );
    let fresh = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    restores_to(&fresh, &out.snapshot.id.to_hex(), &src, tmp.path());
    compact_with(&fresh);
    let fresh = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    restores_to(&fresh, &out.snapshot.id.to_hex(), &src, tmp.path());
    assert_clean(&fresh);
}

/// Runs a whole backup (on its own repository handle) at the first progress event of the
/// compaction plan it is given to: the backup commits and ends after the compaction loaded its
/// index and listed the snapshots, before it lists the packs.
struct BackupDuring<'a> {
    writer: &'a Repository,
    src: &'a Path,
    done: Mutex<Option<vger_core::BackupOutcome>>,
}

impl Progress for BackupDuring<'_> {
    fn event(&self, _event: Event) {
        let mut done = self.done.lock().unwrap();
        if done.is_none() {
            *done = Some(run_backup(self.writer, &[self.src]));
        }
    }
}

#[test]
fn a_compaction_never_takes_the_packs_of_a_backup_that_ended_while_it_marked_for_debris() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path(), Algorithm::ChaCha20Poly1305);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(a.join("a.bin"), bytes(250_000, 7)).unwrap();
    fs::write(b.join("b.bin"), bytes(250_000, 8)).unwrap();
    let s1 = run_backup(&repo, &[&a]).snapshot.id.to_hex();
    // The compaction has loaded the index without the packs of B's backup; when it lists the
    // packs, that backup is over and no other client holds a lease.
    let writer = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    let during = BackupDuring {
        writer: &writer,
        src: &b,
        done: Mutex::new(None),
    };
    let opts = CompactOptions {
        threshold_pct: 0.0,
        grace: Duration::ZERO,
        ..Default::default()
    };
    let plan = plan_compact(&repo, &opts, &during, &CancelToken::new()).unwrap();
    let s2 = during.done.lock().unwrap().take().unwrap();
    assert!(
        s2.snapshot.stats.stored_bytes > 200_000,
        "B stored new packs"
    );
    assert!(
        plan.orphans.is_empty(),
        "packs an index segment names are not debris: {:?}",
        plan.orphans
    );
    compact(&repo, plan, &NoProgress, &CancelToken::new()).unwrap();
    let fresh = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    restores_to(&fresh, &s2.snapshot.id.to_hex(), &b, tmp.path());
    restores_to(&fresh, &s1, &a, tmp.path());
    assert_clean(&fresh);
}

#[test]
fn a_compaction_waits_for_a_committing_backup_to_index_what_its_snapshot_references() {
    use vger_core::{ErrorCode, LockKind};
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path(), Algorithm::ChaCha20Poly1305);
    let a = tmp.path().join("a");
    fs::create_dir_all(&a).unwrap();
    fs::write(a.join("a.bin"), bytes(250_000, 9)).unwrap();
    let s1 = run_backup(&repo, &[&a]).snapshot.id.to_hex();
    // The snapshot exists but the index does not name its data yet: a backup between writing
    // its snapshot and indexing again what a compaction dropped under it.
    let segments = files_under(&repo_path(tmp.path(), "index"));
    let aside = tmp.path().join("aside");
    fs::create_dir_all(&aside).unwrap();
    for (i, p) in segments.iter().enumerate() {
        fs::rename(p, aside.join(i.to_string())).unwrap();
    }
    let opts = CompactOptions {
        threshold_pct: 0.0,
        grace: Duration::ZERO,
        ..Default::default()
    };
    // With nobody else holding a lease, that is damage: the plan refuses at once.
    let e = plan_compact(&repo, &opts, &NoProgress, &CancelToken::new())
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::Corrupt, "{e}");
    // With that backup's lease live, the plan waits for the index to name the data.
    let (started, ready) = std::sync::mpsc::channel();
    let url = repo_url(tmp.path());
    let committer = std::thread::spawn(move || {
        let other = Repository::open(&url, Some(PASS)).unwrap();
        let lease = other.lease(LockKind::Shared, "backup").unwrap();
        started.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(400));
        for (i, p) in segments.iter().enumerate() {
            fs::rename(aside.join(i.to_string()), p).unwrap();
        }
        drop(lease);
    });
    ready.recv().unwrap();
    let plan = plan_compact(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    compact(&repo, plan, &NoProgress, &CancelToken::new()).unwrap();
    committer.join().unwrap();
    let fresh = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    restores_to(&fresh, &s1, &a, tmp.path());
    assert_clean(&fresh);
}
