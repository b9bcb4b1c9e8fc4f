//! A local cache of a remote repository's immutable metadata, so that `list`, `snapshot list`,
//! `diff`, `find` and an unchanged re-backup do not download the index and the snapshots again.
//!
//! Index segments and snapshots are written once under names that are never reused and are only
//! ever deleted, so a cached copy is either the object or of an object that is gone. Listings
//! always come from the store (they decide what exists); a cached copy is used only for a key
//! the caller found there, and cached copies of keys a listing no longer shows are removed.
//! Each cached file holds a BLAKE3 hash of its bytes first, so a copy damaged on the local disk
//! is fetched again instead of being reported as damage in the repository; the objects are
//! sealed (authenticated against their id and the repository id) besides, as they are in the
//! store.
//!
//! Packs of trees are kept whole when the engine reads them through
//! [`Backend::get_range_cached`] (it does so only for packs that hold trees alone): the first read
//! downloads the pack, later ones read ranges of the local copy. A copy's hash is checked the
//! first time this process uses it; copies of packs the index no longer lists are dropped by
//! [`Backend::retain_cached`].
//!
//! Layout: `<dir>/<namespace>/index/<id>`, `<dir>/<namespace>/snapshots/<id>` and
//! `<dir>/<namespace>/packs/<xx>/<id>`, where the
//! namespace is the first 16 bytes (hex) of the BLAKE3 hash of the repository's `config` object:
//! a repository replaced at the same URL gets a new namespace, and two URLs of one repository
//! share one. Files are 0600, directories 0700.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use vger_types::{Result, VgerError};

use crate::{Backend, ObjectMeta, Spooled};

/// The prefixes whose objects are immutable and small enough to keep.
const CACHED: [&str; 2] = ["index", "snapshots"];

/// Bytes of the hash in front of every cached copy.
const SUM: u64 = 32;

pub struct CachedBackend {
    inner: Box<dyn Backend>,
    dir: PathBuf,
    /// `dir/<namespace>`, known once `config` was read.
    root: OnceLock<Option<PathBuf>>,
    /// Packs whose local copy this process has checked (or written).
    checked: Mutex<HashSet<String>>,
    /// One lock per pack being fetched, so that threads asking for one pack download it once.
    fetching: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// A pack key (`packs/<xx>/<id>`).
fn is_pack(key: &str) -> bool {
    key.strip_prefix("packs/")
        .and_then(|r| r.split_once('/'))
        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains('/'))
}

fn cacheable(key: &str) -> bool {
    key.split_once('/')
        .is_some_and(|(p, rest)| CACHED.contains(&p) && !rest.is_empty() && !rest.contains('/'))
}

impl CachedBackend {
    pub fn new(inner: Box<dyn Backend>, dir: impl Into<PathBuf>) -> Self {
        Self {
            inner,
            dir: dir.into(),
            root: OnceLock::new(),
            checked: Mutex::default(),
            fetching: Mutex::default(),
        }
    }

