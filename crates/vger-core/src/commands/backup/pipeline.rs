//! The upload half of a backup: worker threads compress and seal new blobs in parallel, one
//! packer thread appends them to packs and writes each full pack. Channels are bounded, so memory
//! stays at about 4 × workers + 3 blobs (queued, being sealed, sealed, being packed) plus one pack.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, bounded};
use vger_crypto::{BlobKind, Crypter};
use vger_storage::Backend;
use vger_types::{ChunkId, PackId, Result, VgerError};

use crate::compress::{Compression, compress};
use crate::repo::context::{ObjectKind, context};
use crate::repo::pack::{self, BlobEntry, PackWriter};

/// Packs are written once they reach this size.
pub const PACK_TARGET: usize = 32 << 20;

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
    pub packs: Vec<(PackId, Vec<BlobEntry>)>,
    pub stored_bytes: u64,
}

pub struct Uploader {
    tx: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    packer: Option<JoinHandle<Result<Written>>>,
    failed: Arc<Mutex<Option<String>>>,
}

impl Uploader {
    pub fn start(
        backend: Arc<dyn Backend>,
        crypter: Arc<Crypter>,
        repo_id: [u8; 32],
        compression: Compression,
        threads: usize,
    ) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = bounded::<Job>(threads * 2);
        let (stx, srx) = bounded::<Sealed>(threads + 2);
        let workers = (0..threads)
            .map(|_| {
                let rx = rx.clone();
                let stx = stx.clone();
                let crypter = Arc::clone(&crypter);
                thread::spawn(move || seal_loop(&rx, &stx, &crypter, &repo_id, compression))
            })
            .collect();
        drop(stx);
        let failed = Arc::new(Mutex::new(None));
        let flag = Arc::clone(&failed);
        let packer =
            thread::spawn(move || pack_loop(&srx, backend.as_ref(), &crypter, &repo_id, &flag));
        Self {
            tx: Some(tx),
            workers,
            packer: Some(packer),
            failed,
        }
    }

    /// Queues a new blob. Fails fast once the packer has failed (for example a full disk).
    pub fn submit(&self, id: ChunkId, kind: BlobKind, data: Vec<u8>) -> Result<()> {
        self.check()?;
        let tx = self.tx.as_ref().ok_or(VgerError::Cancelled)?;
        if tx.send(Job { id, kind, data }).is_err() {
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
            Some(msg) => Err(VgerError::Io {
                context: "writing packs".into(),
                source: std::io::Error::other(msg.clone()),
            }),
            None => Ok(()),
        }
    }

    /// Flushes every queued blob and the last pack; returns what was written.
    pub fn finish(mut self) -> Result<Written> {
        self.tx.take();
        let mut panicked = false;
        for w in self.workers.drain(..) {
            panicked |= w.join().is_err();
        }
        let written = match self.packer.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => return Err(VgerError::Internal("the packer thread panicked".into())),
        };
        // A lost blob would leave a tree pointing at nothing: never commit after a worker panic.
        if panicked {
            return Err(VgerError::Internal("a compression worker panicked".into()));
        }
        written
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
    rx: &Receiver<Job>,
    tx: &Sender<Sealed>,
    crypter: &Crypter,
    repo_id: &[u8; 32],
    c: Compression,
) {
    for job in rx {
        let plain = compress(c, &job.data);
        let ctx = context(ObjectKind::from(job.kind), repo_id, &job.id.0);
        let sealed = crypter.seal(&ctx, &plain);
        let raw_len = job.data.len() as u32;
        if tx
            .send(Sealed {
                id: job.id,
                kind: job.kind,
                sealed,
                raw_len,
            })
            .is_err()
        {
            return;
        }
    }
}

fn pack_loop(
    rx: &Receiver<Sealed>,
    backend: &dyn Backend,
    crypter: &Crypter,
    repo_id: &[u8; 32],
    failed: &Mutex<Option<String>>,
) -> Result<Written> {
    let mut out = Written {
        packs: Vec::new(),
        stored_bytes: 0,
    };
    let mut writer = PackWriter::new();
    let flush = |w: PackWriter, out: &mut Written| -> Result<()> {
        let (id, bytes, entries) = w.finish(crypter, repo_id);
        match backend.put_new(&pack::key(&id), &bytes) {
            Ok(()) | Err(VgerError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
        out.stored_bytes += bytes.len() as u64;
        out.packs.push((id, entries));
        Ok(())
    };
    let mut error = None;
    for s in rx {
        if error.is_some() {
            continue; // drain so the workers never block
        }
        writer.add(s.id, s.kind, &s.sealed, s.raw_len);
        if writer.size() >= PACK_TARGET {
            let full = std::mem::take(&mut writer);
            if let Err(e) = flush(full, &mut out) {
                *failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(e.to_string());
                error = Some(e);
            }
        }
    }
    if let Some(e) = error {
        return Err(e);
    }
    if !writer.is_empty() {
        flush(writer, &mut out)?;
    }
    Ok(out)
}
