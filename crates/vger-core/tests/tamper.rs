//! Damage and attacks: every flipped byte is detected, nothing wrong is restored, a wrong
//! passphrase and a newer format have their own codes, and forged trees cannot escape the
//! restore destination.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;
use std::path::Path;

use common::*;
use vger_core::repo::context::{ObjectKind, context};
use vger_core::repo::index::seal_segment;
use vger_core::repo::pack::{self, PackWriter};
use vger_core::repo::snapshot::{self, Snapshot};
use vger_core::tree::{self, Content, Entry, Kind};
use vger_core::{Algorithm, ErrorCode, Repository};
use vger_crypto::BlobKind;
use vger_types::{ChunkId, SnapshotId};

fn flip(path: &Path, at: usize) {
    let mut b = fs::read(path).unwrap();
    let i = at % b.len();
    b[i] ^= 0x20;
    fs::write(path, b).unwrap();
}

fn setup() -> (tempfile::TempDir, Repository, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("d")).unwrap();
    fs::write(src.join("a.bin"), bytes(60_000, 3)).unwrap();
    fs::write(src.join("d/b.txt"), b"bravo").unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    run_backup(&repo, &[&src]);
    (dir, repo, src)
}

fn files_under(repo_dir: &Path, sub: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in walkdir(repo_dir.join(sub)) {
        out.push(e);
    }
    out
}

fn walkdir(p: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(&p).unwrap() {
        let e = e.unwrap().path();
        if e.is_dir() {
            out.extend(walkdir(e));
        } else {
            out.push(e);
        }
    }
    out
}

/// Restores into a fresh dir and checks that whatever was written is byte-identical to the source.
fn restored_subset_is_correct(
    repo: &Repository,
    src: &Path,
    dest: &Path,
) -> vger_core::Result<vger_core::RestoreOutcome> {
    let r = run_restore(repo, "latest", dest, None)?;
    for (rel, want) in [("a.bin", bytes(60_000, 3)), ("d/b.txt", b"bravo".to_vec())] {
        if let Ok(got) = fs::read(dest.join(rel)) {
            assert_eq!(got, want, "{rel} restored with wrong bytes");
        }
        let _ = src;
    }
    Ok(r)
}

#[test]
fn every_flipped_pack_byte_is_detected_and_never_restored() {
    let (dir, _repo, src) = setup();
    let packs = files_under(&dir.path().join("repo"), "packs");
    assert!(!packs.is_empty());
    let len = fs::metadata(&packs[0]).unwrap().len() as usize;
    for (n, at) in (0..len).step_by(len / 40 + 1).enumerate() {
        let original = fs::read(&packs[0]).unwrap();
        flip(&packs[0], at);
        let repo = Repository::open(&repo_url(dir.path()), Some(PASS)).unwrap();
        let dest = dir.path().join(format!("out{n}"));
        match restored_subset_is_correct(&repo, &src, &dest) {
            Ok(r) => {
                // A flip in a blob damages the files using it: they are named, not written.
                // A flip in the header or trailer is outside every blob range read by restore.
                let touched_blob = r.errors.iter().any(|e| e.code == "VGER_CORRUPT");
                let in_blob = at >= pack::HEADER_LEN && at < len - 4 - trailer_len(&original);
                assert_eq!(touched_blob, in_blob, "byte {at}: {:?}", r.errors);
            }
            Err(e) => assert_eq!(e.code(), ErrorCode::Corrupt, "byte {at}: {e}"),
        }
        fs::write(&packs[0], original).unwrap();
    }
}

fn trailer_len(pack: &[u8]) -> usize {
    let mut b = [0u8; 4];
    b.copy_from_slice(&pack[pack.len() - 4..]);
    u32::from_le_bytes(b) as usize
}

