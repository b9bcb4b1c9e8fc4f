//! The in-flight record of a running backup: a local, append-only file listing the objects this
//! client has in the repository that nothing refers to yet, so that the next backup of the same
//! client can deal with them at once instead of leaving them to compact's grace period:
//!
//! ```text
//! <cache dir>/inflight/<32 hex: repository id>/<16 hex: random>
//! one line per event:
//!   "T <key>"          a temporary object was created (a pack being spooled: packs/.tmp.<hex>)
//!   "t <key>"          it is gone (stored under its pack name, or removed)
//!   "P <secs> <key>"   a pack was stored (Unix time in seconds) and no index segment lists it yet
//!   "p <key>"          an index segment written by this backup lists it
//! ```
//!
//! Beside it, `<16 hex>.files` is the backup's file log ([`super::filelog`]).
//!
//! The running backup holds an exclusive lock on its file (`File::try_lock`: `flock` on Unix,
//! `LockFileEx` on Windows); the lock dies with the process, so
//! a file nobody holds belongs to a backup that ended without finishing (killed, or failed). Such
//! a file is read by [`reclaim`]; a backup that ends normally removes its own. Problems with the
//! record never fail a backup: without it, leftovers are removed by compact after the grace
//! period, as before.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use vger_storage::platform::{private_dir, private_file};

/// This backup's record.
pub struct Inflight {
    state: Mutex<State>,
}

struct State {
    /// Locked for as long as this backup runs.
    file: Option<File>,
    path: PathBuf,
    /// Keys of lines whose closing line has not been written yet.
    open: BTreeSet<String>,
    /// The file log, until [`Inflight::take_log`] hands it out.
    log: Option<File>,
}

/// What a backup that did not finish left behind.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Temporary objects (partial packs) that may still exist.
    pub temps: Vec<String>,
    /// Packs that were stored but that no index segment of that backup lists, with the Unix
    /// time (seconds) they were stored.
    pub packs: Vec<(i64, String)>,
    /// The file logs of those backups.
    pub file_logs: Vec<Vec<u8>>,
    /// The record files read; remove them with [`Leftovers::done`] once handled.
    files: Vec<PathBuf>,
}

fn log_path(record: &Path) -> PathBuf {
    let mut p = record.as_os_str().to_owned();
    p.push(".files");
    PathBuf::from(p)
}

fn dir_for(cache_dir: &Path, repo_id: &[u8; 32]) -> PathBuf {
    cache_dir.join("inflight").join(hex::encode(&repo_id[..16]))
}

impl Inflight {
    /// Starts this backup's record, or `None` if it cannot be created (no record is kept then).
    pub fn create(cache_dir: &Path, repo_id: &[u8; 32]) -> Option<Self> {
        let dir = dir_for(cache_dir, repo_id);
        private_dir(fs::DirBuilder::new().recursive(true))
            .create(&dir)
            .ok()?;
        let path = dir.join(hex::encode(vger_crypto::random_bytes::<8>()));
        let file = private_file(OpenOptions::new().append(true).create_new(true))
            .open(&path)
            .ok()?;
        file.try_lock().ok()?;
        let log = private_file(OpenOptions::new().append(true).create_new(true))
            .open(log_path(&path))
            .ok();
        Some(Self {
            state: Mutex::new(State {
                file: Some(file),
                path,
                open: BTreeSet::new(),
                log,
            }),
        })
    }

    /// The file log, for the file cache to write (once).
    pub fn take_log(&self) -> Option<File> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .log
            .take()
    }

    fn line(&self, line: &str, key: &str, opens: bool) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if opens {
            s.open.insert(key.to_string());
        } else {
            s.open.remove(key);
        }
        // One write(2) per line, so a killed process leaves whole lines (the last perhaps cut).
        if let Some(f) = s.file.as_mut()
            && f.write_all(format!("{line}\n").as_bytes()).is_err()
        {
            s.file = None;
        }
    }

    pub fn temp_created(&self, key: &str) {
        self.line(&format!("T {key}"), key, true);
    }

    pub fn temp_gone(&self, key: &str) {
        self.line(&format!("t {key}"), key, false);
    }

    pub fn pack_stored(&self, key: &str) {
        let secs = crate::clock::now_ns() / crate::clock::NS_PER_SEC;
        self.line(&format!("P {secs} {key}"), key, true);
    }

    pub fn pack_indexed(&self, key: &str) {
        self.line(&format!("p {key}"), key, false);
    }
}

