//! Trees live in packs of their own (backup and compaction keep them apart from data), and a
//! caching backend keeps those packs whole: walking a snapshot's trees then costs one download
//! per tree pack instead of one ranged read per directory, and nothing at all the second time.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use vger_core::repo::trees::{Trees, WIDTH};
use vger_core::{
    Algorithm, CancelToken, CompactOptions, NoProgress, Repository, compact, delete_snapshots,
    plan_compact, plan_delete_snapshots,
};
use vger_crypto::BlobKind;
use vger_storage::{Backend, CachedBackend, LocalBackend, ObjectMeta};
use vger_types::{PackId, Result};

/// Counts what reaches the store, by kind of request, for pack keys.
#[derive(Default)]
struct Counts {
    gets: AtomicUsize,
    ranges: AtomicUsize,
}

struct Counting {
    inner: LocalBackend,
    counts: Arc<Counts>,
}

impl Backend for Counting {
    fn get(&self, key: &str) -> Result<Vec<u8>> {
        if key.starts_with("packs/") {
            self.counts.gets.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.get(key)
    }
    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        if key.starts_with("packs/") {
            self.counts.ranges.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.get_range(key, offset, len)
    }
    fn put_new(&self, key: &str, data: &[u8]) -> Result<()> {
        self.inner.put_new(key, data)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list(prefix)
    }
    fn list_meta(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.inner.list_meta(prefix)
    }
    fn size(&self, key: &str) -> Result<Option<u64>> {
        self.inner.size(key)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key)
    }
    fn is_empty(&self) -> Result<bool> {
        self.inner.is_empty()
    }
    fn create(&self) -> Result<()> {
        self.inner.create()
    }
    fn location(&self) -> &str {
        self.inner.location()
    }
}

/// Directories `first..first + dirs` of a source, each with a file of its own (distinct data).
fn make_source(root: &Path, first: usize, dirs: usize, seed: u64) {
    for d in first..first + dirs {
        let p = root.join(format!("d{}", d % 10)).join(format!("e{d}"));
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("f.bin"), bytes(3000, seed * 1000 + d as u64)).unwrap();
    }
}

/// Per pack in the index: (has trees, has data).
fn pack_kinds(repo: &Repository) -> HashMap<PackId, (bool, bool)> {
    let mut out: HashMap<PackId, (bool, bool)> = HashMap::new();
    for (_, pack, loc) in repo.index().iter() {
        let k = out.entry(pack).or_default();
        match loc.kind {
            BlobKind::Tree => k.0 = true,
            BlobKind::Data => k.1 = true,
        }
    }
    out
}

fn assert_kinds_apart(repo: &Repository) -> usize {
    let kinds = pack_kinds(repo);
    assert!(
        kinds.values().all(|(t, d)| t != d),
        "a pack mixes trees and data: {kinds:?}"
    );
    kinds.values().filter(|(t, _)| *t).count()
}

fn cached_repo(tmp: &Path, cache: &Path) -> (Repository, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let counting = Counting {
        inner: LocalBackend::new(tmp.join("repo"), &repo_url(tmp)),
        counts: Arc::clone(&counts),
    };
    let backend: Arc<dyn Backend> = Arc::new(CachedBackend::new(Box::new(counting), cache));
    (Repository::open_with(backend, Some(PASS)).unwrap(), counts)
}

