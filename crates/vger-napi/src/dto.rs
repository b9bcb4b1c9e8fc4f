//! Plain JS objects crossing the boundary, and their conversions. Numbers are `f64` (exact to
//! 2^53) so that TypeScript never sees a bigint.

use std::time::Duration;

use napi_derive::napi;
use vger_core::clock::rfc3339;
use vger_core::tree::{Content, Kind};
use vger_core::{
    ChunkerParams as CoreChunker, KdfParams as CoreKdf, RepoConfig, Snapshot,
    SnapshotStats as CoreStats, Warning as CoreWarning,
};

use crate::enums::{CompressionAlgorithm, Encryption, EncryptionMode, EntryKind};
use crate::errors::ErrorCode;

#[napi(object)]
#[derive(Clone)]
pub struct ChunkerParams {
    pub min_size: u32,
    pub avg_size: u32,
    pub max_size: u32,
}

/// Argon2id cost of a key file (default m=64 MiB, t=3, p=4).
#[napi(object)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl From<KdfParams> for CoreKdf {
    fn from(k: KdfParams) -> Self {
        CoreKdf {
            memory_kib: k.memory_kib,
            iterations: k.iterations,
            parallelism: k.parallelism,
        }
    }
}

/// Settings of a remote store (S3, SFTP); every field optional. Secrets here never reach a
/// message or an event.
#[napi(object)]
#[derive(Default)]
pub struct BackendSettings {
    /// S3 endpoint, `https://host[:port]` (AWS when absent).
    pub endpoint: Option<String>,
    /// S3 region (default us-east-1).
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// A profile of the AWS shared config files (used when no key is given).
    pub profile: Option<String>,
    pub storage_class: Option<String>,
    pub virtual_host_style: Option<bool>,
    /// Required for `http://` endpoints and `s3+http://` URLs.
    pub allow_insecure_http: Option<bool>,
    /// SFTP private key file.
    pub sftp_key: Option<String>,
    /// SFTP: the known_hosts file the server's host key must be in (else ssh's defaults).
    pub sftp_known_hosts: Option<String>,
    /// Requests in flight at once (default 8).
    pub connections: Option<u32>,
    /// Longest a single request may take before it is retried (default 120 s).
    pub timeout_secs: Option<f64>,
    /// Retries of a transient failure (default 5), the first delay and the longest one
    /// (defaults 1,500 ms and 60,000 ms; exponential with jitter in between).
    pub max_retries: Option<u32>,
    pub retry_delay_ms: Option<f64>,
    pub retry_max_delay_ms: Option<f64>,
    /// A directory for copies of the repository's index segments and snapshots (remote
    /// repositories only), so they are downloaded once.
    pub metadata_cache: Option<String>,
    /// REST: the `vger server` bearer token.
    pub rest_token: Option<String>,
    /// WebDAV: the password of the user named in the URL.
    pub webdav_password: Option<String>,
    /// REST: a PEM certificate to trust for `rests://` (a self-signed server).
    pub tls_ca: Option<String>,
    /// Bytes per second written to the store at most, over all threads (absent or 0: no limit).
    pub upload_bytes_per_sec: Option<f64>,
    /// Bytes per second read from the store at most (absent or 0: no limit).
    pub download_bytes_per_sec: Option<f64>,
}

/// A rate from JS: a finite positive number of bytes per second, else no limit (0).
pub fn rate(v: Option<f64>) -> u64 {
    v.filter(|v| v.is_finite() && *v >= 1.0)
        .map_or(0, |v| v as u64)
}

impl From<BackendSettings> for vger_core::BackendOptions {
    fn from(s: BackendSettings) -> Self {
        let ms = |v: Option<f64>| {
            v.filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| Duration::from_secs_f64(v / 1000.0))
        };
        let defaults = vger_core::RetryOptions::default();
        vger_core::BackendOptions {
            endpoint: s.endpoint,
            region: s.region,
            access_key_id: s.access_key_id,
            secret_access_key: s.secret_access_key,
            session_token: s.session_token,
            profile: s.profile,
            storage_class: s.storage_class,
            virtual_host_style: s.virtual_host_style.unwrap_or(false),
            allow_insecure_http: s.allow_insecure_http.unwrap_or(false),
            sftp_key: s.sftp_key,
            sftp_known_hosts: s.sftp_known_hosts,
            rest_token: s.rest_token,
            webdav_password: s.webdav_password,
            tls_ca: s.tls_ca,
            retry: vger_core::RetryOptions {
                max_retries: s.max_retries.map_or(defaults.max_retries, |n| n as usize),
                delay: ms(s.retry_delay_ms).unwrap_or(defaults.delay),
                max_delay: ms(s.retry_max_delay_ms).unwrap_or(defaults.max_delay),
            },
            connections: s.connections.map(|n| n as usize),
            metadata_cache: s.metadata_cache.map(Into::into),
            upload_bytes_per_sec: rate(s.upload_bytes_per_sec),
            download_bytes_per_sec: rate(s.download_bytes_per_sec),
            timeout: s
                .timeout_secs
                .filter(|t| t.is_finite() && *t > 0.0)
                .map(Duration::from_secs_f64),
        }
    }
}

