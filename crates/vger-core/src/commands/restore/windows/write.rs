//! Creating restored objects and applying their metadata on Windows, by path under the checked
//! directories of [`Dest`] (docs/platforms.md). What Windows restores: contents, the modification
//! time, and the read-only attribute (a mode without any write bit); hard links; symlinks where
//! this process may create them (Developer Mode, or the privilege). Not restored: the owner,
//! the other mode bits and extended attributes (nothing holds them); fifos and device nodes
//! cannot be created (an error of that entry, as on macOS).

use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use filetime::FileTime;
use vger_types::{Result, VgerError};

use super::dest::{Dest, split, win_name};
use super::plan::{Item, Plan, check_rel};
use crate::clock::split_ns;
use crate::tree::{Content, Entry};

fn io(path: &Path, what: &str, e: std::io::Error) -> VgerError {
    VgerError::io(format!("{what} {}", path.display()), e)
}

/// Creates a regular file without content (size 0, or every chunk a hole) with its metadata.
pub fn create_empty(dest: &Dest, item: &Item, setgid: bool) -> Result<()> {
    let path = dest.path(&item.rel);
    let f = dest.create_file(&item.rel)?;
    let r = f
        .set_len(item.entry.size)
        .map_err(|e| io(&path, "writing", e))
        .and_then(|()| apply_file_meta(&f, &path, &item.entry, setgid))
        .and_then(|()| dest.commit(&item.rel));
    drop(f);
    if r.is_err() {
        dest.remove(&item.rel);
    }
    r
}

/// Windows has no set-group-ID directories.
pub fn is_setgid(_dest: &Dest) -> bool {
    false
}

fn mtime(e: &Entry) -> SystemTime {
    let (secs, nanos) = split_ns(e.mtime_ns);
    let since = Duration::new(secs.unsigned_abs(), 0);
    let whole = if secs >= 0 {
        UNIX_EPOCH.checked_add(since)
    } else {
        UNIX_EPOCH.checked_sub(since)
    };
    whole
        .and_then(|t| t.checked_add(Duration::from_nanos(u64::from(nanos))))
        .unwrap_or(UNIX_EPOCH)
}

/// Whether a stored mode has no write bit: restored as the read-only attribute.
fn read_only(e: &Entry) -> bool {
    e.mode & 0o222 == 0
}

/// Metadata of a regular file this restore created: its modification time, then read-only.
pub fn apply_file_meta(f: &File, path: &Path, e: &Entry, _setgid: bool) -> Result<()> {
    f.set_modified(mtime(e))
        .map_err(|err| io(path, "setting times of", err))?;
    if read_only(e) {
        let mut p = f
            .metadata()
            .map_err(|err| io(path, "reading", err))?
            .permissions();
        p.set_readonly(true);
        f.set_permissions(p)
            .map_err(|err| io(path, "setting permissions of", err))?;
    }
    Ok(())
}

/// Times of `at` itself, not of what a symlink points to.
fn set_times(at: &Path, path: &Path, e: &Entry) -> Result<()> {
    let t = FileTime::from_system_time(mtime(e));
    filetime::set_symlink_file_times(at, t, t).map_err(|err| io(path, "setting times of", err))
}

/// Metadata of a directory this restore created (its modification time), once it is checked to
/// be still in its place. The read-only attribute of a directory means something else on Windows
/// (a customized folder) and is not set.
pub fn apply_dir_meta(dest: &Dest, item: &Item) -> Result<()> {
    let path = dest.path(&item.rel);
    let at = dest.dir(&item.rel)?;
    set_times(&at, &path, &item.entry)
}

pub fn hard_link(dest: &Dest, item: &Item, plan: &Plan) -> Result<()> {
    let Content::Target(t) = &item.entry.content else {
        return Err(VgerError::corrupt("snapshot", "hard link without a target"));
    };
    check_rel(t)?;
    if !plan.file_set.contains(t) {
        return Err(VgerError::UnsafePath(
            String::from_utf8_lossy(t).into_owned(),
        ));
    }
    let (fp, fname) = split(t);
    let (tp, tname) = split(&item.rel);
    let path = dest.path(&item.rel);
    let from = dest.dir(fp)?.join(win_name(fname, &dest.path(t))?);
    let to = dest.dir(tp)?.join(win_name(tname, &path)?);
    fs::hard_link(&from, &to).map_err(|e| io(&path, "linking", e))
}

/// Fifos and device nodes cannot be created on Windows: an error of that entry.
pub fn special(dest: &Dest, item: &Item) -> Result<()> {
    Err(io(
        &dest.path(&item.rel),
        "creating special file",
        std::io::Error::new(
            ErrorKind::Unsupported,
            "Windows has no fifos or device nodes",
        ),
    ))
}

/// A stored symlink target as Windows writes it: `/` becomes `\`. `None` when it is not UTF-8.
pub fn link_target(t: &[u8]) -> Option<String> {
    std::str::from_utf8(t).ok().map(|s| s.replace('/', "\\"))
}

/// Creates a symlink: a directory symlink when its target (resolved from the link's directory)
/// is a directory once everything else is restored, a file symlink otherwise. Windows lets only
/// Developer Mode or the symlink privilege create one; without, it is an error of that entry.
pub fn symlink(dest: &Dest, item: &Item) -> Result<()> {
    let Content::Target(t) = &item.entry.content else {
        return Err(VgerError::corrupt("snapshot", "symlink without a target"));
    };
    let path = dest.path(&item.rel);
    let Some(target) = link_target(t) else {
        return Err(crate::platform::names::not_unicode(&path));
    };
    let (parent, n) = split(&item.rel);
    let dir = dest.dir(parent)?;
    let at = dir.join(win_name(n, &path)?);
    let r = if dir.join(&target).is_dir() {
        std::os::windows::fs::symlink_dir(&target, &at)
    } else {
        std::os::windows::fs::symlink_file(&target, &at)
    };
    r.map_err(|e| {
        let why = if e.kind() == ErrorKind::PermissionDenied || e.raw_os_error() == Some(1314) {
            "creating symlink (Windows allows it with Developer Mode or the symlink privilege)"
        } else {
            "creating symlink"
        };
        io(&path, why, e)
    })?;
    set_times(&at, &path, &item.entry)
}
