//! Creating restored objects and applying their metadata.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions, Permissions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use filetime::FileTime;
use nix::sys::stat::{Mode, SFlag, mknod};
use vger_types::{Result, VgerError};

use super::plan::{Item, Plan, check_rel};
use crate::clock::split_ns;
use crate::tree::{Content, Entry, Kind};

pub fn target(dest: &Path, rel: &[u8]) -> PathBuf {
    dest.join(OsStr::from_bytes(rel))
}

fn io(path: &Path, what: &str, e: std::io::Error) -> VgerError {
    VgerError::io(format!("{what} {}", path.display()), e)
}

pub fn create_dir(dest: &Path, rel: &[u8]) -> Result<()> {
    let p = target(dest, rel);
    fs::create_dir(&p).map_err(|e| io(&p, "creating directory", e))
}

/// Creates a regular file without content (size 0, or every chunk a hole) with its metadata.
pub fn create_empty(dest: &Path, item: &Item, setgid: bool) -> Result<()> {
    let path = target(dest, &item.rel);
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&path)
        .map_err(|e| io(&path, "creating", e))?;
    let r = f
        .set_len(item.entry.size)
        .map_err(|e| io(&path, "writing", e))
        .and_then(|()| apply_file_meta(&f, &path, &item.entry, setgid));
    if r.is_err() {
        let _ = fs::remove_file(&path);
    }
    r
}

/// The effective user and group when running as root (asked once per process).
fn root_ids() -> Option<(u32, u32)> {
    static IDS: std::sync::OnceLock<Option<(u32, u32)>> = std::sync::OnceLock::new();
    *IDS.get_or_init(|| {
        let uid = nix::unistd::geteuid();
        uid.is_root()
            .then(|| (uid.as_raw(), nix::unistd::getegid().as_raw()))
    })
}

fn is_root() -> bool {
    root_ids().is_some()
}

/// Whether a directory is set-group-ID (new files in it take its group, not the creator's).
pub fn is_setgid(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(dir).is_ok_and(|m| m.mode() & 0o2000 != 0)
}

fn chown(path: &Path, e: &Entry) -> Result<()> {
    if !is_root() {
        return Ok(());
    }
    std::os::unix::fs::lchown(path, Some(e.uid), Some(e.gid))
        .map_err(|err| io(path, "setting owner of", err))
}

fn xattrs(path: &Path, e: &Entry) -> Result<()> {
    for (k, v) in &e.xattrs {
        xattr::set(path, OsStr::from_bytes(k), v)
            .map_err(|err| io(path, "setting extended attributes of", err))?;
    }
    Ok(())
}

fn mtime(e: &Entry) -> FileTime {
    let (secs, nanos) = split_ns(e.mtime_ns);
    FileTime::from_unix_time(secs, nanos)
}

/// Metadata of a regular file this restore created (`setgid`: the destination is set-group-ID,
/// so a new file's group is not the creator's).
pub fn apply_file_meta(f: &File, path: &Path, e: &Entry, setgid: bool) -> Result<()> {
    // A new file belongs to the creator already: no chown when that is the stored owner.
    match root_ids() {
        Some(ids) if ids == (e.uid, e.gid) && !setgid => {}
        Some(_) => std::os::unix::fs::fchown(f, Some(e.uid), Some(e.gid))
            .map_err(|err| io(path, "setting owner of", err))?,
        None => {}
    }
    // Extended attributes first: a read-only mode would refuse them afterwards.
    xattrs(path, e)?;
    f.set_permissions(Permissions::from_mode(e.mode & 0o7777))
        .map_err(|err| io(path, "setting permissions of", err))?;
    let t = mtime(e);
    filetime::set_file_handle_times(f, Some(t), Some(t))
        .map_err(|err| io(path, "setting times of", err))
}

pub fn apply_dir_meta(dest: &Path, item: &Item) -> Result<()> {
    let path = target(dest, &item.rel);
    let e = &item.entry;
    chown(&path, e)?;
    xattrs(&path, e)?;
    fs::set_permissions(&path, Permissions::from_mode(e.mode & 0o7777))
        .map_err(|err| io(&path, "setting permissions of", err))?;
    let t = mtime(e);
    filetime::set_symlink_file_times(&path, t, t).map_err(|err| io(&path, "setting times of", err))
}

pub fn hard_link(dest: &Path, item: &Item, plan: &Plan) -> Result<()> {
    let Content::Target(t) = &item.entry.content else {
        return Err(VgerError::corrupt("snapshot", "hard link without a target"));
    };
    check_rel(t)?;
    if !plan.file_set.contains(t) {
        return Err(VgerError::UnsafePath(
            String::from_utf8_lossy(t).into_owned(),
        ));
    }
    let from = target(dest, t);
    let to = target(dest, &item.rel);
    fs::hard_link(&from, &to).map_err(|e| io(&to, "linking", e))
}

pub fn special(dest: &Path, item: &Item) -> Result<()> {
    let path = target(dest, &item.rel);
    let e = &item.entry;
    let (kind, rdev) = match (e.kind, &e.content) {
        (Kind::Fifo, _) => (SFlag::S_IFIFO, 0),
        (Kind::CharDev, Content::Rdev(r)) => (SFlag::S_IFCHR, *r),
        (Kind::BlockDev, Content::Rdev(r)) => (SFlag::S_IFBLK, *r),
        (Kind::Socket, _) => return Ok(()), // sockets belong to the process that made them
        _ => {
            return Err(VgerError::corrupt(
                "snapshot",
                "special file without a device number",
            ));
        }
    };
    mknod(&path, kind, Mode::from_bits_truncate(e.mode & 0o7777), rdev)
        .map_err(|err| io(&path, "creating special file", err.into()))?;
    chown(&path, e)?;
    fs::set_permissions(&path, Permissions::from_mode(e.mode & 0o7777))
        .map_err(|err| io(&path, "setting permissions of", err))?;
    let t = mtime(e);
    filetime::set_symlink_file_times(&path, t, t).map_err(|err| io(&path, "setting times of", err))
}

pub fn symlink(dest: &Path, item: &Item) -> Result<()> {
    let Content::Target(t) = &item.entry.content else {
        return Err(VgerError::corrupt("snapshot", "symlink without a target"));
    };
    let path = target(dest, &item.rel);
    std::os::unix::fs::symlink(OsStr::from_bytes(t), &path)
        .map_err(|e| io(&path, "creating symlink", e))?;
    chown(&path, &item.entry)?;
    let t = mtime(&item.entry);
    filetime::set_symlink_file_times(&path, t, t).map_err(|err| io(&path, "setting times of", err))
}
