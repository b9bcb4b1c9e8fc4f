//! What the engine does differently on Unix and on Windows, in one place (docs/platforms.md):
//! file metadata ([`meta`]), names as bytes ([`names`]), and the process this engine runs in
//! ([`process`]). Positioned file I/O and owner-only files are `vger_storage::platform`.

pub mod meta;
pub mod names;
pub mod process;
