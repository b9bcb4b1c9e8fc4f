//! Writing regular files pack by pack: every blob the restore needs is located in the index,
//! the blobs are grouped by pack and sorted by offset, and neighbouring blobs are read with one
//! range read of up to [`SEGMENT`] bytes ([`REMOTE_SEGMENT`] from a network store). Threads take segments, authenticate, decompress and
//! re-hash each blob in parallel, and write it at its offsets in every file that uses it
//! (`pwrite`). A file is created on its first blob and opened once; when its last blob is in, its
//! length is set (chunks of zeros are not written, so they stay holes), its metadata applied and
//! it is closed. A file that fails is removed and reported; the others go on.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use vger_crypto::BlobKind;
use vger_storage::platform::write_all_at;
use vger_types::{ChunkId, PackId, Result, VgerError};

use super::dest::Dest;
use super::plan::Item;
use super::write;
use crate::cancel::CancelToken;
use crate::progress::{Event, Progress, Warning};
use crate::repo::Repository;
use crate::repo::pack;
use crate::tree::Content;

/// Largest coalesced range read (a single larger blob is read alone).
pub const SEGMENT: u64 = 8 << 20;
/// The same from a network store, where each request costs a round trip (and some stores, such
/// as moto, copy the whole object for every ranged read): a whole pack in one read, as restic
/// does. Up to one such buffer per restore thread.
pub const REMOTE_SEGMENT: u64 = 33 << 20;
/// Gaps up to this size between needed blobs are read through rather than split.
const GAP: u64 = 256 << 10;

struct Blob {
    id: ChunkId,
    offset: u32,
    len: u32,
    raw_len: u32,
    /// (file index, offset in that file)
    targets: Vec<(usize, u64)>,
}

struct Segment {
    pack: PackId,
    start: u64,
    end: u64,
    blobs: Vec<Blob>,
}

enum Slot {
    Closed,
    Open(Arc<File>),
    Failed,
}

struct FileState {
    remaining: AtomicU32,
    /// A chunk of zeros was skipped (left as a hole), or the file has a hole map.
    holes: AtomicBool,
    /// Of a sparse file: where its stored bytes go ([`crate::tree::Entry::data_runs`]).
    runs: Vec<(u64, u64, u64)>,
    slot: Mutex<Slot>,
}

pub struct Ctx<'a> {
    pub repo: &'a Repository,
    pub dest: &'a Dest,
    pub files: &'a [Item],
    pub progress: &'a dyn Progress,
    pub cancel: &'a CancelToken,
    pub fail: &'a (dyn Fn(&[u8], &VgerError) + Sync),
    /// The destination is set-group-ID (see [`write::apply_file_meta`]).
    pub setgid: bool,
}

/// Restores every regular file of the plan; returns (files, bytes).
pub fn restore_files(c: &Ctx<'_>, threads: usize) -> Result<(u64, u64)> {
    let (segments, states) = plan(c)?;
    let done_files = AtomicU64::new(0);
    let done_bytes = AtomicU64::new(0);
    let total_files = c.files.len() as u64;
    let total_bytes: u64 = c.files.iter().map(|f| f.entry.size).sum();
    let finish = |i: usize, f: Option<Arc<File>>| {
        let item = &c.files[i];
        let r = match f {
            // Every chunk written: the length is right already. Otherwise the file ends in a
            // hole, which only the length creates.
            Some(f) => if states[i].holes.load(Ordering::Relaxed) {
                f.set_len(item.entry.size)
            } else {
                Ok(())
            }
            .map_err(|e| VgerError::io(format!("writing {}", target(c.dest, i, c).display()), e))
            .and_then(|()| write::apply_file_meta(&f, &target(c.dest, i, c), &item.entry, c.setgid))
            .and_then(|()| c.dest.commit(&item.rel)),
            None => write::create_empty(c.dest, item, c.setgid),
        };
        match r {
            Ok(()) => {
                let n = done_files.fetch_add(1, Ordering::Relaxed) + 1;
                let b = done_bytes.fetch_add(item.entry.size, Ordering::Relaxed) + item.entry.size;
                c.progress.event(Event::Restore {
                    files: n,
                    bytes: b,
                    total_files,
                    total_bytes,
                });
            }
            Err(e) => failed(c, &states[i], i, &e),
        }
    };
    // Files without content are created first.
    for (i, s) in states.iter().enumerate() {
        if s.remaining.load(Ordering::Relaxed) == 0
            && matches!(
                *s.slot.lock().unwrap_or_else(PoisonError::into_inner),
                Slot::Closed
            )
        {
            c.cancel.check()?;
            finish(i, None);
        }
    }
    let next = AtomicUsize::new(0);
    let worker = || -> Result<()> {
        // Reused for every segment: no allocation (and so no fresh pages) per read.
        let mut bufs = (Vec::new(), Vec::new());
        while let Some(seg) = segments.get(next.fetch_add(1, Ordering::Relaxed)) {
            c.cancel.check()?;
            segment(c, seg, &states, &finish, &mut bufs)?;
        }
        Ok(())
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.clamp(1, segments.len().max(1)))
            .map(|_| s.spawn(worker))
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or(Err(VgerError::Internal("a restore thread panicked".into())))
        })
    })?;
    Ok((done_files.into_inner(), done_bytes.into_inner()))
}

