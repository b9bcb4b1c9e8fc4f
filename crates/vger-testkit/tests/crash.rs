//! The crash campaign: kill a backup, prune, compact or repair at random points — at an injected write
//! (abort, or a torn write) and with a real SIGKILL after a random delay — then require that the
//! repository passes `check --verify-data`, every committed snapshot restores identically, the
//! next backup succeeds, and the next compact removes the debris.
//!
//! Each operation runs twice: on a local repository, and on the S3 backend (`*_s3`, against the
//! moto test server started by `scripts/peers/s3.sh`, or the one `VGER_TEST_S3_*` names; each
//! trial's repository under a fresh prefix of the bucket; `VGER_TEST_REMOTE=skip` skips them).
//! On S3 a PUT is atomic, so a "torn" trial is an abort there.
//!
//! Trials per operation: `VGER_CRASH_TRIALS` (default 25 local, 6 on S3; `npm run
//! campaign:crash` runs 200). Replay a run with `VGER_CAMPAIGN_SEED`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vger_core::{CancelToken, CompactOptions, NoProgress, Repository};
use vger_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_vger-crashpoint");

struct Pristine {
    dir: tempfile::TempDir,
    expected: HashMap<String, BTreeMap<String, String>>,
}

/// Three generations backed up under one label (files of `size` bytes); `delete_two` removes the
/// older two so that compact has work.
fn pristine(delete_two: bool, size: usize) -> Pristine {
    let dir = tempfile::tempdir().unwrap();
    let repo = init_repo(&dir.path().join("repo"));
    let mut expected = HashMap::new();
    let src = dir.path().join("src");
    let mut ids = Vec::new();
    for g in 0..3 {
        write_source(&src, g, 4, size);
        let out = vger_core::backup(
            &repo,
            &backup_opts(&src, "data"),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        let id = out.snapshot.id.to_hex();
        expected.insert(id.clone(), digest(&src));
        ids.push(id);
    }
    if delete_two {
        let plan = vger_core::plan_delete_snapshots(&repo, &ids[..2]).unwrap();
        vger_core::delete_snapshots(&repo, &plan).unwrap();
        for id in &ids[..2] {
            expected.remove(id);
        }
    }
    Pristine { dir, expected }
}

/// Where the trials' repositories live.
#[derive(Clone, Copy)]
enum Place {
    Local,
    /// A fresh prefix in the S3 test server's bucket per trial.
    S3(&'static s3::S3Peer),
}

impl Place {
    fn name(self) -> &'static str {
        match self {
            Place::Local => "local",
            Place::S3(_) => "S3",
        }
    }

    /// The size of the fixture's files: smaller on S3, where every request goes through the
    /// (slow, Python) test server, so that the default run stays short.
    fn file_size(self) -> usize {
        match self {
            Place::Local => 150_000,
            Place::S3(_) => 40_000,
        }
    }

    /// A copy of the pristine repository, and a scratch directory (restores; the local copy).
    fn fresh(self, pristine: &Path, what: &str) -> (tempfile::TempDir, Store) {
        let scratch = tempfile::tempdir().unwrap();
        let store = match self {
            Place::Local => {
                let repo = scratch.path().join("repo");
                copy_dir(pristine, &repo);
                Store::local(&repo)
            }
            Place::S3(peer) => {
                let store = peer.store(&s3::unique(what));
                upload_dir(pristine, store.backend().unwrap().as_ref()).unwrap();
                store
            }
        };
        (scratch, store)
    }

    /// `vger-crashpoint` on `store`, with the S3 settings in its environment.
    fn command(self, store: &Store, op: &str, src: Option<&Path>) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg(&store.url).arg(op);
        if let Some(s) = src {
            cmd.arg(s);
        }
        if let Place::S3(peer) = self {
            cmd.envs(peer.env());
        }
        cmd
    }

    /// Drops a passed trial's objects (the S3 server keeps them in memory).
    fn discard(self, store: &Store) {
        if let Place::S3(_) = self {
            let b = store.backend().unwrap();
            for key in b.list("").unwrap() {
                let _ = b.delete(&key);
            }
        }
    }
}

