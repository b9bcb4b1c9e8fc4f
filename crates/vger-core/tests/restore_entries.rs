//! Entries restore treats specially: sockets are skipped and said so; the symlinked ancestor of a
//! multi-path backup comes back with the mode of the directory it points to (issue 11 items 5, 6).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::net::UnixListener;

use common::*;
use vger_core::{Algorithm, Skipped};

#[test]
fn a_socket_is_skipped_with_its_path_and_not_counted_as_restored() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("run")).unwrap();
    fs::write(src.join("file"), b"data").unwrap();
    let _listener = UnixListener::bind(src.join("run/app.sock")).unwrap();
    nix::unistd::mkfifo(
        &src.join("run/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o640),
    )
    .unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    run_backup(&repo, &[&src]);

    let dest = dir.path().join("out");
    let r = run_restore(&repo, "latest", &dest, None).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.others, 1, "the fifo is restored, the socket is not");
    assert_eq!(
        r.skipped,
        vec![Skipped {
            path: "run/app.sock".into(),
            reason: "a socket belongs to the process that created it and is not restored".into(),
        }]
    );
    assert!(fs::symlink_metadata(dest.join("run/app.sock")).is_err());
    assert!(fs::symlink_metadata(dest.join("run/fifo")).is_ok());
}

#[test]
fn a_symlinked_ancestor_of_several_sources_restores_with_the_real_directory_mode() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    fs::create_dir_all(real.join("a")).unwrap();
    fs::create_dir_all(real.join("b")).unwrap();
    fs::write(real.join("a/f"), b"a").unwrap();
    fs::write(real.join("b/g"), b"b").unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o750)).unwrap();
    let link = dir.path().join("link");
    symlink(&real, &link).unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    run_backup(&repo, &[&link.join("a"), &link.join("b")]);

    let dest = dir.path().join("out");
    let r = run_restore(&repo, "latest", &dest, None).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let restored = dest.join(link.strip_prefix("/").unwrap());
    let m = fs::symlink_metadata(&restored).unwrap();
    assert!(m.is_dir());
    assert_eq!(m.permissions().mode() & 0o7777, 0o750);
    assert_eq!(fs::read(restored.join("a/f")).unwrap(), b"a");
}
