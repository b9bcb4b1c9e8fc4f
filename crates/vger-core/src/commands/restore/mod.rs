//! `restore`: plan from the snapshot's trees, then write into a new or empty directory.
//! Order: directories, regular files (in parallel), hard links, special files, symlinks, and
//! finally directory metadata from the deepest up. Every name was validated when its tree was
//! decoded, and everything is created relative to directory handles without following links
//! ([`dest`]), so nothing can land outside the destination even when another process swaps a
//! directory for a symlink meanwhile; such a directory is reported with everything under it. A
//! chunk is written only after it has been authenticated and its keyed id recomputed: a damaged
//! file is removed and reported.

mod dest;
mod packed;
mod plan;
mod write;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use vger_types::{Result, VgerError};

use crate::cancel::CancelToken;
use crate::progress::{Progress, Warning};
use crate::repo::Repository;
use crate::tree::Kind;

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub snapshot: String,
    pub dest: PathBuf,
    /// Globs over '/'-separated snapshot paths (`*` may cross `/`): restore what any of them
    /// matches (a matching directory brings its whole subtree); empty restores everything. A
    /// pattern that matches nothing is an error.
    pub patterns: Vec<String>,
    /// Parallel file writers; 0 = two per core.
    pub threads: usize,
}

#[derive(Debug, Clone, Default)]
pub struct RestoreOutcome {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub others: u64,
    pub bytes: u64,
    /// Entries that could not be restored, or whose metadata could not be applied.
    pub errors: Vec<Warning>,
    /// Entries deliberately not created (sockets), with why.
    pub skipped: Vec<Skipped>,
}

/// An entry of the snapshot that restore does not create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

pub fn restore(
    repo: &Repository,
    opts: &RestoreOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<RestoreOutcome> {
    // Protects the packs being read from a concurrent compaction.
    let _lease = repo.read_lease("restore")?;
    let snap = repo.resolve_snapshot(&opts.snapshot)?;
    let plan = plan::build(repo, &snap.tree, &opts.patterns)?;
    let dest = dest::Dest::open(&opts.dest)?;
    let mut out = RestoreOutcome::default();
    // Errors, and the paths they were reported for (an entry is reported once).
    let errors = Mutex::new((Vec::new(), HashSet::new()));
    let fail = |rel: &[u8], e: &VgerError| {
        let mut errors = errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if errors.1.insert(rel.to_vec()) {
            errors.0.push(Warning {
                path: String::from_utf8_lossy(rel).into_owned(),
                code: e.code(),
                message: e.to_string(),
            });
        }
    };
    for d in &plan.dirs {
        cancel.check()?;
        match dest.create_dir(&d.rel) {
            Ok(()) => out.dirs += 1,
            Err(e @ VgerError::DestinationChanged(_)) => fail(&d.rel, &e),
            Err(e) => return Err(e),
        }
    }
    // Twice the cores (a thread waits for a read, then decrypts and writes), and for a network
    // store at least as many as it has connections (each read waits a round trip).
    let threads = match opts.threads {
        0 => (2 * std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(repo.backend().parallel_reads()),
        n => n,
    };
    let ctx = packed::Ctx {
        repo,
        dest: &dest,
        files: &plan.files,
        progress,
        cancel,
        fail: &fail,
        setgid: write::is_setgid(&dest),
    };
    let (files, bytes) = packed::restore_files(&ctx, threads)?;
    out.files += files;
    out.bytes += bytes;
    for it in &plan.others {
        cancel.check()?;
        let r = match it.entry.kind {
            Kind::HardLink => write::hard_link(&dest, it, &plan),
            Kind::Socket => {
                let path = String::from_utf8_lossy(&it.rel).into_owned();
                out.skipped.push(Skipped {
                    path,
                    reason: "a socket belongs to the process that created it and is not restored"
                        .into(),
                });
                continue;
            }
            _ => write::special(&dest, it),
        };
        match r {
            Ok(()) if it.entry.kind == Kind::HardLink => out.files += 1,
            Ok(()) => out.others += 1,
            Err(e) => fail(&it.rel, &e),
        }
    }
    for it in &plan.symlinks {
        cancel.check()?;
        match write::symlink(&dest, it) {
            Ok(()) => out.symlinks += 1,
            Err(e) => fail(&it.rel, &e),
        }
    }
    for d in plan.dirs.iter().rev() {
        if let Err(e) = write::apply_dir_meta(&dest, d) {
            fail(&d.rel, &e);
        }
    }
    // A directory moved away after its entries were written through its handle: they are not at
    // their paths. The top-level ones are checked once more last, as the destination itself is the
    // one directory others may write to.
    for d in plan.dirs.iter().filter(|d| !d.rel.contains(&b'/')) {
        let _ = dest.verify_dir(&d.rel);
    }
    for changed in dest.changed() {
        let e = VgerError::DestinationChanged(dest.path(&changed).display().to_string());
        not_in_place(&plan, &changed, &mut out, |rel| {
            let fresh = !errors
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .1
                .contains(rel);
            fail(rel, &e);
            fresh
        });
    }
    out.errors = errors
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .0;
    Ok(out)
}

/// Reports every planned entry at or under the changed directory `dir` through `report`, which
/// returns whether the entry was counted as restored; those are taken out of the totals.
fn not_in_place(
    plan: &plan::Plan,
    dir: &[u8],
    out: &mut RestoreOutcome,
    mut report: impl FnMut(&[u8]) -> bool,
) {
    let under = |rel: &[u8]| {
        rel.strip_prefix(dir)
            .is_some_and(|rest| rest.is_empty() || rest.first() == Some(&b'/'))
    };
    for d in plan.dirs.iter().filter(|d| under(&d.rel)) {
        if report(&d.rel) {
            out.dirs = out.dirs.saturating_sub(1);
        }
    }
    for f in plan.files.iter().filter(|f| under(&f.rel)) {
        if report(&f.rel) {
            out.files = out.files.saturating_sub(1);
            out.bytes = out.bytes.saturating_sub(f.entry.size);
        }
    }
    for o in plan.others.iter().filter(|o| under(&o.rel)) {
        if o.entry.kind == Kind::Socket {
            continue;
        }
        if report(&o.rel) {
            if o.entry.kind == Kind::HardLink {
                out.files = out.files.saturating_sub(1);
            } else {
                out.others = out.others.saturating_sub(1);
            }
        }
    }
    for s in plan.symlinks.iter().filter(|s| under(&s.rel)) {
        if report(&s.rel) {
            out.symlinks = out.symlinks.saturating_sub(1);
        }
    }
}