#[test]
fn flipped_snapshot_index_and_key_bytes_are_detected() {
    let (dir, _repo, src) = setup();
    let root = dir.path().join("repo");
    for sub in ["snapshots", "index", "keys", "config"] {
        let path = if sub == "config" {
            vec![root.join("config")]
        } else {
            files_under(&root, sub)
        };
        let path = &path[0];
        let len = fs::metadata(path).unwrap().len() as usize;
        for at in (0..len).step_by(len / 16 + 1) {
            let original = fs::read(path).unwrap();
            flip(path, at);
            let dest = dir.path().join(format!("out-{sub}-{at}"));
            let outcome = Repository::open(&repo_url(dir.path()), Some(PASS)).and_then(|repo| {
                let list = repo.snapshots()?;
                let warned = !repo.warnings().is_empty() || !list.damaged.is_empty();
                let r = restored_subset_is_correct(&repo, &src, &dest);
                Ok((warned, r))
            });
            match (sub, outcome) {
                ("snapshots", Ok((warned, r))) => {
                    assert!(warned, "snapshot flip at {at} not reported");
                    assert_eq!(r.unwrap_err().code(), ErrorCode::SnapshotNotFound);
                }
                ("index", Ok((warned, r))) => {
                    assert!(warned, "index flip at {at} not reported");
                    // Either the root tree is unreachable (restore refuses) or the files whose
                    // chunks are unindexed are named; nothing wrong is ever written.
                    match r {
                        Ok(r) => assert!(
                            !r.errors.is_empty(),
                            "files whose chunks are unindexed must be named"
                        ),
                        Err(e) => assert_eq!(e.code(), ErrorCode::ObjectMissing),
                    }
                }
                ("keys" | "config", Err(e)) => {
                    assert!(
                        matches!(
                            e.code(),
                            ErrorCode::Corrupt
                                | ErrorCode::NewerFormat
                                | ErrorCode::WrongPassphrase
                        ),
                        "{sub} {at}: {e}"
                    );
                }
                (s, other) => panic!(
                    "{s} flip at {at} went undetected: {:?}",
                    other.map(|(w, _)| w)
                ),
            }
            fs::write(path, original).unwrap();
        }
    }
}

#[test]
fn wrong_passphrase_and_newer_formats_have_their_own_codes() {
    let (dir, repo, _src) = setup();
    let url = repo_url(dir.path());
    assert_eq!(
        Repository::open(&url, Some("nope")).err().unwrap().code(),
        ErrorCode::WrongPassphrase
    );
    assert_eq!(
        Repository::open(&url, None).err().unwrap().code(),
        ErrorCode::PassphraseRequired
    );
    assert_eq!(
        Repository::open(&dir.path().join("none").to_string_lossy(), Some(PASS))
            .err()
            .unwrap()
            .code(),
        ErrorCode::RepoNotFound
    );

    // A snapshot written by a newer vger is hidden from lists and named as such, never "corrupt".
    let id = SnapshotId([0xee; 32]);
    let mut plain = 2u32.to_le_bytes().to_vec();
    plain.extend_from_slice(&[0u8; 64]);
    let sealed = repo.crypter().seal(
        &context(ObjectKind::Snapshot, &repo.config().id, &id.0),
        &plain,
    );
    repo.backend()
        .put_new(&snapshot::key(&id), &sealed)
        .unwrap();
    let list = repo.snapshots().unwrap();
    assert_eq!(
        (list.snapshots.len(), list.hidden_newer, list.damaged.len()),
        (1, 1, 0)
    );
    assert_eq!(
        repo.resolve_snapshot("eeee").unwrap_err().code(),
        ErrorCode::NewerFormat
    );

    // So is one whose extension list holds a key this vger must understand and does not know;
    // an unknown optional key is skipped.
    let base = &list.snapshots[0];
    for (byte, key, hidden) in [(0xe1u8, 0x8123u16, 2), (0xe2, 0x0123, 2)] {
        let mut s = base.clone();
        s.id = SnapshotId([byte; 32]);
        let mut plain = s.encode();
        plain.truncate(plain.len() - 2);
        plain.extend_from_slice(&1u16.to_le_bytes());
        plain.extend_from_slice(&key.to_le_bytes());
        plain.extend_from_slice(&0u32.to_le_bytes());
        let sealed = repo.crypter().seal(
            &context(ObjectKind::Snapshot, &repo.config().id, &s.id.0),
            &plain,
        );
        repo.backend()
            .put_new(&snapshot::key(&s.id), &sealed)
            .unwrap();
        let list = repo.snapshots().unwrap();
        assert_eq!((list.hidden_newer, list.damaged.len()), (hidden, 0));
    }
    let e = repo.resolve_snapshot("e1e1").unwrap_err();
    assert_eq!(e.code(), ErrorCode::NewerFormat);
    assert!(e.to_string().contains("0x8123"), "{e}");
    assert_eq!(repo.snapshots().unwrap().snapshots.len(), 2);

    // A newer repository config.
    let cfg = dir.path().join("repo/config");
    let mut b = fs::read(&cfg).unwrap();
    b[8] = 9;
    fs::write(&cfg, b).unwrap();
    let e = Repository::open(&url, Some(PASS)).err().unwrap();
    assert_eq!(e.code(), ErrorCode::NewerFormat);
    assert!(e.to_string().contains("newer vger"));

    // A format 1 config (the same layout with a valid checksum) is older, never "damaged"; the same
    // bytes with a bad checksum are damaged.
    b = fs::read(&cfg).unwrap();
    b[8] = 1;
    let sum = *blake3::hash(&b[..65]).as_bytes();
    b[65..].copy_from_slice(&sum);
    fs::write(&cfg, &b).unwrap();
    let e = Repository::open(&url, Some(PASS)).err().unwrap();
    assert_eq!(e.code(), ErrorCode::OlderFormat);
    assert!(e.to_string().contains("older vger"), "{e}");
    b[70] ^= 1;
    fs::write(&cfg, &b).unwrap();
    let e = Repository::open(&url, Some(PASS)).err().unwrap();
    assert_eq!(e.code(), ErrorCode::Corrupt);
}

