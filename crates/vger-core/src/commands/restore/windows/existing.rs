//! Restoring into an existing tree (`--overwrite`) on Windows: what is at an entry's name, and
//! removing what the snapshot does not hold (`--delete`), by path and without following a
//! symlink or junction (it is an entry like any other, replaced or removed itself). The shared
//! part is [`super::overwrite`].

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use vger_types::{Result, VgerError};

use super::Overwrite;
pub use super::dest::list;
use super::dest::{is_dir, native, remove_tree, split, win_name};
pub use super::overwrite::{Action, Compare};
use super::plan::{Item, Plan};
use crate::cancel::CancelToken;
use crate::platform::{meta, names};
use crate::tree::{Content, Kind, join_path};

fn io(path: &Path, what: &str, e: std::io::Error) -> VgerError {
    VgerError::io(format!("{what} {}", path.display()), e)
}

impl Compare<'_> {
    /// What to do with the entry `item` whose name is `n` in directory `dir` (`None`: the
    /// directory does not exist yet). With `fix`, a file found equal by its content but not its
    /// time gets the snapshot's metadata.
    #[allow(
        clippy::ptr_arg,
        reason = "the same call as on Unix, where the handle is an `OwnedFd`"
    )]
    pub fn decide(
        &self,
        dir: Option<&PathBuf>,
        n: &[u8],
        item: &Item,
        path: &Path,
        fix: bool,
    ) -> Result<Action> {
        let Some(dir) = dir else {
            return Ok(Action::Create);
        };
        let at = dir.join(win_name(n, path)?);
        let m = match fs::symlink_metadata(&at) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Action::Create),
            Err(e) => return Err(io(path, "reading", e)),
        };
        match self.mode {
            Overwrite::Never => return Ok(Action::Unchanged),
            Overwrite::Always => return Ok(Action::Replace),
            Overwrite::IfChanged => {}
        }
        let e = &item.entry;
        let ft = m.file_type();
        let same = match e.kind {
            Kind::File if ft.is_file() && m.len() == e.size => {
                if meta::mtime_ns(&m) == e.mtime_ns {
                    return Ok(Action::Unchanged);
                }
                let mut o = fs::OpenOptions::new();
                let f = meta::no_follow(o.read(true).write(fix))
                    .open(&at)
                    .map_err(|err| io(path, "opening", err))?;
                let same = self.same_content(&f, e, path)?;
                if same && fix {
                    super::write::apply_file_meta(&f, path, e, false)?;
                }
                same
            }
            Kind::Symlink if ft.is_symlink() => match (&e.content, fs::read_link(&at)) {
                (Content::Target(t), Ok(cur)) => {
                    let want = super::write::link_target(t);
                    names::bytes(cur.as_os_str()) == want.as_deref().map(str::as_bytes)
                }
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

/// The destination of a dry run, not followed if a link; `None` when it does not exist yet.
pub fn open_root(dest: &Path) -> Result<Option<PathBuf>> {
    match fs::symlink_metadata(dest) {
        Ok(m) if is_dir(&m) => Ok(Some(dest.to_path_buf())),
        Ok(_) => Err(VgerError::DestinationNotEmpty(dest.display().to_string())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(dest, "opening", e)),
    }
}

/// Directory `rel` under `root`, when every directory on the way is one (not a link).
pub fn probe(root: &Path, rel: &[u8]) -> Option<PathBuf> {
    let mut p = root.to_path_buf();
    if rel.is_empty() {
        return Some(p);
    }
    for n in rel.split(|&b| b == b'/') {
        p = native(&p, n).ok()?;
        if !fs::symlink_metadata(&p).is_ok_and(|m| is_dir(&m)) {
            return None;
        }
    }
    Some(p)
}

/// Removes (or with `dry` only lists) the entries of directory `rel` (at `dir`) that the plan
/// does not hold and its filter selects, and those under them, deepest first. A directory left
/// holding entries the filter keeps out stays. Returns the removed paths (a directory ends in '/').
#[allow(
    clippy::too_many_arguments,
    reason = "a recursive walk: the directory, paths and plan change per level, the rest is passed down"
)]
pub fn delete_extras(
    dir: &Path,
    rel: &[u8],
    base: &Path,
    plan: &Plan,
    paths: &std::collections::HashSet<Vec<u8>>,
    dry: bool,
    cancel: &CancelToken,
    out: &mut Vec<Vec<u8>>,
) -> Result<()> {
    let path = base.join(names::os_str_lossy(rel));
    for n in list(dir, &path)? {
        cancel.check()?;
        let child = join_path(rel, &n);
        if paths.contains(&child) {
            continue;
        }
        let cpath = base.join(names::os_str_lossy(&child));
        let at = dir.join(names::os_str_lossy(&n));
        let m = match fs::symlink_metadata(&at) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&cpath, "reading", e)),
        };
        let selected = plan.filter.selects(&child);
        if is_dir(&m) {
            let before = out.len();
            delete_extras(&at, &child, base, plan, paths, dry, cancel, out)?;
            if !selected {
                continue;
            }
            // Empty once its selected entries are gone?
            let left = list(&at, &cpath)?.len();
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
                    fs::remove_dir(&at).map_err(|e| io(&cpath, "removing", e))?;
                }
                let mut p = child;
                p.push(b'/');
                out.push(p);
            }
        } else if selected {
            if !dry {
                remove_tree(&at)?;
            }
            out.push(child);
        }
    }
    Ok(())
}
