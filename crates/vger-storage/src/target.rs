//! Repository URLs: which store a URL names, and where in it.
//!
//! - a path, or `file:///path`: a local directory;
//! - `s3://bucket[/prefix]`: a bucket at the configured `endpoint` (AWS when none);
//! - `s3://host[:port]/bucket[/prefix]` (vykar's form), `s3+http://…` for plain HTTP: the endpoint
//!   is in the URL. A host with a dot or a port (or `localhost`) followed by a path is read this
//!   way unless an `endpoint` is configured; a bucket with dots then needs the `endpoint` setting;
//! - `sftp://[user@]host[:port]/path`.

use vger_types::{Result, VgerError};

use crate::options::BackendOptions;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Local(String),
    S3 {
        endpoint: Option<String>,
        bucket: String,
        prefix: String,
    },
    Sftp {
        user: Option<String>,
        host: String,
        port: Option<u16>,
        path: String,
    },
    /// A `vger server` repository: `base` is `http(s)://host[:port]/<repo>`.
    Rest {
        base: String,
    },
    /// A WebDAV directory: `endpoint` is `http(s)://host[:port]`, `root` the path under it.
    WebDav {
        endpoint: String,
        root: String,
        user: Option<String>,
    },
}

impl Target {
    pub fn parse(url: &str, opts: &BackendOptions) -> Result<Target> {
        if let Some(path) = url.strip_prefix("file://") {
            return Ok(Target::Local(path.to_string()));
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Ok(Target::Local(url.to_string()));
        };
        match scheme {
            "s3" | "s3+https" | "s3+http" => s3(scheme, rest, url, opts),
            "sftp" => sftp(rest, url),
            "rest" | "rests" | "http" | "https" => rest_target(scheme, rest, url, opts),
            "webdav" | "webdavs" => webdav(scheme, rest, url, opts),
            s => Err(VgerError::UnsupportedBackend(format!(
                "{s}:// repositories are not supported; use a local path, s3://, s3+http://, sftp://, rest://, rests://, webdav:// or webdavs:// ({url})"
            ))),
        }
    }
}

fn bad(url: &str, why: &str) -> VgerError {
    VgerError::invalid(format!("repository URL {}: {why}", redact(url)))
}

/// `url` with any password in it replaced, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{shown}@{host}{}", &rest[end..])
        }
        None => url.to_string(),
    }
}

fn s3(scheme: &str, rest: &str, url: &str, opts: &BackendOptions) -> Result<Target> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.contains('@') {
        return Err(bad(
            url,
            "credentials do not belong in the URL; set access_key_id and secret_access_key in the repository's settings",
        ));
    }
    if authority.is_empty() {
        return Err(bad(url, "no bucket or host after s3://"));
    }
    let path = path.trim_matches('/');
    let hostlike = authority.contains('.') || authority.contains(':') || authority == "localhost";
    let url_endpoint = scheme != "s3" || (opts.endpoint.is_none() && hostlike && !path.is_empty());
    let (endpoint, bucket, prefix) = if url_endpoint {
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        if bucket.is_empty() {
            return Err(bad(
                url,
                "no bucket after the host (s3://host[:port]/bucket/prefix)",
            ));
        }
        let proto = if scheme == "s3+http" { "http" } else { "https" };
        (Some(format!("{proto}://{authority}")), bucket, prefix)
    } else {
        (opts.endpoint.clone(), authority, path)
    };
    if let Some(e) = &endpoint
        && e.starts_with("http://")
        && !opts.allow_insecure_http
    {
        return Err(bad(
            url,
            "plain http sends your (encrypted) data and request signatures unprotected; use https, or set allow_insecure_http: true for this repository",
        ));
    }
    if prefix.split('/').any(|c| c == "." || c == "..") {
        return Err(bad(url, "the prefix must not contain . or .."));
    }
    Ok(Target::S3 {
        endpoint,
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
    })
}

/// `rest://host[:port]/<repo>` (HTTP) or `rests://host[:port]/<repo>` (HTTPS); `http://` and
/// `https://` are the same (vykar's form).
fn rest_target(scheme: &str, rest: &str, url: &str, opts: &BackendOptions) -> Result<Target> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.contains('@') {
        return Err(bad(
            url,
            "credentials do not belong in the URL; set access_token in the repository's settings or VGER_REST_TOKEN",
        ));
    }
    if authority.is_empty() {
        return Err(bad(url, &format!("no host after {scheme}://")));
    }
    let repo = path.trim_matches('/');
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    let first_ok = repo
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_ok || repo.len() > 64 || !repo.chars().all(valid) {
        return Err(bad(
            url,
            "name one repository of the server after the host (rest://host:port/<repo>: lower-case letters, digits, '.', '_' and '-')",
        ));
    }
    let tls = matches!(scheme, "rests" | "https");
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    if !tls && !loopback && !opts.allow_insecure_http {
        return Err(bad(
            url,
            "plain http sends your (encrypted) data and the server token unprotected; use rests:// (HTTPS), or set allow_insecure_http: true for this repository",
        ));
    }
    let proto = if tls { "https" } else { "http" };
    Ok(Target::Rest {
        base: format!("{proto}://{authority}/{repo}"),
    })
}

