//! The backend conformance suite: every backend keeps the promises the repository format relies
//! on (create-only writes, exact reads and ranges, complete listings past a page, "missing" told
//! apart from every other error, parallel use). It runs against the local backend and against
//! real servers on loopback: moto (S3), OpenSSH's sshd (SFTP) and `rclone serve webdav` (WebDAV,
//! whose racing creators get the documented weaker guarantee), started by the project's own
//! scripts (`scripts/peers/`) unless `VGER_TEST_S3_*` / `VGER_TEST_SFTP_*` point at running ones,
//! and vger's own REST server (`node dist/cli/main.js server`, skipped with a message only when
//! the CLI is not built). `VGER_TEST_REMOTE=skip` skips S3, SFTP and WebDAV (the run then says so);
//! anything else that keeps a peer from starting fails the test. The suite writes keys of the
//! repository layout only (the REST server accepts no other), and a pack whose id is its BLAKE3.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod peers;

use std::sync::Barrier;
use std::thread;

use vger_storage::{Backend, BackendOptions, open_backend, open_backend_with};
use vger_types::{ErrorCode, VgerError};

fn code<T: std::fmt::Debug>(r: Result<T, VgerError>) -> ErrorCode {
    r.unwrap_err().code()
}

/// The whole suite against one freshly created, empty location.
fn conformance(b: &dyn Backend) {
    conformance_with(b, true);
}

