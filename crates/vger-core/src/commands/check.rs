//! `check`: is every snapshot restorable? Structure: every snapshot's trees are read (and so
//! authenticated) and every file chunk resolves through the index to a pack that exists and is
//! long enough. With `verify_data`, every blob of the chosen packs (all, or a random subset) is
//! read, decrypted and re-hashed. The report names each damaged object and, for every snapshot,
//! the files that damage affects.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use vger_types::{ChunkId, ErrorCode, PackId, Result, VgerError};

use crate::cancel::CancelToken;
use crate::progress::{Event, Progress};
use crate::repo::Repository;
use crate::repo::index::{IdMap, Location};
use crate::repo::pack;
use crate::repo::snapshot::Snapshot;
use crate::tree::{Content, Kind, join_path as join};

/// Damaged files listed per snapshot; beyond this they are only counted.
pub const MAX_FILES_LISTED: usize = 1000;

#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Read and authenticate every blob.
    pub verify_data: bool,
    /// Read and authenticate the blobs of this percentage of the packs, chosen at random
    /// (0 < pct ≤ 100); ignored when `verify_data` is set.
    pub read_data_subset_pct: Option<f64>,
    /// Have the storage host (a vger server) hash every pack against its id, without
    /// downloading any: finds what storage damaged, not what a dishonest host forged.
    pub verify_on_server: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub object: String,
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct DamagedSnapshot {
    pub snapshot: Snapshot,
    /// '/'-separated paths (at most [`MAX_FILES_LISTED`]). A directory whose tree cannot be read
    /// ends in '/' (nothing under it can be restored); the empty path is the snapshot's root.
    pub files: Vec<Vec<u8>>,
    /// Damaged paths in all, files and unreadable directories.
    pub files_total: u64,
    /// How many of `files_total` are unreadable directories.
    pub dirs_total: u64,
}

#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub snapshots: u64,
    pub trees: u64,
    pub chunks_referenced: u64,
    pub packs: u64,
    pub packs_read: u64,
    pub blobs_verified: u64,
    pub bytes_read: u64,
    /// Packs the storage host hashed against their ids (`verify_on_server`).
    pub packs_verified_on_server: u64,
    /// Packs no index segment lists (debris of interrupted backups; compact removes old ones).
    pub unindexed_packs: u64,
    /// Packs stored under another key than `packs/<first 2 hex>/<id>` (moved by hand or by a
    /// sync tool); each is also a problem, and `check --repair` moves it back.
    pub misplaced_packs: u64,
    /// Snapshots written by a newer vger (not checked, never touched).
    pub hidden_newer: u64,
    pub problems: Vec<Problem>,
    pub damaged: Vec<DamagedSnapshot>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.damaged.is_empty()
    }

    fn problem(&mut self, object: impl Into<String>, e: &VgerError) {
        self.problems.push(Problem {
            object: object.into(),
            code: e.code(),
            message: e.to_string(),
        });
    }
}

