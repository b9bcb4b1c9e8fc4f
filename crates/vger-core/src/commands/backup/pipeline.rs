//! The upload half of a backup: worker threads compress and seal new blobs in parallel, one
//! packer thread appends them to packs, streamed to the backend's spool (a temporary file for a
//! local repository) as they fill, and writer threads commit the full packs (so the fsync or
//! upload of one pack overlaps with filling the next; a network store gets several uploads at
//! once, [`vger_storage::Backend::parallel_writes`]). Memory is bounded by a byte budget: blobs between
//! `submit` and the packer hold at most [`BLOB_BUDGET`] bytes (a single larger blob is let
//! through alone); packs are not held in memory (except by backends without a spool).
//!
//! Packs stored so far are handed out while the backup runs ([`Uploader::take_completed`]), so
//! that checkpoints can list them in index segments; the in-flight record (when there is one)
//! learns of every spool and pack as it is created.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, bounded};
use vger_crypto::{BlobKind, Crypter};
use vger_storage::{Backend, Spooled};
use vger_types::{ChunkId, PackId, Result, VgerError};

use super::inflight::Inflight;
use crate::bufpool::BufPool;
use crate::compress::{Compression, compress_into};
use crate::repo::context::{ObjectKind, context};
use crate::repo::pack::{self, BlobEntry, PackStream};

/// Raw bytes of blobs submitted but not yet added to a pack.
pub const BLOB_BUDGET: usize = 16 << 20;

/// Blobs travel between threads in batches of up to this many bytes (or [`BATCH_BLOBS`]
/// blobs): tens of thousands of small files would otherwise cost a thread wake-up each.
const BATCH_BYTES: usize = 1 << 20;
const BATCH_BLOBS: usize = 64;

/// A counting semaphore over bytes.
#[derive(Default)]
struct Budget {
    used: Mutex<usize>,
    freed: Condvar,
}

impl Budget {
    fn acquire(&self, n: usize) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while *used > 0 && *used + n > BLOB_BUDGET {
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *used += n;
    }

    fn release(&self, n: usize) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        *used = used.saturating_sub(n);
        self.freed.notify_all();
    }
}

struct Job {
    id: ChunkId,
    kind: BlobKind,
    data: Vec<u8>,
}

struct Sealed {
    id: ChunkId,
    kind: BlobKind,
    sealed: Vec<u8>,
    raw_len: u32,
}

pub struct Written {
    /// Packs not yet handed out by [`Uploader::take_completed`].
    pub packs: Vec<(PackId, Vec<BlobEntry>)>,
    /// Bytes of every pack this backup stored.
    pub stored_bytes: u64,
}

/// Packs stored by the writer thread, shared with the walker for checkpoints.
#[derive(Default)]
struct Completed {
    packs: Vec<(PackId, Vec<BlobEntry>)>,
    /// Bytes of the packs in `packs`.
    pending_bytes: u64,
    stored_bytes: u64,
    /// Packs stored so far.
    count: u64,
}

pub struct Uploader {
    tx: Option<Sender<Vec<Job>>>,
    /// Blobs submitted but not yet sent to the workers, and their raw bytes.
    pending: Mutex<(Vec<Job>, usize)>,
    workers: Vec<JoinHandle<()>>,
    packer: Option<JoinHandle<Result<()>>>,
    completed: Arc<Mutex<Completed>>,
    failed: Arc<Mutex<Option<VgerError>>>,
    budget: Arc<Budget>,
    pool: Arc<BufPool>,
}

