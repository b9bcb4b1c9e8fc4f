//! SFTP repositories through the system's OpenSSH client (`openssh`, which runs `ssh` as a
//! ControlMaster, and `openssh-sftp-client`, which speaks SFTP over that connection).
//! OpenDAL's SFTP service is not used: it cannot name a known_hosts file and it puts the ssh
//! control socket in the working directory.
//!
//! One ssh connection and one SFTP client per backend, made on first use: SFTP multiplexes
//! requests, so the engine's threads share it, and long transfers are pipelined (several
//! requests of one transfer in flight at once, up to `connections`). A connection that broke is
//! made again once per call.
//!
//! Semantics the format relies on, and how they are met here:
//! - host keys are checked strictly, always: an unknown or changed key is refused, never added;
//! - create-only, atomic writes: bytes go to `<dir>/.tmp.<random>` (opened create-only), are
//!   synced where the server offers `fsync@openssh.com`, and are then hard-linked to the key
//!   (`hardlink@openssh.com`, which fails if the key exists, so two writers of one key cannot
//!   both win); the temporary name is removed afterwards. A server without the extension gets
//!   a `stat` then a rename, and the race that leaves is covered by the names (see
//!   `remote.rs`). A temporary an interrupted upload left is removed by the debris sweep;
//! - "not found" is told apart from every other error and never retried;
//! - connection failures (refused, timeouts, resets) are retried with exponential backoff and
//!   jitter, bounded by [`RetryOptions`]; refused logins and host keys are not.

mod connect;
mod io;

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use vger_types::{Result, VgerError};

use self::connect::Conn;
use self::io::{
    Stored, full_path, is_no_such_file, is_refusal, is_temporary, make_dirs, read_dir, read_file,
    store_new, tmo, walk,
};
use crate::options::{BackendOptions, DEFAULT_CONNECTIONS, RetryOptions};
use crate::{Backend, ObjectMeta, validate_key};

pub struct SftpBackend {
    user: Option<String>,
    /// As ssh wants it (an IPv6 address without brackets).
    host: String,
    port: Option<u16>,
    /// Absolute path of the repository on the server, without a trailing `/`.
    root: String,
    /// The redacted URL, for messages.
    location: String,
    key_file: Option<String>,
    known_hosts: Option<String>,
    connect_timeout: Duration,
    /// Longest a single request may take before the connection counts as broken.
    timeout: Duration,
    retry: RetryOptions,
    /// Requests of one transfer or listing in flight at once.
    width: usize,
    secrets: Vec<String>,
    conn: Mutex<Conn>,
    /// Connection attempts finished (each a whole retry cycle), to share a failure with the
    /// callers that waited for it instead of each retrying again.
    cycles: AtomicU64,
}

impl SftpBackend {
    /// A backend for `path` on `host`; nothing is contacted until the first request.
    pub fn new(
        user: Option<String>,
        host: &str,
        port: Option<u16>,
        path: &str,
        location: &str,
        opts: &BackendOptions,
    ) -> Result<Self> {
        let bad = |detail: &str| VgerError::RemoteConfig {
            url: location.to_string(),
            detail: detail.to_string(),
        };
        // ssh takes the destination as an argument: nothing that would read as an option.
        if host.starts_with('-') || user.as_deref().is_some_and(|u| u.starts_with('-')) {
            return Err(bad("a host or user name must not start with '-'"));
        }
        let root = path.trim_end_matches('/');
        if !root.starts_with('/') {
            return Err(bad("the path must be absolute"));
        }
        let timeout = opts.timeout.unwrap_or(Duration::from_secs(120));
        Ok(Self {
            user,
            host: host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host)
                .to_string(),
            port,
            root: root.to_string(),
            location: location.to_string(),
            key_file: opts.sftp_key.clone(),
            known_hosts: opts.sftp_known_hosts.clone(),
            connect_timeout: opts
                .timeout
                .unwrap_or(Duration::from_secs(30))
                .max(Duration::from_secs(1)),
            timeout: timeout.max(Duration::from_secs(1)),
            retry: opts.retry,
            width: opts.connections.unwrap_or(DEFAULT_CONNECTIONS).max(1),
            secrets: opts.secrets().into_iter().map(str::to_string).collect(),
            conn: Mutex::new(Conn::default()),
            cycles: AtomicU64::new(0),
        })
    }

    /// The server path of `rel` (a key or a directory under the root; empty: the root).
    fn full(&self, rel: &str) -> String {
        full_path(&self.root, rel)
    }

    fn hide(&self, text: &str) -> String {
        let mut t = text.trim().replace('\r', "");
        for s in &self.secrets {
            t = t.replace(s.as_str(), "<hidden>");
        }
        if t.len() > 500 {
            let mut end = 500;
            while !t.is_char_boundary(end) {
                end -= 1;
            }
            t.truncate(end);
            t.push('…');
        }
        t
    }

    /// Every file under `prefix` (temporary ones included), sorted by key.
    fn walk_files(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let (root, t, width) = (self.root.as_str(), self.timeout, self.width);
        let (mut files, _) =
            self.run(prefix, async |s, _| walk(s, root, prefix, t, width).await)?;
        files.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(files)
    }

    fn listing(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        if !prefix.is_empty() {
            validate_key(prefix)?;
        }
        let mut all = self.walk_files(prefix)?;
        all.retain(|m| !is_temporary(&m.key));
        Ok(all)
    }
}

