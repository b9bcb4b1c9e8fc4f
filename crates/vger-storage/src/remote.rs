//! Remote stores through Apache OpenDAL (S3-compatible object stores; SFTP has its own backend,
//! `sftp/`). OpenDAL is async; the [`Backend`] trait is blocking and called from the engine's
//! own threads, so this module blocks on the crate's small Tokio runtime (`runtime.rs`).
//! Requests from many engine threads run at once, bounded by `connections`.
//!
//! Semantics the format relies on, and how they are met here:
//! - create-only writes: `If-None-Match: *` where the store has conditional writes (S3); where it
//!   does not, a `stat` first, and the race that leaves is covered by the names: packs are named
//!   by their content, snapshots, segments, locks and keys by 128 or more random bits;
//! - no partial object is ever visible: an S3 `PUT` (and a multipart completion) is atomic;
//! - listing follows continuation tokens (OpenDAL pages for us);
//! - transient failures (timeouts, resets, 429, 5xx) are retried with exponential backoff and
//!   jitter, bounded by [`RetryOptions`]; "not found" is never retried and never confused with
//!   another error.

use std::time::{Duration, SystemTime};

use opendal::layers::{ConcurrentLimitLayer, RetryLayer, TimeoutLayer};
use opendal::{Buffer, ErrorKind, Operator};
use vger_types::{Result, VgerError};

use crate::options::{BackendOptions, DEFAULT_CONNECTIONS, RetryOptions};
use crate::runtime::runtime;
use crate::{Backend, ObjectMeta, Spooled, validate_key};

pub struct RemoteBackend {
    op: Operator,
    /// The URL, for messages (never holds a secret: credentials are not part of URLs).
    location: String,
    /// Strings that must never appear in an error message.
    secrets: Vec<String>,
    /// The store refuses a write to an existing key by itself (`If-None-Match: *`).
    conditional_writes: bool,
    /// Without conditional writes, objects are written under a temporary name and renamed into
    /// place (WebDAV `MOVE`), so an interrupted upload never shows under its real name.
    rename: bool,
    /// Packs uploaded at once ([`crate::parallel_writes`]).
    writes: usize,
    /// Requests in flight at most.
    connections: usize,
}

impl RemoteBackend {
    /// Wraps `op` with retries, timeouts and a limit on requests in flight.
    pub fn new(op: Operator, location: &str, opts: &BackendOptions) -> Self {
        let cap = op.info().capability();
        let RetryOptions {
            max_retries,
            delay,
            max_delay,
        } = opts.retry;
        let timeout = opts.timeout.unwrap_or(Duration::from_secs(120));
        let connections = opts.connections.unwrap_or(DEFAULT_CONNECTIONS).max(1);
        let op = op
            .layer(
                TimeoutLayer::new()
                    .with_timeout(timeout)
                    .with_io_timeout(timeout.min(Duration::from_secs(60))),
            )
            .layer(
                RetryLayer::new()
                    .with_jitter()
                    .with_max_times(max_retries)
                    .with_min_delay(delay)
                    .with_max_delay(max_delay.max(delay)),
            )
            .layer(ConcurrentLimitLayer::new(connections));
        Self {
            op,
            location: location.to_string(),
            secrets: opts.secrets().into_iter().map(str::to_string).collect(),
            conditional_writes: cap.write_with_if_not_exists,
            rename: !cap.write_with_if_not_exists && cap.rename,
            writes: crate::parallel_writes(connections),
            connections,
        }
    }

    fn block<T>(&self, f: impl IntoFuture<Output = opendal::Result<T>>) -> opendal::Result<T> {
        match runtime() {
            Ok(rt) => rt.block_on(f.into_future()),
            Err(e) => Err(opendal::Error::new(ErrorKind::Unexpected, e.to_string())),
        }
    }

