//! `snapshot diff A B`: what changed between two snapshots. Trees are content-addressed, so a
//! subtree whose id is the same in both is skipped without being read.

use std::cmp::Ordering;

use vger_types::{ChunkId, Result};

use crate::repo::Repository;
use crate::repo::snapshot::Snapshot;
use crate::tree::{Content, Entry, Kind, join_path as join};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    /// Content, size, kind or link target changed.
    Modified,
    /// Only metadata (mode, owner, mtime, xattrs) changed.
    Metadata,
}

impl Change {
    pub fn name(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Modified => "modified",
            Change::Metadata => "metadata",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffEntry {
    /// '/'-separated path bytes relative to the snapshot root.
    pub path: Vec<u8>,
    pub change: Change,
    /// The kind in B (in A for a removed entry).
    pub kind: Kind,
    /// The kind in A when it differs.
    pub old_kind: Option<Kind>,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
    /// Which fields differ: content, size, kind, mode, uid, gid, mtime, target, xattrs.
    pub fields: Vec<&'static str>,
}

#[derive(Debug, Clone)]
pub struct DiffOutcome {
    pub a: Snapshot,
    pub b: Snapshot,
    /// Depth first, siblings in name byte order.
    pub entries: Vec<DiffEntry>,
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
    pub metadata: u64,
    /// File bytes added: new files plus growth of modified files.
    pub bytes_added: u64,
    /// File bytes removed: deleted files plus shrinkage of modified files.
    pub bytes_removed: u64,
    /// Tree blobs read; equal subtrees are never read.
    pub trees_read: u64,
}

pub fn diff(repo: &Repository, a: &str, b: &str) -> Result<DiffOutcome> {
    let _lease = repo.read_lease("diff")?;
    let a = repo.resolve_snapshot(a)?;
    let b = repo.resolve_snapshot(b)?;
    let mut d = Differ {
        repo,
        entries: Vec::new(),
        trees_read: 0,
    };
    if a.tree != b.tree {
        d.trees(&a.tree, &b.tree, &[])?;
    }
    let mut out = DiffOutcome {
        a,
        b,
        entries: Vec::new(),
        added: 0,
        removed: 0,
        modified: 0,
        metadata: 0,
        bytes_added: 0,
        bytes_removed: 0,
        trees_read: d.trees_read,
    };
    for e in &d.entries {
        let (old, new) = (e.old_size.unwrap_or(0), e.new_size.unwrap_or(0));
        let file = matches!(e.kind, Kind::File) || matches!(e.old_kind, Some(Kind::File));
        match e.change {
            Change::Added => out.added += 1,
            Change::Removed => out.removed += 1,
            Change::Modified => out.modified += 1,
            Change::Metadata => out.metadata += 1,
        }
        if file {
            out.bytes_added += new.saturating_sub(old);
            out.bytes_removed += old.saturating_sub(new);
        }
    }
    out.entries = d.entries;
    Ok(out)
}

struct Differ<'a> {
    repo: &'a Repository,
    entries: Vec<DiffEntry>,
    trees_read: u64,
}

fn subtree(e: &Entry) -> Option<ChunkId> {
    match (&e.kind, &e.content) {
        (Kind::Dir, Content::Subtree(id)) => Some(*id),
        _ => None,
    }
}

fn size_of(e: &Entry) -> Option<u64> {
    (e.kind == Kind::File).then_some(e.size)
}

impl Differ<'_> {
    fn read(&mut self, id: &ChunkId) -> Result<Vec<Entry>> {
        self.trees_read += 1;
        self.repo.read_tree(id)
    }

    fn trees(&mut self, a: &ChunkId, b: &ChunkId, prefix: &[u8]) -> Result<()> {
        let (old, new) = (self.read(a)?, self.read(b)?);
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < new.len() {
            let order = match (old.get(i), new.get(j)) {
                (Some(x), Some(y)) => x.name.cmp(&y.name),
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            match order {
                Ordering::Less => {
                    self.one_side(&old[i], prefix, Change::Removed)?;
                    i += 1;
                }
                Ordering::Greater => {
                    self.one_side(&new[j], prefix, Change::Added)?;
                    j += 1;
                }
                Ordering::Equal => {
                    self.both(&old[i], &new[j], prefix)?;
                    i += 1;
                    j += 1;
                }
            }
        }
        Ok(())
    }

    /// An entry present on one side only, with everything beneath it.
    fn one_side(&mut self, e: &Entry, prefix: &[u8], change: Change) -> Result<()> {
        let path = join(prefix, &e.name);
        let size = size_of(e);
        let (old_size, new_size) = match change {
            Change::Removed => (size, None),
            _ => (None, size),
        };
        self.entries.push(DiffEntry {
            path: path.clone(),
            change,
            kind: e.kind,
            old_kind: None,
            old_size,
            new_size,
            fields: Vec::new(),
        });
        if let Some(id) = subtree(e) {
            for child in self.read(&id)? {
                self.one_side(&child, &path, change)?;
            }
        }
        Ok(())
    }

    fn both(&mut self, a: &Entry, b: &Entry, prefix: &[u8]) -> Result<()> {
        let path = join(prefix, &b.name);
        if a.kind != b.kind {
            // A directory replaced by a file (or the reverse): its old children are removed and
            // its new ones added.
            self.entries.push(DiffEntry {
                path: path.clone(),
                change: Change::Modified,
                kind: b.kind,
                old_kind: Some(a.kind),
                old_size: size_of(a),
                new_size: size_of(b),
                fields: vec!["kind"],
            });
            if let Some(id) = subtree(a) {
                for child in self.read(&id)? {
                    self.one_side(&child, &path, Change::Removed)?;
                }
            }
            if let Some(id) = subtree(b) {
                for child in self.read(&id)? {
                    self.one_side(&child, &path, Change::Added)?;
                }
            }
            return Ok(());
        }
        let children_differ = match (subtree(a), subtree(b)) {
            (Some(x), Some(y)) => (x != y).then_some((x, y)),
            _ => None,
        };
        let mut fields = Vec::new();
        let content = match (&a.content, &b.content) {
            (Content::Subtree(_), Content::Subtree(_)) => false,
            (x, y) => x != y || a.holes != b.holes,
        };
        if content {
            fields.push(match b.kind {
                Kind::Symlink | Kind::HardLink => "target",
                _ => "content",
            });
        }
        if a.size != b.size && b.kind == Kind::File {
            fields.push("size");
        }
        for (name, differs) in [
            ("mode", a.mode != b.mode),
            ("uid", a.uid != b.uid || a.user != b.user),
            ("gid", a.gid != b.gid || a.group != b.group),
            // A directory's mtime follows its children; report it only when they are equal.
            (
                "mtime",
                a.mtime_ns != b.mtime_ns && (b.kind != Kind::Dir || children_differ.is_none()),
            ),
            ("xattrs", a.xattrs != b.xattrs),
        ] {
            if differs {
                fields.push(name);
            }
        }
        if !fields.is_empty() {
            let change = if content || fields.contains(&"size") {
                Change::Modified
            } else {
                Change::Metadata
            };
            self.entries.push(DiffEntry {
                path: path.clone(),
                change,
                kind: b.kind,
                old_kind: None,
                old_size: size_of(a),
                new_size: size_of(b),
                fields,
            });
        }
        if let Some((x, y)) = children_differ {
            self.trees(&x, &y, &path)?;
        }
        Ok(())
    }
}
