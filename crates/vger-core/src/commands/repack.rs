//! Step 1 of a compaction: the live blobs of the packs being repacked go into new packs, trees
//! and data apart (as the backup pipeline keeps them). Where the storage host can build packs
//! from ranges of packs it holds (the vger server), only the new packs' headers and sealed
//! trailers and a list of ranges cross the network, and the host checks every source pack
//! against its id before copying from it; elsewhere, or when the host declines, this side
//! downloads each pack and authenticates every blob it copies (damage is never copied).

use std::collections::HashMap;

use vger_crypto::BlobKind;
use vger_storage::SourceRange;
use vger_types::{ChunkId, PackId, Result, VgerError};

use crate::cancel::CancelToken;
use crate::progress::{Event, Progress};
use crate::repo::Repository;
use crate::repo::index::Location;
use crate::repo::pack::{self, BlobEntry, PACK_TARGET, PackLayout, PackWriter};

/// The live blobs to move, by the pack they are in.
pub type Moving = HashMap<PackId, Vec<(ChunkId, Location)>>;

/// What step 1 made.
#[derive(Debug, Default)]
pub struct Repacked {
    /// The new packs and their blobs.
    pub kept: Vec<(PackId, Vec<BlobEntry>)>,
    /// Live blobs that failed authentication (left out).
    pub damaged_blobs: u64,
    /// New packs the storage host built from ranges.
    pub assembled: u64,
}

/// Moves the live blobs of `packs` into new packs.
pub fn repack(
    repo: &Repository,
    packs: &[PackId],
    moving: &Moving,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Repacked> {
    if packs.is_empty() {
        return Ok(Repacked::default());
    }
    if repo.backend().can_assemble()
        && let Some(done) = on_host(repo, packs, moving, progress, cancel)?
    {
        return Ok(done);
    }
    through_here(repo, packs, moving, progress, cancel)
}

/// The blobs of `pack` to move, in the order they are stored.
fn blobs_of(moving: &Moving, pack: &PackId) -> Vec<(ChunkId, Location)> {
    let mut blobs = moving.get(pack).cloned().unwrap_or_default();
    blobs.sort_by_key(|(_, l)| l.offset);
    blobs
}

fn step(progress: &dyn Progress, done: usize, total: usize) {
    progress.event(Event::Step {
        phase: "repack",
        done: done as u64,
        total: total as u64,
    });
}

/// One new pack the host builds: its layout and where its blobs come from.
#[derive(Default)]
struct Planned {
    layout: PackLayout,
    ranges: Vec<SourceRange>,
}

impl Planned {
    fn add(&mut self, source: &str, id: ChunkId, loc: &Location) {
        self.layout.add(id, loc.kind, loc.len, loc.raw_len);
        // Blobs next to each other in the source are one range.
        match self.ranges.last_mut() {
            Some(r) if r.pack == source && r.offset + r.length == u64::from(loc.offset) => {
                r.length += u64::from(loc.len);
            }
            _ => self.ranges.push(SourceRange {
                pack: source.to_string(),
                offset: u64::from(loc.offset),
                length: u64::from(loc.len),
            }),
        }
    }
}

/// Has the storage host build the new packs; `None` when it declines (nothing it built is
/// indexed: the packs it made so far are debris for the next compaction).
fn on_host(
    repo: &Repository,
    packs: &[PackId],
    moving: &Moving,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Option<Repacked>> {
    let mut out = Repacked::default();
    let mut planned = [Planned::default(), Planned::default()];
    for (i, p) in packs.iter().enumerate() {
        cancel.check()?;
        let source = pack::key(p);
        for (id, loc) in blobs_of(moving, p) {
            let slot = &mut planned[usize::from(loc.kind == BlobKind::Tree)];
            slot.add(&source, id, &loc);
            if slot.layout.size() >= PACK_TARGET {
                let Some(made) = build(repo, std::mem::take(slot))? else {
                    return Ok(None);
                };
                out.kept.push(made);
                out.assembled += 1;
            }
        }
        step(progress, i + 1, packs.len());
    }
    for slot in planned.into_iter().filter(|s| !s.layout.is_empty()) {
        let Some(made) = build(repo, slot)? else {
            return Ok(None);
        };
        out.kept.push(made);
        out.assembled += 1;
    }
    Ok(Some(out))
}

fn build(repo: &Repository, p: Planned) -> Result<Option<(PackId, Vec<BlobEntry>)>> {
    let (head, tail, entries) = p.layout.finish(repo.crypter(), &repo.config().id);
    let Some(key) = repo.backend().assemble(&head, &p.ranges, &tail)? else {
        return Ok(None);
    };
    let id = vger_storage::pack_key_id(&key)
        .ok_or_else(|| VgerError::Internal(format!("the storage host named its new pack {key}")))?;
    Ok(Some((PackId(id), entries)))
}

/// Downloads each pack and copies every blob that authenticates.
fn through_here(
    repo: &Repository,
    packs: &[PackId],
    moving: &Moving,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Repacked> {
    let mut out = Repacked::default();
    let mut writers = [PackWriter::new(), PackWriter::new()];
    for (i, p) in packs.iter().enumerate() {
        cancel.check()?;
        let bytes = repo.backend().get(&pack::key(p))?;
        for (id, loc) in blobs_of(moving, p) {
            let (start, end) = (loc.offset as usize, loc.offset as usize + loc.len as usize);
            let what = format!("chunk {} in pack {}", id.to_hex(), p.to_hex());
            let Some(sealed) = bytes.get(start..end) else {
                out.damaged_blobs += 1;
                continue;
            };
            let cap = (loc.raw_len as usize).max(1);
            if repo.open_blob(&id, loc.kind, sealed, cap, &what).is_err() {
                out.damaged_blobs += 1;
                continue;
            }
            let writer = &mut writers[usize::from(loc.kind == BlobKind::Tree)];
            writer.add(id, loc.kind, sealed, loc.raw_len);
            if writer.size() >= PACK_TARGET {
                out.kept.push(flush(repo, std::mem::take(writer))?);
            }
        }
        step(progress, i + 1, packs.len());
    }
    for writer in writers.into_iter().filter(|w| !w.is_empty()) {
        out.kept.push(flush(repo, writer)?);
    }
    Ok(out)
}

fn flush(repo: &Repository, w: PackWriter) -> Result<(PackId, Vec<BlobEntry>)> {
    let (id, bytes, entries) = w.finish(repo.crypter(), &repo.config().id);
    match repo.backend().put_new(&pack::key(&id), &bytes) {
        // Same bytes, same id: an identical pack is already there.
        Ok(()) | Err(VgerError::AlreadyExists { .. }) => Ok((id, entries)),
        Err(e) => Err(e),
    }
}
