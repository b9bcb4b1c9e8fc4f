//! Maintenance: snapshot delete, prune, compact, check, repair, locks and repository delete.

use std::collections::HashMap;
use std::time::Duration;

use napi::Env;
use napi::Result;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;
use vger_core::clock::{now_ns, rfc3339};
use vger_core::retention::{GroupBy, RetentionPolicy};

use crate::dto::{SnapshotSummary, escape};
use crate::enums::{LockKind, ProcessState};
use crate::errors::ErrorCode;
use crate::job::{job, run};
use crate::progress::ProgressFn;
use crate::repo::{CancelToken, Repository};

#[napi(object)]
pub struct DeleteSnapshotsOutcome {
    pub snapshots: Vec<SnapshotSummary>,
    pub removed: f64,
    pub applied: bool,
}

#[napi(object)]
#[derive(Clone, Default)]
pub struct Retention {
    pub keep_last: Option<u32>,
    pub keep_hourly: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_yearly: Option<u32>,
    /// "36h", "2d", "1w", "6m", "1y".
    pub keep_within: Option<String>,
}

impl Retention {
    fn into_core(self) -> vger_core::Result<RetentionPolicy> {
        Ok(RetentionPolicy {
            keep_last: self.keep_last,
            keep_hourly: self.keep_hourly,
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
            keep_monthly: self.keep_monthly,
            keep_yearly: self.keep_yearly,
            keep_within_ns: self
                .keep_within
                .as_deref()
                .map(RetentionPolicy::parse_within)
                .transpose()?,
        })
    }
}

#[napi(object)]
pub struct GroupByOptions {
    pub host: bool,
    pub label: bool,
    pub paths: bool,
}

#[napi(object)]
pub struct PruneOptions {
    pub retention: Retention,
    /// Per-source policies keyed by snapshot label.
    pub by_label: Option<HashMap<String, Retention>>,
    pub group_by: Option<GroupByOptions>,
    pub labels: Option<Vec<String>>,
    /// Only snapshots with every tag of one of these groups.
    pub tags: Option<Vec<Vec<String>>>,
    pub force: Option<bool>,
    pub dry_run: Option<bool>,
    /// The caller's offset from UTC, for local days, weeks, months and years.
    pub utc_offset_secs: Option<i32>,
}

#[napi(object)]
pub struct PruneDecision {
    pub snapshot: SnapshotSummary,
    pub keep: bool,
    pub reasons: Vec<String>,
}

#[napi(object)]
pub struct PruneGroup {
    pub hostname: Option<String>,
    pub label: Option<String>,
    pub paths: Option<Vec<String>>,
    pub policy_would_remove_all: bool,
    /// Newest first.
    pub decisions: Vec<PruneDecision>,
}

#[napi(object)]
pub struct PruneOutcome {
    pub groups: Vec<PruneGroup>,
    pub keep: f64,
    pub remove: f64,
    pub removed: f64,
    pub applied: bool,
}

#[napi(object)]
pub struct CompactOptions {
    /// Repack packs more than this percent unused (default 10).
    pub threshold_pct: Option<f64>,
    pub max_repack_bytes: Option<f64>,
    /// Unindexed packs younger than this are left alone (default 3600).
    pub grace_secs: Option<f64>,
    pub dry_run: Option<bool>,
}

#[napi(object)]
pub struct PackUse {
    pub pack: String,
    pub size: f64,
    pub used_bytes: f64,
}

#[napi(object)]
pub struct CompactOutcome {
    pub applied: bool,
    pub snapshots: f64,
    pub packs_total: f64,
    pub bytes_total: f64,
    pub repack: Vec<PackUse>,
    pub delete: Vec<PackUse>,
    pub orphans: f64,
    pub young_orphans: f64,
    /// Packs earlier compactions retired that wait for readers to finish.
    pub pending_packs: f64,
    pub segments: f64,
    pub bytes_freed: f64,
    pub bytes_repacked: f64,
    pub packs_written: f64,
    pub packs_deleted: f64,
    pub segments_written: f64,
    pub debris_removed: f64,
    pub damaged_blobs: f64,
    /// Retired packs left for a later compaction because other clients were reading.
    pub packs_pending: f64,
    /// Blobs of snapshots made during the compaction, indexed again where they are.
    pub blobs_reindexed: f64,
    /// New packs the storage host (a vger server) built from ranges of packs it holds.
    pub packs_assembled: f64,
}

