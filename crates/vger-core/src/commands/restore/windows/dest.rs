//! The destination of a restore on Windows, reached by path (docs/platforms.md).
//!
//! Windows has no `openat`: every entry is created by its full path under the destination. Each
//! stored name is checked first: it must be UTF-8 and a name Windows can hold; a name with `\` or
//! `:` (which would name another directory, a drive or an alternate data stream) is refused as
//! unsafe (`VGER_UNSAFE_PATH`), one Windows cannot create (`<>"|?*`, a control character, a
//! reserved device name such as `NUL`, a trailing dot or space) is an error of that entry
//! (`VGER_IO`). A directory this restore uses is checked to be still a directory and not a
//! symlink or junction (one stat of the directory, and of the top-level directory it is under)
//! before anything is created in it; one that is not is marked changed, as on Unix
//! (`VGER_DEST_CHANGED`). Without handles, a swap between that check and the creation is not
//! caught: restore into a directory no other user can write to.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use vger_types::{Result, VgerError};

use crate::commands::restore::Overwrite;
use crate::platform::names;

pub struct Dest {
    /// The canonical destination.
    path: PathBuf,
    /// Directories found replaced or moved.
    changed: Mutex<HashSet<Vec<u8>>>,
    /// Directories this restore created or took over.
    created: Mutex<HashSet<Vec<u8>>>,
    existing: Option<Overwrite>,
}

/// Whether `m` (not followed) is a directory itself, not a symlink or junction to one.
pub fn is_dir(m: &fs::Metadata) -> bool {
    m.file_type().is_dir()
}

/// The temporary name a file is written under beside `n` before it is renamed to `n`.
pub fn tmp_name(n: &[u8]) -> Vec<u8> {
    let h = blake3::hash(n);
    let mut t = b".vger-tmp.".to_vec();
    t.extend_from_slice(hex::encode(&h.as_bytes()[..8]).as_bytes());
    t
}

/// Splits a relative path into its parent ("" for the root) and its last name.
pub fn split(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (b"", rel),
    }
}

const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Stored name `n` as a Windows name; `shown` is the path for messages.
pub fn win_name<'a>(n: &'a [u8], shown: &Path) -> Result<&'a str> {
    let Some(s) = std::str::from_utf8(n).ok() else {
        return Err(names::not_unicode(shown));
    };
    if s.is_empty() || s == "." || s == ".." || s.contains(['\\', ':', '/']) {
        return Err(VgerError::UnsafePath(shown.display().to_string()));
    }
    let stem = s.split('.').next().unwrap_or(s).trim_end();
    let bad = s.chars().any(|c| c < ' ' || "<>\"|?*".contains(c))
        || s.ends_with(['.', ' '])
        || RESERVED.iter().any(|r| stem.eq_ignore_ascii_case(r));
    if bad {
        return Err(VgerError::io(
            format!("creating {}", shown.display()),
            std::io::Error::new(
                ErrorKind::InvalidInput,
                "Windows cannot hold this name (a reserved name, a character such as <>:\"|?*, or a trailing dot or space)",
            ),
        ));
    }
    Ok(s)
}

/// `base` joined with the stored relative path `rel`, each name checked ([`win_name`]).
pub fn native(base: &Path, rel: &[u8]) -> Result<PathBuf> {
    let mut p = base.to_path_buf();
    if rel.is_empty() {
        return Ok(p);
    }
    for n in rel.split(|&b| b == b'/') {
        let shown = p.join(names::os_str_lossy(n));
        p.push(win_name(n, &shown)?);
    }
    Ok(p)
}

fn io(path: &Path, what: &str, e: std::io::Error) -> VgerError {
    VgerError::io(format!("{what} {}", path.display()), e)
}

/// Removes whatever is at `path` without following a link: a directory with everything in it, a
/// directory symlink or junction itself, a file even if read-only.
pub fn remove_tree(path: &Path) -> Result<()> {
    let m = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(path, "reading", e)),
    };
    let r = if is_dir(&m) {
        // std's remove_dir_all does not follow links below it.
        fs::remove_dir_all(path)
    } else {
        remove_file(path, &m)
    };
    r.map_err(|e| io(path, "removing", e))
}

