//! Snapshot changes: tags, pin and description (`snapshot tag|pin|unpin|describe`) and
//! `snapshot rewrite`. Each changed snapshot is replaced by a new one with a new id.

use napi::Env;
use napi::Result;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;
use vger_core::{Annotation, TagChange};

use crate::dto::{SnapshotSummary, escape};
use crate::enums::CompressionAlgorithm;
use crate::job::{job, run};
use crate::progress::ProgressFn;
use crate::repo::{CancelToken, Repository};

/// A change to snapshots' tags, pin or description; absent fields stay as they are.
#[napi(object)]
pub struct SnapshotChange {
    pub add_tags: Option<Vec<String>>,
    pub remove_tags: Option<Vec<String>>,
    pub set_tags: Option<Vec<String>>,
    pub pinned: Option<bool>,
    pub description: Option<String>,
    pub dry_run: Option<bool>,
}

#[napi(object)]
pub struct SnapshotChangeItem {
    pub before: SnapshotSummary,
    /// The snapshot that replaces it (a new id); absent when the change leaves it as it is.
    pub after: Option<SnapshotSummary>,
}

#[napi(object)]
pub struct SnapshotChangeOutcome {
    pub items: Vec<SnapshotChangeItem>,
    pub changed: f64,
    pub applied: bool,
}

#[napi(object)]
pub struct RewriteOptions {
    /// Globs over the whole path from the snapshot root (`*` may cross `/`).
    pub exclude: Vec<String>,
    /// Remove each original once its rewrite is stored.
    pub forget: Option<bool>,
    pub dry_run: Option<bool>,
    /// Compression of the new tree blobs (default lz4).
    pub compression: Option<CompressionAlgorithm>,
    pub zstd_level: Option<i32>,
}

#[napi(object)]
pub struct RewriteItem {
    pub original: SnapshotSummary,
    /// The new snapshot (with `dryRun`, what it would be); absent when nothing matched in it.
    pub rewritten: Option<SnapshotSummary>,
    /// Paths removed, escaped as `ListEntry.path` (a directory once, with what it held).
    pub removed_paths: Vec<String>,
    pub removed_entries: f64,
    pub removed_bytes: f64,
    pub forgotten: bool,
}

#[napi(object)]
pub struct RewriteOutcome {
    pub items: Vec<RewriteItem>,
    pub applied: bool,
}

#[napi(object)]
pub struct CopyOptions {
    /// Compression of the blobs stored in the destination (default lz4).
    pub compression: Option<CompressionAlgorithm>,
    pub zstd_level: Option<i32>,
    pub dry_run: Option<bool>,
}

#[napi(object)]
pub struct CopiedSnapshot {
    pub source: SnapshotSummary,
    /// The snapshot written to the destination; absent when it had it already.
    pub copied: Option<SnapshotSummary>,
}

#[napi(object)]
pub struct CopyOutcome {
    pub snapshots: Vec<CopiedSnapshot>,
    /// Blobs stored in the destination and their bytes before compression.
    pub blobs: f64,
    pub bytes: f64,
    /// Bytes of the packs written to the destination.
    pub stored_bytes: f64,
    /// File bytes read from the source.
    pub bytes_read: f64,
    /// The repositories have different keys or chunker parameters: files were cut again.
    pub rechunked: bool,
    pub applied: bool,
}

