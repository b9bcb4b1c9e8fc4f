//! Restoring into an existing tree (`--overwrite`), the part every platform shares: what to do
//! with an entry already there ([`Action`], [`Compare`]; each platform's `existing` module looks
//! at the entry), and the dry run that only says so.

use std::fs::File;
use std::path::Path;

use vger_crypto::BlobKind;
use vger_types::{Result, VgerError};

use super::dest::split;
use super::existing::{delete_extras, list, open_root, probe};
use super::plan::Plan;
use super::{Overwrite, RestoreChange, RestoreOutcome};
use crate::cancel::CancelToken;
use crate::chunker::Chunker;
use crate::platform::names;
use crate::repo::Repository;
use crate::tree::{Content, Entry, Kind};

/// What restore does with one entry of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing is at its name.
    Create,
    /// Something else (or something that differs) is at its name.
    Replace,
    /// Its name already holds the same content (or `--overwrite never` keeps what is there).
    Unchanged,
}

/// Compares existing files with snapshot entries without reading them when it can.
pub struct Compare<'a> {
    pub repo: &'a Repository,
    pub chunker: Chunker,
    pub mode: Overwrite,
}

impl<'a> Compare<'a> {
    pub fn new(repo: &'a Repository, mode: Overwrite) -> Self {
        Compare {
            repo,
            chunker: Chunker::new(repo.config().chunker, repo.master().gear_table()),
            mode,
        }
    }

    /// Whether the file's bytes cut by the repository's chunker give the entry's chunk ids.
    pub(super) fn same_content(&self, f: &File, e: &Entry, path: &Path) -> Result<bool> {
        if !e.holes.is_empty() {
            // Its chunks hold only the data runs: rewritten rather than compared.
            return Ok(false);
        }
        let chunks: &[(vger_types::ChunkId, u32)] = match &e.content {
            Content::Chunks(c) => c,
            _ => &[],
        };
        let mut i = 0;
        let mut buf = Vec::new();
        let r = self.chunker.stream(f, &mut buf, |c| match chunks.get(i) {
            Some((id, len))
                if *len as usize == c.len()
                    && self.repo.master().blob_id(BlobKind::Data, c) == *id =>
            {
                i += 1;
                Ok(())
            }
            _ => Err(VgerError::Internal("differs".into())),
        });
        match r {
            Ok(()) => Ok(i == chunks.len()),
            Err(crate::chunker::StreamError::Sink(_)) => Ok(false),
            Err(crate::chunker::StreamError::Read(err)) => {
                Err(VgerError::io(format!("reading {}", path.display()), err))
            }
        }
    }
}

/// What a restore into `dest` would do, writing nothing.
pub fn dry_run(
    cmp: Option<&Compare<'_>>,
    dest: &Path,
    plan: &Plan,
    delete: bool,
    cancel: &CancelToken,
) -> Result<RestoreOutcome> {
    let mut out = RestoreOutcome::default();
    let root = open_root(dest)?;
    if let (Some(root), None) = (&root, cmp)
        && !list(root, dest)?.is_empty()
    {
        return Err(VgerError::DestinationNotEmpty(dest.display().to_string()));
    }
    for d in &plan.dirs {
        let there = root.as_ref().and_then(|r| probe(r, &d.rel)).is_some();
        if !there {
            out.dirs += 1;
        }
    }
    let kinds = [
        (&plan.files, 0usize),
        (&plan.others, 1),
        (&plan.symlinks, 2),
    ];
    for (items, kind) in kinds {
        for it in items {
            cancel.check()?;
            let (parent, n) = split(&it.rel);
            let pfd = root.as_ref().and_then(|r| probe(r, parent));
            let path = dest.join(names::os_str_lossy(&it.rel));
            let action = match cmp {
                Some(c) => c.decide(pfd.as_ref(), n, it, &path, false)?,
                None => Action::Create,
            };
            if it.entry.kind == Kind::Socket {
                continue;
            }
            let what = match action {
                Action::Create => "create",
                Action::Replace => "replace",
                Action::Unchanged => "unchanged",
            };
            out.changes.push(RestoreChange {
                path: String::from_utf8_lossy(&it.rel).into_owned(),
                action: what.into(),
            });
            if action == Action::Unchanged {
                out.unchanged += 1;
                continue;
            }
            if action == Action::Replace {
                out.replaced += 1;
            }
            match kind {
                0 => {
                    out.files += 1;
                    out.bytes += it.entry.size;
                }
                1 if it.entry.kind == Kind::HardLink => out.files += 1,
                1 => out.others += 1,
                _ => out.symlinks += 1,
            }
        }
    }
    if let (true, Some(root)) = (delete, &root) {
        let paths = plan.paths();
        let mut gone = Vec::new();
        let mut dirs: Vec<&[u8]> = vec![b""];
        dirs.extend(plan.dirs.iter().map(|d| d.rel.as_slice()));
        for rel in dirs {
            if let Some(fd) = probe(root, rel) {
                delete_extras(&fd, rel, dest, plan, &paths, true, cancel, &mut gone)?;
            }
        }
        out.deleted = gone.len() as u64;
        for p in gone {
            out.changes.push(RestoreChange {
                path: String::from_utf8_lossy(&p).into_owned(),
                action: "delete".into(),
            });
        }
    }
    Ok(out)
}