/// The suite; `exclusive` says whether racing creators of one key are refused by the store
/// itself. A store without conditional writes (WebDAV) checks that the name is free first, so
/// racers that all pass the check each write: what is stored is then one writer's whole object,
/// never a mix (the fallback the format accepts, since every name is a content hash or random).
fn conformance_with(b: &dyn Backend, exclusive: bool) {
    assert!(b.is_empty().unwrap(), "a new location is empty");
    b.create().unwrap();
    assert!(b.list("packs").unwrap().is_empty());
    assert_eq!(code(b.get("config")), ErrorCode::ObjectMissing);
    assert_eq!(b.size("config").unwrap(), None);
    assert_eq!(code(b.delete("config")), ErrorCode::ObjectMissing);

    // Create-only, exact bytes.
    let empty = format!("keys/{:016x}", 0);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    b.put_new("config", &data).unwrap();
    assert!(!b.is_empty().unwrap(), "an object makes it non-empty");
    assert_eq!(b.get("config").unwrap(), data);
    assert_eq!(b.size("config").unwrap(), Some(data.len() as u64));
    assert_eq!(
        code(b.put_new("config", b"other")),
        ErrorCode::AlreadyExists
    );
    assert_eq!(
        b.get("config").unwrap(),
        data,
        "a refused write changes nothing"
    );
    b.put_new(&empty, b"").unwrap();
    assert_eq!(b.get(&empty).unwrap(), Vec::<u8>::new());

    // Ranges: inside, at the end, past the end (short, never padded).
    assert_eq!(b.get_range("config", 0, 10).unwrap(), data[..10]);
    assert_eq!(
        b.get_range("config", 50_000, 1234).unwrap(),
        data[50_000..51_234]
    );
    assert_eq!(b.get_range("config", 99_990, 10).unwrap(), data[99_990..]);
    let short = b.get_range("config", 99_990, 100).unwrap();
    assert!(
        short.len() < 100 && data.ends_with(&short),
        "{}",
        short.len()
    );
    assert_eq!(
        code(b.get_range(&format!("index/{:064x}", 0), 0, 10)),
        ErrorCode::ObjectMissing
    );

    // Listings: recursive, complete past a 1,000-key page, sizes right, nothing else.
    let id = blake3::hash(b"pack bytes").to_hex();
    let pack = format!("packs/{}/{id}", &id[..2]);
    b.put_new(&pack, b"pack bytes").unwrap();
    let n = 1_050;
    let keys: Vec<String> = (0..n).map(|i| format!("snapshots/{i:064x}")).collect();
    thread::scope(|s| {
        for chunk in keys.chunks(n / 6 + 1) {
            s.spawn(move || {
                for k in chunk {
                    b.put_new(k, k.as_bytes()).unwrap();
                }
            });
        }
    });
    let mut listed = b.list("snapshots").unwrap();
    listed.sort();
    assert_eq!(listed, keys, "every key once, past the first page");
    assert_eq!(b.list("packs").unwrap(), vec![pack.clone()]);
    let meta = b.list_meta("packs").unwrap();
    assert_eq!(meta.len(), 1);
    assert_eq!((meta[0].key.as_str(), meta[0].size), (pack.as_str(), 10));
    assert!(b.list("index").unwrap().is_empty());

    // Delete: gone for every reader, and a second delete says missing.
    b.delete(&pack).unwrap();
    assert_eq!(code(b.get(&pack)), ErrorCode::ObjectMissing);
    assert!(b.list("packs").unwrap().is_empty());
    assert_eq!(code(b.delete(&pack)), ErrorCode::ObjectMissing);

    // Racing creators of one key: exactly one wins, and its bytes are what is stored.
    for round in 0..3 {
        let key = format!("locks/{round:032x}");
        let gate = Barrier::new(4);
        let results: Vec<_> = thread::scope(|s| {
            let hs: Vec<_> = (0..4u8)
                .map(|i| {
                    let (gate, key) = (&gate, &key);
                    s.spawn(move || {
                        gate.wait();
                        b.put_new(key, &[i; 64]).map(|()| i)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<u8> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        for r in &results {
            if let Err(e) = r {
                assert_eq!(e.code(), ErrorCode::AlreadyExists, "{e}");
            }
        }
        let stored = b.get(&key).unwrap();
        if exclusive {
            assert_eq!(winners.len(), 1, "round {round}: {results:?}");
            assert_eq!(stored, vec![winners[0]; 64]);
        } else {
            assert!(!winners.is_empty(), "round {round}: {results:?}");
            assert!(
                winners.iter().any(|w| stored == vec![*w; 64]),
                "round {round}: a whole object of one writer: {stored:?}"
            );
            // A later write of a taken name is refused (the check before the upload).
            assert_eq!(code(b.put_new(&key, b"late")), ErrorCode::AlreadyExists);
        }
    }

    // Bad keys never reach the store.
    for bad in ["", "/abs", "a/../b", "a//b"] {
        assert_eq!(code(b.get(bad)), ErrorCode::InvalidArgument, "{bad:?}");
    }
}

#[test]
fn local() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repo");
    conformance(open_backend(path.to_str().unwrap()).unwrap().as_ref());
}

#[test]
fn s3_moto() {
    let Some(peer) = peers::s3() else { return };
    let url = format!("{}/{}", peer.url_base(), peers::unique("conformance"));
    let b = open_backend_with(&url, &peer.options()).unwrap();
    conformance(b.as_ref());
}

#[test]
fn s3_errors_are_coded_and_never_show_the_secret() {
    let Some(peer) = peers::s3() else { return };
    // A bucket that does not exist.
    let url = format!(
        "{}/no-such-bucket-{}",
        peer.endpoint_url(),
        peers::unique("b")
    );
    let b = open_backend_with(&url, &peer.options()).unwrap();
    let e = b.create().unwrap_err();
    assert_eq!(e.code(), ErrorCode::RemoteConfig, "{e}");
    assert!(e.to_string().contains("does not exist"), "{e}");
    // Nothing listens: unreachable after the (short) retries, with the URL and without the secret.
    let opts = BackendOptions {
        retry: vger_storage::RetryOptions {
            max_retries: 2,
            delay: std::time::Duration::from_millis(10),
            max_delay: std::time::Duration::from_millis(20),
        },
        ..peer.options()
    };
    let port = peers::closed_port();
    let url = format!("s3+http://127.0.0.1:{port}/vger-test/x");
    let b = open_backend_with(&url, &opts).unwrap();
    let e = b.get("config").unwrap_err();
    assert_eq!(e.code(), ErrorCode::RemoteUnavailable, "{e}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(!msg.contains(&peer.secret), "{msg}");
    // Plain http without consent is refused before any request.
    let e = open_backend_with(&url, &BackendOptions::default())
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
}

#[test]
fn sftp_sshd() {
    let Some(peer) = peers::sftp() else { return };
    let url = format!("{}/{}", peer.url_base(), peers::unique("conformance"));
    let b = open_backend_with(&url, &peer.options()).unwrap();
    conformance(b.as_ref());
    // Every write went through a temporary name, and none is left behind.
    assert_eq!(b.remove_debris(std::time::Duration::ZERO).unwrap(), 0);
    // Once every object is gone, destroy leaves nothing, not even the directory.
    for k in b.list("snapshots").unwrap() {
        b.delete(&k).unwrap();
    }
    for k in [
        "config".to_string(),
        format!("keys/{:016x}", 0),
        format!("locks/{:032x}", 0),
        format!("locks/{:032x}", 1),
        format!("locks/{:032x}", 2),
    ] {
        b.delete(&k).unwrap();
    }
    b.destroy().unwrap();
    assert!(b.is_empty().unwrap());
}

#[test]
fn webdav_rclone() {
    let Some(peer) = peers::webdav() else { return };
    let url = peer.url(&peers::unique("conformance"));
    let b = open_backend_with(&url, &peer.options()).unwrap();
    conformance_with(b.as_ref(), false);
    // Writes go through a temporary name and a MOVE: a listing never shows one.
    assert!(
        b.list("").unwrap().iter().all(|k| !k
            .rsplit('/')
            .next()
            .unwrap_or("")
            .starts_with(".tmp."))
    );
    // A wrong password is an authentication error that does not show the password.
    let wrong = vger_storage::BackendOptions {
        webdav_password: Some("not-the-password".into()),
        ..Default::default()
    };
    let e = open_backend_with(&url, &wrong)
        .unwrap()
        .get("config")
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::RemoteAuth, "{e}");
    assert!(!e.to_string().contains("not-the-password"), "{e}");
}

#[test]
fn rest_vger_server() {
    let Some(peer) = peers::rest() else { return };
    let b = open_backend_with(&peer.url("conformance"), &peer.options(&peer.full)).unwrap();
    conformance(b.as_ref());
    // The server's log names no token.
    let log = std::fs::read_to_string(&peer.log).unwrap();
    assert!(log.contains("\"status\":201"), "{log}");
    assert!(!log.contains(&peer.full) && !log.contains(&peer.read));
}

#[test]
fn rest_errors_are_coded_and_never_show_the_token() {
    let Some(peer) = peers::rest() else { return };
    let key = format!("snapshots/{:064x}", 7);
    // A read token reads, and cannot write; an unknown token cannot even read.
    let reader = open_backend_with(&peer.url("errors"), &peer.options(&peer.read)).unwrap();
    assert_eq!(reader.size(&key).unwrap(), None);
    let e = reader.put_new(&key, b"x").unwrap_err();
    assert_eq!(e.code(), ErrorCode::RemoteAuth, "{e}");
    assert!(e.to_string().contains("VGER_SERVER_FORBIDDEN"), "{e}");
    assert!(!e.to_string().contains(&peer.read), "{e}");
    let stranger = "not-a-token-of-this-server-0123456789";
    let e = open_backend_with(&peer.url("errors"), &peer.options(stranger))
        .unwrap()
        .get(&key)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::RemoteAuth, "{e}");
    assert!(!e.to_string().contains(stranger), "{e}");
    // A pack whose bytes are not its name is refused, and nothing is stored.
    let full = open_backend_with(&peer.url("errors"), &peer.options(&peer.full)).unwrap();
    let e = full
        .put_new(&format!("packs/00/{:064x}", 0), b"not this")
        .unwrap_err();
    assert!(e.to_string().contains("VGER_SERVER_BAD_PACK"), "{e}");
    assert!(full.list("packs").unwrap().is_empty());
    // The quota: 1,000 bytes, then VGER_NO_SPACE.
    let quota = open_backend_with(&peer.url("quota"), &peer.options(&peer.full)).unwrap();
    quota.put_new(&key, &[1; 600]).unwrap();
    let e = quota
        .put_new(&format!("snapshots/{:064x}", 8), &[2; 600])
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::NoSpace, "{e}");
    quota.delete(&key).unwrap();
    quota
        .put_new(&format!("snapshots/{:064x}", 8), &[2; 600])
        .unwrap();
    // Nothing listens: unavailable after the (short) retries.
    let port = peers::closed_port();
    let opts = BackendOptions {
        retry: quick_retries(),
        ..peer.options(&peer.full)
    };
    let e = open_backend_with(&format!("rest://127.0.0.1:{port}/errors"), &opts)
        .unwrap()
        .get("config")
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::RemoteUnavailable, "{e}");
    assert!(!e.to_string().contains(&peer.full), "{e}");
}

/// `ssh-keygen` a fresh ed25519 key pair at `path` (and `path.pub`).
fn keygen(path: &std::path::Path) {
    let st = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "vger-test-other",
            "-f",
        ])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

fn quick_retries() -> vger_storage::RetryOptions {
    vger_storage::RetryOptions {
        max_retries: 2,
        delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(20),
    }
}

#[test]
fn sftp_host_key_mismatch_is_refused() {
    let Some(peer) = peers::sftp() else { return };
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other_host_key");
    keygen(&other);
    let public = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let key: Vec<&str> = public.split_whitespace().take(2).collect();
    let changed = dir.path().join("known_hosts");
    std::fs::write(
        &changed,
        format!("[{}]:{} {}\n", peer.host, peer.port, key.join(" ")),
    )
    .unwrap();
    let unknown = dir.path().join("empty_known_hosts");
    std::fs::write(&unknown, "").unwrap();
    let url = format!("{}/{}", peer.url_base(), peers::unique("hostkey"));
    for kh in [&changed, &unknown] {
        let kh = kh.to_str().unwrap();
        let opts = BackendOptions {
            sftp_known_hosts: Some(kh.to_string()),
            retry: quick_retries(),
            ..peer.options()
        };
        let b = open_backend_with(&url, &opts).unwrap();
        for e in [
            b.create().unwrap_err(),
            b.put_new("config", b"x").unwrap_err(),
        ] {
            assert_eq!(e.code(), ErrorCode::RemoteAuth, "{e}");
            let msg = e.to_string();
            assert!(msg.contains(kh), "{msg}");
            assert!(msg.contains("ssh-keyscan"), "{msg}");
        }
        // The refusal is remembered by nothing: a known_hosts file is read afresh each time.
        assert_eq!(
            std::fs::read_to_string(kh).unwrap().is_empty(),
            kh.ends_with("empty_known_hosts"),
            "ssh must never add a host key"
        );
    }
    // Nothing was written.
    let good = open_backend_with(&url, &peer.options()).unwrap();
    assert!(good.is_empty().unwrap());
    assert_eq!(good.size("config").unwrap(), None);
}

#[test]
fn sftp_wrong_client_key_is_refused() {
    let Some(peer) = peers::sftp() else { return };
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other_client_key");
    keygen(&other);
    let url = format!("{}/{}", peer.url_base(), peers::unique("clientkey"));
    let opts = BackendOptions {
        sftp_key: Some(other.to_str().unwrap().to_string()),
        retry: quick_retries(),
        ..peer.options()
    };
    let e = open_backend_with(&url, &opts)
        .unwrap()
        .get("config")
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::RemoteAuth, "{e}");
    // A key file that does not exist is named as such.
    let opts = BackendOptions {
        sftp_key: Some(dir.path().join("nope").to_str().unwrap().to_string()),
        ..opts
    };
    let e = open_backend_with(&url, &opts)
        .unwrap()
        .get("config")
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::RemoteConfig, "{e}");
    assert!(e.to_string().contains("nope"), "{e}");
}

#[test]
fn sftp_unreachable_is_unavailable() {
    let Some(peer) = peers::sftp() else { return };
    let port = peers::closed_port();
    let url = format!("sftp://{}@127.0.0.1:{port}/srv/vger", peer.user);
    let opts = BackendOptions {
        retry: quick_retries(),
        ..peer.options()
    };
    let b = open_backend_with(&url, &opts).unwrap();
    let t0 = std::time::Instant::now();
    let e = b.get("config").unwrap_err();
    let took = t0.elapsed();
    assert_eq!(e.code(), ErrorCode::RemoteUnavailable, "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    // Three attempts (two retries of at most 20 ms each), each refused at once.
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
}