#[napi(object)]
pub struct InitOptions {
    /// Local path, file://, s3://, s3+http:// or sftp:// URL.
    pub url: String,
    pub backend: Option<BackendSettings>,
    /// Required unless encryption is 'none'.
    pub passphrase: Option<String>,
    pub encryption: EncryptionMode,
    /// Default 512 KiB / 2 MiB / 8 MiB.
    pub chunker: Option<ChunkerParams>,
    pub kdf: Option<KdfParams>,
}

#[napi(object)]
pub struct OpenOptions {
    pub url: String,
    pub backend: Option<BackendSettings>,
    pub passphrase: Option<String>,
    /// How long to wait for a conflicting lock before failing with VGER_LOCKED (default 600 s).
    pub lock_wait_secs: Option<f64>,
    /// Lifetime of this client's lock objects; renewed every third of it (default 180 s).
    pub lock_ttl_secs: Option<f64>,
    /// Reading operations take no lock (restic's `--no-lock`); writing ones then fail with
    /// VGER_INVALID_ARGUMENT. Without it, readers go lock-free by themselves only where the lock
    /// cannot be written (read-only or full repository), with a warning.
    pub no_lock: Option<bool>,
    /// A directory for local caches (the CLI's `cache_dir`): the index is then kept there as a
    /// memory-mapped table, so an open reads only the segments written since, and memory does
    /// not grow with the repository.
    pub cache_dir: Option<String>,
}

#[napi(object)]
pub struct RepoInfo {
    pub url: String,
    pub id: String,
    pub encryption: Encryption,
    pub format_version: u32,
    pub chunker: ChunkerParams,
    /// RFC 3339.
    pub created: String,
}

impl RepoInfo {
    pub fn new(url: &str, c: &RepoConfig) -> Self {
        RepoInfo {
            url: url.to_string(),
            id: hex(&c.id),
            encryption: c.algorithm.into(),
            format_version: vger_core::repo::config::FORMAT_VERSION,
            chunker: ChunkerParams {
                min_size: c.chunker.min_size,
                avg_size: c.chunker.avg_size,
                max_size: c.chunker.max_size,
            },
            created: rfc3339(c.created_ns),
        }
    }
}

impl From<ChunkerParams> for CoreChunker {
    fn from(c: ChunkerParams) -> Self {
        CoreChunker {
            min_size: c.min_size,
            avg_size: c.avg_size,
            max_size: c.max_size,
        }
    }
}

#[napi(object)]
pub struct BackupOptions {
    pub paths: Vec<String>,
    pub label: String,
    pub exclude: Option<Vec<String>>,
    pub hostname: String,
    pub username: String,
    /// Default lz4.
    pub compression: Option<CompressionAlgorithm>,
    pub zstd_level: Option<i32>,
    /// Directory of the file cache (e.g. `~/.cache/vger`); without it every file is read, except
    /// those the parent snapshot shows unchanged.
    pub cache_dir: Option<String>,
    /// A directory holding an entry with one of these names is skipped.
    pub exclude_if_present: Option<Vec<String>>,
    /// Do not descend into other filesystems (mount points are stored empty). Default false.
    pub one_file_system: Option<bool>,
    /// Honour `.gitignore` files in the tree. Default false.
    pub git_ignore: Option<bool>,
    /// Record extended attributes. Default true.
    pub xattrs: Option<bool>,
    /// Gitignore-style patterns matched without regard to case.
    pub iexclude: Option<Vec<String>>,
    /// Leave out regular files larger than this many bytes.
    pub exclude_larger_than: Option<f64>,
    /// Leave out directories holding a `CACHEDIR.TAG` with the cache directory signature.
    pub exclude_caches: Option<bool>,
    /// Command output or standard input stored as files, streamed without a temporary file.
    pub streams: Option<Vec<StreamSpec>>,
    /// Threads that compress and encrypt; 0 or absent: one per core.
    pub threads: Option<u32>,
    /// Bytes per second read from the sources at most (absent or 0: no limit).
    pub read_bytes_per_sec: Option<f64>,
    /// Read and chunk as a backup would, count what is new, store nothing. Default false.
    pub dry_run: Option<bool>,
    /// The time the snapshot records instead of now, in milliseconds since the epoch.
    pub time_ms: Option<f64>,
    /// Tags the snapshot carries (no commas, 1 to 128 bytes each).
    pub tags: Option<Vec<String>>,
    /// A free-text description of the snapshot.
    pub description: Option<String>,
}

