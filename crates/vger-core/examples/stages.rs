//! Single-core speed of each backup stage on one fixed buffer (`npm run bench:stages`).
//!
//! Usage: `cargo run --release -p vger-core --example stages [CORPUS_DIR] [MIB]`
//!
//! The buffer (default 256 MiB) is corpus-like: with a corpus made by make-corpus.sh it is
//! assembled from it in the corpus's proportions (kernel source text, .deb files, random and
//! internally duplicated data); without one, half pseudo-random bytes and half repeated text.
//! The buffer is cut with the repository's default chunker sizes, and every later stage works on
//! those chunks, as a backup does. Prints a Markdown table; each figure is the best of 3 runs.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use vger_core::ChunkerParams;
use vger_core::chunker::Chunker;
use vger_core::compress::{Compression, compress};
use vger_core::repo::pack::PackWriter;
use vger_crypto::{Algorithm, BlobKind, Crypter, MasterKey};
use vger_storage::{Backend, LocalBackend};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let corpus = args.first().map(PathBuf::from).filter(|p| p.is_dir());
    let mib: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(256);
    let buf = match &corpus {
        Some(dir) => from_corpus(dir, mib << 20),
        None => synthetic(mib << 20),
    };
    let master = MasterKey::generate();
    let chunker = Chunker::new(ChunkerParams::default(), master.gear_table());
    let mut rows = Vec::new();

    let (cuts, s) = best(|| chunker.split(&buf));
    rows.push(("FastCDC chunking (keyed gear table)", s, String::new()));
    let mut chunks = Vec::with_capacity(cuts.len());
    let mut pos = 0;
    for n in &cuts {
        chunks.push(&buf[pos..pos + n]);
        pos += n;
    }
    let note = format!(
        "{} chunks, mean {} KiB",
        chunks.len(),
        buf.len() / chunks.len() / 1024
    );
    let (_, s) = best(|| {
        chunks
            .iter()
            .map(|c| master.blob_id(BlobKind::Data, c))
            .collect::<Vec<_>>()
    });
    rows.push(("keyed BLAKE3 chunk ids", s, note));
    let mut sealed_in = Vec::new();
    for (name, c) in [
        ("lz4 compression", Compression::Lz4),
        ("zstd-3 compression", Compression::Zstd(3)),
    ] {
        let (out, s) = best(|| chunks.iter().map(|ch| compress(c, ch)).collect::<Vec<_>>());
        let stored: usize = out.iter().map(Vec::len).sum();
        let raw = out.iter().filter(|b| b[0] == 0).count();
        let note = format!(
            "output {:.1} % of input; {raw} of {} chunks stored raw (did not shrink)",
            100.0 * stored as f64 / buf.len() as f64,
            out.len()
        );
        rows.push((name, s, note));
        if c == Compression::Zstd(3) {
            // The same without the incompressibility probe: zstd tries every chunk, and a chunk
            // is stored raw only when the attempt does not shrink it by 1/32.
            let (tried, t) = best(|| {
                chunks
                    .iter()
                    .map(|ch| match zstd::bulk::compress(ch, 3) {
                        Ok(z) if z.len() < ch.len() - ch.len() / 32 => (z.len() + 5, true),
                        _ => (ch.len() + 5, false),
                    })
                    .collect::<Vec<_>>()
            });
            let tried_size: usize = tried.iter().map(|(n, _)| n).sum();
            let skipped_but_shrinks = out
                .iter()
                .zip(&tried)
                .filter(|(b, (_, shrank))| b[0] == 0 && *shrank)
                .count();
            // On the chunks the probe stores raw: what zstd would spend, and what the probe does.
            let raw_chunks: Vec<&[u8]> = chunks
                .iter()
                .zip(&out)
                .filter(|(_, b)| b[0] == 0)
                .map(|(c, _)| *c)
                .collect();
            let raw_bytes: usize = raw_chunks.iter().map(|c| c.len()).sum();
            let (_, zstd_raw) = best(|| {
                raw_chunks
                    .iter()
                    .map(|c| zstd::bulk::compress(c, 3).map_or(0, |z| z.len()))
                    .sum::<usize>()
            });
            let (_, probe_raw) = best(|| {
                raw_chunks
                    .iter()
                    .filter(|c| vger_core::compress::looks_incompressible(c))
                    .count()
            });
            let note = format!(
                "output {:.1} % of input (with the probe: {:.2} % larger); {skipped_but_shrinks} \
                 chunks the probe stores raw would shrink; on the {} chunks it stores raw \
                 ({:.0} MB), zstd would spend {:.0} ms and the probe spends {:.2} ms",
                100.0 * tried_size as f64 / buf.len() as f64,
                100.0 * (stored as f64 / tried_size as f64 - 1.0),
                raw_chunks.len(),
                raw_bytes as f64 / 1e6,
                zstd_raw * 1e3,
                probe_raw * 1e3,
            );
            rows.push(("zstd-3, every chunk tried (no probe)", t, note));
        }
        sealed_in = out;
    }
    let ctx = [0u8; 65];
    for (name, alg) in [
        ("AES-256-GCM sealing", Algorithm::Aes256Gcm),
        ("ChaCha20-Poly1305 sealing", Algorithm::ChaCha20Poly1305),
    ] {
        let crypter = Crypter::new(alg, &master);
        let (_, s) = best(|| {
            chunks
                .iter()
                .map(|c| crypter.seal(&ctx, c).len())
                .sum::<usize>()
        });
        rows.push((name, s, String::new()));
    }
    let crypter = Crypter::new(Algorithm::Aes256Gcm, &master);
    let sealed: Vec<Vec<u8>> = sealed_in.iter().map(|p| crypter.seal(&ctx, p)).collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut round = 0;
    let (_, s) = best(|| {
        round += 1;
        let backend = LocalBackend::new(dir.path().join(round.to_string()), "bench");
        backend.create().expect("create");
        let mut w = PackWriter::new();
        for (i, b) in sealed.iter().enumerate() {
            let id = master.blob_id(BlobKind::Data, &(i as u64).to_le_bytes());
            w.add(id, BlobKind::Data, b, b.len() as u32);
            if w.size() >= 32 << 20 {
                let (pid, bytes, _) = std::mem::take(&mut w).finish(&crypter, &[0; 32]);
                backend
                    .put_new(&vger_core::repo::pack::key(&pid), &bytes)
                    .expect("put_new");
            }
        }
        let (pid, bytes, _) = w.finish(&crypter, &[0; 32]);
        backend
            .put_new(&vger_core::repo::pack::key(&pid), &bytes)
            .expect("put_new");
    });
    rows.push((
        "pack writing (32 MiB packs, put_new with fsync, temp dir)",
        s,
        "input: the zstd-3 output, sealed; MB/s of original data".into(),
    ));

    let source = match &corpus {
        Some(d) => format!("from {}", d.display()),
        None => "synthetic (half random, half repeated text)".into(),
    };
    println!(
        "Stage micro-benchmark: {} MiB buffer {source}; one core; best of 3 runs \
         (`npm run bench:stages`).\n",
        buf.len() >> 20
    );
    println!("| stage | MB/s | notes |\n| --- | --- | --- |");
    for (name, secs, note) in rows {
        println!("| {name} | {:.0} | {note} |", buf.len() as f64 / 1e6 / secs);
    }
}

