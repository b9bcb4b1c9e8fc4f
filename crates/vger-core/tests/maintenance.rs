//! Snapshot delete, compact, check, repair and leases on real repositories.

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
use vger_core::{
    Algorithm, CancelToken, CheckOptions, CompactOptions, CompactPlan, ErrorCode, LeaseSettings,
    LockKind, NoProgress, RepairOptions, Repository, break_locks, check, compact, delete_snapshots,
    list_locks, plan_compact, plan_delete_snapshots, plan_repair, repair, repo_stats,
};

/// A compaction plan without a grace period (it holds the exclusive lease until dropped).
fn plan_now(repo: &Repository) -> CompactPlan {
    let opts = CompactOptions {
        grace: Duration::ZERO,
        ..Default::default()
    };
    plan_compact(repo, &opts, &NoProgress, &CancelToken::new()).unwrap()
}

fn compact_now(repo: &Repository) -> vger_core::CompactOutcome {
    compact(repo, plan_now(repo), &NoProgress, &CancelToken::new()).unwrap()
}

fn check_all(repo: &Repository, verify: bool) -> vger_core::CheckReport {
    let opts = CheckOptions {
        verify_data: verify,
        ..Default::default()
    };
    check(repo, &opts, &NoProgress, &CancelToken::new()).unwrap()
}

fn tree_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push((
            p.file_name().unwrap().to_string_lossy().into_owned(),
            fs::read(&p).unwrap(),
        ));
    }
    out.sort();
    out
}

fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    for e in fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        n += if m.is_dir() {
            dir_size(&e.path())
        } else {
            m.len()
        };
    }
    n
}

/// Three generations of a source where most data changes each time.
fn three_generations(repo: &Repository, src: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for g in 0..3u64 {
        fs::create_dir_all(src).unwrap();
        for f in 0..6u64 {
            let seed = if f == 0 { 999 } else { g * 100 + f };
            fs::write(src.join(format!("f{f}")), bytes(300_000, seed)).unwrap();
        }
        ids.push(run_backup(repo, &[src]).snapshot.id.to_hex());
    }
    ids
}

#[test]
fn delete_then_compact_gives_the_space_back() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    let ids = three_generations(&repo, &src);
    let expected = tree_files(&src);

    let plan = plan_delete_snapshots(&repo, &ids[..2]).unwrap();
    assert_eq!(plan.len(), 2);
    assert_eq!(delete_snapshots(&repo, &plan).unwrap(), 2);

    let before: Vec<_> = walk_keys(&repo);
    let dry = plan_now(&repo);
    assert!(dry.bytes_freed > 0);
    drop(dry);
    assert_eq!(walk_keys(&repo), before, "a dry run changes nothing");

    let out = compact_now(&repo);
    assert!(out.packs_deleted > 0, "{out:?}");
    let report = check_all(&repo, true);
    assert!(report.ok(), "{:?}", report.problems);

    // The space check: a fresh repository holding only the kept snapshot's data.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = new_repo(fresh_dir.path(), Algorithm::Aes256Gcm);
    run_backup(&fresh, &[&src]);
    let (kept, fresh_size) = (
        dir_size(&dir.path().join("repo")),
        dir_size(&fresh_dir.path().join("repo")),
    );
    assert!(
        (kept as f64) <= fresh_size as f64 * 1.05,
        "compacted {kept} bytes vs fresh {fresh_size}"
    );
    // And the data is still all there.
    let out_dir = dir.path().join("out");
    let r = run_restore(&repo, &ids[2], &out_dir, None).unwrap();
    assert!(r.errors.is_empty());
    assert_eq!(tree_files(&out_dir), expected);
    // Nothing left to do.
    let again = plan_now(&repo);
    assert!(again.repack.is_empty() && again.delete.is_empty());
    compact(&repo, again, &NoProgress, &CancelToken::new()).unwrap();
    assert_eq!(repo_stats(&repo).unwrap().snapshots, 1);
}

fn first_chunk(repo: &Repository, snap: &str, path: &str) -> vger_types::ChunkId {
    let l = vger_core::list_contents(repo, snap, path).unwrap();
    match &l[0].entry.content {
        vger_core::tree::Content::Chunks(c) => c[0].0,
        other => panic!("{other:?}"),
    }
}

