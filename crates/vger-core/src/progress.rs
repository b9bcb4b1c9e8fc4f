//! Events the engine emits during long jobs. The engine emits freely; the binding throttles what
//! reaches JavaScript.

use vger_types::ErrorCode;

/// A file or directory that was skipped (backup) or could not be restored (restore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub path: String,
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Debug, Clone)]
pub enum Event {
    /// Running totals of a backup.
    Backup {
        files: u64,
        bytes: u64,
        new_bytes: u64,
    },
    /// Running totals of a restore against the planned totals.
    Restore {
        files: u64,
        bytes: u64,
        total_files: u64,
        total_bytes: u64,
    },
    /// A maintenance job (check, compact, repair): `done` of `total` units of its current phase
    /// (`total` 0 when unknown).
    Step {
        phase: &'static str,
        done: u64,
        total: u64,
    },
    /// Something was skipped; the job goes on.
    Warning(Warning),
}

pub trait Progress: Send + Sync {
    fn event(&self, event: Event);
}

/// Discards every event.
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: Event) {}
}
