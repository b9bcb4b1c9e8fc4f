//! Browsing a snapshot from JS (`vger dump`, `vger mount`): one directory at a time, byte ranges of
//! a file. A snapshot is named by its root tree (`SnapshotSummary.tree`), so no request lists the
//! snapshots again. Paths are `/`-separated and escaped as in `ListEntry.path` (`\xNN` for a byte
//! that is not UTF-8, `\\` for a backslash), so every name survives the trip.

use napi::Env;
use napi::Result;
use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi_derive::napi;
use vger_core::clock::rfc3339;
use vger_core::tree::{Content, Entry, Kind};
use vger_types::{ChunkId, VgerError};

use crate::dto::escape;
use crate::enums::EntryKind;
use crate::job::run;
use crate::repo::Repository;

/// One entry of a directory.
#[napi(object)]
pub struct DirEntry {
    /// The name, escaped (see the module).
    pub name: String,
    pub kind: EntryKind,
    pub size: f64,
    /// The full st_mode, file-type bits included.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub user: String,
    pub group: String,
    /// RFC 3339 with nanoseconds.
    pub mtime: String,
    /// Milliseconds since the epoch (fractional).
    pub mtime_ms: f64,
    /// Symlinks and hard links: the target, escaped.
    pub target: Option<String>,
    /// Changes whenever the content does: a directory's tree id, a file's digest of its chunk ids.
    pub etag: String,
}

impl From<&Entry> for DirEntry {
    fn from(e: &Entry) -> Self {
        DirEntry {
            name: escape(&e.name),
            kind: e.kind.into(),
            size: e.size as f64,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            user: e.user.clone(),
            group: e.group.clone(),
            mtime: rfc3339(e.mtime_ns),
            mtime_ms: e.mtime_ns as f64 / 1e6,
            target: match (&e.kind, &e.content) {
                (Kind::Symlink | Kind::HardLink, Content::Target(t)) => Some(escape(t)),
                _ => None,
            },
            etag: etag(e),
        }
    }
}

/// FNV-1a over what identifies the content (chunk ids are keyed hashes of the bytes).
fn etag(e: &Entry) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    match &e.content {
        Content::Subtree(id) => return id.to_hex()[..16].to_string(),
        Content::Chunks(chunks) => chunks.iter().for_each(|(id, _)| feed(&id.0)),
        Content::Target(t) => feed(t),
        Content::Rdev(r) => feed(&r.to_le_bytes()),
        Content::None => {}
    }
    for (off, len) in &e.holes {
        feed(&off.to_le_bytes());
        feed(&len.to_le_bytes());
    }
    feed(&e.size.to_le_bytes());
    format!("{h:016x}")
}

/// Reverses `escape` for one path: names between `/`.
fn unescape_path(path: &str) -> vger_core::Result<Vec<Vec<u8>>> {
    let bad = || VgerError::invalid(format!("{path:?} is not a valid escaped path"));
    let mut out = Vec::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let mut name = Vec::with_capacity(part.len());
        let mut rest = part.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if b != b'\\' {
                name.push(b);
                rest = tail;
                continue;
            }
            match tail {
                [b'\\', more @ ..] => {
                    name.push(b'\\');
                    rest = more;
                }
                [b'x', h, l, more @ ..] => {
                    let hex = std::str::from_utf8(&[*h, *l])
                        .map_err(|_| bad())?
                        .to_string();
                    name.push(u8::from_str_radix(&hex, 16).map_err(|_| bad())?);
                    rest = more;
                }
                _ => return Err(bad()),
            }
        }
        if name == b"." || name == b".." {
            return Err(bad());
        }
        out.push(name);
    }
    Ok(out)
}

fn not_in_snapshot(path: &str) -> VgerError {
    VgerError::invalid(format!("{path:?} is not in the snapshot"))
}

fn tree_id(hex: &str) -> vger_core::Result<ChunkId> {
    ChunkId::from_hex(hex).ok_or_else(|| VgerError::invalid(format!("{hex:?} is not a tree id")))
}

#[napi]
impl Repository {
    /// The entries of directory `path` (`""`: the root) of the snapshot whose root tree is `tree`,
    /// sorted by name.
    #[napi]
    pub fn read_dir<'e>(
        &self,
        env: &'e Env,
        tree: String,
        path: String,
    ) -> Result<PromiseRaw<'e, Vec<DirEntry>>> {
        let (repo, cache) = (self.core(), self.browse_cache());
        run(env, move || {
            let root = tree_id(&tree)?;
            let names = unescape_path(&path)?;
            let dir = match vger_core::lookup(&repo, &cache, &root, &names)? {
                None => return Err(not_in_snapshot(&path)),
                Some(e) => match (&e.kind, &e.content) {
                    (Kind::Dir, Content::Subtree(id)) => *id,
                    _ => {
                        return Err(VgerError::invalid(format!("{path:?} is not a directory")));
                    }
                },
            };
            Ok(cache.tree(&repo, &dir)?.iter().map(Into::into).collect())
        })
    }

    /// The entry at `path` (the root: a directory with an empty name), or `null` when the snapshot
    /// has no such entry.
    #[napi]
    pub fn stat_path<'e>(
        &self,
        env: &'e Env,
        tree: String,
        path: String,
    ) -> Result<PromiseRaw<'e, Option<DirEntry>>> {
        let (repo, cache) = (self.core(), self.browse_cache());
        run(env, move || {
            let root = tree_id(&tree)?;
            let names = unescape_path(&path)?;
            Ok(vger_core::lookup(&repo, &cache, &root, &names)?
                .as_ref()
                .map(Into::into))
        })
    }

    /// Up to `length` bytes of the regular file at `path` from `offset` (fewer at its end), each
    /// chunk authenticated: a damaged chunk is an error (VGER_CORRUPT), never wrong bytes.
    #[napi]
    pub fn read_file<'e>(
        &self,
        env: &'e Env,
        tree: String,
        path: String,
        offset: f64,
        length: u32,
    ) -> Result<PromiseRaw<'e, Buffer>> {
        let (repo, cache) = (self.core(), self.browse_cache());
        run(env, move || {
            let root = tree_id(&tree)?;
            let names = unescape_path(&path)?;
            let entry = vger_core::lookup(&repo, &cache, &root, &names)?
                .ok_or_else(|| not_in_snapshot(&path))?;
            if !offset.is_finite() || offset < 0.0 {
                return Err(VgerError::invalid(
                    "the offset must be a non-negative number",
                ));
            }
            let data =
                vger_core::read_range(&repo, &cache, &entry, offset as u64, u64::from(length))?;
            Ok(Buffer::from(data))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_paths_round_trip() {
        for name in [
            b"plain".to_vec(),
            b"back\\slash".to_vec(),
            vec![0xff, b'a', 0x80],
        ] {
            let escaped = escape(&name);
            assert_eq!(unescape_path(&escaped).unwrap(), vec![name]);
        }
        assert_eq!(
            unescape_path("/a//b/").unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        for bad in ["a/../b", "a/./b", "\\q", "\\x4", "\\xzz"] {
            assert!(unescape_path(bad).is_err(), "{bad}");
        }
    }
}