    /// A coded error for a failed request on `key` (or the store itself when empty).
    fn error(&self, key: &str, e: &opendal::Error) -> VgerError {
        let mut detail = describe(e);
        for s in &self.secrets {
            detail = detail.replace(s.as_str(), "<hidden>");
        }
        if detail.contains("NoSuchBucket") {
            return VgerError::RemoteConfig {
                url: self.location.clone(),
                detail: "the bucket does not exist; create it first".into(),
            };
        }
        let what = if key.is_empty() {
            self.location.clone()
        } else {
            format!("{} ({key})", self.location)
        };
        match e.kind() {
            ErrorKind::NotFound => VgerError::ObjectMissing {
                object: key.to_string(),
            },
            ErrorKind::AlreadyExists | ErrorKind::ConditionNotMatch => VgerError::AlreadyExists {
                key: key.to_string(),
            },
            // A 401 that a service does not classify (OpenDAL's WebDAV service): its status text.
            ErrorKind::Unexpected if detail.contains("Unauthorized") => VgerError::RemoteAuth {
                url: self.location.clone(),
                detail,
            },
            ErrorKind::PermissionDenied => VgerError::RemoteAuth {
                url: self.location.clone(),
                detail,
            },
            ErrorKind::ConfigInvalid | ErrorKind::Unsupported => VgerError::RemoteConfig {
                url: self.location.clone(),
                detail,
            },
            // Persistent: temporary, and still failing after every retry.
            _ if e.is_temporary() || e.is_persistent() || e.kind() == ErrorKind::RateLimited => {
                VgerError::RemoteUnavailable { url: what, detail }
            }
            _ => VgerError::io(what, std::io::Error::other(detail)),
        }
    }

    /// Creates `key` holding `data` (see [`Backend::put_new`]). `Buffer` clones share the bytes.
    fn put_buffer(&self, key: &str, data: Buffer) -> Result<()> {
        validate_key(key)?;
        if !self.conditional_writes && self.size(key)?.is_some() {
            return Err(VgerError::AlreadyExists {
                key: key.to_string(),
            });
        }
        if self.rename {
            // Checked above, then written aside and moved into place: a key created by another
            // client in between is overwritten. Names are content hashes (packs) or random
            // (everything else), so that other client wrote the same bytes or cannot exist.
            let mut r = [0u8; 16];
            getrandom::fill(&mut r).map_err(|e| VgerError::Internal(e.to_string()))?;
            let dir = key.rsplit_once('/').map_or("", |(d, _)| d);
            let tmp = crate::temp_key(if dir.is_empty() { "." } else { dir }, &r);
            let tmp = tmp.trim_start_matches("./").to_string();
            self.block(self.op.write(&tmp, data))
                .map_err(|e| self.error(key, &e))?;
            return match self.block(self.op.rename(&tmp, key)) {
                Ok(()) => Ok(()),
                Err(e) => {
                    let _ = self.block(self.op.delete(&tmp));
                    Err(self.error(key, &e))
                }
            };
        }
        let write = self
            .op
            .write_with(key, data.clone())
            .if_not_exists(self.conditional_writes);
        match self.block(write) {
            Ok(_) => Ok(()),
            // A retried PUT whose first attempt landed (its answer was lost) finds its own
            // bytes: that is success. Other bytes under the name are a real conflict.
            Err(e) if e.kind() == ErrorKind::ConditionNotMatch => match self.get(key) {
                Ok(stored) if stored == data.to_vec() => Ok(()),
                _ => Err(self.error(key, &e)),
            },
            Err(e) => Err(self.error(key, &e)),
        }
    }

