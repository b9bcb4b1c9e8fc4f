//! A repository on a `vger server` (docs/server.md): `rest://host:port/<repo>` over HTTP (loopback,
//! or with `allow_insecure_http`) and `rests://host:port/<repo>` over HTTPS. Requests go through
//! reqwest on the shared runtime, at most `connections` at once, with retries (exponential
//! backoff with jitter) of transient failures: connection errors, timeouts, 429 and 5xx. The
//! token travels in an `Authorization: Bearer` header only and never reaches a message.

use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode, header};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use vger_types::{Result, VgerError};

use crate::options::{BackendOptions, DEFAULT_CONNECTIONS, RetryOptions};
use crate::runtime::runtime;
use crate::{Backend, ObjectMeta, SourceRange, validate_key};

pub struct RestBackend {
    client: reqwest::Client,
    /// `http(s)://host:port/<repo>/`
    base: String,
    location: String,
    token: Option<String>,
    retry: RetryOptions,
    connections: usize,
    slots: Semaphore,
}

/// One entry of a `?list` answer.
#[derive(Deserialize)]
struct Listed {
    key: String,
    size: u64,
    modified: Option<u64>,
}

/// The JSON body of an error answer.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// What came back: status, body.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    length: Option<u64>,
}

impl RestBackend {
    /// `base` is `http(s)://host:port/<repo>` (no trailing slash).
    pub fn new(base: &str, location: &str, opts: &BackendOptions) -> Result<Self> {
        let timeout = opts.timeout.unwrap_or(Duration::from_secs(300));
        // An idle limit, not a whole-request one: a large upload on a slow link may take long as
        // long as bytes move. Idle connections are dropped before the server's keep-alive (30 s)
        // would close them under a new request.
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(20))
            .tcp_nodelay(true)
            .pool_max_idle_per_host(64);
        if let Some(ca) = &opts.tls_ca {
            let pem = std::fs::read(ca)
                .map_err(|e| VgerError::io(format!("reading the server certificate {ca}"), e))?;
            let cert =
                reqwest::Certificate::from_pem(&pem).map_err(|e| VgerError::RemoteConfig {
                    url: location.to_string(),
                    detail: format!("{ca} is not a PEM certificate: {e}"),
                })?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder.build().map_err(|e| VgerError::RemoteConfig {
            url: location.to_string(),
            detail: e.to_string(),
        })?;
        let connections = opts.connections.unwrap_or(DEFAULT_CONNECTIONS).max(1);
        Ok(Self {
            client,
            base: format!("{}/", base.trim_end_matches('/')),
            location: location.to_string(),
            token: opts.rest_token.clone(),
            retry: opts.retry,
            connections,
            slots: Semaphore::new(connections),
        })
    }

