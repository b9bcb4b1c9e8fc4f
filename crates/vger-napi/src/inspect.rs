//! Read-only inspection: repository totals, snapshot diff and find, and the passphrase change.

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Result};
use napi_derive::napi;
use vger_core::clock::rfc3339;

use crate::dto::{KdfParams, KeyInfo, escape};
use crate::enums::{DiffChange, EntryKind, FindKind, FindStatus};
use crate::job::run;
use crate::repo::Repository;

#[napi(object)]
pub struct RepoStats {
    pub snapshots: f64,
    pub original_bytes: f64,
    pub unique_chunks: f64,
    pub deduplicated_bytes: f64,
    pub compressed_bytes: f64,
    pub packs: f64,
    pub stored_bytes: f64,
}

#[napi(object)]
pub struct DiffEntry {
    pub path: String,
    pub change: DiffChange,
    pub kind: EntryKind,
    pub old_kind: Option<EntryKind>,
    pub old_size: Option<f64>,
    pub new_size: Option<f64>,
    pub fields: Vec<String>,
}

#[napi(object)]
pub struct DiffOutcome {
    pub a: String,
    pub b: String,
    pub entries: Vec<DiffEntry>,
    pub added: f64,
    pub removed: f64,
    pub modified: f64,
    pub metadata: f64,
    pub bytes_added: f64,
    pub bytes_removed: f64,
    /// Tree blobs read (equal subtrees are skipped unread).
    pub trees_read: f64,
}

#[napi(object)]
pub struct FindOptions {
    pub snapshots: Vec<String>,
    pub path: Option<String>,
    pub name: Option<String>,
    pub iname: Option<String>,
    pub kind: Option<FindKind>,
    pub larger: Option<f64>,
    pub smaller: Option<f64>,
}

#[napi(object)]
pub struct FindVersion {
    pub snapshot: String,
    pub time: String,
    pub size: f64,
    pub mtime: String,
    pub status: FindStatus,
}

#[napi(object)]
pub struct FindResult {
    pub path: String,
    pub kind: EntryKind,
    pub versions: Vec<FindVersion>,
}

fn size(v: Option<f64>, what: &str) -> vger_core::Result<Option<u64>> {
    match v {
        None => Ok(None),
        Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x as u64)),
        Some(x) => Err(vger_core::VgerError::invalid(format!(
            "{what} must be a size in bytes, not {x}"
        ))),
    }
}

impl FindOptions {
    fn into_core(self) -> vger_core::Result<vger_core::FindOptions> {
        Ok(vger_core::FindOptions {
            snapshots: self.snapshots,
            path: self.path.unwrap_or_default(),
            name: self.name,
            iname: self.iname,
            kind: self.kind.map(Into::into),
            larger: size(self.larger, "larger")?,
            smaller: size(self.smaller, "smaller")?,
        })
    }
}

#[napi]
impl Repository {
    /// Repository totals: snapshots, original, deduplicated, compressed and stored sizes.
    #[napi]
    pub fn stats<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, RepoStats>> {
        let repo = self.core();
        run(env, move || {
            let s = vger_core::repo_stats(&repo)?;
            Ok(RepoStats {
                snapshots: s.snapshots as f64,
                original_bytes: s.original_bytes as f64,
                unique_chunks: s.unique_chunks as f64,
                deduplicated_bytes: s.deduplicated_bytes as f64,
                compressed_bytes: s.compressed_bytes as f64,
                packs: s.packs as f64,
                stored_bytes: s.stored_bytes as f64,
            })
        })
    }

    /// What changed from snapshot `a` to snapshot `b`.
    #[napi]
    pub fn diff<'e>(
        &self,
        env: &'e Env,
        a: String,
        b: String,
    ) -> Result<PromiseRaw<'e, DiffOutcome>> {
        let repo = self.core();
        run(env, move || {
            let d = vger_core::diff(&repo, &a, &b)?;
            Ok(DiffOutcome {
                a: d.a.id.to_hex(),
                b: d.b.id.to_hex(),
                entries: d
                    .entries
                    .iter()
                    .map(|e| DiffEntry {
                        path: escape(&e.path),
                        change: e.change.into(),
                        kind: e.kind.into(),
                        old_kind: e.old_kind.map(Into::into),
                        old_size: e.old_size.map(|s| s as f64),
                        new_size: e.new_size.map(|s| s as f64),
                        fields: e.fields.iter().map(|f| (*f).into()).collect(),
                    })
                    .collect(),
                added: d.added as f64,
                removed: d.removed as f64,
                modified: d.modified as f64,
                metadata: d.metadata as f64,
                bytes_added: d.bytes_added as f64,
                bytes_removed: d.bytes_removed as f64,
                trees_read: d.trees_read as f64,
            })
        })
    }

    /// A per-path timeline across snapshots.
    #[napi]
    pub fn find<'e>(
        &self,
        env: &'e Env,
        opts: FindOptions,
    ) -> Result<PromiseRaw<'e, Vec<FindResult>>> {
        let repo = self.core();
        run(env, move || {
            let out = vger_core::find(&repo, &opts.into_core()?)?;
            let snaps: Vec<(String, String)> = out
                .snapshots
                .iter()
                .map(|s| (s.id.to_hex(), rfc3339(s.start_ns)))
                .collect();
            Ok(out
                .results
                .iter()
                .map(|r| FindResult {
                    path: escape(&r.path),
                    kind: r.kind.into(),
                    versions: r
                        .versions
                        .iter()
                        .map(|v| FindVersion {
                            snapshot: snaps[v.snapshot].0.clone(),
                            time: snaps[v.snapshot].1.clone(),
                            size: v.size as f64,
                            mtime: rfc3339(v.mtime_ns),
                            status: v.status.into(),
                        })
                        .collect(),
                })
                .collect())
        })
    }

    /// Re-wraps the master key under a new passphrase; the old one stops working.
    #[napi]
    pub fn change_passphrase<'e>(
        &self,
        env: &'e Env,
        new_passphrase: String,
        kdf: Option<KdfParams>,
    ) -> Result<PromiseRaw<'e, ()>> {
        let repo = self.core();
        let kdf = kdf.map(Into::into).unwrap_or_default();
        run(env, move || repo.change_passphrase(&new_passphrase, kdf))
    }

    /// The key files, the one this handle was opened with marked `current`.
    #[napi]
    pub fn list_keys<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, Vec<KeyInfo>>> {
        let repo = self.core();
        run(env, move || {
            Ok(repo.list_keys()?.iter().map(Into::into).collect())
        })
    }

    /// Adds a key file for another passphrase; resolves to its id.
    #[napi]
    pub fn add_key<'e>(
        &self,
        env: &'e Env,
        passphrase: String,
        kdf: Option<KdfParams>,
    ) -> Result<PromiseRaw<'e, String>> {
        let repo = self.core();
        let kdf = kdf.map(Into::into).unwrap_or_default();
        run(env, move || repo.add_key(&passphrase, kdf))
    }

    /// Removes a key file other than the one in use (a unique id prefix is enough); resolves to
    /// its full id.
    #[napi]
    pub fn remove_key<'e>(&self, env: &'e Env, id: String) -> Result<PromiseRaw<'e, String>> {
        let repo = self.core();
        run(env, move || repo.remove_key(&id))
    }
}
