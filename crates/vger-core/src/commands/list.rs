//! Listing the contents of a snapshot.

use vger_types::{Result, VgerError};

use crate::repo::Repository;
use crate::tree::{Content, Entry, Kind};

#[derive(Debug, Clone)]
pub struct ListEntry {
    /// '/'-separated path bytes relative to the snapshot root.
    pub path: Vec<u8>,
    pub entry: Entry,
}

/// Every entry under `subpath` (the whole snapshot when empty), depth-first in name order.
pub fn list_contents(repo: &Repository, snapshot: &str, subpath: &str) -> Result<Vec<ListEntry>> {
    // Protects the trees being read from a concurrent compaction.
    let _lease = repo.read_lease("list")?;
    let snap = repo.resolve_snapshot(snapshot)?;
    let mut tree = snap.tree;
    let mut prefix = Vec::new();
    for comp in subpath.split('/').filter(|c| !c.is_empty()) {
        let entries = repo.read_tree(&tree)?;
        let e = entries
            .into_iter()
            .find(|e| e.name == comp.as_bytes())
            .ok_or_else(|| {
                VgerError::invalid(format!(
                    "{subpath:?} is not in snapshot {}",
                    &snap.id.to_hex()[..8]
                ))
            })?;
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(&e.name);
        match e.content {
            Content::Subtree(id) if e.kind == Kind::Dir => tree = id,
            _ => {
                return Ok(vec![ListEntry {
                    path: prefix,
                    entry: e,
                }]);
            }
        }
    }
    let mut out = Vec::new();
    walk(repo, &tree, &prefix, &mut out)?;
    Ok(out)
}

fn walk(
    repo: &Repository,
    tree: &vger_types::ChunkId,
    prefix: &[u8],
    out: &mut Vec<ListEntry>,
) -> Result<()> {
    for e in repo.read_tree(tree)? {
        let mut path = prefix.to_vec();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&e.name);
        let sub = match (&e.kind, &e.content) {
            (Kind::Dir, Content::Subtree(id)) => Some(*id),
            _ => None,
        };
        out.push(ListEntry {
            path: path.clone(),
            entry: e,
        });
        if let Some(id) = sub {
            walk(repo, &id, &path, out)?;
        }
    }
    Ok(())
}