/// Writes a snapshot whose root tree holds `entries` (bypassing the validation of `backup`).
fn forge(repo: &Repository, mut entries: Vec<Entry>, extra: &[(BlobKind, Vec<u8>)]) -> String {
    let plain = tree::encode(&mut entries);
    let mut blobs: Vec<(BlobKind, Vec<u8>)> = extra.to_vec();
    blobs.push((BlobKind::Tree, plain));
    let mut w = PackWriter::new();
    let mut root = ChunkId::default();
    for (kind, data) in &blobs {
        let id = repo.master().blob_id(*kind, data);
        let sealed = repo.crypter().seal(
            &context((*kind).into(), &repo.config().id, &id.0),
            &vger_core::compress::compress(vger_core::compress::Compression::None, data),
        );
        w.add(id, *kind, &sealed, data.len() as u32);
        root = id;
    }
    let (pid, bytes, list) = w.finish(repo.crypter(), &repo.config().id);
    repo.backend().put_new(&pack::key(&pid), &bytes).unwrap();
    let (k, seg) = seal_segment(&[(pid, list)], 1, repo.crypter(), &repo.config().id);
    repo.backend().put_new(&k, &seg).unwrap();
    let snap = Snapshot {
        format_version: 1,
        id: SnapshotId(vger_crypto::random_bytes()),
        start_ns: i64::MAX / 2,
        end_ns: i64::MAX / 2,
        hostname: "evil".into(),
        username: "evil".into(),
        label: "evil".into(),
        paths: vec![],
        tree: root,
        stats: Default::default(),
        partial: false,
        meta: Default::default(),
    };
    repo.backend()
        .put_new(
            &snapshot::key(&snap.id),
            &snap.seal(repo.crypter(), &repo.config().id),
        )
        .unwrap();
    snap.id.to_hex()
}

fn entry(name: &[u8], kind: Kind, content: Content) -> Entry {
    Entry {
        name: name.to_vec(),
        kind,
        mode: 0o100644,
        uid: 0,
        gid: 0,
        user: String::new(),
        group: String::new(),
        mtime_ns: 0,
        ctime_ns: 0,
        size: 0,
        xattrs: vec![],
        content,
        holes: vec![],
    }
}

