//! Creating restored objects and applying their metadata, always relative to a directory handle
//! of the destination ([`Dest`]) or through the object's own handle, never by path.

use std::ffi::OsStr;
use std::fs::{File, Permissions};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{
    FchmodatFlags, Mode, SFlag, UtimensatFlags, fchmodat, fstat, fstatat, futimens, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchownat, linkat, symlinkat};
use vger_types::{Result, VgerError};
use xattr::FileExt;

use super::dest::{Dest, split};
use super::plan::{Item, Plan, check_rel};
use crate::clock::split_ns;
use crate::tree::{Content, Entry, Kind};

fn io(path: &Path, what: &str, e: std::io::Error) -> VgerError {
    VgerError::io(format!("{what} {}", path.display()), e)
}

fn errno(path: &Path, what: &str, e: Errno) -> VgerError {
    io(path, what, e.into())
}

fn name(n: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(n))
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
    if r.is_err() {
        dest.remove(&item.rel);
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

/// Whether the destination is set-group-ID (new files in it take its group, not the creator's).
pub fn is_setgid(dest: &Dest) -> bool {
    fstat(dest.root()).is_ok_and(|st| st.st_mode & 0o2000 != 0)
}

/// Sets the owner of `n` in directory `dir` without following a symlink (when running as root).
fn chown_at(dir: &OwnedFd, n: &[u8], path: &Path, e: &Entry) -> Result<()> {
    if !is_root() {
        return Ok(());
    }
    let (u, g) = (Some(Uid::from_raw(e.uid)), Some(Gid::from_raw(e.gid)));
    fchownat(dir, name(n), u, g, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|err| errno(path, "setting owner of", err))
}

/// Extended attributes through the object's own handle.
fn xattrs(f: &File, path: &Path, e: &Entry) -> Result<()> {
    for (k, v) in &e.xattrs {
        f.set_xattr(OsStr::from_bytes(k), v)
            .map_err(|err| io(path, "setting extended attributes of", err))?;
    }
    Ok(())
}

fn mtime(e: &Entry) -> TimeSpec {
    let (secs, nanos) = split_ns(e.mtime_ns);
    TimeSpec::new(secs, i64::from(nanos))
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
    xattrs(f, path, e)?;
    f.set_permissions(Permissions::from_mode(e.mode & 0o7777))
        .map_err(|err| io(path, "setting permissions of", err))?;
    let t = mtime(e);
    futimens(f, &t, &t).map_err(|err| errno(path, "setting times of", err))
}

/// Metadata of a directory this restore created, through its own handle, once it is checked to be
/// still in its place.
pub fn apply_dir_meta(dest: &Dest, item: &Item) -> Result<()> {
    let path = dest.path(&item.rel);
    let e = &item.entry;
    dest.verify_dir(&item.rel)?;
    let fd = dest.dir(&item.rel)?;
    let f = File::from(
        fd.try_clone()
            .map_err(|err| io(&path, "opening directory", err))?,
    );
    if is_root() {
        std::os::unix::fs::fchown(&f, Some(e.uid), Some(e.gid))
            .map_err(|err| io(&path, "setting owner of", err))?;
    }
    xattrs(&f, &path, e)?;
    f.set_permissions(Permissions::from_mode(e.mode & 0o7777))
        .map_err(|err| io(&path, "setting permissions of", err))?;
    let t = mtime(e);
    futimens(&f, &t, &t).map_err(|err| errno(&path, "setting times of", err))
}

/// The handle of the directory that holds `rel`, and `rel`'s last name.
fn parent<'a>(dest: &Dest, rel: &'a [u8]) -> Result<(Arc<OwnedFd>, &'a [u8])> {
    let (p, n) = split(rel);
    Ok((dest.dir(p)?, n))
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
    let (from_dir, from) = parent(dest, t)?;
    let (to_dir, to) = parent(dest, &item.rel)?;
    // Without AT_SYMLINK_FOLLOW: a symlink put at the first link's name is linked, not followed.
    linkat(&*from_dir, name(from), &*to_dir, name(to), AtFlags::empty())
        .map_err(|e| errno(&dest.path(&item.rel), "linking", e))
}

/// Creates a fifo or device node. Its metadata goes by name in its directory without following a
/// link, after checking that the name still holds a node of that kind owned by this process; the
/// mode is set before the owner, so a node swapped in at that moment can never become set-user-ID
/// of the stored owner (changing the owner clears those bits).
pub fn special(dest: &Dest, item: &Item) -> Result<()> {
    let path = dest.path(&item.rel);
    let e = &item.entry;
    let (kind, rdev) = match (e.kind, &e.content) {
        (Kind::Fifo, _) => (SFlag::S_IFIFO, 0),
        (Kind::CharDev, Content::Rdev(r)) => (SFlag::S_IFCHR, *r),
        (Kind::BlockDev, Content::Rdev(r)) => (SFlag::S_IFBLK, *r),
        _ => {
            return Err(VgerError::corrupt(
                "snapshot",
                "special file without a device number",
            ));
        }
    };
    let (dir, n) = parent(dest, &item.rel)?;
    #[allow(
        clippy::unnecessary_cast,
        reason = "mode_t is u32 on Linux, u16 on macOS; the permission bits fit both"
    )]
    let mode = Mode::from_bits_truncate((e.mode & 0o7777) as nix::libc::mode_t);
    make_node(&dir, name(n), kind, mode, rdev)
        .map_err(|err| errno(&path, "creating special file", err))?;
    let st = fstatat(&*dir, name(n), AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|err| errno(&path, "reading", err))?;
    if st.st_mode & 0o170_000 != kind.bits() || st.st_uid != nix::unistd::geteuid().as_raw() {
        return Err(VgerError::DestinationChanged(path.display().to_string()));
    }
    fchmodat(&*dir, name(n), mode, FchmodatFlags::NoFollowSymlink)
        .map_err(|err| errno(&path, "setting permissions of", err))?;
    chown_at(&dir, n, &path, e)?;
    let t = mtime(e);
    utimensat(&*dir, name(n), &t, &t, UtimensatFlags::NoFollowSymlink)
        .map_err(|err| errno(&path, "setting times of", err))
}

/// `mknodat`, which macOS lacks (docs/platforms.md): there a fifo or device node is not created and
/// the restore reports it as an error of that entry.
#[cfg(not(target_vendor = "apple"))]
fn make_node(dir: &OwnedFd, n: &Path, kind: SFlag, mode: Mode, rdev: u64) -> nix::Result<()> {
    nix::sys::stat::mknodat(dir, n, kind, mode, rdev)
}

#[cfg(target_vendor = "apple")]
fn make_node(_dir: &OwnedFd, _n: &Path, _kind: SFlag, _mode: Mode, _rdev: u64) -> nix::Result<()> {
    Err(Errno::ENOTSUP)
}

pub fn symlink(dest: &Dest, item: &Item) -> Result<()> {
    let Content::Target(t) = &item.entry.content else {
        return Err(VgerError::corrupt("snapshot", "symlink without a target"));
    };
    let path = dest.path(&item.rel);
    let (dir, n) = parent(dest, &item.rel)?;
    symlinkat(OsStr::from_bytes(t), &*dir, name(n))
        .map_err(|e| errno(&path, "creating symlink", e))?;
    chown_at(&dir, n, &path, &item.entry)?;
    let t = mtime(&item.entry);
    utimensat(&*dir, name(n), &t, &t, UtimensatFlags::NoFollowSymlink)
        .map_err(|err| errno(&path, "setting times of", err))
}
