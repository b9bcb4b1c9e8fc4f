//! Tags, pins and descriptions: `backup` records them, `snapshot tag|pin|describe` replace a
//! snapshot by a new one that supersedes it, prune keeps pinned snapshots and `snapshot delete`
//! refuses them, and an interrupted change leaves a listing without duplicates.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use std::fs;

use common::*;
use vger_core::{
    Algorithm, Annotation, CancelToken, ErrorCode, NoProgress, PruneOptions, RetentionPolicy,
    TagChange, annotate, backup, delete_snapshots, plan_annotate, plan_delete_snapshots,
    plan_prune, prune,
};

fn backup_tagged(repo: &vger_core::Repository, src: &std::path::Path, tags: &[&str]) -> String {
    let mut opts = backup_opts(&[src]);
    opts.tags = tags.iter().map(|t| t.to_string()).collect();
    opts.description = "first".into();
    let out = backup(repo, &opts, &NoProgress, &CancelToken::new()).unwrap();
    out.snapshot.id.to_hex()
}

fn ids(repo: &vger_core::Repository) -> Vec<String> {
    repo.snapshots()
        .unwrap()
        .snapshots
        .iter()
        .map(|s| s.id.to_hex())
        .collect()
}

#[test]
fn backup_records_tags_and_a_tag_change_replaces_the_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("a"), b"hello").unwrap();
    let repo = new_repo(tmp.path(), Algorithm::Aes256Gcm);
    let id = backup_tagged(&repo, &src, &["nightly", "db", "nightly"]);
    let s = repo.resolve_snapshot(&id).unwrap();
    assert_eq!(s.meta.tags, vec!["db", "nightly"], "sorted, deduplicated");
    assert_eq!(s.meta.description, "first");
    assert!(!s.meta.pinned);

    let change = Annotation {
        tags: Some(TagChange::Add(vec!["prod".into()])),
        ..Default::default()
    };
    let plan = plan_annotate(&repo, std::slice::from_ref(&id), &change).unwrap();
    assert_eq!(plan.changed(), 1);
    assert_eq!(annotate(&repo, &plan).unwrap(), 1);
    let now = ids(&repo);
    assert_eq!(now.len(), 1);
    assert_ne!(now[0], id, "a changed snapshot gets a new id");
    let new = repo.resolve_snapshot(&now[0]).unwrap();
    assert_eq!(new.meta.tags, vec!["db", "nightly", "prod"]);
    assert_eq!(new.meta.description, "first");
    assert_eq!(new.meta.supersedes.unwrap().to_hex(), id);
    assert_eq!(
        (new.tree, new.start_ns, new.stats.clone()),
        (s.tree, s.start_ns, s.stats.clone())
    );
    assert_eq!(
        repo.resolve_snapshot(&id).unwrap_err().code(),
        ErrorCode::SnapshotNotFound,
        "the old snapshot is gone"
    );

    // Adding a tag it already has changes nothing, and keeps the id.
    let again = Annotation {
        tags: Some(TagChange::Add(vec!["prod".into()])),
        ..Default::default()
    };
    let plan = plan_annotate(&repo, &now, &again).unwrap();
    assert_eq!(plan.changed(), 0);
    assert_eq!(annotate(&repo, &plan).unwrap(), 0);
    assert_eq!(ids(&repo), now);

    // Remove and set.
    for (change, want) in [
        (
            TagChange::Remove(vec!["nightly".into()]),
            vec!["db", "prod"],
        ),
        (TagChange::Set(vec!["x".into()]), vec!["x"]),
        (TagChange::Set(vec![]), vec![]),
    ] {
        let current = ids(&repo);
        let a = Annotation {
            tags: Some(change),
            ..Default::default()
        };
        annotate(&repo, &plan_annotate(&repo, &current, &a).unwrap()).unwrap();
        let s = repo.resolve_snapshot(&ids(&repo)[0]).unwrap();
        assert_eq!(s.meta.tags, want);
    }
    // Description set, then removed.
    let d = Annotation {
        description: Some(String::new()),
        ..Default::default()
    };
    annotate(&repo, &plan_annotate(&repo, &ids(&repo), &d).unwrap()).unwrap();
    assert_eq!(
        repo.resolve_snapshot(&ids(&repo)[0])
            .unwrap()
            .meta
            .description,
        ""
    );
}

