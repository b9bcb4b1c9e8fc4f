//! Command output stored as files: restored byte for byte beside the sources; a command that
//! fails, fails half-way or is cancelled leaves no snapshot.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::*;
use vger_core::{
    Algorithm, BackupOptions, CancelToken, ErrorCode, NoProgress, StreamFrom, StreamSource, backup,
};

fn sh(path: &str, text: &str) -> StreamSource {
    StreamSource {
        path: path.as_bytes().to_vec(),
        from: StreamFrom::Command {
            argv: vec!["sh".into(), "-c".into(), text.into()],
            env: Some(vec![("PATH".into(), "/usr/bin:/bin".into())]),
            cwd: None,
        },
    }
}

fn with_streams(paths: &[&std::path::Path], streams: Vec<StreamSource>) -> BackupOptions {
    BackupOptions {
        streams,
        ..backup_opts(paths)
    }
}

fn snapshot_count(repo: &vger_core::Repository) -> usize {
    repo.snapshots().unwrap().snapshots.len()
}

#[test]
fn a_dump_is_stored_beside_the_sources_and_restored_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("a.txt"), b"hello").unwrap();
    let expected = std::process::Command::new("sh")
        .args(["-c", "seq 1 400000"])
        .output()
        .unwrap()
        .stdout;
    let opts = with_streams(
        &[&src],
        vec![
            sh("vger-dumps/db.sql", "seq 1 400000"),
            sh("vger-dumps/empty", "true"),
            sh("env.txt", "echo \"$PATH|$HOME\""),
        ],
    );
    let out = backup(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    assert_eq!(out.snapshot.stats.files, 4);
    let paths: Vec<String> = out
        .snapshot
        .paths
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    assert!(
        paths.contains(&"vger-dumps/db.sql".to_string()),
        "{paths:?}"
    );
    let dest = dir.path().join("out");
    run_restore(&repo, &out.snapshot.id.to_hex(), &dest, None).unwrap();
    assert_eq!(fs::read(dest.join("a.txt")).unwrap(), b"hello");
    assert_eq!(fs::read(dest.join("vger-dumps/db.sql")).unwrap(), expected);
    assert_eq!(fs::read(dest.join("vger-dumps/empty")).unwrap(), b"");
    // The environment is exactly the one given: nothing inherited.
    assert_eq!(fs::read(dest.join("env.txt")).unwrap(), b"/usr/bin:/bin|\n");
    let mode = fs::metadata(dest.join("vger-dumps/db.sql"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dmode = fs::metadata(dest.join("vger-dumps"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dmode & 0o777, 0o700);
}

#[test]
fn a_dump_alone_makes_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let opts = with_streams(&[], vec![sh("vger-dumps/x", "printf abc")]);
    let out = backup(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    let dest = dir.path().join("out");
    run_restore(&repo, &out.snapshot.id.to_hex(), &dest, None).unwrap();
    assert_eq!(fs::read(dest.join("vger-dumps/x")).unwrap(), b"abc");
}

#[test]
fn a_command_that_fails_half_way_leaves_no_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("a.txt"), b"hello").unwrap();
    let opts = with_streams(
        &[&src],
        vec![sh(
            "vger-dumps/db.sql",
            "seq 1 200000; echo 'pg_dump: connection lost' >&2; exit 3",
        )],
    );
    let err = backup(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DumpFailed);
    let msg = err.to_string();
    assert!(msg.contains("exited with status 3"), "{msg}");
    assert!(msg.contains("pg_dump: connection lost"), "{msg}");
    assert_eq!(snapshot_count(&repo), 0);

    let missing = with_streams(&[&src], vec![sh("d", "exec /nonexistent/pg_dump")]);
    let err = backup(&repo, &missing, &NoProgress, &CancelToken::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DumpFailed);
    assert!(err.to_string().contains("status 127"), "{err}");

    let killed = with_streams(&[&src], vec![sh("d", "echo x; kill -9 $$")]);
    let err = backup(&repo, &killed, &NoProgress, &CancelToken::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DumpFailed);
    assert!(err.to_string().contains("signal 9"), "{err}");
    assert_eq!(snapshot_count(&repo), 0);
    // The repository is fine afterwards.
    run_backup(&repo, &[&src]);
    assert_eq!(snapshot_count(&repo), 1);
}

#[test]
fn cancelling_stops_a_command_that_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    // The command ignores SIGTERM, so only the SIGKILL that follows ends it.
    let opts = with_streams(&[], vec![sh("d", "trap '' TERM; sleep 60")]);
    let cancel = CancelToken::new();
    let c = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        c.cancel();
    });
    let started = Instant::now();
    let err = backup(&repo, &opts, &NoProgress, &cancel).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(snapshot_count(&repo), 0);
}

#[test]
fn bad_stream_names_and_clashes_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let marker = dir.path().join("ran");
    let touch = format!("touch {}", marker.display());
    for bad in ["", "/abs", "a/../b", "a//b", "./a", "a/"] {
        let opts = with_streams(&[], vec![sh(bad, &touch)]);
        let err = backup(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{bad:?}");
    }
    let twice = with_streams(&[], vec![sh("a", &touch), sh("a", &touch)]);
    let err = backup(&repo, &twice, &NoProgress, &CancelToken::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(!marker.exists());

    let src = dir.path().join("src");
    fs::create_dir_all(src.join("vger-dumps")).unwrap();
    let clash = with_streams(&[&src], vec![sh("vger-dumps/db", "echo hi")]);
    let err = backup(&repo, &clash, &NoProgress, &CancelToken::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.to_string().contains("vger-dumps"), "{err}");
    assert_eq!(snapshot_count(&repo), 0);
}