/// Regular files of a backup against the previous one.
#[napi(object)]
pub struct FileChanges {
    pub new: f64,
    pub changed: f64,
    pub unmodified: f64,
}

impl From<vger_core::FileChanges> for FileChanges {
    fn from(c: vger_core::FileChanges) -> Self {
        FileChanges {
            new: c.new as f64,
            changed: c.changed as f64,
            unmodified: c.unmodified as f64,
        }
    }
}

/// A stream stored as a file: a command's standard output, or this process's standard input.
#[napi(object)]
pub struct StreamSpec {
    /// Where it goes in the snapshot, relative and `/`-separated (`vger-dumps/db.sql`).
    pub path: String,
    /// `true`: read this process's standard input; otherwise `command` runs.
    pub stdin: Option<bool>,
    /// The program and its arguments (no shell; give `["sh", "-c", text]` for one).
    pub command: Option<Vec<String>>,
    /// The command's whole environment; absent: inherited.
    pub env: Option<std::collections::HashMap<String, String>>,
    pub cwd: Option<String>,
}

#[napi(object)]
pub struct SnapshotStats {
    pub files: f64,
    pub dirs: f64,
    pub symlinks: f64,
    pub others: f64,
    pub bytes: f64,
    pub new_chunks: f64,
    pub new_bytes: f64,
    pub stored_bytes: f64,
    pub skipped: f64,
}

impl From<&CoreStats> for SnapshotStats {
    fn from(s: &CoreStats) -> Self {
        SnapshotStats {
            files: s.files as f64,
            dirs: s.dirs as f64,
            symlinks: s.symlinks as f64,
            others: s.others as f64,
            bytes: s.bytes as f64,
            new_chunks: s.new_chunks as f64,
            new_bytes: s.new_bytes as f64,
            stored_bytes: s.stored_bytes as f64,
            skipped: s.skipped as f64,
        }
    }
}

#[napi(object)]
pub struct Warning {
    pub path: String,
    pub code: ErrorCode,
    pub message: String,
}

impl From<&CoreWarning> for Warning {
    fn from(w: &CoreWarning) -> Self {
        Warning {
            path: w.path.clone(),
            code: w.code.into(),
            message: w.message.clone(),
        }
    }
}

#[napi(object)]
pub struct BackupOutcome {
    pub snapshot_id: String,
    pub partial: bool,
    pub stats: SnapshotStats,
    pub warnings: Vec<Warning>,
    pub warnings_omitted: f64,
    pub duration_ms: f64,
    /// Bytes read from source files (unchanged files known from the file cache or the parent
    /// snapshot are not read).
    pub bytes_read: f64,
    /// Regular files new, changed and unmodified against the previous backup.
    pub changes: FileChanges,
}

#[napi(object)]
pub struct SnapshotSummary {
    pub id: String,
    pub time: String,
    pub hostname: String,
    pub username: String,
    pub label: String,
    pub paths: Vec<String>,
    pub partial: bool,
    pub stats: SnapshotStats,
    /// Root tree id (hex).
    pub tree: String,
    pub format_version: u32,
    /// Sorted.
    pub tags: Vec<String>,
    /// Empty when none was given.
    pub description: String,
    pub pinned: bool,
    /// The snapshot `snapshot rewrite` made this one from, and what it removed.
    pub rewritten_from: Option<RewrittenFrom>,
}

#[napi(object)]
pub struct RewrittenFrom {
    pub id: String,
    pub note: String,
}

impl From<&Snapshot> for SnapshotSummary {
    fn from(s: &Snapshot) -> Self {
        SnapshotSummary {
            id: s.id.to_hex(),
            time: rfc3339(s.start_ns),
            hostname: s.hostname.clone(),
            username: s.username.clone(),
            label: s.label.clone(),
            paths: s.paths.iter().map(|p| escape(p)).collect(),
            partial: s.partial,
            stats: (&s.stats).into(),
            tree: s.tree.to_hex(),
            format_version: s.format_version,
            tags: s.meta.tags.clone(),
            description: s.meta.description.clone(),
            pinned: s.meta.pinned,
            rewritten_from: s
                .meta
                .rewritten_from
                .as_ref()
                .map(|(id, note)| RewrittenFrom {
                    id: id.to_hex(),
                    note: note.clone(),
                }),
        }
    }
}

