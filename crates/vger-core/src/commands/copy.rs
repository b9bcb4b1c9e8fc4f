//! `copy`: snapshots from one repository into another, storing only the blobs the destination
//! lacks, sealed with the destination's keys.
//!
//! Two repositories made by separate `init`s have different id and chunker keys, so a chunk's id
//! in one says nothing about the other: each file's bytes are read from the source, cut again with
//! the destination's chunker and hashed with its id key, and only chunks the destination does not
//! have are uploaded (re-chunking). When the destination shares the source's id and chunker keys
//! and chunker parameters (`vger init --copy-chunker-params-from`), blob ids are the same in both, and
//! only the blobs the destination lacks are even read (the fast path).
//!
//! A copied snapshot keeps its id, time, host, label, paths, tags, description and pin, so a
//! second copy finds it (by id, or by the same time, host, user, label and paths after its tags
//! changed in the destination) and copies nothing. Each snapshot commits on its own, as a backup:
//! packs, an index segment, the snapshot. An interrupted copy indexes the packs it stored, so the
//! next run reads and uploads only what is still missing.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use vger_crypto::{Algorithm, BlobKind};
use vger_types::{ChunkId, Result, VgerError};

use super::backup::{Uploader, blob_uploader, commit_snapshot, index_written};
use crate::cancel::CancelToken;
use crate::chunker::{Chunker, StreamError};
use crate::compress::Compression;
use crate::progress::{Event, Progress};
use crate::repo::Repository;
use crate::repo::lock::LockKind;
use crate::repo::snapshot::{self, Snapshot, SnapshotMeta, SnapshotStats};
use crate::tree::{self, Content, Entry, Kind};

#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub compression: Compression,
    /// Sealing threads (0: one per core).
    pub threads: usize,
    /// Read and count what would be copied; store nothing.
    pub dry_run: bool,
}

#[derive(Debug, Clone)]
pub struct CopiedSnapshot {
    pub source: Snapshot,
    /// The snapshot written to the destination; `None` when the destination already had it.
    pub copied: Option<Snapshot>,
}

#[derive(Debug, Clone, Default)]
pub struct CopyOutcome {
    pub snapshots: Vec<CopiedSnapshot>,
    /// Blobs (data and trees) stored in the destination, and their bytes before compression.
    pub blobs: u64,
    pub bytes: u64,
    /// Bytes of the packs written to the destination.
    pub stored_bytes: u64,
    /// Bytes of file data read from the source (all of it when re-chunking; only what the
    /// destination lacks on the fast path).
    pub bytes_read: u64,
    /// The repositories have different keys or chunker parameters, so files were cut again.
    pub rechunked: bool,
}

/// Whether two repositories name the same blob with the same id and cut files alike.
fn same_ids(src: &Repository, dst: &Repository) -> bool {
    let probe = b"vger copy: do these repositories share their id and chunker keys?";
    src.config().chunker == dst.config().chunker
        && src.master().blob_id(BlobKind::Data, probe)
            == dst.master().blob_id(BlobKind::Data, probe)
        && src.master().gear_table() == dst.master().gear_table()
}