/// `webdavs://[user@]host[:port]/path` (HTTPS) or `webdav://...` (HTTP: loopback, or with
/// `allow_insecure_http`); the password comes from the settings, never the URL.
fn webdav(scheme: &str, rest: &str, url: &str, opts: &BackendOptions) -> Result<Target> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, _)) if u.contains(':') => {
            return Err(bad(
                url,
                "passwords do not belong in the URL; set webdav_password in the repository's settings",
            ));
        }
        Some((u, h)) => (Some(u.to_string()), h),
        None => (None, authority),
    };
    if hostport.is_empty() {
        return Err(bad(url, &format!("no host after {scheme}://")));
    }
    let root = path.trim_matches('/');
    if root.split('/').any(|c| c == "." || c == "..") {
        return Err(bad(url, "the path must not contain . or .."));
    }
    let tls = scheme == "webdavs";
    let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
    if !tls && !matches!(host, "127.0.0.1" | "localhost" | "[::1]") && !opts.allow_insecure_http {
        return Err(bad(
            url,
            "plain http sends your (encrypted) data and the WebDAV password unprotected; use webdavs://, or set allow_insecure_http: true for this repository",
        ));
    }
    Ok(Target::WebDav {
        endpoint: format!("{}://{hostport}", if tls { "https" } else { "http" }),
        root: format!("/{root}"),
        user,
    })
}

fn sftp(rest: &str, url: &str) -> Result<Target> {
    let (authority, path) = rest.split_once('/').ok_or_else(|| {
        bad(
            url,
            "no path after the host (sftp://[user@]host[:port]/path)",
        )
    })?;
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) if u.contains(':') => {
            return Err(bad(
                url,
                &format!(
                    "passwords are not supported (and do not belong in the URL); use a key file (sftp_key) for {h}"
                ),
            ));
        }
        Some((u, h)) => (Some(u.to_string()), h),
        None => (None, authority),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| bad(url, &format!("{p:?} is not a port number")))?;
            (h, Some(port))
        }
        _ => (hostport, None),
    };
    if host.is_empty() {
        return Err(bad(url, "no host after sftp://"));
    }
    if path.is_empty() {
        return Err(bad(url, "no path after the host"));
    }
    Ok(Target::Sftp {
        user,
        host: host.to_string(),
        port,
        path: format!("/{}", path.trim_end_matches('/')),
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "in a test, a failed unwrap is a failed test"
)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<Target> {
        Target::parse(url, &BackendOptions::default())
    }

    fn s3t(endpoint: Option<&str>, bucket: &str, prefix: &str) -> Target {
        Target::S3 {
            endpoint: endpoint.map(str::to_string),
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn local_paths_and_file_urls() {
        assert_eq!(parse("/srv/r").unwrap(), Target::Local("/srv/r".into()));
        assert_eq!(parse("rel/r").unwrap(), Target::Local("rel/r".into()));
        assert_eq!(
            parse("file:///srv/r").unwrap(),
            Target::Local("/srv/r".into())
        );
    }

    #[test]
    fn s3_bucket_and_vykar_host_forms() {
        assert_eq!(parse("s3://b").unwrap(), s3t(None, "b", ""));
        assert_eq!(parse("s3://b/p/q/").unwrap(), s3t(None, "b", "p/q"));
        assert_eq!(
            parse("s3://s3.example.com/b/p").unwrap(),
            s3t(Some("https://s3.example.com"), "b", "p")
        );
        assert_eq!(
            parse("s3://localhost:9000/b").unwrap(),
            s3t(Some("https://localhost:9000"), "b", "")
        );
        // A configured endpoint makes the authority the bucket, dots and all.
        let opts = BackendOptions {
            endpoint: Some("https://e".into()),
            ..Default::default()
        };
        assert_eq!(
            Target::parse("s3://my.bucket/p", &opts).unwrap(),
            s3t(Some("https://e"), "my.bucket", "p")
        );
    }

    #[test]
    fn plain_http_needs_consent_and_credentials_stay_out_of_urls() {
        let e = parse("s3+http://127.0.0.1:9000/b").unwrap_err();
        assert!(e.to_string().contains("allow_insecure_http"), "{e}");
        let opts = BackendOptions {
            allow_insecure_http: true,
            ..Default::default()
        };
        assert_eq!(
            Target::parse("s3+http://127.0.0.1:9000/b/p", &opts).unwrap(),
            s3t(Some("http://127.0.0.1:9000"), "b", "p")
        );
        let e = parse("s3://AKIA:wJalrXUtnFEMI@host/b").unwrap_err();
        assert!(!e.to_string().contains("wJalrXUtnFEMI"), "{e}");
        assert_eq!(redact("sftp://u:pw@h:22/r"), "sftp://u:***@h:22/r");
        assert_eq!(redact("sftp://u@h/r"), "sftp://u@h/r");
        assert!(parse("s3://host.x/b/../c").is_err());
        assert!(parse("s3:///b").is_err());
    }

    #[test]
    fn sftp_forms() {
        assert_eq!(
            parse("sftp://u@h:2222/srv/r/").unwrap(),
            Target::Sftp {
                user: Some("u".into()),
                host: "h".into(),
                port: Some(2222),
                path: "/srv/r".into()
            }
        );
        assert_eq!(
            parse("sftp://h/r").unwrap(),
            Target::Sftp {
                user: None,
                host: "h".into(),
                port: None,
                path: "/r".into()
            }
        );
        assert!(parse("sftp://h").is_err());
        assert!(parse("sftp://h:x/r").is_err());
        let e = parse("sftp://u:pw@h/r").unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
    }

    #[test]
    fn other_schemes_are_named() {
        let e = parse("gopher://h/r").unwrap_err();
        assert_eq!(e.code().as_str(), "VGER_UNSUPPORTED_BACKEND");
    }
}
