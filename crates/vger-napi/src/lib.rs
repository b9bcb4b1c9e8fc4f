//! Node-API binding for vger: the only crate that names napi. It converts options and outcomes,
//! runs every long job on Tokio's blocking pool (Rust threads, never libuv's pool), bridges
//! progress events with throttling, and maps `VgerError` to JS errors whose message starts with
//! the stable `VGER_*` code (`ts/native.ts` lifts it into `err.code`).
#![deny(clippy::all)]

mod dto;
mod errors;
mod inspect;
mod maintenance;
mod progress;
mod repo;

pub use repo::{CancelToken, Repository};

/// The version of the native engine.
#[napi_derive::napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
