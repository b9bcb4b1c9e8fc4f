//! The `Repository` and `CancelToken` classes: opening, backup, listing and restore.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use napi::Env;
use napi::Result;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;

use crate::dto::*;
use crate::enums::CompressionAlgorithm;
use crate::job::{job, run};
use crate::progress::{JsLockEvents, LockEventFn, ProgressFn};

/// Cancels a running job when `cancel()` is called (the TS layer wires it to an AbortSignal).
#[napi]
#[derive(Default)]
pub struct CancelToken {
    inner: vger_core::CancelToken,
}

#[napi]
impl CancelToken {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    #[napi]
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    #[napi(getter)]
    pub fn cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }
}

impl CancelToken {
    pub(crate) fn core(&self) -> vger_core::CancelToken {
        self.inner.clone()
    }
}

/// An open repository.
#[napi]
pub struct Repository {
    inner: Arc<vger_core::Repository>,
    /// Trees and chunks recently read by `readDir` and `readFile`.
    browse: Arc<vger_core::BrowseCache>,
}

impl Repository {
    /// A handle for a job closure.
    pub(crate) fn core(&self) -> Arc<vger_core::Repository> {
        Arc::clone(&self.inner)
    }

    pub(crate) fn browse_cache(&self) -> Arc<vger_core::BrowseCache> {
        Arc::clone(&self.browse)
    }
}

