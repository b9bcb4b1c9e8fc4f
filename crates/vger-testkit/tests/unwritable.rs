//! Repositories that cannot be written, on real filesystems: a full one (a small tmpfs) reports
//! `VGER_NO_SPACE` from a backup, and a read-only one (a read-only bind mount) can still be
//! restored, checked, listed, searched and compared, without a lock and with a warning that says
//! so, while every writing command still refuses to run without one.
//!
//! Mounting needs root: without it (or where mount is refused) the tests say so and pass.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use vger_core::{
    CancelToken, CheckOptions, ErrorCode, Event, FindOptions, LockKind, NoProgress, Progress,
    Repository, RestoreOptions,
};
use vger_testkit::*;

/// A mount point, unmounted (lazily, so a busy one still goes) when dropped, also on a panic.
struct Mount(PathBuf);

impl Mount {
    fn new(args: &[&str], at: &Path) -> Option<Mount> {
        let ok = Command::new("mount")
            .args(args)
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(at.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn root() -> bool {
    nix_uid() == 0
}

fn nix_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|u| u.parse().ok())
        .unwrap_or(u32::MAX)
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl Progress for Recorder {
    fn event(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

#[test]
fn a_full_disk_is_reported_as_no_space() {
    if !root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let Some(_mount) = Mount::new(&["-t", "tmpfs", "-o", "size=3m", "tmpfs"], &mnt) else {
        eprintln!("skipped: mount -t tmpfs was refused");
        return;
    };
    let repo = init_repo(&mnt.join("repo"));
    let src = dir.path().join("src");
    // 8 MB of incompressible data into 3 MB.
    write_source(&src, 1, 8, 1_000_000);
    let Err(e) = vger_core::backup(
        &repo,
        &backup_opts(&src, "data"),
        &NoProgress,
        &CancelToken::new(),
    ) else {
        panic!("the backup cannot fit")
    };
    assert_eq!(e.code(), ErrorCode::NoSpace, "{e}");
    assert!(e.to_string().contains("free some space"), "{e}");
    assert!(repo.snapshots().unwrap().snapshots.is_empty());
}

#[test]
fn a_read_only_repository_is_read_without_a_lock() {
    if !root() {
        eprintln!("skipped: a read-only bind mount needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    let repo = init_repo(&path);
    let src = dir.path().join("src");
    let mut ids = Vec::new();
    for g in 0..2 {
        write_source(&src, g, 3, 50_000);
        let out = vger_core::backup(
            &repo,
            &backup_opts(&src, "data"),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        ids.push(out.snapshot.id.to_hex());
    }
    let want = digest(&src);
    drop(repo);
    let Some(_bind) = Mount::new(&["--bind", &path.to_string_lossy()], &path) else {
        eprintln!("skipped: mount --bind was refused");
        return;
    };
    let Some(_ro) = Mount::new(&["-o", "remount,ro,bind"], &path) else {
        eprintln!("skipped: remount read-only was refused");
        return;
    };
    assert!(
        std::fs::write(path.join("probe"), b"x").is_err(),
        "read-only"
    );

    let mut repo = Repository::open(&path.to_string_lossy(), Some(PASS)).unwrap();
    let events = Arc::new(Recorder::default());
    repo.set_lock_events(events.clone());
    let (np, cancel) = (NoProgress, CancelToken::new());
    let out = dir.path().join("out");
    let restored = vger_core::restore(
        &repo,
        &RestoreOptions {
            snapshot: ids[1].clone(),
            dest: out.clone(),
            patterns: vec![],
            threads: 0,
            excludes: Vec::new(),
            overwrite: None,
            delete: false,
            dry_run: false,
        },
        &np,
        &cancel,
    )
    .unwrap();
    assert!(restored.errors.is_empty());
    assert_eq!(digest(&out), want, "restored exactly");
    let report = vger_core::check(
        &repo,
        &CheckOptions {
            verify_data: true,
            ..Default::default()
        },
        &np,
        &cancel,
    )
    .unwrap();
    assert!(report.ok(), "{report:?}");
    assert!(
        !vger_core::list_contents(&repo, "latest", "")
            .unwrap()
            .is_empty()
    );
    vger_core::diff(&repo, &ids[0], &ids[1]).unwrap();
    vger_core::find(&repo, &FindOptions::default()).unwrap();

    let warnings: Vec<_> = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Warning(w) => Some(w.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(warnings.len(), 5, "one per reading command: {warnings:?}");
    for w in &warnings {
        assert_eq!(w.code, ErrorCode::Io);
        assert!(w.message.contains("Read-only file system"), "{}", w.message);
        assert!(w.message.contains("reads without one"), "{}", w.message);
        assert!(
            w.message.contains("never returns wrong data"),
            "{}",
            w.message
        );
    }

    // Writing never goes without a lock.
    let Err(e) = vger_core::backup(&repo, &backup_opts(&src, "data"), &np, &cancel) else {
        panic!("a backup cannot write")
    };
    assert_eq!(e.code(), ErrorCode::Io, "{e}");
    assert!(repo.lease(LockKind::Exclusive, "compact").is_err());
}

#[test]
fn no_lock_reads_without_writing_and_refuses_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    let repo = init_repo(&path);
    let src = dir.path().join("src");
    write_source(&src, 1, 2, 20_000);
    vger_core::backup(
        &repo,
        &backup_opts(&src, "data"),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    drop(repo);
    let mut repo = Repository::open(&path.to_string_lossy(), Some(PASS)).unwrap();
    repo.set_no_lock(true);
    // A live exclusive holder does not stop an explicit --no-lock reader (nor does it wait).
    let holder = Repository::open(&path.to_string_lossy(), Some(PASS)).unwrap();
    let lease = holder.lease(LockKind::Exclusive, "compact").unwrap();
    let before = std::fs::read_dir(path.join("locks")).unwrap().count();
    assert!(
        !vger_core::list_contents(&repo, "latest", "")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        std::fs::read_dir(path.join("locks")).unwrap().count(),
        before,
        "no lock written"
    );
    drop(lease);
    let Err(e) = vger_core::backup(
        &repo,
        &backup_opts(&src, "data"),
        &NoProgress,
        &CancelToken::new(),
    ) else {
        panic!("a backup refuses --no-lock")
    };
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(e.to_string().contains("--no-lock"), "{e}");
}
