//! Per-blob compression with a codec tag. Blob plaintext before sealing:
//! `[codec u8][raw length u32 LE][payload]`; codec 0 = none, 1 = LZ4 block, 2 = zstd frame.
//! Data that does not shrink by at least 1/32 is stored uncompressed, so random and
//! already-compressed files cost no decompression time on restore.

use vger_types::{Result, VgerError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Lz4,
    Zstd(i32),
}

impl Compression {
    pub fn parse(name: &str, zstd_level: Option<i32>) -> Result<Self> {
        match name {
            "none" => Ok(Compression::None),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => {
                let level = zstd_level.unwrap_or(3);
                if !(1..=22).contains(&level) {
                    return Err(VgerError::invalid(format!(
                        "zstd level {level} is out of range; use 1 to 22"
                    )));
                }
                Ok(Compression::Zstd(level))
            }
            other => Err(VgerError::invalid(format!(
                "unknown compression {other:?}; use lz4, zstd or none"
            ))),
        }
    }
}

const HEADER: usize = 5;

thread_local! {
    /// One zstd context per thread and level: creating one costs more than compressing a small
    /// file, and a backup compresses tens of thousands of them.
    static ZSTD: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Encodes `data` as blob plaintext.
pub fn compress(c: Compression, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + data.len());
    compress_into(c, data, &mut out);
    out
}

/// Appends the blob plaintext of `data` to `out` (which may already hold, say, room for an
/// envelope header). Data that a cheap probe finds incompressible is stored without trying.
pub fn compress_into(c: Compression, data: &[u8], out: &mut Vec<u8>) {
    let raw_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let start = out.len();
    out.push(0);
    out.extend_from_slice(&raw_len.to_le_bytes());
    let body = start + HEADER;
    // Stored raw unless the payload shrinks by at least 1/32.
    let limit = data.len() - data.len() / 32;
    let packed = match c {
        Compression::None => None,
        _ if looks_incompressible(data) => None,
        Compression::Lz4 => {
            out.resize(
                body + lz4_flex::block::get_maximum_output_size(data.len()),
                0,
            );
            lz4_flex::block::compress_into(data, &mut out[body..])
                .ok()
                .map(|n| (1u8, n))
        }
        Compression::Zstd(level) => {
            out.resize(body + zstd::zstd_safe::compress_bound(data.len()), 0);
            zstd_into(level, data, &mut out[body..]).map(|n| (2u8, n))
        }
    };
    match packed {
        Some((tag, n)) if n < limit => {
            out[start] = tag;
            out.truncate(body + n);
        }
        _ => {
            out.truncate(body);
            out.extend_from_slice(data);
        }
    }
}

fn zstd_into(level: i32, data: &[u8], dst: &mut [u8]) -> Option<usize> {
    ZSTD.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level).ok()?));
        }
        let (_, z) = slot.as_mut()?;
        z.compress_to_buffer(data, dst).ok()
    })
}

fn zstd_decompress_into(payload: &[u8], raw_len: usize, out: &mut Vec<u8>) -> std::io::Result<()> {
    thread_local! {
        static UNZSTD: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    out.clear();
    out.reserve(raw_len);
    UNZSTD.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new()?);
        }
        match slot.as_mut() {
            Some(d) => d.decompress_to_buffer(payload, out).map(|_| ()),
            None => zstd::bulk::decompress(payload, raw_len).map(|v| *out = v),
        }
    })
}

/// A probe of four 4 KiB windows: true when their bytes look uniformly random (order-0 entropy
/// above 7.5 bits per byte) and LZ4 cannot shrink any of them. Random, encrypted and
/// already-compressed data then costs one pass over 16 KiB instead of a full compression.
pub fn looks_incompressible(data: &[u8]) -> bool {
    const W: usize = 4096;
    if data.len() < 8 * W {
        return false;
    }
    let mut hist = [0u32; 256];
    let step = (data.len() - W) / 3;
    let mut scratch = vec![0u8; lz4_flex::block::get_maximum_output_size(W)];
    for i in 0..4 {
        let win = &data[i * step..i * step + W];
        for &b in win {
            hist[b as usize] += 1;
        }
        match lz4_flex::block::compress_into(win, &mut scratch) {
            Ok(n) if n < W - W / 32 => return false,
            _ => {}
        }
    }
    let total = (4 * W) as f64;
    let entropy: f64 = hist
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = f64::from(n) / total;
            -p * p.log2()
        })
        .sum();
    entropy > 7.5
}