/// Copies the snapshots (resolved in `src`, oldest first) into `dst`.
pub fn copy(
    src: &Repository,
    dst: &Repository,
    snapshots: &[Snapshot],
    opts: &CopyOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<CopyOutcome> {
    if src.config().id == dst.config().id {
        return Err(VgerError::invalid(
            "the source and the destination are the same repository: copy needs two repositories",
        ));
    }
    if src.config().algorithm != Algorithm::None && dst.config().algorithm == Algorithm::None {
        return Err(VgerError::invalid(
            "the source is encrypted and the destination is not: copying would store your files in \
             the clear; copy into an encrypted repository (vger init with encryption other than none)",
        ));
    }
    let _read = src.read_lease("copy")?;
    let rechunk = !same_ids(src, dst);
    let mut out = CopyOutcome {
        rechunked: rechunk,
        ..Default::default()
    };
    let present = dst.snapshots()?.snapshots;
    let mut sorted: Vec<&Snapshot> = snapshots.iter().collect();
    sorted.sort_by_key(|s| (s.start_ns, s.id));
    let mut memo = Memo::default();
    let total = sorted.len() as u64;
    for (i, s) in sorted.into_iter().enumerate() {
        cancel.check()?;
        progress.event(Event::Step {
            phase: "copy",
            done: i as u64,
            total,
        });
        if present.iter().any(|p| p.id == s.id || same_backup(p, s)) {
            out.snapshots.push(CopiedSnapshot {
                source: s.clone(),
                copied: None,
            });
            continue;
        }
        let copied = copy_one(
            src, dst, s, opts, rechunk, &mut memo, &mut out, progress, cancel,
        )?;
        out.snapshots.push(CopiedSnapshot {
            source: s.clone(),
            copied: Some(copied),
        });
    }
    progress.event(Event::Step {
        phase: "copy",
        done: total,
        total,
    });
    Ok(out)
}

/// The same backup, whatever its tags or id became in the destination.
fn same_backup(a: &Snapshot, b: &Snapshot) -> bool {
    (
        a.start_ns,
        a.end_ns,
        &a.hostname,
        &a.username,
        &a.label,
        &a.paths,
    ) == (
        b.start_ns,
        b.end_ns,
        &b.hostname,
        &b.username,
        &b.label,
        &b.paths,
    )
}

/// A file's chunks: id and length of each, in order.
type ChunkList = Vec<(ChunkId, u32)>;

/// What this run already did, so snapshots sharing trees and files cost nothing the second time.
#[derive(Default)]
struct Memo {
    /// Source tree id → destination tree id.
    trees: HashMap<ChunkId, ChunkId>,
    /// Source chunk list → destination chunk list (re-chunking only).
    files: HashMap<ChunkList, ChunkList>,
    /// Blobs queued for the destination in this run.
    queued: HashSet<ChunkId>,
}

struct Copier<'a> {
    src: &'a Repository,
    dst: &'a Repository,
    uploader: Option<&'a Uploader>,
    chunker: Option<Chunker>,
    memo: &'a mut Memo,
    cancel: &'a CancelToken,
    blobs: u64,
    bytes: u64,
    bytes_read: u64,
    buf: Vec<u8>,
}

impl Copier<'_> {
    /// Stores `data` under `id` unless the destination has it or it is queued.
    fn put(&mut self, id: ChunkId, kind: BlobKind, data: Vec<u8>) -> Result<()> {
        if self.dst.index().contains(&id) || !self.memo.queued.insert(id) {
            return Ok(());
        }
        self.blobs += 1;
        self.bytes += data.len() as u64;
        match self.uploader {
            Some(u) => u.submit(id, kind, data),
            None => Ok(()),
        }
    }

    fn tree(&mut self, id: &ChunkId) -> Result<ChunkId> {
        if let Some(done) = self.memo.trees.get(id) {
            return Ok(*done);
        }
        self.cancel.check()?;
        let mut entries = self.src.read_tree(id)?;
        for e in &mut entries {
            match (e.kind, &e.content) {
                (Kind::Dir, Content::Subtree(sub)) => {
                    let sub = *sub;
                    e.content = Content::Subtree(self.tree(&sub)?);
                }
                (Kind::File, Content::Chunks(chunks)) => {
                    let chunks = chunks.clone();
                    e.content = Content::Chunks(self.file(e, chunks)?);
                }
                _ => {}
            }
        }
        let plain = tree::encode(&mut entries);
        let new = self.dst.master().blob_id(BlobKind::Tree, &plain);
        self.put(new, BlobKind::Tree, plain)?;
        self.memo.trees.insert(*id, new);
        Ok(new)
    }

    fn file(&mut self, e: &Entry, chunks: Vec<(ChunkId, u32)>) -> Result<Vec<(ChunkId, u32)>> {
        let Some(chunker) = self.chunker.take() else {
            // Same ids: read only what the destination lacks.
            for (id, len) in &chunks {
                if !self.dst.index().contains(id) && !self.memo.queued.contains(id) {
                    let data = self.src.read_blob(id, BlobKind::Data, *len as usize)?;
                    self.bytes_read += data.len() as u64;
                    self.put(*id, BlobKind::Data, data)?;
                }
            }
            return Ok(chunks);
        };
        let result = self.rechunk(&chunker, e, &chunks);
        self.chunker = Some(chunker);
        result
    }

    fn rechunk(
        &mut self,
        chunker: &Chunker,
        e: &Entry,
        chunks: &[(ChunkId, u32)],
    ) -> Result<Vec<(ChunkId, u32)>> {
        if let Some(done) = self.memo.files.get(chunks) {
            return Ok(done.clone());
        }
        let mut reader = ChunkReader {
            repo: self.src,
            chunks,
            next: 0,
            current: Vec::new(),
            at: 0,
            error: None,
            read: 0,
        };
        let mut out = Vec::new();
        let mut buf = std::mem::take(&mut self.buf);
        let streamed = chunker.stream(&mut reader, &mut buf, |piece| {
            let id = self.dst.master().blob_id(BlobKind::Data, piece);
            out.push((id, piece.len() as u32));
            self.put(id, BlobKind::Data, piece.to_vec())
        });
        self.buf = buf;
        self.bytes_read += reader.read;
        match streamed {
            Ok(()) => {}
            Err(StreamError::Read(io)) => {
                return Err(reader.error.take().unwrap_or_else(|| {
                    VgerError::io(format!("reading {:?} from the source", e.name), io)
                }));
            }
            Err(StreamError::Sink(err)) => return Err(err),
        }
        self.memo.files.insert(chunks.to_vec(), out.clone());
        Ok(out)
    }
}

