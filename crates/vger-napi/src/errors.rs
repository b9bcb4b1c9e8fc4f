use napi::Status;
use vger_types::VgerError;

/// `VGER_CODE: message`, parsed back into `err.code` by `ts/native.ts`.
pub fn to_napi(e: VgerError) -> napi::Error {
    napi::Error::new(
        Status::GenericFailure,
        format!("{}: {}", e.code().as_str(), e),
    )
}

/// Runs blocking engine work on Tokio's blocking pool and maps its error.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> vger_types::Result<T> + Send + 'static,
) -> napi::Result<T> {
    match napi::tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(to_napi),
        Err(e) => Err(napi::Error::new(
            Status::GenericFailure,
            format!("VGER_INTERNAL: the job stopped unexpectedly ({e}); please report this"),
        )),
    }
}
