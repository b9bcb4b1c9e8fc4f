//! `restore`: plan from the snapshot's trees, then write into a new or empty directory.
//! Order: directories, regular files (in parallel), hard links, special files, symlinks, and
//! finally directory metadata from the deepest up. Symlinks come after everything else, so no
//! write of this restore can pass through a symlink it created; every name was validated when its
//! tree was decoded, so nothing can land outside the destination. A chunk is written only after it
//! has been authenticated and its keyed id recomputed: a damaged file is removed and reported.

mod packed;
mod plan;
mod write;

use std::fs;
use std::path::{Path, PathBuf};
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
    let dest = prepare_dest(&opts.dest)?;
    let mut out = RestoreOutcome::default();
    let errors = Mutex::new(Vec::new());
    let fail = |rel: &[u8], e: &VgerError| {
        errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Warning {
                path: String::from_utf8_lossy(rel).into_owned(),
                code: e.code(),
                message: e.to_string(),
            });
    };
    for d in &plan.dirs {
        cancel.check()?;
        write::create_dir(&dest, &d.rel)?;
        out.dirs += 1;
    }
    let threads = match opts.threads {
        0 => 2 * std::thread::available_parallelism().map_or(2, |n| n.get()),
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
    out.errors = errors
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(out)
}

/// The destination must not exist or be an empty directory.
fn prepare_dest(dest: &Path) -> Result<PathBuf> {
    match fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => {
            let mut it = fs::read_dir(dest)
                .map_err(|e| VgerError::io(format!("reading {}", dest.display()), e))?;
            if it.next().is_some() {
                return Err(VgerError::DestinationNotEmpty(dest.display().to_string()));
            }
        }
        Ok(_) => return Err(VgerError::DestinationNotEmpty(dest.display().to_string())),
        Err(_) => fs::create_dir_all(dest)
            .map_err(|e| VgerError::io(format!("creating {}", dest.display()), e))?,
    }
    fs::canonicalize(dest).map_err(|e| VgerError::io(format!("resolving {}", dest.display()), e))
}