/// The stored bytes of a file, read chunk by chunk from the source repository.
struct ChunkReader<'a> {
    repo: &'a Repository,
    chunks: &'a [(ChunkId, u32)],
    next: usize,
    current: Vec<u8>,
    at: usize,
    /// The engine error behind a failed read (an io::Error cannot carry its code).
    error: Option<VgerError>,
    read: u64,
}

impl Read for ChunkReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.current.len() {
            let Some((id, len)) = self.chunks.get(self.next) else {
                return Ok(0);
            };
            self.next += 1;
            match self.repo.read_blob(id, BlobKind::Data, *len as usize) {
                Ok(data) => {
                    self.read += data.len() as u64;
                    self.current = data;
                    self.at = 0;
                }
                Err(e) => {
                    let io = std::io::Error::other(e.to_string());
                    self.error = Some(e);
                    return Err(io);
                }
            }
        }
        let n = out.len().min(self.current.len() - self.at);
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the parts are all distinct"
)]
fn copy_one(
    src: &Repository,
    dst: &Repository,
    s: &Snapshot,
    opts: &CopyOptions,
    rechunk: bool,
    memo: &mut Memo,
    out: &mut CopyOutcome,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Snapshot> {
    let lease = (!opts.dry_run)
        .then(|| dst.lease(LockKind::Shared, "copy"))
        .transpose()?;
    let uploader = lease
        .as_ref()
        .map(|_| blob_uploader(dst, opts.compression, opts.threads));
    let mut c = Copier {
        src,
        dst,
        uploader: uploader.as_ref(),
        chunker: rechunk.then(|| Chunker::new(dst.config().chunker, dst.master().gear_table())),
        memo,
        cancel,
        blobs: 0,
        bytes: 0,
        bytes_read: 0,
        buf: Vec::new(),
    };
    let walked = c.tree(&s.tree);
    let (blobs, bytes, bytes_read) = (c.blobs, c.bytes, c.bytes_read);
    out.blobs += blobs;
    out.bytes += bytes;
    out.bytes_read += bytes_read;
    let mut copied = Snapshot {
        format_version: snapshot::FORMAT_VERSION,
        tree: ChunkId([0; 32]),
        stats: SnapshotStats {
            new_chunks: blobs,
            new_bytes: bytes,
            stored_bytes: 0,
            ..s.stats.clone()
        },
        meta: SnapshotMeta {
            supersedes: None,
            ..s.meta.clone()
        },
        ..s.clone()
    };
    let (Some(uploader), Some(lease)) = (uploader, lease) else {
        copied.tree = walked?;
        return Ok(copied);
    };
    let written = uploader.finish();
    match (walked, written) {
        (Ok(tree), Ok(w)) if cancel.check().is_ok() => {
            copied.tree = tree;
            copied.stats.stored_bytes = w.stored_bytes;
            out.stored_bytes += w.stored_bytes;
            commit_snapshot(dst, &lease, &w.packs, &copied, progress, cancel)?;
            Ok(copied)
        }
        // Interrupted or failed: list what was stored, so the next run does not store it again.
        (walked, Ok(w)) => {
            index_written(dst, &lease, &w.packs)?;
            out.stored_bytes += w.stored_bytes;
            Err(walked.err().unwrap_or(VgerError::Cancelled))
        }
        (_, Err(e)) => Err(e),
    }
}
