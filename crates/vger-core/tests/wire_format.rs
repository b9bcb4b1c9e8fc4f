//! Golden bytes for every encoded structure. A failure here means the on-disk format changed:
//! that is never a stale expectation to regenerate, but a format change that needs a new version
//! and an update of docs/format.md.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

use vger_core::Algorithm;
use vger_core::repo::config::{ChunkerParams, RepoConfig};
use vger_core::repo::index::{decode_segment, encode_segment_with};
use vger_core::repo::pack::{BlobEntry, encode_table};
use vger_core::repo::snapshot::{Snapshot, SnapshotStats};
use vger_crypto::BlobKind;
use vger_types::{ChunkId, PackId, SnapshotId};

#[test]
fn config() {
    let c = RepoConfig {
        id: [0x11; 32],
        algorithm: Algorithm::ChaCha20Poly1305,
        // Explicit sizes (the default changed to a 1 MiB average later): the vector pins the
        // encoding, not the default.
        chunker: ChunkerParams {
            min_size: 512 * 1024,
            avg_size: 2 * 1024 * 1024,
            max_size: 8 * 1024 * 1024,
        },
        created_ns: 1_763_000_000_000_000_000,
    };
    let bytes = c.encode();
    assert_eq!(hex::encode(&bytes[..65]), GOLDEN_CONFIG);
    assert_eq!(RepoConfig::decode(&bytes).unwrap(), c);
}

fn entries() -> Vec<BlobEntry> {
    vec![
        BlobEntry {
            id: ChunkId([0xaa; 32]),
            kind: BlobKind::Data,
            offset: 25,
            len: 100,
            raw_len: 80,
        },
        BlobEntry {
            id: ChunkId([0xbb; 32]),
            kind: BlobKind::Tree,
            offset: 125,
            len: 50,
            raw_len: 200,
        },
    ]
}

#[test]
fn pack_trailer_and_index_segment() {
    assert_eq!(hex::encode(encode_table(&entries())), GOLDEN_TRAILER);
    let packs = [(PackId([0xcc; 32]), entries())];
    let bytes = encode_segment_with(&packs, &[[0xdd; 32]], 0x0102_0304_0506_0708);
    assert_eq!(hex::encode(&bytes), GOLDEN_SEGMENT);
    let seg = decode_segment(&bytes, "segment").unwrap();
    assert_eq!(seg.packs, packs);
    assert_eq!(seg.supersedes, vec![[0xdd; 32]]);
    assert_eq!(seg.generation, 0x0102_0304_0506_0708);
}

#[test]
fn snapshot() {
    let s = Snapshot {
        format_version: 1,
        id: SnapshotId([0x22; 32]),
        start_ns: 1,
        end_ns: 2,
        hostname: "h".into(),
        username: "u".into(),
        label: "l".into(),
        paths: vec![b"/p".to_vec()],
        tree: ChunkId([0x33; 32]),
        stats: SnapshotStats {
            files: 1,
            dirs: 2,
            symlinks: 3,
            others: 4,
            bytes: 5,
            new_chunks: 6,
            new_bytes: 7,
            stored_bytes: 8,
            skipped: 9,
        },
        partial: true,
        meta: Default::default(),
    };
    let bytes = s.encode();
    assert_eq!(hex::encode(&bytes), GOLDEN_SNAPSHOT);
    assert_eq!(Snapshot::decode(&bytes, "t").unwrap(), s);

    // A newer writer's extension list (docs/format.md section 11): optional keys are skipped,
    // an unknown must-understand key is VGER_NEWER_FORMAT naming the key, and keys out of
    // order, duplicated or with values past the limit are damage.
    let with = |items: &[(u16, &[u8])]| {
        let mut b = bytes[..bytes.len() - 2].to_vec();
        b.extend_from_slice(&(items.len() as u16).to_le_bytes());
        for (k, v) in items {
            b.extend_from_slice(&k.to_le_bytes());
            b.extend_from_slice(&(v.len() as u32).to_le_bytes());
            b.extend_from_slice(v);
        }
        b
    };
    let tagged = with(&[(0x0010, b"tag: nightly"), (0x0011, b"")]);
    assert_eq!(Snapshot::decode(&tagged, "t").unwrap(), s);
    let e = Snapshot::decode(&with(&[(0x0010, b""), (0x8007, b"x")]), "snapshot 22").unwrap_err();
    assert_eq!(e.code(), vger_types::ErrorCode::NewerFormat);
    assert!(
        e.to_string().contains("snapshot 22") && e.to_string().contains("0x8007"),
        "{e}"
    );
    for bad in [
        with(&[(0x0011, b""), (0x0010, b"")]),
        with(&[(0x0010, b""), (0x0010, b"")]),
        with(&[(0x0010, &vec![0u8; (1 << 20) + 1])]),
        // Known keys with malformed values: a tag count past the data, a short id.
        with(&[(0x0001, &[9, 0, 0, 0])]),
        with(&[(0x0003, &[0x44; 31])]),
        with(&[(0x8005, b"x")]),
    ] {
        let e = Snapshot::decode(&bad, "t").unwrap_err();
        assert_eq!(e.code(), vger_types::ErrorCode::Corrupt, "{e}");
    }
    let mut forged = with(&[]);
    let n = forged.len();
    forged[n - 2..].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(Snapshot::decode(&forged, "t").is_err());
}

