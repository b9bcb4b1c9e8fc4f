//! `copy` between two repositories: an interrupted copy keeps the snapshots it finished and the
//! rerun copies only the rest; a copy is idempotent; both key arrangements restore the same bytes.
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
    Algorithm, CancelToken, CopyOptions, ErrorCode, Event, InitOptions, KdfParams, NoProgress,
    Progress, Repository, copy, init, plan_delete_snapshots,
};

fn opts() -> CopyOptions {
    CopyOptions {
        compression: Compression::Lz4,
        threads: 2,
        dry_run: false,
    }
}

/// A second repository under `dir/<name>`, sharing `like`'s id keys when given.
fn second(dir: &Path, name: &str, like: Option<&Repository>) -> Repository {
    let url = dir.join(name).to_string_lossy().into_owned();
    init(&InitOptions {
        url: url.clone(),
        passphrase: Some("another passphrase".into()),
        algorithm: Algorithm::ChaCha20Poly1305,
        chunker: like.map_or_else(small_chunker, |r| r.config().chunker),
        kdf: KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        backend: Default::default(),
        id_keys: like.map(|r| r.master().id_keys()),
    })
    .unwrap();
    Repository::open(&url, Some("another passphrase")).unwrap()
}

/// Cancels when the copy reaches snapshot `at`.
struct CancelAt {
    at: u64,
    cancel: CancelToken,
}

impl Progress for CancelAt {
    fn event(&self, event: Event) {
        if let Event::Step {
            phase: "copy",
            done,
            ..
        } = event
            && done == self.at
        {
            self.cancel.cancel();
        }
    }
}

fn three_snapshots(dir: &Path, repo: &Repository) -> (std::path::PathBuf, Vec<String>) {
    let src = dir.join("src");
    fs::create_dir_all(src.join("d")).unwrap();
    let mut ids = Vec::new();
    for i in 0..3u64 {
        fs::write(src.join("big.bin"), bytes(200_000, 7)).unwrap();
        fs::write(src.join(format!("d/f{i}")), bytes(30_000, i + 10)).unwrap();
        ids.push(run_backup(repo, &[&src]).snapshot.id.to_hex());
    }
    (src, ids)
}

fn ids_of(repo: &Repository) -> Vec<String> {
    repo.snapshots()
        .unwrap()
        .snapshots
        .iter()
        .map(|s| s.id.to_hex())
        .collect()
}

#[test]
fn an_interrupted_copy_keeps_what_it_finished_and_the_rerun_copies_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let src_repo = new_repo(tmp.path(), Algorithm::Aes256Gcm);
    let (src, ids) = three_snapshots(tmp.path(), &src_repo);
    let dst = second(tmp.path(), "dst", None);
    let snaps = plan_delete_snapshots(&src_repo, &ids).unwrap();

    let cancel = CancelToken::new();
    let stop = CancelAt {
        at: 1,
        cancel: cancel.clone(),
    };
    let e = copy(&src_repo, &dst, &snaps, &opts(), &stop, &cancel).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled);
    assert_eq!(
        ids_of(&dst),
        ids[..1].to_vec(),
        "the first snapshot is committed"
    );

    let out = copy(
        &src_repo,
        &dst,
        &snaps,
        &opts(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    assert!(out.rechunked);
    assert!(out.snapshots[0].copied.is_none(), "already there");
    assert!(out.snapshots[1].copied.is_some() && out.snapshots[2].copied.is_some());
    assert_eq!(ids_of(&dst), ids);
    // big.bin was stored by the first run: the rerun stores only the two new files and trees.
    assert!(
        out.bytes < 2 * 30_000 + 16_384,
        "stored {} bytes",
        out.bytes
    );

    // Idempotent.
    let again = copy(
        &src_repo,
        &dst,
        &snaps,
        &opts(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(
        (
            again.blobs,
            again.bytes,
            again.stored_bytes,
            again.bytes_read
        ),
        (0, 0, 0, 0)
    );

    let restored = tmp.path().join("out");
    run_restore(&dst, &ids[2], &restored, None).unwrap();
    assert_eq!(describe_tree(&restored), describe_tree(&src));
}

#[test]
fn shared_ids_copy_only_what_is_missing_and_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let src_repo = new_repo(tmp.path(), Algorithm::Aes256Gcm);
    let (src, ids) = three_snapshots(tmp.path(), &src_repo);
    let dst = second(tmp.path(), "dst", Some(&src_repo));
    let first = plan_delete_snapshots(&src_repo, &ids[..1]).unwrap();
    let out = copy(
        &src_repo,
        &dst,
        &first,
        &opts(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    assert!(!out.rechunked);
    let rest = plan_delete_snapshots(&src_repo, &ids).unwrap();
    let out = copy(
        &src_repo,
        &dst,
        &rest,
        &opts(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    // Only the two new files are read; big.bin and f0 are in the destination already.
    assert_eq!(out.bytes_read, 2 * 30_000);
    let restored = tmp.path().join("out");
    run_restore(&dst, &ids[2], &restored, None).unwrap();
    assert_eq!(describe_tree(&restored), describe_tree(&src));

    // The same repository twice, and out of encryption.
    let same = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    let e = copy(
        &src_repo,
        &same,
        &rest,
        &opts(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("same repository"), "{e}");
    let url = tmp.path().join("plain").to_string_lossy().into_owned();
    init(&InitOptions {
        url: url.clone(),
        passphrase: None,
        algorithm: Algorithm::None,
        chunker: small_chunker(),
        kdf: KdfParams::default(),
        backend: Default::default(),
        id_keys: None,
    })
    .unwrap();
    let plain = Repository::open(&url, None).unwrap();
    let e = copy(
        &src_repo,
        &plain,
        &rest,
        &opts(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("in the clear"), "{e}");
    assert!(ids_of(&plain).is_empty());
}
