//! Restoring into an existing tree (issue 17 part 4): `--overwrite never|if-changed|always`,
//! `--delete`, include and exclude patterns, `--dry-run`, and continuing an interrupted restore.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use vger_core::progress::{Event, Progress};
use vger_core::{
    Algorithm, CancelToken, ErrorCode, NoProgress, Overwrite, Repository, RestoreOptions,
    RestoreOutcome, restore,
};

#[derive(Default)]
struct Opts<'a> {
    overwrite: Option<Overwrite>,
    delete: bool,
    dry_run: bool,
    include: &'a [&'a str],
    exclude: &'a [&'a str],
}

fn run(repo: &Repository, dest: &Path, o: Opts<'_>) -> vger_core::Result<RestoreOutcome> {
    run_with(repo, dest, o, &NoProgress, &CancelToken::new())
}

fn run_with(
    repo: &Repository,
    dest: &Path,
    o: Opts<'_>,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> vger_core::Result<RestoreOutcome> {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    restore(
        repo,
        &RestoreOptions {
            snapshot: "latest".into(),
            dest: dest.to_path_buf(),
            patterns: strings(o.include),
            excludes: strings(o.exclude),
            threads: 2,
            overwrite: o.overwrite,
            delete: o.delete,
            dry_run: o.dry_run,
        },
        progress,
        cancel,
    )
}

/// A source of `n` files in two directories, backed up; returns (work dir, src, repo).
fn setup(n: usize) -> (tempfile::TempDir, std::path::PathBuf, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("sub/deep")).unwrap();
    for i in 0..n {
        let at = match i % 3 {
            0 => src.join(format!("f{i}")),
            1 => src.join(format!("sub/f{i}")),
            _ => src.join(format!("sub/deep/f{i}")),
        };
        fs::write(at, bytes(1000 + i * 700, i as u64 + 1)).unwrap();
    }
    symlink("f0", src.join("link")).unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    run_backup(&repo, &[&src]);
    (dir, src, repo)
}

/// (inode, ctime) of every regular file under `root`, by relative path.
fn inodes(root: &Path) -> Vec<(String, u64, i64, i64)> {
    let mut out = Vec::new();
    for line in describe_tree(root) {
        let rel = line
            .split(' ')
            .next()
            .unwrap()
            .trim_matches('"')
            .to_string();
        let m = fs::symlink_metadata(root.join(&rel)).unwrap();
        if m.is_file() {
            out.push((rel, m.ino(), m.ctime(), m.ctime_nsec()));
        }
    }
    out
}

#[test]
fn if_changed_writes_only_the_changed_file() {
    let (dir, src, repo) = setup(9);
    let dest = dir.path().join("out");
    run(&repo, &dest, Opts::default()).unwrap();
    assert_eq!(describe_tree(&dest), describe_tree(&src));

    // One file changed; one touched only (same bytes, another time): compared by content.
    fs::write(dest.join("sub/f4"), b"changed").unwrap();
    let touched = dest.join("sub/deep/f5");
    let t = filetime_now();
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        &touched,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let before: Vec<_> = inodes(&dest)
        .into_iter()
        .filter(|(p, ..)| p != "sub/f4" && p != "sub/deep/f5")
        .collect();

    let r = run(
        &repo,
        &dest,
        Opts {
            overwrite: Some(Overwrite::IfChanged),
            ..Opts::default()
        },
    )
    .unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!((r.files, r.replaced), (1, 1), "only sub/f4 is written");
    assert_eq!(r.bytes, fs::metadata(src.join("sub/f4")).unwrap().len());
    assert_eq!(r.unchanged, 9, "8 files and the symlink are kept");
    assert_eq!(
        describe_tree(&dest),
        describe_tree(&src),
        "and the time of f5 is back"
    );
    let after: Vec<_> = inodes(&dest)
        .into_iter()
        .filter(|(p, ..)| p != "sub/f4" && p != "sub/deep/f5")
        .collect();
    assert_eq!(
        before, after,
        "the other files are untouched: same inode and ctime"
    );
    // Nothing temporary is left.
    assert!(!describe_tree(&dest).iter().any(|l| l.contains(".vger-tmp")));
}

fn filetime_now() -> nix::sys::time::TimeSpec {
    nix::sys::time::TimeSpec::new(1_234_567_890, 0)
}

