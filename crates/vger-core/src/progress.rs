//! Events the engine emits during long jobs. The engine emits freely; the binding throttles what
//! reaches JavaScript.

use std::time::Duration;

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
    /// Waiting for a conflicting lock: sent when the wait starts, every few seconds while it lasts,
    /// and once more (`acquired`) when the lease is taken after waiting.
    LockWait(LockWait),
}

/// Who holds the lock an operation is waiting for, and how long the wait may still last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockWait {
    /// The holder's lock object, host, pid and operation (as shown by `vger locks`).
    pub key: String,
    pub hostname: String,
    pub pid: u32,
    pub operation: String,
    pub exclusive: bool,
    /// When the holder took its lease (ns since the epoch, the holder's clock).
    pub since_ns: i64,
    /// How long this operation has waited so far.
    pub waited: Duration,
    /// How much longer it will wait before failing with `VGER_LOCKED` (0 once acquired).
    pub remaining: Duration,
    /// The wait is over: the lease was taken.
    pub acquired: bool,
}

pub trait Progress: Send + Sync {
    fn event(&self, event: Event);
}

/// Discards every event.
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: Event) {}
}