/// Decodes blob plaintext without allocating: the result is the stored payload itself (codec
/// none) or the decompressed bytes in `out` (a buffer the caller reuses).
pub fn decompress_into<'a>(
    blob: &'a [u8],
    cap: usize,
    what: &str,
    out: &'a mut Vec<u8>,
) -> Result<&'a [u8]> {
    if blob.len() < HEADER {
        return Err(VgerError::corrupt(what, "blob shorter than its header"));
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(&blob[1..5]);
    let raw_len = u32::from_le_bytes(len) as usize;
    if raw_len > cap {
        return Err(VgerError::corrupt(
            what,
            format!("declared size {raw_len} above the limit {cap}"),
        ));
    }
    let payload = &blob[HEADER..];
    let got: &[u8] = match blob[0] {
        0 => payload,
        1 => {
            out.clear();
            out.resize(raw_len, 0);
            let n = lz4_flex::block::decompress_into(payload, out)
                .map_err(|e| VgerError::corrupt(what, format!("lz4: {e}")))?;
            out.truncate(n);
            out
        }
        2 => {
            zstd_decompress_into(payload, raw_len, out)
                .map_err(|e| VgerError::corrupt(what, format!("zstd: {e}")))?;
            out
        }
        // Blob plaintext has no version of its own: a codec this vger does not know can only
        // come from a newer vger (damage is caught earlier, by authentication).
        t => {
            return Err(VgerError::NewerFormat {
                object: format!("{what} (compression codec {t})"),
                found: u32::from(t),
                supported: 2,
            });
        }
    };
    if got.len() != raw_len {
        return Err(VgerError::corrupt(
            what,
            "decompressed size differs from the header",
        ));
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`decompress_into`] into a new vector.
    fn decompress(blob: &[u8], cap: usize, what: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        Ok(decompress_into(blob, cap, what, &mut out)?.to_vec())
    }

    #[test]
    fn round_trips_and_golden_headers() {
        let text = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(20);
        for c in [Compression::None, Compression::Lz4, Compression::Zstd(3)] {
            let b = compress(c, &text);
            assert_eq!(decompress(&b, 1 << 20, "t").unwrap(), text);
        }
        assert_eq!(
            hex::encode(compress(Compression::Lz4, b"xyz")),
            "000300000078797a"
        );
        assert_eq!(compress(Compression::Lz4, &text)[0], 1);
        assert_eq!(compress(Compression::Zstd(3), &text)[0], 2);
    }

    #[test]
    fn incompressible_is_stored_and_bombs_are_capped() {
        let random: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let b = compress(Compression::Zstd(3), &random);
        assert!(b[0] == 0 || b.len() < random.len());
        let mut x = 1u64;
        let noise: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(looks_incompressible(&noise));
        assert_eq!(compress(Compression::Zstd(3), &noise)[0], 0);
        let mut half = noise[..1 << 19].to_vec();
        half.extend_from_slice(&b"abcdefgh".repeat(1 << 16)[..1 << 19]);
        assert!(
            !looks_incompressible(&half),
            "a compressible part is not skipped"
        );
        let zeros = vec![0u8; 1 << 20];
        assert!(!looks_incompressible(&zeros));
        let b = compress(Compression::Lz4, &zeros);
        assert!(decompress(&b, 1024, "t").is_err());
        let mut forged = b.clone();
        forged[1..5].copy_from_slice(&10u32.to_le_bytes());
        assert!(decompress(&forged, 1 << 21, "t").is_err());
    }
}
