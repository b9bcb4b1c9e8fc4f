//! One module per command. Each takes an options struct and returns an outcome.

pub mod backup;
pub mod check;
pub mod compact;
pub mod destroy;
pub mod diff;
pub mod find;
pub mod forget;
pub mod init;
pub mod list;
pub mod liveness;
pub mod prune;
pub mod repair;
pub mod restore;
pub mod stats;

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
