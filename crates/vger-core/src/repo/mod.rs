//! An open repository: its backend, config, master key and chunk index. One module per stored
//! object kind lives beside this file.

pub mod config;
pub mod context;
pub mod index;
pub mod index_table;
pub mod keys;
pub mod liveness;
pub mod lock;
mod lock_wait;
pub mod pack;
pub mod pending;
pub mod process;
pub mod snapshot;
pub mod trees;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};

use vger_crypto::{BlobKind, Crypter, MasterKey, unwrap_master_key};
use vger_storage::{Backend, BackendOptions, open_backend_with};
use vger_types::{ChunkId, PackId, Result, SnapshotId, VgerError};

use crate::compress::decompress_into;
use crate::progress::{NoProgress, Progress, Warning};
use crate::tree::{self, Entry};
use config::RepoConfig;
use context::{ObjectKind, context};
use index::{ChunkIndex, IndexBuilder};
use lock::{Lease, LeaseSettings, LockKind, ReadLease};
use snapshot::Snapshot;

/// Segments read from storage, with their keys.
type Opened<'k> = Vec<(&'k String, index::Segment)>;

/// Blobs of segments written since the index table was made beyond which an open rebuilds the
/// table (or an eighth of the table, if more): below it, they are kept in memory beside it.
const DELTA_MIN: usize = 1 << 16;

/// Largest tree blob accepted on read (a directory of roughly a million entries).
pub const MAX_TREE_SIZE: usize = 256 << 20;

pub struct Repository {
    backend: Arc<dyn Backend>,
    config: RepoConfig,
    master: MasterKey,
    crypter: Arc<Crypter>,
    index: RwLock<ChunkIndex>,
    warnings: Vec<Warning>,
    /// The key file the passphrase opened, and the config bytes its AAD binds.
    key_name: Mutex<String>,
    config_bytes: Vec<u8>,
    /// The index segments the in-memory index was built from.
    segments: Mutex<Vec<String>>,
    /// Segments the last load left out as replayed.
    replayed: Mutex<Vec<Warning>>,
    /// The segments whose entries the in-memory index holds.
    included: Mutex<std::collections::HashSet<[u8; 32]>>,
    /// The highest index generation read or written (see [`index`]); never goes down.
    generation: AtomicU64,
    /// The highest generation handed to a segment being written (stored or not).
    reserved: AtomicU64,
    lease: LeaseSettings,
    /// Size at which a backup closes a pack ([`pack::PACK_TARGET`] unless set otherwise).
    pack_target: usize,
    /// Where lease acquisition reports waits and the warnings of locks it removed or could not write.
    lock_events: Arc<dyn Progress>,
    /// Reading operations take no lock (`--no-lock`); writing ones then refuse to run.
    no_lock: bool,
    /// Where the index is kept as a memory-mapped table ([`index_table`]); without it the index
    /// is built in memory from every segment at each open.
    index_table: Option<std::path::PathBuf>,
}

/// An index built from storage ([`Repository::read_index`]).
pub struct IndexLoad {
    pub index: ChunkIndex,
    /// Every segment listed (the ones left out included: a compaction replaces them all).
    pub keys: Vec<String>,
    /// Segments that could not be read (damaged, or written by a newer vger).
    pub damaged: Vec<Warning>,
    /// Segments a present segment names as replaced, left out.
    pub replayed: Vec<Warning>,
    /// The highest generation among the readable segments.
    pub generation: u64,
    /// The segments whose entries the index holds (the listed ones, less the damaged and the
    /// replayed).
    pub included: Vec<[u8; 32]>,
}

/// Snapshots readable by this vger, plus what could not be shown.
pub struct SnapshotList {
    pub snapshots: Vec<Snapshot>,
    pub hidden_newer: usize,
    pub damaged: Vec<Warning>,
    /// Snapshots that a newer one replaced after a tag, pin or description change whose
    /// removal was interrupted: hidden from `snapshots`, removed by the next prune.
    pub superseded: Vec<SnapshotId>,
}

