//! The mark phase of compact: what the snapshots reference, computed from the snapshots
//! themselves (never from a counter a client could tamper with).

use std::collections::HashSet;

use vger_types::{ChunkId, Result, VgerError};

use crate::cancel::CancelToken;
use crate::progress::{Event, Progress};
use crate::repo::Repository;
use crate::repo::index::IdMap;
use crate::repo::snapshot::Snapshot;
use crate::tree::{Content, Kind};

/// Every blob id reachable from the given snapshots (tree blobs and file chunks).
pub struct Live {
    pub blobs: IdMap<()>,
    pub trees: usize,
}

/// Walks every snapshot's trees, reading each distinct tree once. Any tree that cannot be read
/// is an error: liveness must never be guessed.
pub fn mark(
    repo: &Repository,
    snapshots: &[Snapshot],
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Live> {
    let mut live = Live {
        blobs: IdMap::default(),
        trees: 0,
    };
    let mut seen: HashSet<ChunkId> = HashSet::new();
    for (i, snap) in snapshots.iter().enumerate() {
        let mut stack = vec![snap.tree];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            cancel.check()?;
            live.blobs.insert(id, ());
            let entries = repo.read_tree(&id).map_err(|e| {
                VgerError::corrupt(
                    format!("snapshot {}", &snap.id.to_hex()[..8]),
                    format!("{e}; run `vger check --repair` first"),
                )
            })?;
            live.trees += 1;
            for e in entries {
                match (e.kind, e.content) {
                    (Kind::Dir, Content::Subtree(sub)) => stack.push(sub),
                    (_, Content::Chunks(chunks)) => {
                        for (c, _) in chunks {
                            live.blobs.insert(c, ());
                        }
                    }
                    _ => {}
                }
            }
        }
        progress.event(Event::Step {
            phase: "mark",
            done: i as u64 + 1,
            total: snapshots.len() as u64,
        });
    }
    Ok(live)
}
