//! Objects written before their key is known. A pack's key is the hash of its bytes, so the
//! backup streams a pack into a [`Spooled`] object as it fills and names it at the end
//! ([`crate::Backend::put_spooled`]). Backends without a place to spool keep the bytes in memory.
//!
//! A spool file is written with direct I/O (`O_DIRECT`) where the filesystem allows it: whole
//! aligned blocks go from the write buffer to the device without a copy into the page cache, which
//! took about an eighth of a first backup's CPU time (a pack is not read again by the backup, and
//! its bytes would only push the user's data out of the cache). The last partial block is written
//! through the page cache, and the file is synced before it is named, as before. Where direct I/O
//! is refused (tmpfs, some network filesystems), the file is written through the page cache.

use std::fs::{self, File};
use std::io::{Read, Write};
#[cfg(target_os = "linux")]
use std::os::fd::AsFd;
use std::path::PathBuf;

#[cfg(target_os = "linux")]
use nix::fcntl::{FcntlArg, OFlag, fcntl};

use vger_types::{Result, VgerError};

/// The bytes of an object not yet stored: in memory, or in a local temporary file that is
/// removed unless the object is stored.
pub struct Spooled {
    inner: Inner,
    len: u64,
    /// The key of the temporary object, where the backend names one (see [`Spooled::temp_key`]).
    temp_key: Option<String>,
}

enum Inner {
    Memory(Vec<u8>),
    File(FileWriter, PathBuf),
}

/// Write buffer of a spool file: small blobs are gathered into writes of this size.
const FILE_BUFFER: usize = 512 << 10;
/// Alignment of direct I/O buffers, lengths and offsets (a page covers every block size in use).
const ALIGN: usize = 4096;

/// A buffered writer whose buffer is aligned for direct I/O and which writes only whole buffers
/// while direct I/O is on.
struct FileWriter {
    file: File,
    /// `FILE_BUFFER + ALIGN` bytes; the buffer proper starts at `start`, which is aligned.
    mem: Vec<u8>,
    start: usize,
    filled: usize,
    direct: bool,
}

impl FileWriter {
    fn new(file: File) -> Self {
        let mem = vec![0u8; FILE_BUFFER + ALIGN];
        let start = mem.as_ptr().align_offset(ALIGN).min(ALIGN);
        let direct = set_direct(&file, true);
        Self {
            file,
            mem,
            start,
            filled: 0,
            direct,
        }
    }

    fn write_all(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let n = (FILE_BUFFER - self.filled).min(data.len());
            let at = self.start + self.filled;
            self.mem[at..at + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == FILE_BUFFER {
                self.flush_buffer()?;
            }
        }
        Ok(())
    }

    fn flush_buffer(&mut self) -> std::io::Result<()> {
        let buf = &self.mem[self.start..self.start + self.filled];
        let mut done = 0;
        while done < buf.len() {
            match (&self.file).write(&buf[done..]) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // Direct I/O refused (EINVAL; or a short direct write left the rest unaligned):
                // the rest goes through the page cache.
                Err(e) if self.direct && e.kind() == std::io::ErrorKind::InvalidInput => {
                    self.direct = false;
                    set_direct(&self.file, false);
                }
                Err(e) => return Err(e),
            }
        }
        self.filled = 0;
        Ok(())
    }

    /// Writes what is buffered (a partial block without direct I/O) and syncs the file, which is
    /// left without `O_DIRECT` so that it can be read back with any buffer.
    fn finish(mut self) -> std::io::Result<File> {
        if self.direct && !self.filled.is_multiple_of(ALIGN) {
            self.direct = false;
            set_direct(&self.file, false);
        }
        if self.filled > 0 {
            self.flush_buffer()?;
        }
        if self.direct {
            self.direct = false;
            set_direct(&self.file, false);
        }
        self.file.sync_all()?;
        Ok(self.file)
    }
}

/// Turns `O_DIRECT` on or off for an open file; false when it is not on afterwards.
#[cfg(target_os = "linux")]
fn set_direct(file: &File, on: bool) -> bool {
    let Ok(bits) = fcntl(file.as_fd(), FcntlArg::F_GETFL) else {
        return false;
    };
    let mut flags = OFlag::from_bits_truncate(bits);
    flags.set(OFlag::O_DIRECT, on);
    fcntl(file.as_fd(), FcntlArg::F_SETFL(flags)).is_ok() && on
}

/// Direct I/O is Linux's `O_DIRECT`; elsewhere spool files are written through the page cache.
#[cfg(not(target_os = "linux"))]
fn set_direct(_file: &File, _on: bool) -> bool {
    false
}

impl Spooled {
    pub fn memory() -> Self {
        Self {
            inner: Inner::Memory(Vec::new()),
            len: 0,
            temp_key: None,
        }
    }

    /// A spool in `file`, newly created at `path` (removed again unless stored).
    pub fn file(file: File, path: PathBuf) -> Self {
        Self {
            inner: Inner::File(FileWriter::new(file), path),
            len: 0,
            temp_key: None,
        }
    }

    /// Names the temporary object under which the backend keeps the bytes until they are stored.
    pub fn with_temp_key(mut self, key: String) -> Self {
        self.temp_key = Some(key);
        self
    }

    /// The key of the temporary object holding the bytes (for the local backend
    /// `packs/.tmp.<32 hex>`), or `None` when they are in memory. A process killed while
    /// spooling leaves this object behind; a client that recorded the key can remove it with
    /// [`crate::Backend::delete`] at once instead of waiting for the grace period.
    pub fn temp_key(&self) -> Option<&str> {
        self.temp_key.as_deref()
    }

    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.inner {
            Inner::Memory(v) => v.extend_from_slice(data),
            Inner::File(w, path) => w
                .write_all(data)
                .map_err(|e| VgerError::io(format!("writing {}", path.display()), e))?,
        }
        self.len += data.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The in-memory bytes, or the file flushed, synced and with its path (the caller now owns
    /// the file and must remove it).
    pub fn into_parts(mut self) -> Result<SpoolParts> {
        // Taken out of `self`, whose drop then has no file to remove.
        match std::mem::replace(&mut self.inner, Inner::Memory(Vec::new())) {
            Inner::Memory(v) => Ok(SpoolParts::Memory(v)),
            Inner::File(w, path) => match w.finish() {
                Ok(file) => Ok(SpoolParts::File(file, path)),
                Err(e) => {
                    let _ = fs::remove_file(&path);
                    Err(VgerError::io(format!("writing {}", path.display()), e))
                }
            },
        }
    }

    /// All the bytes, read back from the file if spooled to one (which is then removed).
    pub fn into_bytes(self) -> Result<Vec<u8>> {
        match self.into_parts()? {
            SpoolParts::Memory(v) => Ok(v),
            SpoolParts::File(mut f, path) => {
                let mut v = Vec::new();
                let r = std::io::Seek::rewind(&mut f).and_then(|()| f.read_to_end(&mut v));
                let _ = fs::remove_file(&path);
                r.map_err(|e| VgerError::io(format!("reading {}", path.display()), e))?;
                Ok(v)
            }
        }
    }
}

pub enum SpoolParts {
    Memory(Vec<u8>),
    File(File, PathBuf),
}

impl Drop for Spooled {
    fn drop(&mut self) {
        if let Inner::File(_, path) = &self.inner {
            let _ = fs::remove_file(path);
        }
    }
}
