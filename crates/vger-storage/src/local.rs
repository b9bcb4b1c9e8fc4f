//! The local filesystem backend. Writes go to a temporary file in the target directory, are
//! fsynced, then linked into place with `link(2)` (which fails if the name exists, so nothing is
//! ever overwritten), and the directory is fsynced. A crash leaves at most a `.tmp.*` file.
//! Spooled objects (packs) are written to a `.tmp.*` file in the directory above their final
//! one (`packs/`) as they fill, and linked into place the same way once their key is known.
//! Files are created 0600 and directories 0700 whatever the umask: the key file is what a
//! passphrase guess is tested against, and nothing in a repository is for other users.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use vger_types::{Result, VgerError};

use crate::{Backend, ObjectMeta, SpoolParts, Spooled, platform, validate_key};

pub struct LocalBackend {
    root: PathBuf,
    url: String,
}

impl LocalBackend {
    pub fn new(root: impl Into<PathBuf>, url: &str) -> Self {
        Self {
            root: root.into(),
            url: url.to_string(),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn missing_or_io(&self, key: &str, e: std::io::Error, what: &str) -> VgerError {
        if e.kind() == ErrorKind::NotFound {
            VgerError::ObjectMissing {
                object: key.to_string(),
            }
        } else {
            VgerError::io(format!("{what} {}", self.root.join(key).display()), e)
        }
    }

    fn sync_dir(dir: &Path) -> Result<()> {
        platform::sync_dir(dir)
            .map_err(|e| VgerError::io(format!("syncing directory {}", dir.display()), e))
    }

    /// The directory of `path`, created (and its own entry made durable) if missing.
    fn ensure_dir(&self, path: &Path) -> Result<PathBuf> {
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        if !dir.is_dir() {
            create_private_dir(&dir)?;
            // The new directory's own entry must be durable too, not only the file inside it.
            Self::sync_dir(dir.parent().unwrap_or(&self.root))?;
        }
        Ok(dir)
    }

    /// Gives the synced temporary file `tmp` its final name (`link(2)` fails if the name
    /// exists, so nothing is overwritten), removes the temporary name and syncs `dir`.
    fn link_into_place(tmp: &Path, key: &str, path: &Path, dir: &Path) -> Result<()> {
        let linked = fs::hard_link(tmp, path);
        let _ = fs::remove_file(tmp);
        match linked {
            Ok(()) => Self::sync_dir(dir),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(VgerError::AlreadyExists {
                key: key.to_string(),
            }),
            Err(e) => Err(VgerError::io(format!("writing {}", path.display()), e)),
        }
    }

    /// Visits every stored object under `dir` (temporary files excluded unless `debris`).
    fn walk(
        &self,
        dir: &Path,
        prefix: &str,
        debris: bool,
        visit: &mut dyn FnMut(String, &fs::DirEntry) -> Result<()>,
    ) -> Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(VgerError::io(format!("listing {}", dir.display()), e)),
        };
        for entry in entries {
            let entry =
                entry.map_err(|e| VgerError::io(format!("listing {}", dir.display()), e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let ft = entry
                .file_type()
                .map_err(|e| VgerError::io(format!("listing {}", dir.display()), e))?;
            if ft.is_dir() {
                self.walk(&entry.path(), &key, debris, visit)?;
            } else if ft.is_file() && name.starts_with(".tmp.") == debris {
                visit(key, &entry)?;
            }
        }
        Ok(())
    }
}

impl Backend for LocalBackend {
    fn get(&self, key: &str) -> Result<Vec<u8>> {
        let path = self.path(key)?;
        fs::read(&path).map_err(|e| self.missing_or_io(key, e, "reading"))
    }

    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let path = self.path(key)?;
        let mut f = File::open(&path).map_err(|e| self.missing_or_io(key, e, "opening"))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| self.missing_or_io(key, e, "seeking"))?;
        let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0).min(1 << 30));
        f.take(len)
            .read_to_end(&mut buf)
            .map_err(|e| self.missing_or_io(key, e, "reading"))?;
        Ok(buf)
    }

    fn get_range_into(&self, key: &str, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<()> {
        let path = self.path(key)?;
        let f = File::open(&path).map_err(|e| self.missing_or_io(key, e, "opening"))?;
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(1 << 30);
        buf.clear();
        buf.resize(len, 0);
        let mut got = 0;
        while got < len {
            match platform::read_at(&f, &mut buf[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.missing_or_io(key, e, "reading")),
            }
        }
        buf.truncate(got);
        Ok(())
    }

    fn put_new(&self, key: &str, data: &[u8]) -> Result<()> {
        let path = self.path(key)?;
        let dir = self.ensure_dir(&path)?;
        let tmp = dir.join(format!(".tmp.{}", hex::encode(random16())));
        let write = || -> std::io::Result<()> {
            let mut f = platform::private_file(OpenOptions::new().write(true).create_new(true))
                .open(&tmp)?;
            f.write_all(data)?;
            f.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(VgerError::io(format!("writing {}", path.display()), e));
        }
        Self::link_into_place(&tmp, key, &path, &dir)
    }

    fn spool(&self, dir_key: &str, token: &[u8; 16]) -> Result<Spooled> {
        let dir = self.path(dir_key)?;
        if !dir.is_dir() {
            create_private_dir(&dir)?;
        }
        let key = crate::temp_key(dir_key, token);
        let tmp = self.path(&key)?;
        let f = platform::private_file(OpenOptions::new().write(true).read(true).create_new(true))
            .open(&tmp)
            .map_err(|e| VgerError::io(format!("creating {}", tmp.display()), e))?;
        Ok(Spooled::file(f, tmp).with_temp_key(key))
    }

    fn put_spooled(&self, key: &str, spool: Spooled) -> Result<()> {
        match spool.into_parts()? {
            SpoolParts::Memory(bytes) => self.put_new(key, &bytes),
            SpoolParts::File(f, tmp) => {
                drop(f);
                // The temporary file is synced: link it under its name like put_new does.
                let r = self
                    .path(key)
                    .and_then(|path| Ok((self.ensure_dir(&path)?, path)));
                match r {
                    Ok((dir, path)) => Self::link_into_place(&tmp, key, &path, &dir),
                    Err(e) => {
                        let _ = fs::remove_file(&tmp);
                        Err(e)
                    }
                }
            }
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        validate_key(prefix)?;
        let mut out = Vec::new();
        self.walk(&self.root.join(prefix), prefix, false, &mut |k, _| {
            out.push(k);
            Ok(())
        })?;
        out.sort();
        Ok(out)
    }

    fn list_meta(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        validate_key(prefix)?;
        let mut out = Vec::new();
        self.walk(&self.root.join(prefix), prefix, false, &mut |key, entry| {
            match entry.metadata() {
                Ok(m) => out.push(ObjectMeta {
                    key,
                    size: m.len(),
                    modified: m.modified().ok(),
                }),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(self.missing_or_io(&key, e, "inspecting")),
            }
            Ok(())
        })?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn remove_debris(&self, age: Duration) -> Result<usize> {
        let mut removed = 0;
        let now = SystemTime::now();
        self.walk(&self.root, "", true, &mut |key, entry| {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d >= age));
            if old && fs::remove_file(self.root.join(&key)).is_ok() {
                removed += 1;
            }
            Ok(())
        })?;
        Ok(removed)
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        match fs::metadata(self.path(key)?) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.missing_or_io(key, e, "inspecting")),
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        fs::remove_file(&path).map_err(|e| self.missing_or_io(key, e, "deleting"))
    }

    fn is_empty(&self) -> Result<bool> {
        match fs::read_dir(&self.root) {
            Ok(mut it) => Ok(it.next().is_none()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(true),
            Err(e) => Err(VgerError::io(format!("reading {}", self.root.display()), e)),
        }
    }

    fn create(&self) -> Result<()> {
        for dir in ["", "keys", "snapshots", "index", "packs", "locks"] {
            create_private_dir(&self.root.join(dir))?;
        }
        Ok(())
    }

    fn destroy(&self) -> Result<()> {
        // Only directories that are empty now: anything else in the location is not ours.
        fn prune(dir: &Path) -> std::io::Result<()> {
            for e in fs::read_dir(dir)? {
                let e = e?;
                if e.file_type()?.is_dir() {
                    prune(&e.path())?;
                }
            }
            match fs::remove_dir(dir) {
                Err(e) if e.kind() != ErrorKind::NotFound && dir.read_dir()?.next().is_none() => {
                    Err(e)
                }
                _ => Ok(()),
            }
        }
        prune(&self.root).map_err(|e| VgerError::io(format!("removing {}", self.root.display()), e))
    }

    fn location(&self) -> &str {
        &self.url
    }
}