    /// Sends one request (retrying transient failures) and reads the whole answer.
    fn send(
        &self,
        method: Method,
        path: &str,
        range: Option<(u64, u64)>,
        body: Option<&[u8]>,
    ) -> Result<Answer> {
        let url = format!("{}{path}", self.base);
        // One copy for every attempt (a clone shares it).
        let body = body.map(bytes::Bytes::copy_from_slice);
        let rt = runtime().map_err(|e| VgerError::Internal(e.to_string()))?;
        rt.block_on(async {
            let _slot = self
                .slots
                .acquire()
                .await
                .map_err(|_| VgerError::Cancelled)?;
            let mut attempt = 0usize;
            loop {
                let mut req = self.client.request(method.clone(), &url);
                if let Some(t) = &self.token {
                    req = req.bearer_auth(t);
                }
                if let Some((off, len)) = range {
                    req = req.header(header::RANGE, format!("bytes={off}-{}", off + len - 1));
                }
                if let Some(b) = &body {
                    req = req.body(b.clone());
                }
                let outcome = match req.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        let length = resp
                            .headers()
                            .get(header::CONTENT_LENGTH)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse().ok());
                        match resp.bytes().await {
                            Ok(b) => Ok(Answer {
                                status,
                                body: b.to_vec(),
                                length,
                            }),
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e),
                };
                let transient = match &outcome {
                    // 507: the server's storage is full, which a retry does not change.
                    // 501: the server does not do this at all.
                    Ok(a) => {
                        a.status == StatusCode::TOO_MANY_REQUESTS
                            || (a.status.is_server_error()
                                && a.status != StatusCode::INSUFFICIENT_STORAGE
                                && a.status != StatusCode::NOT_IMPLEMENTED)
                    }
                    Err(e) => e.is_timeout() || e.is_connect() || e.is_request() || e.is_body(),
                };
                if !transient || attempt >= self.retry.max_retries {
                    return outcome.map_err(|e| VgerError::RemoteUnavailable {
                        url: format!("{} ({path})", self.location),
                        detail: describe(e),
                    });
                }
                attempt += 1;
                tokio::time::sleep(self.backoff(attempt)).await;
            }
        })
    }

    /// Exponential backoff with full jitter, capped.
    fn backoff(&self, attempt: usize) -> Duration {
        let exp = self
            .retry
            .delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.retry.max_delay.max(self.retry.delay));
        let mut r = [0u8; 8];
        let _ = getrandom::fill(&mut r);
        let frac = (u64::from_le_bytes(r) % 1000) as u32;
        exp.mul_f64(0.5 + f64::from(frac) / 2000.0)
    }

    /// The error for an answer that is not what the request wanted.
    fn refused(&self, key: &str, a: &Answer) -> VgerError {
        let body: ErrorBody = serde_json::from_slice(&a.body).unwrap_or_default();
        let detail = if body.message.is_empty() {
            format!("HTTP {}", a.status)
        } else {
            format!("{} ({})", body.message, body.code)
        };
        let detail = match &self.token {
            Some(t) if t.len() >= 4 => detail.replace(t.as_str(), "<hidden>"),
            _ => detail,
        };
        match a.status {
            StatusCode::NOT_FOUND => VgerError::ObjectMissing {
                object: key.to_string(),
            },
            StatusCode::PRECONDITION_FAILED => VgerError::AlreadyExists {
                key: key.to_string(),
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => VgerError::RemoteAuth {
                url: self.location.clone(),
                detail,
            },
            StatusCode::INSUFFICIENT_STORAGE => VgerError::NoSpace {
                context: format!("{}: {detail}", self.location),
            },
            StatusCode::PAYLOAD_TOO_LARGE if body.code == "VGER_SERVER_QUOTA" => {
                VgerError::NoSpace {
                    context: format!("{}: {detail}", self.location),
                }
            }
            s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                VgerError::RemoteUnavailable {
                    url: format!("{} ({key})", self.location),
                    detail,
                }
            }
            _ => VgerError::RemoteConfig {
                url: self.location.clone(),
                detail: format!("{key}: {detail}"),
            },
        }
    }

    fn list_entries(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let path = if prefix.is_empty() {
            "?list".to_string()
        } else {
            format!("{}/?list", prefix.trim_end_matches('/'))
        };
        let a = self.send(Method::GET, &path, None, None)?;
        if a.status == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        if a.status != StatusCode::OK {
            return Err(self.refused(prefix, &a));
        }
        let listed: Vec<Listed> =
            serde_json::from_slice(&a.body).map_err(|e| VgerError::RemoteConfig {
                url: self.location.clone(),
                detail: format!("the server's listing of {prefix} is not valid: {e}"),
            })?;
        let mut out: Vec<ObjectMeta> = listed
            .into_iter()
            .filter(|l| validate_key(&l.key).is_ok())
            .map(|l| ObjectMeta {
                key: l.key,
                size: l.size,
                modified: l
                    .modified
                    .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s)),
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// A reqwest error in a line, with its causes, without the URL (it holds no secret, but the
/// caller names the location already).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    crate::with_causes(e.to_string(), &e)
}

impl Backend for RestBackend {
    fn parallel_writes(&self) -> usize {
        crate::parallel_writes(self.connections)
    }

    fn parallel_reads(&self) -> usize {
        self.connections
    }

    fn get(&self, key: &str) -> Result<Vec<u8>> {
        validate_key(key)?;
        let a = self.send(Method::GET, key, None, None)?;
        match a.status {
            StatusCode::OK => Ok(a.body),
            _ => Err(self.refused(key, &a)),
        }
    }

    fn get_range(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        validate_key(key)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        let a = self.send(Method::GET, key, Some((offset, len)), None)?;
        match a.status {
            // Past the end: nothing there, so the caller reports damage.
            StatusCode::RANGE_NOT_SATISFIABLE => Ok(Vec::new()),
            StatusCode::PARTIAL_CONTENT if a.body.len() as u64 <= len => Ok(a.body),
            _ => Err(self.refused(key, &a)),
        }
    }

    fn put_new(&self, key: &str, data: &[u8]) -> Result<()> {
        validate_key(key)?;
        let a = self.send(Method::PUT, key, None, Some(data))?;
        match a.status {
            StatusCode::CREATED | StatusCode::OK | StatusCode::NO_CONTENT => Ok(()),
            // A retried PUT whose first attempt landed finds its own bytes: success. The server
            // accepts a pack only when its bytes hash to its name, so a pack there is these bytes;
            // anything else is compared (its size first).
            StatusCode::PRECONDITION_FAILED if key.starts_with("packs/") => Ok(()),
            StatusCode::PRECONDITION_FAILED => match self.size(key) {
                Ok(Some(n)) if n == data.len() as u64 => match self.get(key) {
                    Ok(stored) if stored == data => Ok(()),
                    _ => Err(self.refused(key, &a)),
                },
                _ => Err(self.refused(key, &a)),
            },
            _ => Err(self.refused(key, &a)),
        }
    }

