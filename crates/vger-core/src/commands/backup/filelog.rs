//! The file log of a running backup: a local, append-only file beside its in-flight record
//! (`<record>.files`) listing each file as the backup finishes it, and the chunks of a large file
//! read so far, so that the rerun of a backup killed with `kill -9` (no last checkpoint) does
//! not read again what was finished and stored before the kill:
//!
//! ```text
//! record: tag u8 ‖ from u32 ‖ entry ‖ 16-byte keyed BLAKE3 of tag, from and entry
//!   tag 1 (finished): the file's whole chunk list; from is 0
//!   tag 2 (read so far): chunks from index `from` of the file's list (a record with from > 0
//!         continues the previous records of the same file and identity)
//! entry: as in the file cache (path hash, identity, chunk count, chunk ids and lengths)
//! ```
//!
//! The log is written through a buffer that is flushed whenever a pack has been stored, so what
//! reaches the disk covers every file whose chunks are in stored packs, up to the moment of the
//! kill (the next backup takes those packs into the index from the in-flight record). Like the
//! file cache, every record is only a suggestion: the rerun uses a finished file's chunks only if
//! all are in the index with their lengths, and of a file read so far only the longest prefix
//! whose chunks all are, and it reads the rest of the file from there. Chunk boundaries depend
//! only on the bytes since the previous boundary, so chunking from a boundary finds the same
//! chunks as reading the file from its start.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};

use super::filecache::{Cached, decode_entry};

/// A finished file: its whole chunk list.
pub const FINISHED: u8 = 1;
/// Chunks of a file read so far.
pub const READ_SO_FAR: u8 = 2;
const MAC_LEN: usize = 16;

pub struct FileLog {
    out: Option<BufWriter<File>>,
    key: [u8; 32],
}

impl FileLog {
    pub fn new(file: File, key: &[u8; 32]) -> Self {
        FileLog {
            out: Some(BufWriter::with_capacity(1 << 16, file)),
            key: *key,
        }
    }

    /// Appends a record (buffered). A log that cannot be written is dropped: it never fails a
    /// backup.
    pub fn append(&mut self, tag: u8, from: u32, entry: &[u8]) {
        let Some(out) = self.out.as_mut() else { return };
        let mut mac = blake3::Hasher::new_keyed(&self.key);
        mac.update(&[tag]).update(&from.to_le_bytes()).update(entry);
        let ok = out.write_all(&[tag]).is_ok()
            && out.write_all(&from.to_le_bytes()).is_ok()
            && out.write_all(entry).is_ok()
            && out.write_all(&mac.finalize().as_bytes()[..MAC_LEN]).is_ok();
        if !ok {
            self.out = None;
        }
    }

    /// Writes the buffered records to the file.
    pub fn flush(&mut self) {
        if let Some(out) = self.out.as_mut()
            && out.flush().is_err()
        {
            self.out = None;
        }
    }
}

/// What the logs of interrupted backups say.
#[derive(Default)]
pub struct Logged {
    /// Finished files, by path hash.
    pub finished: HashMap<u128, Cached>,
    /// Every logged file's chunks so far (a finished file's whole list), by path hash.
    pub read: HashMap<u128, Cached>,
}

/// Reads logs; a record that does not authenticate ends its log (a kill cuts the last one).
pub fn parse(logs: &[Vec<u8>], key: &[u8; 32]) -> Logged {
    let mut out = Logged::default();
    for log in logs {
        let mut r = log.as_slice();
        while r.len() > 5 {
            let (tag, from) = (r[0], u32::from_le_bytes([r[1], r[2], r[3], r[4]]));
            let Some((path, entry, used)) = decode_entry(&r[5..]) else {
                break;
            };
            let Some(mac) = r.get(5 + used..5 + used + MAC_LEN) else {
                break;
            };
            let mut h = blake3::Hasher::new_keyed(key);
            h.update(&r[..5 + used]);
            if h.finalize().as_bytes()[..MAC_LEN] != *mac {
                break;
            }
            r = &r[5 + used + MAC_LEN..];
            match (tag, from) {
                (FINISHED, 0) => {
                    out.read.insert(path, entry.clone());
                    out.finished.insert(path, entry);
                }
                (READ_SO_FAR, 0) => {
                    out.read.insert(path, entry);
                }
                (READ_SO_FAR, n) => {
                    if let Some(c) = out.read.get_mut(&path)
                        && c.id == entry.id
                        && c.chunks.len() == n as usize
                    {
                        let mut all = std::mem::take(&mut c.chunks).into_vec();
                        all.extend_from_slice(&entry.chunks);
                        c.chunks = all.into_boxed_slice();
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::backup::filecache::{Identity, encode};
    use vger_types::ChunkId;

    fn id() -> Identity {
        Identity {
            dev: 1,
            ino: 2,
            size: 300,
            mtime_ns: 3,
            ctime_ns: 4,
        }
    }

    #[test]
    fn continued_records_add_up_and_a_cut_or_forged_record_ends_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let key = [7u8; 32];
        let c = |i: u8| (ChunkId([i; 32]), 100u32);
        let mut log = FileLog::new(File::create(&path).unwrap(), &key);
        log.append(READ_SO_FAR, 0, &encode(9, &id(), &[c(1)], None));
        log.append(READ_SO_FAR, 1, &encode(9, &id(), &[c(2)], None));
        log.append(READ_SO_FAR, 5, &encode(9, &id(), &[c(7)], None)); // does not continue: ignored
        let xattrs = vec![
            (b"user.a".to_vec(), b"value".to_vec()),
            (b"user.b".to_vec(), vec![]),
        ];
        log.append(
            FINISHED,
            0,
            &encode(8, &id(), &[c(1), c(2), c(3)], Some(&xattrs)),
        );
        log.flush();
        let bytes = std::fs::read(&path).unwrap();
        let got = parse(std::slice::from_ref(&bytes), &key);
        assert_eq!(got.read[&9].chunks.to_vec(), vec![c(1), c(2)]);
        assert!(!got.finished.contains_key(&9));
        assert_eq!(got.finished[&8].chunks.len(), 3);
        assert_eq!(got.finished[&8].xattrs.as_deref(), Some(&xattrs[..]));
        assert_eq!(got.read[&9].xattrs, None);

        // Cut inside the last record: the others stand.
        let cut = parse(&[bytes[..bytes.len() - 3].to_vec()], &key);
        assert!(cut.finished.is_empty());
        assert_eq!(cut.read[&9].chunks.len(), 2);
        // Another key: nothing is believed.
        let other = parse(std::slice::from_ref(&bytes), &[8u8; 32]);
        assert!(other.read.is_empty() && other.finished.is_empty());
    }

    /// An entry keeps a file's xattrs up to 64 KiB of names and values; above, "not read".
    #[test]
    fn large_xattrs_are_not_kept_in_an_entry() {
        let c = (ChunkId([1; 32]), 300u32);
        let at_most = vec![(b"user.a".to_vec(), vec![7u8; (64 << 10) - 14])];
        let above = vec![(b"user.a".to_vec(), vec![7u8; (64 << 10) - 13])];
        let decoded = |x: &[(Vec<u8>, Vec<u8>)]| {
            let e = encode(5, &id(), &[c], Some(x));
            let (_, entry, used) = crate::commands::backup::filecache::decode_entry(&e).unwrap();
            assert_eq!(used, e.len());
            entry.xattrs
        };
        assert_eq!(decoded(&at_most).as_deref(), Some(&at_most[..]));
        assert_eq!(decoded(&above), None);
    }
}