/// `mkdir -p` with 0700 for every directory it creates (existing ones are left as they are).
fn create_private_dir(dir: &Path) -> Result<()> {
    platform::private_dir(fs::DirBuilder::new().recursive(true))
        .create(dir)
        .map_err(|e| VgerError::io(format!("creating {}", dir.display()), e))
}

fn random16() -> [u8; 16] {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system random source failed");
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use vger_types::ErrorCode;

    #[test]
    fn put_get_list_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path(), "t");
        assert!(b.is_empty().unwrap());
        b.create().unwrap();
        b.put_new("packs/ab/x", b"hello").unwrap();
        assert_eq!(b.get("packs/ab/x").unwrap(), b"hello");
        assert_eq!(b.get_range("packs/ab/x", 1, 3).unwrap(), b"ell");
        let mut buf = b"old".repeat(9);
        b.get_range_into("packs/ab/x", 2, 9, &mut buf).unwrap();
        assert_eq!(buf, b"llo", "a short read returns what exists");
        let e = b.put_new("packs/ab/x", b"other").unwrap_err();
        assert_eq!(e.code(), ErrorCode::AlreadyExists);
        assert_eq!(b.get("packs/ab/x").unwrap(), b"hello");
        assert_eq!(b.list("packs").unwrap(), vec!["packs/ab/x".to_string()]);
        assert_eq!(b.size("packs/ab/x").unwrap(), Some(5));
        assert_eq!(b.get("nope").unwrap_err().code(), ErrorCode::ObjectMissing);
        assert!(b.put_new("../escape", b"x").is_err());
        assert!(b.put_new("a//b", b"x").is_err());
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("packs/ab")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files remain");
    }

    #[test]
    fn spooled_objects_are_create_only_and_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path(), "t");
        b.create().unwrap();
        let mut s = b.spool("packs", &random16()).unwrap();
        s.write(b"hel").unwrap();
        s.write(b"lo").unwrap();
        assert_eq!(s.len(), 5);
        let key = s.temp_key().unwrap().to_string();
        assert!(key.starts_with("packs/.tmp."), "{key}");
        assert_eq!(
            b.size(&key).unwrap(),
            Some(0),
            "the temporary object is named by its key"
        );
        assert_eq!(
            b.remove_debris(Duration::ZERO).unwrap(),
            1,
            "an open spool is debris"
        );
        let mut s = b.spool("packs", &random16()).unwrap();
        s.write(b"hello").unwrap();
        b.put_spooled("packs/cd/y", s).unwrap();
        assert_eq!(b.get("packs/cd/y").unwrap(), b"hello");
        let mut s = b.spool("packs", &random16()).unwrap();
        s.write(b"other").unwrap();
        let e = b.put_spooled("packs/cd/y", s).unwrap_err();
        assert_eq!(e.code(), ErrorCode::AlreadyExists);
        assert_eq!(b.get("packs/cd/y").unwrap(), b"hello");
        drop(b.spool("packs", &random16()).unwrap()); // abandoned: removed
        let names: Vec<_> = fs::read_dir(dir.path().join("packs"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["cd"], "no temporary files remain");
        assert_eq!(b.list("packs").unwrap(), vec!["packs/cd/y".to_string()]);
    }

    /// Spool files use direct I/O where the filesystem allows it (the temporary directory) and
    /// the page cache where it does not (tmpfs): the bytes are the same either way, whatever the
    /// sizes of the writes and however the length falls against the 4 KiB blocks.
    #[test]
    fn spooled_bytes_survive_direct_io_and_its_fallback() {
        let shm = std::path::Path::new("/dev/shm");
        let mut roots = vec![tempfile::tempdir().unwrap()];
        if shm.is_dir() {
            roots.push(tempfile::tempdir_in(shm).unwrap());
        }
        for root in &roots {
            let b = LocalBackend::new(root.path(), "t");
            b.create().unwrap();
            for (i, total) in [0usize, 1, 4096, 524_288, 524_289, 1_300_001]
                .into_iter()
                .enumerate()
            {
                let data: Vec<u8> = (0..total).map(|j| (j * 31 + i) as u8).collect();
                let mut s = b.spool("packs", &random16()).unwrap();
                for piece in data.chunks(7_777 + i * 1_000) {
                    s.write(piece).unwrap();
                }
                let key = format!("packs/ab/{i}");
                b.put_spooled(&key, s).unwrap();
                assert_eq!(
                    b.get(&key).unwrap(),
                    data,
                    "{total} bytes in {:?}",
                    root.path()
                );
                // Read back from the spool file itself (backends without a spool of their own).
                let mut s = b.spool("packs", &random16()).unwrap();
                s.write(&data).unwrap();
                assert_eq!(s.into_bytes().unwrap(), data, "{total} bytes read back");
            }
        }
    }
}