/// The user-given fields (docs/format.md section 11): tags, description, supersedes, rewritten
/// from and pinned, each an extension written only when set.
#[test]
fn snapshot_meta() {
    use vger_core::SnapshotMeta;
    let mut s = Snapshot::decode(&hex::decode(GOLDEN_SNAPSHOT).unwrap(), "t").unwrap();
    s.meta = SnapshotMeta {
        tags: vec!["a".into(), "nightly".into()],
        description: "d".into(),
        pinned: true,
        supersedes: Some(SnapshotId([0x44; 32])),
        rewritten_from: Some((SnapshotId([0x55; 32]), "n".into())),
    };
    let bytes = s.encode();
    let tail = &hex::encode(&bytes)[GOLDEN_SNAPSHOT.len() - 4..];
    assert_eq!(tail, GOLDEN_SNAPSHOT_META_TAIL);
    assert_eq!(Snapshot::decode(&bytes, "t").unwrap(), s);
    assert!(s.matches_tags(&[]));
    assert!(s.matches_tags(&[vec!["a".into(), "nightly".into()]]));
    assert!(s.matches_tags(&[vec!["x".into()], vec!["a".into()]]));
    assert!(!s.matches_tags(&[vec!["a".into(), "x".into()]]));
}

const GOLDEN_CONFIG: &str = "564745525245504f02000000111111111111111111111111111111111111111111111111111111111111111102000008000000200000008000008003c3286f7718";
const GOLDEN_TRAILER: &str = "0202000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01190000006400000050000000bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb027d00000032000000c8000000";
const GOLDEN_SEGMENT: &str = "0301000000cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc02000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01190000006400000050000000bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb027d00000032000000c800000001000000dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd0807060504030201";
const GOLDEN_SNAPSHOT: &str = "0100000022222222222222222222222222222222222222222222222222222222222222220100000000000000020000000000000001000000680100000075010000006c01000000020000002f703333333333333333333333333333333333333333333333333333333333333333010000000000000002000000000000000300000000000000040000000000000005000000000000000600000000000000070000000000000008000000000000000900000000000000010000";

#[test]
fn lock() {
    use vger_core::ProcessStamp;
    use vger_core::repo::lock::{LockInfo, LockKind};
    let l = LockInfo {
        key: "locks/x".into(),
        lease: [0x44; 16],
        kind: LockKind::Exclusive,
        created_ns: 1,
        expires_ns: 2,
        hostname: "h".into(),
        pid: 7,
        operation: "compact".into(),
        process: ProcessStamp {
            boot_id: "b".into(),
            pid_namespace: "n".into(),
            start_time: 9,
        },
    };
    let bytes = l.encode();
    assert_eq!(hex::encode(&bytes), GOLDEN_LOCK);
    assert_eq!(LockInfo::decode("locks/x", &bytes).unwrap(), l);
    // A version 1 lock (written before the process stamp) still decodes, its process unknown.
    let v1 = LockInfo::decode("locks/x", &hex::decode(GOLDEN_LOCK_V1).unwrap()).unwrap();
    assert_eq!(
        v1,
        LockInfo {
            process: ProcessStamp::default(),
            ..l
        }
    );
    assert_eq!(v1.process_state(), vger_core::ProcessState::Unknown);
}

/// docs/format.md section 17: lock plaintext, version 1 (still read).
const GOLDEN_LOCK_V1: &str = "0144444444444444444444444444444444020100000000000000020000000000000001000000680700000007000000636f6d70616374";
const GOLDEN_LOCK: &str = "0244444444444444444444444444444444020100000000000000020000000000000001000000680700000007000000636f6d706163740100000062010000006e0900000000000000";
/// The extension list of the snapshot in `snapshot_meta`, from its count on.
const GOLDEN_SNAPSHOT_META_TAIL: &str = "0500010014000000020000000100000061070000006e696768746c79020005000000010000006403002000000044444444444444444444444444444444444444444444444444444444444444440400250000005555555555555555555555555555555555555555555555555555555555555555010000006e058000000000";
