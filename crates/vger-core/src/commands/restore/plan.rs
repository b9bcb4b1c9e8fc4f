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
}

/// The patterns a restore is limited to, and which of them matched something.
struct Selector {
    set: GlobSet,
    matched: Vec<bool>,
}

impl Selector {
    fn new(patterns: &[String]) -> Result<Self> {
        let mut b = GlobSetBuilder::new();
        for p in patterns {
            let p = p.trim_start_matches('/');
            b.add(Glob::new(p).map_err(|e| VgerError::invalid(format!("pattern {p:?}: {e}")))?);
        }
        let set = b
            .build()
            .map_err(|e| VgerError::invalid(format!("patterns: {e}")))?;
        Ok(Self {
            set,
            matched: vec![false; patterns.len()],
        })
    }

    fn is_match(&mut self, path: &[u8]) -> bool {
        let hits = self.set.matches(String::from_utf8_lossy(path).as_ref());
        for &i in &hits {
            self.matched[i] = true;
        }
        !hits.is_empty()
    }
}

/// The plan for restoring the tree `root`: everything, or with `patterns` the paths any of them
/// matches (a matching directory brings its whole subtree). A pattern that matches nothing is an
/// error, so a typo never restores an empty directory and reports success.
pub fn build(repo: &Repository, root: &ChunkId, patterns: &[String]) -> Result<Plan> {
    let mut selector = if patterns.is_empty() {
        None
    } else {
        Some(Selector::new(patterns)?)
    };
    let mut plan = Plan::default();
    let trees = Trees::load(repo, root, trees::WIDTH);
    walk(
        repo,
        &trees,
        root,
        b"",
        selector.as_mut(),
        patterns.is_empty(),
        &mut plan,
    )?;
    if let Some(s) = &selector {
        let unmatched: Vec<String> = patterns
            .iter()
            .zip(&s.matched)
            .filter(|(_, m)| !**m)
            .map(|(p, _)| format!("{p:?}"))
            .collect();
        if !unmatched.is_empty() {
            return Err(VgerError::invalid(format!(
                "no path in the snapshot matches {} (patterns match the whole path from the snapshot's root; `*` may cross `/`)",
                unmatched.join(", ")
            )));
        }
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
    Ok(plan)
}

/// Returns whether anything under `tree` was selected.
fn walk(
    repo: &Repository,
    trees: &Trees,
    tree: &ChunkId,
    rel: &[u8],
    mut m: Option<&mut Selector>,
    selected: bool,
    plan: &mut Plan,
) -> Result<bool> {
    let mut any = false;
    for e in trees.take(repo, tree)? {
        let path = join_path(rel, &e.name);
        // Matched even inside a selected directory, so a pattern it covers is not called unmatched.
        let hit = m.as_deref_mut().is_some_and(|m| m.is_match(&path));
        let sel = selected || hit;
        match (e.kind, &e.content) {
            (Kind::Dir, Content::Subtree(id)) => {
                let id = *id;
                let at = plan.dirs.len();
                plan.dirs.push(Item {
                    rel: path.clone(),
                    entry: e,
                });
                if walk(repo, trees, &id, &path, m.as_deref_mut(), sel, plan)? || sel {
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
