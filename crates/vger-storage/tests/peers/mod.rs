//! Real servers for the tests, started once per test binary by `scripts/peers/*.sh` (or taken
//! from `VGER_TEST_S3_*` / `VGER_TEST_SFTP_*` when a running one is given), and vger's own REST
//! server (`node dist/cli/main.js server`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use vger_storage::BackendOptions;

pub struct S3Peer {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub key: String,
    pub secret: String,
}

impl S3Peer {
    /// `s3+http://127.0.0.1:PORT` (the endpoint in the URL, vykar's form).
    pub fn endpoint_url(&self) -> String {
        format!("s3+http://{}", self.endpoint.trim_start_matches("http://"))
    }

    /// The test bucket's URL.
    pub fn url_base(&self) -> String {
        format!("{}/{}", self.endpoint_url(), self.bucket)
    }

    pub fn options(&self) -> BackendOptions {
        BackendOptions {
            region: Some(self.region.clone()),
            access_key_id: Some(self.key.clone()),
            secret_access_key: Some(self.secret.clone()),
            allow_insecure_http: true,
            ..Default::default()
        }
    }
}

pub struct SftpPeer {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The client's private key file.
    pub key: String,
    /// A known_hosts file holding the server's host key.
    pub known_hosts: String,
    /// An absolute directory on the server the tests may write under.
    pub root: String,
}

impl SftpPeer {
    /// `sftp://USER@HOST:PORT/ROOT` (ROOT without its leading `/`, so the path is absolute).
    pub fn url_base(&self) -> String {
        format!(
            "sftp://{}@{}:{}/{}",
            self.user,
            self.host,
            self.port,
            self.root.trim_start_matches('/')
        )
    }

    pub fn options(&self) -> BackendOptions {
        BackendOptions {
            sftp_key: Some(self.key.clone()),
            sftp_known_hosts: Some(self.known_hosts.clone()),
            ..Default::default()
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn skip(what: &str) -> bool {
    if std::env::var("VGER_TEST_REMOTE").as_deref() == Ok("skip") {
        eprintln!("{what}: skipped (VGER_TEST_REMOTE=skip)");
        return true;
    }
    false
}

/// Starts `scripts/peers/<script> start DIR` and reads the `KEY=VALUE` file it writes.
fn start(script: &str, env_file: &str) -> HashMap<String, String> {
    let dir = std::env::temp_dir().join(format!("vger-peer-{}-{}", script, std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("sh")
        .arg(root().join("scripts/peers").join(script))
        .arg("start")
        .arg(&dir)
        // The peer stops when this test binary exits.
        .env("VGER_PEERS_OWNER_PID", std::process::id().to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/peers/{script} start failed (set VGER_TEST_REMOTE=skip to skip remote tests):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.join(env_file))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The script that starts the S3 peer: moto (`s3.sh`), or SeaweedFS with `VGER_TEST_S3_PEER=seaweedfs`.
fn s3_script() -> &'static str {
    match std::env::var("VGER_TEST_S3_PEER").as_deref() {
        Ok("seaweedfs") => "seaweedfs.sh",
        Ok("" | "moto") | Err(_) => "s3.sh",
        Ok(other) => panic!("VGER_TEST_S3_PEER={other}: expected moto or seaweedfs"),
    }
}

/// The S3 peer, or None when remote tests are skipped on purpose.
pub fn s3() -> Option<&'static S3Peer> {
    if skip("S3 test") {
        return None;
    }
    static PEER: OnceLock<S3Peer> = OnceLock::new();
    Some(PEER.get_or_init(|| {
        let given: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("VGER_TEST_S3_"))
            .collect();
        let env = if given.contains_key("VGER_TEST_S3_ENDPOINT") {
            given
        } else {
            start(s3_script(), "s3.env")
        };
        let get = |k: &str| env.get(k).cloned().unwrap_or_default();
        S3Peer {
            endpoint: get("VGER_TEST_S3_ENDPOINT"),
            bucket: get("VGER_TEST_S3_BUCKET"),
            region: get("VGER_TEST_S3_REGION"),
            key: get("VGER_TEST_S3_KEY"),
            secret: get("VGER_TEST_S3_SECRET"),
        }
    }))
}

/// `rclone serve webdav` on 127.0.0.1 (`scripts/peers/webdav.sh`).
pub struct WebdavPeer {
    pub host_port: String,
    pub user: String,
    pub password: String,
}

impl WebdavPeer {
    pub fn url(&self, dir: &str) -> String {
        format!("webdav://{}@{}/{dir}", self.user, self.host_port)
    }

    pub fn options(&self) -> BackendOptions {
        BackendOptions {
            webdav_password: Some(self.password.clone()),
            ..Default::default()
        }
    }
}

/// The WebDAV peer, or None when remote tests are skipped on purpose.
pub fn webdav() -> Option<&'static WebdavPeer> {
    if skip("WebDAV test") {
        return None;
    }
    static PEER: OnceLock<WebdavPeer> = OnceLock::new();
    Some(PEER.get_or_init(|| {
        let env = start("webdav.sh", "webdav.env");
        let get = |k: &str| env.get(k).cloned().unwrap_or_default();
        WebdavPeer {
            host_port: format!(
                "{}:{}",
                get("VGER_TEST_WEBDAV_HOST"),
                get("VGER_TEST_WEBDAV_PORT")
            ),
            user: get("VGER_TEST_WEBDAV_USER"),
            password: get("VGER_TEST_WEBDAV_PASSWORD"),
        }
    }))
}

/// The SFTP peer (OpenSSH's sshd), or None when remote tests are skipped on purpose.
pub fn sftp() -> Option<&'static SftpPeer> {
    if skip("SFTP test") {
        return None;
    }
    static PEER: OnceLock<SftpPeer> = OnceLock::new();
    Some(PEER.get_or_init(|| {
        let given: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("VGER_TEST_SFTP_"))
            .collect();
        let env = if given.contains_key("VGER_TEST_SFTP_HOST") {
            given
        } else {
            start("sshd.sh", "sftp.env")
        };
        let get = |k: &str| env.get(k).cloned().unwrap_or_default();
        SftpPeer {
            host: get("VGER_TEST_SFTP_HOST"),
            port: get("VGER_TEST_SFTP_PORT").parse().unwrap(),
            user: get("VGER_TEST_SFTP_USER"),
            key: get("VGER_TEST_SFTP_KEY"),
            known_hosts: get("VGER_TEST_SFTP_KNOWN_HOSTS"),
            root: get("VGER_TEST_SFTP_ROOT"),
        }
    }))
}