#[napi(object)]
pub struct SnapshotListing {
    pub snapshots: Vec<SnapshotSummary>,
    pub hidden_newer: u32,
    /// Snapshot objects that failed authentication or decoding.
    pub damaged: Vec<Warning>,
}

#[napi(object)]
pub struct ListEntry {
    /// '/'-separated, relative to the snapshot root; non-UTF-8 bytes escaped as `\xNN`.
    pub path: String,
    pub kind: EntryKind,
    pub size: f64,
    /// The full st_mode, file-type bits included.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: String,
    pub target: Option<String>,
}

impl From<&vger_core::ListEntry> for ListEntry {
    fn from(l: &vger_core::ListEntry) -> Self {
        let e = &l.entry;
        ListEntry {
            path: escape(&l.path),
            kind: e.kind.into(),
            size: e.size as f64,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            mtime: rfc3339(e.mtime_ns),
            target: match (&e.kind, &e.content) {
                (Kind::Symlink | Kind::HardLink, Content::Target(t)) => Some(escape(t)),
                _ => None,
            },
        }
    }
}

#[napi(object)]
pub struct RestoreOptions {
    pub snapshot: String,
    pub dest: String,
    /// Restore only the paths any of these globs matches (`*` may cross `/`; a matching directory
    /// brings its subtree). A pattern that matches nothing fails with VGER_PATTERN_UNMATCHED.
    pub patterns: Option<Vec<String>>,
    /// Do not restore the paths these globs match (nor their subtrees); an exclude wins over an
    /// include. One that matches nothing fails with VGER_PATTERN_UNMATCHED.
    pub excludes: Option<Vec<String>>,
    /// Parallel file writers; 0 or absent: two per core.
    pub threads: Option<u32>,
    /// Restore into an existing tree, doing this with an entry already there; absent: the
    /// destination must be new or empty (VGER_DEST_NOT_EMPTY).
    pub overwrite: Option<crate::enums::Overwrite>,
    /// With `overwrite`: remove what the destination holds and the snapshot does not (where the
    /// patterns select it).
    pub delete: Option<bool>,
    /// Write nothing; the outcome counts what would be written and lists it in `changes`.
    pub dry_run: Option<bool>,
}

#[napi(object)]
pub struct RestoreOutcome {
    pub files: f64,
    pub dirs: f64,
    pub symlinks: f64,
    pub others: f64,
    pub bytes: f64,
    pub errors: Vec<Warning>,
    /// Entries not created (sockets), with why; not errors.
    pub skipped: Vec<Skipped>,
    /// Into an existing tree: entries left as they were (same content, or overwrite `never`);
    /// `files`, `symlinks` and `others` count only what was written.
    pub unchanged: f64,
    /// Of the entries written, those that replaced one already there.
    pub replaced: f64,
    /// Entries removed by `delete`.
    pub deleted: f64,
    /// A dry run's list: every file, link and special file of the restore with `create`,
    /// `replace` or `unchanged`, then each path `delete` would remove (a directory ends in `/`).
    pub changes: Vec<RestoreChange>,
}

#[napi(object)]
pub struct RestoreChange {
    pub path: String,
    pub action: String,
}

#[napi(object)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// UTF-8 paths pass through; other bytes are written as `\xNN` (and `\` as `\\`).
pub fn escape(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if !s.contains('\\') => s.to_string(),
        _ => {
            let mut out = String::with_capacity(b.len() + 8);
            for chunk in b.utf8_chunks() {
                for c in chunk.valid().chars() {
                    if c == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(c);
                    }
                }
                for x in chunk.invalid() {
                    out.push_str(&format!("\\x{x:02x}"));
                }
            }
            out
        }
    }
}

/// One key file of the repository.
#[napi(object)]
pub struct KeyInfo {
    /// The file name under `keys/`.
    pub id: String,
    /// Whether this repository handle was opened with it.
    pub current: bool,
    /// When it was written (RFC 3339), where the store keeps times.
    pub modified: Option<String>,
}

impl From<&vger_core::KeyInfo> for KeyInfo {
    fn from(k: &vger_core::KeyInfo) -> Self {
        KeyInfo {
            id: k.id.clone(),
            current: k.current,
            modified: k.modified.and_then(|t| {
                let ns = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
                Some(rfc3339(i64::try_from(ns).ok()?))
            }),
        }
    }
}