/// Flips one byte in the middle of a blob, rewriting its pack in place.
fn flip_blob(repo: &Repository, dir: &Path, id: &vger_types::ChunkId) {
    let (pack, loc) = repo.index().get(id).unwrap();
    let path = dir.join("repo").join(vger_core::repo::pack::key(&pack));
    let mut b = fs::read(&path).unwrap();
    b[loc.offset as usize + loc.len as usize / 2] ^= 1;
    fs::remove_file(&path).unwrap();
    fs::write(&path, b).unwrap();
}

fn walk_keys(repo: &Repository) -> Vec<(String, u64)> {
    let mut v = Vec::new();
    for p in ["packs", "index", "snapshots", "keys", "locks"] {
        for o in repo.backend().list_meta(p).unwrap() {
            v.push((o.key, o.size));
        }
    }
    v
}

#[test]
fn compact_repacks_partly_used_packs_and_keeps_every_snapshot_whole() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::ChaCha20Poly1305);
    let src = dir.path().join("src");
    let ids = three_generations(&repo, &src);
    // Deleting the middle generation leaves packs partly used (f0 is shared by all).
    delete_snapshots(&repo, &plan_delete_snapshots(&repo, &ids[1..2]).unwrap()).unwrap();
    let plan = plan_compact(
        &repo,
        &CompactOptions {
            threshold_pct: 0.0,
            grace: Duration::ZERO,
            ..Default::default()
        },
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    let deletes = !plan.delete.is_empty();
    let out = compact(&repo, plan, &NoProgress, &CancelToken::new()).unwrap();
    assert!(out.packs_written > 0 || deletes, "{out:?}");
    assert_eq!(out.damaged_blobs, 0);
    assert!(check_all(&repo, true).ok());
    for id in [&ids[0], &ids[2]] {
        let d = dir.path().join(format!("out-{id}"));
        assert!(run_restore(&repo, id, &d, None).unwrap().errors.is_empty());
    }
    // A repository reopened from storage sees one consolidated index.
    let reopened = Repository::open(&repo_url(dir.path()), Some(PASS)).unwrap();
    assert_eq!(reopened.backend().list("index").unwrap().len(), 1);
}

#[test]
fn check_names_damaged_objects_and_affected_files() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("sub/victim"), bytes(50_000, 7)).unwrap();
    let snap = run_backup(&repo, &[&src]).snapshot;
    fs::write(src.join("other"), bytes(50_000, 8)).unwrap();
    run_backup(&repo, &[&src]);
    assert!(check_all(&repo, true).ok());

    // Flip one byte inside the first chunk of `victim`.
    let id = first_chunk(&repo, &snap.id.to_hex(), "sub/victim");
    flip_blob(&repo, dir.path(), &id);
    // Structure alone does not read data; --verify-data finds the flip.
    assert!(check_all(&repo, false).ok());
    let deep = check_all(&repo, true);
    assert!(!deep.ok());
    assert!(
        deep.problems
            .iter()
            .any(|p| p.message.contains(&id.to_hex()) || p.object.contains(&id.to_hex())),
        "{:?}",
        deep.problems
    );
    let hit = deep
        .damaged
        .iter()
        .find(|d| d.snapshot.id == snap.id)
        .expect("the first snapshot is affected");
    assert!(
        hit.files.iter().any(|f| f == b"sub/victim"),
        "{:?}",
        hit.files
    );
    // Restore never writes the damaged file's bytes.
    let out = dir.path().join("out");
    let r = run_restore(&repo, &snap.id.to_hex(), &out, None).unwrap();
    assert_eq!(r.errors.len(), 1);
    assert!(
        !out.join("sub/victim").exists()
            || fs::read(out.join("sub/victim")).unwrap() != bytes(50_000, 7)
    );
}

