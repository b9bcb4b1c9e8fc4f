//! Fuzzing of every parser that reads bytes an attacker may control (docs/integrity.md, "Fuzzing").
//!
//! A structure-aware mutation engine on stable Rust: each [`targets::Target`] is a function of
//! bytes that must come back accepted or rejected with a [`vger_types::VgerError`], never panic,
//! hang, allocate more than its budget for the input's size, or break a stated property (a
//! mutated envelope that opens). The corpus is seeded from a real repository written by the real
//! encoders ([`fixture::Fixture`]); mutations know the codec's length fields and can splice in
//! well-formed fields generated with `arbitrary` ([`mutate`]). Decoders behind authenticated
//! encryption have two targets: one fed the sealed bytes (what a storage host can send) and one
//! fed plaintext that the harness seals with the repository key (what a bug, or an attacker with
//! the key, can make the decoder read).

pub mod engine;
pub mod fixture;
pub mod mutate;
pub mod targets;

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use std::alloc::System;

/// Counts every allocation, so a run can check that a decoder allocates in proportion to its
/// input (the codec's promise: a forged length or count cannot make it allocate more).
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The allocator's counters, for [`engine`].
pub(crate) fn allocator() -> &'static StatsAlloc<System> {
    GLOBAL
}
