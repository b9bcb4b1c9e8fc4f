//! Mapping source paths to the snapshot root. One directory: its contents are the root. One file:
//! the root holds that file. Several paths: each is stored under its absolute path without the
//! leading `/`, with the real metadata of the directories above it.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use vger_types::{ChunkId, Result, VgerError};

use super::filter::{Excludes, SourceFilter};
use super::walk::{Walker, find};
use crate::tree::{Content, Kind};

pub fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

pub fn absolute_bytes(p: &Path) -> Vec<u8> {
    absolute(p).as_os_str().as_bytes().to_vec()
}

#[derive(Default)]
struct Node {
    children: BTreeMap<Vec<u8>, Node>,
    source: Option<PathBuf>,
}

pub fn backup_sources(
    w: &mut Walker<'_>,
    paths: &[PathBuf],
    exclude: &[String],
    filter: &SourceFilter,
    parent: Option<&ChunkId>,
) -> Result<ChunkId> {
    for p in paths {
        if std::fs::symlink_metadata(p).is_err() {
            return Err(VgerError::SourceNotFound(p.display().to_string()));
        }
    }
    if let [only] = paths {
        let root = absolute(only);
        let excludes = Excludes::new(&root, exclude, filter)?;
        let meta = std::fs::symlink_metadata(&root)
            .map_err(|e| VgerError::io(format!("reading {}", root.display()), e))?;
        if meta.is_dir() {
            return w.root_tree(&root, &excludes, parent);
        }
        let name = root
            .file_name()
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_else(|| b"root".to_vec());
        let old = w.parent_entries(parent);
        let entries: Vec<_> = w
            .entry(&root, name.clone(), &name, &excludes, find(&old, &name))?
            .into_iter()
            .collect();
        return w.store_tree(entries);
    }
    let mut top = Node::default();
    for p in paths {
        let abs = absolute(p);
        let mut node = &mut top;
        for c in abs.components() {
            if let Component::Normal(name) = c {
                node = node.children.entry(name.as_bytes().to_vec()).or_default();
            }
        }
        node.source = Some(abs);
    }
    emit(w, &top, Path::new("/"), b"", exclude, filter, parent)
}

fn emit(
    w: &mut Walker<'_>,
    node: &Node,
    dir: &Path,
    rel: &[u8],
    exclude: &[String],
    filter: &SourceFilter,
    parent: Option<&ChunkId>,
) -> Result<ChunkId> {
    let old = w.parent_entries(parent);
    let mut entries = Vec::new();
    for (name, child) in &node.children {
        let path = dir.join(std::ffi::OsStr::from_bytes(name));
        let child_rel = crate::tree::join_path(rel, name);
        let prev = find(&old, name);
        if let Some(src) = &child.source {
            let excludes = Excludes::new(src, exclude, filter)?;
            if let Some(e) = w.entry(src, name.clone(), &child_rel, &excludes, prev)? {
                entries.push(e);
            }
            continue;
        }
        let sub_parent = match prev.map(|e| &e.content) {
            Some(Content::Subtree(id)) => Some(id),
            _ => None,
        };
        let sub = emit(w, child, &path, &child_rel, exclude, filter, sub_parent)?;
        // Followed: the sources below were reached through this path, so a symlinked ancestor
        // stands for the directory it points to (its own metadata would restore as a 0777 dir).
        let meta = std::fs::metadata(&path)
            .map_err(|e| VgerError::io(format!("reading {}", path.display()), e))?;
        let mut e = w.describe(&path, name.clone(), &meta);
        e.kind = Kind::Dir;
        e.content = Content::Subtree(sub);
        entries.push(e);
    }
    w.store_tree(entries)
}