impl Uploader {
    pub fn start(
        backend: Arc<dyn Backend>,
        crypter: Arc<Crypter>,
        repo_id: [u8; 32],
        compression: Compression,
        threads: usize,
        pack_target: usize,
        inflight: Option<Arc<Inflight>>,
    ) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = bounded::<Vec<Job>>(threads * 2);
        let (stx, srx) = bounded::<Vec<Sealed>>(threads + 2);
        // Chunk and sealed-blob buffers circulate: walker -> worker -> packer -> pool.
        let pool = Arc::new(BufPool::new(BLOB_BUDGET));
        let workers = (0..threads)
            .map(|_| {
                let rx = rx.clone();
                let stx = stx.clone();
                let crypter = Arc::clone(&crypter);
                let pool = Arc::clone(&pool);
                thread::spawn(move || seal_loop(&rx, &stx, &crypter, &repo_id, compression, &pool))
            })
            .collect();
        drop(stx);
        let failed = Arc::new(Mutex::new(None));
        let budget = Arc::new(Budget::default());
        let flag = Arc::clone(&failed);
        let b = Arc::clone(&budget);
        let p = Arc::clone(&pool);
        let completed = Arc::new(Mutex::new(Completed::default()));
        let shared = Shared {
            pack_target,
            failed: flag,
            completed: Arc::clone(&completed),
            inflight,
        };
        let packer =
            thread::spawn(move || pack_loop(&srx, backend, &crypter, &repo_id, &shared, &b, &p));
        Self {
            tx: Some(tx),
            pending: Mutex::new((Vec::new(), 0)),
            workers,
            packer: Some(packer),
            completed,
            failed,
            budget,
            pool,
        }
    }

    /// A copy of `data` in a recycled buffer, to pass to [`Uploader::submit`].
    pub fn copy_of(&self, data: &[u8]) -> Vec<u8> {
        let mut v = self.pool.take(data.len());
        v.extend_from_slice(data);
        v
    }

    /// Queues a new blob. Fails fast once the packer has failed (for example a full disk).
    pub fn submit(&self, id: ChunkId, kind: BlobKind, data: Vec<u8>) -> Result<()> {
        let batch = {
            let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            p.1 += data.len();
            p.0.push(Job { id, kind, data });
            if p.0.len() < BATCH_BLOBS && p.1 < BATCH_BYTES {
                return Ok(());
            }
            std::mem::take(&mut *p)
        };
        self.send(batch)
    }

    fn send(&self, (batch, bytes): (Vec<Job>, usize)) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.check()?;
        let tx = self.tx.as_ref().ok_or(VgerError::Cancelled)?;
        self.budget.acquire(bytes);
        if tx.send(batch).is_err() {
            self.check()?;
            return Err(VgerError::invalid(
                "the upload pipeline stopped unexpectedly",
            ));
        }
        Ok(())
    }

    fn check(&self) -> Result<()> {
        match self
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            Some(e) => Err(e.duplicate()),
            None => Ok(()),
        }
    }

    /// Bytes of the packs stored since the last [`Uploader::take_completed`].
    pub fn pending_pack_bytes(&self) -> u64 {
        self.completed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pending_bytes
    }

    /// How many packs have been stored so far.
    pub fn packs_stored(&self) -> u64 {
        self.completed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .count
    }

    /// The packs stored since the last call (every one complete under its final name).
    pub fn take_completed(&self) -> Vec<(PackId, Vec<BlobEntry>)> {
        let mut c = self
            .completed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        c.pending_bytes = 0;
        std::mem::take(&mut c.packs)
    }

    /// Flushes every queued blob and the last pack; returns what was written.
    pub fn finish(mut self) -> Result<Written> {
        let rest =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let sent = self.send(rest);
        self.tx.take();
        let mut panicked = false;
        for w in self.workers.drain(..) {
            panicked |= w.join().is_err();
        }
        let packed = match self.packer.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => return Err(VgerError::Internal("the packer thread panicked".into())),
        };
        // A lost blob would leave a tree pointing at nothing: never commit after a worker panic.
        if panicked {
            return Err(VgerError::Internal("a compression worker panicked".into()));
        }
        packed?;
        sent?;
        let stored_bytes = self
            .completed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stored_bytes;
        Ok(Written {
            packs: self.take_completed(),
            stored_bytes,
        })
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        self.tx.take();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        if let Some(p) = self.packer.take() {
            let _ = p.join();
        }
    }
}

fn seal_loop(
    rx: &Receiver<Vec<Job>>,
    tx: &Sender<Vec<Sealed>>,
    crypter: &Crypter,
    repo_id: &[u8; 32],
    c: Compression,
    pool: &BufPool,
) {
    for batch in rx {
        let mut out = Vec::with_capacity(batch.len());
        for job in batch {
            // Compressed straight into the envelope buffer, then sealed in place: one copy.
            let bound = zstd::zstd_safe::compress_bound(job.data.len()).max(job.data.len());
            let mut sealed = pool.take(bound + 64);
            sealed.resize(vger_crypto::HEADER_LEN, 0);
            compress_into(c, &job.data, &mut sealed);
            let ctx = context(ObjectKind::from(job.kind), repo_id, &job.id.0);
            crypter.seal_in_place(&ctx, &mut sealed);
            let raw_len = job.data.len() as u32;
            pool.give(job.data);
            out.push(Sealed {
                id: job.id,
                kind: job.kind,
                sealed,
                raw_len,
            });
        }
        if tx.send(out).is_err() {
            return;
        }
    }
}

/// What the packer and writer threads share with the uploader.
#[derive(Clone)]
struct Shared {
    pack_target: usize,
    failed: Arc<Mutex<Option<VgerError>>>,
    completed: Arc<Mutex<Completed>>,
    inflight: Option<Arc<Inflight>>,
}