#[napi]
impl Repository {
    /// Creates a new repository.
    #[napi]
    pub fn init(env: &Env, opts: InitOptions) -> Result<PromiseRaw<'_, RepoInfo>> {
        run(env, move || {
            let core = vger_core::InitOptions {
                url: opts.url.clone(),
                passphrase: opts.passphrase,
                algorithm: opts.encryption.into(),
                chunker: opts.chunker.map(Into::into).unwrap_or_default(),
                kdf: opts.kdf.map(Into::into).unwrap_or_default(),
                backend: opts.backend.unwrap_or_default().into(),
                id_keys: None,
            };
            let cfg = vger_core::init(&core)?;
            Ok(RepoInfo::new(&opts.url, &cfg))
        })
    }

    /// Creates a new repository that names and cuts data as `like` does (its id and chunker keys
    /// and chunker parameters; a fresh encryption key), so `copyTo` between them moves only the
    /// blobs the destination lacks. `opts.chunker` is ignored.
    #[napi]
    pub fn init_like<'e>(
        env: &'e Env,
        opts: InitOptions,
        like: &Repository,
    ) -> Result<PromiseRaw<'e, RepoInfo>> {
        let like = like.core();
        run(env, move || {
            let core = vger_core::InitOptions {
                url: opts.url.clone(),
                passphrase: opts.passphrase,
                algorithm: opts.encryption.into(),
                chunker: like.config().chunker,
                kdf: opts.kdf.map(Into::into).unwrap_or_default(),
                backend: opts.backend.unwrap_or_default().into(),
                id_keys: Some(like.master().id_keys()),
            };
            let cfg = vger_core::init(&core)?;
            Ok(RepoInfo::new(&opts.url, &cfg))
        })
    }

    /// Reads a repository's unencrypted config only (no passphrase needed): does it exist, and
    /// is it encrypted?
    #[napi]
    pub fn probe(
        env: &Env,
        url: String,
        backend: Option<BackendSettings>,
    ) -> Result<PromiseRaw<'_, RepoInfo>> {
        run(env, move || {
            let opts = backend.unwrap_or_default().into();
            let cfg = vger_core::Repository::probe_with(&url, &opts)?;
            Ok(RepoInfo::new(&url, &cfg))
        })
    }

    /// Removes every lock object without opening the repository (no passphrase needed).
    #[napi]
    pub fn break_locks(
        env: &Env,
        url: String,
        backend: Option<BackendSettings>,
    ) -> Result<PromiseRaw<'_, f64>> {
        run(env, move || {
            let opts = backend.unwrap_or_default().into();
            Ok(vger_core::break_locks_at(&url, &opts)? as f64)
        })
    }

    /// Opens a repository: unwraps the key and loads the index. `onLockEvent` receives, for every
    /// operation on this repository, `lockWait` events while it waits for a conflicting lock and
    /// `warning` events for locks of dead processes it removed or a read without a lock.
    #[napi(
        ts_args_type = "opts: OpenOptions, onLockEvent?: ((event: ProgressEvent) => void) | undefined | null"
    )]
    pub fn open(
        env: &Env,
        opts: OpenOptions,
        on_lock_event: Option<LockEventFn>,
    ) -> Result<PromiseRaw<'_, Repository>> {
        let mut lease = vger_core::LeaseSettings::default();
        if let Some(w) = opts.lock_wait_secs.filter(|w| w.is_finite() && *w >= 0.0) {
            lease.wait = Duration::from_secs_f64(w);
        }
        if let Some(t) = opts.lock_ttl_secs.filter(|t| t.is_finite() && *t >= 1.0) {
            lease.ttl = Duration::from_secs_f64(t);
        }
        run(env, move || {
            let backend = opts.backend.unwrap_or_default().into();
            let cache_dir = opts.cache_dir.map(PathBuf::from);
            let mut r = vger_core::Repository::open_at_cached(
                &opts.url,
                &backend,
                opts.passphrase.as_deref(),
                cache_dir.as_deref(),
            )?;
            r.set_lease_settings(lease);
            r.set_no_lock(opts.no_lock.unwrap_or(false));
            if let Some(f) = on_lock_event {
                r.set_lock_events(Arc::new(JsLockEvents(f)));
            }
            Ok(Repository {
                inner: Arc::new(r),
                browse: Arc::default(),
            })
        })
    }

    #[napi]
    pub fn info(&self) -> RepoInfo {
        RepoInfo::new(self.inner.url(), self.inner.config())
    }

    /// The highest index generation this handle has read or written (exact below 2^53). A caller
    /// that remembers it can tell a repository rolled back to an older state.
    #[napi]
    pub fn generation(&self) -> f64 {
        self.inner.generation() as f64
    }

    /// Makes segments written from now on carry a generation above `floor`.
    #[napi]
    pub fn raise_generation(&self, floor: f64) {
        if floor.is_finite() && floor > 0.0 {
            self.inner.raise_generation(floor as u64);
        }
    }

    /// Problems found while opening (for example a damaged index segment).
    #[napi]
    pub fn open_warnings(&self) -> Vec<Warning> {
        self.inner.warnings().iter().map(Into::into).collect()
    }

    #[napi]
    pub fn backup<'e>(
        &self,
        env: &'e Env,
        opts: BackupOptions,
        on_progress: Option<ProgressFn>,
        cancel: Option<&CancelToken>,
    ) -> Result<PromiseRaw<'e, BackupOutcome>> {
        let repo = self.core();
        job(env, on_progress, cancel, move |progress, cancel| {
            let started = Instant::now();
            let compression = opts
                .compression
                .unwrap_or(CompressionAlgorithm::Lz4)
                .with_level(opts.zstd_level)?;
            let core = vger_core::BackupOptions {
                paths: opts.paths.iter().map(PathBuf::from).collect(),
                label: opts.label,
                exclude: opts.exclude.unwrap_or_default(),
                filter: vger_core::SourceFilter {
                    exclude_if_present: opts.exclude_if_present.unwrap_or_default(),
                    one_file_system: opts.one_file_system.unwrap_or(false),
                    git_ignore: opts.git_ignore.unwrap_or(false),
                    xattrs: opts.xattrs.unwrap_or(true),
                    iexclude: opts.iexclude.unwrap_or_default(),
                    exclude_larger_than: opts
                        .exclude_larger_than
                        .filter(|n| n.is_finite() && *n >= 0.0)
                        .map(|n| n as u64),
                    exclude_caches: opts.exclude_caches.unwrap_or(false),
                },
                hostname: opts.hostname,
                username: opts.username,
                compression,
                threads: opts.threads.unwrap_or(0) as usize,
                cache_dir: opts.cache_dir.map(PathBuf::from),
                streams: opts
                    .streams
                    .unwrap_or_default()
                    .into_iter()
                    .map(stream_source)
                    .collect::<vger_core::Result<_>>()?,
                read_bytes_per_sec: rate(opts.read_bytes_per_sec),
                dry_run: opts.dry_run.unwrap_or(false),
                time_ns: opts
                    .time_ms
                    .filter(|t| t.is_finite())
                    .map(|t| (t * 1e6) as i64),
                tags: opts.tags.unwrap_or_default(),
                description: opts.description.unwrap_or_default(),
            };
            let out = vger_core::backup(&repo, &core, progress, cancel)?;
            Ok(BackupOutcome {
                snapshot_id: out.snapshot.id.to_hex(),
                partial: out.snapshot.partial,
                stats: (&out.snapshot.stats).into(),
                warnings: out.warnings.iter().map(Into::into).collect(),
                warnings_omitted: out.warnings_omitted as f64,
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
                bytes_read: out.bytes_read as f64,
                changes: out.changes.into(),
            })
        })
    }

    #[napi]
    pub fn list_snapshots<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, SnapshotListing>> {
        let repo = self.core();
        run(env, move || {
            let list = repo.snapshots()?;
            Ok(SnapshotListing {
                snapshots: list.snapshots.iter().map(Into::into).collect(),
                hidden_newer: list.hidden_newer as u32,
                damaged: list.damaged.iter().map(Into::into).collect(),
            })
        })
    }

    #[napi]
    pub fn list_contents<'e>(
        &self,
        env: &'e Env,
        snapshot: String,
        path: Option<String>,
    ) -> Result<PromiseRaw<'e, Vec<ListEntry>>> {
        let repo = self.core();
        run(env, move || {
            let entries =
                vger_core::list_contents(&repo, &snapshot, path.as_deref().unwrap_or(""))?;
            Ok(entries.iter().map(Into::into).collect())
        })
    }

    #[napi]
    pub fn restore<'e>(
        &self,
        env: &'e Env,
        opts: RestoreOptions,
        on_progress: Option<ProgressFn>,
        cancel: Option<&CancelToken>,
    ) -> Result<PromiseRaw<'e, RestoreOutcome>> {
        let repo = self.core();
        job(env, on_progress, cancel, move |progress, cancel| {
            let core = vger_core::RestoreOptions {
                snapshot: opts.snapshot,
                dest: PathBuf::from(opts.dest),
                patterns: opts.patterns.unwrap_or_default(),
                excludes: opts.excludes.unwrap_or_default(),
                threads: opts.threads.unwrap_or(0) as usize,
                overwrite: opts.overwrite.map(Into::into),
                delete: opts.delete.unwrap_or(false),
                dry_run: opts.dry_run.unwrap_or(false),
            };
            let out = vger_core::restore(&repo, &core, progress, cancel)?;
            Ok(RestoreOutcome {
                files: out.files as f64,
                dirs: out.dirs as f64,
                symlinks: out.symlinks as f64,
                others: out.others as f64,
                bytes: out.bytes as f64,
                errors: out.errors.iter().map(Into::into).collect(),
                skipped: out
                    .skipped
                    .into_iter()
                    .map(|s| Skipped {
                        path: s.path,
                        reason: s.reason,
                    })
                    .collect(),
                unchanged: out.unchanged as f64,
                replaced: out.replaced as f64,
                deleted: out.deleted as f64,
                changes: out
                    .changes
                    .into_iter()
                    .map(|c| RestoreChange {
                        path: c.path,
                        action: c.action,
                    })
                    .collect(),
            })
        })
    }
}

fn stream_source(s: StreamSpec) -> vger_core::Result<vger_core::StreamSource> {
    let from = match (s.stdin.unwrap_or(false), s.command) {
        (true, None) => vger_core::StreamFrom::Stdin,
        (false, Some(argv)) => vger_core::StreamFrom::Command {
            argv,
            env: s.env.map(|e| e.into_iter().collect()),
            cwd: s.cwd.map(PathBuf::from),
        },
        _ => {
            return Err(vger_core::VgerError::invalid(format!(
                "stream {:?}: give either stdin or a command",
                s.path
            )));
        }
    };
    Ok(vger_core::StreamSource {
        path: s.path.into_bytes(),
        from,
    })
}
