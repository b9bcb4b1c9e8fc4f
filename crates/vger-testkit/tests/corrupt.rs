//! The corruption campaign: random damage to packs, index segments, snapshots, keys and the
//! config — bit flips, truncation, zeroed ranges, deleted objects, objects swapped with another
//! of the same kind. Every trial must be detected (the repository refuses to open, or `check
//! --verify-data` reports it), and no restore may ever write a file whose bytes differ from what
//! was backed up.
//!
//! One kind of damage is left out on purpose: deleting a snapshot object. It is exactly what
//! `vger snapshot delete` does, so no reader can tell it from a legitimate deletion; an
//! append-only server (which refuses deletes) is the defence against it.
//!
//! Trials: `VGER_CORRUPT_TRIALS` (default 200; `npm run campaign:corrupt` runs 5,000). Replay
//! with `VGER_CAMPAIGN_SEED`.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use vger_core::{CancelToken, CheckOptions, NoProgress, Repository, RestoreOptions};
use vger_testkit::*;

fn objects(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                let kind = rel.split('/').next().unwrap().to_string();
                if kind != "locks" {
                    out.push((kind, p));
                }
            }
        }
    }
    walk(root, root, &mut out);
    out.sort();
    out
}

fn rewrite(path: &Path, data: &[u8]) {
    fs::remove_file(path).unwrap();
    fs::write(path, data).unwrap();
}

/// Applies one random corruption; returns its description.
fn corrupt(root: &Path, rng: &mut Rng) -> String {
    let objs = objects(root);
    // Pick a kind first, so the rare kinds (config, keys) get their share of trials.
    let kinds = ["packs", "index", "snapshots", "keys", "config"];
    let kind = kinds[rng.below(kinds.len() as u64) as usize];
    let of_kind: Vec<&PathBuf> = objs
        .iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, p)| p)
        .collect();
    let target = of_kind[rng.below(of_kind.len() as u64) as usize];
    let name = target.strip_prefix(root).unwrap().display().to_string();
    let old = fs::read(target).unwrap();
    loop {
        let how = rng.below(5);
        let mut data = old.clone();
        let desc = match how {
            0 => {
                let i = rng.below(data.len() as u64) as usize;
                let bit = rng.below(8);
                data[i] ^= 1 << bit;
                format!("flip bit {bit} of byte {i} in {name}")
            }
            1 => {
                let n = rng.below(data.len() as u64) as usize;
                data.truncate(n);
                format!("truncate {name} to {n} bytes")
            }
            2 => {
                let a = rng.below(data.len() as u64) as usize;
                let len = 1 + rng.below(64.min((data.len() - a) as u64)) as usize;
                data[a..a + len].fill(0);
                format!("zero {len} bytes at {a} in {name}")
            }
            3 if kind != "snapshots" => {
                fs::remove_file(target).unwrap();
                return format!("delete {name}");
            }
            4 if of_kind.len() > 1 => {
                let other = of_kind.iter().find(|p| **p != target).copied().unwrap();
                let theirs = fs::read(other).unwrap();
                if theirs == old {
                    continue;
                }
                rewrite(other, &old);
                rewrite(target, &theirs);
                return format!(
                    "swap {name} with {}",
                    other.strip_prefix(root).unwrap().display()
                );
            }
            _ => continue,
        };
        if data != old {
            rewrite(target, &data);
            return desc;
        }
    }
}

#[derive(Default, Debug)]
struct Tally {
    refused_open: u64,
    found_by_check: u64,
    files_refused: u64,
    files_restored: u64,
}

#[test]
fn every_corruption_is_detected_and_no_wrong_byte_is_restored() {
    let trials: u64 = std::env::var("VGER_CORRUPT_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let seed = seed("VGER_CAMPAIGN_SEED");
    let mut rng = Rng::new(seed);

    // Pristine: three generations, each in its own pack, index segment and snapshot.
    let base = tempfile::tempdir().unwrap();
    let repo = init_repo(&base.path().join("repo"));
    let src = base.path().join("src");
    let mut expected: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    for g in 0..3 {
        write_source(&src, g, 3, 60_000);
        let out = vger_core::backup(
            &repo,
            &backup_opts(&src, "data"),
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        expected.insert(out.snapshot.id.to_hex(), digest(&src));
    }
    drop(repo);

    let mut tally = Tally::default();
    for trial in 0..trials {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path().join("repo");
        copy_dir(&base.path().join("repo"), &root);
        let what = corrupt(&root, &mut rng);
        let ctx = format!("trial {trial}: {what} (seed {seed})");
        let repo = match Repository::open(&root.to_string_lossy(), Some(PASS)) {
            Err(_) => {
                tally.refused_open += 1;
                continue;
            }
            Ok(r) => r,
        };
        let report = vger_core::check(
            &repo,
            &CheckOptions {
                verify_data: true,
                ..Default::default()
            },
            &NoProgress,
            &CancelToken::new(),
        );
        match report {
            Ok(r) if r.ok() => panic!("{ctx}: not detected by check --verify-data"),
            _ => tally.found_by_check += 1,
        }
        // Restore whatever is listed; every file written must be exactly right.
        let Ok(list) = repo.snapshots() else { continue };
        for (i, s) in list.snapshots.iter().enumerate() {
            let id = s.id.to_hex();
            let want = expected
                .get(&id)
                .unwrap_or_else(|| panic!("{ctx}: unknown snapshot {id} listed"));
            let dest = scratch.path().join(format!("out-{i}"));
            let out = vger_core::restore(
                &repo,
                &RestoreOptions {
                    snapshot: id.clone(),
                    dest: dest.clone(),
                    patterns: Vec::new(),
                    threads: 2,
                    excludes: Vec::new(),
                    overwrite: None,
                    delete: false,
                    dry_run: false,
                },
                &NoProgress,
                &CancelToken::new(),
            );
            let Ok(out) = out else { continue };
            tally.files_refused += out.errors.len() as u64;
            for (path, hash) in digest(&dest) {
                match want.get(&path) {
                    Some(w) if *w == hash => tally.files_restored += 1,
                    _ => panic!("{ctx}: snapshot {id} restored wrong content at {path}"),
                }
            }
        }
    }
    eprintln!("{trials} corruptions, all detected ({tally:?}), seed {seed}");
}