    /// Makes sure `key` (a pack) has a checked local copy at `path`; returns its bytes when this
    /// call had to fetch them but could not keep them.
    fn ensure_copy(&self, key: &str, path: &Path) -> Result<Option<Vec<u8>>> {
        let lock = Arc::clone(
            self.fetching
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(key.to_string())
                .or_default(),
        );
        let _one = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let checked = || {
            self.checked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.to_string());
        };
        if self
            .checked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(key)
        {
            return Ok(None);
        }
        if Self::read_cached(path).is_some() {
            checked();
            return Ok(None);
        }
        let bytes = self.inner.get(key)?;
        Self::write_cached(path, &bytes);
        if Self::read_cached(path).is_some() {
            checked();
            return Ok(None);
        }
        Ok(Some(bytes))
    }

    /// The namespace directory, or None when the repository has no readable `config` (nothing
    /// is cached then).
    fn root(&self) -> Option<&Path> {
        self.root
            .get_or_init(|| Some(self.namespace(&self.inner.get("config").ok()?)))
            .as_deref()
    }

    fn namespace(&self, config: &[u8]) -> PathBuf {
        self.dir
            .join(hex::encode(&blake3::hash(config).as_bytes()[..16]))
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.root().map(|r| r.join(key))
    }

    fn read_cached(path: &Path) -> Option<Vec<u8>> {
        let bytes = fs::read(path).ok()?;
        let (sum, body) = bytes.split_at_checked(32)?;
        (blake3::hash(body).as_bytes() == sum).then(|| body.to_vec())
    }

    /// Keeps a copy; a failure only means the next read goes to the store again.
    fn write_cached(path: &Path, data: &[u8]) {
        let Some(dir) = path.parent() else { return };
        if crate::platform::private_dir(fs::DirBuilder::new().recursive(true))
            .create(dir)
            .is_err()
        {
            return;
        }
        let mut r = [0u8; 8];
        let _ = getrandom::fill(&mut r);
        let tmp = dir.join(format!(".tmp.{}", hex::encode(r)));
        let written =
            crate::platform::private_file(fs::OpenOptions::new().write(true).create_new(true))
                .open(&tmp)
                .and_then(|mut f| {
                    f.write_all(blake3::hash(data).as_bytes())?;
                    f.write_all(data)
                })
                .and_then(|()| fs::rename(&tmp, path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }

    /// Removes cached copies under `prefix` that `listed` no longer holds.
    fn forget_unlisted(&self, prefix: &str, listed: &[String]) {
        if !CACHED.contains(&prefix) {
            return;
        }
        let Some(dir) = self.path(prefix) else { return };
        let Ok(entries) = fs::read_dir(&dir) else {
            return;
        };
        let keep: std::collections::HashSet<&str> = listed
            .iter()
            .filter_map(|k| k.strip_prefix(prefix)?.strip_prefix('/'))
            .collect();
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if !keep.contains(name.as_ref()) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

impl Backend for CachedBackend {
    fn get(&self, key: &str) -> Result<Vec<u8>> {
        if key == "config" {
            // Opening a repository reads its config first: the namespace comes from those bytes
            // instead of a second request.
            let bytes = self.inner.get(key)?;
            let _ = self.root.get_or_init(|| Some(self.namespace(&bytes)));
            return Ok(bytes);
        }
        if !cacheable(key) {
            return self.inner.get(key);
        }
        let path = self.path(key);
        if let Some(bytes) = path.as_deref().and_then(Self::read_cached) {
            return Ok(bytes);
        }
        let bytes = self.inner.get(key)?;
        if let Some(p) = &path {
            Self::write_cached(p, &bytes);
        }
        Ok(bytes)
    }

    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.inner.get_range(key, offset, len)
    }

    fn get_range_into(&self, key: &str, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.get_range_into(key, offset, len, buf)
    }

    fn get_range_cached(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let Some(path) = is_pack(key).then(|| self.path(key)).flatten() else {
            return self.inner.get_range(key, offset, len);
        };
        if let Some(bytes) = self.ensure_copy(key, &path)? {
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = usize::try_from(offset.saturating_add(len))
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            return Ok(bytes[start..end].to_vec());
        }
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
        let read = fs::File::open(&path)
            .and_then(|f| crate::platform::read_exact_at(&f, &mut buf, SUM + offset));
        match read {
            Ok(()) => Ok(buf),
            // Removed or cut short under us: the store has the object.
            Err(_) => {
                self.checked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(key);
                self.inner.get_range(key, offset, len)
            }
        }
    }

    fn retain_cached(&self, prefix: &str, keep: &dyn Fn(&str) -> bool) {
        let Some(dir) = self.path(prefix) else { return };
        let Ok(fans) = fs::read_dir(&dir) else { return };
        for fan in fans.flatten() {
            let fan_name = fan.file_name().to_string_lossy().into_owned();
            let Ok(entries) = fs::read_dir(fan.path()) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let key = format!("{prefix}/{fan_name}/{name}");
                // A temporary file may be another process's copy being written: only an old one
                // is debris.
                let stale_tmp = name.starts_with(".tmp.")
                    && e.metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(3600));
                if stale_tmp || (!name.starts_with(".tmp.") && !keep(&key)) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }

    fn put_new(&self, key: &str, data: &[u8]) -> Result<()> {
        self.inner.put_new(key, data)?;
        if cacheable(key)
            && let Some(p) = self.path(key)
        {
            Self::write_cached(&p, data);
        }
        Ok(())
    }

    fn spool(&self, dir: &str, token: &[u8; 16]) -> Result<Spooled> {
        self.inner.spool(dir, token)
    }

    fn put_spooled(&self, key: &str, spool: Spooled) -> Result<()> {
        self.inner.put_spooled(key, spool)
    }

    fn parallel_writes(&self) -> usize {
        self.inner.parallel_writes()
    }

    fn verify_packs(&self, keys: &[String]) -> Result<Option<Vec<Option<String>>>> {
        self.inner.verify_packs(keys)
    }

    fn can_assemble(&self) -> bool {
        self.inner.can_assemble()
    }

    fn assemble(
        &self,
        head: &[u8],
        ranges: &[crate::SourceRange],
        tail: &[u8],
    ) -> Result<Option<String>> {
        self.inner.assemble(head, ranges, tail)
    }

    fn parallel_reads(&self) -> usize {
        self.inner.parallel_reads()
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let listed = self.inner.list(prefix)?;
        self.forget_unlisted(prefix, &listed);
        Ok(listed)
    }

    fn list_meta(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.inner.list_meta(prefix)
    }

    fn remove_debris(&self, age: Duration) -> Result<usize> {
        self.inner.remove_debris(age)
    }

    fn destroy(&self) -> Result<()> {
        self.inner.destroy()?;
        if let Some(root) = self.root() {
            fs::remove_dir_all(root)
                .or_else(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => Ok(()),
                    _ => Err(e),
                })
                .map_err(|e| VgerError::io(format!("removing the cache {}", root.display()), e))?;
        }
        Ok(())
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        self.inner.size(key)
    }

    fn delete(&self, key: &str) -> Result<()> {
        if (cacheable(key) || is_pack(key))
            && let Some(p) = self.path(key)
        {
            let _ = fs::remove_file(p);
        }
        self.inner.delete(key)
    }

    fn is_empty(&self) -> Result<bool> {
        self.inner.is_empty()
    }

    fn create(&self) -> Result<()> {
        self.inner.create()
    }

    fn location(&self) -> &str {
        self.inner.location()
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "in a test, a failed unwrap is a failed test"
)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::LocalBackend;

    /// Counts the reads that reach the store.
    struct Counting {
        inner: LocalBackend,
        gets: Arc<AtomicUsize>,
    }

    impl Backend for Counting {
        fn get(&self, key: &str) -> Result<Vec<u8>> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            self.inner.get(key)
        }
        fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
            self.inner.get_range(key, offset, len)
        }
        fn put_new(&self, key: &str, data: &[u8]) -> Result<()> {
            self.inner.put_new(key, data)
        }
        fn list(&self, prefix: &str) -> Result<Vec<String>> {
            self.inner.list(prefix)
        }
        fn size(&self, key: &str) -> Result<Option<u64>> {
            self.inner.size(key)
        }
        fn delete(&self, key: &str) -> Result<()> {
            self.inner.delete(key)
        }
        fn is_empty(&self) -> Result<bool> {
            self.inner.is_empty()
        }
        fn create(&self) -> Result<()> {
            self.inner.create()
        }
        fn location(&self) -> &str {
            self.inner.location()
        }
    }

    fn setup() -> (tempfile::TempDir, CachedBackend, Arc<AtomicUsize>) {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store");
        let inner = LocalBackend::new(store.to_str().unwrap(), "store");
        inner.create().unwrap();
        inner.put_new("config", b"config bytes").unwrap();
        let gets = Arc::new(AtomicUsize::new(0));
        let counting = Counting {
            inner,
            gets: Arc::clone(&gets),
        };
        let cached = CachedBackend::new(Box::new(counting), tmp.path().join("cache"));
        (tmp, cached, gets)
    }

    #[test]
    fn immutable_metadata_is_read_from_the_store_once() {
        let (_tmp, b, gets) = setup();
        b.inner.put_new("index/aa", b"segment").unwrap();
        b.inner.put_new("packs/ab/cd", b"pack").unwrap();
        assert_eq!(b.get("index/aa").unwrap(), b"segment");
        let after_first = gets.load(Ordering::SeqCst);
        assert_eq!(b.get("index/aa").unwrap(), b"segment");
        assert_eq!(
            gets.load(Ordering::SeqCst),
            after_first,
            "served from the cache"
        );
        // Packs and the config are never cached.
        b.get("packs/ab/cd").unwrap();
        b.get("packs/ab/cd").unwrap();
        assert_eq!(gets.load(Ordering::SeqCst), after_first + 2);
        // What this client writes is cached as it goes up.
        b.put_new("snapshots/ee", b"snapshot").unwrap();
        let before = gets.load(Ordering::SeqCst);
        assert_eq!(b.get("snapshots/ee").unwrap(), b"snapshot");
        assert_eq!(gets.load(Ordering::SeqCst), before);
    }

    #[test]
    fn a_damaged_copy_is_fetched_again_and_deleted_objects_are_forgotten() {
        let (tmp, b, gets) = setup();
        b.inner.put_new("index/aa", b"segment").unwrap();
        b.get("index/aa").unwrap();
        let copy = b.path("index/aa").unwrap();
        assert!(copy.starts_with(tmp.path().join("cache")));
        let mut bytes = fs::read(&copy).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&copy, bytes).unwrap();
        let before = gets.load(Ordering::SeqCst);
        assert_eq!(b.get("index/aa").unwrap(), b"segment");
        assert_eq!(gets.load(Ordering::SeqCst), before + 1, "refetched");
        // Another client deletes it: the next listing drops the copy.
        let other = tmp.path().join("store");
        LocalBackend::new(other.to_str().unwrap(), "store")
            .delete("index/aa")
            .unwrap();
        assert!(b.list("index").unwrap().is_empty());
        assert!(!copy.exists());
        // A deletion through this backend drops it at once.
        b.put_new("snapshots/ee", b"s").unwrap();
        let snap = b.path("snapshots/ee").unwrap();
        assert!(snap.exists());
        b.delete("snapshots/ee").unwrap();
        assert!(!snap.exists());
    }

    #[test]
    fn another_repository_at_the_same_place_gets_its_own_namespace() {
        let tmp = tempfile::tempdir().unwrap();
        let mk = |config: &[u8], store: &str| {
            let inner = LocalBackend::new(tmp.path().join(store).to_str().unwrap(), store);
            inner.create().unwrap();
            inner.put_new("config", config).unwrap();
            CachedBackend::new(Box::new(inner), tmp.path().join("cache"))
        };
        let a = mk(b"repository a", "a");
        let b = mk(b"repository b", "b");
        assert_ne!(a.path("index/x"), b.path("index/x"));
        a.put_new("index/x", b"x").unwrap();
        // Owner-only modes exist on Unix only (docs/platforms.md).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            let p = a.path("index/x").unwrap();
            assert_eq!(mode(&p), 0o600);
            assert_eq!(mode(p.parent().unwrap()), 0o700);
        }
    }
}
