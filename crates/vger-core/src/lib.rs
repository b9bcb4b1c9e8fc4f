//! The vger repository engine. It never prints, never reads the environment or YAML, and knows
//! nothing of hooks or schedules: callers pass options in, get outcomes back, and observe long
//! jobs through [`progress::Progress`] events and a [`cancel::CancelToken`].

pub(crate) mod bufpool;
pub mod cancel;
pub mod chunker;
pub mod clock;
pub mod commands;
pub mod compress;
pub(crate) mod platform;
pub mod progress;
pub mod repo;
pub mod retention;
pub mod tree;

pub use cancel::CancelToken;
pub use commands::annotate::{AnnotatePlan, Annotation, TagChange, annotate, plan_annotate};
pub use commands::backup::{
    BackupOptions, BackupOutcome, FileChanges, SourceFilter, StreamFrom, StreamSource, backup,
};
pub use commands::browse::{BrowseCache, lookup, read_range};
pub use commands::check::{CheckOptions, CheckReport, DamagedSnapshot, Problem, check};
pub use commands::compact::{
    CompactOptions, CompactOutcome, CompactPlan, PackUse, compact, plan_compact,
};
pub use commands::copy::{CopiedSnapshot, CopyOptions, CopyOutcome, copy};
pub use commands::delete_repository::{
    DeleteRepositoryPlan, delete_repository, plan_delete_repository,
};
pub use commands::delete_snapshots::{delete_snapshots, plan_delete_snapshots};
pub use commands::diff::{Change, DiffEntry, DiffOutcome, diff};
pub use commands::find::{FindOptions, FindOutcome, FindResult, KindFilter, Status, find};
pub use commands::init::{InitOptions, init};
pub use commands::list::{ListEntry, list_contents};
pub use commands::prune::{PruneOptions, PrunePlan, plan_prune, prune};
pub use commands::repair::{RepairOptions, RepairPlan, plan_repair, repair};
pub use commands::restore::{
    Overwrite, RestoreChange, RestoreOptions, RestoreOutcome, Skipped, restore,
};
pub use commands::rewrite::{RewriteOptions, Rewritten, rewrite};
pub use commands::stats::{RepoStats, repo_stats};
pub use progress::{Event, LockWait, NoProgress, Progress, Warning};
pub use repo::Repository;
pub use repo::config::{ChunkerParams, RepoConfig};
pub use repo::keys::KeyInfo;
pub use repo::lock::{
    LeaseSettings, LockInfo, LockKind, ReadLease, break_locks, break_locks_at, list_locks,
};
pub use repo::process::{ProcessStamp, ProcessState};
pub use repo::snapshot::{Snapshot, SnapshotMeta, SnapshotStats};
pub use retention::{Decision, GroupBy, GroupPlan, RetentionPolicy};
pub use vger_crypto::{Algorithm, KdfParams};
pub use vger_storage::{BackendOptions, RetryOptions};
pub use vger_types::{ErrorCode, Result, VgerError};
