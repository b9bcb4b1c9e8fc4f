//! The restore plan: which entries to create, grouped by the order they are created in.

use std::collections::HashSet;

use globset::{Glob, GlobSet, GlobSetBuilder};
use vger_types::{ChunkId, Result, VgerError};

use crate::repo::Repository;
use crate::repo::trees::{self, Trees};
use crate::tree::join_path;
use crate::tree::{Content, Entry, Kind, valid_name};

pub struct Item {
    /// '/'-separated path relative to the destination, made only of validated names.
    pub rel: Vec<u8>,
    pub entry: Entry,
}

#[derive(Default)]
pub struct Plan {
    pub dirs: Vec<Item>,
    pub files: Vec<Item>,
    /// Hard links and special files.
    pub others: Vec<Item>,
    pub symlinks: Vec<Item>,
    pub file_set: HashSet<Vec<u8>>,
    /// What the restore is limited to (for `--delete`: an extra path is removed when selected).
    pub filter: Filter,
}

impl Plan {
    /// Every planned path: directories, files, links and special files.
    pub fn paths(&self) -> HashSet<Vec<u8>> {
        (self.dirs.iter())
            .chain(&self.files)
            .chain(&self.others)
            .chain(&self.symlinks)
            .map(|i| i.rel.clone())
            .collect()
    }
}

/// The include and exclude patterns a restore is limited to. A path is selected when no include
/// is given or it or a directory above it matches one, and neither it nor a directory above it
/// matches an exclude: excludes win over includes, whatever their order.
#[derive(Default)]
pub struct Filter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

fn globset(patterns: &[String]) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let p = p.trim_start_matches('/');
        b.add(Glob::new(p).map_err(|e| VgerError::invalid(format!("pattern {p:?}: {e}")))?);
    }
    b.build()
        .map(Some)
        .map_err(|e| VgerError::invalid(format!("patterns: {e}")))
}

impl Filter {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self> {
        Ok(Self {
            include: globset(include)?,
            exclude: globset(exclude)?,
        })
    }

    /// Whether `path` ('/'-separated from the snapshot's root) is selected, its directories
    /// above included.
    pub fn selects(&self, path: &[u8]) -> bool {
        let mut inc = self.include.is_none();
        let mut at = 0;
        loop {
            let end = path[at..]
                .iter()
                .position(|&b| b == b'/')
                .map_or(path.len(), |i| at + i);
            let prefix = String::from_utf8_lossy(&path[..end]);
            if self
                .exclude
                .as_ref()
                .is_some_and(|x| x.is_match(prefix.as_ref()))
            {
                return false;
            }
            inc = inc
                || self
                    .include
                    .as_ref()
                    .is_some_and(|x| x.is_match(prefix.as_ref()));
            if end == path.len() {
                return inc;
            }
            at = end + 1;
        }
    }
}

/// The filter while the snapshot is walked: which patterns matched something.
struct Matching<'a> {
    filter: &'a Filter,
    include: Vec<bool>,
    exclude: Vec<bool>,
}

impl Matching<'_> {
    /// (matches an include, matches an exclude), recording the patterns that matched.
    fn hits(&mut self, path: &[u8]) -> (bool, bool) {
        let path = String::from_utf8_lossy(path);
        let one = |set: &Option<GlobSet>, seen: &mut Vec<bool>| {
            let hits = set
                .as_ref()
                .map(|s| s.matches(path.as_ref()))
                .unwrap_or_default();
            for &i in &hits {
                seen[i] = true;
            }
            !hits.is_empty()
        };
        (
            one(&self.filter.include, &mut self.include),
            one(&self.filter.exclude, &mut self.exclude),
        )
    }
}