/// The AAD context of key files: repository id and the hash of the config object, so a key
/// cannot be moved to another repository and the config cannot be altered unnoticed.
pub(crate) fn key_context(config_bytes: &[u8], repo_id: &[u8; 32]) -> Vec<u8> {
    let mut c = repo_id.to_vec();
    c.extend_from_slice(blake3::hash(config_bytes).as_bytes());
    c
}

impl Repository {
    /// Reads only the unencrypted config: whether a repository exists at `url` and whether it
    /// needs a passphrase, before asking the user for one.
    pub fn probe(url: &str) -> Result<RepoConfig> {
        Self::probe_with(url, &BackendOptions::default())
    }

    /// [`Repository::probe`] of a repository on a store that needs settings (S3, SFTP).
    pub fn probe_with(url: &str, opts: &BackendOptions) -> Result<RepoConfig> {
        let backend = open_backend_with(url, opts)?;
        RepoConfig::decode(&Self::read_config(backend.as_ref(), url)?)
    }

    pub(crate) fn read_config(backend: &dyn Backend, url: &str) -> Result<Vec<u8>> {
        match backend.get("config") {
            Ok(b) => Ok(b),
            Err(VgerError::ObjectMissing { .. }) => {
                Err(VgerError::RepoNotFound { url: url.into() })
            }
            Err(e) => Err(e),
        }
    }

    /// Opens a repository: reads the config, unwraps the master key, loads the index.
    pub fn open(url: &str, passphrase: Option<&str>) -> Result<Self> {
        Self::open_at(url, &BackendOptions::default(), passphrase)
    }

    /// [`Repository::open`] of a repository on a store that needs settings (S3, SFTP).
    pub fn open_at(url: &str, opts: &BackendOptions, passphrase: Option<&str>) -> Result<Self> {
        Self::open_with(Arc::from(open_backend_with(url, opts)?), passphrase)
    }

    /// [`Repository::open_at`] with the index kept under `cache_dir` ([`Repository::open_cached`]).
    pub fn open_at_cached(
        url: &str,
        opts: &BackendOptions,
        passphrase: Option<&str>,
        cache_dir: Option<&std::path::Path>,
    ) -> Result<Self> {
        Self::open_cached(
            Arc::from(open_backend_with(url, opts)?),
            passphrase,
            cache_dir,
        )
    }

    /// Opens a repository over a backend the caller built (tests wrap one to inject faults).
    pub fn open_with(backend: Arc<dyn Backend>, passphrase: Option<&str>) -> Result<Self> {
        Self::open_cached(backend, passphrase, None)
    }

