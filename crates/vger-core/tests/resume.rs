//! An interrupted first backup resumes: the rerun uploads at most the pack that was being filled
//! again, does not read again the files finished before the interruption (beyond 5% of them), and
//! its snapshot restores to the source. Interrupted at about 25%, 50% and 90% of a corpus of
//! incompressible files, by cancellation (what the CLI does on SIGINT) and by `kill -9` of a child
//! process running the backup (this test binary, re-executed).
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]
#![allow(clippy::print_stderr)] // the figures of each case

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use common::{PASS, repo_url, run_restore};
use vger_core::compress::Compression;
use vger_core::progress::{Event, Progress};
use vger_core::{
    Algorithm, BackupOptions, CancelToken, ChunkerParams, InitOptions, KdfParams, NoProgress,
    Repository, backup, init,
};

/// The corpus: `FILES` files of 64-448 KiB of incompressible bytes (about 32 MiB), in a few
/// directories, the same every run.
const FILES: u64 = 128;
/// Packs are closed at 1 MiB here (32 MiB by default), so the corpus fills about 32 of them.
const PACK: u64 = 1 << 20;

fn make_corpus(dir: &Path) -> (u64, u64) {
    let (mut total, mut largest) = (0u64, 0u64);
    for i in 0..FILES {
        let sub = dir.join(format!("d{}", i % 7));
        fs::create_dir_all(&sub).unwrap();
        let len = (64 << 10) + (i * 7919 % 384) * 1024;
        let mut data = vec![0u8; len as usize];
        blake3::Hasher::new()
            .update(&i.to_le_bytes())
            .finalize_xof()
            .fill(&mut data);
        fs::write(sub.join(format!("f{i:04}")), &data).unwrap();
        total += len;
        largest = largest.max(len);
    }
    (total, largest)
}

fn open(url: &str) -> Repository {
    let mut repo = Repository::open(url, Some(PASS)).unwrap();
    repo.set_pack_target(PACK as usize);
    repo
}

fn new_repo(dir: &Path) -> Repository {
    let url = repo_url(dir);
    init(&InitOptions {
        url: url.clone(),
        passphrase: Some(PASS.into()),
        algorithm: Algorithm::Aes256Gcm,
        chunker: ChunkerParams {
            min_size: 16 << 10,
            avg_size: 64 << 10,
            max_size: 256 << 10,
        },
        kdf: KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        backend: Default::default(),
        id_keys: None,
    })
    .unwrap();
    open(&url)
}

fn opts(src: &Path, cache: &Path) -> BackupOptions {
    BackupOptions {
        paths: vec![src.to_path_buf()],
        label: "resume".into(),
        exclude: vec![],
        filter: Default::default(),
        hostname: "host".into(),
        username: "user".into(),
        compression: Compression::Lz4,
        threads: 2,
        cache_dir: Some(cache.to_path_buf()),
        streams: Vec::new(),
        read_bytes_per_sec: 0,
        dry_run: false,
        time_ns: None,
        tags: Vec::new(),
        description: String::new(),
    }
}

