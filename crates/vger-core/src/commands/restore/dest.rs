//! The destination of a restore, reached only through directory handles.
//!
//! Another local user who can write into the destination may rename a directory this restore
//! created and put a symlink (or a directory of their own) in its place at any moment. So nothing
//! is ever resolved by path below the destination: the root is opened once (`O_DIRECTORY |
//! O_NOFOLLOW`), each directory is created with `mkdirat` in its parent's handle and opened with
//! `openat(O_DIRECTORY | O_NOFOLLOW)` by its single validated name, and everything else is created
//! relative to such a handle (`openat(O_CREAT | O_EXCL | O_NOFOLLOW)`, `mknodat`, `symlinkat`,
//! `linkat`, `unlinkat`). A lookup is always one name, never a path, so there is no symlink to
//! follow but the last component, which `O_NOFOLLOW` refuses (`openat2`'s `RESOLVE_BENEATH` would
//! add nothing).
//!
//! A directory is created mode 0700 (its stored mode comes at the very end), so until then no other
//! user can enter it: only the entries directly in the destination can be swapped. The device and
//! inode of every directory are recorded when it is created (it must then be owned by this process's
//! user and new to this restore); every later open compares them, and every lookup first checks
//! (one `fstatat`) that the top-level directory it is under is still in its place. A directory that
//! does not match, or is no longer a directory, is marked changed: nothing more is created under
//! it and its entries are reported (`VGER_DEST_CHANGED`), while the rest of the restore goes on.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};
use vger_types::{Result, VgerError};

use super::Overwrite;

/// Directory handles kept open; past this many the cache starts again (each reopen is checked).
const CACHE: usize = 256;

pub const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

pub struct Dest {
    root: Arc<OwnedFd>,
    /// The canonical destination, for messages only.
    path: PathBuf,
    euid: u32,
    created: RwLock<Created>,
    /// Directories found replaced or moved.
    changed: Mutex<HashSet<Vec<u8>>>,
    cache: Mutex<HashMap<Vec<u8>, Arc<OwnedFd>>>,
    /// Restoring into an existing tree (`--overwrite`): its directories are taken over, and a
    /// file is written under a temporary name and renamed into place when complete.
    existing: Option<Overwrite>,
}

/// Whether a stat is of a directory.
pub fn is_dir(st: &FileStat) -> bool {
    st.st_mode & 0o170_000 == 0o040_000
}

/// The temporary name a file is written under beside `n` before it is renamed to `n`: fixed for
/// a name, so a rerun replaces what an interrupted one left.
pub fn tmp_name(n: &[u8]) -> Vec<u8> {
    let h = blake3::hash(n);
    let mut t = b".vger-tmp.".to_vec();
    t.extend_from_slice(hex::encode(&h.as_bytes()[..8]).as_bytes());
    t
}

/// Removes `n` in `dir`: a directory with everything in it, never following a symlink (each
/// directory is opened by one name with `O_NOFOLLOW`, each entry unlinked relative to it).
pub fn remove_tree(dir: &OwnedFd, n: &[u8], path: &Path) -> Result<()> {
    let st = match fstatat(dir, name(n), AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(errno_io(path, "reading", e)),
    };
    if !is_dir(&st) {
        return unlinkat(dir, name(n), UnlinkatFlags::NoRemoveDir)
            .map_err(|e| errno_io(path, "removing", e));
    }
    let fd = openat(dir, name(n), DIR_FLAGS, Mode::empty())
        .map_err(|e| errno_io(path, "opening directory", e))?;
    let names = list(&fd, path)?;
    for c in names {
        remove_tree(&fd, &c, &path.join(OsStr::from_bytes(&c)))?;
    }
    unlinkat(dir, name(n), UnlinkatFlags::RemoveDir).map_err(|e| errno_io(path, "removing", e))
}