fn target(dest: &Dest, i: usize, c: &Ctx<'_>) -> PathBuf {
    dest.path(&c.files[i].rel)
}

/// Marks file `i` failed, removes what was written, reports it once.
fn failed(c: &Ctx<'_>, s: &FileState, i: usize, e: &VgerError) {
    let mut slot = s.slot.lock().unwrap_or_else(PoisonError::into_inner);
    if matches!(*slot, Slot::Failed) {
        return;
    }
    *slot = Slot::Failed;
    c.dest.remove(&c.files[i].rel);
    let rel = &c.files[i].rel;
    c.progress.event(Event::Warning(Warning {
        path: String::from_utf8_lossy(rel).into_owned(),
        code: e.code(),
        message: e.to_string(),
    }));
    (c.fail)(rel, e);
}

fn plan(c: &Ctx<'_>) -> Result<(Vec<Segment>, Vec<FileState>)> {
    let index = c.repo.index();
    let mut by_pack: HashMap<PackId, HashMap<ChunkId, Blob>> = HashMap::new();
    let mut states = Vec::with_capacity(c.files.len());
    for (i, item) in c.files.iter().enumerate() {
        let mut n = 0u32;
        let mut missing = None;
        if let Content::Chunks(chunks) = &item.entry.content {
            let mut off = 0u64;
            for (id, len) in chunks {
                match index.get(id) {
                    Some((p, loc)) if loc.kind == BlobKind::Data => {
                        let b = by_pack.entry(p).or_default().entry(*id).or_insert(Blob {
                            id: *id,
                            offset: loc.offset,
                            len: loc.len,
                            raw_len: loc.raw_len,
                            targets: Vec::new(),
                        });
                        b.targets.push((i, off));
                        n += 1;
                    }
                    Some(_) => {
                        missing = Some(VgerError::corrupt(
                            format!("chunk {}", id.to_hex()),
                            "blob kind differs from the reference",
                        ))
                    }
                    None => {
                        missing = Some(VgerError::ObjectMissing {
                            object: format!("chunk {} (not in the index)", id.to_hex()),
                        })
                    }
                }
                off += u64::from(*len);
            }
        }
        let sparse = !item.entry.holes.is_empty();
        let state = FileState {
            remaining: AtomicU32::new(n),
            holes: AtomicBool::new(sparse),
            runs: if sparse {
                item.entry.data_runs()
            } else {
                Vec::new()
            },
            slot: Mutex::new(Slot::Closed),
        };
        if let Some(e) = missing {
            *state.slot.lock().unwrap_or_else(PoisonError::into_inner) = Slot::Failed;
            (c.fail)(&item.rel, &e);
        }
        states.push(state);
    }
    drop(index);
    let limit = if c.repo.backend().parallel_reads() > 1 {
        REMOTE_SEGMENT
    } else {
        SEGMENT
    };
    let mut segments = Vec::new();
    let mut packs: Vec<_> = by_pack.into_iter().collect();
    packs.sort_by_key(|(p, _)| *p);
    for (pack, blobs) in packs {
        let mut blobs: Vec<Blob> = blobs.into_values().collect();
        blobs.sort_by_key(|b| b.offset);
        let mut cur: Option<Segment> = None;
        for b in blobs {
            let (s, e) = (u64::from(b.offset), u64::from(b.offset) + u64::from(b.len));
            match cur.as_mut() {
                Some(seg) if s <= seg.end + GAP && e - seg.start <= limit => {
                    seg.end = e;
                    seg.blobs.push(b);
                }
                _ => {
                    segments.extend(cur.take());
                    cur = Some(Segment {
                        pack,
                        start: s,
                        end: e,
                        blobs: vec![b],
                    });
                }
            }
        }
        segments.extend(cur);
    }
    Ok((segments, states))
}