/// The plan for restoring the tree `root`: everything, or what the filter of `include` and
/// `exclude` selects (a matching directory brings, or keeps out, its whole subtree). A pattern that
/// matches nothing is an error, so a typo never restores an empty directory and reports success.
pub fn build(
    repo: &Repository,
    root: &ChunkId,
    include: &[String],
    exclude: &[String],
) -> Result<Plan> {
    let filter = Filter::new(include, exclude)?;
    let mut m = Matching {
        filter: &filter,
        include: vec![false; include.len()],
        exclude: vec![false; exclude.len()],
    };
    let mut plan = Plan::default();
    let trees = Trees::load(repo, root, trees::WIDTH);
    walk(
        repo,
        &trees,
        root,
        b"",
        &mut m,
        (include.is_empty(), false),
        &mut plan,
    )?;
    let unmatched: Vec<String> = (include.iter().zip(&m.include))
        .chain(exclude.iter().zip(&m.exclude))
        .filter(|(_, m)| !**m)
        .map(|(p, _)| format!("{p:?}"))
        .collect();
    if !unmatched.is_empty() {
        return Err(VgerError::PatternUnmatched(unmatched.join(", ")));
    }
    // A hard link whose first link was not selected becomes a regular file with its content.
    let mut fixed = Vec::with_capacity(plan.others.len());
    for mut it in std::mem::take(&mut plan.others) {
        if let (Kind::HardLink, Content::Target(t)) = (it.entry.kind, &it.entry.content) {
            check_rel(t)?;
            if !plan.file_set.contains(t) {
                let target = lookup(repo, root, t)?;
                it.entry.kind = Kind::File;
                it.entry.content = target.content;
                it.entry.holes = target.holes;
                plan.file_set.insert(it.rel.clone());
                plan.files.push(it);
                continue;
            }
        }
        fixed.push(it);
    }
    plan.others = fixed;
    plan.filter = filter;
    Ok(plan)
}

/// Returns whether anything under `tree` was selected. `(inc, exc)`: a directory above matched
/// an include (or none was given), an exclude.
fn walk(
    repo: &Repository,
    trees: &Trees,
    tree: &ChunkId,
    rel: &[u8],
    m: &mut Matching<'_>,
    (inc, exc): (bool, bool),
    plan: &mut Plan,
) -> Result<bool> {
    let mut any = false;
    for e in trees.take(repo, tree)? {
        let path = join_path(rel, &e.name);
        // Matched even inside a selected directory, so a pattern it covers is not called unmatched.
        let (hi, hx) = m.hits(&path);
        let (inc, exc) = (inc || hi, exc || hx);
        let sel = inc && !exc;
        match (e.kind, &e.content) {
            (Kind::Dir, Content::Subtree(id)) => {
                let id = *id;
                let at = plan.dirs.len();
                plan.dirs.push(Item {
                    rel: path.clone(),
                    entry: e,
                });
                if walk(repo, trees, &id, &path, m, (inc, exc), plan)? || sel {
                    any = true;
                } else {
                    plan.dirs.truncate(at);
                }
            }
            _ if !sel => {}
            (Kind::File, _) => {
                plan.file_set.insert(path.clone());
                plan.files.push(Item {
                    rel: path,
                    entry: e,
                });
                any = true;
            }
            (Kind::Symlink, _) => {
                plan.symlinks.push(Item {
                    rel: path,
                    entry: e,
                });
                any = true;
            }
            _ => {
                plan.others.push(Item {
                    rel: path,
                    entry: e,
                });
                any = true;
            }
        }
    }
    Ok(any)
}

/// Checks that a stored '/'-separated path has only valid names.
pub fn check_rel(rel: &[u8]) -> Result<()> {
    if rel.split(|&b| b == b'/').all(valid_name) {
        Ok(())
    } else {
        Err(VgerError::UnsafePath(
            String::from_utf8_lossy(rel).into_owned(),
        ))
    }
}

fn lookup(repo: &Repository, root: &ChunkId, rel: &[u8]) -> Result<Entry> {
    let mut tree = *root;
    let mut parts = rel.split(|&b| b == b'/').peekable();
    while let Some(name) = parts.next() {
        let e = repo
            .read_tree(&tree)?
            .into_iter()
            .find(|e| e.name == name)
            .ok_or_else(|| {
                VgerError::corrupt(
                    "snapshot",
                    format!(
                        "hard link target {} is missing",
                        String::from_utf8_lossy(rel)
                    ),
                )
            })?;
        if parts.peek().is_none() {
            return Ok(e);
        }
        match e.content {
            Content::Subtree(id) => tree = id,
            _ => break,
        }
    }
    Err(VgerError::corrupt(
        "snapshot",
        format!(
            "hard link target {} is missing",
            String::from_utf8_lossy(rel)
        ),
    ))
}
