//! The one error type of vger. Each variant has exactly one stable `VGER_*` code (carried to JS as
//! `err.code`) and a message that says what happened and what to do next.

use std::io;

pub type Result<T, E = VgerError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum VgerError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "no space left on the device while {context}; free some space and run the command again"
    )]
    NoSpace { context: String },
    #[error("no vger repository at {url}; create one with `vger init`")]
    RepoNotFound { url: String },
    #[error("a repository or other files already exist at {url}; choose an empty or new location")]
    RepoExists { url: String },
    #[error("wrong passphrase for repository {url} (or its key file was replaced); try again")]
    WrongPassphrase { url: String },
    #[error("this repository is encrypted: a passphrase is required")]
    PassphraseRequired,
    #[error("{object} is damaged: {detail}")]
    Corrupt { object: String, detail: String },
    #[error(
        "{object} was written by a newer vger (format {found}, this vger reads up to {supported}); upgrade vger"
    )]
    NewerFormat {
        object: String,
        found: u32,
        supported: u32,
    },
    #[error(
        "{object} uses extension 0x{key:04x}, which this vger does not know and must understand to read it: it was written by a newer vger; upgrade vger"
    )]
    NewerExtension { object: String, key: u16 },
    #[error(
        "{object} was written by an older vger (format {found}; this vger reads format {supported}); read it with the vger that wrote it, or create a new repository with `vger init` and back up again"
    )]
    OlderFormat {
        object: String,
        found: u32,
        supported: u32,
    },
    #[error("{object} is missing from the repository")]
    ObjectMissing { object: String },
    #[error("object {key} already exists in the repository")]
    AlreadyExists { key: String },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("storage backend not supported yet: {0}")]
    UnsupportedBackend(String),
    #[error(
        "{url} refused access ({detail}); check the credentials (S3: access_key_id and secret_access_key; SFTP: the key file; WebDAV: webdav_password; vger server: access_token or VGER_REST_TOKEN) and their permissions for this repository"
    )]
    RemoteAuth { url: String, detail: String },
    #[error(
        "{url} could not be reached ({detail}); check the endpoint or host, the network and the `retry` settings, then run the command again"
    )]
    RemoteUnavailable { url: String, detail: String },
    #[error("{url}: {detail}")]
    RemoteConfig { url: String, detail: String },
    #[error("no snapshot matches {0:?}; list snapshots with `vger list`")]
    SnapshotNotFound(String),
    #[error("snapshot prefix {prefix:?} matches {count} snapshots; give more characters")]
    SnapshotAmbiguous { prefix: String, count: usize },
    #[error(
        "restore destination {0} is not empty; restore into a new or empty directory, or give `--overwrite if-changed` (which also continues an interrupted restore) or `--overwrite always`"
    )]
    DestinationNotEmpty(String),
    /// A restore `--include`/`--exclude` pattern matched no path of the snapshot.
    #[error(
        "no path in the snapshot matches {0} (patterns match the whole path from the snapshot's root; `*` may cross `/`); check the pattern with `vger snapshot list`"
    )]
    PatternUnmatched(String),
    #[error("refusing to restore {0:?}: the name would escape the destination directory")]
    UnsafePath(String),
    #[error(
        "{0} was replaced or moved by another process during the restore; nothing was written through it. Restore into a directory that no other user can write to"
    )]
    DestinationChanged(String),
    #[error("source path {0} does not exist or cannot be read")]
    SourceNotFound(String),
    #[error("{0} changed while it was read; the snapshot holds the bytes read")]
    SourceChanged(String),
    /// A command whose output was being stored (a dump, `--stdin-from-command`) failed: it could
    /// not start, exited with a non-zero status or was killed. No snapshot was written.
    #[error(
        "{0}; no snapshot was written. Run the command yourself to see why, fix it, and back up again"
    )]
    DumpFailed(String),
    #[error(
        "the repository is locked by {holder}; wait for it to finish, or run `vger break-lock` if that process is gone"
    )]
    Locked { holder: String },
    #[error("{0}; nothing was committed, run the command again")]
    LockLost(String),
    #[error("the operation was cancelled")]
    Cancelled,
    #[error("internal error: {0}; please report this")]
    Internal(String),
}

