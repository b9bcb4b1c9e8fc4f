//! Content-defined chunking: FastCDC (2020, normalization level 1) through the `fastcdc` crate's
//! `cut_gear`, with a gear table keyed by the repository's chunker key. Boundaries depend only on
//! the bytes and the key, never on read sizes or thread counts.

use std::io::{self, Read};

use fastcdc::v2020::{MASKS, cut_gear};

use crate::repo::config::ChunkerParams;

pub struct Chunker {
    min: usize,
    avg: usize,
    max: usize,
    mask_s: u64,
    mask_l: u64,
    gear: Box<[u64; 256]>,
    gear_ls: Box<[u64; 256]>,
}

impl Chunker {
    pub fn new(p: ChunkerParams, gear: [u64; 256]) -> Self {
        let bits = (p.avg_size as f64).log2().round() as usize;
        let mut gear_ls = [0u64; 256];
        for (d, s) in gear_ls.iter_mut().zip(gear.iter()) {
            *d = s << 1;
        }
        Self {
            min: p.min_size as usize,
            avg: p.avg_size as usize,
            max: p.max_size as usize,
            mask_s: MASKS[bits + 1],
            mask_l: MASKS[bits - 1],
            gear: Box::new(gear),
            gear_ls: Box::new(gear_ls),
        }
    }

    pub fn max_size(&self) -> usize {
        self.max
    }

    /// Length of the next chunk at the start of `data`. `data` must hold at least `max_size`
    /// bytes unless it is the end of the stream.
    pub fn cut(&self, data: &[u8]) -> usize {
        let (_, len) = cut_gear(
            data,
            self.min,
            self.avg,
            self.max,
            self.mask_s,
            self.mask_l,
            self.mask_s << 1,
            self.mask_l << 1,
            &self.gear[..],
            &self.gear_ls[..],
        );
        len
    }

    /// Splits a whole in-memory buffer into chunk lengths.
    pub fn split(&self, data: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            let n = self.cut(&data[pos..]);
            out.push(n);
            pos += n;
        }
        out
    }

    /// Streams `reader` and calls `f` with each chunk in order, using `buf` (reused across
    /// files) as the window. Memory stays at about two maximum chunk sizes whatever the file size.
    pub fn stream<R: Read>(
        &self,
        mut reader: R,
        buf: &mut Vec<u8>,
        mut f: impl FnMut(&[u8]) -> vger_types::Result<()>,
    ) -> Result<(), StreamError> {
        let block = self.max.max(1 << 20);
        buf.clear();
        let mut start = 0usize;
        let mut eof = false;
        loop {
            while !eof && buf.len() - start < self.max {
                if start > 0 && start >= buf.len() / 2 {
                    buf.copy_within(start.., 0);
                    buf.truncate(buf.len() - start);
                    start = 0;
                }
                let want = block as u64;
                let n = (&mut reader)
                    .take(want)
                    .read_to_end(buf)
                    .map_err(StreamError::Read)?;
                eof = (n as u64) < want;
            }
            if start == buf.len() {
                return Ok(());
            }
            let n = self.cut(&buf[start..]);
            f(&buf[start..start + n]).map_err(StreamError::Sink)?;
            start += n;
        }
    }
}

#[derive(Debug)]
pub enum StreamError {
    Read(io::Error),
    Sink(vger_types::VgerError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gear(seed: u8) -> [u64; 256] {
        let mut g = [0u64; 256];
        let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(seed);
        for v in g.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *v = x;
        }
        g
    }

    fn small() -> ChunkerParams {
        ChunkerParams {
            min_size: 256,
            avg_size: 1024,
            max_size: 4096,
        }
    }

    fn data(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// A reader that returns at most `step` bytes per call, to vary read boundaries.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn golden_cut_points() {
        let c = Chunker::new(small(), gear(1));
        let cuts = c.split(&data(20_000, 7));
        assert_eq!(cuts.iter().sum::<usize>(), 20_000);
        assert!(
            cuts[..cuts.len() - 1]
                .iter()
                .all(|&n| (256..=4096).contains(&n))
        );
        assert_eq!(cuts, GOLDEN_CUTS.to_vec());
        assert_ne!(
            Chunker::new(small(), gear(2)).split(&data(20_000, 7)),
            cuts,
            "keyed"
        );
    }

    const GOLDEN_CUTS: &[usize] = &[
        1103, 741, 1366, 1340, 563, 1047, 1934, 1277, 1079, 594, 381, 1693, 575, 1655, 630, 1604,
        1191, 1089, 138,
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn stream_matches_split_for_any_read_size(len in 0usize..40_000, seed in 1u64..1000, step in 1usize..9000) {
            let c = Chunker::new(small(), gear(3));
            let d = data(len, seed);
            let mut got = Vec::new();
            c.stream(Trickle(&d, step), &mut Vec::new(), |chunk| { got.push(chunk.len()); Ok(()) }).unwrap();
            prop_assert_eq!(got, c.split(&d));
        }
    }
}