fn segment(
    c: &Ctx<'_>,
    seg: &Segment,
    states: &[FileState],
    finish: &(dyn Fn(usize, Option<Arc<File>>) + Sync),
    (bytes, out): &mut (Vec<u8>, Vec<u8>),
) -> Result<()> {
    let cap = c.repo.config().chunker.max_size as usize;
    let what = format!("pack {}", seg.pack.to_hex());
    let read = c.repo.backend().get_range_into(
        &pack::key(&seg.pack),
        seg.start,
        seg.end - seg.start,
        bytes,
    );
    match read {
        Ok(()) => {}
        Err(e @ VgerError::NoSpace { .. }) => return Err(e),
        Err(e) => {
            for b in &seg.blobs {
                for &(i, _) in &b.targets {
                    failed(c, &states[i], i, &e);
                }
            }
            return Ok(());
        }
    };
    for b in &seg.blobs {
        c.cancel.check()?;
        let at = (u64::from(b.offset) - seg.start) as usize;
        let w = format!("chunk {} in pack {}", b.id.to_hex(), seg.pack.to_hex());
        let data = match bytes.get_mut(at..at + b.len as usize) {
            None => Err(VgerError::corrupt(
                &what,
                "pack shorter than the index says",
            )),
            Some(sealed) => c
                .repo
                .open_blob_into(&b.id, BlobKind::Data, sealed, cap, &w, out)
                .and_then(|d| {
                    if d.len() == b.raw_len as usize {
                        Ok(d)
                    } else {
                        Err(VgerError::corrupt(&w, "length differs from the index"))
                    }
                }),
        };
        let zero = data.as_ref().is_ok_and(|d| d.iter().all(|&x| x == 0));
        for &(i, off) in &b.targets {
            let s = &states[i];
            let data = match &data {
                Ok(d) => d,
                Err(e) => {
                    failed(c, s, i, e);
                    continue;
                }
            };
            let file = match open(c, s, i) {
                Ok(Some(f)) => f,
                Ok(None) => continue, // failed earlier
                Err(e @ VgerError::NoSpace { .. }) => return Err(e),
                Err(e) => {
                    failed(c, s, i, &e);
                    continue;
                }
            };
            if zero {
                s.holes.store(true, Ordering::Relaxed);
            } else if let Err(e) = write_at(&file, data, off, &s.runs) {
                let e = VgerError::io(format!("writing {}", target(c.dest, i, c).display()), e);
                if matches!(e, VgerError::NoSpace { .. }) {
                    return Err(e);
                }
                failed(c, s, i, &e);
                continue;
            }
            if s.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                let f = {
                    let mut slot = s.slot.lock().unwrap_or_else(PoisonError::into_inner);
                    match std::mem::replace(&mut *slot, Slot::Closed) {
                        Slot::Open(f) => Some(f),
                        other => {
                            *slot = other;
                            None
                        }
                    }
                };
                if let Some(f) = f {
                    finish(i, Some(f));
                }
            }
        }
    }
    Ok(())
}

/// Writes the bytes at offset `off` of a file's stored bytes: at `off` itself, or for a sparse
/// file piece by piece into its data runs, so the holes between them are never written.
fn write_at(file: &File, data: &[u8], off: u64, runs: &[(u64, u64, u64)]) -> std::io::Result<()> {
    if runs.is_empty() {
        return write_all_at(file, data, off);
    }
    let end = off + data.len() as u64;
    let first = runs.partition_point(|&(stored, _, len)| stored + len <= off);
    for &(stored, at, len) in &runs[first..] {
        if stored >= end {
            break;
        }
        let from = off.max(stored);
        let to = end.min(stored + len);
        let piece = &data[(from - off) as usize..(to - off) as usize];
        write_all_at(file, piece, at + (from - stored))?;
    }
    Ok(())
}

/// The open handle of file `i`, creating the file on first use; `None` if it already failed.
fn open(c: &Ctx<'_>, s: &FileState, i: usize) -> Result<Option<Arc<File>>> {
    let mut slot = s.slot.lock().unwrap_or_else(PoisonError::into_inner);
    match &*slot {
        Slot::Open(f) => return Ok(Some(Arc::clone(f))),
        Slot::Failed => return Ok(None),
        Slot::Closed => {}
    }
    let f = Arc::new(c.dest.create_file(&c.files[i].rel)?);
    *slot = Slot::Open(Arc::clone(&f));
    Ok(Some(f))
}