#[test]
fn repair_rebuilds_the_index_salvages_packs_and_the_next_backup_heals() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), bytes(200_000, 1)).unwrap();
    fs::write(src.join("keep"), bytes(100_000, 3)).unwrap();
    let first = run_backup(&repo, &[&src]).snapshot;
    fs::write(src.join("b"), bytes(200_000, 2)).unwrap();
    run_backup(&repo, &[&src]);
    // Damage one chunk of `a` (its pack no longer matches its id) and one index segment.
    let victim = first_chunk(&repo, &first.id.to_hex(), "a");
    flip_blob(&repo, dir.path(), &victim);
    let segs = repo.backend().list("index").unwrap();
    let seg = dir.path().join("repo").join(&segs[0]);
    let mut b = fs::read(&seg).unwrap();
    let n = b.len();
    b[n / 2] ^= 0xff;
    fs::remove_file(&seg).unwrap();
    fs::write(&seg, b).unwrap();

    let before = check_all(&repo, true);
    assert!(!before.ok());
    let plan = || {
        let opts = RepairOptions { verify_data: true };
        plan_repair(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap()
    };
    drop(plan());
    assert_eq!(repo.backend().list("index").unwrap(), segs, "dry run");
    let fixed = plan();
    assert_eq!(fixed.packs_damaged.len(), 1);
    assert_eq!(fixed.blobs_damaged, 1);
    assert!(fixed.blobs_salvaged > 0);
    repair(&repo, fixed, &CancelToken::new()).unwrap();
    // No problem with the index or packs any more; the lost chunk is named per snapshot and
    // file, and everything else is readable.
    let after = check_all(&repo, true);
    assert!(after.problems.is_empty(), "{:?}", after.problems);
    assert_eq!(after.damaged.len(), 2, "both snapshots hold `a`");
    assert!(after.damaged.iter().all(|d| d.files == [b"a".to_vec()]));
    let partial = dir.path().join("partial");
    let r = run_restore(&repo, &first.id.to_hex(), &partial, None).unwrap();
    assert_eq!(r.errors.len(), 1);
    assert_eq!(fs::read(partial.join("keep")).unwrap(), bytes(100_000, 3));
    // The source still has the file: the next backup uploads the chunk again, which heals
    // every snapshot that referenced it.
    run_backup(&repo, &[&src]);
    let healed = check_all(&repo, true);
    assert!(healed.ok(), "{:?} {:?}", healed.problems, healed.damaged);
    let out = dir.path().join("out");
    assert!(
        run_restore(&repo, &first.id.to_hex(), &out, None)
            .unwrap()
            .errors
            .is_empty()
    );
    assert_eq!(fs::read(out.join("a")).unwrap(), bytes(200_000, 1));
}

#[test]
fn leases_exclude_expire_break_and_fence() {
    let dir = tempfile::tempdir().unwrap();
    let mut repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    repo.set_lease_settings(LeaseSettings {
        ttl: Duration::from_millis(300),
        wait: Duration::ZERO,
    });
    let shared = repo.lease(LockKind::Shared, "backup").unwrap();
    let also = repo.lease(LockKind::Shared, "restore").unwrap();
    let e = repo.lease(LockKind::Exclusive, "compact").err().unwrap();
    assert_eq!(e.code(), ErrorCode::Locked);
    assert!(e.to_string().contains("backup") || e.to_string().contains("restore"));
    drop(also);
    drop(shared);
    assert!(list_locks(&repo).unwrap().is_empty(), "released on drop");

    // Fencing: a holder whose lease was broken, while an exclusive holder took over, must stop.
    let victim = repo.lease(LockKind::Shared, "backup").unwrap();
    assert_eq!(break_locks(&repo).unwrap(), 1);
    let owner = repo.lease(LockKind::Exclusive, "compact").unwrap();
    let lost = victim.ensure(&repo).unwrap_err();
    assert_eq!(lost.code(), ErrorCode::LockLost);
    drop(owner);
    drop(victim);

    // A crashed process's lock (never renewed) stops counting once it expires.
    let stale = repo.lease(LockKind::Exclusive, "compact").unwrap();
    std::mem::forget(stale);
    assert_eq!(
        repo.lease(LockKind::Shared, "backup").err().unwrap().code(),
        ErrorCode::Locked
    );
}

#[test]
fn compact_refuses_while_referenced_data_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a"), bytes(100_000, 1)).unwrap();
    run_backup(&repo, &[&src]);
    // A repair after losing a pack drops its index entries; the snapshot still references them.
    let pack = repo.backend().list("packs").unwrap()[0].clone();
    fs::remove_file(dir.path().join("repo").join(&pack)).unwrap();
    let cancel = CancelToken::new();
    let plan = plan_repair(&repo, &RepairOptions::default(), &NoProgress, &cancel).unwrap();
    repair(&repo, plan, &cancel).unwrap();
    let before = walk_keys(&repo);
    let e = plan_compact(
        &repo,
        &CompactOptions {
            grace: Duration::ZERO,
            ..Default::default()
        },
        &NoProgress,
        &cancel,
    )
    .err()
    .expect("compact refuses");
    assert_eq!(e.code(), ErrorCode::Corrupt);
    assert!(e.to_string().contains("missing"), "{e}");
    assert_eq!(walk_keys(&repo), before, "nothing was touched");
}