#[test]
fn without_overwrite_a_non_empty_destination_is_refused_and_never_keeps_what_is_there() {
    let (dir, src, repo) = setup(3);
    let dest = dir.path().join("out");
    fs::create_dir_all(&dest).unwrap();
    fs::write(dest.join("f0"), b"mine").unwrap();
    let e = run(&repo, &dest, Opts::default()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::DestinationNotEmpty);
    assert!(e.to_string().contains("--overwrite if-changed"), "{e}");
    let r = run(
        &repo,
        &dest,
        Opts {
            overwrite: Some(Overwrite::Never),
            ..Opts::default()
        },
    )
    .unwrap();
    assert_eq!(fs::read(dest.join("f0")).unwrap(), b"mine");
    assert_eq!(r.unchanged, 1);
    assert_eq!(r.files, 2);
    assert_eq!(
        fs::read(dest.join("sub/f1")).unwrap(),
        fs::read(src.join("sub/f1")).unwrap()
    );
}

#[test]
fn delete_removes_extras_and_nothing_outside() {
    let (dir, src, repo) = setup(6);
    let dest = dir.path().join("out");
    run(&repo, &dest, Opts::default()).unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("keep"), b"outside").unwrap();
    fs::write(dest.join("extra"), b"x").unwrap();
    fs::create_dir_all(dest.join("sub/newdir/inner")).unwrap();
    fs::write(dest.join("sub/newdir/inner/file"), b"y").unwrap();
    symlink(&outside, dest.join("sub/to-outside")).unwrap();
    symlink(&outside, dest.join("sub/newdir/also-outside")).unwrap();

    let r = run(
        &repo,
        &dest,
        Opts {
            overwrite: Some(Overwrite::IfChanged),
            delete: true,
            ..Opts::default()
        },
    )
    .unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.files, 0);
    assert_eq!(
        r.deleted, 6,
        "extra, sub/to-outside, sub/newdir, sub/newdir/inner, its file, sub/newdir/also-outside"
    );
    assert_eq!(describe_tree(&dest), describe_tree(&src));
    assert_eq!(fs::read(outside.join("keep")).unwrap(), b"outside");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
}

#[test]
fn delete_removes_only_what_the_patterns_select() {
    let (dir, _src, repo) = setup(6);
    let dest = dir.path().join("out");
    run(&repo, &dest, Opts::default()).unwrap();
    fs::write(dest.join("extra"), b"x").unwrap();
    fs::write(dest.join("sub/extra"), b"x").unwrap();
    fs::write(dest.join("sub/deep/extra"), b"x").unwrap();
    let r = run(
        &repo,
        &dest,
        Opts {
            overwrite: Some(Overwrite::IfChanged),
            delete: true,
            include: &["sub"],
            exclude: &["sub/deep"],
            ..Opts::default()
        },
    )
    .unwrap();
    assert_eq!(r.deleted, 1);
    assert!(dest.join("extra").exists(), "outside the included subtree");
    assert!(!dest.join("sub/extra").exists());
    assert!(dest.join("sub/deep/extra").exists(), "excluded: kept");
}

#[test]
fn a_symlink_to_outside_is_replaced_never_followed() {
    let (dir, src, repo) = setup(6);
    let dest = dir.path().join("out");
    run(&repo, &dest, Opts::default()).unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("victim"), b"must stay").unwrap();
    // A file's name and a directory's name now point outside.
    fs::remove_file(dest.join("f0")).unwrap();
    symlink(outside.join("victim"), dest.join("f0")).unwrap();
    fs::remove_dir_all(dest.join("sub/deep")).unwrap();
    symlink(&outside, dest.join("sub/deep")).unwrap();

    for mode in [Overwrite::IfChanged, Overwrite::Always] {
        let r = run(
            &repo,
            &dest,
            Opts {
                overwrite: Some(mode),
                ..Opts::default()
            },
        )
        .unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(describe_tree(&dest), describe_tree(&src));
        assert_eq!(fs::read(outside.join("victim")).unwrap(), b"must stay");
        assert_eq!(
            fs::read_dir(&outside).unwrap().count(),
            1,
            "nothing written outside"
        );
    }
}

#[test]
fn a_file_replaced_by_a_directory_and_the_reverse_are_put_back() {
    let (dir, src, repo) = setup(6);
    let dest = dir.path().join("out");
    run(&repo, &dest, Opts::default()).unwrap();
    fs::remove_file(dest.join("f0")).unwrap();
    fs::create_dir_all(dest.join("f0/inside")).unwrap();
    fs::write(dest.join("f0/inside/x"), b"x").unwrap();
    fs::remove_dir_all(dest.join("sub/deep")).unwrap();
    fs::write(dest.join("sub/deep"), b"now a file").unwrap();
    fs::remove_file(dest.join("link")).unwrap();
    fs::create_dir(dest.join("link")).unwrap();

    let r = run(
        &repo,
        &dest,
        Opts {
            overwrite: Some(Overwrite::IfChanged),
            ..Opts::default()
        },
    )
    .unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(describe_tree(&dest), describe_tree(&src));
    assert_eq!(r.files, 3, "f0 and the two files of sub/deep");
}