fn cached_packs(cache: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(namespaces) = fs::read_dir(cache) else {
        return out;
    };
    for ns in namespaces.flatten() {
        let Ok(fans) = fs::read_dir(ns.path().join("packs")) else {
            continue;
        };
        for fan in fans.flatten() {
            for f in fs::read_dir(fan.path()).unwrap().flatten() {
                out.push(f.file_name().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn trees_and_data_never_share_a_pack_through_backup_and_compaction() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path(), Algorithm::Aes256Gcm);
    let src = tmp.path().join("src");
    make_source(&src, 0, 120, 1);
    run_backup(&repo, &[&src]);
    assert!(
        assert_kinds_apart(&repo) >= 1,
        "a pack of trees was written"
    );
    // Every pack is fully used: even at threshold 0, a compaction repacks none of them (a
    // small pack's header and trailer are not unused space).
    let opts = CompactOptions {
        threshold_pct: 0.0,
        grace: std::time::Duration::ZERO,
        ..CompactOptions::default()
    };
    let plan = plan_compact(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    assert!(plan.repack.is_empty() && plan.delete.is_empty());
    compact(&repo, plan, &NoProgress, &CancelToken::new()).unwrap();
    // A second snapshot without half of the first's directories and with new ones, then the
    // first deleted: its packs of data and of trees are each half used, and repacked into new
    // packs that keep the kinds apart too.
    for d in 0..60 {
        fs::remove_dir_all(src.join(format!("d{}", d % 10)).join(format!("e{d}"))).unwrap();
    }
    make_source(&src, 120, 160, 2);
    run_backup(&repo, &[&src]);
    let first = repo.snapshots().unwrap().snapshots[0].id.to_hex();
    delete_snapshots(&repo, &plan_delete_snapshots(&repo, &[first]).unwrap()).unwrap();
    let plan = plan_compact(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    let out = compact(&repo, plan, &NoProgress, &CancelToken::new()).unwrap();
    assert!(out.packs_written >= 2, "{out:?}");
    assert!(assert_kinds_apart(&repo) >= 1);
    let dest = tmp.path().join("restored");
    let r = run_restore(&repo, "latest", &dest, None).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(describe_tree(&dest), describe_tree(&src));
}

#[test]
fn a_caching_backend_downloads_each_tree_pack_once_and_drops_the_ones_compacted_away() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path(), Algorithm::ChaCha20Poly1305);
    let src = tmp.path().join("src");
    make_source(&src, 0, 300, 1);
    let root = run_backup(&repo, &[&src]).snapshot.tree;
    let tree_packs = assert_kinds_apart(&repo);
    drop(repo);

    let cache = tmp.path().join("cache");
    let (repo, counts) = cached_repo(tmp.path(), &cache);
    let trees = Trees::load(&repo, &root, WIDTH);
    assert!(trees.len() > 300, "every directory read ({})", trees.len());
    // One download per pack of trees, however many threads wanted it, and no ranged read.
    assert_eq!(counts.gets.load(Ordering::SeqCst), tree_packs);
    assert_eq!(counts.ranges.load(Ordering::SeqCst), 0);
    assert_eq!(cached_packs(&cache).len(), tree_packs);
    drop(trees);
    drop(repo);

    // Another process, same cache: the trees come from the local copies.
    let (repo, counts) = cached_repo(tmp.path(), &cache);
    let again = Trees::load(&repo, &root, WIDTH);
    assert!(again.len() > 300);
    assert_eq!(counts.gets.load(Ordering::SeqCst), 0);
    assert_eq!(counts.ranges.load(Ordering::SeqCst), 0);
    // A restore reads the data by range, the trees from the cache.
    let dest = tmp.path().join("restored");
    let r = run_restore(&repo, "latest", &dest, None).unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(describe_tree(&dest), describe_tree(&src));
    assert_eq!(counts.gets.load(Ordering::SeqCst), 0);
    assert!(counts.ranges.load(Ordering::SeqCst) > 0);
    drop(repo);

    // A copy damaged on the local disk is fetched again, not reported as repository damage.
    let damaged: Vec<_> = fs::read_dir(&cache).unwrap().flatten().collect();
    let ns = damaged[0].path();
    let fan = fs::read_dir(ns.join("packs"))
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    let copy = fs::read_dir(fan.path())
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let mut b = fs::read(&copy).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0xff;
    fs::write(&copy, b).unwrap();
    let (repo, counts) = cached_repo(tmp.path(), &cache);
    let third = Trees::load(&repo, &root, WIDTH);
    assert_eq!(third.len(), again.len());
    assert_eq!(
        counts.gets.load(Ordering::SeqCst),
        1,
        "the damaged copy only"
    );

    // Another client (no cache) deletes the snapshot and compacts: the next open through the
    // cache drops the copies of the packs that are gone.
    let direct = Repository::open(&repo_url(tmp.path()), Some(PASS)).unwrap();
    let ids: Vec<_> = direct
        .snapshots()
        .unwrap()
        .snapshots
        .iter()
        .map(|s| s.id.to_hex())
        .collect();
    delete_snapshots(&direct, &plan_delete_snapshots(&direct, &ids).unwrap()).unwrap();
    let opts = CompactOptions {
        threshold_pct: 0.0,
        grace: std::time::Duration::ZERO,
        ..CompactOptions::default()
    };
    drop(third);
    drop(repo);
    let plan = plan_compact(&direct, &opts, &NoProgress, &CancelToken::new()).unwrap();
    compact(&direct, plan, &NoProgress, &CancelToken::new()).unwrap();
    assert!(!cached_packs(&cache).is_empty());
    let _reopened = cached_repo(tmp.path(), &cache);
    assert_eq!(cached_packs(&cache), Vec::<String>::new());
}