impl Backend for SftpBackend {
    fn parallel_writes(&self) -> usize {
        crate::parallel_writes(self.width)
    }

    fn parallel_reads(&self) -> usize {
        self.width
    }

    fn get(&self, key: &str) -> Result<Vec<u8>> {
        validate_key(key)?;
        let (path, t, w) = (self.full(key), self.timeout, self.width);
        self.run(key, async |s, _| read_file(s, &path, 0, None, t, w).await)
    }

    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        validate_key(key)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        let (path, t, w) = (self.full(key), self.timeout, self.width);
        self.run(key, async |s, _| {
            read_file(s, &path, offset, Some(len), t, w).await
        })
    }

    fn put_new(&self, key: &str, data: &[u8]) -> Result<()> {
        validate_key(key)?;
        let (root, t, w) = (self.root.as_str(), self.timeout, self.width);
        let stored = self.run(key, async |s, retried| {
            match store_new(s, root, key, data, t, w).await? {
                Stored::Created => Ok(true),
                // The first try may have stored it before the connection broke: then the
                // object is these very bytes.
                Stored::Exists if retried => {
                    let path = full_path(root, key);
                    Ok(read_file(s, &path, 0, None, t, w).await? == data)
                }
                Stored::Exists => Ok(false),
            }
        })?;
        if stored {
            Ok(())
        } else {
            Err(VgerError::AlreadyExists {
                key: key.to_string(),
            })
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self.listing(prefix)?.into_iter().map(|m| m.key).collect())
    }

    fn list_meta(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.listing(prefix)
    }

    fn remove_debris(&self, age: Duration) -> Result<usize> {
        let now = SystemTime::now();
        let old: Vec<String> = self
            .walk_files("")?
            .into_iter()
            .filter(|m| {
                is_temporary(&m.key)
                    && m.modified
                        .and_then(|t| now.duration_since(t).ok())
                        .is_some_and(|d| d >= age)
            })
            .map(|m| self.full(&m.key))
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        let t = self.timeout;
        self.run("", async |s, _| {
            let mut fs = s.fs();
            let mut removed = 0;
            for p in &old {
                match tmo(t, fs.remove_file(p)).await {
                    Ok(()) => removed += 1,
                    Err(e) if is_refusal(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(removed)
        })
    }

    fn destroy(&self) -> Result<()> {
        let (root, t, w) = (self.root.as_str(), self.timeout, self.width);
        self.run("", async |s, _| {
            let (_, mut dirs) = walk(s, root, "", t, w).await?;
            // Deepest first; only directories that are empty now: anything else is not ours.
            dirs.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
            let mut fs = s.fs();
            for d in dirs
                .iter()
                .map(|d| full_path(root, d))
                .chain([root.to_string()])
            {
                match tmo(t, fs.remove_dir(&d)).await {
                    Err(e) if !is_refusal(&e) => return Err(e),
                    _ => {}
                }
            }
            Ok(())
        })
    }

    fn size(&self, key: &str) -> Result<Option<u64>> {
        validate_key(key)?;
        let (path, t) = (self.full(key), self.timeout);
        self.run(key, async |s, _| {
            match tmo(t, s.fs().metadata(&path)).await {
                Ok(m) => Ok(Some(m.len().unwrap_or(0))),
                Err(e) if is_no_such_file(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        let (path, t) = (self.full(key), self.timeout);
        self.run(key, async |s, _| tmo(t, s.fs().remove_file(&path)).await)
    }

    fn is_empty(&self) -> Result<bool> {
        let (path, t) = (self.root.clone(), self.timeout);
        self.run("", async |s, _| match read_dir(s, &path, t).await {
            Ok(entries) => Ok(entries.iter().all(|(n, _)| n == "." || n == "..")),
            Err(e) if is_no_such_file(&e) => Ok(true),
            Err(e) => Err(e),
        })
    }

    fn create(&self) -> Result<()> {
        let (root, t) = (self.root.as_str(), self.timeout);
        self.run("", async |s, _| {
            make_dirs(s, "", root, t).await?;
            // Fails here, with the server's words, if the root could not be made.
            tmo(t, s.fs().metadata(root)).await.map(drop)
        })
        .map_err(|e| match e {
            VgerError::ObjectMissing { .. } => VgerError::RemoteConfig {
                url: self.location.clone(),
                detail: format!("cannot create the directory {root} on the server"),
            },
            e => e,
        })
    }

    fn location(&self) -> &str {
        &self.location
    }
}
