//! The crash campaign: kill a backup, prune, compact or repair at random points — at an injected write
//! (abort, or a torn write) and with a real SIGKILL after a random delay — then require that the
//! repository passes `check --verify-data`, every committed snapshot restores identically, the
//! next backup succeeds, and the next compact removes the debris.
//!
//! Trials per operation: `VGER_CRASH_TRIALS` (default 25; `npm run campaign:crash` runs 200).
//! Replay a run with `VGER_CAMPAIGN_SEED`.

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

/// Three generations backed up under one label; `delete_two` removes the older two so that
/// compact has work.
fn pristine(delete_two: bool) -> Pristine {
    let dir = tempfile::tempdir().unwrap();
    let repo = init_repo(&dir.path().join("repo"));
    let mut expected = HashMap::new();
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

fn run(repo: &Path, op: &str, src: Option<&Path>, at: u64, fault: &str) -> (bool, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg(repo).arg(op);
    if let Some(s) = src {
        cmd.arg(s);
    }
    let out = cmd
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

fn campaign(op: &str) {
    let trials: u64 = std::env::var("VGER_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25);
    let seed = seed("VGER_CAMPAIGN_SEED");
    let mut rng = Rng::new(seed);
    let p = pristine(op == "compact");
    let new_src = p.dir.path().join("new-src");
    write_source(&new_src, 99, 6, 300_000);
    let new_digest = digest(&new_src);
    let src_arg = (op == "backup").then_some(new_src.as_path());

    // How many writes a full run makes, and how long it takes.
    let probe = p.dir.path().join("probe");
    copy_dir(&p.dir.path().join("repo"), &probe);
    let t = Instant::now();
    let (ok, stdout) = run(&probe, op, src_arg, 0, "abort");
    let full = t.elapsed();
    assert!(ok, "{op} without faults failed");
    let writes: u64 = stdout.trim().trim_start_matches("ops=").parse().unwrap();
    assert!(writes >= 3, "{op} made {writes} writes");

    let mut summary: BTreeMap<&str, u64> = BTreeMap::new();
    for trial in 0..trials {
        let scratch = tempfile::tempdir().unwrap();
        let repo = scratch.path().join("repo");
        copy_dir(&p.dir.path().join("repo"), &repo);
        let how = match trial % 3 {
            0 => "abort",
            1 => "torn",
            _ => "sigkill",
        };
        let point = if how == "sigkill" {
            let delay = Duration::from_micros(rng.below(full.as_micros() as u64 + 1));
            let mut cmd = Command::new(BIN);
            cmd.arg(&repo).arg(op);
            if let Some(s) = src_arg {
                cmd.arg(s);
            }
            let mut child = cmd
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
            run(&repo, op, src_arg, at, how);
            format!("{how} at write {at}/{writes}")
        };
        let ctx = format!("{op} trial {trial} ({point}), seed {seed}");
        let ids = verify(&repo, scratch.path(), &p.expected, Some(&new_digest))
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
        let r = Repository::open(&repo.to_string_lossy(), Some(PASS)).unwrap();
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
        assert!(
            report.ok() && report.unindexed_packs == 0,
            "{ctx}: after compact {report:?}"
        );
        assert!(no_temp_files(&repo), "{ctx}: debris left");
        *summary.entry(how).or_default() += 1;
    }
    eprintln!(
        "{op}: {trials} crash trials passed ({summary:?}, {writes} writes per run, seed {seed})"
    );
}

fn no_temp_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().all(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            no_temp_files(&e.path())
        } else {
            !name.starts_with(".tmp.")
        }
    })
}

#[test]
fn crash_during_backup() {
    campaign("backup");
}

#[test]
fn crash_during_prune() {
    campaign("prune");
}

#[test]
fn crash_during_compact() {
    campaign("compact");
}

#[test]
fn crash_during_repair() {
    campaign("repair");
}

#[test]
fn a_full_disk_fails_the_backup_and_keeps_the_repository_sound() {
    let p = pristine(false);
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
