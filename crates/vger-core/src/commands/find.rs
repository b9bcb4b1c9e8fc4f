//! `snapshot find`: a per-path timeline across snapshots. Each tree's matches are computed once
//! and shared by every snapshot that contains the same tree id, so searching many snapshots of a
//! slowly changing tree reads each distinct directory once.

use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;

use globset::{GlobBuilder, GlobMatcher};
use vger_types::{ChunkId, Result, VgerError};

use crate::platform::names;
use crate::repo::Repository;
use crate::repo::snapshot::Snapshot;
use crate::tree::{Content, Entry, Kind, join_path as join};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindFilter {
    /// Regular files and hard links.
    File,
    Dir,
    Symlink,
}

#[derive(Debug, Clone, Default)]
pub struct FindOptions {
    /// Snapshot references (ids, prefixes or `latest`); results follow snapshot time order.
    pub snapshots: Vec<String>,
    /// Only under this '/'-separated path (relative to the snapshot root).
    pub path: String,
    /// Glob on the last path component.
    pub name: Option<String>,
    /// Like `name`, ignoring case.
    pub iname: Option<String>,
    pub kind: Option<KindFilter>,
    /// Size strictly greater than this.
    pub larger: Option<u64>,
    /// Size strictly smaller than this.
    pub smaller: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// First seen, or back after being absent from the previous snapshot searched.
    Added,
    /// Kind, size or content differ from the previous snapshot (the rule of `diff`).
    Modified,
    /// Only metadata differs (mode, owner, mtime, xattrs), as `diff` calls it.
    Metadata,
    Unchanged,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::Modified => "modified",
            Status::Metadata => "metadata",
            Status::Unchanged => "unchanged",
        }
    }
}

#[derive(Debug, Clone)]
pub struct FindVersion {
    /// Index into [`FindOutcome::snapshots`].
    pub snapshot: usize,
    pub size: u64,
    pub mtime_ns: i64,
    pub status: Status,
}

#[derive(Debug, Clone)]
pub struct FindResult {
    pub path: Vec<u8>,
    /// The kind in the latest version.
    pub kind: Kind,
    pub versions: Vec<FindVersion>,
}

#[derive(Debug, Clone)]
pub struct FindOutcome {
    /// The snapshots searched, oldest first.
    pub snapshots: Vec<Snapshot>,
    /// In path byte order.
    pub results: Vec<FindResult>,
}

#[derive(Debug, Clone)]
struct Match {
    /// Relative to the tree it was found in.
    path: Vec<u8>,
    kind: Kind,
    size: u64,
    mtime_ns: i64,
    /// Kind, size and content (not a directory's subtree): what makes a version "modified".
    content: [u8; 32],
    /// Mode, owner and xattrs; with the mtime, what makes it "metadata" when the content is equal.
    metadata: [u8; 32],
    /// A directory's subtree: its mtime follows its children, so it counts only when they are equal.
    subtree: Option<ChunkId>,
}

/// How version `m` differs from the previous one, with the rule `diff` uses.
fn status(prev: &Match, m: &Match) -> Status {
    if prev.content != m.content {
        Status::Modified
    } else if prev.metadata != m.metadata
        || (prev.mtime_ns != m.mtime_ns && (m.kind != Kind::Dir || prev.subtree == m.subtree))
    {
        Status::Metadata
    } else {
        Status::Unchanged
    }
}

struct Finder<'a> {
    repo: &'a Repository,
    opts: &'a FindOptions,
    glob: Option<GlobMatcher>,
    memo: HashMap<ChunkId, Arc<Vec<Match>>>,
}

fn glob(pattern: &str, case_insensitive: bool) -> Result<GlobMatcher> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .case_insensitive(case_insensitive)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| VgerError::invalid(format!("bad name pattern {pattern:?}: {e}")))
}

pub fn find(repo: &Repository, opts: &FindOptions) -> Result<FindOutcome> {
    let glob = match (&opts.name, &opts.iname) {
        (Some(_), Some(_)) => {
            return Err(VgerError::invalid("give --name or --iname, not both"));
        }
        (Some(p), None) => Some(glob(p, false)?),
        (None, Some(p)) => Some(glob(p, true)?),
        (None, None) => None,
    };
    let _lease = repo.read_lease("find")?;
    let mut snapshots = Vec::new();
    for spec in &opts.snapshots {
        let s = repo.resolve_snapshot(spec)?;
        if !snapshots.iter().any(|x: &Snapshot| x.id == s.id) {
            snapshots.push(s);
        }
    }
    snapshots.sort_by_key(|s| (s.start_ns, s.id));
    let mut f = Finder {
        repo,
        opts,
        glob,
        memo: HashMap::new(),
    };
    let mut timeline: BTreeMap<Vec<u8>, Vec<(usize, Match)>> = BTreeMap::new();
    for (i, snap) in snapshots.iter().enumerate() {
        for m in f.snapshot(snap)? {
            timeline.entry(m.path.clone()).or_default().push((i, m));
        }
    }
    let results = timeline
        .into_iter()
        .map(|(path, seen)| {
            let mut versions = Vec::with_capacity(seen.len());
            let mut prev: Option<(usize, Match)> = None;
            let mut kind = Kind::File;
            for (i, m) in seen {
                let status = match &prev {
                    Some((p, before)) if p + 1 == i => status(before, &m),
                    _ => Status::Added,
                };
                kind = m.kind;
                versions.push(FindVersion {
                    snapshot: i,
                    size: m.size,
                    mtime_ns: m.mtime_ns,
                    status,
                });
                prev = Some((i, m));
            }
            FindResult {
                path,
                kind,
                versions,
            }
        })
        .collect();
    Ok(FindOutcome { snapshots, results })
}

