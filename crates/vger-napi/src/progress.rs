//! Bridges engine events to a JS callback, at most ~10 per second (warnings always pass).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use napi::Status;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use vger_core::{Event, Progress};

use crate::dto::ProgressEvent;

pub type ProgressFn = ThreadsafeFunction<ProgressEvent, (), ProgressEvent, Status, false>;

const INTERVAL: Duration = Duration::from_millis(100);

pub struct JsProgress {
    tsfn: Option<ProgressFn>,
    last: Mutex<Option<Instant>>,
    pending: Mutex<Option<ProgressEvent>>,
}

impl JsProgress {
    pub fn new(tsfn: Option<ProgressFn>) -> Self {
        Self {
            tsfn,
            last: Mutex::new(None),
            pending: Mutex::new(None),
        }
    }

    fn send(&self, e: ProgressEvent) {
        if let Some(f) = &self.tsfn {
            f.call(e, ThreadsafeFunctionCallMode::NonBlocking);
        }
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
        if self.tsfn.is_none() {
            return;
        }
        let e = ProgressEvent::from(event);
        if e.r#type == "warning" {
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