    /// Every object under `prefix`, sorted by key.
    fn list_entries(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let dir = if prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", prefix.trim_end_matches('/'))
        };
        let entries = match self.block(self.op.list_with(&dir).recursive(true)) {
            Ok(e) => e,
            // A prefix nothing was written under yet.
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error(prefix, &e)),
        };
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let meta = entry.metadata();
            if !meta.is_file() {
                continue;
            }
            let key = entry.path().trim_start_matches('/').to_string();
            // Uploads in progress (stores written through a temporary name).
            if key
                .rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(".tmp."))
            {
                continue;
            }
            out.push(ObjectMeta {
                key,
                size: meta.content_length(),
                modified: meta.last_modified().map(SystemTime::from),
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// An OpenDAL error in a line: its message and the chain of causes (the store's own words, e.g.
/// `S3Error { code: "AccessDenied", … }` or "connection refused"), without the request context
/// OpenDAL adds (URLs with query strings, response headers).
fn describe(e: &opendal::Error) -> String {
    crate::with_causes(e.message().to_string(), e)
}

impl Backend for RemoteBackend {
    fn parallel_writes(&self) -> usize {
        self.writes
    }

    fn parallel_reads(&self) -> usize {
        self.connections
    }

    fn get(&self, key: &str) -> Result<Vec<u8>> {
        validate_key(key)?;
        self.block(self.op.read(key))
            .map(|b| b.to_vec())
            .map_err(|e| self.error(key, &e))
    }

    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        validate_key(key)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        match self.block(self.op.read_with(key).range(offset..offset + len)) {
            Ok(b) => Ok(b.to_vec()),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(self.error(key, &e)),
            Err(e) => {
                // Past the end of the object (a truncated pack): what is there, short, so the
                // caller reports damage instead of a network failure.
                let end = offset + len;
                match self.size(key)? {
                    Some(size) if size < end && offset >= size => Ok(Vec::new()),
                    Some(size) if size < end => self
                        .block(self.op.read_with(key).range(offset..size))
                        .map(|b| b.to_vec())
                        .map_err(|e| self.error(key, &e)),
                    _ => Err(self.error(key, &e)),
                }
            }
        }
    }

    /// Streams the range into `buf` (its capacity reused), so a restore thread holds one copy of
    /// a segment, not the response's chunks and a copy of them.
    fn get_range_into(&self, key: &str, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<()> {
        validate_key(key)?;
        buf.clear();
        if len == 0 {
            return Ok(());
        }
        let streamed = self.block(async {
            let reader = self.op.reader(key).await?;
            reader.read_into(&mut *buf, offset..offset + len).await
        });
        if streamed.is_err() {
            // Missing, past the end, or failed after retries: the plain path says which.
            *buf = self.get_range(key, offset, len)?;
        }
        Ok(())
    }

    fn put_new(&self, key: &str, data: &[u8]) -> Result<()> {
        self.put_buffer(key, Buffer::from(data.to_vec()))
    }

    /// A spooled pack goes up as the bytes it already is (no second copy of 32 MiB per upload).
    fn put_spooled(&self, key: &str, spool: Spooled) -> Result<()> {
        self.put_buffer(key, Buffer::from(spool.into_bytes()?))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .list_entries(prefix)?
            .into_iter()
            .map(|m| m.key)
            .collect())
    }

    fn list_meta(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.list_entries(prefix)
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        validate_key(key)?;
        match self.block(self.op.stat(key)) {
            Ok(m) => Ok(Some(m.content_length())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.error(key, &e)),
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        // Object stores report success for a key that is not there; the trait says missing.
        if self.size(key)?.is_none() {
            return Err(VgerError::ObjectMissing {
                object: key.to_string(),
            });
        }
        self.block(self.op.delete(key))
            .map_err(|e| self.error(key, &e))
    }

    fn is_empty(&self) -> Result<bool> {
        match self.block(self.op.list_with("").limit(2)) {
            Ok(entries) => Ok(entries
                .iter()
                .all(|e| e.path() == "/" || e.path().is_empty())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(true),
            Err(e) => Err(self.error("", &e)),
        }
    }

    fn create(&self) -> Result<()> {
        // Fails early, with the store's own words, on a missing bucket or refused credentials.
        self.block(self.op.check()).map_err(|e| match e.kind() {
            ErrorKind::NotFound => VgerError::RemoteConfig {
                url: self.location.clone(),
                detail: "the bucket (or the directory) does not exist; create it first".into(),
            },
            _ => self.error("", &e),
        })
    }

    fn location(&self) -> &str {
        &self.location
    }
}
