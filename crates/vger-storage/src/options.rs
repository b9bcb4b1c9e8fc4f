//! What a remote backend needs beyond its URL: endpoint, credentials, retries, parallelism. The
//! caller (the CLI's config) fills it; the storage layer never reads a config file or, for
//! what it is given here, the environment.

use std::fmt;
use std::time::Duration;

/// Settings of a remote repository. `Default` is what a URL alone means.
#[derive(Clone, Default)]
pub struct BackendOptions {
    /// S3: the service endpoint (`https://host[:port]`); AWS when absent.
    pub endpoint: Option<String>,
    /// S3: the region (default `us-east-1`).
    pub region: Option<String>,
    /// S3: an access key. Without one, the standard AWS chain (environment, profile, instance
    /// metadata) is asked.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// S3: a named profile of the AWS shared config files.
    pub profile: Option<String>,
    /// S3: the storage class of new objects (e.g. `STANDARD_IA`).
    pub storage_class: Option<String>,
    /// S3: address the bucket as `bucket.host` instead of `host/bucket`.
    pub virtual_host_style: bool,
    /// Plain `http://` endpoints are refused unless this is set.
    pub allow_insecure_http: bool,
    /// SFTP: the private key file (else ssh's defaults and agent).
    pub sftp_key: Option<String>,
    /// SFTP: the known_hosts file the server's host key must be in (else ssh's default,
    /// `~/.ssh/known_hosts`). Host keys are always checked strictly: an unknown or changed key
    /// is refused, never added.
    pub sftp_known_hosts: Option<String>,
    /// WebDAV: the password of the user named in the URL.
    pub webdav_password: Option<String>,
    /// REST: the bearer token of the `vger server`.
    pub rest_token: Option<String>,
    /// REST: a PEM certificate to trust for `rests://` besides the system's (a server with a
    /// self-signed certificate).
    pub tls_ca: Option<String>,
    pub retry: RetryOptions,
    /// Requests in flight at once (uploads, ranged reads).
    pub connections: Option<usize>,
    /// Longest a single request may take before it counts as failed (and is retried).
    pub timeout: Option<Duration>,
    /// Where copies of a remote repository's immutable metadata are kept (see `cache.rs`); no
    /// cache without it.
    pub metadata_cache: Option<std::path::PathBuf>,
    /// Bytes per second written to the store at most, over all threads (0: no limit).
    pub upload_bytes_per_sec: u64,
    /// Bytes per second read from the store at most (0: no limit).
    pub download_bytes_per_sec: u64,
}

impl BackendOptions {
    /// The values no message may contain.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        [
            &self.secret_access_key,
            &self.session_token,
            &self.rest_token,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .filter(|s| s.len() >= 4)
        .collect()
    }
}

/// Never prints a secret, whatever derives or logs it.
impl fmt::Debug for BackendOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |o: &Option<String>| o.as_ref().map(|_| "<hidden>");
        f.debug_struct("BackendOptions")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .field("profile", &self.profile)
            .field("storage_class", &self.storage_class)
            .field("virtual_host_style", &self.virtual_host_style)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("sftp_key", &self.sftp_key)
            .field("sftp_known_hosts", &self.sftp_known_hosts)
            .field("webdav_password", &hidden(&self.webdav_password))
            .field("rest_token", &hidden(&self.rest_token))
            .field("tls_ca", &self.tls_ca)
            .field("retry", &self.retry)
            .field("connections", &self.connections)
            .field("timeout", &self.timeout)
            .field("metadata_cache", &self.metadata_cache)
            .field("upload_bytes_per_sec", &self.upload_bytes_per_sec)
            .field("download_bytes_per_sec", &self.download_bytes_per_sec)
            .finish()
    }
}

/// Retries of transient failures (timeouts, resets, 429, 5xx): exponential backoff with jitter.
/// The names follow vykar's `retry:` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOptions {
    pub max_retries: usize,
    pub delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryOptions {
    fn default() -> Self {
        Self {
            max_retries: 5,
            delay: Duration::from_millis(1500),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// Parallel requests when the caller does not say (see docs/benchmarks.md, "Remote").
pub const DEFAULT_CONNECTIONS: usize = 8;

/// Packs uploaded at once over `connections` connections: half of them (the other half serve
/// reads and small objects), at most 4, so that at most 4 packs (32 MiB each) wait in memory.
pub fn parallel_writes(connections: usize) -> usize {
    (connections / 2).clamp(1, 4)
}
