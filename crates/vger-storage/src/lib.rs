//! Storage backends behind one small trait. Keys are `/`-separated relative paths such as
//! `packs/ab/<64 hex>`. The engine never touches a filesystem or network API directly, so S3,
//! SFTP and the REST server plug in here without changes to the engine.

mod assemble;
mod cache;
mod local;
mod options;
pub mod platform;
mod remote;
mod rest;
mod runtime;
#[cfg(unix)]
mod sftp;
mod spool;
mod target;
mod throttle;

use std::time::{Duration, SystemTime};

pub use assemble::{Assembled, SourceRange, assemble_here, assembled_size, pack_key, pack_key_id};
pub use cache::CachedBackend;
pub use local::LocalBackend;
pub use options::{BackendOptions, DEFAULT_CONNECTIONS, RetryOptions, parallel_writes};
pub use remote::RemoteBackend;
pub use rest::RestBackend;
#[cfg(unix)]
pub use sftp::SftpBackend;
pub use spool::{SpoolParts, Spooled};
pub use target::{Target, redact};
pub use throttle::{RateLimit, Throttled};
use vger_types::{Result, VgerError};

/// What a listing knows about an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// Last modification time, where the store keeps one (used for grace periods).
    pub modified: Option<SystemTime>,
}

/// A repository store. Every method is blocking and may be called from many threads at once.
pub trait Backend: Send + Sync {
    /// Reads a whole object; a missing object is [`VgerError::ObjectMissing`].
    fn get(&self, key: &str) -> Result<Vec<u8>>;
    /// Reads `len` bytes at `offset`; fewer bytes than asked is reported as damage by the caller.
    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>>;
    /// Like [`Backend::get_range`], into `buf` (replacing its contents), so that a caller reading
    /// many ranges can reuse one buffer instead of allocating each time.
    fn get_range_into(&self, key: &str, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<()> {
        *buf = self.get_range(key, offset, len)?;
        Ok(())
    }
    /// Like [`Backend::get_range`], for an immutable object that is read again and again (a pack
    /// of trees): a caching backend keeps a whole local copy and serves ranges from it.
    fn get_range_cached(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.get_range(key, offset, len)
    }
    /// Drops the local copies of objects under `prefix` that `keep` says are gone (a caching
    /// backend; for the others there is nothing to drop).
    fn retain_cached(&self, _prefix: &str, _keep: &dyn Fn(&str) -> bool) {}
    /// Creates an object atomically and durably. It never overwrites: an existing key is
    /// [`VgerError::AlreadyExists`], which lets an append-only server refuse every overwrite. A
    /// remote backend reports success when the key already holds exactly `data` (a retried
    /// request whose first attempt landed but whose answer was lost).
    fn put_new(&self, key: &str, data: &[u8]) -> Result<()>;
    /// Starts an object that will be stored in directory `dir` under a key known only once all
    /// its bytes are written (a pack: its key is its hash). The local backend spools to a
    /// temporary file, [`temp_key`]`(dir, token)` (so a caller can record the name before the
    /// file exists, and a kill at any point leaves nothing unrecorded); the default keeps the
    /// bytes in memory.
    fn spool(&self, _dir: &str, _token: &[u8; 16]) -> Result<Spooled> {
        Ok(Spooled::memory())
    }
    /// Stores a spooled object under `key` with the guarantees of [`Backend::put_new`]
    /// (create-only, atomic, durable). The default reads the bytes back and calls `put_new`.
    fn put_spooled(&self, key: &str, spool: Spooled) -> Result<()> {
        self.put_new(key, &spool.into_bytes()?)
    }
    /// How many whole objects (packs) a writer should upload at once: 1 for a local disk, where
    /// the bytes are on disk already and a commit is an fsync and a link; more for a network
    /// store, where one upload at a time leaves the link idle between requests.
    fn parallel_writes(&self) -> usize {
        1
    }
    /// How many range reads a reader should keep in flight: a network store answers each after a
    /// round trip, so a restore wants at least this many (its connections) at once.
    fn parallel_reads(&self) -> usize {
        1
    }
    /// Whether the storage host builds packs from ranges of packs it holds
    /// ([`Backend::assemble`]): the vger server does; with the others the caller copies the bytes.
    fn can_assemble(&self) -> bool {
        false
    }
    /// Has the storage host build the pack `head ‖ ranges ‖ tail` from packs it holds (checking
    /// each against its id) and store it under the key of its hash; returns that key, or `None`
    /// when the host declines (it cannot, or a source pack is damaged): the caller then copies
    /// the blobs through itself, authenticating each.
    fn assemble(
        &self,
        _head: &[u8],
        _ranges: &[SourceRange],
        _tail: &[u8],
    ) -> Result<Option<String>> {
        Ok(None)
    }
    /// Has the storage host hash each pack against its id without sending it (the vger server):
    /// per key, `None` when sound, else why not; `None` overall when the host cannot.
    fn verify_packs(&self, _keys: &[String]) -> Result<Option<Vec<Option<String>>>> {
        Ok(None)
    }
    /// Lists the keys directly or indirectly under `prefix` (a directory such as `snapshots`).
    fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Like [`Backend::list`], with sizes and modification times.
    fn list_meta(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let mut out = Vec::new();
        for key in self.list(prefix)? {
            if let Some(size) = self.size(&key)? {
                out.push(ObjectMeta {
                    key,
                    size,
                    modified: None,
                });
            }
        }
        Ok(out)
    }
    /// Removes what interrupted writes left behind (temporary files) that is older than `age`;
    /// returns how many were removed. Stores with atomic uploads have nothing to clean.
    fn remove_debris(&self, _age: Duration) -> Result<usize> {
        Ok(0)
    }
    /// Removes what is left of the location once every object is deleted (empty directories).
    fn destroy(&self) -> Result<()> {
        Ok(())
    }
    /// Size of an object, or `None` if it does not exist.
    fn size(&self, key: &str) -> Result<Option<u64>>;
    /// Removes an object (maintenance only; backups never call it).
    fn delete(&self, key: &str) -> Result<()>;
    /// Whether the location holds nothing at all (used by `init`).
    fn is_empty(&self) -> Result<bool>;
    /// Prepares the location for a new repository (creates directories where that matters).
    fn create(&self) -> Result<()>;
    /// A human-readable location for messages.
    fn location(&self) -> &str;
}

/// `head`, then each cause of `e` that adds something, joined with ": " (a network error's own
/// words, without the request context clients put around them).
pub(crate) fn with_causes(mut head: String, e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !text.is_empty() && !head.contains(&text) {
            head.push_str(": ");
            head.push_str(&text);
        }
        cause = c.source();
    }
    head
}