/// Every file under `root` (relative path, sorted) with the BLAKE3 of its contents.
fn describe_tree(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((
                    rel,
                    blake3::hash(&fs::read(&p).unwrap()).to_hex().to_string(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Bytes of complete packs, and the number of temporary (partial) ones.
fn packs_on_disk(repo: &Path) -> (u64, usize) {
    let (mut bytes, mut temps) = (0, 0);
    let mut stack = vec![repo.join("packs")];
    while let Some(d) = stack.pop() {
        // A running backup may rename a temporary pack between the listing and the stat.
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if e.file_name().to_string_lossy().starts_with(".tmp.") {
                temps += 1;
            } else {
                bytes += m.len();
            }
        }
    }
    (bytes, temps)
}

/// Cancels the backup once it has read `stop_at` bytes of files; remembers how far it got.
struct CancelAt {
    stop_at: u64,
    cancel: CancelToken,
    seen: Mutex<u64>,
}

impl Progress for CancelAt {
    fn event(&self, e: Event) {
        if let Event::Backup { bytes, .. } = e {
            *self.seen.lock().unwrap() = bytes;
            if bytes >= self.stop_at {
                self.cancel.cancel();
            }
        }
    }
}

/// Prints progress for the parent (child mode).
struct PrintBytes;

impl Progress for PrintBytes {
    fn event(&self, e: Event) {
        if let Event::Backup { bytes, .. } = e {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "bytes {bytes}");
            let _ = out.flush();
        }
    }
}

/// The child of the `kill -9` cases: backs up `VGER_RESUME_CHILD` = "repo|src|cache", printing
/// the bytes read so far after each file. Ignored unless run by [`interrupt`].
#[test]
#[ignore = "run as a child process by the kill -9 cases"]
fn child_backup() {
    let Ok(spec) = std::env::var("VGER_RESUME_CHILD") else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let repo = open(parts[0]);
    backup(
        &repo,
        &opts(Path::new(parts[1]), Path::new(parts[2])),
        &PrintBytes,
        &CancelToken::new(),
    )
    .unwrap();
}

/// Starts [`child_backup`] in a child process.
fn spawn_child(dir: &Path, src: &Path, cache: &Path, stdout: Stdio) -> std::process::Child {
    let spec = format!("{}|{}|{}", repo_url(dir), src.display(), cache.display());
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_backup", "--ignored", "--nocapture"])
        .env("VGER_RESUME_CHILD", spec)
        .stdout(stdout)
        .spawn()
        .unwrap()
}

/// Runs [`child_backup`] and kills it (`SIGKILL`) once the repository's complete packs hold
/// `bytes`; fails if the backup ends first.
fn kill_when_stored(dir: &Path, src: &Path, cache: &Path, bytes: u64) {
    let mut child = spawn_child(dir, src, cache, Stdio::null());
    while packs_on_disk(&dir.join("repo")).0 < bytes {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before it was killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum How {
    Cancel,
    Kill9,
}

/// Runs a first backup of `src` into a new repository under `dir` and interrupts it once it has
/// read `fraction` of `total` bytes; returns the bytes it had read by then.
fn interrupt(dir: &Path, src: &Path, cache: &Path, total: u64, fraction: f64, how: How) -> u64 {
    let repo = new_repo(dir);
    let stop_at = (total as f64 * fraction) as u64;
    match how {
        How::Cancel => {
            let p = CancelAt {
                stop_at,
                cancel: CancelToken::new(),
                seen: Mutex::new(0),
            };
            let e = backup(&repo, &opts(src, cache), &p, &p.cancel).unwrap_err();
            assert_eq!(e.code(), vger_types::ErrorCode::Cancelled);
            *p.seen.lock().unwrap()
        }
        How::Kill9 => {
            drop(repo);
            let started = Instant::now();
            let mut child = spawn_child(dir, src, cache, Stdio::piped());
            let out = BufReader::new(child.stdout.take().unwrap());
            let mut seen = 0;
            for line in out.lines() {
                let line = line.unwrap();
                if let Some(b) = line.strip_prefix("bytes ") {
                    seen = b.parse().unwrap();
                    if seen >= stop_at {
                        child.kill().unwrap(); // SIGKILL
                        break;
                    }
                }
            }
            let status = child.wait().unwrap();
            assert!(
                !status.success(),
                "the child was killed before it finished ({:?})",
                started.elapsed()
            );
            seen
        }
    }
}

#[test]
fn an_interrupted_first_backup_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let (total, largest) = make_corpus(&src);
    let expected = describe_tree(&src);

    // What an uninterrupted backup stores.
    let reference = tmp.path().join("reference");
    let repo = new_repo(&reference);
    let clean = backup(
        &repo,
        &opts(&src, &reference.join("cache")),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    let stored_clean = clean.snapshot.stats.stored_bytes;
    assert_eq!(clean.bytes_read, total);
    assert!(stored_clean > 10 * PACK, "several packs: {stored_clean}");

    for how in [How::Cancel, How::Kill9] {
        for fraction in [0.25, 0.5, 0.9] {
            let case = format!("{how:?} at {:.0}%", fraction * 100.0);
            let dir = tmp.path().join(format!("{how:?}-{fraction}"));
            let cache = dir.join("cache");
            let started = Instant::now();
            let done = interrupt(&dir, &src, &cache, total, fraction, how);
            let (before, temps) = packs_on_disk(&dir.join("repo"));
            if how == How::Cancel {
                assert_eq!(
                    temps, 0,
                    "{case}: a cancelled backup leaves no partial pack"
                );
            }

            let repo = open(&repo_url(&dir));
            let rerun =
                backup(&repo, &opts(&src, &cache), &NoProgress, &CancelToken::new()).unwrap();
            let secs = started.elapsed().as_secs_f64();
            let (after, temps_after) = packs_on_disk(&dir.join("repo"));
            assert_eq!(temps_after, 0, "{case}: the partial pack is removed");
            assert_eq!(
                before + rerun.snapshot.stats.stored_bytes,
                after,
                "{case}: nothing was deleted but the partial pack"
            );

            // Uploads: the rerun stores what the complete packs did not hold, plus at most the
            // pack that was being filled (whose blobs the interrupted run had not yet stored).
            let again = after.saturating_sub(stored_clean);
            let slack = stored_clean / 100;
            let allowed = match how {
                How::Cancel => slack,
                How::Kill9 => PACK + slack,
            };
            assert!(
                again <= allowed,
                "{case}: {again} bytes stored twice (allowed {allowed})"
            );
            assert_eq!(
                rerun.reclaimed.temps_removed as usize, temps,
                "{case}: the partial pack left by the kill is the one removed"
            );

            // Reads: a file is finished once its chunks are in complete packs (`before` bytes;
            // sealed, so a little more than the data). Of those, at most 5% are read again,
            // plus the file cut by the pack boundary, plus (after a kill) the files of packs
            // stored after the last checkpoint, which the rerun takes into the index but not
            // into the file cache.
            let finished = before.min(total);
            let reread = rerun.bytes_read.saturating_sub(total - finished);
            let allowed = finished / 20 + largest + rerun.reclaimed.packs_indexed * PACK;
            assert!(
                reread <= allowed,
                "{case}: {reread} of {finished} finished bytes read again (allowed {allowed})"
            );
            if how == How::Cancel {
                // A cancelled backup stores what it has read: only the file being read when it
                // stopped is read again.
                let reread = rerun.bytes_read.saturating_sub(total - done);
                assert!(reread <= largest, "{case}: {reread} bytes read again");
            }
            eprintln!(
                "{case}: interrupted after {done} of {total} bytes read; the rerun read \
                 {} bytes ({reread} again), stored {} bytes ({again} more than an uninterrupted \
                 backup), removed {} partial packs, indexed {} packs of the killed run; {secs:.1} s",
                rerun.bytes_read,
                rerun.snapshot.stats.stored_bytes,
                rerun.reclaimed.temps_removed,
                rerun.reclaimed.packs_indexed,
            );

            let dest = dir.join("restored");
            run_restore(&repo, "latest", &dest, None).unwrap();
            assert_eq!(describe_tree(&dest), expected, "{case}: restores identical");
            fs::remove_dir_all(&dir).unwrap();
        }
    }
}

/// `kill -9` while one large file is being read: the rerun takes the packs stored before the
/// kill from the in-flight record and, from the file log, the chunks of the file they hold, and
/// reads the file on from there instead of from its start. What it reads again is bounded by
/// the blobs the two sealing workers had in hand (batches of up to 1 MiB each, which may reach
/// the packer out of order, so a stored pack can hold chunks from after the first one that
/// was not stored); 5% of the 40 and 80 MiB stored before the kills is more than that.
#[test]
fn a_large_file_killed_midway_is_read_on_from_its_stored_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let total = 96u64 << 20;
    let mut data = vec![0u8; total as usize];
    blake3::Hasher::new()
        .update(b"large")
        .finalize_xof()
        .fill(&mut data);
    fs::write(src.join("large"), &data).unwrap();
    drop(data);
    let expected = describe_tree(&src);
    // Files changed within the second a backup starts are not cached (nor logged).
    std::thread::sleep(std::time::Duration::from_millis(1100));

    for stop_packs in [40, 80] {
        let dir = tmp.path().join(format!("kill-{stop_packs}"));
        let cache = dir.join("cache");
        drop(new_repo(&dir));
        // Killed once `stop_packs` packs (of about 96) are stored: the file is being read.
        kill_when_stored(&dir, &src, &cache, stop_packs * PACK);
        let (finished, _) = packs_on_disk(&dir.join("repo"));
        assert!(finished < total, "killed before the end");

        let repo = open(&repo_url(&dir));
        let rerun = backup(&repo, &opts(&src, &cache), &NoProgress, &CancelToken::new()).unwrap();
        // Without the file log the rerun reads all 96 MiB again.
        let reread = rerun.bytes_read.saturating_sub(total - finished.min(total));
        eprintln!(
            "killed with {finished} bytes in complete packs: the rerun read {} bytes, {reread} of them again",
            rerun.bytes_read
        );
        assert!(
            reread <= finished / 20,
            "{reread} of {finished} finished bytes read again"
        );
        let dest = dir.join("restored");
        run_restore(&repo, "latest", &dest, None).unwrap();
        assert_eq!(describe_tree(&dest), expected, "restores identical");
    }
}

/// `kill -9` of a re-backup after it has taken the unchanged files (they get no file log
/// record: the cache file on disk still holds each of them as it is) and while it reads a new
/// large file: the rerun reads none of the unchanged files again.
#[test]
fn a_rebackup_killed_after_its_unchanged_files_reads_none_of_them_again() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let (small, _) = make_corpus(&src);
    // Files changed within the second a backup starts are not cached.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let dir = tmp.path().join("re");
    let cache = dir.join("cache");
    let repo = new_repo(&dir);
    backup(&repo, &opts(&src, &cache), &NoProgress, &CancelToken::new()).unwrap();
    drop(repo);

    // Walked last ("zz" sorts after "d0".."d6").
    let large = 64u64 << 20;
    let mut data = vec![0u8; large as usize];
    blake3::Hasher::new()
        .update(b"zz")
        .finalize_xof()
        .fill(&mut data);
    fs::create_dir_all(src.join("zz")).unwrap();
    fs::write(src.join("zz/large"), &data).unwrap();
    drop(data);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let expected = describe_tree(&src);

    let (first, _) = packs_on_disk(&dir.join("repo"));
    kill_when_stored(&dir, &src, &cache, first + 16 * PACK);

    let repo = open(&repo_url(&dir));
    let rerun = backup(&repo, &opts(&src, &cache), &NoProgress, &CancelToken::new()).unwrap();
    assert!(
        rerun.bytes_read <= large,
        "the rerun read {} bytes: {} of the {small} unchanged ones again",
        rerun.bytes_read,
        rerun.bytes_read.saturating_sub(large)
    );
    assert_eq!(rerun.snapshot.stats.files, FILES + 1);
    let dest = dir.join("restored");
    run_restore(&repo, "latest", &dest, None).unwrap();
    assert_eq!(describe_tree(&dest), expected, "restores identical");
}
