//! The lock of a process killed on this host never stalls the next command: kill a backup, prune
//! or compact at random points (at an injected write, or with SIGKILL after a random delay), then
//! take the lease that conflicts with it. It must be granted at once, without waiting, and a lock
//! the dead process left behind must be reported as removed.
//!
//! Replay a run with `VGER_CAMPAIGN_SEED`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vger_core::{
    CancelToken, ErrorCode, Event, LeaseSettings, LockKind, NoProgress, Progress, Repository,
};
use vger_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_vger-crashpoint");
const TRIALS: u64 = 20;

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl Progress for Recorder {
    fn event(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

fn command(repo: &Path, op: &str, src: Option<&Path>, at: u64, fault: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg(repo).arg(op);
    if let Some(s) = src {
        cmd.arg(s);
    }
    cmd.arg(at.to_string())
        .arg(fault)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd
}

fn campaign(op: &str) {
    let seed = seed("VGER_CAMPAIGN_SEED");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join("repo");
    let repo = init_repo(&pristine);
    let src = dir.path().join("src");
    let mut ids = Vec::new();
    for g in 0..3 {
        write_source(&src, g, 4, 150_000);
        let out = vger_core::backup(
            &repo,
            &backup_opts(&src, "data"),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        ids.push(out.snapshot.id.to_hex());
    }
    if op == "compact" {
        let plan = vger_core::plan_delete_snapshots(&repo, &ids[..2]).unwrap();
        vger_core::delete_snapshots(&repo, &plan).unwrap();
    }
    drop(repo);
    let new_src = dir.path().join("new-src");
    write_source(&new_src, 99, 6, 300_000);
    let src_arg = (op == "backup").then_some(new_src.as_path());

    let probe = dir.path().join("probe");
    copy_dir(&pristine, &probe);
    let t = Instant::now();
    let out = command(&probe, op, src_arg, 0, "abort").output().unwrap();
    let full = t.elapsed();
    assert!(out.status.success(), "{op} without faults failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let writes: u64 = stdout.trim().trim_start_matches("ops=").parse().unwrap();

    // The lease the next command takes: one that conflicts with the killed operation's.
    let next = if op == "compact" {
        LockKind::Shared
    } else {
        LockKind::Exclusive
    };
    let (mut left_behind, mut slowest) = (0, Duration::ZERO);
    for trial in 0..TRIALS {
        let scratch = tempfile::tempdir().unwrap();
        let path = scratch.path().join("repo");
        copy_dir(&pristine, &path);
        let point = if trial % 2 == 0 {
            let delay = Duration::from_micros(rng.below(full.as_micros() as u64 + 1));
            let mut child = command(&path, op, src_arg, 0, "abort").spawn().unwrap();
            std::thread::sleep(delay);
            let _ = child.kill();
            let _ = child.wait();
            format!("SIGKILL after {delay:?}")
        } else {
            let at = 1 + rng.below(writes);
            let _ = command(&path, op, src_arg, at, "abort").output().unwrap();
            format!("abort at write {at}/{writes}")
        };
        let ctx = format!("{op} trial {trial} ({point}), seed {seed}");
        // Lock objects only: a kill during a lock's write leaves a `.tmp.*` file, which is no lock.
        let locks_left = std::fs::read_dir(path.join("locks"))
            .unwrap()
            .filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count();
        let mut r = Repository::open(&path.to_string_lossy(), Some(PASS)).unwrap();
        // Long enough that a wait for the dead lock's lease (180 s) would show as a failure.
        r.set_lease_settings(LeaseSettings {
            ttl: Duration::from_secs(180),
            wait: Duration::from_secs(5),
        });
        let events = Arc::new(Recorder::default());
        r.set_lock_events(events.clone());
        let t = Instant::now();
        let lease = r
            .lease(next, "next")
            .unwrap_or_else(|e| panic!("{ctx}: the next command could not start: {e}"));
        let took = t.elapsed();
        slowest = slowest.max(took);
        let events = events.0.lock().unwrap();
        assert!(
            !events.iter().any(|e| matches!(e, Event::LockWait(_))),
            "{ctx}: the next command waited: {events:?}"
        );
        let removed = events
            .iter()
            .filter(|e| matches!(e, Event::Warning(w) if w.code == ErrorCode::Locked && w.message.starts_with("removed the lock of")))
            .count();
        assert_eq!(removed, locks_left, "{ctx}: {events:?}");
        assert!(took < Duration::from_secs(2), "{ctx}: took {took:?}");
        left_behind += locks_left;
        drop(lease);
    }
    assert!(
        left_behind >= 5,
        "{op}: only {left_behind} of {TRIALS} kills left a lock behind (seed {seed})"
    );
    eprintln!(
        "{op}: {TRIALS} kills, {left_behind} left a lock, next lease at most {slowest:?} (seed {seed})"
    );
}

#[test]
fn dead_backup_locks_are_removed_at_once() {
    campaign("backup");
}

#[test]
fn dead_prune_locks_are_removed_at_once() {
    campaign("prune");
}

#[test]
fn dead_compact_locks_are_removed_at_once() {
    campaign("compact");
}
