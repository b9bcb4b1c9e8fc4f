//! Mapping source paths to the snapshot root. One directory: its contents are the root. One file:
//! the root holds that file. Several paths: each is stored under its absolute path without the
//! leading `/`, with the real metadata of the directories above it.
//!
//! A source path that is a symlink is followed (as `find -H` does): the directory or file it
//! points to is stored under the name the user gave; symlinks below it are stored as symlinks.
//! A source path inside another one is saved once, as part of the outer one, with a warning.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use vger_types::{ChunkId, Result, VgerError};

use super::filter::{Excludes, SourceFilter};
use super::walk::{Walker, find};
use crate::platform::names;
use crate::tree::{Content, Entry, Kind};

pub fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

pub fn absolute_bytes(p: &Path) -> Vec<u8> {
    names::bytes_lossy(absolute(p).as_os_str()).into_owned()
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
) -> Result<Vec<Entry>> {
    for p in paths {
        if std::fs::symlink_metadata(p).is_err() {
            return Err(VgerError::SourceNotFound(p.display().to_string()));
        }
    }
    if let [only] = paths {
        let given = absolute(only);
        let root = followed(&given);
        let excludes = Excludes::new(&root, exclude, filter)?;
        let meta = std::fs::symlink_metadata(&root)
            .map_err(|e| VgerError::io(format!("reading {}", root.display()), e))?;
        if meta.is_dir() {
            return w.root_entries(&root, &excludes, parent);
        }
        let name = given
            .file_name()
            .map(|n| names::bytes_lossy(n).into_owned())
            .unwrap_or_else(|| b"root".to_vec());
        let old = w.parent_entries(parent);
        let entries: Vec<_> = w
            .entry(&root, name.clone(), &name, &excludes, find(&old, &name))?
            .into_iter()
            .collect();
        return Ok(entries);
    }
    let mut top = Node::default();
    let mut abs: Vec<PathBuf> = paths.iter().map(|p| absolute(p)).collect();
    // Shortest first, so an outer path is placed before the paths inside it.
    abs.sort_by_key(|p| p.components().count());
    'paths: for p in abs {
        let mut node = &mut top;
        for c in p.components() {
            if let Some(outer) = &node.source {
                let why = format!(
                    "{} is inside {}, which is also given: it is saved once, as part of {}",
                    p.display(),
                    outer.display(),
                    outer.display()
                );
                w.note(&p, &VgerError::invalid(why));
                continue 'paths;
            }
            if let Component::Normal(name) = c {
                node = node
                    .children
                    .entry(names::bytes_lossy(name).into_owned())
                    .or_default();
            }
        }
        if node.source.is_some() {
            let why = format!("{} is given twice; it is saved once", p.display());
            w.note(&p, &VgerError::invalid(why));
            continue;
        }
        node.source = Some(p);
    }
    emit(w, &top, Path::new("/"), b"", exclude, filter, parent)
}

/// The root's entries as `backup_sources` returns them, for a root made of several paths.
fn emit_tree(
    w: &mut Walker<'_>,
    node: &Node,
    dir: &Path,
    rel: &[u8],
    exclude: &[String],
    filter: &SourceFilter,
    parent: Option<&ChunkId>,
) -> Result<ChunkId> {
    let entries = emit(w, node, dir, rel, exclude, filter, parent)?;
    w.store_tree(entries)
}

/// A source path that is a symlink stands for what it points to (its target resolved); any
/// other path, and a symlink whose target is missing, for itself.
fn followed(path: &Path) -> PathBuf {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
    }
}

fn emit(
    w: &mut Walker<'_>,
    node: &Node,
    dir: &Path,
    rel: &[u8],
    exclude: &[String],
    filter: &SourceFilter,
    parent: Option<&ChunkId>,
) -> Result<Vec<Entry>> {
    let old = w.parent_entries(parent);
    let mut entries = Vec::new();
    for (name, child) in &node.children {
        let path = dir.join(names::os_str_lossy(name));
        let child_rel = crate::tree::join_path(rel, name);
        let prev = find(&old, name);
        if let Some(given) = &child.source {
            let src = followed(given);
            let excludes = Excludes::new(&src, exclude, filter)?;
            if let Some(e) = w.entry(&src, name.clone(), &child_rel, &excludes, prev)? {
                entries.push(e);
            }
            continue;
        }
        let sub_parent = match prev.map(|e| &e.content) {
            Some(Content::Subtree(id)) => Some(id),
            _ => None,
        };
        let sub = emit_tree(w, child, &path, &child_rel, exclude, filter, sub_parent)?;
        // Followed: the sources below were reached through this path, so a symlinked ancestor
        // stands for the directory it points to (its own metadata would restore as a 0777 dir).
        let meta = std::fs::metadata(&path)
            .map_err(|e| VgerError::io(format!("reading {}", path.display()), e))?;
        let mut e = w.describe(&path, name.clone(), &meta, None);
        e.kind = Kind::Dir;
        e.content = Content::Subtree(sub);
        entries.push(e);
    }
    Ok(entries)
}
