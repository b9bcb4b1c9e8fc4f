//! The closed sets of words that cross the seam, as string enums: TypeScript sees string-literal
//! unions, and a value outside the set is refused by napi before any engine code runs.

use napi_derive::napi;
use vger_core::Algorithm;
use vger_core::compress::Compression;
use vger_core::tree::Kind;

/// What `init` is asked for: `auto` picks AES-256-GCM when the CPU accelerates it.
#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum EncryptionMode {
    Auto,
    Aes256gcm,
    Chacha20poly1305,
    None,
}

/// What a repository is sealed with.
#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum Encryption {
    Aes256gcm,
    Chacha20poly1305,
    None,
}

#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum CompressionAlgorithm {
    Lz4,
    Zstd,
    None,
}

#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum LockKind {
    Shared,
    Exclusive,
    Maintenance,
}

/// Whether a lock's process runs: `alive` or `dead` on this host, `unknown` for another host,
/// container or boot (such a lock expires by its lease).
#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum ProcessState {
    Alive,
    Dead,
    Unknown,
}

#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Fifo,
    Chardev,
    Blockdev,
    Socket,
}

/// How an entry differs between two snapshots.
#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum DiffChange {
    Added,
    Removed,
    /// Content, size, kind or link target changed.
    Modified,
    /// Only metadata (mode, owner, mtime, xattrs) changed.
    Metadata,
}

/// A version's status in a `find` timeline.
#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum FindStatus {
    /// First seen, or back after being absent from the previous snapshot searched.
    Added,
    /// Kind, size or content differ from the previous snapshot searched (the rule of `diff`).
    Modified,
    /// Only metadata differs (mode, owner, mtime, xattrs), as `diff` calls it.
    Metadata,
    Unchanged,
}

/// The entry types `find` can filter on (`file` includes hard links).
#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy)]
pub enum FindKind {
    File,
    Dir,
    Symlink,
}

impl From<EncryptionMode> for Algorithm {
    fn from(m: EncryptionMode) -> Self {
        match m {
            EncryptionMode::Auto => Algorithm::auto(),
            EncryptionMode::Aes256gcm => Algorithm::Aes256Gcm,
            EncryptionMode::Chacha20poly1305 => Algorithm::ChaCha20Poly1305,
            EncryptionMode::None => Algorithm::None,
        }
    }
}

impl From<Algorithm> for Encryption {
    fn from(a: Algorithm) -> Self {
        match a {
            Algorithm::Aes256Gcm => Encryption::Aes256gcm,
            Algorithm::ChaCha20Poly1305 => Encryption::Chacha20poly1305,
            Algorithm::None => Encryption::None,
        }
    }
}

impl CompressionAlgorithm {
    pub fn with_level(self, zstd_level: Option<i32>) -> vger_core::Result<Compression> {
        let name = match self {
            CompressionAlgorithm::Lz4 => "lz4",
            CompressionAlgorithm::Zstd => "zstd",
            CompressionAlgorithm::None => "none",
        };
        Compression::parse(name, zstd_level)
    }
}

impl From<vger_core::LockKind> for LockKind {
    fn from(k: vger_core::LockKind) -> Self {
        match k {
            vger_core::LockKind::Shared => LockKind::Shared,
            vger_core::LockKind::Exclusive => LockKind::Exclusive,
            vger_core::LockKind::Maintenance => LockKind::Maintenance,
        }
    }
}

impl From<vger_core::ProcessState> for ProcessState {
    fn from(s: vger_core::ProcessState) -> Self {
        match s {
            vger_core::ProcessState::Alive => ProcessState::Alive,
            vger_core::ProcessState::Dead => ProcessState::Dead,
            vger_core::ProcessState::Unknown => ProcessState::Unknown,
        }
    }
}

impl From<Kind> for EntryKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::File => EntryKind::File,
            Kind::Dir => EntryKind::Dir,
            Kind::Symlink => EntryKind::Symlink,
            Kind::HardLink => EntryKind::Hardlink,
            Kind::Fifo => EntryKind::Fifo,
            Kind::CharDev => EntryKind::Chardev,
            Kind::BlockDev => EntryKind::Blockdev,
            Kind::Socket => EntryKind::Socket,
        }
    }
}

impl From<vger_core::Change> for DiffChange {
    fn from(c: vger_core::Change) -> Self {
        match c {
            vger_core::Change::Added => DiffChange::Added,
            vger_core::Change::Removed => DiffChange::Removed,
            vger_core::Change::Modified => DiffChange::Modified,
            vger_core::Change::Metadata => DiffChange::Metadata,
        }
    }
}

impl From<vger_core::Status> for FindStatus {
    fn from(s: vger_core::Status) -> Self {
        match s {
            vger_core::Status::Added => FindStatus::Added,
            vger_core::Status::Modified => FindStatus::Modified,
            vger_core::Status::Metadata => FindStatus::Metadata,
            vger_core::Status::Unchanged => FindStatus::Unchanged,
        }
    }
}

impl From<FindKind> for vger_core::KindFilter {
    fn from(k: FindKind) -> Self {
        match k {
            FindKind::File => vger_core::KindFilter::File,
            FindKind::Dir => vger_core::KindFilter::Dir,
            FindKind::Symlink => vger_core::KindFilter::Symlink,
        }
    }
}

/// What a restore into an existing tree does with an entry already there.
#[napi(string_enum)]
#[derive(Clone, Copy)]
pub enum Overwrite {
    #[napi(value = "never")]
    Never,
    #[napi(value = "if-changed")]
    IfChanged,
    #[napi(value = "always")]
    Always,
}

impl From<Overwrite> for vger_core::Overwrite {
    fn from(o: Overwrite) -> Self {
        match o {
            Overwrite::Never => Self::Never,
            Overwrite::IfChanged => Self::IfChanged,
            Overwrite::Always => Self::Always,
        }
    }
}