#[test]
fn forged_trees_cannot_escape_the_destination() {
    let (dir, _, _) = setup();
    let attacks: Vec<Vec<Entry>> = vec![
        vec![entry(b"..", Kind::File, Content::Chunks(vec![]))],
        vec![entry(b"../../etc/x", Kind::File, Content::Chunks(vec![]))],
        vec![entry(b"/abs", Kind::File, Content::Chunks(vec![]))],
        vec![entry(
            b"h",
            Kind::HardLink,
            Content::Target(b"../../outside".to_vec()),
        )],
        vec![entry(
            b"h",
            Kind::HardLink,
            Content::Target(b"/etc/passwd".to_vec()),
        )],
        // A symlink and a directory of the same name: the symlink must never be followed.
        vec![
            entry(b"a", Kind::Symlink, Content::Target(b"/tmp".to_vec())),
            entry(b"a", Kind::Dir, Content::Subtree(ChunkId::default())),
        ],
    ];
    for (i, entries) in attacks.into_iter().enumerate() {
        let id = forge(
            &Repository::open(&repo_url(dir.path()), Some(PASS)).unwrap(),
            entries,
            &[],
        );
        let repo = Repository::open(&repo_url(dir.path()), Some(PASS)).unwrap();
        let dest = dir.path().join(format!("attack{i}"));
        let r = run_restore(&repo, &id[..12], &dest, None);
        match r {
            Err(e) => assert!(
                matches!(e.code(), ErrorCode::Corrupt | ErrorCode::UnsafePath),
                "attack {i}: {e}"
            ),
            Ok(r) => assert!(
                r.errors
                    .iter()
                    .all(|e| e.code == "VGER_UNSAFE_PATH" || e.code == "VGER_CORRUPT")
                    && !r.errors.is_empty(),
                "attack {i}: {:?}",
                r.errors
            ),
        }
        assert!(!dir.path().join("outside").exists());
        let escaped: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            !escaped.iter().any(|n| n == "x" || n == "abs"),
            "{escaped:?}"
        );
    }
}

#[test]
fn a_blob_moved_to_another_id_fails_authentication() {
    let (dir, repo, _) = setup();
    let data = b"the real content".to_vec();
    let other = b"what the attacker claims".to_vec();
    // Seal `data` but index it under the id of `other`: restore must refuse it.
    let claimed = repo.master().blob_id(BlobKind::Data, &other);
    let real = repo.master().blob_id(BlobKind::Data, &data);
    let sealed = repo.crypter().seal(
        &context(ObjectKind::DataBlob, &repo.config().id, &real.0),
        &vger_core::compress::compress(vger_core::compress::Compression::None, &data),
    );
    let mut w = PackWriter::new();
    w.add(claimed, BlobKind::Data, &sealed, data.len() as u32);
    let (pid, bytes, list) = w.finish(repo.crypter(), &repo.config().id);
    repo.backend().put_new(&pack::key(&pid), &bytes).unwrap();
    let (k, seg) = seal_segment(&[(pid, list)], 1, repo.crypter(), &repo.config().id);
    repo.backend().put_new(&k, &seg).unwrap();
    let mut f = entry(
        b"victim",
        Kind::File,
        Content::Chunks(vec![(claimed, other.len() as u32)]),
    );
    f.size = other.len() as u64;
    let id = forge(
        &Repository::open(&repo_url(dir.path()), Some(PASS)).unwrap(),
        vec![f],
        &[],
    );
    let repo = Repository::open(&repo_url(dir.path()), Some(PASS)).unwrap();
    let dest = dir.path().join("moved");
    let r = run_restore(&repo, &id, &dest, None).unwrap();
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].code, "VGER_CORRUPT");
    assert!(
        !dest.join("victim").exists(),
        "nothing unauthenticated is written"
    );
}
