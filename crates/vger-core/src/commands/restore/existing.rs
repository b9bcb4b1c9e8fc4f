//! Restoring into an existing tree (`--overwrite`): what to do with each entry already there,
//! removing what the snapshot does not hold (`--delete`), and the dry run that only says so.
//!
//! Everything is looked up relative to directory handles without following a symlink: a symlink
//! in the destination is an entry like any other, replaced or removed itself, never gone through.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, fstatat};
use nix::unistd::{UnlinkatFlags, unlinkat};
use vger_crypto::BlobKind;
use vger_types::{Result, VgerError};

use super::dest::{DIR_FLAGS, is_dir, list, split};
use super::plan::{Item, Plan};
use super::{Overwrite, RestoreChange, RestoreOutcome};
use crate::cancel::CancelToken;
use crate::chunker::Chunker;
use crate::clock::ns_from_stat;
use crate::repo::Repository;
use crate::tree::{Content, Entry, Kind, join_path};

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

fn name(n: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(n))
}

fn errno(path: &Path, what: &str, e: Errno) -> VgerError {
    VgerError::io(format!("{what} {}", path.display()), e.into())
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

    /// What to do with the entry `item` whose name is `n` in directory `dir` (`None`: the
    /// directory does not exist yet). With `fix`, a file found equal by its content but not its
    /// time gets the snapshot's metadata.
    pub fn decide(
        &self,
        dir: Option<&OwnedFd>,
        n: &[u8],
        item: &Item,
        path: &Path,
        fix: bool,
    ) -> Result<Action> {
        let Some(dir) = dir else {
            return Ok(Action::Create);
        };
        let st = match fstatat(dir, name(n), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(Action::Create),
            Err(e) => return Err(errno(path, "reading", e)),
        };
        match self.mode {
            Overwrite::Never => return Ok(Action::Unchanged),
            Overwrite::Always => return Ok(Action::Replace),
            Overwrite::IfChanged => {}
        }
        let e = &item.entry;
        let fmt = st.st_mode & 0o170_000;
        let same = match e.kind {
            Kind::File if fmt == 0o100_000 && st.st_size as u64 == e.size => {
                if mtime(&st) == e.mtime_ns {
                    return Ok(Action::Unchanged);
                }
                let f = openat(
                    dir,
                    name(n),
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map(File::from)
                .map_err(|err| errno(path, "opening", err))?;
                let same = self.same_content(&f, e, path)?;
                if same && fix {
                    super::write::apply_file_meta(&f, path, e, false)?;
                }
                same
            }
            Kind::Symlink if fmt == 0o120_000 => match (&e.content, readlinkat(dir, name(n))) {
                (Content::Target(t), Ok(cur)) => cur.as_bytes() == t.as_slice(),
                _ => false,
            },
            _ => false,
        };
        Ok(if same {
            Action::Unchanged
        } else {
            Action::Replace
        })
    }

    /// Whether the file's bytes cut by the repository's chunker give the entry's chunk ids.
    fn same_content(&self, f: &File, e: &Entry, path: &Path) -> Result<bool> {
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

fn mtime(st: &FileStat) -> i64 {
    #[allow(
        clippy::unnecessary_cast,
        reason = "the field types differ between platforms"
    )]
    ns_from_stat(st.st_mtime as i64, st.st_mtime_nsec as i64)
}

/// Opens directory `rel` of the destination `root` by one name at a time, not following links;
/// `None` when it is missing or not a directory.
pub fn probe(root: &OwnedFd, rel: &[u8]) -> Option<OwnedFd> {
    let mut fd = root.try_clone().ok()?;
    if rel.is_empty() {
        return Some(fd);
    }
    for n in rel.split(|&b| b == b'/') {
        fd = openat(&fd, name(n), DIR_FLAGS, Mode::empty()).ok()?;
    }
    Some(fd)
}

/// Removes (or with `dry` only lists) the entries of directory `rel` (handle `fd`) that the plan
/// does not hold and its filter selects, and those under them, deepest first. A directory left
/// holding entries the filter keeps out stays. Returns the removed paths (a directory ends in '/').
#[allow(
    clippy::too_many_arguments,
    reason = "a recursive walk: the handle, paths and plan change per level, the rest is passed down"
)]
pub fn delete_extras(
    fd: &OwnedFd,
    rel: &[u8],
    base: &Path,
    plan: &Plan,
    paths: &std::collections::HashSet<Vec<u8>>,
    dry: bool,
    cancel: &CancelToken,
    out: &mut Vec<Vec<u8>>,
) -> Result<()> {
    let path = base.join(OsStr::from_bytes(rel));
    for n in list(fd, &path)? {
        cancel.check()?;
        let child = join_path(rel, &n);
        if paths.contains(&child) {
            continue;
        }
        let cpath = base.join(OsStr::from_bytes(&child));
        let st = match fstatat(fd, name(&n), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(errno(&cpath, "reading", e)),
        };
        let selected = plan.filter.selects(&child);
        if is_dir(&st) {
            let before = out.len();
            let sub = openat(fd, name(&n), DIR_FLAGS, Mode::empty())
                .map_err(|e| errno(&cpath, "opening directory", e))?;
            delete_extras(&sub, &child, base, plan, paths, dry, cancel, out)?;
            if !selected {
                continue;
            }
            // Empty once its selected entries are gone?
            let left = list(&sub, &cpath)?.len();
            let empty = if dry {
                // Only the direct entries listed count; deeper ones are under them.
                let direct = out[before..]
                    .iter()
                    .filter(|p| {
                        let p = p.strip_suffix(b"/").unwrap_or(p);
                        split(p).0 == child.as_slice()
                    })
                    .count();
                left == direct
            } else {
                left == 0
            };
            if empty {
                if !dry {
                    unlinkat(fd, name(&n), UnlinkatFlags::RemoveDir)
                        .map_err(|e| errno(&cpath, "removing", e))?;
                }
                let mut p = child;
                p.push(b'/');
                out.push(p);
            }
        } else if selected {
            if !dry {
                unlinkat(fd, name(&n), UnlinkatFlags::NoRemoveDir)
                    .map_err(|e| errno(&cpath, "removing", e))?;
            }
            out.push(child);
        }
    }
    Ok(())
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
    let root = match nix::fcntl::open(dest, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => Some(fd),
        Err(Errno::ENOENT) => None,
        Err(Errno::ELOOP | Errno::ENOTDIR) => {
            return Err(VgerError::DestinationNotEmpty(dest.display().to_string()));
        }
        Err(e) => return Err(errno(dest, "opening", e)),
    };
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
            let path = dest.join(OsStr::from_bytes(&it.rel));
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
