//! `backup --dry-run`: counts what a backup would add and writes nothing to the repository.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::path::Path;

use common::*;
use vger_core::{Algorithm, BackupOptions, CancelToken, NoProgress, backup};

/// Every file under `dir` with its size (locks excluded: a reader's lease comes and goes).
fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            if !p.ends_with("locks") {
                out.extend(listing(&p));
            }
        } else {
            out.push((p.display().to_string(), e.metadata().unwrap().len()));
        }
    }
    out.sort();
    out
}

#[test]
fn a_dry_run_counts_what_is_new_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("a.bin"), bytes(300_000, 1)).unwrap();
    fs::write(src.join("b.bin"), bytes(200_000, 2)).unwrap();
    let dry = BackupOptions {
        dry_run: true,
        ..backup_opts(&[&src])
    };
    let before = listing(&dir.path().join("repo"));
    let planned = backup(&repo, &dry, &NoProgress, &CancelToken::new()).unwrap();
    assert_eq!(listing(&dir.path().join("repo")), before);
    assert_eq!(planned.snapshot.stats.files, 2);
    assert!(
        planned.snapshot.stats.new_bytes >= 500_000,
        "{:?}",
        planned.snapshot.stats
    );
    assert_eq!(planned.snapshot.stats.stored_bytes, 0);
    assert!(repo.snapshots().unwrap().snapshots.is_empty());

    let real = run_backup(&repo, &[&src]);
    assert_eq!(
        real.snapshot.stats.new_bytes,
        planned.snapshot.stats.new_bytes
    );

    // One file changes: only its bytes (and the trees) are new.
    fs::write(src.join("b.bin"), bytes(200_000, 3)).unwrap();
    let before = listing(&dir.path().join("repo"));
    let again = backup(&repo, &dry, &NoProgress, &CancelToken::new()).unwrap();
    assert_eq!(listing(&dir.path().join("repo")), before);
    let new = again.snapshot.stats.new_bytes;
    assert!((200_000..250_000).contains(&new), "{new}");
    assert_eq!(repo.snapshots().unwrap().snapshots.len(), 1);
    assert_eq!(
        (
            again.changes.new,
            again.changes.changed,
            again.changes.unmodified
        ),
        (0, 1, 1)
    );

    // A new file, and a snapshot recorded at a given time.
    fs::write(src.join("c.bin"), bytes(1_000, 4)).unwrap();
    let at = 1_700_000_000_000_000_000;
    let opts = BackupOptions {
        time_ns: Some(at),
        tags: Vec::new(),
        description: String::new(),
        ..backup_opts(&[&src])
    };
    let dated = backup(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    assert_eq!(
        (
            dated.changes.new,
            dated.changes.changed,
            dated.changes.unmodified
        ),
        (1, 1, 1)
    );
    assert_eq!(dated.snapshot.start_ns, at);
}
