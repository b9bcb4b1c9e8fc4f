//! The `Repository` and `CancelToken` classes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::PromiseRaw;
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{Env, Result, Status};
use napi_derive::napi;
use vger_core::Algorithm;
use vger_core::compress::Compression;

use crate::dto::*;
use crate::errors::{blocking, to_napi};
use crate::progress::JsProgress;

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

/// An open repository.
#[napi]
pub struct Repository {
    inner: Arc<vger_core::Repository>,
}

pub(crate) fn token(c: Option<&CancelToken>) -> vger_core::CancelToken {
    c.map(|c| c.inner.clone()).unwrap_or_default()
}

impl Repository {
    pub(crate) fn core(&self) -> &Arc<vger_core::Repository> {
        &self.inner
    }
}

#[napi]
impl Repository {
    /// Creates a new repository.
    #[napi]
    pub fn init(env: &Env, opts: InitOptions) -> Result<PromiseRaw<'_, RepoInfo>> {
        let algorithm = Algorithm::parse(&opts.encryption).map_err(to_napi)?;
        let core = vger_core::InitOptions {
            url: opts.url.clone(),
            passphrase: opts.passphrase,
            algorithm,
            chunker: opts.chunker.map(Into::into).unwrap_or_default(),
            kdf: opts.kdf.map(Into::into).unwrap_or_default(),
        };
        let url = opts.url;
        env.spawn_future(async move {
            let cfg = blocking(move || vger_core::init(&core)).await?;
            Ok(RepoInfo::new(&url, &cfg))
        })
    }

    /// Reads a repository's unencrypted config only (no passphrase needed): does it exist, and
    /// is it encrypted?
    #[napi]
    pub fn probe(env: &Env, url: String) -> Result<PromiseRaw<'_, RepoInfo>> {
        env.spawn_future(async move {
            let u = url.clone();
            let cfg = blocking(move || vger_core::Repository::probe(&u)).await?;
            Ok(RepoInfo::new(&url, &cfg))
        })
    }

    /// Removes every lock object without opening the repository (no passphrase needed).
    #[napi]
    pub fn break_locks(env: &Env, url: String) -> Result<PromiseRaw<'_, f64>> {
        env.spawn_future(async move {
            Ok(blocking(move || vger_core::break_locks_at(&url)).await? as f64)
        })
    }

    /// Opens a repository: unwraps the key and loads the index.
    #[napi]
    pub fn open(env: &Env, opts: OpenOptions) -> Result<PromiseRaw<'_, Repository>> {
        env.spawn_future(async move {
            let mut lease = vger_core::LeaseSettings::default();
            if let Some(w) = opts.lock_wait_secs.filter(|w| w.is_finite() && *w >= 0.0) {
                lease.wait = Duration::from_secs_f64(w);
            }
            if let Some(t) = opts.lock_ttl_secs.filter(|t| t.is_finite() && *t >= 1.0) {
                lease.ttl = Duration::from_secs_f64(t);
            }
            let repo = blocking(move || {
                let mut r = vger_core::Repository::open(&opts.url, opts.passphrase.as_deref())?;
                r.set_lease_settings(lease);
                Ok(r)
            })
            .await?;
            Ok(Repository {
                inner: Arc::new(repo),
            })
        })
    }

    #[napi]
    pub fn info(&self) -> RepoInfo {
        RepoInfo::new(self.inner.url(), self.inner.config())
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
        on_progress: Option<ThreadsafeFunction<ProgressEvent, (), ProgressEvent, Status, false>>,
        cancel: Option<&CancelToken>,
    ) -> Result<PromiseRaw<'e, BackupOutcome>> {
        let compression = Compression::parse(
            opts.compression.as_deref().unwrap_or("lz4"),
            opts.zstd_level,
        )
        .map_err(to_napi)?;
        let core = vger_core::BackupOptions {
            paths: opts.paths.iter().map(PathBuf::from).collect(),
            label: opts.label,
            exclude: opts.exclude.unwrap_or_default(),
            filter: vger_core::SourceFilter {
                exclude_if_present: opts.exclude_if_present.unwrap_or_default(),
                one_file_system: opts.one_file_system.unwrap_or(false),
                git_ignore: opts.git_ignore.unwrap_or(false),
                xattrs: opts.xattrs.unwrap_or(true),
            },
            hostname: opts.hostname,
            username: opts.username,
            compression,
            threads: 0,
            cache_dir: opts.cache_dir.map(PathBuf::from),
        };
        let repo = Arc::clone(&self.inner);
        let cancel = token(cancel);
        env.spawn_future(async move {
            let started = Instant::now();
            let progress = Arc::new(JsProgress::new(on_progress));
            let p = Arc::clone(&progress);
            let out = blocking(move || vger_core::backup(&repo, &core, p.as_ref(), &cancel)).await;
            progress.flush();
            let out = out?;
            Ok(BackupOutcome {
                snapshot_id: out.snapshot.id.to_hex(),
                partial: out.snapshot.partial,
                stats: (&out.snapshot.stats).into(),
                warnings: out.warnings.iter().map(Into::into).collect(),
                warnings_omitted: out.warnings_omitted as f64,
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            })
        })
    }

    #[napi]
    pub fn list_snapshots<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, SnapshotListing>> {
        let repo = Arc::clone(&self.inner);
        env.spawn_future(async move {
            let list = blocking(move || repo.snapshots()).await?;
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
        let repo = Arc::clone(&self.inner);
        env.spawn_future(async move {
            let entries = blocking(move || {
                vger_core::list_contents(&repo, &snapshot, path.as_deref().unwrap_or(""))
            })
            .await?;
            Ok(entries.iter().map(Into::into).collect())
        })
    }

    #[napi]
    pub fn restore<'e>(
        &self,
        env: &'e Env,
        opts: RestoreOptions,
        on_progress: Option<ThreadsafeFunction<ProgressEvent, (), ProgressEvent, Status, false>>,
        cancel: Option<&CancelToken>,
    ) -> Result<PromiseRaw<'e, RestoreOutcome>> {
        let core = vger_core::RestoreOptions {
            snapshot: opts.snapshot,
            dest: PathBuf::from(opts.dest),
            pattern: opts.pattern,
            threads: 0,
        };
        let repo = Arc::clone(&self.inner);
        let cancel = token(cancel);
        env.spawn_future(async move {
            let progress = Arc::new(JsProgress::new(on_progress));
            let p = Arc::clone(&progress);
            let out = blocking(move || vger_core::restore(&repo, &core, p.as_ref(), &cancel)).await;
            progress.flush();
            let out = out?;
            Ok(RestoreOutcome {
                files: out.files as f64,
                dirs: out.dirs as f64,
                symlinks: out.symlinks as f64,
                others: out.others as f64,
                bytes: out.bytes as f64,
                errors: out.errors.iter().map(Into::into).collect(),
            })
        })
    }
}