/// The key of the temporary object [`Backend::spool`] creates under `dir` for `token`.
pub fn temp_key(dir: &str, token: &[u8; 16]) -> String {
    format!("{dir}/.tmp.{}", hex::encode(token))
}

/// Opens the backend for a repository URL with default settings.
pub fn open_backend(url: &str) -> Result<Box<dyn Backend>> {
    open_backend_with(url, &BackendOptions::default())
}

/// Opens the backend for a repository URL (see [`Target`] for the forms).
/// A remote repository gets the metadata cache when `opts.metadata_cache` names a directory.
pub fn open_backend_with(url: &str, opts: &BackendOptions) -> Result<Box<dyn Backend>> {
    // Limited below the cache: what the cache serves does not cross the link.
    let remote = Throttled::wrap(
        open_store(url, opts)?,
        opts.upload_bytes_per_sec,
        opts.download_bytes_per_sec,
    );
    match (&opts.metadata_cache, Target::parse(url, opts)?) {
        (_, Target::Local(_)) | (None, _) => Ok(remote),
        (Some(dir), _) => Ok(Box::new(CachedBackend::new(remote, dir))),
    }
}

fn open_store(url: &str, opts: &BackendOptions) -> Result<Box<dyn Backend>> {
    let location = redact(url);
    let op = match Target::parse(url, opts)? {
        Target::Local(path) => return Ok(Box::new(LocalBackend::new(&path, url))),
        Target::S3 {
            endpoint,
            bucket,
            prefix,
        } => s3_operator(endpoint.as_deref(), &bucket, &prefix, opts),
        Target::Sftp {
            user,
            host,
            port,
            path,
        } => {
            return open_sftp(user, &host, port, &path, &location, opts);
        }
        Target::Rest { base } => return Ok(Box::new(RestBackend::new(&base, &location, opts)?)),
        Target::WebDav {
            endpoint,
            root,
            user,
        } => {
            let mut b = opendal::services::Webdav::default()
                .endpoint(&endpoint)
                .root(&root);
            if let Some(u) = &user {
                b = b.username(u);
            }
            if let Some(p) = &opts.webdav_password {
                b = b.password(p);
            }
            opendal::Operator::new(b)
        }
    }
    .map_err(|e| VgerError::RemoteConfig {
        url: location.clone(),
        detail: e.to_string(),
    })?;
    Ok(Box::new(RemoteBackend::new(op, &location, opts)))
}

