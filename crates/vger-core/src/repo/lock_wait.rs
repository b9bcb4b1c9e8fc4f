//! Lease acquisition as the user sees it: the reports of a wait for a conflicting lock, and when a
//! reader may go on without a lock (see [`super::lock`]).

use std::time::{Duration, Instant};

use vger_types::VgerError;

use super::lock::{LockInfo, LockKind};
use crate::progress::{Event, LockWait, Progress, Warning};

/// Whether a failed lock write means the repository cannot be written at all (read-only media,
/// no permission on `locks/`, a full disk or quota, credentials that may read but not write: a
/// `read` token of a vger server, a read-only S3 key), so that a reader may go on without a lock.
pub(super) fn unwritable(e: &VgerError) -> bool {
    match e {
        VgerError::NoSpace { .. } | VgerError::RemoteAuth { .. } => true,
        VgerError::Io { source, .. } => refused(source),
        _ => false,
    }
}

/// A write refused for good: read-only filesystem, no permission, quota.
#[cfg(unix)]
fn refused(e: &std::io::Error) -> bool {
    use nix::libc::{EACCES, EDQUOT, EPERM, EROFS};
    matches!(e.raw_os_error(), Some(EROFS | EACCES | EPERM | EDQUOT))
}

/// A write refused for good (Windows: access denied, write-protected media, quota).
#[cfg(not(unix))]
fn refused(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem | ErrorKind::QuotaExceeded
    )
}

/// How often a wait for a conflicting lock is reported.
const WAIT_REPORT_EVERY: Duration = Duration::from_secs(2);

/// The progress of one wait for a conflicting lock.
pub(super) struct Waiting {
    pub(super) started: Instant,
    pub(super) deadline: Instant,
    pub(super) reported: Option<Instant>,
    pub(super) holder: Option<LockWait>,
}

impl Waiting {
    pub(super) fn report(&mut self, holder: &LockInfo, events: &dyn Progress) {
        let now = Instant::now();
        let event = LockWait {
            key: holder.key.clone(),
            hostname: holder.hostname.clone(),
            pid: holder.pid,
            operation: holder.operation.clone(),
            exclusive: holder.kind == LockKind::Exclusive,
            since_ns: holder.created_ns,
            waited: now - self.started,
            remaining: self.deadline.saturating_duration_since(now),
            acquired: false,
        };
        let due = self.reported.is_none_or(|t| now - t >= WAIT_REPORT_EVERY)
            || self.holder.as_ref().is_some_and(|h| h.key != event.key);
        if due {
            self.reported = Some(now);
            events.event(Event::LockWait(event.clone()));
        }
        self.holder = Some(event);
    }

    /// Sleeps for `pause`, reporting the wait again every [`WAIT_REPORT_EVERY`] meanwhile.
    pub(super) fn sleep(&mut self, pause: Duration, events: &dyn Progress) {
        let until = Instant::now() + pause;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(WAIT_REPORT_EVERY));
            let now = Instant::now();
            if let Some(last) = &mut self.holder
                && self.reported.is_none_or(|t| now - t >= WAIT_REPORT_EVERY)
            {
                last.waited = now - self.started;
                last.remaining = self.deadline.saturating_duration_since(now);
                self.reported = Some(now);
                events.event(Event::LockWait(last.clone()));
            }
        }
    }

    /// The last report once more, saying the wait is over.
    pub(super) fn done(self, events: &dyn Progress) {
        if let Some(mut last) = self.holder {
            last.waited = self.started.elapsed();
            last.remaining = Duration::ZERO;
            last.acquired = true;
            events.event(Event::LockWait(last));
        }
    }
}

/// The warning of a reader that goes on without a lock, stating the risk.
pub(super) fn lock_free_warning(operation: &str, cause: &VgerError) -> Warning {
    Warning {
        path: "locks/".into(),
        code: cause.code(),
        message: format!(
            "cannot write a lock ({cause}), so this {operation} reads without one: a compact, prune \
             or snapshot delete that runs meanwhile may remove data it still needs, and it may \
             then fail; everything read is still verified, so it never returns wrong data"
        ),
    }
}
