//! The few file calls that differ between Unix and Windows (docs/platforms.md), shared with the
//! engine: positioned reads and writes, owner-only files and directories, syncing a directory.
//!
//! - Positioned I/O is `pread`/`pwrite` on Unix and `seek_read`/`seek_write` on Windows, where it
//!   also moves the handle's cursor: a handle used through these helpers is never read or written
//!   by cursor as well.
//! - Owner-only: mode 0700/0600 on Unix whatever the umask; on Windows a new file or directory
//!   inherits the ACL of its parent (a repository under the user's profile is private to them).
//! - A directory's entries are made durable with `fsync` on its handle on Unix; Windows has no
//!   such call for a directory (NTFS journals the rename/link itself), so it is a no-op there.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, ErrorKind};
use std::path::Path;

/// Makes `b` create directories only their owner can enter (0700 on Unix).
pub fn private_dir(b: &mut DirBuilder) -> &mut DirBuilder {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700)
    }
    #[cfg(not(unix))]
    {
        b
    }
}

/// Makes `o` create files only their owner can read (0600 on Unix).
pub fn private_file(o: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600)
    }
    #[cfg(not(unix))]
    {
        o
    }
}

/// Reads at `offset` (may return fewer bytes than asked; 0 at the end of the file).
pub fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(f, buf, offset)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(f, buf, offset)
    }
}

/// Reads exactly `buf.len()` bytes at `offset` (`UnexpectedEof` if the file is shorter).
pub fn read_exact_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match read_at(f, buf, offset) {
            Ok(0) => return Err(io::Error::from(ErrorKind::UnexpectedEof)),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `buf` at `offset`.
pub fn write_all_at(f: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        #[cfg(unix)]
        let r = std::os::unix::fs::FileExt::write_at(f, buf, offset);
        #[cfg(windows)]
        let r = std::os::windows::fs::FileExt::seek_write(f, buf, offset);
        match r {
            Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero)),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes the entries of directory `dir` durable (a no-op on Windows: see the module comment).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
