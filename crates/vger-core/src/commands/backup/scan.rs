//! Scan-ahead of the directories a backup is about to walk. Listing a directory and looking at
//! each entry (`getdents`, then one `statx` per entry) is most of an unchanged re-backup's work
//! and all of its system calls; done by the walker, it runs on one core while the other idles,
//! and on a cold disk it waits for one inode read at a time. So, as the walker looks at a batch
//! of entries, it names the subdirectories it will walk; a few threads list them and look at
//! their entries, and the walker takes the result when it gets there.
//!
//! Directories are scanned depth-first, the way the walker goes: the ones named last (the
//! subdirectories of the directory the walker is in) first. What is scanned and not yet taken
//! is bounded ([`AHEAD_ENTRIES`]), and so is what waits to be scanned ([`MAX_WAITING`]). A
//! directory the walker reaches before a thread has started on it is taken back and listed by
//! the walker itself, as without scan-ahead; one a thread is scanning is waited for. The result
//! is what the walker would have seen had it looked a moment earlier: a backup is never an
//! atomic picture of a changing tree, and every file is still opened and checked when read.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::filecache::PathKey;
use crate::platform::names;

/// Threads scanning. One starts with the scanner: on a warm tree, the walker and it keep two
/// cores busy, and more would only take turns with the walker. The others start once the first
/// has read [`COLD_READS`] blocks from a disk (on Linux, its `getrusage` block reads, counted in
/// 512-byte units: 32 KiB): the tree is cold, and a disk serves several inode reads at once.
const THREADS: usize = 3;
const COLD_READS: i64 = 64;
/// Entries scanned and not yet taken; the threads wait while there are more.
pub const AHEAD_ENTRIES: usize = 16_384;
/// Directories waiting for a thread; beyond this, the ones the walker will reach last are
/// forgotten, and the walker lists them itself.
pub const MAX_WAITING: usize = 4_096;
/// Entries of one directory a thread looks at; the walker looks at the rest itself (through the
/// handles the thread hands over), so a huge directory costs no more memory than it would
/// without scan-ahead.
pub const MAX_LOOKED: usize = 2_048;

/// A directory as a thread found it: its entry names sorted by their bytes, the `lstat` of the
/// first [`MAX_LOOKED`] of them with, for a regular file, the file cache's key (the hash of its
/// path), the [`fs::DirEntry`] of each of the rest, and the names this platform cannot store
/// (their paths).
pub struct Scanned {
    pub names: Vec<Vec<u8>>,
    pub looked: Vec<(io::Result<Metadata>, Option<PathKey>)>,
    pub rest: Vec<fs::DirEntry>,
    pub unstorable: Vec<PathBuf>,
}

