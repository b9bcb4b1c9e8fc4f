//! `restore`: plan from the snapshot's trees, then write into a new or empty directory.
//! Order: directories, regular files (in parallel), hard links, special files, symlinks, and
//! finally directory metadata from the deepest up. Every name was validated when its tree was
//! decoded, and everything is created relative to directory handles without following links
//! ([`dest`]), so nothing can land outside the destination even when another process swaps a
//! directory for a symlink meanwhile; such a directory is reported with everything under it. A
//! chunk is written only after it has been authenticated and its keyed id recomputed: a damaged
//! file is removed and reported.
//!
//! With `overwrite`, the destination may hold a tree already ([`existing`]): its directories are
//! taken over, each entry is kept, compared or replaced, a file is written under a temporary name
//! and renamed into place once complete, and with `delete` what the snapshot does not hold is
//! removed.

// The destination through directory handles (`openat`) on Unix, by path on Windows
// (docs/platforms.md).
#[cfg(unix)]
mod dest;
#[cfg(windows)]
#[path = "windows/dest.rs"]
mod dest;
#[cfg(unix)]
mod existing;
#[cfg(windows)]
#[path = "windows/existing.rs"]
mod existing;
mod overwrite;
mod packed;
mod plan;
#[cfg(unix)]
mod write;
#[cfg(windows)]
#[path = "windows/write.rs"]
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
    /// pattern that matches nothing is an error (`VGER_PATTERN_UNMATCHED`).
    pub patterns: Vec<String>,
    /// Globs like `patterns` whose matches (and their subtrees) are not restored; an exclude wins
    /// over an include whatever their order. One that matches nothing is an error too.
    pub excludes: Vec<String>,
    /// Parallel file writers; 0 = two per core.
    pub threads: usize,
    /// Restore into an existing tree: what to do with an entry already at a name. `None`: the
    /// destination must be new or empty (`VGER_DEST_NOT_EMPTY` otherwise).
    pub overwrite: Option<Overwrite>,
    /// Remove what the destination holds and the snapshot does not, where the patterns select it
    /// (only with `overwrite`).
    pub delete: bool,
    /// Write nothing: the outcome says what would be created, replaced, kept and deleted.
    pub dry_run: bool,
}

/// What restore does with an entry already at a name of the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Keep it; create only what is missing.
    Never,
    /// Keep a file whose size and modification time match the snapshot, or failing that whose
    /// content does (its chunk ids), and a symlink with the same target; replace anything else.
    IfChanged,
    /// Replace every entry.
    Always,
}

/// One entry of a dry run: `create`, `replace`, `unchanged` or `delete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreChange {
    pub path: String,
    pub action: String,
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
    /// Into an existing tree: entries left as they were (same content, or `--overwrite never`);
    /// not counted in `files`, `symlinks` or `others`, which count what was written.
    pub unchanged: u64,
    /// Of those written, how many replaced an entry that was there.
    pub replaced: u64,
    /// Entries removed by `delete` (a directory with what was in it counts each).
    pub deleted: u64,
    /// A dry run's list of what it would do, files and links in plan order then deletions.
    pub changes: Vec<RestoreChange>,
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
    let mut plan = plan::build(repo, &snap.tree, &opts.patterns, &opts.excludes)?;
    let cmp = opts
        .overwrite
        .map(|mode| existing::Compare::new(repo, mode));
    let delete = opts.delete && opts.overwrite.is_some();
    if opts.dry_run {
        return overwrite::dry_run(cmp.as_ref(), &opts.dest, &plan, delete, cancel);
    }
    let dest = dest::Dest::open(&opts.dest, opts.overwrite)?;
    let paths = if delete { plan.paths() } else { HashSet::new() };
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
    if let Some(c) = &cmp {
        plan.files = decide_files(
            c,
            &dest,
            std::mem::take(&mut plan.files),
            &mut out,
            &fail,
            cancel,
        )?;
    }
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
        if it.entry.kind != Kind::Socket && !make_room(cmp.as_ref(), &dest, it, &mut out, &fail) {
            continue;
        }
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
        if !make_room(cmp.as_ref(), &dest, it, &mut out, &fail) {
            continue;
        }
        match write::symlink(&dest, it) {
            Ok(()) => out.symlinks += 1,
            Err(e) => fail(&it.rel, &e),
        }
    }
    if delete {
        let mut gone = Vec::new();
        let mut dirs: Vec<&[u8]> = vec![b""];
        dirs.extend(plan.dirs.iter().map(|d| d.rel.as_slice()));
        for rel in dirs {
            let Ok(fd) = dest.dir(rel) else { continue };
            let base = dest.path(b"");
            if let Err(e) =
                existing::delete_extras(&fd, rel, &base, &plan, &paths, false, cancel, &mut gone)
            {
                if matches!(e, VgerError::Cancelled) {
                    return Err(e);
                }
                fail(rel, &e);
            }
        }
        out.deleted = gone.len() as u64;
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

/// Into an existing tree, what to do with each planned file: those unchanged are counted and
/// dropped; the returned ones are to be written.
fn decide_files(
    c: &existing::Compare<'_>,
    dest: &dest::Dest,
    files: Vec<plan::Item>,
    out: &mut RestoreOutcome,
    fail: &dyn Fn(&[u8], &VgerError),
    cancel: &CancelToken,
) -> Result<Vec<plan::Item>> {
    let mut write = Vec::with_capacity(files.len());
    for it in files {
        cancel.check()?;
        let (parent, n) = dest::split(&it.rel);
        let dir = match dest.dir(parent) {
            Ok(d) => d,
            Err(e @ VgerError::DestinationChanged(_)) => {
                fail(&it.rel, &e);
                continue;
            }
            Err(e) => return Err(e),
        };
        match c.decide(Some(&dir), n, &it, &dest.path(&it.rel), true) {
            Ok(existing::Action::Unchanged) => out.unchanged += 1,
            Ok(existing::Action::Replace) => {
                out.replaced += 1;
                write.push(it);
            }
            Ok(existing::Action::Create) => write.push(it),
            Err(e) => fail(&it.rel, &e),
        }
    }
    Ok(write)
}

/// Into an existing tree, before a link or special file is created: whether to create it (what
/// was at its name is removed), or not (it is unchanged, or could not be removed: reported).
fn make_room(
    cmp: Option<&existing::Compare<'_>>,
    dest: &dest::Dest,
    it: &plan::Item,
    out: &mut RestoreOutcome,
    fail: &dyn Fn(&[u8], &VgerError),
) -> bool {
    let Some(c) = cmp else { return true };
    let (parent, n) = dest::split(&it.rel);
    let r = dest.dir(parent).and_then(|dir| {
        let a = c.decide(Some(&dir), n, it, &dest.path(&it.rel), false)?;
        if a == existing::Action::Replace {
            dest.clear(&it.rel)?;
        }
        Ok(a)
    });
    match r {
        Ok(existing::Action::Unchanged) => {
            out.unchanged += 1;
            false
        }
        Ok(existing::Action::Replace) => {
            out.replaced += 1;
            true
        }
        Ok(existing::Action::Create) => true,
        Err(e) => {
            fail(&it.rel, &e);
            false
        }
    }
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
