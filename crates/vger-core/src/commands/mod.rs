//! One module per command. Each takes an options struct and returns an outcome.

pub mod annotate;
pub mod backup;
pub mod browse;
pub mod check;
pub mod compact;
pub mod copy;
pub mod delete_repository;
pub mod delete_snapshots;
pub mod diff;
pub mod find;
pub mod init;
pub mod list;
pub mod prune;
mod repack;
pub mod repair;
pub mod restore;
pub mod rewrite;
pub mod stats;
