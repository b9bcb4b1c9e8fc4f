//! Sparse files: the data extents of a regular file, found with `SEEK_DATA`/`SEEK_HOLE`, are
//! read through `pread` and chunked back to back; the holes between them are never read and go
//! into the entry's hole map (format.md section 12.3), from which restore recreates them.

use std::fs::{File, Metadata};
use std::io::Read;
#[cfg(target_os = "linux")]
use std::os::unix::fs::MetadataExt;

#[cfg(target_os = "linux")]
use nix::errno::Errno;
#[cfg(target_os = "linux")]
use nix::unistd::{Whence, lseek};

#[cfg(target_os = "linux")]
use crate::tree::MAX_HOLES;

/// The data extents `(offset, length)` of `file` within `[0, size)`, in order; `None` when the
/// file is stored whole: it has no hole (judged first from its allocated blocks, so most files
/// cost no system call), the filesystem cannot tell, or it has more than
/// [`MAX_HOLES`](crate::tree::MAX_HOLES) holes.
///
/// Only on Linux: nix offers `SEEK_DATA` on no other target vger builds for, so elsewhere every file is
/// stored whole (a hole reads as zeros, which deduplicate to one chunk; docs/platforms.md).
#[cfg(not(target_os = "linux"))]
pub fn data_extents(_file: &File, _meta: &Metadata) -> Option<Vec<(u64, u64)>> {
    None
}

#[cfg(target_os = "linux")]
pub fn data_extents(file: &File, meta: &Metadata) -> Option<Vec<(u64, u64)>> {
    let size = meta.len();
    if size == 0 || meta.blocks().saturating_mul(512) >= size {
        return None;
    }
    let end = i64::try_from(size).ok()?;
    let mut extents = Vec::new();
    let mut pos = 0i64;
    while pos < end {
        let data = match lseek(file, pos, Whence::SeekData) {
            Ok(d) => d,
            Err(Errno::ENXIO) => break, // only a hole from here to the end
            Err(_) => return None,
        };
        if data >= end {
            break;
        }
        let hole = lseek(file, data, Whence::SeekHole).ok()?.min(end);
        if hole <= data {
            return None;
        }
        extents.push((data as u64, (hole - data) as u64));
        if extents.len() > MAX_HOLES {
            return None;
        }
        pos = hole;
    }
    (extents != [(0, size)]).then_some(extents)
}

/// Reads the data extents of a file one after the other, as one stream; records how many bytes
/// each extent gave (fewer than its length if the file shrank meanwhile).
pub struct ExtentReader<'f> {
    file: &'f File,
    extents: Vec<(u64, u64)>,
    next: usize,
    /// Bytes read from each extent so far.
    read: Vec<u64>,
}

impl<'f> ExtentReader<'f> {
    pub fn new(file: &'f File, extents: Vec<(u64, u64)>) -> Self {
        let read = vec![0; extents.len()];
        Self {
            file,
            extents,
            next: 0,
            read,
        }
    }

    /// The holes of a file of `size` bytes: everything in `[0, size)` that was not read. With
    /// the bytes read, they add up to `size` exactly, whatever happened to the file meanwhile.
    pub fn holes(&self, size: u64) -> Vec<(u64, u64)> {
        let mut holes = Vec::new();
        let mut at = 0u64;
        for (&(off, _), &n) in self.extents.iter().zip(&self.read) {
            if n == 0 {
                continue;
            }
            if off > at {
                holes.push((at, off - at));
            }
            at = off + n;
        }
        if size > at {
            holes.push((at, size - at));
        }
        holes
    }
}

impl Read for ExtentReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while let Some(&(off, len)) = self.extents.get(self.next) {
            let done = self.read[self.next];
            let want = usize::try_from(len - done)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            if want == 0 {
                self.next += 1;
                continue;
            }
            let n = vger_storage::platform::read_at(self.file, &mut buf[..want], off + done)?;
            if n == 0 {
                // The file shrank: the rest of this extent reads as a hole.
                self.next += 1;
                continue;
            }
            self.read[self.next] += n as u64;
            return Ok(n);
        }
        Ok(0)
    }
}
