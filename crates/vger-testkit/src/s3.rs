//! The S3 test server (moto, started by `scripts/peers/s3.sh`; SeaweedFS, `scripts/peers/seaweedfs.sh`,
//! with `VGER_TEST_S3_PEER=seaweedfs`) shared by a test binary.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use vger_storage::BackendOptions;

use crate::Store;

pub struct S3Peer {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub key: String,
    pub secret: String,
}

impl S3Peer {
    /// `s3+http://127.0.0.1:PORT/BUCKET/PREFIX`.
    pub fn url(&self, prefix: &str) -> String {
        format!(
            "s3+http://{}/{}/{prefix}",
            self.endpoint.trim_start_matches("http://"),
            self.bucket
        )
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

    /// A repository under `prefix` in the test bucket.
    pub fn store(&self, prefix: &str) -> Store {
        Store {
            url: self.url(prefix),
            opts: self.options(),
        }
    }

    /// The settings as the `VGER_TEST_S3_*` variables [`Store::from_arg`] reads (for a
    /// child process).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("VGER_TEST_S3_ENDPOINT", self.endpoint.clone()),
            ("VGER_TEST_S3_BUCKET", self.bucket.clone()),
            ("VGER_TEST_S3_REGION", self.region.clone()),
            ("VGER_TEST_S3_KEY", self.key.clone()),
            ("VGER_TEST_S3_SECRET", self.secret.clone()),
        ]
    }
}

/// Why the S3 tests are skipped (`VGER_TEST_REMOTE=skip`), if they are.
pub fn skipped() -> Option<&'static str> {
    (std::env::var("VGER_TEST_REMOTE").as_deref() == Ok("skip")).then_some("VGER_TEST_REMOTE=skip")
}

/// The S3 peer: the one given by `VGER_TEST_S3_*`, or one started for this process (it
/// stops when the process ends); `None` when remote tests are skipped on purpose.
pub fn peer() -> Option<&'static S3Peer> {
    if skipped().is_some() {
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
            start()
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

/// Runs `scripts/peers/s3.sh start DIR` (`seaweedfs.sh` with `VGER_TEST_S3_PEER=seaweedfs`) and
/// reads the `KEY=VALUE` file it writes.
fn start() -> HashMap<String, String> {
    let script = match std::env::var("VGER_TEST_S3_PEER").as_deref() {
        Ok("seaweedfs") => "seaweedfs.sh",
        Ok("" | "moto") | Err(_) => "s3.sh",
        Ok(other) => panic!("VGER_TEST_S3_PEER={other}: expected moto or seaweedfs"),
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("vger-peer-{script}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let out = Command::new("sh")
        .arg(root.join("scripts/peers").join(script))
        .arg("start")
        .arg(&dir)
        // The peer stops when this process exits.
        .env("VGER_PEERS_OWNER_PID", std::process::id().to_string())
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "scripts/peers/{script} start failed (set VGER_TEST_REMOTE=skip to skip remote tests):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.join("s3.env"))
        .expect("s3.env")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A prefix no other test (or run) uses.
pub fn unique(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{what}-{}-{}-{}",
        std::process::id(),
        vger_core::clock::now_ns(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