/// SFTP runs the system's `ssh` as a ControlMaster over a Unix socket (the `openssh` crate), which
/// exists on Unix only (docs/platforms.md).
#[cfg(unix)]
fn open_sftp(
    user: Option<String>,
    host: &str,
    port: Option<u16>,
    path: &str,
    location: &str,
    opts: &BackendOptions,
) -> Result<Box<dyn Backend>> {
    Ok(Box::new(SftpBackend::new(
        user, host, port, path, location, opts,
    )?))
}

#[cfg(not(unix))]
fn open_sftp(
    _user: Option<String>,
    _host: &str,
    _port: Option<u16>,
    _path: &str,
    location: &str,
    _opts: &BackendOptions,
) -> Result<Box<dyn Backend>> {
    Err(VgerError::UnsupportedBackend(format!(
        "sftp:// needs OpenSSH's connection sharing, which Windows lacks ({location}); run vger under WSL, or serve the repository with `vger server` and use rest://"
    )))
}

fn s3_operator(
    endpoint: Option<&str>,
    bucket: &str,
    prefix: &str,
    opts: &BackendOptions,
) -> opendal::Result<opendal::Operator> {
    let mut b = opendal::services::S3::default()
        .bucket(bucket)
        .root(&format!("/{prefix}"))
        .region(opts.region.as_deref().unwrap_or("us-east-1"));
    if let Some(e) = endpoint {
        b = b.endpoint(e);
    }
    if let (Some(id), Some(secret)) = (&opts.access_key_id, &opts.secret_access_key) {
        // Given credentials are the only ones used: nothing is read from ~/.aws or the
        // environment behind the user's back.
        b = b
            .access_key_id(id)
            .secret_access_key(secret)
            .disable_config_load()
            .disable_ec2_metadata();
        if let Some(t) = &opts.session_token {
            b = b.session_token(t);
        }
    } else if let Some(p) = &opts.profile {
        b = b.profile(p);
    }
    if let Some(c) = &opts.storage_class {
        b = b.default_storage_class(c);
    }
    if opts.virtual_host_style {
        b = b.enable_virtual_host_style();
    }
    opendal::Operator::new(b)
}

/// Deletes `key`; an object that is already gone is not an error (it returns false). Maintenance
/// uses it so that a run interrupted after some deletions can simply be repeated.
pub fn delete_if_present(backend: &dyn Backend, key: &str) -> Result<bool> {
    match backend.delete(key) {
        Ok(()) => Ok(true),
        Err(VgerError::ObjectMissing { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Checks that a key is a relative `/`-separated path with no empty, `.` or `..` components.
pub fn validate_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && !key.starts_with('/')
        && key.split('/').all(|c| {
            !c.is_empty() && c != "." && c != ".." && !c.contains('\\') && !c.contains('\0')
        });
    if ok {
        Ok(())
    } else {
        Err(VgerError::invalid(format!("invalid storage key {key:?}")))
    }
}
