//! Backup then restore: content and metadata survive, dedup works, patterns and excludes apply.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use common::*;
use proptest::prelude::*;
use vger_core::{Algorithm, ErrorCode, Repository, list_contents};

fn sample_tree(root: &std::path::Path) {
    fs::create_dir_all(root.join("dir/deeper")).unwrap();
    fs::write(root.join("small.txt"), b"hello vger\n").unwrap();
    fs::write(root.join("dir/multi.bin"), bytes(100_000, 1)).unwrap();
    fs::write(root.join("dir/deeper/empty"), b"").unwrap();
    fs::write(
        root.join(OsStr::from_bytes(b"latin1-\xe9t\xe9")),
        b"non-utf8 name",
    )
    .unwrap();
    symlink("small.txt", root.join("link")).unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
    fs::hard_link(root.join("small.txt"), root.join("dir/hard")).unwrap();
    nix::unistd::mkfifo(
        &root.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o640),
    )
    .unwrap();
    fs::set_permissions(
        root.join("dir/multi.bin"),
        fs::Permissions::from_mode(0o751),
    )
    .unwrap();
    xattr::set(root.join("small.txt"), "user.vger", b"xattr value").ok();
    let t = filetime::FileTime::from_unix_time(1_600_000_000, 123_456_789);
    filetime::set_file_mtime(root.join("dir/multi.bin"), t).unwrap();
    filetime::set_symlink_file_times(root.join("link"), t, t).unwrap();
}

#[test]
fn restore_is_identical_for_every_algorithm() {
    for alg in [
        Algorithm::Aes256Gcm,
        Algorithm::ChaCha20Poly1305,
        Algorithm::None,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        sample_tree(&src);
        let repo = new_repo(dir.path(), alg);
        let out = run_backup(&repo, &[&src]);
        assert!(!out.snapshot.partial, "{:?}", out.warnings);
        assert_eq!(out.snapshot.stats.files, 5);
        let dest = dir.path().join("out");
        let r = run_restore(&repo, "latest", &dest, None).unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(describe_tree(&src), describe_tree(&dest), "{alg:?}");
        let a = fs::metadata(dest.join("small.txt")).unwrap();
        let b = fs::metadata(dest.join("dir/hard")).unwrap();
        assert_eq!(
            (a.dev(), a.ino()),
            (b.dev(), b.ino()),
            "hard link restored as a link"
        );
        if xattr::get(src.join("small.txt"), "user.vger")
            .ok()
            .flatten()
            .is_some()
        {
            assert_eq!(
                xattr::get(dest.join("small.txt"), "user.vger")
                    .unwrap()
                    .as_deref(),
                Some(&b"xattr value"[..])
            );
        }
    }
}

#[test]
fn second_backup_stores_nothing_new_and_packs_hide_content() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample_tree(&src);
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let first = run_backup(&repo, &[&src]);
    assert!(first.snapshot.stats.new_chunks > 5);
    let again = Repository::open(&repo_url(dir.path()), Some(PASS)).unwrap();
    let second = run_backup(&again, &[&src]);
    assert_eq!(second.snapshot.stats.new_chunks, 0);
    assert_eq!(second.snapshot.stats.stored_bytes, 0);
    assert_eq!(
        first.snapshot.tree, second.snapshot.tree,
        "unchanged tree, same root id"
    );
    for key in repo.backend().list("packs").unwrap() {
        let pack = repo.backend().get(&key).unwrap();
        assert!(
            !pack.windows(10).any(|w| w == b"hello vger"),
            "plaintext leaked into {key}"
        );
    }
}

#[test]
fn excludes_and_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample_tree(&src);
    fs::write(src.join("dir/skip.log"), b"log").unwrap();
    let repo = new_repo(dir.path(), Algorithm::ChaCha20Poly1305);
    let mut opts = backup_opts(&[&src]);
    opts.exclude = vec!["*.log".into(), "/dir/deeper/".into()];
    vger_core::backup(
        &repo,
        &opts,
        &vger_core::NoProgress,
        &vger_core::CancelToken::new(),
    )
    .unwrap();
    let paths: Vec<String> = list_contents(&repo, "latest", "")
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .collect();
    assert!(
        !paths
            .iter()
            .any(|p| p.ends_with(".log") || p.contains("deeper")),
        "{paths:?}"
    );
    assert!(paths.contains(&"dir/multi.bin".to_string()));

    let dest = dir.path().join("sel");
    run_restore(&repo, "latest", &dest, Some("dir/*.bin")).unwrap();
    assert_eq!(
        fs::read(dest.join("dir/multi.bin")).unwrap(),
        bytes(100_000, 1)
    );
    assert!(!dest.join("small.txt").exists());
    // The hard link's first name was not selected: it becomes a regular file with the content.
    let dest2 = dir.path().join("sel2");
    run_restore(&repo, "latest", &dest2, Some("dir/hard")).unwrap();
    assert_eq!(fs::read(dest2.join("dir/hard")).unwrap(), b"hello vger\n");
}

