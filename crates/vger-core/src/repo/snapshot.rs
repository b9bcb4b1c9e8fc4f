//! Snapshot objects: `snapshots/<64 hex random id>`, sealed with kind Snapshot and the id.
//! A snapshot is the commit point of a backup: it is written last, after its packs and index
//! segment, and only ever created, never changed.
//!
//! Plaintext: `u32 format version (1) ‖ id 32 ‖ start ns i64 ‖ end ns i64 ‖ hostname ‖ username ‖
//! label ‖ u32 path count ‖ paths (u32 length + bytes each) ‖ tree root 32 ‖ 9 × u64 stats
//! (files, dirs, symlinks, others, bytes, new chunks, new bytes, stored bytes, skipped) ‖
//! u8 flags (bit 0: partial) ‖ u16 extension count ‖ extensions (key u16 ‖ value bytes, keys
//! strictly ascending; unknown optional keys are skipped and an unknown must-understand key hides
//! the snapshot as written by a newer vger)`.
//!
//! Extensions (each written only when it carries something, so a plain snapshot keeps its bytes):
//! `0x0001` tags (u32 count ‖ str each), `0x0002` description (str), `0x0003` supersedes (the
//! 32-byte id of the snapshot this one replaces after a tag, pin or description change),
//! `0x0004` rewritten from (32-byte id of the original ‖ str note), `0x8005` pinned (empty value;
//! must-understand, so a vger that cannot honour a pin refuses the snapshot instead of pruning it).

use vger_crypto::Crypter;
use vger_types::codec::{Reader, Writer};
use vger_types::{ChunkId, Result, SnapshotId, VgerError};

use super::context::{ObjectKind, context};

pub const FORMAT_VERSION: u32 = 1;
const MAX_TEXT: usize = 64 * 1024;
/// Longest tag, in bytes.
pub const MAX_TAG: usize = 128;
/// Most tags on one snapshot.
pub const MAX_TAGS: usize = 256;

const EXT_TAGS: u16 = 0x0001;
const EXT_DESCRIPTION: u16 = 0x0002;
const EXT_SUPERSEDES: u16 = 0x0003;
const EXT_REWRITTEN: u16 = 0x0004;
const EXT_PINNED: u16 = 0x8005;
const KNOWN_EXTENSIONS: [(u16, usize); 5] = [
    (EXT_TAGS, 4 + MAX_TAGS * (4 + MAX_TAG)),
    (EXT_DESCRIPTION, 4 + MAX_TEXT),
    (EXT_SUPERSEDES, 32),
    (EXT_REWRITTEN, 32 + 4 + MAX_TEXT),
    (EXT_PINNED, 0),
];

/// What a user can say about a snapshot beyond what the backup recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// Sorted, without duplicates; each checked by [`check_tag`].
    pub tags: Vec<String>,
    pub description: String,
    /// Never removed by prune or `snapshot delete` while set.
    pub pinned: bool,
    /// The snapshot this one replaced (a metadata change writes a new snapshot, then removes
    /// the old one; if the removal did not happen, the listing hides the old one).
    pub supersedes: Option<SnapshotId>,
    /// Made by `snapshot rewrite` from this snapshot, with a note of what was removed.
    pub rewritten_from: Option<(SnapshotId, String)>,
}

/// A tag is 1 to [`MAX_TAG`] bytes of printable text without commas (the command line separates
/// tags with them) or leading or trailing spaces.
pub fn check_tag(tag: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(VgerError::invalid(format!(
            "tag {tag:?} {why}: a tag is 1 to {MAX_TAG} bytes of printable text without commas \
             or leading or trailing spaces"
        )))
    };
    if tag.is_empty() {
        return bad("is empty");
    }
    if tag.len() > MAX_TAG {
        return bad("is too long");
    }
    if tag.contains(',') {
        return bad("contains a comma");
    }
    if tag.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    if tag.trim() != tag {
        return bad("has leading or trailing spaces");
    }
    Ok(())
}

/// Sorts, deduplicates and checks tags.
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = tags.to_vec();
    for t in &out {
        check_tag(t)?;
    }
    out.sort();
    out.dedup();
    if out.len() > MAX_TAGS {
        return Err(VgerError::invalid(format!(
            "{} tags on one snapshot; at most {MAX_TAGS}",
            out.len()
        )));
    }
    Ok(out)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub others: u64,
    pub bytes: u64,
    pub new_chunks: u64,
    pub new_bytes: u64,
    pub stored_bytes: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The format version it was written with (always [`FORMAT_VERSION`] when writing).
    pub format_version: u32,
    pub id: SnapshotId,
    pub start_ns: i64,
    pub end_ns: i64,
    pub hostname: String,
    pub username: String,
    pub label: String,
    pub paths: Vec<Vec<u8>>,
    pub tree: ChunkId,
    pub stats: SnapshotStats,
    pub partial: bool,
    pub meta: SnapshotMeta,
}

pub fn key(id: &SnapshotId) -> String {
    format!("snapshots/{}", id.to_hex())
}