#[test]
fn two_exclusive_holders_never_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let mut repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    repo.set_lease_settings(LeaseSettings {
        ttl: Duration::from_secs(60),
        wait: Duration::from_secs(30),
    });
    let repo = std::sync::Arc::new(repo);
    let spans = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..3 {
                    let lease = repo.lease(LockKind::Exclusive, "compact").unwrap();
                    let start = std::time::Instant::now();
                    std::thread::sleep(Duration::from_millis(30));
                    lease.ensure(&repo).unwrap();
                    spans
                        .lock()
                        .unwrap()
                        .push((start, std::time::Instant::now()));
                    drop(lease);
                }
            });
        }
    });
    let mut spans = spans.into_inner().unwrap();
    spans.sort();
    assert_eq!(spans.len(), 9);
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "two exclusive leases overlapped");
    }
}

#[test]
fn a_waiter_never_fences_out_a_live_holder() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let mut waiter = Repository::open(&repo_url(dir.path()), Some(PASS)).unwrap();
    waiter.set_lease_settings(LeaseSettings {
        ttl: Duration::from_secs(60),
        wait: Duration::from_millis(1500),
    });
    let holder = repo.lease(LockKind::Shared, "backup").unwrap();
    std::thread::scope(|s| {
        // The waiter keeps writing and removing its own lock while it retries.
        let w = s.spawn(|| waiter.lease(LockKind::Exclusive, "compact").err().unwrap());
        let until = std::time::Instant::now() + Duration::from_millis(1200);
        let mut checks = 0;
        while std::time::Instant::now() < until {
            holder.ensure(&repo).expect("a live holder keeps its lease");
            checks += 1;
        }
        assert!(checks > 10);
        assert_eq!(w.join().unwrap().code(), ErrorCode::Locked);
    });
}

/// A backend that runs a hook once, right after a listing of `locks/` and before any lock is
/// read: there, another client's lease renewal (new lock object written, old one removed).
struct RenewalAfterListing {
    inner: vger_storage::LocalBackend,
    hook: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl vger_storage::Backend for RenewalAfterListing {
    fn get(&self, key: &str) -> vger_core::Result<Vec<u8>> {
        self.inner.get(key)
    }
    fn get_range(&self, key: &str, offset: u64, len: u64) -> vger_core::Result<Vec<u8>> {
        self.inner.get_range(key, offset, len)
    }
    fn put_new(&self, key: &str, data: &[u8]) -> vger_core::Result<()> {
        self.inner.put_new(key, data)
    }
    fn list(&self, prefix: &str) -> vger_core::Result<Vec<String>> {
        let keys = self.inner.list(prefix)?;
        if prefix == "locks"
            && let Some(hook) = self.hook.lock().unwrap().take()
        {
            hook();
        }
        Ok(keys)
    }
    fn size(&self, key: &str) -> vger_core::Result<Option<u64>> {
        self.inner.size(key)
    }
    fn delete(&self, key: &str) -> vger_core::Result<()> {
        self.inner.delete(key)
    }
    fn is_empty(&self) -> vger_core::Result<bool> {
        self.inner.is_empty()
    }
    fn create(&self) -> vger_core::Result<()> {
        self.inner.create()
    }
    fn location(&self) -> &str {
        self.inner.location()
    }
}

/// The race behind `a_waiter_never_fences_out_a_live_holder`'s rare failures: a holder's renewal
/// between a client's listing of the locks and its reading them removed the only listed object of
/// the holder, and the client took an exclusive lease beside the live shared one.
#[test]
fn a_renewal_during_a_look_does_not_hide_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let repo = std::sync::Arc::new(new_repo(dir.path(), Algorithm::Aes256Gcm));
    let holder = std::sync::Arc::new(repo.lease(LockKind::Shared, "backup").unwrap());
    let backend = std::sync::Arc::new(RenewalAfterListing {
        inner: vger_storage::LocalBackend::new(repo_url(dir.path()), &repo_url(dir.path())),
        hook: std::sync::Mutex::new(None),
    });
    let mut waiter = Repository::open_with(backend.clone(), Some(PASS)).unwrap();
    waiter.set_lease_settings(LeaseSettings {
        ttl: Duration::from_secs(60),
        wait: Duration::ZERO,
    });
    let (r, h) = (repo.clone(), holder.clone());
    *backend.hook.lock().unwrap() = Some(Box::new(move || h.ensure(&r).unwrap()));
    let e = waiter.lease(LockKind::Exclusive, "compact").err();
    assert!(backend.hook.lock().unwrap().is_none(), "the renewal ran");
    assert_eq!(e.map(|e| e.code()), Some(ErrorCode::Locked));
    holder.ensure(&repo).expect("the holder keeps its lease");
}

