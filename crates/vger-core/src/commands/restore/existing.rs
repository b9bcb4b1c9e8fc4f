//! Restoring into an existing tree (`--overwrite`) on Unix: what is at an entry's name, and
//! removing what the snapshot does not hold (`--delete`); the shared part is [`super::overwrite`].
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
use vger_types::{Result, VgerError};

use super::Overwrite;
pub use super::dest::list;
use super::dest::{DIR_FLAGS, is_dir, split};
pub use super::overwrite::{Action, Compare};
use super::plan::{Item, Plan};
use crate::cancel::CancelToken;
use crate::clock::ns_from_stat;
use crate::tree::{Content, Kind, join_path};

fn name(n: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(n))
}

fn errno(path: &Path, what: &str, e: Errno) -> VgerError {
    VgerError::io(format!("{what} {}", path.display()), e.into())
}

impl Compare<'_> {
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
}

fn mtime(st: &FileStat) -> i64 {
    #[allow(
        clippy::unnecessary_cast,
        reason = "the field types differ between platforms"
    )]
    ns_from_stat(st.st_mtime as i64, st.st_mtime_nsec as i64)
}

/// The destination of a dry run, opened without following a symlink; `None` when it does not
/// exist yet.
pub fn open_root(dest: &Path) -> Result<Option<OwnedFd>> {
    match nix::fcntl::open(dest, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(Errno::ELOOP | Errno::ENOTDIR) => {
            Err(VgerError::DestinationNotEmpty(dest.display().to_string()))
        }
        Err(e) => Err(errno(dest, "opening", e)),
    }
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