impl Snapshot {
    /// Whether the snapshot matches a `--tag` filter: every tag of at least one group (a
    /// command-line `--tag a,b` is one group; repeating `--tag` adds groups). No groups: all match.
    pub fn matches_tags(&self, groups: &[Vec<String>]) -> bool {
        groups.is_empty()
            || groups
                .iter()
                .any(|g| g.iter().all(|t| self.meta.tags.contains(t)))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(FORMAT_VERSION)
            .raw(&self.id.0)
            .i64(self.start_ns)
            .i64(self.end_ns);
        w.str(&self.hostname).str(&self.username).str(&self.label);
        w.u32(self.paths.len() as u32);
        for p in &self.paths {
            w.bytes(p);
        }
        w.raw(&self.tree.0);
        let s = &self.stats;
        for v in [
            s.files,
            s.dirs,
            s.symlinks,
            s.others,
            s.bytes,
            s.new_chunks,
            s.new_bytes,
            s.stored_bytes,
            s.skipped,
        ] {
            w.u64(v);
        }
        w.u8(u8::from(self.partial));
        let ext = self.meta.extensions();
        w.u16(ext.len() as u16);
        let items: Vec<(u16, &[u8])> = ext.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        w.extensions(&items);
        w.finish()
    }

    pub fn decode(plain: &[u8], what: &str) -> Result<Self> {
        let mut r = Reader::new(plain, what);
        let version = r.u32()?;
        if version > FORMAT_VERSION {
            return Err(VgerError::NewerFormat {
                object: what.into(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let id = SnapshotId(r.array()?);
        let start_ns = r.i64()?;
        let end_ns = r.i64()?;
        let hostname = r.string(MAX_TEXT)?;
        let username = r.string(MAX_TEXT)?;
        let label = r.string(MAX_TEXT)?;
        let n = r.count(4)?;
        let mut paths = Vec::with_capacity(n);
        for _ in 0..n {
            paths.push(r.bytes(MAX_TEXT)?.to_vec());
        }
        let tree = ChunkId(r.array()?);
        let mut v = [0u64; 9];
        for x in v.iter_mut() {
            *x = r.u64()?;
        }
        let [
            files,
            dirs,
            symlinks,
            others,
            bytes,
            new_chunks,
            new_bytes,
            stored_bytes,
            skipped,
        ] = v;
        let partial = r.u8()? & 1 == 1;
        let n_ext = usize::from(r.u16()?);
        let ext = r.extensions(n_ext, &KNOWN_EXTENSIONS)?;
        let meta = SnapshotMeta::from_extensions(&ext, what)?;
        r.finish()?;
        Ok(Self {
            format_version: version,
            id,
            start_ns,
            end_ns,
            hostname,
            username,
            label,
            paths,
            tree,
            stats: SnapshotStats {
                files,
                dirs,
                symlinks,
                others,
                bytes,
                new_chunks,
                new_bytes,
                stored_bytes,
                skipped,
            },
            partial,
            meta,
        })
    }

    pub fn seal(&self, crypter: &Crypter, repo_id: &[u8; 32]) -> Vec<u8> {
        crypter.seal(
            &context(ObjectKind::Snapshot, repo_id, &self.id.0),
            &self.encode(),
        )
    }

    /// Opens `snapshots/<id>`; the id inside must match the name it was stored under.
    pub fn open(
        id: &SnapshotId,
        bytes: &[u8],
        crypter: &Crypter,
        repo_id: &[u8; 32],
    ) -> Result<Self> {
        let what = format!("snapshot {}", id.to_hex());
        let plain = crypter
            .open(&context(ObjectKind::Snapshot, repo_id, &id.0), bytes)
            .ok_or_else(|| VgerError::corrupt(&what, "failed authentication"))?;
        let snap = Self::decode(&plain, &what)?;
        if snap.id != *id {
            return Err(VgerError::corrupt(
                &what,
                "id does not match the object name",
            ));
        }
        Ok(snap)
    }
}

impl SnapshotMeta {
    fn extensions(&self) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        if !self.tags.is_empty() {
            let mut w = Writer::new();
            w.u32(self.tags.len() as u32);
            for t in &self.tags {
                w.str(t);
            }
            out.push((EXT_TAGS, w.finish()));
        }
        if !self.description.is_empty() {
            let mut w = Writer::new();
            w.str(&self.description);
            out.push((EXT_DESCRIPTION, w.finish()));
        }
        if let Some(id) = &self.supersedes {
            out.push((EXT_SUPERSEDES, id.0.to_vec()));
        }
        if let Some((id, note)) = &self.rewritten_from {
            let mut w = Writer::new();
            w.raw(&id.0).str(note);
            out.push((EXT_REWRITTEN, w.finish()));
        }
        if self.pinned {
            out.push((EXT_PINNED, Vec::new()));
        }
        out
    }

    fn from_extensions(ext: &[(u16, &[u8])], what: &str) -> Result<Self> {
        let mut meta = SnapshotMeta::default();
        for &(key, value) in ext {
            let mut r = Reader::new(value, what);
            match key {
                EXT_TAGS => {
                    let n = r.count(4)?;
                    for _ in 0..n {
                        meta.tags.push(r.string(MAX_TAG)?);
                    }
                }
                EXT_DESCRIPTION => meta.description = r.string(MAX_TEXT)?,
                EXT_SUPERSEDES => meta.supersedes = Some(SnapshotId(r.array()?)),
                EXT_REWRITTEN => {
                    let id = SnapshotId(r.array()?);
                    meta.rewritten_from = Some((id, r.string(MAX_TEXT)?));
                }
                EXT_PINNED => meta.pinned = true,
                _ => {}
            }
            r.finish()?;
        }
        Ok(meta)
    }
}