/// Stable machine-readable codes, one per [`VgerError`] variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Io,
    NoSpace,
    RepoNotFound,
    RepoExists,
    WrongPassphrase,
    PassphraseRequired,
    Corrupt,
    NewerFormat,
    OlderFormat,
    ObjectMissing,
    AlreadyExists,
    InvalidArgument,
    UnsupportedBackend,
    RemoteAuth,
    RemoteUnavailable,
    RemoteConfig,
    SnapshotNotFound,
    SnapshotAmbiguous,
    DestinationNotEmpty,
    PatternUnmatched,
    UnsafePath,
    DestinationChanged,
    SourceNotFound,
    SourceChanged,
    DumpFailed,
    Locked,
    LockLost,
    Cancelled,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 29] = [
        ErrorCode::Io,
        ErrorCode::NoSpace,
        ErrorCode::RepoNotFound,
        ErrorCode::RepoExists,
        ErrorCode::WrongPassphrase,
        ErrorCode::PassphraseRequired,
        ErrorCode::Corrupt,
        ErrorCode::NewerFormat,
        ErrorCode::OlderFormat,
        ErrorCode::ObjectMissing,
        ErrorCode::AlreadyExists,
        ErrorCode::InvalidArgument,
        ErrorCode::UnsupportedBackend,
        ErrorCode::RemoteAuth,
        ErrorCode::RemoteUnavailable,
        ErrorCode::RemoteConfig,
        ErrorCode::SnapshotNotFound,
        ErrorCode::SnapshotAmbiguous,
        ErrorCode::DestinationNotEmpty,
        ErrorCode::PatternUnmatched,
        ErrorCode::UnsafePath,
        ErrorCode::DestinationChanged,
        ErrorCode::SourceNotFound,
        ErrorCode::SourceChanged,
        ErrorCode::DumpFailed,
        ErrorCode::Locked,
        ErrorCode::LockLost,
        ErrorCode::Cancelled,
        ErrorCode::Internal,
    ];
}

/// A code equals its stable string (`code == "VGER_CORRUPT"`).
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl AsRef<str> for ErrorCode {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Io => "VGER_IO",
            ErrorCode::NoSpace => "VGER_NO_SPACE",
            ErrorCode::RepoNotFound => "VGER_REPO_NOT_FOUND",
            ErrorCode::RepoExists => "VGER_REPO_EXISTS",
            ErrorCode::WrongPassphrase => "VGER_WRONG_PASSPHRASE",
            ErrorCode::PassphraseRequired => "VGER_PASSPHRASE_REQUIRED",
            ErrorCode::Corrupt => "VGER_CORRUPT",
            ErrorCode::NewerFormat => "VGER_NEWER_FORMAT",
            ErrorCode::OlderFormat => "VGER_OLDER_FORMAT",
            ErrorCode::ObjectMissing => "VGER_OBJECT_MISSING",
            ErrorCode::AlreadyExists => "VGER_ALREADY_EXISTS",
            ErrorCode::InvalidArgument => "VGER_INVALID_ARGUMENT",
            ErrorCode::UnsupportedBackend => "VGER_UNSUPPORTED_BACKEND",
            ErrorCode::RemoteAuth => "VGER_REMOTE_AUTH",
            ErrorCode::RemoteUnavailable => "VGER_REMOTE_UNAVAILABLE",
            ErrorCode::RemoteConfig => "VGER_REMOTE_CONFIG",
            ErrorCode::SnapshotNotFound => "VGER_SNAPSHOT_NOT_FOUND",
            ErrorCode::SnapshotAmbiguous => "VGER_SNAPSHOT_AMBIGUOUS",
            ErrorCode::DestinationNotEmpty => "VGER_DEST_NOT_EMPTY",
            ErrorCode::PatternUnmatched => "VGER_PATTERN_UNMATCHED",
            ErrorCode::UnsafePath => "VGER_UNSAFE_PATH",
            ErrorCode::DestinationChanged => "VGER_DEST_CHANGED",
            ErrorCode::SourceNotFound => "VGER_SOURCE_NOT_FOUND",
            ErrorCode::SourceChanged => "VGER_SOURCE_CHANGED",
            ErrorCode::DumpFailed => "VGER_DUMP_FAILED",
            ErrorCode::Locked => "VGER_LOCKED",
            ErrorCode::LockLost => "VGER_LOCK_LOST",
            ErrorCode::Cancelled => "VGER_CANCELLED",
            ErrorCode::Internal => "VGER_INTERNAL",
        }
    }
}