/// Removes a file, a symlink or a junction (`m`: its metadata, not followed).
fn remove_file(path: &Path, m: &fs::Metadata) -> std::io::Result<()> {
    if m.permissions().readonly() {
        let mut p = m.permissions();
        #[allow(
            clippy::permissions_set_readonly_false,
            reason = "Windows: clears the read-only attribute only, so that the file can be removed"
        )]
        p.set_readonly(false);
        let _ = fs::set_permissions(path, p);
    }
    fs::remove_file(path).or_else(|e| match fs::remove_dir(path) {
        // A directory symlink or junction is removed as a directory.
        Ok(()) => Ok(()),
        Err(_) => Err(e),
    })
}

/// The names in directory `dir` (a name that is not valid Unicode is left out: it cannot be
/// compared with a stored name).
pub fn list(dir: &Path, path: &Path) -> Result<Vec<Vec<u8>>> {
    let rd = fs::read_dir(dir).map_err(|e| io(path, "reading", e))?;
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| io(path, "reading", e))?;
        if let Some(b) = names::bytes(&e.file_name()) {
            out.push(b.to_vec());
        }
    }
    Ok(out)
}

impl Dest {
    /// Opens the destination, creating it when it does not exist; it must be a directory and not a
    /// symlink, and empty unless `existing` (`--overwrite`) is given.
    pub fn open(dest: &Path, existing: Option<Overwrite>) -> Result<Self> {
        let not_empty = || VgerError::DestinationNotEmpty(dest.display().to_string());
        if fs::symlink_metadata(dest).is_err() {
            fs::create_dir_all(dest).map_err(|e| io(dest, "creating", e))?;
        }
        let m = fs::symlink_metadata(dest).map_err(|e| io(dest, "opening", e))?;
        if !is_dir(&m) {
            return Err(not_empty());
        }
        let mut entries = fs::read_dir(dest).map_err(|e| io(dest, "reading", e))?;
        if existing.is_none() && entries.next().is_some() {
            return Err(not_empty());
        }
        let path = std::path::absolute(dest).map_err(|e| io(dest, "resolving", e))?;
        Ok(Self {
            path,
            changed: Mutex::default(),
            created: Mutex::default(),
            existing,
        })
    }

    /// The absolute path of `rel`, for messages.
    pub fn path(&self, rel: &[u8]) -> PathBuf {
        self.path.join(names::os_str_lossy(rel))
    }

    fn changed_error(&self, rel: &[u8]) -> VgerError {
        VgerError::DestinationChanged(self.path(rel).display().to_string())
    }

