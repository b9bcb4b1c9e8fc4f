//! What a backup leaves out of a source: exclude patterns (gitignore-style, relative to the source
//! root), `.gitignore` files found in the tree, directories holding a marker file
//! (exclude-if-present) and, with one-file-system, whatever lies on another filesystem than the
//! source root. The walk asks; this module decides.

use std::fs::{self, Metadata};
use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use vger_types::{Result, VgerError};

/// What the walk of a source skips or records, besides its exclude patterns.
#[derive(Debug, Clone)]
pub struct SourceFilter {
    /// A directory holding an entry with one of these names is not backed up (a source root
    /// always is).
    pub exclude_if_present: Vec<String>,
    /// Directories on another filesystem than their source root are stored empty (mount points
    /// are kept, their contents are not); other entries there are skipped.
    pub one_file_system: bool,
    /// `.gitignore` files found in the tree exclude what they match, below their directory.
    pub git_ignore: bool,
    /// Extended attributes are recorded.
    pub xattrs: bool,
    /// Gitignore-style patterns like the exclude patterns, matched without regard to case.
    pub iexclude: Vec<String>,
    /// Regular files larger than this many bytes are left out.
    pub exclude_larger_than: Option<u64>,
    /// A directory holding a `CACHEDIR.TAG` file that starts with the signature of the Cache
    /// Directory Tagging Specification is left out (a tag without the signature is not obeyed).
    pub exclude_caches: bool,
}

impl Default for SourceFilter {
    fn default() -> Self {
        Self {
            exclude_if_present: Vec::new(),
            one_file_system: false,
            git_ignore: false,
            xattrs: true,
            iexclude: Vec::new(),
            exclude_larger_than: None,
            exclude_caches: false,
        }
    }
}

/// The first bytes of a valid `CACHEDIR.TAG` (https://bford.info/cachedir/).
const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

/// The exclusion rules of one source root: gitignore-style patterns, marker files and the
/// root's filesystem.
pub struct Excludes {
    patterns: Option<Gitignore>,
    /// The case-insensitive patterns.
    ipatterns: Option<Gitignore>,
    markers: Vec<Vec<u8>>,
    larger_than: Option<u64>,
    caches: bool,
    /// The source root's device, when the walk stays on one filesystem.
    root_dev: Option<u64>,
    git_ignore: bool,
}

impl Excludes {
    pub fn new(root: &Path, patterns: &[String], filter: &SourceFilter) -> Result<Self> {
        let root_dev = if filter.one_file_system {
            // The directory walked (a root given as a symlink to a directory is walked through it).
            let m = fs::metadata(root)
                .map_err(|e| VgerError::io(format!("reading {}", root.display()), e))?;
            Some(crate::platform::meta::dev(&m))
        } else {
            None
        };
        let markers = filter
            .exclude_if_present
            .iter()
            .map(|n| n.as_bytes().to_vec())
            .collect();
        Ok(Self {
            patterns: matcher(root, patterns, false)?,
            ipatterns: matcher(root, &filter.iexclude, true)?,
            markers,
            larger_than: filter.exclude_larger_than,
            caches: filter.exclude_caches,
            root_dev,
            git_ignore: filter.git_ignore,
        })
    }

    /// What the walk does with the entry at `path`, whose metadata is `meta`.
    pub fn verdict(&self, path: &Path, meta: &Metadata, git: &GitIgnores) -> Verdict {
        let is_dir = meta.file_type().is_dir();
        let too_large = meta.is_file() && self.larger_than.is_some_and(|max| meta.len() > max);
        if too_large || self.excludes(path, is_dir) || git.ignored(path, is_dir) {
            Verdict::Skip
        } else if self.foreign(meta) {
            if is_dir {
                Verdict::MountPoint
            } else {
                Verdict::Skip
            }
        } else {
            Verdict::Keep
        }
    }

    /// Whether `.gitignore` files found in the tree apply.
    pub fn reads_gitignore(&self) -> bool {
        self.git_ignore
    }

