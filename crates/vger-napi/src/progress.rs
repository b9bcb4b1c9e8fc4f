//! Engine events as a tagged union, bridged to a JS callback at most ~10 times per second
//! (warnings always pass; the last totals are flushed when the job ends).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use napi::Status;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use vger_core::clock::rfc3339;
use vger_core::{Event, Progress};

use crate::errors::ErrorCode;

/// One progress event; TypeScript narrows on `type`. Mapped one to one from the engine's `Event`.
#[napi(discriminant = "type", discriminant_case = "camelCase")]
#[derive(Clone)]
pub enum ProgressEvent {
    /// Running totals of a backup.
    Backup {
        files: f64,
        bytes: f64,
        new_bytes: f64,
    },
    /// Running totals of a restore against the planned totals.
    Restore {
        files: f64,
        bytes: f64,
        total_files: f64,
        total_bytes: f64,
    },
    /// A maintenance job (check, compact, repair): `done` of `total` units of its current phase
    /// (mark, repack, packs, data, snapshots; `total` 0 when unknown).
    Step {
        phase: String,
        done: f64,
        total: f64,
    },
    /// Something was skipped; the job goes on.
    Warning {
        path: String,
        code: ErrorCode,
        message: String,
    },
    /// Waiting for a conflicting lock: when the wait starts, every few seconds while it lasts, and
    /// once more with `acquired` when the lease is taken. Sent to `Repository.open`'s `onLockEvent`.
    LockWait {
        /// The holder's lock object, host, pid, operation and kind (as `vger locks` shows them).
        key: String,
        hostname: String,
        pid: u32,
        operation: String,
        exclusive: bool,
        /// When the holder took its lease (RFC 3339).
        since: String,
        waited_secs: f64,
        /// How much longer the wait may last before failing with VGER_LOCKED (0 once acquired).
        remaining_secs: f64,
        acquired: bool,
    },
}

impl From<Event> for ProgressEvent {
    fn from(e: Event) -> Self {
        match e {
            Event::Backup {
                files,
                bytes,
                new_bytes,
            } => ProgressEvent::Backup {
                files: files as f64,
                bytes: bytes as f64,
                new_bytes: new_bytes as f64,
            },
            Event::Restore {
                files,
                bytes,
                total_files,
                total_bytes,
            } => ProgressEvent::Restore {
                files: files as f64,
                bytes: bytes as f64,
                total_files: total_files as f64,
                total_bytes: total_bytes as f64,
            },
            Event::Step { phase, done, total } => ProgressEvent::Step {
                phase: phase.into(),
                done: done as f64,
                total: total as f64,
            },
            Event::Warning(w) => ProgressEvent::Warning {
                path: w.path,
                code: w.code.into(),
                message: w.message,
            },
            Event::LockWait(w) => ProgressEvent::LockWait {
                key: w.key,
                hostname: w.hostname,
                pid: w.pid,
                operation: w.operation,
                exclusive: w.exclusive,
                since: rfc3339(w.since_ns),
                waited_secs: w.waited.as_secs_f64(),
                remaining_secs: w.remaining.as_secs_f64(),
                acquired: w.acquired,
            },
        }
    }
}

pub type ProgressFn = ThreadsafeFunction<ProgressEvent, (), ProgressEvent, Status, false>;

/// A callback that does not keep Node's event loop alive by itself: it belongs to an open
/// repository, which outlives every job, and is called only while a job runs.
pub type LockEventFn = ThreadsafeFunction<ProgressEvent, (), ProgressEvent, Status, false, true>;

/// Forwards lock waits and lock warnings of an open repository, unthrottled (the engine reports
/// a wait every few seconds).
pub struct JsLockEvents(pub LockEventFn);

impl Progress for JsLockEvents {
    fn event(&self, event: Event) {
        self.0
            .call(event.into(), ThreadsafeFunctionCallMode::NonBlocking);
    }
}

const INTERVAL: Duration = Duration::from_millis(100);

pub struct JsProgress {
    tsfn: ProgressFn,
    last: Mutex<Option<Instant>>,
    pending: Mutex<Option<ProgressEvent>>,
}

impl JsProgress {
    pub fn new(tsfn: ProgressFn) -> Self {
        Self {
            tsfn,
            last: Mutex::new(None),
            pending: Mutex::new(None),
        }
    }

    fn send(&self, e: ProgressEvent) {
        self.tsfn.call(e, ThreadsafeFunctionCallMode::NonBlocking);
    }

    /// Sends the last coalesced totals, so the final numbers always reach JS.
    pub fn flush(&self) {
        let pending = self.pending.lock().ok().and_then(|mut p| p.take());
        if let Some(e) = pending {
            self.send(e);
        }
    }
}

impl Progress for JsProgress {
    fn event(&self, event: Event) {
        let e = ProgressEvent::from(event);
        if matches!(e, ProgressEvent::Warning { .. }) {
            self.send(e);
            return;
        }
        let now = Instant::now();
        let due = {
            let Ok(mut last) = self.last.lock() else {
                return;
            };
            let due = last.is_none_or(|t| now.duration_since(t) >= INTERVAL);
            if due {
                *last = Some(now);
            }
            due
        };
        if due {
            if let Ok(mut p) = self.pending.lock() {
                *p = None;
            }
            self.send(e);
        } else if let Ok(mut p) = self.pending.lock() {
            *p = Some(e);
        }
    }
}