fn pack_loop(
    rx: &Receiver<Vec<Sealed>>,
    backend: Arc<dyn Backend>,
    crypter: &Arc<Crypter>,
    repo_id: &[u8; 32],
    shared: &Shared,
    budget: &Budget,
    pool: &BufPool,
) -> Result<()> {
    // A rendezvous channel to the writer threads: as many packs are being committed (fsync and
    // link on a local disk, an upload to a network store) as the backend asks for, while the
    // next one fills.
    let (ptx, prx) = bounded::<Full>(0);
    let writer_threads: Vec<_> = (0..backend.parallel_writes().max(1))
        .map(|_| {
            let shared = shared.clone();
            let backend = Arc::clone(&backend);
            let prx = prx.clone();
            thread::spawn(move || write_loop(&prx, backend.as_ref(), &shared))
        })
        .collect();
    drop(prx);
    let failed = &shared.failed;
    // Every spool is recorded before it is created, so that a kill at any point leaves nothing
    // the next backup does not know of. A spool in memory (a network store) is no object: its
    // record is closed at once.
    let spool = || {
        let token = vger_crypto::random_bytes::<16>();
        let key = vger_storage::temp_key("packs", &token);
        if let Some(r) = &shared.inflight {
            r.temp_created(&key);
        }
        let out = backend.spool("packs", &token);
        if let Some(r) = &shared.inflight
            && out.as_ref().map_or(true, |o| o.temp_key().is_none())
        {
            r.temp_gone(&key);
        }
        PackStream::new(out?)
    };
    let fail = |e: VgerError| {
        failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(e);
    };
    let is_failed = || {
        failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    };
    // Trees go to packs of their own, data to others: the trees of a snapshot then sit in a few
    // packs, which a remote reader fetches whole (and caches) instead of one range per directory.
    let mut writers: [Option<PackStream>; 2] = [None, None];
    for s in rx.iter().flat_map(|batch| {
        budget.release(batch.iter().map(|s| s.raw_len as usize).sum());
        batch
    }) {
        if is_failed() {
            continue; // drain so the workers never block
        }
        let writer = &mut writers[usize::from(s.kind == BlobKind::Tree)];
        // Packs are written to a spool (a temporary file) as they fill, not held in memory.
        let w = match writer.take() {
            Some(w) => Ok(w),
            None => spool(),
        };
        let added = w.and_then(|mut w| {
            w.add(s.id, s.kind, &s.sealed, s.raw_len)?;
            Ok(w)
        });
        pool.give(s.sealed);
        match added {
            Ok(w) if w.size() >= shared.pack_target => match w.finish(crypter, repo_id) {
                Ok(full) => {
                    let _ = ptx.send(full);
                }
                Err(e) => fail(e),
            },
            Ok(w) => *writer = Some(w),
            Err(e) => fail(e),
        }
    }
    for w in writers
        .into_iter()
        .flatten()
        .filter(|w| !w.is_empty() && !is_failed())
    {
        match w.finish(crypter, repo_id) {
            Ok(full) => {
                let _ = ptx.send(full);
            }
            Err(e) => fail(e),
        }
    }
    drop(ptx);
    let mut out = Ok(());
    for t in writer_threads {
        let r = t
            .join()
            .unwrap_or_else(|_| Err(VgerError::Internal("a pack writer thread panicked".into())));
        if out.is_ok() {
            out = r;
        }
    }
    out
}

/// A full pack: id, spooled bytes, blobs.
type Full = (PackId, Spooled, Vec<BlobEntry>);

fn write_loop(rx: &Receiver<Full>, backend: &dyn Backend, shared: &Shared) -> Result<()> {
    let mut error = None;
    for (id, spooled, entries) in rx {
        if error.is_some() {
            continue;
        }
        let len = spooled.len();
        let temp = spooled.temp_key().map(str::to_string);
        let key = pack::key(&id);
        let stored = backend.put_spooled(&key, spooled);
        if let Some(r) = &shared.inflight {
            if stored.is_ok() {
                r.pack_stored(&key);
            }
            if let Some(t) = &temp {
                r.temp_gone(t);
            }
        }
        match stored {
            Ok(()) | Err(VgerError::AlreadyExists { .. }) => {
                let mut c = shared
                    .completed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                c.stored_bytes += len;
                c.pending_bytes += len;
                c.count += 1;
                c.packs.push((id, entries));
            }
            Err(e) => {
                *shared.failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(e.duplicate());
                error = Some(e);
            }
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