    fn excludes(&self, path: &Path, is_dir: bool) -> bool {
        [&self.patterns, &self.ipatterns]
            .into_iter()
            .flatten()
            .any(|g| g.matched(path, is_dir).is_ignore())
    }

    /// Directory `dir`, with these entry names, holds a marker file or a signed cache tag (and
    /// is left out).
    pub fn marked(&self, dir: &Path, names: &[Vec<u8>]) -> bool {
        self.markers.iter().any(|m| names.binary_search(m).is_ok())
            || (self.caches
                && names.binary_search(&b"CACHEDIR.TAG".to_vec()).is_ok()
                && signed_cache_tag(&dir.join("CACHEDIR.TAG")))
    }

    /// The entry lies on another filesystem than the source root.
    fn foreign(&self, meta: &Metadata) -> bool {
        self.root_dev
            .is_some_and(|dev| dev != crate::platform::meta::dev(meta))
    }
}

/// The matcher of `patterns` under `root`, `None` without patterns.
fn matcher(root: &Path, patterns: &[String], ignore_case: bool) -> Result<Option<Gitignore>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GitignoreBuilder::new(root);
    b.case_insensitive(ignore_case)
        .map_err(|e| VgerError::invalid(format!("exclude patterns: {e}")))?;
    for p in patterns {
        b.add_line(None, p)
            .map_err(|e| VgerError::invalid(format!("exclude pattern {p:?}: {e}")))?;
    }
    let g = b
        .build()
        .map_err(|e| VgerError::invalid(format!("exclude patterns: {e}")))?;
    Ok(Some(g))
}

/// Whether the regular file at `path` starts with the cache directory signature (a symlink or
/// an unreadable file does not count).
fn signed_cache_tag(path: &Path) -> bool {
    use std::io::Read;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    let mut head = [0u8; CACHEDIR_SIGNATURE.len()];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == CACHEDIR_SIGNATURE)
}

/// What the walk does with an entry, decided from its path and metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Left out of the snapshot.
    Skip,
    /// A directory on another filesystem than the source root: the directory is kept, what is
    /// mounted on it is not.
    MountPoint,
    /// Backed up (a directory can still be left out for a marker file: [`Excludes::marked`]).
    Keep,
}

/// The matchers of the `.gitignore` files of the directories being walked, outermost first.
#[derive(Default)]
pub struct GitIgnores(Vec<Gitignore>);

impl GitIgnores {
    /// Loads `dir/.gitignore` when the directory (whose entry names are `names`, sorted) has
    /// one, and pushes its matcher; true when a matcher was pushed, to be [`pop`](Self::pop)ped
    /// when the walk leaves `dir`. A file that cannot be read or has bad lines comes back as
    /// problems to report, and its good lines still apply.
    pub fn push(&mut self, dir: &Path, names: &[Vec<u8>]) -> (bool, Vec<VgerError>) {
        if names.binary_search(&b".gitignore".to_vec()).is_err() {
            return (false, Vec::new());
        }
        let file = dir.join(".gitignore");
        let mut problems = Vec::new();
        let mut b = GitignoreBuilder::new(dir);
        if let Some(err) = b.add(&file) {
            problems.push(VgerError::invalid(format!("{}: {err}", file.display())));
        }
        match b.build() {
            Ok(g) => {
                self.0.push(g);
                (true, problems)
            }
            Err(err) => {
                problems.push(VgerError::invalid(format!("{}: {err}", file.display())));
                (false, problems)
            }
        }
    }

    pub fn pop(&mut self) {
        self.0.pop();
    }

    /// The innermost `.gitignore` with an opinion decides (a `!pattern` re-includes).
    fn ignored(&self, path: &Path, is_dir: bool) -> bool {
        for g in self.0.iter().rev() {
            let m = g.matched(path, is_dir);
            if m.is_ignore() {
                return true;
            }
            if m.is_whitelist() {
                return false;
            }
        }
        false
    }
}
