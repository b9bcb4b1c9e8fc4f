//! What `init` and a backup leave on disk (issue 11, item 10): two `init` racing on one location
//! leave exactly one repository, and under the usual umask 022 nothing vger writes is readable by
//! other users.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Barrier};

use common::*;
use nix::sys::stat::{Mode, umask};
use vger_core::{Algorithm, ErrorCode, InitOptions, KdfParams, Repository, backup, init};

fn init_opts(url: &str) -> InitOptions {
    InitOptions {
        url: url.into(),
        passphrase: Some(PASS.into()),
        algorithm: Algorithm::Aes256Gcm,
        chunker: small_chunker(),
        kdf: KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        backend: Default::default(),
        id_keys: None,
    }
}

/// Every file under `root` (relative paths, sorted).
fn files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn of_two_concurrent_inits_exactly_one_succeeds_and_the_other_leaves_nothing() {
    let base = tempfile::tempdir().unwrap();
    for round in 0..40 {
        let url = base.path().join(format!("r{round}")).display().to_string();
        let start = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let (url, start) = (url.clone(), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    init(&init_opts(&url))
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        let lost = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert_eq!(lost.code(), ErrorCode::RepoExists, "round {round}: {lost}");
        let left = files(Path::new(&url));
        let keys = left.iter().filter(|f| f.starts_with("keys/")).count();
        assert_eq!(keys, 1, "round {round}: {left:?}");
        assert_eq!(
            left.len(),
            2,
            "one key and the config, round {round}: {left:?}"
        );
        // The key that stayed is the winner's: the repository opens.
        let repo = Repository::open(&url, Some(PASS)).unwrap();
        assert_eq!(repo.config().id, won[0].id);
    }
}

#[test]
fn under_umask_022_keys_repository_files_and_the_file_cache_are_private() {
    umask(Mode::from_bits_truncate(0o022));
    let dir = tempfile::tempdir().unwrap();
    let url = repo_url(dir.path());
    init(&init_opts(&url)).unwrap();
    let repo = Repository::open(&url, Some(PASS)).unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), bytes(50_000, 1)).unwrap();
    let cache = dir.path().join("cache");
    let mut opts = backup_opts(&[&src]);
    opts.cache_dir = Some(cache.clone());
    backup(
        &repo,
        &opts,
        &vger_core::NoProgress,
        &vger_core::CancelToken::new(),
    )
    .unwrap();

    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for root in [Path::new(&url), cache.as_path()] {
        assert_eq!(mode(root), 0o700, "{}", root.display());
        let all = files(root);
        assert!(!all.is_empty());
        for f in &all {
            let p = root.join(f);
            assert_eq!(mode(&p), 0o600, "{}", p.display());
            assert_eq!(mode(p.parent().unwrap()), 0o700, "{}", p.display());
        }
    }
    assert!(
        files(Path::new(&url))
            .iter()
            .any(|f| f.starts_with("keys/"))
    );
}
