//! File metadata as the snapshot and the file cache store it.
//!
//! On Unix: `stat(2)` as it is. On Windows, through what std offers there:
//! - no device and no inode (both 0): hard links are not detected (each name is stored as a
//!   file), the file cache keys on the path, size, modification and change time only, and
//!   `--one-file-system` does not stop at volume boundaries;
//! - the change time is the creation time (a file replaced by another with the same size and
//!   modification time still differs there);
//! - no owner (uid, gid 0, no user or group name): ownership is neither stored nor restored;
//! - the mode is the file type and the read-only attribute only: 0o644/0o755 (directory), or
//!   0o444/0o555 read-only; a symlink is 0o777.

use std::fs::{FileType, Metadata};

use crate::tree::Kind;

#[cfg(unix)]
mod imp {
    use std::fs::{FileType, Metadata};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    use crate::clock::ns_from_stat;
    use crate::tree::Kind;

    pub fn dev(m: &Metadata) -> u64 {
        m.dev()
    }
    pub fn ino(m: &Metadata) -> u64 {
        m.ino()
    }
    pub fn nlink(m: &Metadata) -> u64 {
        m.nlink()
    }
    pub fn mode(m: &Metadata) -> u32 {
        m.mode()
    }
    pub fn uid(m: &Metadata) -> u32 {
        m.uid()
    }
    pub fn gid(m: &Metadata) -> u32 {
        m.gid()
    }
    pub fn rdev(m: &Metadata) -> u64 {
        m.rdev()
    }
    pub fn mtime_ns(m: &Metadata) -> i64 {
        ns_from_stat(m.mtime(), m.mtime_nsec())
    }
    pub fn ctime_ns(m: &Metadata) -> i64 {
        ns_from_stat(m.ctime(), m.ctime_nsec())
    }
    pub fn special(ft: FileType) -> Kind {
        if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_char_device() {
            Kind::CharDev
        } else if ft.is_block_device() {
            Kind::BlockDev
        } else {
            Kind::Socket
        }
    }
    pub fn user_name(uid: u32) -> String {
        nix::unistd::User::from_uid(uid.into())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_default()
    }
    pub fn group_name(gid: u32) -> String {
        nix::unistd::Group::from_gid(gid.into())
            .ok()
            .flatten()
            .map(|g| g.name)
            .unwrap_or_default()
    }
}

#[cfg(not(unix))]
mod imp {
    use std::fs::{FileType, Metadata};
    use std::time::{SystemTime, UNIX_EPOCH};

    use crate::clock::duration_ns;
    use crate::tree::Kind;

    /// Type bits of a mode, as `stat(2)` has them.
    const S_IFREG: u32 = 0o100_000;
    const S_IFDIR: u32 = 0o040_000;
    const S_IFLNK: u32 = 0o120_000;

    pub fn dev(_: &Metadata) -> u64 {
        0
    }
    pub fn ino(_: &Metadata) -> u64 {
        0
    }
    pub fn nlink(_: &Metadata) -> u64 {
        1
    }
    pub fn mode(m: &Metadata) -> u32 {
        let ft = m.file_type();
        if ft.is_symlink() {
            return S_IFLNK | 0o777;
        }
        let (kind, exec) = if ft.is_dir() {
            (S_IFDIR, 0o111)
        } else {
            (S_IFREG, 0)
        };
        let perm = if m.permissions().readonly() {
            0o444
        } else {
            0o644
        };
        kind | perm | exec
    }
    pub fn uid(_: &Metadata) -> u32 {
        0
    }
    pub fn gid(_: &Metadata) -> u32 {
        0
    }
    pub fn rdev(_: &Metadata) -> u64 {
        0
    }
    fn ns(t: std::io::Result<SystemTime>) -> i64 {
        match t.map(|t| t.duration_since(UNIX_EPOCH)) {
            Ok(Ok(d)) => duration_ns(d),
            Ok(Err(before)) => -duration_ns(before.duration()),
            Err(_) => 0,
        }
    }
    pub fn mtime_ns(m: &Metadata) -> i64 {
        ns(m.modified())
    }
    pub fn ctime_ns(m: &Metadata) -> i64 {
        ns(m.created())
    }
    pub fn special(_: FileType) -> Kind {
        // Neither a file, a directory nor a symlink: nothing Windows can recreate.
        Kind::Socket
    }
    pub fn user_name(_: u32) -> String {
        String::new()
    }
    pub fn group_name(_: u32) -> String {
        String::new()
    }
}