    fn mark_changed(&self, rel: &[u8]) -> VgerError {
        self.changed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(rel.to_vec());
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

    /// Creates directory `rel`. Into an existing tree, a directory already there is taken over,
    /// and another entry in its place is removed first (kept with `--overwrite never`: reported).
    pub fn create_dir(&self, rel: &[u8]) -> Result<()> {
        let (parent, _) = split(rel);
        let pdir = self.dir(parent)?;
        let path = native(&self.path, rel)?;
        let made = match (fs::create_dir(&path), self.existing) {
            (Err(e), Some(mode)) if e.kind() == ErrorKind::AlreadyExists => {
                match fs::symlink_metadata(&path) {
                    Ok(m) if is_dir(&m) => Ok(()),
                    Ok(m) if mode != Overwrite::Never => {
                        remove_file(&path, &m).map_err(|e| io(&path, "removing", e))?;
                        fs::create_dir(&path)
                    }
                    Ok(_) => Err(e),
                    Err(e) => Err(e),
                }
            }
            (r, _) => r,
        };
        made.map_err(|e| match e.kind() {
            ErrorKind::NotFound if pdir.exists() => io(&path, "creating directory", e),
            ErrorKind::NotFound => self.mark_changed(parent),
            ErrorKind::AlreadyExists => self.mark_changed(rel),
            _ => io(&path, "creating directory", e),
        })?;
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(rel.to_vec());
        Ok(())
    }

    /// The path of directory `rel` ("" is the root), once it and the top-level directory it is
    /// under are checked to be directories created by this restore and not links.
    pub fn dir(&self, rel: &[u8]) -> Result<Arc<PathBuf>> {
        if rel.is_empty() {
            return Ok(Arc::new(self.path.clone()));
        }
        if let Some(c) = self.changed_ancestor(rel) {
            return Err(self.changed_error(&c));
        }
        let top = rel.split(|&b| b == b'/').next().unwrap_or(rel);
        if top != rel {
            self.verify(top)?;
        }
        self.verify(rel)?;
        Ok(Arc::new(native(&self.path, rel)?))
    }

    fn verify(&self, rel: &[u8]) -> Result<()> {
        let known = self
            .created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(rel);
        let path = native(&self.path, rel)?;
        match fs::symlink_metadata(&path) {
            Ok(m) if known && is_dir(&m) => Ok(()),
            Ok(_) => Err(self.mark_changed(rel)),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(self.mark_changed(rel)),
            Err(e) => Err(io(&path, "reading", e)),
        }
    }

    /// Checks that directory `rel` is still a directory at its place; marks it changed otherwise.
    pub fn verify_dir(&self, rel: &[u8]) -> Result<()> {
        self.dir(rel).map(|_| ())
    }

    /// Creates regular file `rel` (never an existing name); into an existing tree under its
    /// temporary name ([`tmp_name`]), which [`Self::commit`] renames.
    pub fn create_file(&self, rel: &[u8]) -> Result<File> {
        let (parent, n) = split(rel);
        let dir = self.dir(parent)?;
        let shown = self.path(rel);
        let at = match self.existing {
            Some(_) => {
                win_name(n, &shown)?;
                let t = dir.join(names::os_str_lossy(&tmp_name(n)));
                // Left by an interrupted restore.
                let _ = fs::remove_file(&t);
                t
            }
            None => dir.join(win_name(n, &shown)?),
        };
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&at)
            .map_err(|e| io(&shown, "creating", e))
    }

    /// Puts a complete file in place: into an existing tree, renames its temporary name over
    /// whatever is at `rel` (a directory there is removed first); nothing to do otherwise.
    pub fn commit(&self, rel: &[u8]) -> Result<()> {
        if self.existing.is_none() {
            return Ok(());
        }
        let (parent, n) = split(rel);
        let dir = self.dir(parent)?;
        let path = self.path(rel);
        let to = dir.join(win_name(n, &path)?);
        if let Ok(m) = fs::symlink_metadata(&to) {
            if is_dir(&m) {
                remove_tree(&to)?;
            } else if m.permissions().readonly() {
                remove_file(&to, &m).map_err(|e| io(&path, "removing", e))?;
            }
        }
        let from = dir.join(names::os_str_lossy(&tmp_name(n)));
        fs::rename(&from, &to).map_err(|e| io(&path, "renaming into place", e))
    }

    /// Removes whatever is at `rel` (a directory with its contents; a symlink itself).
    pub fn clear(&self, rel: &[u8]) -> Result<()> {
        let (parent, n) = split(rel);
        let dir = self.dir(parent)?;
        remove_tree(&dir.join(win_name(n, &self.path(rel))?))
    }

    /// Removes the (non-directory) entry `rel` this restore made, if its directory is reachable:
    /// into an existing tree, its temporary name.
    pub fn remove(&self, rel: &[u8]) {
        let (parent, n) = split(rel);
        if let Ok(dir) = self.dir(parent) {
            let n = match self.existing {
                Some(_) => tmp_name(n),
                None => n.to_vec(),
            };
            let p = dir.join(names::os_str_lossy(&n));
            if let Ok(m) = fs::symlink_metadata(&p)
                && !is_dir(&m)
            {
                let _ = remove_file(&p, &m);
            }
        }
    }
}
