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

/// Encodes `data` as blob plaintext.
pub fn compress(c: Compression, data: &[u8]) -> Vec<u8> {
    let raw_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let packed = match c {
        Compression::None => None,
        Compression::Lz4 => Some((1u8, lz4_flex::block::compress(data))),
        Compression::Zstd(level) => zstd::bulk::compress(data, level).ok().map(|z| (2u8, z)),
    };
    let mut out;
    match packed {
        Some((tag, p)) if p.len() + p.len() / 32 < data.len() => {
            out = Vec::with_capacity(HEADER + p.len());
            out.push(tag);
            out.extend_from_slice(&raw_len.to_le_bytes());
            out.extend_from_slice(&p);
        }
        _ => {
            out = Vec::with_capacity(HEADER + data.len());
            out.push(0);
            out.extend_from_slice(&raw_len.to_le_bytes());
            out.extend_from_slice(data);
        }
    }
    out
}

/// Decodes blob plaintext; the decompressed size may not exceed `cap`.
pub fn decompress(blob: &[u8], cap: usize, what: &str) -> Result<Vec<u8>> {
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
    let out = match blob[0] {
        0 => payload.to_vec(),
        1 => lz4_flex::block::decompress(payload, raw_len)
            .map_err(|e| VgerError::corrupt(what, format!("lz4: {e}")))?,
        2 => zstd::bulk::decompress(payload, raw_len)
            .map_err(|e| VgerError::corrupt(what, format!("zstd: {e}")))?,
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
    if out.len() != raw_len {
        return Err(VgerError::corrupt(
            what,
            "decompressed size differs from the header",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let zeros = vec![0u8; 1 << 20];
        let b = compress(Compression::Lz4, &zeros);
        assert!(decompress(&b, 1024, "t").is_err());
        let mut forged = b.clone();
        forged[1..5].copy_from_slice(&10u32.to_le_bytes());
        assert!(decompress(&forged, 1 << 21, "t").is_err());
    }
}