#[napi]
impl Repository {
    /// Copies snapshots of this repository (full ids) into `dest`, storing only what it lacks.
    #[napi]
    pub fn copy_to<'e>(
        &self,
        env: &'e Env,
        dest: &Repository,
        ids: Vec<String>,
        opts: CopyOptions,
        on_progress: Option<ProgressFn>,
        cancel: Option<&CancelToken>,
    ) -> Result<PromiseRaw<'e, CopyOutcome>> {
        let src = self.core();
        let dst = dest.core();
        job(env, on_progress, cancel, move |progress, cancel| {
            let dry_run = opts.dry_run == Some(true);
            let snapshots = vger_core::plan_delete_snapshots(&src, &ids)?;
            let core = vger_core::CopyOptions {
                compression: opts
                    .compression
                    .unwrap_or(CompressionAlgorithm::Lz4)
                    .with_level(opts.zstd_level)?,
                threads: 0,
                dry_run,
            };
            let done = vger_core::copy(&src, &dst, &snapshots, &core, progress, cancel)?;
            Ok(CopyOutcome {
                snapshots: done
                    .snapshots
                    .iter()
                    .map(|c| CopiedSnapshot {
                        source: (&c.source).into(),
                        copied: c.copied.as_ref().map(Into::into),
                    })
                    .collect(),
                blobs: done.blobs as f64,
                bytes: done.bytes as f64,
                stored_bytes: done.stored_bytes as f64,
                bytes_read: done.bytes_read as f64,
                rechunked: done.rechunked,
                applied: !dry_run,
            })
        })
    }

    /// Changes tags, pin or description: each changed snapshot is replaced by a new one.
    #[napi]
    pub fn change_snapshots<'e>(
        &self,
        env: &'e Env,
        ids: Vec<String>,
        change: SnapshotChange,
    ) -> Result<PromiseRaw<'e, SnapshotChangeOutcome>> {
        let repo = self.core();
        run(env, move || {
            let tags = match (change.add_tags, change.remove_tags, change.set_tags) {
                (None, None, None) => None,
                (Some(t), None, None) => Some(TagChange::Add(t)),
                (None, Some(t), None) => Some(TagChange::Remove(t)),
                (None, None, Some(t)) => Some(TagChange::Set(t)),
                _ => {
                    return Err(vger_core::VgerError::invalid(
                        "give one of add, remove or set tags",
                    ));
                }
            };
            let annotation = Annotation {
                tags,
                pinned: change.pinned,
                description: change.description,
            };
            let plan = vger_core::plan_annotate(&repo, &ids, &annotation)?;
            let applied = change.dry_run != Some(true);
            if applied {
                vger_core::annotate(&repo, &plan)?;
            }
            Ok(SnapshotChangeOutcome {
                changed: plan.changed() as f64,
                items: plan
                    .items
                    .iter()
                    .map(|(b, a)| SnapshotChangeItem {
                        before: b.into(),
                        after: a.as_ref().map(Into::into),
                    })
                    .collect(),
                applied,
            })
        })
    }

    /// Makes new snapshots without the paths the patterns match (`snapshot rewrite`).
    #[napi]
    pub fn rewrite_snapshots<'e>(
        &self,
        env: &'e Env,
        ids: Vec<String>,
        opts: RewriteOptions,
        on_progress: Option<ProgressFn>,
        cancel: Option<&CancelToken>,
    ) -> Result<PromiseRaw<'e, RewriteOutcome>> {
        let repo = self.core();
        job(env, on_progress, cancel, move |progress, cancel| {
            let dry_run = opts.dry_run == Some(true);
            let core = vger_core::RewriteOptions {
                exclude: opts.exclude,
                forget: opts.forget == Some(true),
                dry_run,
                compression: opts
                    .compression
                    .unwrap_or(CompressionAlgorithm::Lz4)
                    .with_level(opts.zstd_level)?,
                threads: 0,
            };
            let done = vger_core::rewrite(&repo, &ids, &core, progress, cancel)?;
            Ok(RewriteOutcome {
                items: done
                    .iter()
                    .map(|r| RewriteItem {
                        original: (&r.original).into(),
                        rewritten: r.rewritten.as_ref().map(Into::into),
                        removed_paths: r.removed_paths.iter().map(|p| escape(p)).collect(),
                        removed_entries: r.removed_entries as f64,
                        removed_bytes: r.removed_bytes as f64,
                        forgotten: r.forgotten,
                    })
                    .collect(),
                applied: !dry_run,
            })
        })
    }
}
