//! Reading a snapshot's trees ahead (`repo/trees.rs`), as restore does: every tree is read from
//! storage once, many at a time, identical directories (one blob) are handed out as often as
//! they occur, and the restore is identical.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use vger_core::repo::trees::{Trees, WIDTH};
use vger_core::tree::{Content, Kind};
use vger_core::{Algorithm, Repository};
use vger_storage::{Backend, LocalBackend, ObjectMeta};
use vger_types::{ChunkId, Result};

/// Counts ranged reads (tree blobs are read from packs by range) and the most in flight at once.
struct Counting {
    inner: LocalBackend,
    reads: AtomicUsize,
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Backend for Counting {
    fn get(&self, key: &str) -> Result<Vec<u8>> {
        self.inner.get(key)
    }
    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let r = self.inner.get_range(key, offset, len);
        self.now.fetch_sub(1, Ordering::SeqCst);
        r
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

/// Every (directory) subtree id under `id`, depth first, repeats included.
fn subtrees(repo: &Repository, id: &ChunkId, out: &mut Vec<ChunkId>) {
    for e in repo.read_tree(id).unwrap() {
        if let (Kind::Dir, Content::Subtree(sub)) = (e.kind, &e.content) {
            out.push(*sub);
            subtrees(repo, sub, out);
        }
    }
}

#[test]
fn every_tree_is_read_once_in_parallel_and_repeats_are_handed_out_each_time() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = new_repo(tmp.path(), Algorithm::ChaCha20Poly1305);
    let src = tmp.path().join("src");
    // 40 directories of 3 levels, with two identical subtrees in each (one blob, used twice)
    // and identical empty directories everywhere.
    for d in 0..40 {
        for same in ["x", "y"] {
            let p = src.join(format!("d{d}")).join(same).join("deep");
            fs::create_dir_all(&p).unwrap();
            fs::write(p.join("f.txt"), b"the same in x and y").unwrap();
            fs::create_dir_all(p.join("empty")).unwrap();
        }
        fs::write(src.join(format!("d{d}")).join("own.txt"), format!("{d}")).unwrap();
    }
    let root = run_backup(&repo, &[&src]).snapshot.tree;
    drop(repo);

    let counting = Arc::new(Counting {
        inner: LocalBackend::new(tmp.path().join("repo"), &repo_url(tmp.path())),
        reads: AtomicUsize::new(0),
        now: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
    });
    let repo = Repository::open_with(counting.clone(), Some(PASS)).unwrap();
    let mut all = vec![root];
    subtrees(&repo, &root, &mut all);
    let distinct: std::collections::HashSet<ChunkId> = all.iter().copied().collect();
    assert!(
        all.len() > distinct.len() + 40,
        "the fixture repeats subtrees"
    );

    counting.reads.store(0, Ordering::SeqCst);
    counting.most.store(0, Ordering::SeqCst);
    let trees = Trees::load(&repo, &root, WIDTH);
    assert_eq!(
        counting.reads.load(Ordering::SeqCst),
        distinct.len(),
        "each tree read once"
    );
    assert!(counting.most.load(Ordering::SeqCst) > 1, "reads overlapped");
    for id in &all {
        let entries = trees.take(&repo, id).unwrap();
        assert_eq!(entries, repo.read_tree(id).unwrap());
    }
    // Every handed-out copy came from the read-ahead: only the comparisons above read again.
    assert_eq!(
        counting.reads.load(Ordering::SeqCst),
        distinct.len() + all.len()
    );

    let dest = tmp.path().join("restored");
    let out = run_restore(&repo, "latest", &dest, None).unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(describe_tree(&dest), describe_tree(&src));
}