#[derive(Default)]
struct State {
    /// Named, not started; the back is scanned next.
    waiting: VecDeque<PathBuf>,
    busy: HashSet<PathBuf>,
    done: HashMap<PathBuf, io::Result<Scanned>>,
    /// Entries in `done`.
    ahead: usize,
    /// The threads have read from a disk: more may start.
    cold: bool,
    stop: bool,
    /// Threads waiting for `work`, and callers of `take` waiting for `ready`: a wake-up is a
    /// system call, sent only when someone waits (once per directory, they cost the walker
    /// about 5 % of an unchanged re-backup).
    idle: usize,
    takers: usize,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// A directory was named, a result taken, or the scanner is stopping.
    work: Condvar,
    /// A directory was scanned.
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Scanner {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Scanner {
    pub fn new() -> Self {
        let s = Scanner {
            shared: Arc::new(Shared::default()),
            threads: Mutex::new(Vec::new()),
        };
        s.spawn(1);
        s
    }

    /// Starts threads up to `n` in all.
    fn spawn(&self, n: usize) {
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        while threads.len() < n {
            let shared = Arc::clone(&self.shared);
            let name = format!("vger-scan-{}", threads.len());
            match std::thread::Builder::new()
                .name(name)
                .spawn(move || work(&shared))
            {
                Ok(t) => threads.push(t),
                Err(_) => break,
            }
        }
    }

    /// Names directories the walker will walk, in the order it will walk them.
    pub fn ask(&self, dirs: Vec<PathBuf>) {
        if dirs.is_empty() {
            return;
        }
        let mut s = self.shared.lock();
        s.waiting.extend(dirs.into_iter().rev());
        while s.waiting.len() > MAX_WAITING {
            s.waiting.pop_front();
        }
        let (cold, idle) = (s.cold, s.idle > 0);
        drop(s);
        if cold {
            self.spawn(THREADS);
        }
        if idle {
            self.shared.work.notify_all();
        }
    }

    /// The scan of `dir`, waiting for it if a thread is on it; `None` when no thread has started
    /// on it (it is then no longer waiting) or it was never named.
    pub fn take(&self, dir: &Path) -> Option<io::Result<Scanned>> {
        let mut s = self.shared.lock();
        loop {
            if let Some(r) = s.done.remove(dir) {
                let full = s.ahead >= AHEAD_ENTRIES;
                s.ahead -= r.as_ref().map_or(0, |x| x.names.len());
                // Only a full window holds threads back for want of room.
                let wake = full && s.ahead < AHEAD_ENTRIES && s.idle > 0;
                drop(s);
                if wake {
                    self.shared.work.notify_all();
                }
                return Some(r);
            }
            if !s.busy.contains(dir) {
                if let Some(i) = s.waiting.iter().rposition(|p| p == dir) {
                    s.waiting.remove(i);
                }
                return None;
            }
            s.takers += 1;
            s = self.shared.ready.wait(s).unwrap_or_else(|e| e.into_inner());
            s.takers -= 1;
        }
    }
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Scanner {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.work.notify_all();
        let threads = std::mem::take(self.threads.get_mut().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

fn work(shared: &Shared) {
    let reads = block_reads();
    loop {
        let dir = {
            let mut s = shared.lock();
            loop {
                if s.stop {
                    return;
                }
                if s.ahead < AHEAD_ENTRIES
                    && let Some(dir) = s.waiting.pop_back()
                {
                    // Named twice (sources that overlap): scanned once.
                    if s.busy.contains(&dir) || s.done.contains_key(&dir) {
                        continue;
                    }
                    s.busy.insert(dir.clone());
                    break dir;
                }
                s.idle += 1;
                s = shared.work.wait(s).unwrap_or_else(|e| e.into_inner());
                s.idle -= 1;
            }
        };
        let r = scan(&dir);
        let cold = block_reads() - reads >= COLD_READS;
        let mut s = shared.lock();
        s.cold |= cold;
        s.busy.remove(&dir);
        s.ahead += r.as_ref().map_or(0, |x| x.names.len());
        s.done.insert(dir, r);
        let wake = s.takers > 0;
        drop(s);
        if wake {
            shared.ready.notify_all();
        }
    }
}

/// Blocks this thread has read from a disk (0 where that is not known).
#[cfg(target_os = "linux")]
fn block_reads() -> i64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_THREAD).map_or(0, |u| u.block_reads())
}

#[cfg(not(target_os = "linux"))]
fn block_reads() -> i64 {
    0
}

/// Lists `dir` and looks at (`lstat`, relative to the open directory) its first entries.
pub fn scan(dir: &Path) -> io::Result<Scanned> {
    let mut found = Vec::new();
    let mut unstorable = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        match names::bytes(&name) {
            Some(b) => found.push((b.to_vec(), e)),
            None => unstorable.push(dir.join(&name)),
        }
    }
    found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let looked = found
        .iter()
        .take(MAX_LOOKED)
        .map(|(_, e)| {
            let meta = e.metadata();
            let is_file = meta.as_ref().is_ok_and(|m| m.file_type().is_file());
            let key = is_file.then(|| PathKey::of(&e.path()));
            (meta, key)
        })
        .collect();
    let mut names = Vec::with_capacity(found.len());
    let mut rest = Vec::with_capacity(found.len().saturating_sub(MAX_LOOKED));
    for (i, (name, e)) in found.into_iter().enumerate() {
        names.push(name);
        if i >= MAX_LOOKED {
            rest.push(e);
        }
    }
    Ok(Scanned {
        names,
        looked,
        rest,
        unstorable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dirs: usize, files: usize) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for d in 0..dirs {
            let dir = t.path().join(format!("d{d:03}"));
            fs::create_dir(&dir).unwrap();
            for f in 0..files {
                fs::write(dir.join(format!("f{f}")), [d as u8; 3]).unwrap();
            }
        }
        t
    }

    fn dirs(t: &tempfile::TempDir, n: usize) -> Vec<PathBuf> {
        (0..n).map(|d| t.path().join(format!("d{d:03}"))).collect()
    }

    #[test]
    fn a_named_directory_is_scanned_sorted_and_looked_at() {
        let t = tree(20, 5);
        let s = Scanner::new();
        s.ask(dirs(&t, 20));
        for dir in dirs(&t, 20) {
            // Taken while waiting (the walker lists it itself) or scanned: never lost.
            match s.take(&dir) {
                Some(r) => {
                    let r = r.unwrap();
                    let want: Vec<Vec<u8>> = (0..5).map(|f| format!("f{f}").into_bytes()).collect();
                    assert_eq!(r.names, want);
                    assert_eq!(r.looked.len(), 5);
                    for (name, (meta, key)) in r.names.iter().zip(&r.looked) {
                        assert_eq!(meta.as_ref().unwrap().len(), 3);
                        let path = dir.join(std::str::from_utf8(name).unwrap());
                        assert!(*key == Some(PathKey::of(&path)), "the file cache's key");
                    }
                }
                None => assert!(scan(&dir).is_ok()),
            }
            assert!(s.take(&dir).is_none(), "a directory is handed out once");
        }
        assert_eq!(s.shared.lock().ahead, 0);
    }

    #[test]
    fn the_threads_stop_when_enough_is_scanned_ahead() {
        // 40 directories of 1,000 entries: the threads stop once AHEAD_ENTRIES are untaken.
        let t = tree(40, 1_000);
        let s = Scanner::new();
        s.ask(dirs(&t, 40));
        std::thread::sleep(std::time::Duration::from_millis(500));
        {
            let st = s.shared.lock();
            let max = AHEAD_ENTRIES + THREADS * 1_000;
            assert!(st.ahead <= max, "{} entries ahead", st.ahead);
            assert!(!st.waiting.is_empty(), "the rest waits");
        }
        // Taking results lets the threads go on; every directory comes out right.
        for dir in dirs(&t, 40) {
            let n = match s.take(&dir) {
                Some(r) => r.unwrap().names.len(),
                None => scan(&dir).unwrap().names.len(),
            };
            assert_eq!(n, 1_000);
        }
    }

    #[test]
    fn a_huge_directory_is_looked_at_in_part_and_a_missing_one_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        for f in 0..MAX_LOOKED + 10 {
            fs::write(t.path().join(format!("{f:05}")), b"").unwrap();
        }
        let r = scan(t.path()).unwrap();
        assert_eq!(
            (r.names.len(), r.looked.len()),
            (MAX_LOOKED + 10, MAX_LOOKED)
        );
        assert_eq!(r.names[0], b"00000");
        // The rest are handed over as handles, in the same order as their names.
        let rest: Vec<Vec<u8>> = r
            .rest
            .iter()
            .map(|e| e.file_name().into_encoded_bytes())
            .collect();
        assert_eq!(rest, r.names[MAX_LOOKED..]);
        let s = Scanner::new();
        let gone = t.path().join("gone");
        s.ask(vec![gone.clone()]);
        // Waiting or scanned: a missing directory is the walker's own error, or the scan's.
        if let Some(r) = s.take(&gone) {
            assert_eq!(r.err().unwrap().kind(), io::ErrorKind::NotFound);
        }
    }

    #[test]
    fn waiting_directories_are_bounded_and_go_depth_first() {
        // No threads: what waits stays put (the walker takes each back and lists it itself).
        let s = Scanner {
            shared: Arc::new(Shared::default()),
            threads: Mutex::new(Vec::new()),
        };
        let p = |i: usize| PathBuf::from(format!("/x/{i}"));
        s.ask(vec![p(0), p(1), p(2)]);
        s.ask(vec![p(10), p(11)]);
        let waiting = |s: &Scanner| s.shared.lock().waiting.iter().cloned().collect::<Vec<_>>();
        // The back goes next: the subdirectories named last, in the order named.
        assert_eq!(waiting(&s), [p(2), p(1), p(0), p(11), p(10)]);
        assert!(s.take(&p(1)).is_none());
        assert_eq!(waiting(&s), [p(2), p(0), p(11), p(10)], "taken back");
        s.ask((100..100 + MAX_WAITING).map(p).collect());
        let w = waiting(&s);
        assert_eq!(w.len(), MAX_WAITING);
        assert_eq!(
            w.last(),
            Some(&p(100)),
            "the next one the walker reaches is kept"
        );
        assert!(!w.contains(&p(2)), "the ones it reaches last are forgotten");
    }
}