#[napi(object)]
pub struct CheckOptions {
    pub verify_data: Option<bool>,
    pub read_data_subset_pct: Option<f64>,
    /// Have the vger server hash every pack against its id (nothing is downloaded).
    pub verify_on_server: Option<bool>,
}

#[napi(object)]
pub struct Problem {
    pub object: String,
    pub code: ErrorCode,
    pub message: String,
}

#[napi(object)]
pub struct DamagedSnapshot {
    pub snapshot: SnapshotSummary,
    /// Paths that cannot be restored in full (at most 1000). A directory whose listing cannot be
    /// read ends in "/" (nothing under it can be restored); "/" alone is the snapshot's root.
    pub files: Vec<String>,
    /// Damaged paths in all, unreadable directories included.
    pub files_total: f64,
    /// How many of `filesTotal` are unreadable directories.
    pub dirs_total: f64,
}

#[napi(object)]
pub struct CheckReport {
    pub ok: bool,
    pub snapshots: f64,
    pub trees: f64,
    pub chunks_referenced: f64,
    pub packs: f64,
    pub packs_read: f64,
    pub blobs_verified: f64,
    pub bytes_read: f64,
    /// Packs the vger server hashed against their ids (`verifyOnServer`).
    pub packs_verified_on_server: f64,
    pub unindexed_packs: f64,
    /// Packs stored under another key than their own (each is also listed as a problem).
    pub misplaced_packs: f64,
    pub hidden_newer: f64,
    pub problems: Vec<Problem>,
    pub damaged: Vec<DamagedSnapshot>,
}

impl From<&vger_core::CheckReport> for CheckReport {
    fn from(r: &vger_core::CheckReport) -> Self {
        CheckReport {
            ok: r.ok(),
            snapshots: r.snapshots as f64,
            trees: r.trees as f64,
            chunks_referenced: r.chunks_referenced as f64,
            packs: r.packs as f64,
            packs_read: r.packs_read as f64,
            blobs_verified: r.blobs_verified as f64,
            bytes_read: r.bytes_read as f64,
            packs_verified_on_server: r.packs_verified_on_server as f64,
            unindexed_packs: r.unindexed_packs as f64,
            misplaced_packs: r.misplaced_packs as f64,
            hidden_newer: r.hidden_newer as f64,
            problems: r
                .problems
                .iter()
                .map(|p| Problem {
                    object: p.object.clone(),
                    code: p.code.into(),
                    message: p.message.clone(),
                })
                .collect(),
            damaged: r
                .damaged
                .iter()
                .map(|d| DamagedSnapshot {
                    snapshot: (&d.snapshot).into(),
                    files: d
                        .files
                        .iter()
                        .map(|f| if f.is_empty() { "/".into() } else { escape(f) })
                        .collect(),
                    files_total: d.files_total as f64,
                    dirs_total: d.dirs_total as f64,
                })
                .collect(),
        }
    }
}

#[napi(object)]
pub struct RepairOptions {
    pub verify_data: Option<bool>,
    pub dry_run: Option<bool>,
}

