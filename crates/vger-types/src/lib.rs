//! Shared vocabulary of vger: identifiers, the one error enum with its stable codes, and the
//! little-endian binary codec every on-disk structure is written with. No I/O lives here.

pub mod codec;
pub mod error;
pub mod id;

pub use error::{ErrorCode, Result, VgerError};
pub use id::{ChunkId, PackId, SnapshotId};