/// The names in directory `fd` (without `.` and `..`).
pub fn list(fd: &OwnedFd, path: &Path) -> Result<Vec<Vec<u8>>> {
    let dup = fd
        .try_clone()
        .map_err(|e| VgerError::io(format!("reading {}", path.display()), e))?;
    let mut d = nix::dir::Dir::from_fd(dup).map_err(|e| errno_io(path, "reading", e))?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e.map_err(|e| errno_io(path, "reading", e))?;
        let n = e.file_name().to_bytes();
        if !matches!(n, b"." | b"..") {
            out.push(n.to_vec());
        }
    }
    Ok(out)
}

/// Splits a relative path into its parent ("" for the root) and its last name.
pub fn split(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (b"", rel),
    }
}

fn name(n: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(n))
}

/// Device and inode of each directory this restore created, by relative path, and as a set.
#[derive(Default)]
struct Created {
    by_path: HashMap<Vec<u8>, (u64, u64)>,
    ids: HashSet<(u64, u64)>,
}

#[allow(
    clippy::unnecessary_cast,
    reason = "the field types differ between platforms"
)]
fn id(st: &FileStat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

fn errno_io(path: &Path, what: &str, e: Errno) -> VgerError {
    VgerError::io(format!("{what} {}", path.display()), e.into())
}

impl Dest {
    /// Opens the destination, creating it when it does not exist; it must be a directory and not a
    /// symlink, and empty unless `existing` (`--overwrite`) is given.
    pub fn open(dest: &Path, existing: Option<Overwrite>) -> Result<Self> {
        let not_empty = || VgerError::DestinationNotEmpty(dest.display().to_string());
        if std::fs::symlink_metadata(dest).is_err() {
            std::fs::create_dir_all(dest)
                .map_err(|e| VgerError::io(format!("creating {}", dest.display()), e))?;
        }
        let root = nix::fcntl::open(dest, DIR_FLAGS, Mode::empty()).map_err(|e| match e {
            Errno::ELOOP | Errno::ENOTDIR => not_empty(),
            e => errno_io(dest, "opening", e),
        })?;
        let dup = root
            .try_clone()
            .map_err(|e| VgerError::io(format!("opening {}", dest.display()), e))?;
        let mut dir = nix::dir::Dir::from_fd(dup).map_err(|e| errno_io(dest, "reading", e))?;
        for e in dir.iter() {
            let e = e.map_err(|e| errno_io(dest, "reading", e))?;
            if existing.is_none() && !matches!(e.file_name().to_bytes(), b"." | b"..") {
                return Err(not_empty());
            }
        }
        let path = std::fs::canonicalize(dest)
            .map_err(|e| VgerError::io(format!("resolving {}", dest.display()), e))?;
        Ok(Self {
            root: Arc::new(root),
            path,
            euid: nix::unistd::geteuid().as_raw(),
            created: RwLock::default(),
            changed: Mutex::default(),
            cache: Mutex::default(),
            existing,
        })
    }

    /// The absolute path of `rel`, for messages.
    pub fn path(&self, rel: &[u8]) -> PathBuf {
        self.path.join(OsStr::from_bytes(rel))
    }

    pub fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    fn changed_error(&self, rel: &[u8]) -> VgerError {
        VgerError::DestinationChanged(self.path(rel).display().to_string())
    }

    /// Records `rel` as changed (and forgets the handles at or below it); returns its error.
    fn mark_changed(&self, rel: &[u8]) -> VgerError {
        self.changed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(rel.to_vec());
        let mut prefix = rel.to_vec();
        prefix.push(b'/');
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|k, _| k != rel && !k.starts_with(&prefix));
        self.changed_error(rel)
    }

    /// The changed directory at or above `rel`, if any.
    pub fn changed_ancestor(&self, rel: &[u8]) -> Option<Vec<u8>> {
        let changed = self.changed.lock().unwrap_or_else(PoisonError::into_inner);
        if changed.is_empty() {
            return None;
        }
        let mut at = rel;
        loop {
            if changed.contains(at) {
                return Some(at.to_vec());
            }
            if at.is_empty() {
                return None;
            }
            at = split(at).0;
        }
    }

    /// Every directory found replaced or moved, parents before children.
    pub fn changed(&self) -> Vec<Vec<u8>> {
        let mut v: Vec<_> = self
            .changed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Creates directory `rel` (mode 0700 until [`super::write::apply_dir_meta`]) and records it.
    /// Into an existing tree, a directory already there is taken over as it is, and another entry
    /// in its place is removed first (kept with `--overwrite never`: reported, nothing under it).
    pub fn create_dir(&self, rel: &[u8]) -> Result<()> {
        let (parent, n) = split(rel);
        let pfd = self.dir(parent)?;
        let path = self.path(rel);
        let mkdir = || mkdirat(&*pfd, name(n), Mode::S_IRWXU);
        let mut adopted = false;
        let made = match (mkdir(), self.existing) {
            (Err(Errno::EEXIST), Some(mode)) => {
                match fstatat(&*pfd, name(n), AtFlags::AT_SYMLINK_NOFOLLOW) {
                    Ok(st) if is_dir(&st) => {
                        adopted = true;
                        Ok(())
                    }
                    Ok(_) if mode != Overwrite::Never => {
                        unlinkat(&*pfd, name(n), UnlinkatFlags::NoRemoveDir)
                            .map_err(|e| errno_io(&path, "removing", e))?;
                        mkdir()
                    }
                    Ok(_) => Err(Errno::EEXIST),
                    Err(e) => Err(e),
                }
            }
            (r, _) => r,
        };
        made.map_err(|e| match e {
            // The parent is gone from under its handle.
            Errno::ENOENT => self.mark_changed(parent),
            // Another process took the name first.
            Errno::EEXIST => self.mark_changed(rel),
            e => errno_io(&path, "creating directory", e),
        })?;
        let fd = match openat(&*pfd, name(n), DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ELOOP | Errno::ENOTDIR | Errno::ENOENT) => {
                return Err(self.mark_changed(rel));
            }
            Err(e) => return Err(errno_io(&path, "opening directory", e)),
        };
        let st = fstat(&fd).map_err(|e| errno_io(&path, "reading", e))?;
        let mut created = self.created.write().unwrap_or_else(PoisonError::into_inner);
        // What was opened must be the directory just made: this user's, and new to this restore
        // (or, taken over, at least not one seen already).
        let root = fstat(&*self.root).map_err(|e| errno_io(&self.path, "reading", e))?;
        if (!adopted && st.st_uid != self.euid)
            || id(&st) == id(&root)
            || !created.ids.insert(id(&st))
        {
            drop(created);
            return Err(self.mark_changed(rel));
        }
        created.by_path.insert(rel.to_vec(), id(&st));
        drop(created);
        self.remember(rel, Arc::new(fd));
        Ok(())
    }

    fn remember(&self, rel: &[u8], fd: Arc<OwnedFd>) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE {
            cache.clear();
        }
        cache.insert(rel.to_vec(), fd);
    }

    /// The handle of directory `rel` ("" is the root): from the cache, or opened again from its
    /// parent's handle and checked against what was created.
    pub fn dir(&self, rel: &[u8]) -> Result<Arc<OwnedFd>> {
        if rel.is_empty() {
            return Ok(Arc::clone(&self.root));
        }
        self.check_top(rel)?;
        self.lookup(rel)
    }

    /// Checks that the top-level directory `rel` is under is still in its place: the destination
    /// is the one directory others may write to, so a swap is found before anything more is
    /// written under it (one `fstatat` per lookup).
    fn check_top(&self, rel: &[u8]) -> Result<()> {
        let top = rel.split(|&b| b == b'/').next().unwrap_or(rel);
        match fstatat(&*self.root, name(top), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if self.created_id(top) == Some(id(&st)) => Ok(()),
            Ok(_) | Err(Errno::ENOENT) => Err(self.mark_changed(top)),
            Err(e) => Err(errno_io(&self.path(top), "reading", e)),
        }
    }

    fn lookup(&self, rel: &[u8]) -> Result<Arc<OwnedFd>> {
        if rel.is_empty() {
            return Ok(Arc::clone(&self.root));
        }
        if let Some(fd) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(rel)
        {
            return Ok(Arc::clone(fd));
        }
        if let Some(c) = self.changed_ancestor(rel) {
            return Err(self.changed_error(&c));
        }
        let (parent, n) = split(rel);
        let pfd = self.lookup(parent)?;
        let fd = match openat(&*pfd, name(n), DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ELOOP | Errno::ENOTDIR | Errno::ENOENT) => {
                return Err(self.mark_changed(rel));
            }
            Err(e) => return Err(errno_io(&self.path(rel), "opening directory", e)),
        };
        let st = fstat(&fd).map_err(|e| errno_io(&self.path(rel), "reading", e))?;
        if self.created_id(rel) != Some(id(&st)) {
            return Err(self.mark_changed(rel));
        }
        let fd = Arc::new(fd);
        self.remember(rel, Arc::clone(&fd));
        Ok(fd)
    }

    fn created_id(&self, rel: &[u8]) -> Option<(u64, u64)> {
        self.created
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_path
            .get(rel)
            .copied()
    }

    /// Checks that directory `rel` is still the one created at its place (looked up from its
    /// parent's handle without following links); marks it changed otherwise.
    pub fn verify_dir(&self, rel: &[u8]) -> Result<()> {
        if let Some(c) = self.changed_ancestor(rel) {
            return Err(self.changed_error(&c));
        }
        let (parent, n) = split(rel);
        let pfd = self.dir(parent)?;
        match fstatat(&*pfd, name(n), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if self.created_id(rel) == Some(id(&st)) => Ok(()),
            Ok(_) | Err(Errno::ENOENT | Errno::ENOTDIR) => Err(self.mark_changed(rel)),
            Err(e) => Err(errno_io(&self.path(rel), "reading", e)),
        }
    }

    /// Creates regular file `rel` (mode 0600, never an existing name or through a link); into an
    /// existing tree under its temporary name ([`tmp_name`]), which [`Self::commit`] renames.
    pub fn create_file(&self, rel: &[u8]) -> Result<File> {
        let (parent, n) = split(rel);
        let pfd = self.dir(parent)?;
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let at = match self.existing {
            Some(_) => {
                let t = tmp_name(n);
                // Left by an interrupted restore.
                let _ = unlinkat(&*pfd, name(&t), UnlinkatFlags::NoRemoveDir);
                t
            }
            None => n.to_vec(),
        };
        openat(&*pfd, name(&at), flags, Mode::S_IRUSR | Mode::S_IWUSR)
            .map(File::from)
            .map_err(|e| errno_io(&self.path(rel), "creating", e))
    }

    /// Puts a complete file in place: into an existing tree, renames its temporary name over
    /// whatever is at `rel` (a directory there is removed first); nothing to do otherwise.
    pub fn commit(&self, rel: &[u8]) -> Result<()> {
        if self.existing.is_none() {
            return Ok(());
        }
        let (parent, n) = split(rel);
        let pfd = self.dir(parent)?;
        let path = self.path(rel);
        if fstatat(&*pfd, name(n), AtFlags::AT_SYMLINK_NOFOLLOW).is_ok_and(|st| is_dir(&st)) {
            remove_tree(&pfd, n, &path)?;
        }
        nix::fcntl::renameat(&*pfd, name(&tmp_name(n)), &*pfd, name(n))
            .map_err(|e| errno_io(&path, "renaming into place", e))
    }

    /// Removes whatever is at `rel` (a directory with its contents; a symlink itself).
    pub fn clear(&self, rel: &[u8]) -> Result<()> {
        let (parent, n) = split(rel);
        let pfd = self.dir(parent)?;
        remove_tree(&pfd, n, &self.path(rel))
    }

    /// Removes the (non-directory) entry `rel` this restore made, if its directory is reachable:
    /// into an existing tree, its temporary name.
    pub fn remove(&self, rel: &[u8]) {
        let (parent, n) = split(rel);
        if let Ok(pfd) = self.dir(parent) {
            let n = match self.existing {
                Some(_) => tmp_name(n),
                None => n.to_vec(),
            };
            let _ = unlinkat(&*pfd, name(&n), UnlinkatFlags::NoRemoveDir);
        }
    }
}