#[napi(object)]
pub struct RepairOutcome {
    /// Whether anything needed repair (false: the packs and the index agree, nothing is damaged).
    pub needed: bool,
    pub applied: bool,
    pub packs_scanned: f64,
    /// Ids (64 hex digits) of damaged packs: their readable blobs move to new packs.
    pub packs_damaged: Vec<String>,
    /// Ids of packs written by a newer vger (left alone).
    pub packs_newer: Vec<String>,
    /// Keys at which packs were found outside their own place (the id is the last component):
    /// each is moved back to `packs/<first 2 hex>/<id>`.
    pub packs_misplaced: Vec<String>,
    pub blobs_indexed: f64,
    pub blobs_damaged: f64,
    pub blobs_salvaged: f64,
    /// Chunks whose data is missing or unreadable: they leave the index.
    pub entries_dropped: f64,
    /// Chunks found in packs that no index segment listed.
    pub entries_added: f64,
    /// Chunks whose index entry changes (salvaged into a new pack, or corrected).
    pub entries_moved: f64,
    /// Index segments that could not be read.
    pub segments_damaged: f64,
    pub segments_replaced: f64,
    pub check: CheckReport,
}

#[napi(object)]
pub struct LockInfo {
    pub key: String,
    pub kind: LockKind,
    pub created: String,
    pub expires: String,
    /// The lease has not expired.
    pub live: bool,
    /// Whether the process that holds it runs (judged on the same host only).
    pub process: ProcessState,
    pub hostname: String,
    pub pid: u32,
    pub operation: String,
}

#[napi(object)]
pub struct DeleteRepositoryOutcome {
    pub objects: f64,
    pub bytes: f64,
    pub applied: bool,
}

/// A plan not applied (yet).
impl From<&vger_core::CompactPlan> for CompactOutcome {
    fn from(plan: &vger_core::CompactPlan) -> Self {
        CompactOutcome {
            applied: false,
            snapshots: plan.snapshots as f64,
            packs_total: plan.packs_total as f64,
            bytes_total: plan.bytes_total as f64,
            repack: plan.repack.iter().map(pack_use).collect(),
            delete: plan.delete.iter().map(pack_use).collect(),
            orphans: plan.orphans.len() as f64,
            young_orphans: plan.young_orphans as f64,
            pending_packs: plan.pending_packs as f64,
            segments: plan.segments.len() as f64,
            bytes_freed: plan.bytes_freed as f64,
            bytes_repacked: plan.bytes_repacked as f64,
            packs_written: 0.0,
            packs_deleted: 0.0,
            segments_written: 0.0,
            debris_removed: 0.0,
            damaged_blobs: 0.0,
            packs_pending: 0.0,
            blobs_reindexed: 0.0,
            packs_assembled: 0.0,
        }
    }
}

/// A plan not applied (yet), with an empty check report until the check runs.
impl From<&vger_core::RepairPlan> for RepairOutcome {
    fn from(plan: &vger_core::RepairPlan) -> Self {
        RepairOutcome {
            needed: plan.needed(),
            applied: false,
            packs_scanned: plan.packs_scanned as f64,
            packs_damaged: plan.packs_damaged.iter().map(|k| pack_id_of(k)).collect(),
            packs_newer: plan.packs_newer.iter().map(|k| pack_id_of(k)).collect(),
            packs_misplaced: plan
                .packs_misplaced
                .iter()
                .map(|(k, _)| k.clone())
                .collect(),
            blobs_indexed: plan.blobs_indexed as f64,
            blobs_damaged: plan.blobs_damaged as f64,
            blobs_salvaged: plan.blobs_salvaged as f64,
            entries_dropped: plan.entries_dropped as f64,
            entries_added: plan.entries_added as f64,
            entries_moved: plan.entries_moved as f64,
            segments_damaged: plan.segments_damaged as f64,
            segments_replaced: plan.segments_replaced.len() as f64,
            check: (&vger_core::CheckReport::default()).into(),
        }
    }
}

/// A pack's id from its key (`packs/ab/<64 hex>`): the last component.
fn pack_id_of(key: &str) -> String {
    key.rsplit('/').next().unwrap_or(key).to_string()
}

fn pack_use(u: &vger_core::PackUse) -> PackUse {
    PackUse {
        pack: u.pack.to_hex(),
        size: u.size as f64,
        used_bytes: u.used_bytes as f64,
    }
}