impl VgerError {
    pub fn code(&self) -> ErrorCode {
        match self {
            VgerError::Io { .. } => ErrorCode::Io,
            VgerError::NoSpace { .. } => ErrorCode::NoSpace,
            VgerError::RepoNotFound { .. } => ErrorCode::RepoNotFound,
            VgerError::RepoExists { .. } => ErrorCode::RepoExists,
            VgerError::WrongPassphrase { .. } => ErrorCode::WrongPassphrase,
            VgerError::PassphraseRequired => ErrorCode::PassphraseRequired,
            VgerError::Corrupt { .. } => ErrorCode::Corrupt,
            VgerError::NewerFormat { .. } | VgerError::NewerExtension { .. } => {
                ErrorCode::NewerFormat
            }
            VgerError::OlderFormat { .. } => ErrorCode::OlderFormat,
            VgerError::ObjectMissing { .. } => ErrorCode::ObjectMissing,
            VgerError::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            VgerError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            VgerError::UnsupportedBackend(_) => ErrorCode::UnsupportedBackend,
            VgerError::RemoteAuth { .. } => ErrorCode::RemoteAuth,
            VgerError::RemoteUnavailable { .. } => ErrorCode::RemoteUnavailable,
            VgerError::RemoteConfig { .. } => ErrorCode::RemoteConfig,
            VgerError::SnapshotNotFound(_) => ErrorCode::SnapshotNotFound,
            VgerError::SnapshotAmbiguous { .. } => ErrorCode::SnapshotAmbiguous,
            VgerError::DestinationNotEmpty(_) => ErrorCode::DestinationNotEmpty,
            VgerError::PatternUnmatched(_) => ErrorCode::PatternUnmatched,
            VgerError::UnsafePath(_) => ErrorCode::UnsafePath,
            VgerError::DestinationChanged(_) => ErrorCode::DestinationChanged,
            VgerError::SourceNotFound(_) => ErrorCode::SourceNotFound,
            VgerError::SourceChanged(_) => ErrorCode::SourceChanged,
            VgerError::DumpFailed(_) => ErrorCode::DumpFailed,
            VgerError::Locked { .. } => ErrorCode::Locked,
            VgerError::LockLost(_) => ErrorCode::LockLost,
            VgerError::Cancelled => ErrorCode::Cancelled,
            VgerError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Wraps an I/O error with what was being done; a full disk (ENOSPC) or an exhausted quota
    /// (EDQUOT) gets its own code.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        let context = context.into();
        if matches!(
            source.kind(),
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
        ) {
            return VgerError::NoSpace { context };
        }
        VgerError::Io { context, source }
    }

    /// A copy of this error for a second caller (an error is not `Clone`: it may hold an
    /// `io::Error`): the same variant, code and message.
    pub fn duplicate(&self) -> Self {
        use VgerError as E;
        match self {
            E::Io { context, source } => E::Io {
                context: context.clone(),
                source: match source.raw_os_error() {
                    Some(n) => io::Error::from_raw_os_error(n),
                    None => io::Error::new(source.kind(), source.to_string()),
                },
            },
            E::NoSpace { context } => E::NoSpace {
                context: context.clone(),
            },
            E::RepoNotFound { url } => E::RepoNotFound { url: url.clone() },
            E::RepoExists { url } => E::RepoExists { url: url.clone() },
            E::WrongPassphrase { url } => E::WrongPassphrase { url: url.clone() },
            E::PassphraseRequired => E::PassphraseRequired,
            E::Corrupt { object, detail } => E::corrupt(object, detail),
            E::NewerFormat {
                object,
                found,
                supported,
            } => E::NewerFormat {
                object: object.clone(),
                found: *found,
                supported: *supported,
            },
            E::NewerExtension { object, key } => E::NewerExtension {
                object: object.clone(),
                key: *key,
            },
            E::OlderFormat {
                object,
                found,
                supported,
            } => E::OlderFormat {
                object: object.clone(),
                found: *found,
                supported: *supported,
            },
            E::ObjectMissing { object } => E::ObjectMissing {
                object: object.clone(),
            },
            E::AlreadyExists { key } => E::AlreadyExists { key: key.clone() },
            E::InvalidArgument(m) => E::InvalidArgument(m.clone()),
            E::UnsupportedBackend(m) => E::UnsupportedBackend(m.clone()),
            E::RemoteAuth { url, detail } => E::RemoteAuth {
                url: url.clone(),
                detail: detail.clone(),
            },
            E::RemoteUnavailable { url, detail } => E::RemoteUnavailable {
                url: url.clone(),
                detail: detail.clone(),
            },
            E::RemoteConfig { url, detail } => E::RemoteConfig {
                url: url.clone(),
                detail: detail.clone(),
            },
            E::SnapshotNotFound(m) => E::SnapshotNotFound(m.clone()),
            E::SnapshotAmbiguous { prefix, count } => E::SnapshotAmbiguous {
                prefix: prefix.clone(),
                count: *count,
            },
            E::DestinationNotEmpty(m) => E::DestinationNotEmpty(m.clone()),
            E::PatternUnmatched(m) => E::PatternUnmatched(m.clone()),
            E::DestinationChanged(m) => E::DestinationChanged(m.clone()),
            E::UnsafePath(m) => E::UnsafePath(m.clone()),
            E::SourceNotFound(m) => E::SourceNotFound(m.clone()),
            E::SourceChanged(m) => E::SourceChanged(m.clone()),
            E::DumpFailed(m) => E::DumpFailed(m.clone()),
            E::Locked { holder } => E::Locked {
                holder: holder.clone(),
            },
            E::LockLost(m) => E::LockLost(m.clone()),
            E::Cancelled => E::Cancelled,
            E::Internal(m) => E::Internal(m.clone()),
        }
    }

    pub fn corrupt(object: impl Into<String>, detail: impl Into<String>) -> Self {
        VgerError::Corrupt {
            object: object.into(),
            detail: detail.into(),
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        VgerError::InvalidArgument(msg.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_prefixed() {
        let codes: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_ref()).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        assert!(codes.iter().all(|c| c.starts_with("VGER_")));
    }

    #[test]
    fn full_disk_has_its_own_code() {
        let e = VgerError::io("writing", io::Error::from_raw_os_error(28));
        assert_eq!(e.code(), ErrorCode::NoSpace);
        // EDQUOT: a quota is as full as a disk.
        let e = VgerError::io("writing", io::Error::from_raw_os_error(122));
        assert_eq!(e.code(), ErrorCode::NoSpace);
        assert!(e.to_string().contains("free some space"), "{e}");
        assert_eq!(e.duplicate().code(), ErrorCode::NoSpace);
        let e = VgerError::io("writing", io::Error::from_raw_os_error(30));
        assert_eq!(e.duplicate().code(), ErrorCode::Io);
        assert_eq!(e.duplicate().to_string(), e.to_string());
    }
}
