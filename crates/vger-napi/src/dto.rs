//! Plain JS objects crossing the boundary, and their conversions. Numbers are `f64` (exact to
//! 2^53) so that TypeScript never sees a bigint.

use napi_derive::napi;
use vger_core::tree::{Content, Kind};
use vger_core::{
    ChunkerParams as CoreChunker, Event, KdfParams, RepoConfig, Snapshot,
    SnapshotStats as CoreStats, Warning as CoreWarning,
};

#[napi(object)]
#[derive(Clone)]
pub struct ChunkerParams {
    pub min_size: u32,
    pub avg_size: u32,
    pub max_size: u32,
}

#[napi(object)]
pub struct KdfOptions {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl From<KdfOptions> for KdfParams {
    fn from(k: KdfOptions) -> Self {
        KdfParams {
            memory_kib: k.memory_kib,
            iterations: k.iterations,
            parallelism: k.parallelism,
        }
    }
}

#[napi(object)]
pub struct InitOptions {
    pub url: String,
    pub passphrase: Option<String>,
    /// 'auto' | 'aes256gcm' | 'chacha20poly1305' | 'none'
    pub encryption: String,
    pub chunker: Option<ChunkerParams>,
    pub kdf: Option<KdfOptions>,
}

#[napi(object)]
pub struct OpenOptions {
    pub url: String,
    pub passphrase: Option<String>,
    /// How long to wait for a conflicting lock before failing with VGER_LOCKED (default 600 s).
    pub lock_wait_secs: Option<f64>,
    /// Lifetime of this client's lock objects; renewed every third of it (default 180 s).
    pub lock_ttl_secs: Option<f64>,
}

#[napi(object)]
pub struct RepoInfo {
    pub url: String,
    pub id: String,
    pub encryption: String,
    pub format_version: u32,
    pub chunker: ChunkerParams,
    pub created: String,
}

impl RepoInfo {
    pub fn new(url: &str, c: &RepoConfig) -> Self {
        RepoInfo {
            url: url.to_string(),
            id: hex(&c.id),
            encryption: c.algorithm.name().to_string(),
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
    /// 'lz4' (default) | 'zstd' | 'none'
    pub compression: Option<String>,
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
    pub code: String,
    pub message: String,
}

impl From<&CoreWarning> for Warning {
    fn from(w: &CoreWarning) -> Self {
        Warning {
            path: w.path.clone(),
            code: w.code.to_string(),
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
    pub path: String,
    pub kind: String,
    pub size: f64,
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
            kind: e.kind.name().to_string(),
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
    pub pattern: Option<String>,
}

#[napi(object)]
pub struct RestoreOutcome {
    pub files: f64,
    pub dirs: f64,
    pub symlinks: f64,
    pub others: f64,
    pub bytes: f64,
    pub errors: Vec<Warning>,
}

#[napi(object)]
#[derive(Clone)]
pub struct ProgressEvent {
    /// 'backup' | 'restore' | 'step' | 'warning'
    pub r#type: String,
    pub files: f64,
    pub bytes: f64,
    pub new_bytes: f64,
    pub total_files: f64,
    pub total_bytes: f64,
    pub path: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
    /// For 'step': the phase of a maintenance job (mark, repack, packs, data, trees…) and its
    /// progress (`total` 0 when unknown).
    pub phase: Option<String>,
    pub done: f64,
    pub total: f64,
}

impl From<Event> for ProgressEvent {
    fn from(e: Event) -> Self {
        let mut p = ProgressEvent {
            r#type: String::new(),
            files: 0.0,
            bytes: 0.0,
            new_bytes: 0.0,
            total_files: 0.0,
            total_bytes: 0.0,
            path: None,
            code: None,
            message: None,
            phase: None,
            done: 0.0,
            total: 0.0,
        };
        match e {
            Event::Backup {
                files,
                bytes,
                new_bytes,
            } => {
                p.r#type = "backup".into();
                (p.files, p.bytes, p.new_bytes) = (files as f64, bytes as f64, new_bytes as f64);
            }
            Event::Restore {
                files,
                bytes,
                total_files,
                total_bytes,
            } => {
                p.r#type = "restore".into();
                (p.files, p.bytes) = (files as f64, bytes as f64);
                (p.total_files, p.total_bytes) = (total_files as f64, total_bytes as f64);
            }
            Event::Step { phase, done, total } => {
                p.r#type = "step".into();
                p.phase = Some(phase.into());
                (p.done, p.total) = (done as f64, total as f64);
            }
            Event::Warning(w) => {
                p.r#type = "warning".into();
                p.path = Some(w.path);
                p.code = Some(w.code.to_string());
                p.message = Some(w.message);
            }
        }
        p
    }
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

/// Nanoseconds since the epoch as RFC 3339 UTC with nanosecond precision.
pub fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's public-domain algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}
