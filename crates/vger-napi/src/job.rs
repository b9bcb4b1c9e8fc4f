//! The one way a binding method runs engine work: on Tokio's blocking pool (a Rust thread, never
//! libuv's pool), with throttled progress and a cancellation token, settling its promise on the JS
//! thread with either the outcome or a coded JS error ([`crate::errors::js_error`]).

use std::sync::Arc;

use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::{Env, Result};
use vger_core::{NoProgress, Progress};
use vger_types::VgerError;

use crate::errors::js_error;
use crate::progress::{JsProgress, ProgressFn};
use crate::repo::CancelToken;

/// A short engine call without progress or cancellation (listing, stats, locks).
pub fn run<'e, V>(
    env: &'e Env,
    work: impl FnOnce() -> vger_core::Result<V> + Send + 'static,
) -> Result<PromiseRaw<'e, V>>
where
    V: ToNapiValue + Send + 'static,
{
    job(env, None, None, move |_, _| work())
}

/// A long engine job. `work` gets the progress sink and the cancellation token, returns the JS
/// outcome already shaped (so the conversion also runs off the JS thread); the last coalesced
/// progress event is flushed before the promise settles.
pub fn job<'e, V>(
    env: &'e Env,
    on_progress: Option<ProgressFn>,
    cancel: Option<&CancelToken>,
    work: impl FnOnce(&dyn Progress, &vger_core::CancelToken) -> vger_core::Result<V> + Send + 'static,
) -> Result<PromiseRaw<'e, V>>
where
    V: ToNapiValue + Send + 'static,
{
    let cancel = cancel.map(CancelToken::core).unwrap_or_default();
    let progress = on_progress.map(|f| Arc::new(JsProgress::new(f)));
    env.spawn_future_with_callback(
        async move {
            let sink = progress.clone();
            let joined = napi::tokio::task::spawn_blocking(move || match &sink {
                Some(p) => work(p.as_ref(), &cancel),
                None => work(&NoProgress, &cancel),
            })
            .await;
            if let Some(p) = progress {
                p.flush();
            }
            Ok(joined.unwrap_or_else(|e| {
                Err(VgerError::Internal(format!(
                    "the job stopped unexpectedly ({e})"
                )))
            }))
        },
        |env, out| out.map_err(|e| js_error(env, &e)),
    )
}