#[test]
fn a_pattern_that_matches_nothing_is_an_error_and_excludes_win() {
    let (dir, _src, repo) = setup(6);
    let dest = dir.path().join("out");
    for (include, exclude) in [(&["nope"][..], &[][..]), (&["sub"][..], &["sub/typo*"][..])] {
        let e = run(
            &repo,
            &dest,
            Opts {
                include,
                exclude,
                ..Opts::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::PatternUnmatched);
        assert_eq!(e.code().as_str(), "VGER_PATTERN_UNMATCHED");
        assert!(!dest.exists(), "nothing written");
    }
    let r = run(
        &repo,
        &dest,
        Opts {
            include: &["sub/deep/f2", "sub"],
            exclude: &["sub/deep"],
            ..Opts::default()
        },
    )
    .unwrap();
    assert_eq!(r.files, 2, "sub/f1 and sub/f4, not what sub/deep holds");
    let mut got: Vec<_> = describe_tree(&dest)
        .into_iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(
        got,
        ["\"sub\"", "\"sub/f1\"", "\"sub/f4\""].map(String::from)
    );
}

#[test]
fn a_dry_run_writes_nothing_and_says_what_it_would_do() {
    let (dir, src, repo) = setup(6);
    let dest = dir.path().join("out");
    let r = run(
        &repo,
        &dest,
        Opts {
            dry_run: true,
            ..Opts::default()
        },
    )
    .unwrap();
    assert!(!dest.exists(), "not even the destination is created");
    assert_eq!(r.files, 6);
    assert_eq!(r.changes.iter().filter(|c| c.action == "create").count(), 7);

    run(&repo, &dest, Opts::default()).unwrap();
    fs::write(dest.join("sub/f1"), b"changed").unwrap();
    fs::write(dest.join("extra"), b"x").unwrap();
    let before = describe_tree(&dest);
    let r = run(
        &repo,
        &dest,
        Opts {
            overwrite: Some(Overwrite::IfChanged),
            delete: true,
            dry_run: true,
            ..Opts::default()
        },
    )
    .unwrap();
    assert_eq!(describe_tree(&dest), before, "nothing written");
    assert_eq!((r.files, r.replaced, r.unchanged, r.deleted), (1, 1, 6, 1));
    assert_eq!(r.bytes, fs::metadata(src.join("sub/f1")).unwrap().len());
    let acts: Vec<_> = r
        .changes
        .iter()
        .filter(|c| c.action != "unchanged")
        .map(|c| format!("{} {}", c.action, c.path))
        .collect();
    assert_eq!(acts, ["replace sub/f1", "delete extra"]);
}

/// Cancels the restore once `after` files are complete.
struct CancelAfter<'a> {
    after: u64,
    seen: AtomicU64,
    cancel: &'a CancelToken,
}

impl Progress for CancelAfter<'_> {
    fn event(&self, event: Event) {
        if let Event::Restore { .. } = event
            && self.seen.fetch_add(1, Ordering::Relaxed) + 1 >= self.after
        {
            self.cancel.cancel();
        }
    }
}

#[test]
fn an_interrupted_restore_continues_with_if_changed() {
    let (dir, src, repo) = setup(60);
    let dest = dir.path().join("out");
    let cancel = CancelToken::new();
    let p = CancelAfter {
        after: 5,
        seen: AtomicU64::new(0),
        cancel: &cancel,
    };
    let e = run_with(&repo, &dest, Opts::default(), &p, &cancel).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled);
    assert_ne!(
        describe_tree(&dest),
        describe_tree(&src),
        "it stopped part way"
    );

    let r = run(
        &repo,
        &dest,
        Opts {
            overwrite: Some(Overwrite::IfChanged),
            ..Opts::default()
        },
    )
    .unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(
        r.unchanged >= 5,
        "the files complete before are kept: {r:?}"
    );
    assert!(r.files < 60, "and not written again: {r:?}");
    assert_eq!(
        r.files + r.symlinks + r.unchanged,
        61,
        "60 files and the symlink"
    );
    assert_eq!(describe_tree(&dest), describe_tree(&src));
}
