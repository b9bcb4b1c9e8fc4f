//! Synthetic repositories for the memory benchmark and test (issue 18 item 5): a valid
//! repository whose index lists any number of blobs, without the data. Packs are placeholder
//! objects (the index is what is measured; nothing reads them), index segments are real sealed
//! segments of one million blobs each (as a history of large backups would leave), and a source
//! of sparse files comes with a file cache that names some of those blobs as their chunks, so a
//! backup of it is an unchanged re-backup of a large source that reads no data.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use vger_core::repo::index::seal_segment;
use vger_core::repo::pack::{self, BlobEntry};
use vger_core::{Algorithm, ChunkerParams, InitOptions, KdfParams, Repository};
use vger_crypto::BlobKind;
use vger_types::{ChunkId, PackId, Result, VgerError};

pub const PASS: &str = "synthetic repository";

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthSpec {
    /// Blobs in the index.
    pub entries: u64,
    /// Source files (sparse), spread over directories of 100.
    pub files: usize,
    /// Chunks per source file (the first `files × chunks_per_file` blobs).
    pub chunks_per_file: usize,
    /// Raw length of every blob, and so the size of each chunk of a source file.
    pub chunk_len: u32,
    pub blobs_per_pack: usize,
    pub blobs_per_segment: usize,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            entries: 1_000_000,
            files: 1000,
            chunks_per_file: 100,
            chunk_len: 1 << 20,
            blobs_per_pack: 5000,
            blobs_per_segment: 1_000_000,
        }
    }
}

/// Where a synthetic repository and its source are.
pub struct Synth {
    pub url: String,
    pub source: PathBuf,
    pub cache: PathBuf,
}

impl Synth {
    pub fn at(dir: &Path) -> Self {
        Synth {
            url: dir.join("repo").to_string_lossy().into_owned(),
            source: dir.join("src"),
            cache: dir.join("cache"),
        }
    }
}

/// The id of blob `i`: keyed BLAKE3 of its number, as uniform as real chunk ids.
pub fn blob_id(i: u64) -> ChunkId {
    ChunkId(*blake3::keyed_hash(&[7; 32], &i.to_le_bytes()).as_bytes())
}

fn io(what: &str, e: std::io::Error) -> VgerError {
    VgerError::io(what.to_string(), e)
}

/// Writes a repository, its source and file cache under `dir` (which must not hold one yet).
pub fn synthesize(dir: &Path, spec: &SynthSpec) -> Result<Synth> {
    let s = Synth::at(dir);
    vger_core::init(&InitOptions {
        url: s.url.clone(),
        passphrase: Some(PASS.into()),
        algorithm: Algorithm::Aes256Gcm,
        chunker: ChunkerParams::default(),
        kdf: KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        backend: Default::default(),
        id_keys: None,
    })?;
    // The source first: a file changed in the second a backup starts is not cached, so the
    // source must be older than that when the first backup runs.
    let files = write_source(&s.source, spec)?;
    let written = std::time::Instant::now();
    let repo = Repository::open(&s.url, Some(PASS))?;
    write_index(&repo, spec)?;
    // Opened with the cache directory: this builds the index table there (the one-time cost).
    let repo = Repository::open_at_cached(&s.url, &Default::default(), Some(PASS), Some(&s.cache))?;
    vger_core::commands::backup::seed_file_cache(
        &repo,
        &s.cache,
        std::slice::from_ref(&s.source),
        &files,
    )?;
    let settled = std::time::Duration::from_millis(1100);
    std::thread::sleep(settled.saturating_sub(written.elapsed()));
    Ok(s)
}

fn write_index(repo: &Repository, spec: &SynthSpec) -> Result<()> {
    let backend = repo.backend();
    let mut next = 0u64;
    let mut generation = 0;
    while next < spec.entries {
        let end = (next + spec.blobs_per_segment as u64).min(spec.entries);
        let mut packs = Vec::new();
        let mut i = next;
        while i < end {
            let n = (end - i).min(spec.blobs_per_pack as u64);
            let id = PackId(*blake3::hash(&i.to_le_bytes()).as_bytes());
            backend.put_new(&pack::key(&id), b"synthetic pack: index only")?;
            let entries = (0..n)
                .map(|k| BlobEntry {
                    id: blob_id(i + k),
                    kind: BlobKind::Data,
                    offset: (k as u32) * 64,
                    len: 64,
                    raw_len: spec.chunk_len,
                })
                .collect();
            packs.push((id, entries));
            i += n;
        }
        generation += 1;
        let (key, bytes) = seal_segment(&packs, generation, repo.crypter(), &repo.config().id);
        backend.put_new(&key, &bytes)?;
        next = end;
    }
    Ok(())
}

/// Sparse files of `chunks_per_file` chunks each, and the chunks the cache lists for them.
type Files = Vec<(PathBuf, Vec<(ChunkId, u32)>)>;

fn write_source(src: &Path, spec: &SynthSpec) -> Result<Files> {
    let mut out = Vec::with_capacity(spec.files);
    for f in 0..spec.files {
        let d = src.join(format!("d{:04}", f / 100));
        fs::create_dir_all(&d).map_err(|e| io("creating the source", e))?;
        let path = d.join(format!("f{f:06}"));
        let size = spec.chunks_per_file as u64 * u64::from(spec.chunk_len);
        File::create(&path)
            .and_then(|file| file.set_len(size))
            .map_err(|e| io("creating a source file", e))?;
        let first = (f * spec.chunks_per_file) as u64;
        let chunks = (0..spec.chunks_per_file as u64)
            .map(|k| (blob_id((first + k) % spec.entries), spec.chunk_len))
            .collect();
        out.push((path, chunks));
    }
    Ok(out)
}

/// Peak resident memory of this process so far (VmHWM), in KiB.
pub fn vm_hwm_kib() -> u64 {
    let s = fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