pub fn check(
    repo: &Repository,
    opts: &CheckOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<CheckReport> {
    let _lease = repo.read_lease("check")?;
    let mut report = CheckReport::default();
    for w in repo.reload_index()? {
        report.problems.push(Problem {
            object: w.path,
            code: w.code,
            message: w.message,
        });
    }
    let list = repo.snapshots()?;
    report.hidden_newer = list.hidden_newer as u64;
    for w in list.damaged {
        report.problems.push(Problem {
            object: w.path,
            code: w.code,
            message: w.message,
        });
    }
    let bad = check_packs(repo, opts, &mut report, progress, cancel)?;
    report.snapshots = list.snapshots.len() as u64;
    let mut walker = Walker {
        repo,
        bad: &bad,
        memo: HashMap::new(),
        seen_chunks: IdMap::default(),
        problems: Vec::new(),
        trees: 0,
    };
    for (i, snap) in list.snapshots.iter().enumerate() {
        cancel.check()?;
        let damaged = walker.tree(&snap.tree)?;
        if !damaged.is_empty() {
            report.damaged.push(DamagedSnapshot {
                snapshot: snap.clone(),
                files: damaged.iter().take(MAX_FILES_LISTED).cloned().collect(),
                files_total: damaged.len() as u64,
                dirs_total: damaged
                    .iter()
                    .filter(|p| p.is_empty() || p.ends_with(b"/"))
                    .count() as u64,
            });
        }
        progress.event(Event::Step {
            phase: "snapshots",
            done: i as u64 + 1,
            total: list.snapshots.len() as u64,
        });
    }
    report.trees = walker.trees;
    report.chunks_referenced = walker.seen_chunks.len() as u64;
    report.problems.append(&mut walker.problems);
    Ok(report)
}

/// Why a chunk cannot be read, for chunks found bad while checking packs.
type Bad = IdMap<String>;

/// Packs: present, long enough, and (when asked) every blob authentic. Returns the chunks that
/// cannot be read.
fn check_packs(
    repo: &Repository,
    opts: &CheckOptions,
    report: &mut CheckReport,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Bad> {
    let stored: HashMap<String, u64> = repo
        .backend()
        .list_meta("packs")?
        .into_iter()
        .map(|m| (m.key, m.size))
        .collect();
    let mut by_pack: HashMap<PackId, Vec<(ChunkId, Location)>> = HashMap::new();
    for (id, pack, loc) in repo.index().iter() {
        by_pack.entry(pack).or_default().push((id, loc));
    }
    report.packs = stored.len() as u64;
    let mut indexed: HashSet<String> = by_pack.keys().map(pack::key).collect();
    // Packs a compaction retired while others were reading wait for them; they are not debris.
    for (_, p) in crate::repo::pending::list(repo)?.0 {
        indexed.extend(p.packs);
    }
    // A pack under another key than its own (its file name is still its id), by its own key;
    // a stray second copy of a pack that is in place is left out (the one in place is checked).
    let misplaced: HashMap<String, &String> = stored
        .keys()
        .filter(|k| pack::is_misplaced(k))
        .filter_map(|k| {
            let id = ChunkId::from_hex(k.rsplit('/').next()?)?;
            let home = pack::key(&PackId(id.0));
            (!stored.contains_key(&home)).then_some((home, k))
        })
        .collect();
    report.misplaced_packs = misplaced.len() as u64;
    let strays: HashSet<&String> = misplaced.values().copied().collect();
    report.unindexed_packs = stored
        .keys()
        .filter(|k| !indexed.contains(*k) && !strays.contains(k))
        .count() as u64;
    let mut moved: Vec<_> = misplaced.iter().collect();
    moved.sort();
    for (home, at) in moved {
        report.problems.push(Problem {
            object: at.to_string(),
            code: ErrorCode::ObjectMissing,
            message: format!(
                "pack {} is stored here instead of at {home}, where vger reads it; \"vger check --repair\" moves it back",
                &home[home.len().saturating_sub(64)..]
            ),
        });
    }
    let mut bad = Bad::default();
    let mut to_read = Vec::new();
    let mut packs: Vec<_> = by_pack.into_iter().collect();
    packs.sort_by_key(|(p, _)| p.0);
    for (pack, blobs) in packs {
        let key = pack::key(&pack);
        let end = blobs
            .iter()
            .map(|(_, l)| u64::from(l.offset) + u64::from(l.len))
            .max()
            .unwrap_or(0);
        let problem = match stored.get(&key) {
            // Reported above, with where it is; until it is back, its blobs cannot be read.
            None if misplaced.contains_key(&key) => {
                let why = format!("pack {} is not in its place", pack.to_hex());
                for (id, _) in &blobs {
                    bad.insert(*id, why.clone());
                }
                continue;
            }
            None => Some(VgerError::ObjectMissing {
                object: format!("pack {}", pack.to_hex()),
            }),
            Some(&size) if size < end + 4 => Some(VgerError::corrupt(
                format!("pack {}", pack.to_hex()),
                format!("{size} bytes, shorter than its blobs ({end})"),
            )),
            Some(_) => None,
        };
        match problem {
            Some(e) => {
                for (id, _) in &blobs {
                    bad.insert(*id, e.to_string());
                }
                report.problem(&key, &e);
            }
            None => to_read.push((pack, blobs)),
        }
    }
    if opts.verify_on_server {
        on_server(repo, &to_read, &mut bad, report, progress, cancel)?;
    }
    let share = if opts.verify_data {
        Some(100.0)
    } else {
        opts.read_data_subset_pct
    };
    if let Some(pct) = share {
        if !(pct > 0.0 && pct <= 100.0) {
            return Err(VgerError::invalid(
                "the read-data subset is a percentage above 0 and at most 100",
            ));
        }
        if pct < 100.0 {
            let keep = ((to_read.len() as f64 * pct / 100.0).ceil() as usize).max(1);
            shuffle(&mut to_read);
            to_read.truncate(keep);
        }
        verify(repo, to_read, &mut bad, report, progress, cancel)?;
    }
    Ok(bad)
}

/// Has the storage host hash every pack; a pack it finds damaged or missing makes all its blobs bad.
fn on_server(
    repo: &Repository,
    packs: &[PackWork],
    bad: &mut Bad,
    report: &mut CheckReport,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    const BATCH: usize = 100;
    let unable = || {
        VgerError::invalid(format!(
            "{} cannot verify packs itself; --verify-on-server needs a repository on a vger server (rest:// or rests://)",
            repo.backend().location()
        ))
    };
    // Asked with no packs, a store that can says so without a request.
    if repo.backend().verify_packs(&[])?.is_none() {
        return Err(unable());
    }
    for (i, batch) in packs.chunks(BATCH).enumerate() {
        cancel.check()?;
        let keys: Vec<String> = batch.iter().map(|(p, _)| pack::key(p)).collect();
        let Some(verdicts) = repo.backend().verify_packs(&keys)? else {
            return Err(unable());
        };
        for ((pack, blobs), verdict) in batch.iter().zip(verdicts) {
            report.packs_verified_on_server += 1;
            if let Some(why) = verdict {
                let e = VgerError::corrupt(format!("pack {}", pack.to_hex()), why);
                for (id, _) in blobs {
                    bad.insert(*id, e.to_string());
                }
                report.problem(pack::key(pack), &e);
            }
        }
        progress.event(Event::Step {
            phase: "verify-on-server",
            done: ((i + 1) * BATCH).min(packs.len()) as u64,
            total: packs.len() as u64,
        });
    }
    Ok(())
}

/// Fisher-Yates with OS randomness, so the subset differs between runs.
fn shuffle<T>(v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let r = u64::from_le_bytes(vger_crypto::random_bytes());
        v.swap(i, (r % (i as u64 + 1)) as usize);
    }
}

type PackWork = (PackId, Vec<(ChunkId, Location)>);

fn verify(
    repo: &Repository,
    packs: Vec<PackWork>,
    bad: &mut Bad,
    report: &mut CheckReport,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let total = packs.len() as u64;
    // Bad chunks, problems, packs read, bytes read, blobs verified.
    type Found = (Bad, Vec<(String, VgerError)>, u64, u64, u64);
    let found: Mutex<Found> = Mutex::new((Bad::default(), Vec::new(), 0, 0, 0));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let packs = Arc::new(packs);
    let failed: Mutex<Option<VgerError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((pack, blobs)) = packs.get(i) else {
                        break;
                    };
                    if let Err(e) = cancel.check() {
                        *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        break;
                    }
                    let result = verify_pack(repo, pack, blobs);
                    let mut f = found.lock().unwrap_or_else(|p| p.into_inner());
                    match result {
                        Ok(c) => {
                            f.2 += 1;
                            f.3 += c.len;
                            f.4 += (blobs.len() - c.failed.len()) as u64;
                            let key = pack::key(pack);
                            for e in c.problems {
                                f.1.push((key.clone(), e));
                            }
                            for (id, e) in c.failed {
                                f.0.insert(id, e.to_string());
                                f.1.push((format!("{key} chunk {}", id.to_hex()), e));
                            }
                        }
                        Err(e @ (VgerError::Corrupt { .. } | VgerError::NewerFormat { .. })) => {
                            f.2 += 1;
                            for (id, _) in blobs {
                                f.0.insert(*id, e.to_string());
                            }
                            f.1.push((pack::key(pack), e));
                        }
                        Err(e) => {
                            *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            break;
                        }
                    }
                    drop(f);
                    progress.event(Event::Step {
                        phase: "data",
                        done: i as u64 + 1,
                        total,
                    });
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let (found_bad, problems, read, bytes, verified) =
        found.into_inner().unwrap_or_else(|p| p.into_inner());
    bad.extend(found_bad);
    let mut problems = problems;
    problems.sort_by(|a, b| a.0.cmp(&b.0));
    for (object, e) in problems {
        report.problem(object, &e);
    }
    report.packs_read += read;
    report.bytes_read += bytes;
    report.blobs_verified += verified;
    Ok(())
}

/// What reading one whole pack found.
struct PackCheck {
    len: u64,
    /// The pack as a whole (id mismatch, unreadable table); its blobs may still be fine.
    problems: Vec<VgerError>,
    failed: Vec<(ChunkId, VgerError)>,
}

/// Reads one whole pack: its id and trailer, then every indexed blob on its own, so damage in
/// one blob condemns that blob only.
fn verify_pack(
    repo: &Repository,
    pack: &PackId,
    blobs: &[(ChunkId, Location)],
) -> Result<PackCheck> {
    let bytes = repo.backend().get(&pack::key(pack))?;
    let mut problems = Vec::new();
    if let Err(e) = pack::verify_id(&bytes, pack) {
        problems.push(e);
    }
    let listed: Option<HashSet<(ChunkId, u32, u32)>> =
        match pack::parse_table(&bytes, pack, repo.crypter(), &repo.config().id) {
            Ok(t) => Some(t.iter().map(|e| (e.id, e.offset, e.len)).collect()),
            Err(e @ VgerError::NewerFormat { .. }) => return Err(e),
            Err(e) => {
                problems.push(e);
                None
            }
        };
    let mut failed = Vec::new();
    for (id, loc) in blobs {
        let what = format!("chunk {} in pack {}", id.to_hex(), pack.to_hex());
        if listed
            .as_ref()
            .is_some_and(|l| !l.contains(&(*id, loc.offset, loc.len)))
        {
            failed.push((
                *id,
                VgerError::corrupt(&what, "the index and the pack's own table disagree"),
            ));
            continue;
        }
        let start = loc.offset as usize;
        let Some(sealed) = bytes.get(start..start + loc.len as usize) else {
            failed.push((*id, VgerError::corrupt(&what, "outside the pack")));
            continue;
        };
        let cap = (loc.raw_len as usize).max(1);
        if let Err(e) = repo.open_blob(id, loc.kind, sealed, cap, &what) {
            failed.push((*id, e));
        }
    }
    Ok(PackCheck {
        len: bytes.len() as u64,
        problems,
        failed,
    })
}

struct Walker<'a> {
    repo: &'a Repository,
    bad: &'a Bad,
    /// Damaged paths under each tree, relative to it.
    memo: HashMap<ChunkId, Arc<Vec<Vec<u8>>>>,
    seen_chunks: IdMap<()>,
    problems: Vec<Problem>,
    trees: u64,
}

