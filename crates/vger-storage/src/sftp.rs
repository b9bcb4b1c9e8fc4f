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

use std::future::Future;
use std::io::{self, SeekFrom};
use std::num::NonZeroUsize;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use openssh::{ControlPersist, KnownHosts, SessionBuilder};
use openssh_sftp_client::error::SftpErrorKind;
use openssh_sftp_client::metadata::{MetaData, Permissions};
use openssh_sftp_client::{Error as SftpError, Sftp, SftpOptions};
use tokio::io::AsyncSeek;
use tokio::task::JoinSet;
use vger_types::{Result, VgerError};

use crate::options::{BackendOptions, DEFAULT_CONNECTIONS, RetryOptions};
use crate::{Backend, ObjectMeta, validate_key};

/// Where interrupted writes leave their bytes (never listed as an object).
const TMP_PREFIX: &str = ".tmp.";
/// Directories this backend makes: private to their owner, like the local backend's.
const DIR_MODE: u16 = 0o700;
/// Bytes per read or write request: OpenSSH's largest (a server that takes less gets several
/// requests per chunk).
const CHUNK: u64 = 261_120;
/// How long the ssh master lingers without clients (if this process dies without closing it).
const MASTER_IDLE_S: usize = 60;

/// The runtime every SFTP backend blocks on. Its worker threads only drive I/O; the engine's
/// threads wait on them.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vger-sftp")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| VgerError::Internal(format!("cannot start the SFTP I/O runtime: {e}")))
}

/// The live connection and what the last attempt to make one left.
#[derive(Default)]
struct Conn {
    sftp: Option<Arc<Sftp>>,
    /// Counts connections made, so that a caller whose connection broke replaces only that one.
    generation: u64,
    last_error: Option<VgerError>,
    /// The private directory of the ssh control socket, made on first use.
    control_dir: Option<PathBuf>,
}

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

/// A failed connection attempt: the coded error, and whether trying again may help.
struct ConnectFailure {
    error: VgerError,
    transient: bool,
}

/// What a create-only write found.
enum Stored {
    Created,
    Exists,
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

    fn lock(&self) -> MutexGuard<'_, Conn> {
        // A panic while connecting leaves nothing half-done that matters: keep going.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection, made if there is none or if `stale` (the generation a caller saw
    /// break) is the current one.
    fn client(&self, stale: Option<u64>) -> Result<(Arc<Sftp>, u64)> {
        let seen = self.cycles.load(Ordering::Acquire);
        let mut conn = self.lock();
        if let Some(s) = &conn.sftp
            && Some(conn.generation) != stale
        {
            return Ok((Arc::clone(s), conn.generation));
        }
        conn.sftp = None;
        if self.cycles.load(Ordering::Acquire) != seen
            && let Some(e) = &conn.last_error
        {
            // Another caller just tried, through every retry, while this one waited.
            return Err(e.duplicate());
        }
        let dir = match &conn.control_dir {
            Some(d) => d.clone(),
            None => {
                let d = make_control_dir().map_err(|e| {
                    VgerError::io("creating a directory for the ssh control socket", e)
                })?;
                conn.control_dir = Some(d.clone());
                d
            }
        };
        let result = runtime()?.block_on(self.connect(&dir));
        self.cycles.fetch_add(1, Ordering::AcqRel);
        match result {
            Ok(s) => {
                let s = Arc::new(s);
                conn.generation += 1;
                conn.sftp = Some(Arc::clone(&s));
                conn.last_error = None;
                Ok((s, conn.generation))
            }
            Err(e) => {
                conn.last_error = Some(e.duplicate());
                Err(e)
            }
        }
    }