fn run(
    place: Place,
    store: &Store,
    op: &str,
    src: Option<&Path>,
    at: u64,
    fault: &str,
) -> (bool, String) {
    let out = place
        .command(store, op, src)
        .arg(at.to_string())
        .arg(fault)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Trials per operation: `VGER_CRASH_TRIALS`, else `default`.
fn trials(default: u64) -> u64 {
    std::env::var("VGER_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn campaign(op: &str, place: Place, trials: u64) {
    let started = Instant::now();
    let seed = seed("VGER_CAMPAIGN_SEED");
    let mut rng = Rng::new(seed);
    let size = place.file_size();
    let p = pristine(op == "compact", size);
    let pristine_repo = p.dir.path().join("repo");
    let new_src = p.dir.path().join("new-src");
    write_source(&new_src, 99, 6, 2 * size);
    let new_digest = digest(&new_src);
    let src_arg = (op == "backup").then_some(new_src.as_path());
    let what = format!("crash-{op}");

    // How many writes a full run makes, and how long it takes.
    let (_probe_dir, probe) = place.fresh(&pristine_repo, &what);
    let t = Instant::now();
    let (ok, stdout) = run(place, &probe, op, src_arg, 0, "abort");
    let full = t.elapsed();
    assert!(ok, "{op} without faults failed ({})", place.name());
    place.discard(&probe);
    let writes: u64 = stdout.trim().trim_start_matches("ops=").parse().unwrap();
    assert!(writes >= 3, "{op} made {writes} writes");

    let mut summary: BTreeMap<&str, u64> = BTreeMap::new();
    for trial in 0..trials {
        let (scratch, store) = place.fresh(&pristine_repo, &what);
        let how = match trial % 3 {
            0 => "abort",
            1 => "torn",
            _ => "sigkill",
        };
        let point = if how == "sigkill" {
            let delay = Duration::from_micros(rng.below(full.as_micros() as u64 + 1));
            let mut child = place
                .command(&store, op, src_arg)
                .arg("0")
                .arg("abort")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            let _ = child.kill();
            let _ = child.wait();
            format!("SIGKILL after {delay:?}")
        } else {
            let at = 1 + rng.below(writes);
            run(place, &store, op, src_arg, at, how);
            format!("{how} at write {at}/{writes}")
        };
        let ctx = format!(
            "{op} trial {trial} on {} ({point}), seed {seed}, repository {}",
            place.name(),
            store.url
        );
        let ids = verify_at(&store, scratch.path(), &p.expected, Some(&new_digest))
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        // Nothing committed is ever lost.
        match op {
            "prune" => assert!(!ids.is_empty(), "{ctx}: prune kept nothing"),
            _ => {
                for id in p.expected.keys() {
                    assert!(ids.contains(id), "{ctx}: snapshot {id} lost");
                }
            }
        }
        // The next backup works, and the next compact clears the debris.
        let r = store.open().unwrap();
        vger_core::backup(
            &r,
            &backup_opts(&new_src, "data"),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap_or_else(|e| panic!("{ctx}: next backup: {e}"));
        vger_core::plan_compact(
            &r,
            &CompactOptions {
                grace: Duration::ZERO,
                ..Default::default()
            },
            &NoProgress,
            &CancelToken::new(),
        )
        .and_then(|plan| vger_core::compact(&r, plan, &NoProgress, &CancelToken::new()))
        .unwrap_or_else(|e| panic!("{ctx}: compact: {e}"));
        let report =
            vger_core::check(&r, &Default::default(), &NoProgress, &CancelToken::new()).unwrap();
        // No pack that no index lists …
        assert!(
            report.ok() && report.unindexed_packs == 0,
            "{ctx}: after compact {report:?}"
        );
        // … and no temporary file (object).
        let left = temp_files(&store);
        assert!(left.is_empty(), "{ctx}: debris left: {left:?}");
        drop(r);
        place.discard(&store);
        *summary.entry(how).or_default() += 1;
    }
    eprintln!(
        "{op} on {}: {trials} crash trials passed ({summary:?}, {writes} writes per run, seed {seed}, {:.1?})",
        place.name(),
        started.elapsed()
    );
}

/// Temporary files (`.tmp.*`) in a local repository, or objects whose name starts with `.tmp` in
/// a remote one.
fn temp_files(store: &Store) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), out);
            } else if name.starts_with(".tmp.") {
                out.push(e.path().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    match store.local_root() {
        Some(root) => walk(&root, &mut out),
        None => out.extend(
            store
                .backend()
                .unwrap()
                .list("")
                .unwrap()
                .into_iter()
                .filter(|k| k.rsplit('/').next().is_some_and(|n| n.starts_with(".tmp"))),
        ),
    }
    out
}

/// The S3 variant: the same trials with each repository under a fresh prefix in the test
/// server's bucket (default 6 per operation, so the S3 part stays short in `cargo test`).
fn campaign_s3(op: &str) {
    match s3::peer() {
        Some(peer) => campaign(op, Place::S3(peer), trials(6)),
        None => eprintln!(
            "crash campaign ({op}) on S3: skipped ({})",
            s3::skipped().unwrap_or("no S3 peer")
        ),
    }
}

#[test]
fn crash_during_backup() {
    campaign("backup", Place::Local, trials(25));
}

#[test]
fn crash_during_backup_s3() {
    campaign_s3("backup");
}

#[test]
fn crash_during_prune() {
    campaign("prune", Place::Local, trials(25));
}

#[test]
fn crash_during_prune_s3() {
    campaign_s3("prune");
}

#[test]
fn crash_during_compact() {
    campaign("compact", Place::Local, trials(25));
}

#[test]
fn crash_during_compact_s3() {
    campaign_s3("compact");
}

#[test]
fn crash_during_repair() {
    campaign("repair", Place::Local, trials(25));
}

#[test]
fn crash_during_repair_s3() {
    campaign_s3("repair");
}

#[test]
fn a_full_disk_fails_the_backup_and_keeps_the_repository_sound() {
    let p = pristine(false, 150_000);
    let src = p.dir.path().join("new-src");
    write_source(&src, 42, 6, 300_000);
    let scratch = tempfile::tempdir().unwrap();
    let repo = scratch.path().join("repo");
    copy_dir(&p.dir.path().join("repo"), &repo);
    // The first pack write fails with ENOSPC (write 1 is the lock).
    let (_, r) = faulty(&repo, 2, Fault::NoSpace);
    let e = vger_core::backup(
        &r,
        &backup_opts(&src, "data"),
        &NoProgress,
        &CancelToken::new(),
    )
    .expect_err("a full disk fails the backup");
    assert_eq!(e.code().as_str(), "VGER_NO_SPACE");
    let ids = verify(&repo, scratch.path(), &p.expected, None).unwrap();
    assert_eq!(ids.len(), 3, "no snapshot was written, none was lost");
}

/// A refused write (a full disk or quota) never raises the generation a client reports as reached:
/// otherwise the machine remembers a generation the repository never had, and its next run is
/// refused as a rollback (seen with a server quota). Tried at every write of a backup.
#[test]
fn a_refused_write_never_raises_the_generation_this_machine_remembers() {
    let p = pristine(false, 150_000);
    let src = p.dir.path().join("new-src");
    write_source(&src, 43, 6, 300_000);
    let run = |at: u64| {
        let scratch = tempfile::tempdir().unwrap();
        let repo = scratch.path().join("repo");
        copy_dir(&p.dir.path().join("repo"), &repo);
        let (b, r) = faulty(&repo, at, Fault::NoSpace);
        let done = vger_core::backup(
            &r,
            &backup_opts(&src, "data"),
            &NoProgress,
            &CancelToken::new(),
        );
        let stored = Repository::open(&format!("file://{}", repo.display()), Some(PASS))
            .unwrap()
            .generation();
        (b.ops(), done.is_ok(), r.generation(), stored)
    };
    let (writes, ok, reached, stored) = run(u64::MAX);
    assert!(
        ok && reached == stored && writes > 3,
        "{writes} {reached} {stored}"
    );
    let mut refused = 0;
    for at in 1..=writes {
        let (_, ok, reached, stored) = run(at);
        refused += u64::from(!ok);
        assert!(
            reached <= stored,
            "write {at} refused: the handle reports generation {reached}, storage holds {stored}"
        );
    }
    assert!(refused > 0);
}
