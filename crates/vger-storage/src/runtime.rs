//! The one Tokio runtime the remote backends (S3 through OpenDAL, SFTP) block on: the
//! [`crate::Backend`] trait is blocking and called from the engine's own threads.

use std::sync::OnceLock;

use vger_types::{Result, VgerError};

/// The runtime every remote backend blocks on. Its worker threads only drive I/O; the engine's
/// threads wait on them.
pub(crate) fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vger-io")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| VgerError::Internal(format!("cannot start the I/O runtime: {e}")))
}