#[test]
fn odd_tags_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    let repo = new_repo(tmp.path(), Algorithm::Aes256Gcm);
    for bad in ["", "a,b", " lead", "trail ", "tab\there", &"x".repeat(129)] {
        let mut opts = backup_opts(&[&src]);
        opts.tags = vec![bad.to_string()];
        let e = backup(&repo, &opts, &NoProgress, &CancelToken::new()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{bad:?}: {e}");
        assert!(e.to_string().contains("tag"), "{e}");
    }
    assert!(ids(&repo).is_empty());
    // Unicode is fine.
    let id = backup_tagged(&repo, &src, &["café ☕"]);
    let a = Annotation {
        tags: Some(TagChange::Add(vec!["x,y".into()])),
        ..Default::default()
    };
    let e = plan_annotate(&repo, &[id], &a).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    let e = plan_annotate(&repo, &ids(&repo), &Annotation::default()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
}

fn keep_last(n: u32) -> PruneOptions {
    PruneOptions {
        policy: RetentionPolicy {
            keep_last: Some(n),
            ..Default::default()
        },
        now_ns: vger_core::clock::now_ns(),
        ..Default::default()
    }
}

#[test]
fn a_pinned_snapshot_survives_prune_and_refuses_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    let repo = new_repo(tmp.path(), Algorithm::Aes256Gcm);
    let mut made = Vec::new();
    for i in 0..3 {
        fs::write(src.join("f"), format!("version {i}")).unwrap();
        made.push(backup_tagged(&repo, &src, &[]));
    }
    // Pin the oldest.
    let pin = Annotation {
        pinned: Some(true),
        ..Default::default()
    };
    annotate(&repo, &plan_annotate(&repo, &made[..1], &pin).unwrap()).unwrap();
    let all = repo.snapshots().unwrap().snapshots;
    assert_eq!(all.len(), 3);
    let pinned = all.iter().find(|s| s.meta.pinned).unwrap().clone();
    assert_eq!(pinned.meta.supersedes.unwrap().to_hex(), made[0]);

    let plan = plan_prune(&repo, &keep_last(1)).unwrap();
    assert_eq!((plan.keep, plan.remove), (2, 1));
    let d = plan
        .groups
        .iter()
        .flat_map(|g| &g.decisions)
        .find(|d| d.id == pinned.id)
        .unwrap();
    assert!(d.keep && d.reasons == vec!["pinned".to_string()], "{d:?}");
    assert_eq!(prune(&repo, &plan).unwrap(), 1);
    let left = ids(&repo);
    assert_eq!(left.len(), 2);
    assert!(left.contains(&pinned.id.to_hex()) && left.contains(&made[2]));

    // A rule that would remove every snapshot but the pinned one does not "empty" the group.
    let mut none = keep_last(0);
    none.policy.keep_within_ns = Some(1);
    let plan = plan_prune(&repo, &none).unwrap();
    assert!(!plan.groups[0].policy_would_remove_all);

    // snapshot delete refuses the whole plan while one is pinned.
    let e = delete_snapshots(&repo, &plan_delete_snapshots(&repo, &left).unwrap()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(e.to_string().contains("unpin"), "{e}");
    assert_eq!(ids(&repo).len(), 2, "nothing was deleted");

    let unpin = Annotation {
        pinned: Some(false),
        ..Default::default()
    };
    annotate(
        &repo,
        &plan_annotate(&repo, &[pinned.id.to_hex()], &unpin).unwrap(),
    )
    .unwrap();
    let plan = plan_prune(&repo, &keep_last(1)).unwrap();
    assert_eq!(prune(&repo, &plan).unwrap(), 1);
    assert_eq!(ids(&repo), vec![made[2].clone()]);
}

#[test]
fn an_interrupted_change_hides_the_old_snapshot_and_prune_removes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), b"x").unwrap();
    let repo = new_repo(tmp.path(), Algorithm::Aes256Gcm);
    let id = backup_tagged(&repo, &src, &["a"]);
    let change = Annotation {
        tags: Some(TagChange::Set(vec!["b".into()])),
        ..Default::default()
    };
    let plan = plan_annotate(&repo, std::slice::from_ref(&id), &change).unwrap();
    // The first step only: the new snapshot is written, the old one stays (a crash, or an
    // append-only server refusing the delete).
    let new = plan.items[0].1.clone().unwrap();
    repo.backend()
        .put_new(
            &vger_core::repo::snapshot::key(&new.id),
            &new.seal(repo.crypter(), &repo.config().id),
        )
        .unwrap();
    let list = repo.snapshots().unwrap();
    assert_eq!(ids(&repo), vec![new.id.to_hex()], "the old one is hidden");
    assert_eq!(list.superseded.len(), 1);
    assert_eq!(list.superseded[0].to_hex(), id);
    assert!(
        repo.backend()
            .size(&format!("snapshots/{id}"))
            .unwrap()
            .is_some()
    );
    // The next prune removes it, whatever its rules keep.
    let plan = plan_prune(&repo, &keep_last(5)).unwrap();
    assert_eq!(plan.remove, 0);
    prune(&repo, &plan).unwrap();
    assert!(
        repo.backend()
            .size(&format!("snapshots/{id}"))
            .unwrap()
            .is_none()
    );
    assert_eq!(ids(&repo), vec![new.id.to_hex()]);
}

#[test]
fn prune_filters_by_tag_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    let repo = new_repo(tmp.path(), Algorithm::Aes256Gcm);
    let mut made = Vec::new();
    for tags in [&["a", "b"][..], &["a"], &["b"], &[]] {
        made.push(backup_tagged(&repo, &src, tags));
    }
    let mut opts = keep_last(0);
    opts.policy.keep_within_ns = Some(1);
    opts.force = true;
    opts.tags = vec![vec!["a".into(), "b".into()]];
    let plan = plan_prune(&repo, &opts).unwrap();
    assert_eq!(plan.remove, 1, "only the snapshot with both a and b");
    opts.tags = vec![vec!["a".into()], vec!["b".into()]];
    let plan = plan_prune(&repo, &opts).unwrap();
    assert_eq!(plan.remove, 3, "either a or b");
    prune(&repo, &plan).unwrap();
    assert_eq!(ids(&repo), vec![made[3].clone()]);
}
