//! What a source's walk leaves out: marker files (`exclude_if_present`), `.gitignore` files,
//! other filesystems (`one_file_system`) and, on request, extended attributes.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]
#![allow(clippy::print_stderr)] // a test that cannot run here says why

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;
use vger_core::{
    Algorithm, BackupOptions, CancelToken, NoProgress, Repository, SourceFilter, backup,
    list_contents,
};

fn snapshot_paths(repo: &Repository, filter: SourceFilter, src: &Path) -> Vec<String> {
    let opts = BackupOptions {
        filter,
        ..backup_opts(&[src])
    };
    let out = backup(repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    list_contents(repo, &out.snapshot.id.to_hex(), "")
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.path).unwrap())
        .collect()
}

#[test]
fn marker_files_exclude_their_directory_but_never_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(&dir.path().join("repo"), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("keep/cache/deep")).unwrap();
    fs::create_dir_all(src.join("other")).unwrap();
    fs::write(src.join(".nobackup"), b"").unwrap();
    fs::write(src.join("keep/a.txt"), b"a").unwrap();
    fs::write(src.join("keep/cache/.nobackup"), b"").unwrap();
    fs::write(src.join("keep/cache/deep/big.bin"), bytes(10_000, 1)).unwrap();
    fs::write(
        src.join("other/CACHEDIR.TAG"),
        b"Signature: 8a477f597d28d172789f06886806bc55",
    )
    .unwrap();

    let all = snapshot_paths(&repo, SourceFilter::default(), &src);
    assert!(all.contains(&"keep/cache/deep/big.bin".to_string()));

    let filter = SourceFilter {
        exclude_if_present: vec![".nobackup".into(), "CACHEDIR.TAG".into()],
        ..SourceFilter::default()
    };
    let got = snapshot_paths(&repo, filter, &src);
    assert_eq!(got, [".nobackup", "keep", "keep/a.txt"]);
}

#[test]
fn gitignore_files_apply_below_their_directory_and_the_innermost_decides() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(&dir.path().join("repo"), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("target/debug")).unwrap();
    fs::create_dir_all(src.join("sub/logs")).unwrap();
    fs::write(src.join(".gitignore"), "target/\n*.log\n# a comment\n").unwrap();
    fs::write(src.join("main.rs"), b"fn main() {}").unwrap();
    fs::write(src.join("run.log"), b"log").unwrap();
    fs::write(src.join("target/debug/app"), bytes(5_000, 2)).unwrap();
    fs::write(src.join("sub/.gitignore"), "!keep.log\nlogs\n").unwrap();
    fs::write(src.join("sub/keep.log"), b"kept").unwrap();
    fs::write(src.join("sub/drop.log"), b"dropped").unwrap();
    fs::write(src.join("sub/logs/x.txt"), b"x").unwrap();

    let off = snapshot_paths(&repo, SourceFilter::default(), &src);
    assert!(off.contains(&"target/debug/app".to_string()));
    assert!(off.contains(&"run.log".to_string()));

    let filter = SourceFilter {
        git_ignore: true,
        ..SourceFilter::default()
    };
    let got = snapshot_paths(&repo, filter, &src);
    assert_eq!(
        got,
        [
            ".gitignore",
            "main.rs",
            "sub",
            "sub/.gitignore",
            "sub/keep.log"
        ]
    );
}

#[test]
fn xattrs_are_recorded_unless_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(&dir.path().join("repo"), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let file = src.join("f.txt");
    fs::write(&file, b"x").unwrap();
    if xattr::set(&file, "user.vger.test", b"value").is_err() {
        eprintln!("skipped: this filesystem has no user xattrs");
        return;
    }
    let xattrs_of = |filter: SourceFilter| {
        let opts = BackupOptions {
            filter,
            ..backup_opts(&[&src])
        };
        let out = backup(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
        let list = list_contents(&repo, &out.snapshot.id.to_hex(), "f.txt").unwrap();
        list[0].entry.xattrs.clone()
    };
    assert_eq!(
        xattrs_of(SourceFilter::default()),
        vec![(b"user.vger.test".to_vec(), b"value".to_vec())]
    );
    let off = SourceFilter {
        xattrs: false,
        ..SourceFilter::default()
    };
    assert!(xattrs_of(off).is_empty());
}

/// Needs a mount: a tmpfs is mounted inside the source (root only; skipped otherwise).
#[test]
fn one_file_system_keeps_mount_points_empty() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(&dir.path().join("repo"), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    let mnt = src.join("mnt");
    fs::create_dir_all(&mnt).unwrap();
    fs::write(src.join("local.txt"), b"local").unwrap();
    let mounted = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "vger-test",
            mnt.to_str().unwrap(),
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&mnt);
    fs::write(mnt.join("remote.txt"), b"on another filesystem").unwrap();

    let all = snapshot_paths(&repo, SourceFilter::default(), &src);
    assert_eq!(all, ["local.txt", "mnt", "mnt/remote.txt"]);
    let filter = SourceFilter {
        one_file_system: true,
        ..SourceFilter::default()
    };
    let got = snapshot_paths(&repo, filter, &src);
    assert_eq!(got, ["local.txt", "mnt"]);
}

#[test]
fn case_insensitive_patterns_size_limits_and_signed_cache_tags() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(&dir.path().join("repo"), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("cache")).unwrap();
    fs::create_dir_all(src.join("fake")).unwrap();
    fs::write(src.join("Photo.JPG"), b"jpg").unwrap();
    fs::write(src.join("notes.txt"), b"n").unwrap();
    fs::write(src.join("big.bin"), bytes(10_001, 1)).unwrap();
    fs::write(src.join("small.bin"), bytes(10_000, 2)).unwrap();
    fs::write(
        src.join("cache/CACHEDIR.TAG"),
        b"Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n",
    )
    .unwrap();
    fs::write(src.join("cache/blob"), b"b").unwrap();
    // A tag without the signature is not obeyed.
    fs::write(src.join("fake/CACHEDIR.TAG"), b"not a signature").unwrap();
    fs::write(src.join("fake/kept"), b"k").unwrap();

    let all = snapshot_paths(&repo, SourceFilter::default(), &src);
    assert_eq!(all.len(), 10, "{all:?}");

    let filter = SourceFilter {
        iexclude: vec!["*.jpg".into()],
        exclude_larger_than: Some(10_000),
        exclude_caches: true,
        ..SourceFilter::default()
    };
    let got = snapshot_paths(&repo, filter, &src);
    assert_eq!(
        got,
        [
            "fake",
            "fake/CACHEDIR.TAG",
            "fake/kept",
            "notes.txt",
            "small.bin"
        ]
    );
    // Case-sensitive patterns stay case-sensitive.
    let exact = SourceFilter::default();
    let opts = BackupOptions {
        exclude: vec!["*.jpg".into()],
        filter: exact,
        ..backup_opts(&[&src])
    };
    let out = backup(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    let kept: Vec<String> = list_contents(&repo, &out.snapshot.id.to_hex(), "")
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.path).unwrap())
        .collect();
    assert!(kept.contains(&"Photo.JPG".to_string()));
}