#[test]
fn several_sources_keep_absolute_paths_and_vanished_sources_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b/c");
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(a.join("1"), b"one").unwrap();
    fs::write(b.join("2"), b"two").unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    run_backup(&repo, &[&a, &b]);
    let dest = dir.path().join("out");
    run_restore(&repo, "latest", &dest, None).unwrap();
    let rel_a = a.strip_prefix("/").unwrap();
    let rel_b = b.strip_prefix("/").unwrap();
    assert_eq!(fs::read(dest.join(rel_a).join("1")).unwrap(), b"one");
    assert_eq!(fs::read(dest.join(rel_b).join("2")).unwrap(), b"two");

    let missing = dir.path().join("missing");
    let e = vger_core::backup(
        &repo,
        &backup_opts(&[&missing]),
        &vger_core::NoProgress,
        &vger_core::CancelToken::new(),
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::SourceNotFound);
}

#[test]
fn unreadable_files_are_skipped_with_a_warning() {
    if nix::unistd::geteuid().is_root() {
        // root reads mode-000 files; a file that vanishes mid-walk is covered by the TS suite.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("ok"), b"fine").unwrap();
    fs::write(src.join("secret"), b"no").unwrap();
    fs::set_permissions(src.join("secret"), fs::Permissions::from_mode(0o000)).unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let out = run_backup(&repo, &[&src]);
    assert!(out.snapshot.partial);
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].path.ends_with("secret"));
}

#[test]
fn restore_refuses_a_non_empty_destination_and_cancel_stops() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    sample_tree(&src);
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    run_backup(&repo, &[&src]);
    let e = run_restore(&repo, "latest", &src, None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::DestinationNotEmpty);
    let cancel = vger_core::CancelToken::new();
    cancel.cancel();
    let e = vger_core::backup(
        &repo,
        &backup_opts(&[&src]),
        &vger_core::NoProgress,
        &cancel,
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled);
    assert_eq!(
        repo.snapshots().unwrap().snapshots.len(),
        1,
        "a cancelled backup commits nothing"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn any_tree_round_trips(files in proptest::collection::vec((1u8..6, 0usize..70_000, any::<u64>()), 1..12)) {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        for (i, (depth, size, seed)) in files.iter().enumerate() {
            let mut p = src.clone();
            for d in 0..*depth { p.push(format!("d{}", (seed >> d) % 3)); }
            fs::create_dir_all(&p).unwrap();
            fs::write(p.join(format!("f{i}")), bytes(*size, *seed)).unwrap();
        }
        let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
        run_backup(&repo, &[&src]);
        let dest = dir.path().join("out");
        let r = run_restore(&repo, "latest", &dest, None).unwrap();
        prop_assert!(r.errors.is_empty());
        prop_assert_eq!(describe_tree(&src), describe_tree(&dest));
    }
}

#[test]
fn files_with_runs_of_zeros_are_restored_with_their_length() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let zeros = vec![0u8; 200_000];
    let data = bytes(50_000, 7);
    fs::write(src.join("tail-zeros"), [&data[..], &zeros[..]].concat()).unwrap();
    fs::write(src.join("head-zeros"), [&zeros[..], &data[..]].concat()).unwrap();
    fs::write(
        src.join("middle-zeros"),
        [&data[..], &zeros[..], &data[..]].concat(),
    )
    .unwrap();
    fs::write(src.join("all-zeros"), &zeros).unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    run_backup(&repo, &[&src]);
    let dest = dir.path().join("out");
    let r = run_restore(&repo, "latest", &dest, None).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(describe_tree(&src), describe_tree(&dest));
    for name in ["tail-zeros", "head-zeros", "middle-zeros", "all-zeros"] {
        assert_eq!(
            fs::read(src.join(name)).unwrap(),
            fs::read(dest.join(name)).unwrap(),
            "{name}"
        );
    }
}