/// A backend whose first listing of `index/` still shows a segment that a compaction has just
/// deleted (the race between opening, which takes no lease, and a concurrent compact).
struct StaleIndexListing {
    inner: vger_storage::LocalBackend,
    stale_once: std::sync::atomic::AtomicBool,
}

impl vger_storage::Backend for StaleIndexListing {
    fn get(&self, key: &str) -> vger_core::Result<Vec<u8>> {
        self.inner.get(key)
    }
    fn get_range(&self, key: &str, offset: u64, len: u64) -> vger_core::Result<Vec<u8>> {
        self.inner.get_range(key, offset, len)
    }
    fn put_new(&self, key: &str, data: &[u8]) -> vger_core::Result<()> {
        self.inner.put_new(key, data)
    }
    fn list(&self, prefix: &str) -> vger_core::Result<Vec<String>> {
        let mut keys = self.inner.list(prefix)?;
        if prefix == "index"
            && self
                .stale_once
                .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            keys.insert(0, format!("index/{}", "0".repeat(64)));
        }
        Ok(keys)
    }
    fn size(&self, key: &str) -> vger_core::Result<Option<u64>> {
        self.inner.size(key)
    }
    fn delete(&self, key: &str) -> vger_core::Result<()> {
        self.inner.delete(key)
    }
    fn is_empty(&self) -> vger_core::Result<bool> {
        self.inner.is_empty()
    }
    fn create(&self) -> vger_core::Result<()> {
        self.inner.create()
    }
    fn location(&self) -> &str {
        self.inner.location()
    }
}

#[test]
fn opening_while_a_compaction_replaces_index_segments_reads_the_new_listing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f.bin"), bytes(50_000, 7)).unwrap();
    run_backup(&repo, &[&src]);
    let chunks = repo.index().len();
    drop(repo);
    let backend = std::sync::Arc::new(StaleIndexListing {
        inner: vger_storage::LocalBackend::new(repo_url(dir.path()), &repo_url(dir.path())),
        stale_once: std::sync::atomic::AtomicBool::new(true),
    });
    let reopened =
        Repository::open_with(backend.clone(), Some(PASS)).expect("a stale listing is retried");
    assert!(!backend.stale_once.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(reopened.index().len(), chunks);
    assert!(reopened.index_still_current().unwrap());
}

/// A repository opened before a compaction and used after it (a long-lived handle, or a restore
/// whose lease waited for the compaction) must not read packs the compaction deleted.
#[test]
fn a_handle_opened_before_a_compaction_restores_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("keep.bin"), bytes(60_000, 1)).unwrap();
    fs::write(src.join("drop.bin"), bytes(400_000, 2)).unwrap();
    let first = run_backup(&repo, &[&src]).snapshot.id.to_hex();
    fs::remove_file(src.join("drop.bin")).unwrap();
    run_backup(&repo, &[&src]);

    let reader = Repository::open(&repo_url(dir.path()), Some(PASS)).unwrap();
    delete_snapshots(&repo, &plan_delete_snapshots(&repo, &[first]).unwrap()).unwrap();
    let done = compact_now(&repo);
    assert!(
        done.packs_deleted > 0,
        "the compaction removed the old pack"
    );

    let out = dir.path().join("out");
    let restored = run_restore(&reader, "latest", &out, None).unwrap();
    assert!(restored.errors.is_empty(), "{:?}", restored.errors);
    assert_eq!(fs::read(out.join("keep.bin")).unwrap(), bytes(60_000, 1));
}
