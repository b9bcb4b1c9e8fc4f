//! A hostile local user races restore: while it runs, every other directory it creates in the
//! destination is renamed away and replaced by a symlink to a directory outside. Whatever the
//! timing, nothing may be created or changed outside the destination, and the swapped directories
//! are reported as errors (issue 11 item 6).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use vger_core::Algorithm;

const DIRS: usize = 20;
const FILES: usize = 100;
const TRIALS: usize = 20;

fn dir_name(d: usize) -> String {
    format!("d{d:02}")
}

/// 20 directories (mode 0700) of 100 small files each: 2,000 files per trial.
fn make_source(src: &Path) {
    for d in 0..DIRS {
        let dir = src.join(dir_name(d));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..FILES {
            fs::write(
                dir.join(format!("f{f:03}")),
                bytes(64, (d * FILES + f) as u64),
            )
            .unwrap();
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    }
}

/// Swaps each even-numbered directory of `dest` for a symlink to `outside` as soon as it appears,
/// until `stop`; returns the names it swapped.
fn attacker(dest: &Path, outside: &Path, stop: &AtomicBool) -> BTreeSet<String> {
    let mut swapped = BTreeSet::new();
    let wanted: BTreeSet<String> = (0..DIRS).step_by(2).map(dir_name).collect();
    while !stop.load(Ordering::Relaxed) && swapped.len() < wanted.len() {
        let Ok(entries) = fs::read_dir(dest) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !wanted.contains(&name) || swapped.contains(&name) {
                continue;
            }
            let p = dest.join(&name);
            if fs::rename(&p, dest.join(format!("{name}.moved"))).is_ok() {
                std::os::unix::fs::symlink(outside, &p).unwrap();
                swapped.insert(name);
            }
        }
    }
    swapped
}

#[test]
fn a_directory_swapped_for_a_symlink_during_restore_never_leads_outside() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    make_source(&src);
    let snap = run_backup(&repo, &[&src]).snapshot.id.to_hex();

    let mut total_swaps = 0;
    for trial in 0..TRIALS {
        let t = dir.path().join(format!("trial{trial}"));
        let dest = t.join("dest");
        let outside = t.join("outside");
        fs::create_dir_all(&dest).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o755)).unwrap();
        let before = fs::metadata(&outside).unwrap();

        let stop = Arc::new(AtomicBool::new(false));
        let swapped = Arc::new(Mutex::new(BTreeSet::new()));
        let racer = {
            let (dest, outside, stop, swapped) = (
                dest.clone(),
                outside.clone(),
                Arc::clone(&stop),
                Arc::clone(&swapped),
            );
            std::thread::spawn(move || {
                *swapped.lock().unwrap() = attacker(&dest, &outside, &stop);
            })
        };
        let result = run_restore(&repo, &snap, &dest, None);
        stop.store(true, Ordering::Relaxed);
        racer.join().unwrap();
        let swapped = swapped.lock().unwrap().clone();
        total_swaps += swapped.len();

        let after = fs::metadata(&outside).unwrap();
        let landed: Vec<_> = fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            landed.is_empty(),
            "trial {trial}: {} entries were created outside the destination (swapped {swapped:?})",
            landed.len()
        );
        assert_eq!(
            after.mode(),
            before.mode(),
            "trial {trial}: the mode of the outside directory changed"
        );
        assert_eq!(
            (after.mtime(), after.mtime_nsec(), after.uid(), after.gid()),
            (
                before.mtime(),
                before.mtime_nsec(),
                before.uid(),
                before.gid()
            ),
            "trial {trial}: the outside directory was changed"
        );

        let out = result.unwrap();
        for name in &swapped {
            let prefix = format!("{name}/");
            assert!(
                out.errors
                    .iter()
                    .any(|e| e.path == *name || e.path.starts_with(&prefix)),
                "trial {trial}: the swapped directory {name} is not reported (errors: {:?})",
                out.errors.iter().take(3).collect::<Vec<_>>()
            );
        }
        // Directories left alone are restored whole.
        for d in (1..DIRS).step_by(2) {
            let p = dest.join(dir_name(d));
            assert!(
                out.errors.iter().all(|e| !e.path.starts_with(&dir_name(d))),
                "trial {trial}: an untouched directory reported an error"
            );
            let n = fs::read_dir(&p).unwrap().count();
            assert_eq!(n, FILES, "trial {trial}: {} is incomplete", p.display());
            assert_eq!(
                fs::read(p.join("f042")).unwrap(),
                bytes(64, (d * FILES + 42) as u64)
            );
        }
        fs::remove_dir_all(&t).unwrap();
    }
    assert!(total_swaps > 0, "the attacker never won a race");
}