impl Finder<'_> {
    /// Matches in one snapshot, with full paths.
    fn snapshot(&mut self, snap: &Snapshot) -> Result<Vec<Match>> {
        let mut tree = snap.tree;
        let mut prefix: Vec<u8> = Vec::new();
        for comp in self.opts.path.split('/').filter(|c| !c.is_empty()) {
            let Some(e) = self
                .repo
                .read_tree(&tree)?
                .into_iter()
                .find(|e| e.name == comp.as_bytes())
            else {
                return Ok(Vec::new());
            };
            prefix = join(&prefix, &e.name);
            match (&e.kind, &e.content) {
                (Kind::Dir, Content::Subtree(id)) => tree = *id,
                _ => {
                    let mut out = Vec::new();
                    if self.wanted(&e) {
                        out.push(self.matched(&e, prefix));
                    }
                    return Ok(out);
                }
            }
        }
        let under = self.tree(&tree)?;
        Ok(under
            .iter()
            .map(|m| Match {
                path: join(&prefix, &m.path),
                ..m.clone()
            })
            .collect())
    }

    fn tree(&mut self, id: &ChunkId) -> Result<Arc<Vec<Match>>> {
        if let Some(m) = self.memo.get(id) {
            return Ok(Arc::clone(m));
        }
        let mut out = Vec::new();
        for e in self.repo.read_tree(id)? {
            if self.wanted(&e) {
                out.push(self.matched(&e, e.name.clone()));
            }
            if let (Kind::Dir, Content::Subtree(sub)) = (&e.kind, &e.content) {
                for m in self.tree(sub)?.iter() {
                    out.push(Match {
                        path: join(&e.name, &m.path),
                        ..m.clone()
                    });
                }
            }
        }
        let out = Arc::new(out);
        self.memo.insert(*id, Arc::clone(&out));
        Ok(out)
    }

    fn wanted(&self, e: &Entry) -> bool {
        let o = self.opts;
        let kind_ok = match o.kind {
            None => true,
            Some(KindFilter::File) => matches!(e.kind, Kind::File | Kind::HardLink),
            Some(KindFilter::Dir) => e.kind == Kind::Dir,
            Some(KindFilter::Symlink) => e.kind == Kind::Symlink,
        };
        kind_ok
            && o.larger.is_none_or(|n| e.size > n)
            && o.smaller.is_none_or(|n| e.size < n)
            && self
                .glob
                .as_ref()
                .is_none_or(|g| g.is_match(names::os_str_lossy(&e.name)))
    }

    fn matched(&self, e: &Entry, path: Vec<u8>) -> Match {
        let mut h = blake3::Hasher::new();
        h.update(&[e.kind as u8]);
        h.update(&e.size.to_le_bytes());
        match &e.content {
            Content::None => {}
            Content::Chunks(c) => {
                for (id, len) in c {
                    h.update(&id.0);
                    h.update(&len.to_le_bytes());
                }
                for (off, len) in &e.holes {
                    h.update(&off.to_le_bytes());
                    h.update(&len.to_le_bytes());
                }
            }
            Content::Subtree(_) => {}
            Content::Target(t) => {
                h.update(t);
            }
            Content::Rdev(r) => {
                h.update(&r.to_le_bytes());
            }
        }
        let content = *h.finalize().as_bytes();
        let mut h = blake3::Hasher::new();
        h.update(&e.mode.to_le_bytes());
        h.update(&e.uid.to_le_bytes());
        h.update(&e.gid.to_le_bytes());
        for name in [&e.user, &e.group] {
            h.update(&(name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
        }
        h.update(&(e.xattrs.len() as u64).to_le_bytes());
        for (k, v) in &e.xattrs {
            for part in [k, v] {
                h.update(&(part.len() as u64).to_le_bytes());
                h.update(part);
            }
        }
        Match {
            path,
            kind: e.kind,
            size: e.size,
            mtime_ns: e.mtime_ns,
            content,
            metadata: *h.finalize().as_bytes(),
            subtree: match e.content {
                Content::Subtree(id) => Some(id),
                _ => None,
            },
        }
    }
}