    /// [`Repository::open_with`], keeping the index as a memory-mapped table under `cache_dir`
    /// (see [`index_table`]): an open then reads only the segments written since the table was
    /// made, and the index's resident memory is the pages a command touches.
    pub fn open_cached(
        backend: Arc<dyn Backend>,
        passphrase: Option<&str>,
        cache_dir: Option<&std::path::Path>,
    ) -> Result<Self> {
        let url = backend.location().to_string();
        let url = url.as_str();
        let config_bytes = Self::read_config(backend.as_ref(), url)?;
        let config = RepoConfig::decode(&config_bytes)?;
        let ctx = key_context(&config_bytes, &config.id);
        let keys = backend.list("keys")?;
        if keys.is_empty() {
            return Err(VgerError::ObjectMissing {
                object: "keys/ (the repository key)".into(),
            });
        }
        let mut last_err = None;
        let mut master = None;
        let mut key_name = String::new();
        for k in &keys {
            let bytes = backend.get(k)?;
            match unwrap_master_key(&bytes, passphrase.map(str::as_bytes), &ctx, url) {
                Ok(m) => {
                    master = Some(m);
                    key_name.clone_from(k);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let master = match (master, last_err) {
            (Some(m), _) => m,
            (None, Some(VgerError::Corrupt { detail, .. })) => {
                return Err(VgerError::corrupt(format!("key file of {url}"), detail));
            }
            (None, Some(e)) => return Err(e),
            (None, None) => return Err(VgerError::WrongPassphrase { url: url.into() }),
        };
        let crypter = Arc::new(Crypter::new(config.algorithm, &master));
        let mut repo = Self {
            backend,
            config,
            master,
            crypter,
            index: RwLock::new(ChunkIndex::default()),
            warnings: Vec::new(),
            key_name: Mutex::new(key_name),
            config_bytes,
            segments: Mutex::new(Vec::new()),
            included: Mutex::default(),
            replayed: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            reserved: AtomicU64::new(0),
            lease: LeaseSettings::default(),
            pack_target: pack::PACK_TARGET,
            lock_events: Arc::new(NoProgress),
            no_lock: false,
            index_table: None,
        };
        repo.index_table = cache_dir.map(|d| index_table::table_file(d, &repo.config.id));
        repo.load_index()?;
        Ok(repo)
    }

    /// Loads every index segment. A damaged segment is reported as a warning and skipped: its
    /// chunks then look absent, so the next backup stores them again and restore names the files
    /// it cannot find, instead of the whole repository becoming unreadable.
    fn load_index(&mut self) -> Result<()> {
        let mut warnings = self.load_segments(false)?;
        warnings.extend(self.replayed_segments());
        self.warnings = warnings;
        // Local copies of packs the index no longer lists (compacted away by any client) go.
        let index = self.index();
        self.backend.retain_cached("packs", &|key| {
            key.rsplit('/')
                .next()
                .and_then(ChunkId::from_hex)
                .is_some_and(|c| index.has_pack(&PackId(c.0)))
        });
        drop(index);
        Ok(())
    }

    /// Rebuilds the in-memory index from the segments in storage now (after taking a lease, so
    /// a compaction that ran since opening is seen), reading every segment, so a damaged one is
    /// found even if the index table holds it (check, repair and compaction rely on that).
    /// Returns the damaged segments. A compaction replacing segments meanwhile is handled by
    /// [`Repository::read_index`].
    pub fn reload_index(&self) -> Result<Vec<Warning>> {
        self.load_segments(true)
    }

    fn load_segments(&self, every_segment: bool) -> Result<Vec<Warning>> {
        let mut load = self.read_index_from(every_segment)?;
        let damaged = std::mem::take(&mut load.damaged);
        self.install_index(load);
        Ok(damaged)
    }

    /// Makes a load from [`Repository::read_index`] the in-memory index.
    pub(crate) fn install_index(&self, load: IndexLoad) {
        *self.index.write().unwrap_or_else(PoisonError::into_inner) = load.index;
        *self.segments.lock().unwrap_or_else(PoisonError::into_inner) = load.keys;
        *self.included.lock().unwrap_or_else(PoisonError::into_inner) =
            load.included.into_iter().collect();
        *self.replayed.lock().unwrap_or_else(PoisonError::into_inner) = load.replayed;
        self.raise_generation(load.generation);
    }

    /// The highest index generation this handle has read or written: how far the repository's
    /// history goes as far as this client knows. A caller that remembers it between runs can tell
    /// a repository rolled back to an older state (a lower generation) from one that moved on.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Makes every segment this handle writes from now on carry a generation above `floor` (the
    /// highest one a caller saw before), so a repair that lost the newest segments still moves
    /// the repository's generation forward.
    pub fn raise_generation(&self, floor: u64) {
        self.reserved.fetch_max(floor, Ordering::SeqCst);
        self.generation.fetch_max(floor, Ordering::SeqCst);
    }

    /// Writes the index segment `seal` makes for the next generation (above every one read or
    /// written so far). The generation counts as reached only once the segment is stored: a write
    /// the store refused (a full quota) must not leave this machine remembering a generation the
    /// repository never had, which would read as a rollback at the next run. Returns the key.
    pub(crate) fn put_segment(
        &self,
        seal: impl FnOnce(u64) -> (String, Vec<u8>),
    ) -> Result<String> {
        let generation = self.reserved.fetch_add(1, Ordering::SeqCst) + 1;
        let (key, bytes) = seal(generation);
        self.backend.put_new(&key, &bytes)?;
        self.generation.fetch_max(generation, Ordering::SeqCst);
        Ok(key)
    }

    /// Forgets the blobs of indexed packs that storage does not have (an index segment that
    /// outlived its packs: replayed, or left by a damaged repository), so a backup stores those
    /// chunks again instead of referencing them. Returns the missing packs' keys and how many
    /// blobs were forgotten.
    pub(crate) fn forget_missing_packs(&self) -> Result<(Vec<String>, usize)> {
        let stored: std::collections::HashSet<String> =
            self.backend.list("packs")?.into_iter().collect();
        let gone: std::collections::HashSet<PackId> = self
            .index()
            .packs()
            .iter()
            .filter(|p| !stored.contains(&pack::key(p)))
            .copied()
            .collect();
        if gone.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let n = self
            .index
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .drop_packs(&gone);
        let mut keys: Vec<String> = gone.iter().map(pack::key).collect();
        keys.sort();
        Ok((keys, n))
    }

    /// Index segments left out of the last load because a compaction had replaced them (see
    /// [`Repository::read_index`]).
    pub fn replayed_segments(&self) -> Vec<Warning> {
        self.replayed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Builds an index from the segments in storage now, without installing it.
    ///
    /// A segment that a present segment names as superseded was consolidated by a compaction and
    /// has reappeared (a rolled-back host, a sync tool): its entries may point into packs that
    /// are gone, so it is left out with a warning rather than trusted.
    ///
    /// A compaction may replace segments between the listing and the reads: it writes the new
    /// segments before it deletes the old ones, so a listed segment that is gone when read means
    /// the listing is stale, and the load starts again from a new one.
    ///
    /// With an index table, only the segments listed since the table was made are read (the
    /// table vouches for the others, as they were when it was made); [`Repository::reload_index`]
    /// reads them all.
    pub fn read_index(&self) -> Result<IndexLoad> {
        self.read_index_from(false)
    }

    fn read_index_from(&self, every_segment: bool) -> Result<IndexLoad> {
        const ATTEMPTS: usize = 5;
        let mut attempt = 1;
        loop {
            match self.read_index_once(every_segment) {
                Err(VgerError::ObjectMissing { .. }) if attempt < ATTEMPTS => attempt += 1,
                r => return r,
            }
        }
    }

    fn read_index_once(&self, every_segment: bool) -> Result<IndexLoad> {
        let keys = self.backend.list("index")?;
        let Some(path) = &self.index_table else {
            return self.read_index_whole(keys).map(|(load, _)| load);
        };
        let key = index_table::mac_key(&self.master.cache_key());
        if !every_segment
            && let Some(opened) = index_table::open(path, &key, &self.config.id)
            && let Some(load) = self.read_index_since(opened, &keys)?
        {
            return Ok(load);
        }
        let (mut load, meta) = self.read_index_whole(keys)?;
        // The table is a cache: when it cannot be written or read back, the index built in
        // memory serves as it is.
        if let Some((packs, slots)) = load.index.table_parts()
            && index_table::write(path, &key, &self.config.id, &meta, &packs, slots).is_ok()
            && let Some(opened) = index_table::open(path, &key, &self.config.id)
        {
            load.index = IndexBuilder::on_table(opened).finish();
        }
        Ok(load)
    }

    /// Opens a segment from storage: `Ok(Err(warning))` for a damaged one (or one written by a
    /// newer vger).
    fn open_listed_segment(
        &self,
        key: &str,
    ) -> Result<std::result::Result<index::Segment, Warning>> {
        let loaded = self
            .backend
            .get(key)
            .and_then(|b| index::open_segment(key, &b, &self.crypter, &self.config.id));
        match loaded {
            Ok(seg) => Ok(Ok(seg)),
            Err(e @ (VgerError::Corrupt { .. } | VgerError::NewerFormat { .. })) => {
                Ok(Err(Warning {
                    path: key.to_string(),
                    code: e.code(),
                    message: e.to_string(),
                }))
            }
            Err(e) => Err(e),
        }
    }

    fn replayed_warning(key: &str) -> Warning {
        let e = VgerError::corrupt(
            key,
            "a compaction replaced this index segment, yet it is back (the storage was rolled back or the segment copied in again); it is ignored, and `vger compact` removes it",
        );
        Warning {
            path: key.to_string(),
            code: e.code(),
            message: e.to_string(),
        }
    }

    /// Opens the segments `keys` names: the readable ones, and warnings for the damaged ones.
    /// What they replace and their generations are added to `superseded` and `generation`.
    fn open_segments<'k>(
        &self,
        keys: impl Iterator<Item = &'k String>,
        superseded: &mut std::collections::HashSet<[u8; 32]>,
        generation: &mut u64,
    ) -> Result<(Opened<'k>, Vec<Warning>)> {
        let (mut segments, mut damaged) = (Vec::new(), Vec::new());
        for key in keys {
            match self.open_listed_segment(key)? {
                Ok(seg) => {
                    *generation = (*generation).max(seg.generation);
                    superseded.extend(seg.supersedes.iter().copied());
                    segments.push((key, seg));
                }
                Err(w) => damaged.push(w),
            }
        }
        Ok((segments, damaged))
    }

    /// Adds the entries of `segments` to `index`, except those of a segment that a present one
    /// names as replaced (returned as replayed warnings); the added ones' ids go to `included`.
    fn add_segments(
        index: &mut IndexBuilder,
        segments: Opened<'_>,
        superseded: &std::collections::HashSet<[u8; 32]>,
        included: &mut Vec<[u8; 32]>,
    ) -> Vec<Warning> {
        let mut replayed = Vec::new();
        for (key, seg) in segments {
            let id = index::segment_id(key);
            if id.is_some_and(|id| superseded.contains(&id)) {
                replayed.push(Self::replayed_warning(key));
                continue;
            }
            included.extend(id);
            for (pack, entries) in seg.packs {
                index.add_pack(pack, &entries);
            }
        }
        replayed
    }

    /// The index from every listed segment, and what a table of it records about them.
    fn read_index_whole(&self, keys: Vec<String>) -> Result<(IndexLoad, index_table::TableMeta)> {
        let mut superseded = std::collections::HashSet::new();
        let mut generation = 0;
        let (segments, damaged) =
            self.open_segments(keys.iter(), &mut superseded, &mut generation)?;
        let mut index = IndexBuilder::default();
        let mut included = Vec::new();
        let replayed = Self::add_segments(&mut index, segments, &superseded, &mut included);
        let load = IndexLoad {
            index: self.finish_index(index)?,
            keys,
            damaged,
            replayed,
            generation,
            included: included.clone(),
        };
        let meta = index_table::TableMeta {
            segments: included,
            superseded: superseded.into_iter().collect(),
            generation,
        };
        Ok((load, meta))
    }

    /// The index from a table plus the segments listed since it was made; `None` when the table
    /// no longer fits what is listed (a compaction replaced segments it holds) or the segments
    /// since are many, so that it is rebuilt.
    fn read_index_since(
        &self,
        opened: index_table::Opened,
        keys: &[String],
    ) -> Result<Option<IndexLoad>> {
        let listed: std::collections::HashSet<[u8; 32]> =
            keys.iter().filter_map(|k| index::segment_id(k)).collect();
        let held: std::collections::HashSet<[u8; 32]> =
            opened.meta.segments.iter().copied().collect();
        if !held.is_subset(&listed) {
            return Ok(None);
        }
        let mut superseded: std::collections::HashSet<[u8; 32]> =
            opened.meta.superseded.iter().copied().collect();
        let mut generation = opened.meta.generation;
        let since = keys
            .iter()
            .filter(|k| !index::segment_id(k).is_some_and(|id| held.contains(&id)));
        let (segments, damaged) = self.open_segments(since, &mut superseded, &mut generation)?;
        if held.iter().any(|id| superseded.contains(id)) {
            return Ok(None);
        }
        let limit = (opened.table.len() / 8).max(DELTA_MIN);
        let mut included = opened.meta.segments.clone();
        let mut index = IndexBuilder::on_table(opened);
        let replayed = Self::add_segments(&mut index, segments, &superseded, &mut included);
        if index.added() > limit {
            return Ok(None);
        }
        Ok(Some(IndexLoad {
            index: self.finish_index(index)?,
            keys: keys.to_vec(),
            damaged,
            replayed,
            generation,
            included,
        }))
    }

    /// Sorts a built index; among copies of one blob, one in a pack that storage has wins.
    fn finish_index(&self, index: IndexBuilder) -> Result<ChunkIndex> {
        let mut stored = None;
        index.finish_preferring(|p| {
            let stored = match &stored {
                Some(s) => s,
                None => stored.insert(
                    self.backend
                        .list("packs")?
                        .into_iter()
                        .collect::<std::collections::HashSet<String>>(),
                ),
            };
            Ok(stored.contains(&pack::key(p)))
        })
    }

    /// The ids that segments replacing `segments` must name (see [`index`]): theirs, and those
    /// they named themselves.
    pub fn supersession(&self, segments: &[String]) -> Result<Vec<[u8; 32]>> {
        let mut out: std::collections::HashSet<[u8; 32]> = segments
            .iter()
            .filter_map(|k| index::segment_id(k))
            .collect();
        for key in segments {
            let opened = self
                .backend
                .get(key)
                .and_then(|b| index::open_segment(key, &b, &self.crypter, &self.config.id));
            match opened {
                Ok(seg) => out.extend(seg.supersedes),
                // A segment that is gone or damaged names nothing that can be carried on.
                Err(VgerError::ObjectMissing { .. } | VgerError::Corrupt { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let mut out: Vec<[u8; 32]> = out.into_iter().collect();
        out.sort_unstable();
        Ok(out)
    }

    /// The segments whose entries the in-memory index holds: what the file cache's entries are
    /// vouched for by (see `commands::backup::filecache`).
    pub fn indexed_segments(&self) -> std::collections::HashSet<[u8; 32]> {
        self.included
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// [`Repository::indexed_segments`], unless the index forgot blobs of packs found missing:
    /// those segments then promise blobs the index no longer has.
    pub fn vouching_segments(&self) -> Option<std::collections::HashSet<[u8; 32]>> {
        (!self.index().dropped_any()).then(|| self.indexed_segments())
    }

    /// Records a segment this client wrote and added to the in-memory index itself.
    pub(crate) fn note_segment(&self, key: String) {
        if let Some(id) = index::segment_id(&key) {
            self.included
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id);
        }
        let mut s = self.segments.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(i) = s.binary_search(&key) {
            s.insert(i, key);
        }
    }

    /// The index segments the in-memory index was built from.
    pub fn loaded_segments(&self) -> Vec<String> {
        self.segments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether every index segment the in-memory index was built from still exists. A backup
    /// checks this before committing: a segment that vanished means a compaction ran, and chunks
    /// it deduplicated against may be gone.
    pub fn index_still_current(&self) -> Result<bool> {
        let now = self.backend.list("index")?;
        let loaded = self.segments.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(loaded.iter().all(|k| now.binary_search(k).is_ok()))
    }

    pub fn lease_settings(&self) -> LeaseSettings {
        self.lease
    }

    /// The size at which a backup closes a pack.
    pub fn pack_target(&self) -> usize {
        self.pack_target
    }

    /// Sets the size at which a backup closes a pack (at least 1 MiB; tests and benchmarks use
    /// small packs to have many of them on little data).
    pub fn set_pack_target(&mut self, bytes: usize) {
        self.pack_target = bytes.max(1 << 20);
    }

    /// Sets lease lifetime and lock wait (before sharing the repository between threads).
    pub fn set_lease_settings(&mut self, s: LeaseSettings) {
        self.lease = s;
    }

    /// Where lease acquisition reports lock waits ([`crate::Event::LockWait`]) and warnings: the
    /// lock of a dead process it removed, a read without a lock (before sharing the repository).
    pub fn set_lock_events(&mut self, events: Arc<dyn Progress>) {
        self.lock_events = events;
    }

    pub fn lock_events(&self) -> &dyn Progress {
        self.lock_events.as_ref()
    }

    /// Reading operations take no lock at all (`--no-lock`); writing operations then fail with
    /// `VGER_INVALID_ARGUMENT` instead of running unlocked.
    pub fn set_no_lock(&mut self, no_lock: bool) {
        self.no_lock = no_lock;
    }

    /// Takes a lease for an operation (see [`lock`]). The index was loaded when the repository
    /// was opened, without a lease: if a compaction has replaced segments since, it is loaded
    /// again now, so every reader works from what exists while it holds the lease.
    pub fn lease(&self, kind: LockKind, operation: &str) -> Result<Lease> {
        if self.no_lock {
            return Err(VgerError::invalid(format!(
                "{operation} writes to the repository, so it always takes a lock; \
                 --no-lock is only for reading commands (restore, check, list, snapshot list/find/diff)"
            )));
        }
        let lease = Lease::acquire(self, kind, operation)?;
        if !self.index_still_current()? {
            self.reload_index()?;
        }
        Ok(lease)
    }

    /// A shared lease for a reading operation, or none with `--no-lock` or where the lock cannot
    /// be written (read-only or full repository; see [`Lease::acquire_for_reading`]).
    pub fn read_lease(&self, operation: &str) -> Result<ReadLease> {
        let lease = if self.no_lock {
            ReadLease::LockFree
        } else {
            Lease::acquire_for_reading(self, operation)?
        };
        if !self.index_still_current()? {
            self.reload_index()?;
        }
        Ok(lease)
    }

    pub fn url(&self) -> &str {
        self.backend.location()
    }

    pub fn config(&self) -> &RepoConfig {
        &self.config
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub fn crypter(&self) -> &Arc<Crypter> {
        &self.crypter
    }

    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    pub fn index(&self) -> RwLockReadGuard<'_, ChunkIndex> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add_to_index(&self, packs: &[(PackId, Vec<pack::BlobEntry>)]) {
        let mut idx = self.index.write().unwrap_or_else(PoisonError::into_inner);
        for (p, e) in packs {
            idx.insert_pack(*p, e);
        }
    }

    /// Problems found while opening (damaged index segments).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Reads, authenticates, decompresses and re-hashes one blob. Bytes are returned only if
    /// their keyed id matches `id`.
    pub fn read_blob(&self, id: &ChunkId, kind: BlobKind, cap: usize) -> Result<Vec<u8>> {
        let (pack, loc) = self
            .index()
            .get(id)
            .ok_or_else(|| VgerError::ObjectMissing {
                object: format!("chunk {} (not in the index)", id.to_hex()),
            })?;
        let what = format!("chunk {} in pack {}", id.to_hex(), pack.to_hex());
        if loc.kind != kind {
            return Err(VgerError::corrupt(
                &what,
                "blob kind differs from the reference",
            ));
        }
        let key = pack::key(&pack);
        // Packs of trees are read again and again (every listing, diff, find and restore walks
        // trees): a caching backend keeps them whole.
        let sealed = if self.index().tree_only(&loc) {
            self.backend
                .get_range_cached(&key, loc.offset.into(), loc.len.into())?
        } else {
            self.backend
                .get_range(&key, loc.offset.into(), loc.len.into())?
        };
        self.open_blob(id, kind, &sealed, cap, &what)
    }

    /// Authenticates and decodes a sealed blob already read from a pack.
    pub fn open_blob(
        &self,
        id: &ChunkId,
        kind: BlobKind,
        sealed: &[u8],
        cap: usize,
        what: &str,
    ) -> Result<Vec<u8>> {
        let mut buf = sealed.to_vec();
        let mut out = Vec::new();
        Ok(self
            .open_blob_into(id, kind, &mut buf, cap, what, &mut out)?
            .to_vec())
    }

    /// Like [`Repository::open_blob`] without allocating: `sealed` is decrypted in place and a
    /// compressed blob is decompressed into `out`; returns the authenticated, re-hashed data.
    pub fn open_blob_into<'a>(
        &self,
        id: &ChunkId,
        kind: BlobKind,
        sealed: &'a mut [u8],
        cap: usize,
        what: &str,
        out: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        let plain = self
            .crypter
            .open_in_place(
                &context(ObjectKind::from(kind), &self.config.id, &id.0),
                sealed,
            )
            .ok_or_else(|| VgerError::corrupt(what, "failed authentication"))?;
        let data = decompress_into(plain, cap, what, out)?;
        if self.master.blob_id(kind, data) != *id {
            return Err(VgerError::corrupt(what, "content does not match its id"));
        }
        Ok(data)
    }

    pub fn read_tree(&self, id: &ChunkId) -> Result<Vec<Entry>> {
        let plain = self.read_blob(id, BlobKind::Tree, MAX_TREE_SIZE)?;
        tree::decode(&plain, &format!("tree {}", id.to_hex()))
    }

    /// Every snapshot this vger can read, oldest first.
    pub fn snapshots(&self) -> Result<SnapshotList> {
        let mut out = SnapshotList {
            snapshots: Vec::new(),
            hidden_newer: 0,
            damaged: Vec::new(),
            superseded: Vec::new(),
        };
        for key in self.backend.list("snapshots")? {
            let Some(id) = key
                .strip_prefix("snapshots/")
                .and_then(SnapshotId::from_hex)
            else {
                continue;
            };
            let opened = self
                .backend
                .get(&key)
                .and_then(|b| Snapshot::open(&id, &b, &self.crypter, &self.config.id));
            match opened {
                Ok(s) => out.snapshots.push(s),
                Err(VgerError::NewerFormat { .. } | VgerError::NewerExtension { .. }) => {
                    out.hidden_newer += 1
                }
                // Removed by a concurrent prune between the listing and the read.
                Err(VgerError::ObjectMissing { .. }) => {}
                Err(e @ VgerError::Corrupt { .. }) => out.damaged.push(Warning {
                    path: key,
                    code: e.code(),
                    message: e.to_string(),
                }),
                Err(e) => return Err(e),
            }
        }
        let replaced: std::collections::HashSet<SnapshotId> = out
            .snapshots
            .iter()
            .filter_map(|s| s.meta.supersedes)
            .collect();
        if !replaced.is_empty() {
            let (gone, kept): (Vec<Snapshot>, Vec<Snapshot>) = std::mem::take(&mut out.snapshots)
                .into_iter()
                .partition(|s| replaced.contains(&s.id));
            out.snapshots = kept;
            out.superseded = gone.into_iter().map(|s| s.id).collect();
        }
        out.snapshots.sort_by_key(|s| (s.start_ns, s.id));
        Ok(out)
    }

    /// Resolves `latest` or a unique hex prefix (at least 4 characters) of a snapshot id.
    pub fn resolve_snapshot(&self, spec: &str) -> Result<Snapshot> {
        let spec_l = spec.to_ascii_lowercase();
        if spec_l != "latest"
            && (spec_l.len() < 4 || !spec_l.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(VgerError::invalid(format!(
                "{spec:?} is not a snapshot reference: give `latest` or at least 4 hex digits of an id"
            )));
        }
        let keys = self.backend.list("snapshots")?;
        let matches: Vec<&String> = if spec_l == "latest" {
            keys.iter().collect()
        } else {
            keys.iter()
                .filter(|k| {
                    k.strip_prefix("snapshots/")
                        .is_some_and(|h| h.starts_with(&spec_l))
                })
                .collect()
        };
        if spec_l == "latest" {
            let list = self.snapshots()?;
            return list
                .snapshots
                .into_iter()
                .next_back()
                .ok_or_else(|| VgerError::SnapshotNotFound(spec.into()));
        }
        match matches.as_slice() {
            [] => Err(VgerError::SnapshotNotFound(spec.into())),
            [one] => {
                let id = one
                    .strip_prefix("snapshots/")
                    .and_then(SnapshotId::from_hex)
                    .ok_or_else(|| VgerError::SnapshotNotFound(spec.into()))?;
                let bytes = self.backend.get(one)?;
                Snapshot::open(&id, &bytes, &self.crypter, &self.config.id)
            }
            many => Err(VgerError::SnapshotAmbiguous {
                prefix: spec.into(),
                count: many.len(),
            }),
        }
    }
}
