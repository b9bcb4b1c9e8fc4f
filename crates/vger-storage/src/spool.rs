//! Objects written before their key is known. A pack's key is the hash of its bytes, so the
//! backup streams a pack into a [`Spooled`] object as it fills and names it at the end
//! ([`crate::Backend::put_spooled`]). Backends without a place to spool keep the bytes in memory.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;

use vger_types::{Result, VgerError};

/// The bytes of an object not yet stored: in memory, or in a local temporary file that is
/// removed unless the object is stored.
pub struct Spooled {
    inner: Inner,
    len: u64,
}

enum Inner {
    Memory(Vec<u8>),
    File(Option<(BufWriter<File>, PathBuf)>),
}

/// Write buffer of a spool file: small blobs are gathered into writes of this size.
const FILE_BUFFER: usize = 512 << 10;

impl Spooled {
    pub fn memory() -> Self {
        Self {
            inner: Inner::Memory(Vec::new()),
            len: 0,
        }
    }

    /// A spool in `file`, newly created at `path` (removed again unless stored).
    pub fn file(file: File, path: PathBuf) -> Self {
        Self {
            inner: Inner::File(Some((BufWriter::with_capacity(FILE_BUFFER, file), path))),
            len: 0,
        }
    }

    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        match &mut self.inner {
            Inner::Memory(v) => v.extend_from_slice(data),
            Inner::File(Some((w, path))) => w
                .write_all(data)
                .map_err(|e| VgerError::io(format!("writing {}", path.display()), e))?,
            Inner::File(None) => unreachable!("a spool is used after it was taken apart"),
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
        match &mut self.inner {
            Inner::Memory(v) => Ok(SpoolParts::Memory(std::mem::take(v))),
            Inner::File(slot) => {
                let (w, path) = slot.take().expect("a spool is taken apart once");
                let io = |e| VgerError::io(format!("writing {}", path.display()), e);
                let file = match w.into_inner() {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = fs::remove_file(&path);
                        return Err(io(e.into_error()));
                    }
                };
                if let Err(e) = file.sync_all() {
                    let _ = fs::remove_file(&path);
                    return Err(io(e));
                }
                Ok(SpoolParts::File(file, path))
            }
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
        if let Inner::File(Some((_, path))) = &self.inner {
            let _ = fs::remove_file(path);
        }
    }
}