/// A `vger server` on 127.0.0.1 (the built CLI, `node dist/cli/main.js server`), serving the
/// repositories of [`REST_REPOSITORIES`] from a temporary directory.
pub struct RestPeer {
    /// `rest://127.0.0.1:PORT`
    pub url_base: String,
    /// A token with `full` access to every repository.
    pub full: String,
    /// A token with `read` access to every repository.
    pub read: String,
    /// The server's JSON log (stderr).
    pub log: PathBuf,
    /// The server and the watcher that stops it once this test binary is gone.
    _processes: [std::process::Child; 2],
}

/// The repositories the REST peer serves: `<name>` has no quota, `quota` holds at most 1,000 bytes.
pub const REST_REPOSITORIES: &[&str] = &["conformance", "errors", "quota"];

impl RestPeer {
    pub fn url(&self, repo: &str) -> String {
        format!("{}/{repo}", self.url_base)
    }

    pub fn options(&self, token: &str) -> BackendOptions {
        BackendOptions {
            rest_token: Some(token.to_string()),
            ..Default::default()
        }
    }
}

/// The REST peer, or None (with the reason printed) when the CLI is not built.
pub fn rest() -> Option<&'static RestPeer> {
    let cli = root().join("dist/cli/main.js");
    if !cli.exists() {
        eprintln!(
            "REST test: skipped ({} does not exist; build it with npm run build)",
            cli.display()
        );
        return None;
    }
    static PEER: OnceLock<RestPeer> = OnceLock::new();
    Some(PEER.get_or_init(|| start_rest(&cli)))
}

/// A token and its hash, from `vger server hash-token --json` (which generates a random one).
fn hash_token(cli: &std::path::Path) -> (String, String) {
    let out = Command::new("node")
        .arg(cli)
        .args(["server", "hash-token", "--json"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["token"].as_str().unwrap().to_string(),
        v["hash"].as_str().unwrap().to_string(),
    )
}

fn start_rest(cli: &std::path::Path) -> RestPeer {
    let dir = std::env::temp_dir().join(format!("vger-peer-rest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (full, full_hash) = hash_token(cli);
    let (read, read_hash) = hash_token(cli);
    let mut config = String::from("port: 0\nstate_dir: ./state\nrepositories:\n");
    for name in REST_REPOSITORIES {
        config.push_str(&format!("  {name}:\n    url: ./repos/{name}\n"));
        if *name == "quota" {
            config.push_str("    quota: 1000\n");
        }
    }
    config.push_str("tokens:\n");
    for (hash, permission) in [(&full_hash, "full"), (&read_hash, "read")] {
        config.push_str(&format!("  {hash}:\n"));
        for name in REST_REPOSITORIES {
            config.push_str(&format!("    {name}: {permission}\n"));
        }
    }
    std::fs::write(dir.join("server.yaml"), config).unwrap();
    let log = dir.join("server.log");
    let child = Command::new("node")
        .arg(cli)
        .args(["server", "--config", "server.yaml"])
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // The server stops when this test binary exits (statics are never dropped); then its directory
    // goes too, unless VGER_KEEP_TMP=1 (kept if the server died first: its log tells why).
    let keep = std::env::var("VGER_KEEP_TMP").as_deref() == Ok("1");
    let watcher = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {owner} 2>/dev/null && kill -0 {server} 2>/dev/null; do sleep 1; done; \
             kill {server} 2>/dev/null; sleep 1; {remove}",
            owner = std::process::id(),
            server = child.id(),
            remove = if keep {
                String::new()
            } else {
                format!(
                    "kill -0 {} 2>/dev/null || rm -rf '{}'",
                    std::process::id(),
                    dir.display()
                )
            },
        ))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let port = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(at) = text.find("\"url\":\"http://127.0.0.1:") {
            let rest = &text[at + "\"url\":\"http://127.0.0.1:".len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            break digits.parse::<u16>().unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "vger server did not start within 30 s:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    RestPeer {
        url_base: format!("rest://127.0.0.1:{port}"),
        full,
        read,
        log,
        _processes: [child, watcher],
    }
}

/// A prefix no other test (or run) uses.
pub fn unique(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{what}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