    /// Connects, retrying transient failures with exponential backoff and jitter.
    async fn connect(&self, dir: &Path) -> Result<Sftp> {
        if let Some(k) = &self.key_file
            && let Err(e) = std::fs::metadata(k)
        {
            return Err(VgerError::RemoteConfig {
                url: self.location.clone(),
                detail: format!("cannot read the key file {k} (sftp_key): {e}"),
            });
        }
        let mut attempt = 0;
        loop {
            match self.connect_once(dir).await {
                Ok(s) => return Ok(s),
                Err(f) if f.transient && attempt < self.retry.max_retries => {
                    tokio::time::sleep(backoff(&self.retry, attempt)).await;
                    attempt += 1;
                }
                Err(f) => return Err(f.error),
            }
        }
    }

    async fn connect_once(&self, dir: &Path) -> std::result::Result<Sftp, ConnectFailure> {
        let mut b = SessionBuilder::default();
        if let Some(u) = &self.user {
            b.user(u.clone());
        }
        if let Some(p) = self.port {
            b.port(p);
        }
        if let Some(k) = &self.key_file {
            b.keyfile(k);
        }
        b.known_hosts_check(KnownHosts::Strict);
        if let Some(k) = &self.known_hosts {
            // ssh splits option values at blanks unless they are quoted.
            if k.contains(char::is_whitespace) {
                b.user_known_hosts_file(format!("\"{k}\""));
            } else {
                b.user_known_hosts_file(k);
            }
        }
        b.control_directory(dir);
        if let Some(idle) = NonZeroUsize::new(MASTER_IDLE_S) {
            b.control_persist(ControlPersist::IdleFor(idle));
        }
        b.connect_timeout(self.connect_timeout);
        b.server_alive_interval(Duration::from_secs(15));
        let limit = self.connect_timeout * 2 + Duration::from_secs(10);
        let session = match tokio::time::timeout(limit, b.connect(&self.host)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(self.ssh_failure(&e)),
            Err(_) => {
                return Err(
                    self.unavailable(&format!("no ssh connection within {} s", limit.as_secs()))
                );
            }
        };
        match tokio::time::timeout(
            self.timeout,
            Sftp::from_session(session, SftpOptions::default()),
        )
        .await
        {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(self.unavailable(&format!("cannot start SFTP on the server: {e}"))),
            Err(_) => Err(self.unavailable(&format!(
                "the SFTP subsystem did not answer within {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    fn unavailable(&self, detail: &str) -> ConnectFailure {
        ConnectFailure {
            error: VgerError::RemoteUnavailable {
                url: self.location.clone(),
                detail: self.hide(detail),
            },
            transient: true,
        }
    }

    /// What ssh's own words (its log) say went wrong.
    fn ssh_failure(&self, e: &openssh::Error) -> ConnectFailure {
        let auth = |detail: String| ConnectFailure {
            error: VgerError::RemoteAuth {
                url: self.location.clone(),
                detail,
            },
            transient: false,
        };
        let io = match e {
            openssh::Error::Connect(io) => io,
            openssh::Error::Master(io) => {
                return ConnectFailure {
                    error: VgerError::io(
                        "preparing the ssh control socket",
                        io::Error::other(io.to_string()),
                    ),
                    transient: false,
                };
            }
            other => return self.unavailable(&other.to_string()),
        };
        if io.kind() == io::ErrorKind::NotFound {
            return ConnectFailure {
                error: VgerError::RemoteConfig {
                    url: self.location.clone(),
                    detail: format!(
                        "cannot run ssh ({io}); SFTP repositories need OpenSSH's client (ssh) installed"
                    ),
                },
                transient: false,
            };
        }
        let log = io.to_string();
        let last = log
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("ssh failed without a message");
        let detail = self.hide(last);
        if log.contains("Host key verification failed")
            || log.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        {
            let kh = self.known_hosts.as_deref().unwrap_or("~/.ssh/known_hosts");
            let host = &self.host;
            let port = self.port.unwrap_or(22);
            return auth(format!(
                "the host key of {host} is not in {kh} (or changed): verify it and add it, e.g. with ssh-keyscan -p {port} {host} >> {kh}"
            ));
        }
        if log.contains("Permission denied (") || log.contains("Too many authentication failures") {
            let who = self.user.as_deref().unwrap_or("the default user");
            return auth(format!(
                "ssh login as {who} failed: {detail}; check the key file (sftp_key), the ssh agent and the server's authorized_keys"
            ));
        }
        let transient = io.kind() == io::ErrorKind::ConnectionRefused
            || io.kind() == io::ErrorKind::TimedOut
            || [
                "Connection refused",
                "timed out",
                "Connection reset",
                "Connection closed",
                "kex_exchange_identification",
                "Network is unreachable",
                "No route to host",
                "Could not resolve hostname",
                "Broken pipe",
                "Connection to",
            ]
            .iter()
            .any(|s| log.contains(s));
        ConnectFailure {
            error: VgerError::RemoteUnavailable {
                url: self.location.clone(),
                detail,
            },
            transient,
        }
    }

    /// Runs `op` on the connection; if the connection broke (or a request got no answer within
    /// the timeout), makes it again and runs `op` once more, telling it so.
    fn run<T>(
        &self,
        key: &str,
        op: impl AsyncFn(&Arc<Sftp>, bool) -> std::result::Result<T, SftpError>,
    ) -> Result<T> {
        let rt = runtime()?;
        let (sftp, generation) = self.client(None)?;
        match rt.block_on(op(&sftp, false)) {
            Ok(v) => return Ok(v),
            Err(e) if !is_connection_error(&e) => return Err(self.error(key, &e)),
            Err(_) => {}
        }
        drop(sftp);
        let (sftp, _) = self.client(Some(generation))?;
        rt.block_on(op(&sftp, true))
            .map_err(|e| self.error(key, &e))
    }

    /// A coded error for a failed request on `key` (or the location itself when empty).
    fn error(&self, key: &str, e: &SftpError) -> VgerError {
        let what = if key.is_empty() {
            self.location.clone()
        } else {
            format!("{} ({key})", self.location)
        };
        match e {
            SftpError::SftpError(kind, msg) => {
                let text = self.hide(msg.get().0);
                match kind {
                    SftpErrorKind::NoSuchFile => VgerError::ObjectMissing {
                        object: key.to_string(),
                    },
                    SftpErrorKind::PermDenied => VgerError::RemoteAuth {
                        url: self.location.clone(),
                        detail: format!("permission denied on {}: {text}", self.full(key)),
                    },
                    SftpErrorKind::OpUnsupported => VgerError::RemoteConfig {
                        url: self.location.clone(),
                        detail: format!(
                            "the SFTP server does not support a request vger needs: {text}"
                        ),
                    },
                    _ => VgerError::io(what, io::Error::other(format!("SFTP server: {text}"))),
                }
            }
            SftpError::UnsupportedExtension(_) | SftpError::UnsupportedSftpProtocol { .. } => {
                VgerError::RemoteConfig {
                    url: self.location.clone(),
                    detail: self.hide(&e.to_string()),
                }
            }
            _ => VgerError::RemoteUnavailable {
                url: what,
                detail: self.hide(&e.to_string()),
            },
        }
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

impl Drop for SftpBackend {
    fn drop(&mut self) {
        let conn = self.conn.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = conn.sftp.take().and_then(|s| Arc::try_unwrap(s).ok())
            && tokio::runtime::Handle::try_current().is_err()
            && let Ok(rt) = runtime()
        {
            // Ends the ssh master now (it would otherwise linger until its idle timeout).
            let _ = rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(5), s.close()).await });
        }
        if let Some(d) = conn.control_dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn full_path(root: &str, rel: &str) -> String {
    if rel.is_empty() {
        root.to_string()
    } else {
        format!("{root}/{rel}")
    }
}

/// A directory for the ssh control socket: short (a socket path is limited to 108 bytes),
/// private (mode 0700) and new.
fn make_control_dir() -> io::Result<PathBuf> {
    let base = if Path::new("/tmp").is_dir() {
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    let mut last = None;
    for _ in 0..8 {
        let dir = base.join(format!("vger-ssh-{}", hex::encode(random::<6>())));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free name")))
}

fn random<const N: usize>() -> [u8; N] {
    let mut r = [0u8; N];
    // A failure of the system's random source leaves zeros: names only need to differ from
    // concurrent writers', and create-only opens catch a clash; jitter only spreads retries.
    let _ = getrandom::fill(&mut r);
    r
}

/// Exponential backoff with jitter: between half and all of `delay * 2^attempt`, at most
/// `max_delay`.
fn backoff(r: &RetryOptions, attempt: usize) -> Duration {
    let exp = r
        .delay
        .saturating_mul(1u32 << attempt.min(20))
        .min(r.max_delay.max(r.delay));
    let frac = f64::from(u32::from_le_bytes(random::<4>())) / f64::from(u32::MAX);
    exp / 2 + exp.mul_f64(frac / 2.0)
}

/// `dir/.tmp.<random>` beside `key`.
fn temporary_key(key: &str) -> String {
    let name = format!("{TMP_PREFIX}{}", hex::encode(random::<8>()));
    match key.rfind('/') {
        Some(i) => format!("{}{name}", &key[..=i]),
        None => name,
    }
}

fn is_temporary(key: &str) -> bool {
    key.rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with(TMP_PREFIX))
}

/// The connection broke (or stopped answering): the server never said no.
fn is_connection_error(e: &SftpError) -> bool {
    !matches!(
        e,
        SftpError::SftpError(..)
            | SftpError::UnsupportedExtension(_)
            | SftpError::UnsupportedSftpProtocol { .. }
            | SftpError::BufferTooLong(_)
    )
}

fn is_no_such_file(e: &SftpError) -> bool {
    matches!(e, SftpError::SftpError(SftpErrorKind::NoSuchFile, _))
}

/// The server refused a request (as opposed to the connection failing).
fn is_refusal(e: &SftpError) -> bool {
    matches!(e, SftpError::SftpError(..))
}

/// `f`, or a timeout error (which counts as a broken connection) after `t`.
async fn tmo<T>(
    t: Duration,
    f: impl Future<Output = std::result::Result<T, SftpError>>,
) -> std::result::Result<T, SftpError> {
    match tokio::time::timeout(t, f).await {
        Ok(r) => r,
        Err(_) => Err(SftpError::IOError(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the server did not answer within {} s", t.as_secs()),
        ))),
    }
}

/// One request (or a few) of a pipelined transfer.
type Job<T> = Pin<Box<dyn Future<Output = std::result::Result<T, SftpError>> + Send>>;

/// Runs `jobs` with at most `width` in flight; their results in order.
async fn windowed<T: Send + 'static>(
    width: usize,
    jobs: Vec<Job<T>>,
) -> std::result::Result<Vec<T>, SftpError> {
    let n = jobs.len();
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut set = JoinSet::new();
    let mut jobs = jobs.into_iter().enumerate();
    loop {
        while set.len() < width.max(1) {
            let Some((i, job)) = jobs.next() else { break };
            set.spawn(async move { (i, job.await) });
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let (i, r) = done?;
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(r?);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// Reads `len` bytes (all when `None`) at `offset`: fewer at the end of the file, never padded.
/// Up to `width` requests are in flight at once.
async fn read_file(
    s: &Arc<Sftp>,
    path: &str,
    offset: u64,
    len: Option<u64>,
    t: Duration,
    width: usize,
) -> std::result::Result<Vec<u8>, SftpError> {
    let mut file = tmo(t, s.open(path)).await?;
    let chunk = CHUNK;
    let want = match len {
        Some(l) if l <= 8 * chunk => l,
        // The whole file, or a range long enough that its end is worth knowing first.
        _ => {
            let size = tmo(t, file.metadata()).await?.len().unwrap_or(0);
            let left = size.saturating_sub(offset);
            len.map_or(left, |l| l.min(left))
        }
    };
    // Pipelined chunks, each read whole unless the file ends first (objects never change, so
    // the size as opened is the size).
    let jobs = (0..want.div_ceil(chunk))
        .map(|i| {
            let mut f = file.clone();
            let at = offset.saturating_add(i * chunk);
            let n = chunk.min(want - i * chunk);
            Box::pin(async move {
                Pin::new(&mut f).start_seek(SeekFrom::Start(at))?;
                // All `n` bytes unless the file ends first.
                let mut got: Vec<u8> = Vec::new();
                while (got.len() as u64) < n {
                    let ask = u32::try_from(n - got.len() as u64).unwrap_or(u32::MAX);
                    match tmo(t, f.read(ask, Default::default())).await? {
                        Some(b) if !b.is_empty() => got.extend_from_slice(&b),
                        _ => break,
                    }
                }
                Ok((n, got))
            }) as Job<(u64, Vec<u8>)>
        })
        .collect();
    let mut out = Vec::new();
    for (n, got) in windowed(width, jobs).await? {
        out.extend_from_slice(&got);
        if (got.len() as u64) < n {
            break;
        }
    }
    // Closes the handle in the background: nothing waits for that answer.
    drop(file);
    Ok(out)
}

/// `mkdir -p` of `rel` under `root` (which must exist), mode 0700.
async fn make_dirs(
    s: &Arc<Sftp>,
    root: &str,
    rel: &str,
    t: Duration,
) -> std::result::Result<(), SftpError> {
    let mut fs = s.fs();
    let mut at = root.to_string();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        at = format!("{at}/{part}");
        match tmo(
            t,
            fs.dir_builder()
                .permissions(Permissions::from(DIR_MODE))
                .create(&at),
        )
        .await
        {
            // Most likely it exists (SFTP v3 has no code for that); a real problem shows at
            // the next step.
            Err(e) if is_refusal(&e) => {}
            r => r?,
        }
    }
    Ok(())
}

/// Writes `data` to a new temporary file beside `key` and links it to `key`.
async fn store_new(
    s: &Arc<Sftp>,
    root: &str,
    key: &str,
    data: &[u8],
    t: Duration,
    width: usize,
) -> std::result::Result<Stored, SftpError> {
    let tmp = full_path(root, &temporary_key(key));
    let target = full_path(root, key);
    let open = async || {
        tmo(
            t,
            s.options().write(true).create_new(true).open(tmp.as_str()),
        )
        .await
    };
    let mut file = match open().await {
        Err(e) if is_no_such_file(&e) => {
            if let Some((dir, _)) = key.rsplit_once('/') {
                make_dirs(s, root, dir, t).await?;
            }
            open().await?
        }
        r => r?,
    };
    let mut fs = s.fs();
    let written = async {
        let chunk = CHUNK as usize;
        let jobs = data
            .chunks(chunk)
            .enumerate()
            .map(|(i, c)| {
                let mut f = file.clone();
                let c = c.to_vec();
                let at = (i * chunk) as u64;
                Box::pin(async move {
                    Pin::new(&mut f).start_seek(SeekFrom::Start(at))?;
                    let mut rest = c.as_slice();
                    while !rest.is_empty() {
                        let n = tmo(t, f.write(rest)).await?;
                        rest = &rest[n..];
                    }
                    Ok(())
                }) as Job<()>
            })
            .collect();
        windowed(width, jobs).await?;
        if s.support_fsync() {
            tmo(t, file.sync_all()).await?;
        }
        tmo(t, file.close()).await
    }
    .await;
    if let Err(e) = written {
        if !is_connection_error(&e) {
            let _ = tmo(t, fs.remove_file(&tmp)).await;
        }
        return Err(e);
    }
    let exists =
        async |fs: &mut openssh_sftp_client::fs::Fs| match tmo(t, fs.metadata(&target)).await {
            Ok(_) => Ok(true),
            Err(e) if is_no_such_file(&e) => Ok(false),
            Err(e) => Err(e),
        };
    let linked = if s.support_hardlink() {
        // Fails if the key exists: of two writers of one key, exactly one wins.
        tmo(t, fs.hard_link(&tmp, &target)).await
    } else if exists(&mut fs).await? {
        let _ = tmo(t, fs.remove_file(&tmp)).await;
        return Ok(Stored::Exists);
    } else {
        tmo(t, fs.rename(&tmp, &target)).await
    };
    match linked {
        Ok(()) => {
            if s.support_hardlink() {
                // Left behind, it is only a second name of the object: the debris sweep
                // removes it.
                let _ = tmo(t, fs.remove_file(&tmp)).await;
            }
            Ok(Stored::Created)
        }
        Err(e) if is_refusal(&e) => {
            let _ = tmo(t, fs.remove_file(&tmp)).await;
            if exists(&mut fs).await? {
                Ok(Stored::Exists)
            } else {
                Err(e)
            }
        }
        Err(e) => Err(e),
    }
}

/// Every file (and directory) under `prefix`, reading up to `width` directories at once.
async fn walk(
    s: &Arc<Sftp>,
    root: &str,
    prefix: &str,
    t: Duration,
    width: usize,
) -> std::result::Result<(Vec<ObjectMeta>, Vec<String>), SftpError> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut pending = vec![prefix.trim_end_matches('/').to_string()];
    let mut set = JoinSet::new();
    loop {
        while set.len() < width {
            let Some(dir) = pending.pop() else { break };
            let (s, path) = (Arc::clone(s), full_path(root, &dir));
            set.spawn(async move {
                let r = read_dir(&s, &path, t).await;
                (dir, r)
            });
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let (dir, entries) = done?;
        let entries = match entries {
            Ok(e) => e,
            // Nothing written under it yet, or removed while listing.
            Err(e) if is_no_such_file(&e) => continue,
            Err(e) => return Err(e),
        };
        for (name, meta) in entries {
            if name == "." || name == ".." {
                continue;
            }
            let key = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            match meta.file_type() {
                Some(ft) if ft.is_dir() => {
                    dirs.push(key.clone());
                    pending.push(key);
                }
                Some(ft) if ft.is_file() => files.push(ObjectMeta {
                    key,
                    size: meta.len().unwrap_or(0),
                    modified: meta.modified().map(|m| m.as_system_time()),
                }),
                _ => {}
            }
        }
    }
    Ok((files, dirs))
}

/// The entries of one directory.
async fn read_dir(
    s: &Sftp,
    path: &str,
    t: Duration,
) -> std::result::Result<Vec<(String, MetaData)>, SftpError> {
    use futures_core::Stream;
    let mut fs = s.fs();
    let dir = tmo(t, fs.open_dir(path)).await?;
    let mut entries = std::pin::pin!(dir.read_dir());
    let mut out = Vec::new();
    loop {
        let next = std::future::poll_fn(|cx| entries.as_mut().poll_next(cx));
        match tmo(t, async { next.await.transpose() }).await? {
            Some(e) => out.push((e.filename().to_string_lossy().into_owned(), e.metadata())),
            None => break,
        }
    }
    Ok(out)
}

impl Backend for SftpBackend {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_and_backoff() {
        let t = temporary_key("packs/ab/cd");
        assert!(t.starts_with("packs/ab/.tmp.") && is_temporary(&t), "{t}");
        assert!(is_temporary(&temporary_key("config")));
        assert!(!is_temporary("packs/ab/cd"));
        let r = RetryOptions {
            max_retries: 5,
            delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        for a in 0..8 {
            let d = backoff(&r, a);
            assert!(
                d >= Duration::from_millis(50) && d <= Duration::from_millis(300),
                "{d:?}"
            );
        }
    }

    #[test]
    fn control_dir_is_short_and_private() {
        let d = make_control_dir().unwrap();
        let mode = std::fs::metadata(&d).unwrap().permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o700);
        // The socket goes two levels further down: `.ssh-connectionXXXXXX/master`.
        assert!(d.as_os_str().len() + 30 < 100, "{}", d.display());
        std::fs::remove_dir(d).unwrap();
    }
}