impl Drop for Inflight {
    /// A record with nothing left open is removed; otherwise it stays for the next backup.
    fn drop(&mut self) {
        let s = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if s.open.is_empty() && s.file.is_some() {
            let _ = fs::remove_file(log_path(&s.path));
            let _ = fs::remove_file(&s.path);
        }
    }
}

/// Reads the records of backups of this repository by this client that ended without
/// finishing (nobody holds their lock). Records of running backups are left alone.
pub fn reclaim(cache_dir: &Path, repo_id: &[u8; 32]) -> Leftovers {
    let mut out = Leftovers::default();
    let Ok(entries) = fs::read_dir(dir_for(cache_dir, repo_id)) else {
        return out;
    };
    let mut temps = BTreeSet::new();
    let mut packs = BTreeMap::new();
    for e in entries.flatten() {
        let path = e.path();
        if e.file_name().as_encoded_bytes().ends_with(b".files") {
            continue;
        }
        let Ok(mut file) = OpenOptions::new().read(true).open(&path) else {
            continue;
        };
        if file.try_lock().is_err() {
            continue; // a running backup's record
        }
        // Through the locked handle: on Windows the lock bars every other handle.
        let mut text = Vec::new();
        let _ = file.read_to_end(&mut text);
        if let Ok(log) = fs::read(log_path(&path)) {
            out.file_logs.push(log);
        }
        drop(file);
        for line in String::from_utf8_lossy(&text).lines() {
            let mut w = line.split(' ');
            match (w.next(), w.next(), w.next(), w.next()) {
                (Some("T"), Some(k), None, None) => {
                    temps.insert(k.to_string());
                }
                (Some("t"), Some(k), None, None) => {
                    temps.remove(k);
                }
                (Some("P"), Some(t), Some(k), None) => {
                    if let Ok(t) = t.parse::<i64>() {
                        packs.insert(k.to_string(), t);
                    }
                }
                (Some("p"), Some(k), None, None) => {
                    packs.remove(k);
                }
                _ => {} // a line cut short by the kill
            }
        }
        out.files.push(path);
    }
    out.temps = temps.into_iter().collect();
    out.packs = packs.into_iter().map(|(k, t)| (t, k)).collect();
    out
}

impl Leftovers {
    pub fn is_empty(&self) -> bool {
        self.temps.is_empty() && self.packs.is_empty() && self.files.is_empty()
    }

    /// Removes the records and their logs once what they list has been dealt with.
    pub fn done(self) {
        for f in self.files {
            let _ = fs::remove_file(log_path(&f));
            let _ = fs::remove_file(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_record_vanishes_and_an_abandoned_one_lists_what_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let id = [3u8; 32];
        let r = Inflight::create(dir.path(), &id).unwrap();
        r.temp_created("packs/.tmp.aa");
        r.temp_gone("packs/.tmp.aa");
        r.pack_stored("packs/01/x");
        r.pack_indexed("packs/01/x");
        drop(r);
        assert!(reclaim(dir.path(), &id).is_empty(), "nothing left open");

        let live = Inflight::create(dir.path(), &id).unwrap();
        live.temp_created("packs/.tmp.live");
        let dead = Inflight::create(dir.path(), &id).unwrap();
        dead.temp_created("packs/.tmp.bb");
        dead.pack_stored("packs/02/y");
        dead.temp_gone("packs/.tmp.bb");
        dead.temp_created("packs/.tmp.cc");
        // A killed process: its lock is released (the descriptor closed), its file stays.
        drop(dead.state.lock().unwrap().file.take());
        drop(dead);
        let left = reclaim(dir.path(), &id);
        assert_eq!(left.temps, vec!["packs/.tmp.cc".to_string()]);
        assert_eq!(left.packs.len(), 1);
        assert_eq!(left.packs[0].1, "packs/02/y");
        assert_eq!(left.files.len(), 1, "the live record is not touched");
        left.done();
        assert!(reclaim(dir.path(), &id).is_empty());
        drop(live);
    }
}
