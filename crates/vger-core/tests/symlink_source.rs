//! Source paths the user named that are symlinks, overlap, or are missing (issue 11 item 7).
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use common::{backup_opts, new_repo, run_backup, run_restore};
use vger_core::tree::Kind;
use vger_core::{Algorithm, CancelToken, NoProgress};
use vger_types::ErrorCode;

/// `real/` with two files and a symlink inside, and `link` -> `real`.
fn linked_dir(root: &Path) {
    let real = root.join("real");
    fs::create_dir_all(real.join("sub")).unwrap();
    fs::write(real.join("file"), b"one").unwrap();
    fs::write(real.join("sub/two"), b"two").unwrap();
    symlink("file", real.join("inner-link")).unwrap();
    symlink(&real, root.join("link")).unwrap();
}

#[test]
fn a_source_that_is_a_symlink_to_a_directory_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    linked_dir(dir.path());
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let out = run_backup(&repo, &[&dir.path().join("link")]);
    assert_eq!(out.snapshot.stats.files, 2, "{:?}", out.snapshot.stats);
    assert_eq!(out.snapshot.stats.symlinks, 1);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert_eq!(
        out.snapshot.paths,
        vec![
            dir.path()
                .join("link")
                .as_os_str()
                .as_encoded_bytes()
                .to_vec()
        ]
    );
    let dest = dir.path().join("out");
    let r = run_restore(&repo, "latest", &dest, None).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(fs::read(dest.join("file")).unwrap(), b"one");
    assert_eq!(fs::read(dest.join("sub/two")).unwrap(), b"two");
    // Symlinks below the named root stay symlinks.
    assert_eq!(
        fs::read_link(dest.join("inner-link")).unwrap(),
        Path::new("file")
    );
}

#[test]
fn a_source_that_is_a_symlink_to_a_file_is_stored_as_that_file_under_its_name() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("target"), b"content").unwrap();
    symlink("target", dir.path().join("named")).unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let out = run_backup(&repo, &[&dir.path().join("named")]);
    let entries = repo.read_tree(&out.snapshot.tree).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].name, b"named");
    assert_eq!(entries[0].kind, Kind::File);
    let dest = dir.path().join("out");
    run_restore(&repo, "latest", &dest, None).unwrap();
    assert_eq!(fs::read(dest.join("named")).unwrap(), b"content");
}

#[test]
fn a_path_inside_another_given_path_is_saved_once_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    linked_dir(dir.path());
    let link = dir.path().join("link");
    let inner = link.join("file");
    let other = dir.path().join("real/sub");
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let out = run_backup(&repo, &[&inner, &link, &other, &other]);
    // link/file is inside link; real/sub is given twice.
    let messages: Vec<_> = out.warnings.iter().map(|w| w.message.clone()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("link/file is inside") && m.contains("saved once, as part of")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("given twice")),
        "{messages:?}"
    );
    assert!(!out.snapshot.partial);
    let dest = dir.path().join("out");
    let r = run_restore(&repo, "latest", &dest, None).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let at = |p: &Path| dest.join(p.strip_prefix("/").unwrap());
    // The symlinked source is a directory in the snapshot, with link/file in it.
    assert!(fs::symlink_metadata(at(&link)).unwrap().is_dir());
    assert_eq!(fs::read(at(&inner)).unwrap(), b"one");
    assert_eq!(fs::read(at(&other).join("two")).unwrap(), b"two");
}

#[test]
fn a_missing_path_among_several_fails_and_saves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    linked_dir(dir.path());
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let missing = dir.path().join("link/nope");
    let e = vger_core::backup(
        &repo,
        &backup_opts(&[&dir.path().join("link"), &missing]),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::SourceNotFound);
    assert!(e.to_string().contains("link/nope"), "{e}");
    assert!(repo.snapshots().unwrap().snapshots.is_empty());
}