/// Runs `f` three times; returns its last result and the shortest time in seconds.
fn best<T>(mut f: impl FnMut() -> T) -> (T, f64) {
    let mut t = f64::MAX;
    let mut out = None;
    for _ in 0..3 {
        let start = Instant::now();
        let r = f();
        t = t.min(start.elapsed().as_secs_f64());
        out = Some(std::hint::black_box(r));
    }
    (out.expect("ran"), t)
}

/// The corpus's parts in its own proportions: ~55 % kernel text, ~13 % .deb files, ~20 % random,
/// ~12 % internally duplicated.
fn from_corpus(dir: &Path, size: usize) -> Vec<u8> {
    let parts: [(&str, f64); 4] = [
        ("linux-source-6.1", 0.55),
        ("big/debs", 0.13),
        ("big/random-1.bin", 0.20),
        ("big/dup-mixed.bin", 0.12),
    ];
    let mut buf = Vec::with_capacity(size);
    for (i, (part, share)) in parts.iter().enumerate() {
        let want = if i + 1 == parts.len() {
            size - buf.len()
        } else {
            (size as f64 * share) as usize
        };
        let end = buf.len() + want;
        let mut files = Vec::new();
        collect(&dir.join(part), &mut files);
        files.sort();
        for f in files {
            if buf.len() >= end {
                break;
            }
            if let Ok(file) = fs::File::open(&f) {
                let _ = file.take((end - buf.len()) as u64).read_to_end(&mut buf);
            }
        }
    }
    if buf.len() < size {
        let fill = synthetic(size - buf.len());
        buf.extend_from_slice(&fill);
    }
    buf
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_file() => out.push(p.to_path_buf()),
        Ok(m) if m.is_dir() => {
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    collect(&e.path(), out);
                }
            }
        }
        _ => {}
    }
}

fn synthetic(size: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut buf: Vec<u8> = (0..size / 2)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let text = b"static int vger_bench(struct file *f, unsigned long arg) { return -EINVAL; }\n";
    while buf.len() < size {
        let n = (size - buf.len()).min(text.len());
        buf.extend_from_slice(&text[..n]);
    }
    buf
}