#[napi]
impl Repository {
    /// Removes snapshot objects (all references are resolved first; one bad id removes nothing).
    #[napi]
    pub fn delete_snapshots<'e>(
        &self,
        env: &'e Env,
        ids: Vec<String>,
        dry_run: Option<bool>,
    ) -> Result<PromiseRaw<'e, DeleteSnapshotsOutcome>> {
        let repo = self.core();
        run(env, move || {
            let plan = vger_core::plan_delete_snapshots(&repo, &ids)?;
            let removed = if dry_run == Some(true) {
                None
            } else {
                Some(vger_core::delete_snapshots(&repo, &plan)?)
            };
            Ok(DeleteSnapshotsOutcome {
                snapshots: plan.iter().map(Into::into).collect(),
                removed: removed.unwrap_or(0) as f64,
                applied: removed.is_some(),
            })
        })
    }

    /// Applies retention: removes the snapshot objects the policy does not keep.
    #[napi]
    pub fn prune<'e>(
        &self,
        env: &'e Env,
        opts: PruneOptions,
    ) -> Result<PromiseRaw<'e, PruneOutcome>> {
        let repo = self.core();
        run(env, move || {
            let mut by_label = HashMap::new();
            for (k, v) in opts.by_label.unwrap_or_default() {
                by_label.insert(k, v.into_core()?);
            }
            let core = vger_core::PruneOptions {
                policy: opts.retention.into_core()?,
                by_label,
                group_by: opts.group_by.map_or_else(GroupBy::default, |g| GroupBy {
                    host: g.host,
                    label: g.label,
                    paths: g.paths,
                }),
                labels: opts.labels.unwrap_or_default(),
                tags: opts.tags.unwrap_or_default(),
                force: opts.force.unwrap_or(false),
                now_ns: now_ns(),
                utc_offset_secs: opts.utc_offset_secs.unwrap_or(0).into(),
            };
            let plan = vger_core::plan_prune(&repo, &core)?;
            let removed = if opts.dry_run == Some(true) {
                None
            } else {
                Some(vger_core::prune(&repo, &plan)?)
            };
            let groups = plan
                .groups
                .iter()
                .map(|g| PruneGroup {
                    hostname: g.hostname.clone(),
                    label: g.label.clone(),
                    paths: g
                        .paths
                        .as_ref()
                        .map(|p| p.iter().map(|x| escape(x)).collect()),
                    policy_would_remove_all: g.policy_would_remove_all,
                    decisions: g
                        .decisions
                        .iter()
                        .filter_map(|d| {
                            Some(PruneDecision {
                                snapshot: plan.snapshots.get(&d.id)?.into(),
                                keep: d.keep,
                                reasons: d.reasons.clone(),
                            })
                        })
                        .collect(),
                })
                .collect();
            Ok(PruneOutcome {
                groups,
                keep: plan.keep as f64,
                remove: plan.remove as f64,
                removed: removed.unwrap_or(0) as f64,
                applied: removed.is_some(),
            })
        })
    }

    /// Repacks or deletes packs no snapshot (fully) uses.
    #[napi]
    pub fn compact<'e>(
        &self,
        env: &'e Env,
        opts: CompactOptions,
        on_progress: Option<ProgressFn>,
        cancel: Option<&CancelToken>,
    ) -> Result<PromiseRaw<'e, CompactOutcome>> {
        let apply = opts.dry_run != Some(true);
        let mut core = vger_core::CompactOptions {
            max_repack_bytes: opts.max_repack_bytes.map(|b| b.max(0.0) as u64),
            ..Default::default()
        };
        if let Some(t) = opts.threshold_pct {
            core.threshold_pct = t;
        }
        if let Some(g) = opts.grace_secs.filter(|g| g.is_finite() && *g >= 0.0) {
            core.grace = Duration::from_secs_f64(g);
        }
        let repo = self.core();
        job(env, on_progress, cancel, move |progress, cancel| {
            let plan = vger_core::plan_compact(&repo, &core, progress, cancel)?;
            let mut out = CompactOutcome::from(&plan);
            if apply {
                let done = vger_core::compact(&repo, plan, progress, cancel)?;
                out.applied = true;
                out.packs_written = done.packs_written as f64;
                out.packs_deleted = done.packs_deleted as f64;
                out.segments_written = done.segments_written as f64;
                out.debris_removed = done.debris_removed as f64;
                out.damaged_blobs = done.damaged_blobs as f64;
                out.packs_pending = done.packs_pending as f64;
                out.blobs_reindexed = done.blobs_reindexed as f64;
                out.packs_assembled = done.packs_assembled as f64;
            }
            Ok(out)
        })
    }

    /// Verifies that every snapshot is restorable (with verifyData: reads every blob too).
    #[napi]
    pub fn check<'e>(
        &self,
        env: &'e Env,
        opts: CheckOptions,
        on_progress: Option<ProgressFn>,
        cancel: Option<&CancelToken>,
    ) -> Result<PromiseRaw<'e, CheckReport>> {
        let core = vger_core::CheckOptions {
            verify_data: opts.verify_data.unwrap_or(false),
            read_data_subset_pct: opts.read_data_subset_pct,
            verify_on_server: opts.verify_on_server.unwrap_or(false),
        };
        let repo = self.core();
        job(env, on_progress, cancel, move |progress, cancel| {
            Ok(CheckReport::from(&vger_core::check(
                &repo, &core, progress, cancel,
            )?))
        })
    }

    /// Rebuilds the index from the packs and salvages damaged packs.
    #[napi]
    pub fn repair<'e>(
        &self,
        env: &'e Env,
        opts: RepairOptions,
        on_progress: Option<ProgressFn>,
        cancel: Option<&CancelToken>,
    ) -> Result<PromiseRaw<'e, RepairOutcome>> {
        let apply = opts.dry_run != Some(true);
        let core = vger_core::RepairOptions {
            verify_data: opts.verify_data.unwrap_or(false),
        };
        let repo = self.core();
        job(env, on_progress, cancel, move |progress, cancel| {
            let plan = vger_core::plan_repair(&repo, &core, progress, cancel)?;
            let mut out = RepairOutcome::from(&plan);
            if apply && plan.needed() {
                vger_core::repair(&repo, plan, cancel)?;
                out.applied = true;
            } else {
                // Releases the exclusive lease: the check takes a shared one.
                drop(plan);
            }
            let check = vger_core::check(&repo, &Default::default(), progress, cancel)?;
            out.check = (&check).into();
            Ok(out)
        })
    }

    /// Lock objects in the repository (live and stale).
    #[napi]
    pub fn locks<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, Vec<LockInfo>>> {
        let repo = self.core();
        run(env, move || {
            let locks = vger_core::list_locks(&repo)?;
            let now = now_ns();
            Ok(locks
                .iter()
                .map(|l| LockInfo {
                    key: l.key.clone(),
                    kind: l.kind.into(),
                    created: rfc3339(l.created_ns),
                    expires: rfc3339(l.expires_ns),
                    live: l.live(now),
                    process: l.process_state().into(),
                    hostname: l.hostname.clone(),
                    pid: l.pid,
                    operation: l.operation.clone(),
                })
                .collect())
        })
    }

    /// Removes every lock object at once; returns how many.
    #[napi]
    pub fn break_lock<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, f64>> {
        let repo = self.core();
        run(env, move || Ok(vger_core::break_locks(&repo)? as f64))
    }

    /// Deletes the whole repository (or, with dryRun, says what that would remove).
    #[napi]
    pub fn delete_repository<'e>(
        &self,
        env: &'e Env,
        dry_run: Option<bool>,
    ) -> Result<PromiseRaw<'e, DeleteRepositoryOutcome>> {
        let repo = self.core();
        let apply = dry_run != Some(true);
        run(env, move || {
            let plan = vger_core::plan_delete_repository(&repo)?;
            if apply {
                vger_core::delete_repository(&repo)?;
            }
            Ok(DeleteRepositoryOutcome {
                objects: plan.objects as f64,
                bytes: plan.bytes as f64,
                applied: apply,
            })
        })
    }
}
