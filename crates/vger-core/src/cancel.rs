use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use vger_types::{Result, VgerError};

/// Cooperative cancellation: the caller flips it, the engine checks it between files and chunks.
#[derive(Clone, Default, Debug)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once cancelled.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(VgerError::Cancelled)
        } else {
            Ok(())
        }
    }
}
