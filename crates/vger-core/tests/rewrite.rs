//! `snapshot rewrite`: a rewritten snapshot restores without the excluded paths (and with
//! everything else byte for byte), compact then gives back their space, a hard link to a removed
//! file keeps the data, and bad requests change nothing.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::path::Path;

use common::*;
use vger_core::compress::Compression;
use vger_core::{
    Algorithm, Annotation, CancelToken, CompactOptions, ErrorCode, NoProgress, Repository,
    RewriteOptions, annotate, compact, plan_annotate, plan_compact, rewrite,
};

fn opts(exclude: &[&str], forget: bool) -> RewriteOptions {
    RewriteOptions {
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
        forget,
        dry_run: false,
        compression: Compression::Lz4,
        threads: 2,
    }
}

fn stored_bytes(dir: &Path) -> u64 {
    let mut n = 0;
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        n += if m.is_dir() {
            stored_bytes(&e.path())
        } else {
            m.len()
        };
    }
    n
}

fn snapshot_ids(repo: &Repository) -> Vec<String> {
    repo.snapshots()
        .unwrap()
        .snapshots
        .iter()
        .map(|s| s.id.to_hex())
        .collect()
}

/// src/keep.txt, src/secret.bin (incompressible, 512 KiB), src/dir/a, src/dir/deep/b.
fn tree(root: &Path) -> std::path::PathBuf {
    let src = root.join("src");
    fs::create_dir_all(src.join("dir/deep")).unwrap();
    fs::write(src.join("keep.txt"), bytes(40_000, 1)).unwrap();
    fs::write(src.join("secret.bin"), bytes(512 * 1024, 2)).unwrap();
    fs::write(src.join("dir/a"), bytes(10_000, 3)).unwrap();
    fs::write(src.join("dir/deep/b"), bytes(10_000, 4)).unwrap();
    src
}