/// The device of the filesystem holding the file (0 on Windows).
pub fn dev(m: &Metadata) -> u64 {
    imp::dev(m)
}
/// The inode (0 on Windows).
pub fn ino(m: &Metadata) -> u64 {
    imp::ino(m)
}
/// The number of names of the file (1 on Windows: hard links are not detected).
pub fn nlink(m: &Metadata) -> u64 {
    imp::nlink(m)
}
/// The mode with its type bits (on Windows: see the module comment).
pub fn mode(m: &Metadata) -> u32 {
    imp::mode(m)
}
pub fn uid(m: &Metadata) -> u32 {
    imp::uid(m)
}
pub fn gid(m: &Metadata) -> u32 {
    imp::gid(m)
}
/// The device number of a device node.
pub fn rdev(m: &Metadata) -> u64 {
    imp::rdev(m)
}
/// Modification time, nanoseconds since the epoch.
pub fn mtime_ns(m: &Metadata) -> i64 {
    imp::mtime_ns(m)
}
/// Status change time (on Windows the creation time), nanoseconds since the epoch.
pub fn ctime_ns(m: &Metadata) -> i64 {
    imp::ctime_ns(m)
}
/// The kind of an entry that is not a file, a directory or a symlink.
pub fn special(ft: FileType) -> Kind {
    imp::special(ft)
}
/// The name of user `uid` ("" when unknown, and on Windows).
pub fn user_name(uid: u32) -> String {
    imp::user_name(uid)
}
/// The name of group `gid` ("" when unknown, and on Windows).
pub fn group_name(gid: u32) -> String {
    imp::group_name(gid)
}

/// Extended attributes: name and value of each.
pub type XattrList = Vec<(Vec<u8>, Vec<u8>)>;

/// The extended attributes of `path` (not following a symlink), names and values; none where
/// they cannot be read. Windows has alternate data streams instead, which are not stored.
pub fn xattrs(path: &std::path::Path) -> XattrList {
    xattrs_checked(path).0
}

/// [`xattrs`], and whether they were all read: false when listing them or reading one failed
/// (permissions, I/O), true too for a filesystem without extended attributes and for an
/// attribute removed between the listing and its read.
pub fn xattrs_checked(path: &std::path::Path) -> (XattrList, bool) {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let names = match xattr::list(path) {
            Ok(names) => names,
            Err(e) => {
                let unsupported = matches!(e.raw_os_error(),
                    Some(c) if c == nix::libc::ENOTSUP || c == nix::libc::EOPNOTSUPP);
                return (Vec::new(), unsupported);
            }
        };
        let mut complete = true;
        let mut out = Vec::new();
        for n in names {
            match xattr::get(path, &n) {
                Ok(Some(v)) => out.push((n.as_bytes().to_vec(), v)),
                Ok(None) => {}
                Err(_) => complete = false,
            }
        }
        (out, complete)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        (Vec::new(), true)
    }
}

/// Makes `o` refuse to open through a symlink at the last component (`O_NOFOLLOW`). On Windows
/// the file itself is opened (`FILE_FLAG_OPEN_REPARSE_POINT`): a symlink swapped in after the walk
/// saw a file is read as the link, not followed.
pub fn no_follow(o: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        /// `FILE_FLAG_OPEN_REPARSE_POINT` (winbase.h).
        const OPEN_REPARSE_POINT: u32 = 0x0020_0000;
        o.custom_flags(OPEN_REPARSE_POINT)
    }
}
