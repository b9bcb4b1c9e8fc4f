//! A snapshot's directory tree read at once: every tree blob reachable from a root, fetched level
//! by level with many requests in flight, so that a remote repository's round trips overlap
//! instead of adding up. A restore of the benchmark corpus reads about 5,100 trees; one after
//! another that took 224 s over S3 on loopback, most of it waiting.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicUsize, Ordering};

use vger_types::{ChunkId, Result};

use super::Repository;
use crate::tree::{Content, Entry, Kind};

/// Requests in flight while loading (the backend bounds its own connections below this).
pub const WIDTH: usize = 16;

/// Trees read ahead, by id. A blob used in several places (identical directories, such as
/// empty ones) is read once and handed out as often as it is asked for.
#[derive(Default)]
pub struct Trees {
    map: HashMap<ChunkId, Vec<Entry>>,
}

impl Trees {
    /// Reads every tree under `root` (itself included), up to `width` at once. A tree that cannot
    /// be read is left out: [`Trees::take`] reads it again and reports the error where the
    /// caller meets it, as without the read-ahead.
    pub fn load(repo: &Repository, root: &ChunkId, width: usize) -> Self {
        let mut out = Trees::default();
        let mut queued = HashSet::from([*root]);
        let mut level = vec![*root];
        while !level.is_empty() {
            let read = read_level(repo, &level, width.max(1));
            let mut next = Vec::new();
            for (id, entries) in level.into_iter().zip(read) {
                let Some(entries) = entries else { continue };
                for e in &entries {
                    if let (Kind::Dir, Content::Subtree(sub)) = (e.kind, &e.content)
                        && queued.insert(*sub)
                    {
                        next.push(*sub);
                    }
                }
                out.map.insert(id, entries);
            }
            level = next;
        }
        out
    }

    /// How many distinct trees were read ahead.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The entries of `id`: a copy of the tree read ahead, else read now.
    pub fn take(&self, repo: &Repository, id: &ChunkId) -> Result<Vec<Entry>> {
        match self.map.get(id) {
            Some(entries) => Ok(entries.clone()),
            None => repo.read_tree(id),
        }
    }
}

/// Reads `ids` with `width` threads; `None` where a read failed.
fn read_level(repo: &Repository, ids: &[ChunkId], width: usize) -> Vec<Option<Vec<Entry>>> {
    if ids.len() == 1 {
        return vec![repo.read_tree(&ids[0]).ok()];
    }
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Vec<Entry>>>> = Mutex::new(vec![None; ids.len()]);
    std::thread::scope(|s| {
        for _ in 0..width.min(ids.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(id) = ids.get(i) else { break };
                    let read = repo.read_tree(id).ok();
                    out.lock().unwrap_or_else(PoisonError::into_inner)[i] = read;
                }
            });
        }
    });
    out.into_inner().unwrap_or_else(PoisonError::into_inner)
}
