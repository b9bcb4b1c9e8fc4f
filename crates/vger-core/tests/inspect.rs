//! Diff, find, repository totals and the passphrase change, on snapshots with known changes.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use common::*;
use vger_core::{
    Algorithm, Change, ErrorCode, FindOptions, KdfParams, KindFilter, Repository, Status, diff,
    find, repo_stats,
};

fn write(p: &Path, data: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// A tree with a deep, wide part that never changes, and a few files that will.
fn first_tree(src: &Path) {
    for d in 0..20 {
        for f in 0..5 {
            write(
                &src.join(format!("stable/d{d:02}/deep/er/f{f}.c")),
                format!("int x{d}_{f};").as_bytes(),
            );
        }
    }
    write(&src.join("src/main.c"), b"int main() { return 0; }");
    write(&src.join("src/gone.c"), b"bye");
    write(&src.join("README"), b"hello");
    write(&src.join("script.sh"), b"#!/bin/sh\n");
    symlink("README", src.join("link")).unwrap();
}

fn second_tree(src: &Path) {
    write(
        &src.join("src/main.c"),
        b"int main() { return 1; /* longer */ }",
    );
    fs::remove_file(src.join("src/gone.c")).unwrap();
    write(&src.join("src/new/added.c"), b"new");
    fs::set_permissions(src.join("script.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::remove_file(src.join("link")).unwrap();
    symlink("script.sh", src.join("link")).unwrap();
}

fn paths(v: &[vger_core::DiffEntry], c: Change) -> Vec<String> {
    v.iter()
        .filter(|e| e.change == c)
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .collect()
}

#[test]
fn diff_reports_each_kind_of_change_and_skips_equal_subtrees() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    first_tree(&src);
    let a = run_backup(&repo, &[&src]).snapshot;
    second_tree(&src);
    let b = run_backup(&repo, &[&src]).snapshot;

    let d = diff(&repo, &a.id.to_hex(), &b.id.to_hex()).unwrap();
    assert_eq!(
        paths(&d.entries, Change::Added),
        ["src/new", "src/new/added.c"]
    );
    assert_eq!(paths(&d.entries, Change::Removed), ["src/gone.c"]);
    assert_eq!(paths(&d.entries, Change::Modified), ["link", "src/main.c"]);
    assert_eq!(paths(&d.entries, Change::Metadata), ["script.sh"]);
    let main = d.entries.iter().find(|e| e.path == b"src/main.c").unwrap();
    assert!(main.fields.contains(&"content") && main.fields.contains(&"size"));
    assert_eq!(main.old_size, Some(24));
    assert_eq!(main.new_size, Some(37));
    let script = d.entries.iter().find(|e| e.path == b"script.sh").unwrap();
    assert_eq!(script.fields, ["mode"]);
    let link = d.entries.iter().find(|e| e.path == b"link").unwrap();
    assert_eq!(link.fields[0], "target");
    assert_eq!(d.bytes_added, 13 + 3);
    assert_eq!(d.bytes_removed, 3);
    // Root, src and src/new on both sides where they exist: the 20 stable subtrees
    // (80 directories) are never read.
    assert!(d.trees_read <= 6, "read {} trees", d.trees_read);

    let same = diff(&repo, &b.id.to_hex(), &b.id.to_hex()).unwrap();
    assert!(same.entries.is_empty());
    assert_eq!(same.trees_read, 0);
    // Reversed, additions become removals.
    let back = diff(&repo, &b.id.to_hex(), &a.id.to_hex()).unwrap();
    assert_eq!(
        paths(&back.entries, Change::Removed),
        ["src/new", "src/new/added.c"]
    );
    assert_eq!(paths(&back.entries, Change::Added), ["src/gone.c"]);
}

#[test]
fn find_builds_a_timeline_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::ChaCha20Poly1305);
    let src = dir.path().join("src");
    first_tree(&src);
    let a = run_backup(&repo, &[&src]).snapshot;
    second_tree(&src);
    let b = run_backup(&repo, &[&src]).snapshot;
    let c = run_backup(&repo, &[&src]).snapshot;
    let all = vec![c.id.to_hex(), a.id.to_hex(), b.id.to_hex()];

    let out = find(
        &repo,
        &FindOptions {
            snapshots: all.clone(),
            path: "src".into(),
            name: Some("*.c".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(out.snapshots[0].id, a.id, "oldest first");
    let timeline: Vec<(String, Vec<Status>)> = out
        .results
        .iter()
        .map(|r| {
            (
                String::from_utf8_lossy(&r.path).into_owned(),
                r.versions.iter().map(|v| v.status).collect(),
            )
        })
        .collect();
    use Status::*;
    assert_eq!(
        timeline,
        [
            ("src/gone.c".to_string(), vec![Added]),
            ("src/main.c".to_string(), vec![Added, Modified, Unchanged]),
            ("src/new/added.c".to_string(), vec![Added, Unchanged]),
        ]
    );
    assert_eq!(out.results[1].versions[1].size, 37);

    // Case-insensitive names, kinds and sizes.
    let readme = find(
        &repo,
        &FindOptions {
            snapshots: vec![a.id.to_hex()],
            iname: Some("readme".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(readme.results.len(), 1);
    let dirs = find(
        &repo,
        &FindOptions {
            snapshots: vec![a.id.to_hex()],
            kind: Some(KindFilter::Dir),
            name: Some("d0*".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(dirs.results.len(), 10);
    let big = find(
        &repo,
        &FindOptions {
            snapshots: vec![b.id.to_hex()],
            kind: Some(KindFilter::File),
            larger: Some(20),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(big.results.len(), 1);
    assert_eq!(big.results[0].path, b"src/main.c");
    let err = find(
        &repo,
        &FindOptions {
            snapshots: vec!["latest".into()],
            name: Some("[".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
}

#[test]
fn stats_count_dedup_and_storage() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    write(&src.join("a"), &bytes(100_000, 1));
    write(&src.join("b"), &bytes(100_000, 1));
    run_backup(&repo, &[&src]);
    run_backup(&repo, &[&src]);
    let s = repo_stats(&repo).unwrap();
    assert_eq!(s.snapshots, 2);
    assert_eq!(s.original_bytes, 400_000);
    // One copy of the data, plus one root tree listing ~40 chunk references (~1.5 KB).
    assert!(
        s.deduplicated_bytes >= 100_000 && s.deduplicated_bytes < 102_000,
        "{s:?}"
    );
    assert!(
        s.compressed_bytes > 100_000,
        "random data does not shrink: {s:?}"
    );
    assert!(s.stored_bytes > s.compressed_bytes);
    assert!(s.packs >= 1);
}

#[test]
fn changing_the_passphrase_keeps_the_data_and_retires_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let src = dir.path().join("src");
    first_tree(&src);
    let snap = run_backup(&repo, &[&src]).snapshot;
    let kdf = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    repo.change_passphrase("new secret", kdf).unwrap();
    // Twice in one session works too (the current key file is tracked).
    repo.change_passphrase("newer secret", kdf).unwrap();
    let url = repo_url(dir.path());
    for old in [PASS, "new secret"] {
        let e = Repository::open(&url, Some(old)).err().unwrap();
        assert_eq!(e.code(), ErrorCode::WrongPassphrase);
    }
    let reopened = Repository::open(&url, Some("newer secret")).unwrap();
    assert_eq!(reopened.backend().list("keys").unwrap().len(), 1);
    let out = dir.path().join("out");
    run_restore(&reopened, &snap.id.to_hex(), &out, None).unwrap();
    assert_eq!(describe_tree(&src.join("src")).len(), 2);
    assert_eq!(fs::read(out.join("README")).unwrap(), b"hello");
    assert_eq!(
        repo.change_passphrase("", kdf).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}