#[test]
fn rewrite_removes_the_path_and_compact_gives_its_space_back() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tree(tmp.path());
    let repo = new_repo(tmp.path(), Algorithm::Aes256Gcm);
    let mut b = backup_opts(&[&src]);
    b.tags = vec!["t".into()];
    b.description = "nightly".into();
    let original = vger_core::backup(&repo, &b, &NoProgress, &CancelToken::new())
        .unwrap()
        .snapshot;
    let before = stored_bytes(&tmp.path().join("repo"));

    // A dry run counts and writes nothing.
    let mut dry = opts(&["secret.bin"], true);
    dry.dry_run = true;
    let plan = rewrite(
        &repo,
        &[original.id.to_hex()],
        &dry,
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(plan[0].removed_paths, vec![b"secret.bin".to_vec()]);
    assert_eq!(plan[0].removed_bytes, 512 * 1024);
    assert!(!plan[0].forgotten);
    assert_eq!(snapshot_ids(&repo), vec![original.id.to_hex()]);
    assert_eq!(stored_bytes(&tmp.path().join("repo")), before);

    let done = rewrite(
        &repo,
        &[original.id.to_hex()],
        &opts(&["secret.bin"], true),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    let new = done[0].rewritten.clone().unwrap();
    assert!(done[0].forgotten);
    assert_eq!(
        snapshot_ids(&repo),
        vec![new.id.to_hex()],
        "the original is gone"
    );
    let s = repo.resolve_snapshot(&new.id.to_hex()).unwrap();
    assert_eq!(
        (s.start_ns, &s.hostname, &s.label, &s.paths),
        (
            original.start_ns,
            &original.hostname,
            &original.label,
            &original.paths
        )
    );
    assert_eq!(s.meta.tags, vec!["t"]);
    assert_eq!(s.meta.description, "nightly");
    let (from, note) = s.meta.rewritten_from.clone().unwrap();
    assert_eq!(from, original.id);
    assert!(note.contains("secret.bin"), "{note}");
    assert_eq!(s.stats.files, original.stats.files - 1);
    assert_eq!(s.stats.bytes, original.stats.bytes - 512 * 1024);
    assert_eq!(s.stats.dirs, original.stats.dirs);

    // Restores without the secret, everything else identical.
    let out = tmp.path().join("out");
    run_restore(&repo, &new.id.to_hex(), &out, None).unwrap();
    assert!(!out.join("secret.bin").exists());
    fs::remove_file(src.join("secret.bin")).unwrap();
    let strip = |v: Vec<String>| -> Vec<String> {
        // Directory mtimes differ (the source directory just lost a file).
        v.into_iter().filter(|l| l.contains("mode=1")).collect()
    };
    assert_eq!(strip(describe_tree(&out)), strip(describe_tree(&src)));

    // Compact frees the secret's data: at least its 512 KiB (it does not compress).
    let plan = plan_compact(
        &repo,
        &CompactOptions {
            threshold_pct: 0.0,
            grace: std::time::Duration::ZERO,
            ..Default::default()
        },
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    compact(&repo, plan, &NoProgress, &CancelToken::new()).unwrap();
    let after = stored_bytes(&tmp.path().join("repo"));
    assert!(
        after + 512 * 1024 <= before,
        "compact gave back {} bytes, expected at least 512 KiB",
        before.saturating_sub(after)
    );
    let again = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    let out2 = tmp.path().join("out2");
    run_restore(&again, "latest", &out2, None).unwrap();
    assert_eq!(strip(describe_tree(&out2)), strip(describe_tree(&src)));
}

#[test]
fn a_hard_link_to_a_removed_file_keeps_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tree(tmp.path());
    // Walked after secret.bin, so they are stored as links to it; zdir has nothing removed and
    // must still be rebuilt for its link.
    fs::create_dir(src.join("zdir")).unwrap();
    fs::hard_link(src.join("secret.bin"), src.join("z1")).unwrap();
    fs::hard_link(src.join("secret.bin"), src.join("zdir/link2")).unwrap();
    let repo = new_repo(tmp.path(), Algorithm::Aes256Gcm);
    let id = run_backup(&repo, &[&src]).snapshot.id.to_hex();
    let done = rewrite(
        &repo,
        &[id],
        &opts(&["secret.bin"], false),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(
        snapshot_ids(&repo).len(),
        2,
        "without --forget the original stays"
    );
    let new = done[0].rewritten.clone().unwrap().id.to_hex();
    let out = tmp.path().join("out");
    run_restore(&repo, &new, &out, None).unwrap();
    let want = fs::read(src.join("secret.bin")).unwrap();
    assert!(!out.join("secret.bin").exists());
    assert_eq!(fs::read(out.join("z1")).unwrap(), want);
    assert_eq!(fs::read(out.join("zdir/link2")).unwrap(), want);
    // Still one file with two names.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(out.join("z1")).unwrap().ino(),
        fs::metadata(out.join("zdir/link2")).unwrap().ino()
    );
}

#[test]
fn bad_rewrites_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tree(tmp.path());
    let repo = new_repo(tmp.path(), Algorithm::Aes256Gcm);
    let id = run_backup(&repo, &[&src]).snapshot.id.to_hex();
    let before = stored_bytes(&tmp.path().join("repo"));
    let run = |o: RewriteOptions| {
        rewrite(
            &repo,
            std::slice::from_ref(&id),
            &o,
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap_err()
    };
    // A pattern that matches nothing (even beside one that does).
    let e = run(opts(&["secret.bin", "nope"], true));
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(e.to_string().contains("nope"), "{e}");
    // A rewrite that would empty the snapshot.
    let e = run(opts(&["dir", "keep.txt", "secret.bin"], true));
    assert!(e.to_string().contains("empty"), "{e}");
    let e = run(opts(&["*"], false));
    assert!(e.to_string().contains("empty"), "{e}");
    // No pattern at all; a malformed one.
    assert_eq!(run(opts(&[], false)).code(), ErrorCode::InvalidArgument);
    assert_eq!(run(opts(&["[x"], false)).code(), ErrorCode::InvalidArgument);
    // --forget of a pinned snapshot.
    let pin = Annotation {
        pinned: Some(true),
        ..Default::default()
    };
    annotate(
        &repo,
        &plan_annotate(&repo, std::slice::from_ref(&id), &pin).unwrap(),
    )
    .unwrap();
    let pinned = snapshot_ids(&repo)[0].clone();
    let e = rewrite(
        &repo,
        std::slice::from_ref(&pinned),
        &opts(&["secret.bin"], true),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("pinned"), "{e}");
    assert_eq!(snapshot_ids(&repo), vec![pinned]);
    // Only the pin's new snapshot object was added meanwhile.
    let after = stored_bytes(&tmp.path().join("repo"));
    assert!(after.abs_diff(before) < 4096, "{before} -> {after}");
}