impl Walker<'_> {
    /// Damaged paths under `id` (relative to it; the tree itself is "" when unreadable).
    fn tree(&mut self, id: &ChunkId) -> Result<Arc<Vec<Vec<u8>>>> {
        if let Some(m) = self.memo.get(id) {
            return Ok(Arc::clone(m));
        }
        let mut out = Vec::new();
        match self.repo.read_tree(id) {
            Err(e @ (VgerError::Corrupt { .. } | VgerError::ObjectMissing { .. })) => {
                self.problems.push(Problem {
                    object: format!("tree {}", id.to_hex()),
                    code: e.code(),
                    message: e.to_string(),
                });
                out.push(Vec::new());
            }
            Err(e) => return Err(e),
            Ok(entries) => {
                self.trees += 1;
                for e in entries {
                    match (e.kind, &e.content) {
                        (Kind::Dir, Content::Subtree(sub)) => {
                            for p in self.tree(sub)?.iter() {
                                out.push(if p.is_empty() {
                                    // The directory's own tree: nothing under it can be read.
                                    [e.name.as_slice(), b"/"].concat()
                                } else {
                                    join(&e.name, p)
                                });
                            }
                        }
                        (_, Content::Chunks(chunks)) => {
                            let mut broken = false;
                            for (c, _) in chunks {
                                self.seen_chunks.insert(*c, ());
                                broken |=
                                    self.bad.contains_key(c) || !self.repo.index().contains(c);
                            }
                            if broken {
                                out.push(e.name.clone());
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        let out = Arc::new(out);
        self.memo.insert(*id, Arc::clone(&out));
        Ok(out)
    }
}
