//! Synthetic repositories for the memory benchmark (`npm run bench:synth`, issue 18 item 5).
//! Each measuring command is its own process, so its peak resident memory (VmHWM) is that of
//! the one operation; it prints one JSON line.
//!
//! Usage:
//!   vger-synth gen DIR ENTRIES [FILES CHUNKS_PER_FILE]   writes a repository, source and cache
//!   vger-synth open DIR [--in-memory]                    opens it (builds the index table once)
//!   vger-synth backup DIR [--in-memory]                  backs up the source (unchanged files)
//!   vger-synth new-data DIR MIB [--in-memory]            backs up MIB MiB of new random data
//!   vger-synth lookup DIR COUNT [--in-memory]            looks up COUNT ids, half of them present
//!
//! `--in-memory` opens the repository without the memory-mapped index table (the index is then
//! built in memory from every segment, as without a cache directory).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use vger_core::compress::Compression;
use vger_core::{BackupOptions, CancelToken, NoProgress, Repository};
use vger_testkit::synth::{PASS, Synth, SynthSpec, blob_id, synthesize, vm_hwm_kib};

fn open(s: &Synth, in_memory: bool) -> Repository {
    let cache = (!in_memory).then_some(s.cache.as_path());
    Repository::open_at_cached(&s.url, &Default::default(), Some(PASS), cache).expect("open")
}

fn backup(repo: &Repository, s: &Synth, path: &Path) -> vger_core::BackupOutcome {
    let opts = BackupOptions {
        paths: vec![path.to_path_buf()],
        label: "synthetic".into(),
        exclude: vec![],
        filter: Default::default(),
        hostname: "host".into(),
        username: "user".into(),
        compression: Compression::Zstd(3),
        threads: 2,
        cache_dir: Some(s.cache.clone()),
        streams: Vec::new(),
        read_bytes_per_sec: 0,
        dry_run: false,
        time_ns: None,
        tags: Vec::new(),
        description: String::new(),
    };
    vger_core::backup(repo, &opts, &NoProgress, &CancelToken::new()).expect("backup")
}

/// MIB MiB of xorshift bytes in 64 MiB files under a new directory.
fn new_data(dir: &Path, mib: u64) -> PathBuf {
    let out = dir.join(format!("new-{}", vger_core::clock::now_ns()));
    std::fs::create_dir_all(&out).expect("mkdir");
    let mut x = vger_core::clock::now_ns() as u64 | 1;
    let mut buf = vec![0u8; 1 << 20];
    for f in 0..mib.div_ceil(64) {
        let mut file = File::create(out.join(format!("{f:04}"))).expect("create");
        for _ in 0..64.min(mib - f * 64) {
            for w in buf.chunks_exact_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                w.copy_from_slice(&x.to_le_bytes());
            }
            file.write_all(&buf).expect("write");
        }
    }
    out
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let in_memory = args.iter().any(|a| a == "--in-memory");
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--in-memory")
        .collect();
    let (Some(op), Some(dir)) = (args.first(), args.get(1)) else {
        eprintln!("usage: vger-synth gen|open|backup|new-data|lookup DIR ...");
        return ExitCode::from(2);
    };
    let dir = Path::new(dir);
    let s = Synth::at(dir);
    let num = |i: usize| -> u64 { args.get(i).and_then(|v| v.parse().ok()).unwrap_or(0) };
    let t = Instant::now();
    let extra = match *op {
        "gen" => {
            let mut spec = SynthSpec {
                entries: num(2),
                ..Default::default()
            };
            if args.len() > 4 {
                spec.files = num(3) as usize;
                spec.chunks_per_file = num(4) as usize;
            }
            synthesize(dir, &spec).expect("synthesize");
            std::fs::write(dir.join("entries"), spec.entries.to_string()).expect("write");
            format!("\"entries\":{}", spec.entries)
        }
        "open" => {
            let repo = open(&s, in_memory);
            let idx = repo.index();
            format!("\"entries\":{},\"mapped\":{}", idx.len(), idx.mapped_len())
        }
        "backup" => {
            let repo = open(&s, in_memory);
            let out = backup(&repo, &s, &s.source);
            format!(
                "\"bytes_read\":{},\"files\":{}",
                out.bytes_read, out.snapshot.stats.files
            )
        }
        "new-data" => {
            let data = new_data(dir, num(2));
            let t = Instant::now();
            let repo = open(&s, in_memory);
            let out = backup(&repo, &s, &data);
            let secs = t.elapsed().as_secs_f64();
            std::fs::remove_dir_all(&data).expect("cleanup");
            format!(
                "\"bytes_read\":{},\"backup_seconds\":{secs:.3}",
                out.bytes_read
            )
        }
        "lookup" => {
            let repo = open(&s, in_memory);
            let idx = repo.index();
            let count = num(2);
            let opened = t.elapsed().as_secs_f64();
            let t = Instant::now();
            // The synthetic blobs (the index also holds the trees of backups since).
            let n: u64 = std::fs::read_to_string(dir.join("entries"))
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .expect("DIR/entries");
            let mut found = 0u64;
            for i in 0..count {
                // Even: an indexed blob; odd: one that is not.
                let id = if i % 2 == 0 {
                    blob_id(i.wrapping_mul(0x9e37_79b9) % n.max(1))
                } else {
                    blob_id(n + i)
                };
                found += u64::from(idx.contains(&id));
            }
            let secs = t.elapsed().as_secs_f64();
            format!(
                "\"found\":{found},\"open_seconds\":{opened:.3},\"lookups_per_sec\":{:.0}",
                count as f64 / secs
            )
        }
        other => {
            eprintln!("unknown command {other}");
            return ExitCode::from(2);
        }
    };
    println!(
        "{{\"op\":\"{op}\",\"in_memory\":{in_memory},\"seconds\":{:.3},\"vm_hwm_kib\":{},{extra}}}",
        t.elapsed().as_secs_f64(),
        vm_hwm_kib()
    );
    ExitCode::SUCCESS
}