    fn verify_packs(&self, keys: &[String]) -> Result<Option<Vec<Option<String>>>> {
        #[derive(Serialize)]
        struct Request<'a> {
            packs: &'a [String],
        }
        #[derive(Deserialize)]
        struct Verdict {
            key: String,
            ok: bool,
            error: Option<String>,
        }
        #[derive(Deserialize)]
        struct Verdicts {
            results: Vec<Verdict>,
        }
        let mut out = Vec::with_capacity(keys.len());
        // The server takes at most 100 packs per request.
        for batch in keys.chunks(100) {
            let body = serde_json::to_vec(&Request { packs: batch })
                .map_err(|e| VgerError::Internal(e.to_string()))?;
            let a = self.send(Method::POST, "?verify-packs", None, Some(&body))?;
            if a.status != StatusCode::OK {
                return Err(self.refused("?verify-packs", &a));
            }
            let v: Verdicts =
                serde_json::from_slice(&a.body).map_err(|e| VgerError::RemoteConfig {
                    url: self.location.clone(),
                    detail: format!(
                        "the server's answer to ?verify-packs is not what vger expects: {e}"
                    ),
                })?;
            if v.results.len() != batch.len()
                || v.results.iter().zip(batch).any(|(r, k)| &r.key != k)
            {
                return Err(VgerError::RemoteConfig {
                    url: self.location.clone(),
                    detail: "the server's answer to ?verify-packs names other packs than asked"
                        .into(),
                });
            }
            out.extend(v.results.into_iter().map(|r| {
                (!r.ok).then(|| match r.error.as_deref() {
                    Some("missing") => "the server does not have it".to_string(),
                    Some(e) => format!("the server found it damaged: {e}"),
                    None => "the server found it damaged".to_string(),
                })
            }));
        }
        Ok(Some(out))
    }

    fn can_assemble(&self) -> bool {
        true
    }

    fn assemble(&self, head: &[u8], ranges: &[SourceRange], tail: &[u8]) -> Result<Option<String>> {
        #[derive(Serialize)]
        struct Request<'a> {
            head: String,
            ranges: &'a [SourceRange],
            tail: String,
        }
        #[derive(Deserialize)]
        struct Done {
            key: String,
            size: u64,
        }
        let body = serde_json::to_vec(&Request {
            head: hex::encode(head),
            ranges,
            tail: hex::encode(tail),
        })
        .map_err(|e| VgerError::Internal(e.to_string()))?;
        let a = self.send(Method::POST, "?repack", None, Some(&body))?;
        // Declined: the server does not repack (501), or a source pack is missing (404) or
        // damaged (400 VGER_SERVER_BAD_PACK); copying through this side says which blobs.
        let code = serde_json::from_slice::<ErrorBody>(&a.body)
            .unwrap_or_default()
            .code;
        if a.status == StatusCode::NOT_IMPLEMENTED
            || a.status == StatusCode::NOT_FOUND
            || (a.status == StatusCode::BAD_REQUEST && code == "VGER_SERVER_BAD_PACK")
        {
            return Ok(None);
        }
        if a.status != StatusCode::CREATED && a.status != StatusCode::OK {
            return Err(self.refused("?repack", &a));
        }
        let done: Done = serde_json::from_slice(&a.body).map_err(|e| VgerError::RemoteConfig {
            url: self.location.clone(),
            detail: format!("the server's answer to ?repack is not what vger expects: {e}"),
        })?;
        // The server names the pack by its hash; the length is all this side can check.
        let want = crate::assembled_size(head, ranges, tail);
        if crate::pack_key_id(&done.key).is_none() || done.size != want {
            return Err(VgerError::RemoteConfig {
                url: self.location.clone(),
                detail: format!(
                    "the server's repack answer names {} of {} bytes, expected a pack of {want}",
                    done.key, done.size
                ),
            });
        }
        Ok(Some(done.key))
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
        let a = self.send(Method::HEAD, key, None, None)?;
        match a.status {
            StatusCode::OK => Ok(Some(a.length.unwrap_or(a.body.len() as u64))),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.refused(key, &a)),
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        let a = self.send(Method::DELETE, key, None, None)?;
        match a.status {
            StatusCode::NO_CONTENT | StatusCode::OK => Ok(()),
            _ => Err(self.refused(key, &a)),
        }
    }

    fn is_empty(&self) -> Result<bool> {
        Ok(self.list_entries("")?.is_empty())
    }

    fn create(&self) -> Result<()> {
        let a = self.send(Method::POST, "?init", None, None)?;
        match a.status {
            StatusCode::OK | StatusCode::CREATED | StatusCode::NO_CONTENT => Ok(()),
            _ => Err(self.refused("", &a)),
        }
    }

    fn location(&self) -> &str {
        &self.location
    }
}
