//! The connection: making (and making again) the ssh session and the SFTP client, the private
//! directory of the ssh control socket, coded errors for what ssh and the server say, and
//! retries with backoff.

use std::io;
use std::num::NonZeroUsize;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use openssh::{ControlPersist, KnownHosts, SessionBuilder};
use openssh_sftp_client::error::SftpErrorKind;
use openssh_sftp_client::{Error as SftpError, Sftp, SftpOptions};
use vger_types::{Result, VgerError};

use super::SftpBackend;
use super::io::is_connection_error;
use crate::options::RetryOptions;
use crate::runtime::runtime;

/// How long the ssh master lingers without clients (if this process dies without closing it).
const MASTER_IDLE_S: usize = 60;

/// The live connection and what the last attempt to make one left.
#[derive(Default)]
pub(super) struct Conn {
    sftp: Option<Arc<Sftp>>,
    /// Counts connections made, so that a caller whose connection broke replaces only that one.
    generation: u64,
    last_error: Option<VgerError>,
    /// The private directory of the ssh control socket, made on first use.
    control_dir: Option<PathBuf>,
}

/// A failed connection attempt: the coded error, and whether trying again may help.
struct ConnectFailure {
    error: VgerError,
    transient: bool,
}

impl SftpBackend {
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
    pub(super) fn run<T>(
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

pub(super) fn random<const N: usize>() -> [u8; N] {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_bounds() {
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
