//! Read-ahead of the small files a backup is about to read. The walker reads one file at a time,
//! which is fine from the page cache but leaves a disk idle between small files when they are not
//! cached (a first backup, or files changed since): each one costs an inode read and a data read
//! in turn. While the walker works through a directory, a few threads open the files it will read
//! next and ask the kernel to read them (`posix_fadvise(WILLNEED)`: the kernel starts the reads
//! and returns), so the disk has many requests at once and the walker finds the data cached.
//!
//! The window is bounded (files and bytes ahead of the walker), only regular files up to
//! [`MAX_FILE`] that the walker will actually read are named (not excluded, not unchanged), and
//! a file that changes or vanishes in between costs nothing but the wasted read: the walker opens
//! and checks every file itself, as without read-ahead.

use std::path::PathBuf;
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, bounded};

/// Files larger than this are left to the kernel's own sequential read-ahead.
pub const MAX_FILE: u64 = 4 << 20;
/// At most this many files ...
pub const AHEAD_FILES: usize = 64;
/// ... and bytes are asked for ahead of the file the walker reads.
pub const AHEAD_BYTES: u64 = 32 << 20;
const THREADS: usize = 6;

pub struct Prefetcher {
    tx: Option<Sender<PathBuf>>,
    threads: Vec<JoinHandle<()>>,
}

impl Prefetcher {
    pub fn new() -> Self {
        let (tx, rx) = bounded::<PathBuf>(AHEAD_FILES);
        let threads = (0..THREADS)
            .filter_map(|i| {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("vger-readahead-{i}"))
                    .spawn(move || {
                        for path in rx {
                            warm(&path);
                        }
                    })
                    .ok()
            })
            .collect();
        Prefetcher {
            tx: Some(tx),
            threads,
        }
    }

    /// Asks for `path` to be read ahead (dropped if the threads are that far behind).
    pub fn ask(&self, path: PathBuf) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(path);
        }
    }
}

impl Default for Prefetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        self.tx = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Opens `path` (never following a symlink, never blocking on a fifo swapped in meanwhile) and
/// has the kernel read it into the page cache.
fn warm(path: &std::path::Path) {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut o,
        nix::fcntl::OFlag::O_NOFOLLOW.bits() | nix::fcntl::OFlag::O_NONBLOCK.bits(),
    );
    let Ok(file) = o.open(path) else { return };
    #[cfg(target_os = "linux")]
    let _ = nix::fcntl::posix_fadvise(
        &file,
        0,
        0,
        nix::fcntl::PosixFadviseAdvice::POSIX_FADV_WILLNEED,
    );
    drop(file);
}

/// Which of a directory's files are asked for, and how far the window has got.
pub struct Window {
    /// (position in the directory, path, size) of the files to read ahead, in order.
    wanted: Vec<(usize, PathBuf, u64)>,
    next: usize,
}

impl Window {
    pub fn new(wanted: Vec<(usize, PathBuf, u64)>) -> Self {
        Window { wanted, next: 0 }
    }

    /// Asks for the files up to the window's end, the walker being at position `at`.
    pub fn advance(&mut self, at: usize, p: &Prefetcher) {
        let ahead: u64 = self.wanted[..self.next]
            .iter()
            .rev()
            .take_while(|(i, ..)| *i >= at)
            .map(|(_, _, n)| n)
            .sum();
        let mut bytes = ahead;
        while let Some((i, path, n)) = self.wanted.get(self.next) {
            if *i >= at + AHEAD_FILES || bytes + n > AHEAD_BYTES {
                break;
            }
            p.ask(path.clone());
            bytes += n;
            self.next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(sizes: &[(usize, u64)]) -> Vec<(usize, PathBuf, u64)> {
        sizes
            .iter()
            .map(|(i, n)| (*i, PathBuf::from(format!("/nonexistent/{i}")), *n))
            .collect()
    }

    #[test]
    fn the_window_stays_within_its_files_and_bytes() {
        let p = Prefetcher::new();
        // 100 files of 1 MiB: 32 fit the byte bound.
        let mut w = Window::new(wanted(&(0..100).map(|i| (i, 1 << 20)).collect::<Vec<_>>()));
        w.advance(0, &p);
        assert_eq!(w.next, 32);
        w.advance(10, &p);
        assert_eq!(w.next, 42, "ten consumed, ten more asked for");
        // Small files: the file bound (positions up to at + 64).
        let mut w = Window::new(wanted(&(0..200).map(|i| (i * 2, 100)).collect::<Vec<_>>()));
        w.advance(0, &p);
        assert_eq!(w.next, 32, "positions 0, 2, .. 62");
        w.advance(100, &p);
        assert_eq!(w.wanted[w.next - 1].0, 162);
    }

    #[cfg(unix)]
    #[test]
    fn warming_never_blocks_on_a_fifo_nor_follows_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            warm(&fifo);
            warm(&link);
            warm(std::path::Path::new("/nonexistent/file"));
            tx.send(()).unwrap();
        });
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("warm returned");
    }
}
