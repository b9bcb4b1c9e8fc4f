//! Engine errors as JS errors: `err.code` is the stable `VGER_*` code, `err.message` the text
//! alone. No message is parsed anywhere.
//!
//! napi's async path rejects with an `Error<Status>`, whose `code` would be a napi status such as
//! `GenericFailure`. So a job settles on the JS thread (see [`crate::job`]), builds a real JS
//! `Error` there with `code` set from [`vger_types::ErrorCode`], and rejects with that very object
//! (a `napi::Error` made from a JS value keeps a reference to it and rejects with it unchanged).

use napi::{Env, JsError};
use napi_derive::napi;
use vger_types::VgerError;

/// Every code the engine can reject with (`err.code`); docs/errors.md says what to do about each.
#[napi(string_enum)]
#[derive(Clone, Copy)]
pub enum ErrorCode {
    #[napi(value = "VGER_IO")]
    Io,
    #[napi(value = "VGER_NO_SPACE")]
    NoSpace,
    #[napi(value = "VGER_REPO_NOT_FOUND")]
    RepoNotFound,
    #[napi(value = "VGER_REPO_EXISTS")]
    RepoExists,
    #[napi(value = "VGER_WRONG_PASSPHRASE")]
    WrongPassphrase,
    #[napi(value = "VGER_PASSPHRASE_REQUIRED")]
    PassphraseRequired,
    #[napi(value = "VGER_CORRUPT")]
    Corrupt,
    #[napi(value = "VGER_NEWER_FORMAT")]
    NewerFormat,
    #[napi(value = "VGER_OLDER_FORMAT")]
    OlderFormat,
    #[napi(value = "VGER_OBJECT_MISSING")]
    ObjectMissing,
    #[napi(value = "VGER_ALREADY_EXISTS")]
    AlreadyExists,
    #[napi(value = "VGER_INVALID_ARGUMENT")]
    InvalidArgument,
    #[napi(value = "VGER_UNSUPPORTED_BACKEND")]
    UnsupportedBackend,
    #[napi(value = "VGER_REMOTE_AUTH")]
    RemoteAuth,
    #[napi(value = "VGER_REMOTE_UNAVAILABLE")]
    RemoteUnavailable,
    #[napi(value = "VGER_REMOTE_CONFIG")]
    RemoteConfig,
    #[napi(value = "VGER_SNAPSHOT_NOT_FOUND")]
    SnapshotNotFound,
    #[napi(value = "VGER_SNAPSHOT_AMBIGUOUS")]
    SnapshotAmbiguous,
    #[napi(value = "VGER_DEST_NOT_EMPTY")]
    DestinationNotEmpty,
    #[napi(value = "VGER_PATTERN_UNMATCHED")]
    PatternUnmatched,
    #[napi(value = "VGER_UNSAFE_PATH")]
    UnsafePath,
    #[napi(value = "VGER_DEST_CHANGED")]
    DestinationChanged,
    #[napi(value = "VGER_SOURCE_NOT_FOUND")]
    SourceNotFound,
    #[napi(value = "VGER_SOURCE_CHANGED")]
    SourceChanged,
    #[napi(value = "VGER_DUMP_FAILED")]
    DumpFailed,
    #[napi(value = "VGER_LOCKED")]
    Locked,
    #[napi(value = "VGER_LOCK_LOST")]
    LockLost,
    #[napi(value = "VGER_CANCELLED")]
    Cancelled,
    #[napi(value = "VGER_INTERNAL")]
    Internal,
}

impl From<vger_types::ErrorCode> for ErrorCode {
    /// Exhaustive on purpose: a code added to the engine does not compile until it is named here,
    /// which regenerates `index.d.cts` (and `test/unit/error-codes.test.ts` checks docs/errors.md).
    fn from(c: vger_types::ErrorCode) -> Self {
        use vger_types::ErrorCode as C;
        match c {
            C::Io => ErrorCode::Io,
            C::NoSpace => ErrorCode::NoSpace,
            C::RepoNotFound => ErrorCode::RepoNotFound,
            C::RepoExists => ErrorCode::RepoExists,
            C::WrongPassphrase => ErrorCode::WrongPassphrase,
            C::PassphraseRequired => ErrorCode::PassphraseRequired,
            C::Corrupt => ErrorCode::Corrupt,
            C::NewerFormat => ErrorCode::NewerFormat,
            C::OlderFormat => ErrorCode::OlderFormat,
            C::ObjectMissing => ErrorCode::ObjectMissing,
            C::AlreadyExists => ErrorCode::AlreadyExists,
            C::InvalidArgument => ErrorCode::InvalidArgument,
            C::UnsupportedBackend => ErrorCode::UnsupportedBackend,
            C::RemoteAuth => ErrorCode::RemoteAuth,
            C::RemoteUnavailable => ErrorCode::RemoteUnavailable,
            C::RemoteConfig => ErrorCode::RemoteConfig,
            C::SnapshotNotFound => ErrorCode::SnapshotNotFound,
            C::SnapshotAmbiguous => ErrorCode::SnapshotAmbiguous,
            C::DestinationNotEmpty => ErrorCode::DestinationNotEmpty,
            C::PatternUnmatched => ErrorCode::PatternUnmatched,
            C::UnsafePath => ErrorCode::UnsafePath,
            C::DestinationChanged => ErrorCode::DestinationChanged,
            C::SourceNotFound => ErrorCode::SourceNotFound,
            C::SourceChanged => ErrorCode::SourceChanged,
            C::DumpFailed => ErrorCode::DumpFailed,
            C::Locked => ErrorCode::Locked,
            C::LockLost => ErrorCode::LockLost,
            C::Cancelled => ErrorCode::Cancelled,
            C::Internal => ErrorCode::Internal,
        }
    }
}

/// Every engine error code, in the engine's order (for tests and documentation checks).
#[napi]
pub fn error_codes() -> Vec<ErrorCode> {
    vger_types::ErrorCode::ALL
        .iter()
        .map(|c| ErrorCode::from(*c))
        .collect()
}

/// A JS `Error` with `code` = the engine's code, as a `napi::Error` that rejects with it.
/// Call on the JS thread only.
pub fn js_error(env: &Env, e: &VgerError) -> napi::Error {
    let coded = napi::Error::new(e.code(), e.to_string());
    napi::Error::from(JsError::from(coded).into_unknown(*env))
}
