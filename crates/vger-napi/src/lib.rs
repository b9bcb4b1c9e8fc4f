//! Node-API binding for vger: the only crate that names napi. It converts options and outcomes,
//! runs every engine call as a job on Tokio's blocking pool (Rust threads, never libuv's pool;
//! see `job.rs`), bridges progress events with throttling, and rejects with JS errors whose
//! `code` is the engine's stable `VGER_*` code (`errors.rs`).
#![deny(clippy::all)]

mod browse;
mod dto;
mod enums;
mod errors;
mod inspect;
mod job;
mod maintenance;
mod progress;
mod repo;
mod snapshots;
mod store;

pub use errors::error_codes;
pub use repo::{CancelToken, Repository};
pub use store::Store;

/// The version of the native engine.
#[napi_derive::napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Allocator tuning for the CLI process (library users are left alone: it changes the allocator of
/// the whole process). glibc's malloc raises its mmap threshold after large buffers are freed and
/// then keeps such buffers (chunks, packs) in per-thread arenas, so a backup's resident memory
/// grows well past what it uses (measured: 235 MB peak instead of 184 MB on the benchmark
/// corpus). A fixed 1 MiB threshold returns every large buffer to the system when it is freed,
/// and two arenas bound the per-thread caches of small ones. Call it before the first job.
#[napi_derive::napi]
pub fn tune_allocator() {
    // Only glibc has `mallopt`: on musl, macOS and Windows this is a no-op (docs/platforms.md). Kept
    // out of the doc comment above, which napi copies into the generated index.d.cts.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tune_glibc_malloc();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_glibc_malloc() {
    // The one unsafe call of the workspace (which denies `unsafe_code`): a C function with no
    // safe wrapper in libc.
    // SAFETY: mallopt only changes allocator tuning parameters; it takes no pointers.
    #[allow(unsafe_code, reason = "mallopt is an FFI call")]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
