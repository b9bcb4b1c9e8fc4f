//! The binary codec of the vger format: little-endian fixed-width integers and length-prefixed
//! byte strings. Every read is bounds-checked and every length is capped, so a hostile input
//! can neither panic the reader nor make it allocate more than the input itself holds.

use crate::error::{Result, VgerError};

/// Bit 15 of an extension key: a reader that does not know the key must refuse the object
/// ([`VgerError::NewerExtension`]); an unknown key without it is skipped.
pub const MUST_UNDERSTAND: u16 = 0x8000;
/// The smallest encoded extension: a `u16` key and an empty value (`u32` length).
pub const MIN_EXTENSION: usize = 2 + 4;
/// The longest value of an extension this reader does not know (skipped, or refused when
/// it must be understood).
pub const MAX_UNKNOWN_EXTENSION: usize = 1 << 20;

/// Appends encoded values to a byte vector.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Raw bytes with no length prefix (fixed-size fields such as ids).
    pub fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// A u32 length followed by the bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        self.u32(len);
        self.buf.extend_from_slice(v);
        self
    }

    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }

    /// The items of an extension list (the caller writes the count, as a `u8` or `u16`):
    /// `key u16 ‖ value bytes` each. Keys must be given strictly ascending.
    pub fn extensions(&mut self, items: &[(u16, &[u8])]) -> &mut Self {
        for (key, value) in items {
            self.u16(*key).bytes(value);
        }
        self
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads encoded values; `what` names the object in error messages.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'a str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'a str) -> Self {
        Self { buf, pos: 0, what }
    }

    fn corrupt(&self, detail: &str) -> VgerError {
        VgerError::Corrupt {
            object: self.what.to_string(),
            detail: format!("{detail} at byte {}", self.pos),
        }
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.corrupt("truncated"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A length-prefixed byte string of at most `max` bytes.
    pub fn bytes(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(self.corrupt(&format!("length {len} above the limit {max}")));
        }
        self.take(len)
    }

    pub fn string(&mut self, max: usize) -> Result<String> {
        let b = self.bytes(max)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.corrupt("invalid UTF-8 in a text field"))
    }

    /// A count of items that each occupy at least `min_item` bytes: the count is checked against
    /// what remains, so a forged count cannot trigger a huge allocation.
    pub fn count(&mut self, min_item: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item.max(1)) > self.remaining() {
            return Err(self.corrupt(&format!("count {n} larger than the data left")));
        }
        Ok(n)
    }

    /// The items of an extension list of `n` items (the caller read the count, as a `u8` or
    /// `u16`): keys strictly ascending, `n` checked against the bytes left before reading.
    /// `known` gives each key this reader understands with the limit of its value; those are
    /// returned in key order. An unknown key with [`MUST_UNDERSTAND`] refuses the object as
    /// written by a newer vger; an unknown optional key is skipped. Every value, known or not,
    /// is refused above its limit before it is read.
    pub fn extensions(&mut self, n: usize, known: &[(u16, usize)]) -> Result<Vec<(u16, &'a [u8])>> {
        if n.saturating_mul(MIN_EXTENSION) > self.remaining() {
            return Err(self.corrupt(&format!("extension count {n} larger than the data left")));
        }
        let mut out = Vec::new();
        let mut last: Option<u16> = None;
        for _ in 0..n {
            let key = self.u16()?;
            if last.is_some_and(|l| l >= key) {
                return Err(self.corrupt("extension keys out of order or duplicated"));
            }
            last = Some(key);
            match known.iter().find(|(k, _)| *k == key) {
                Some(&(_, max)) => out.push((key, self.bytes(max)?)),
                None => {
                    self.bytes(MAX_UNKNOWN_EXTENSION)?;
                    if key & MUST_UNDERSTAND != 0 {
                        return Err(VgerError::NewerExtension {
                            object: self.what.to_string(),
                            key,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Fails unless every byte was consumed.
    pub fn finish(self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(self.corrupt("trailing bytes"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_golden() {
        let mut w = Writer::new();
        w.u8(1)
            .u16(0x0203)
            .u32(0x0405_0607)
            .u64(8)
            .i64(-1)
            .str("hé")
            .raw(&[9]);
        let bytes = w.finish();
        assert_eq!(
            hex::encode(&bytes),
            "010302070605040800000000000000ffffffffffffffff0300000068c3a909"
        );
        let mut r = Reader::new(&bytes, "test");
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16().unwrap(), 0x0203);
        assert_eq!(r.u32().unwrap(), 0x0405_0607);
        assert_eq!(r.u64().unwrap(), 8);
        assert_eq!(r.i64().unwrap(), -1);
        assert_eq!(r.string(16).unwrap(), "hé");
        assert_eq!(r.u8().unwrap(), 9);
        r.finish().unwrap();
    }

    #[test]
    fn hostile_lengths_are_refused() {
        let mut w = Writer::new();
        w.u32(u32::MAX);
        let bytes = w.finish();
        assert!(Reader::new(&bytes, "t").bytes(1 << 20).is_err());
        assert!(Reader::new(&bytes, "t").count(1).is_err());
        assert!(Reader::new(&[1, 2], "t").u32().is_err());
    }

    fn ext(items: &[(u16, &[u8])]) -> Vec<u8> {
        let mut w = Writer::new();
        w.extensions(items);
        w.finish()
    }

    #[test]
    fn extensions_known_returned_unknown_optional_skipped() {
        let bytes = ext(&[(1, b"a"), (2, b"skip me"), (0x8001, b"bc")]);
        assert_eq!(
            hex::encode(&bytes),
            "01000100000061020007000000736b6970206d6501800200000062 63".replace(' ', "")
        );
        let mut r = Reader::new(&bytes, "t");
        let got = r.extensions(3, &[(1, 4), (0x8001, 4)]).unwrap();
        assert_eq!(got, vec![(1, &b"a"[..]), (0x8001, &b"bc"[..])]);
        r.finish().unwrap();
    }

    #[test]
    fn extensions_unknown_must_understand_refused() {
        let bytes = ext(&[(1, b"a"), (0x8002, b"")]);
        let e = Reader::new(&bytes, "tree x")
            .extensions(2, &[(1, 4)])
            .unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::NewerFormat);
        let msg = e.to_string();
        assert!(
            msg.contains("tree x") && msg.contains("0x8002") && msg.contains("newer vger"),
            "{msg}"
        );
    }

    #[test]
    fn extensions_order_duplicates_and_limits_refused() {
        for items in [&[(2u16, &b""[..]), (1, b"")][..], &[(1, b""), (1, b"")]] {
            let bytes = ext(items);
            let e = Reader::new(&bytes, "t").extensions(2, &[]).unwrap_err();
            assert!(e.to_string().contains("out of order or duplicated"), "{e}");
        }
        // A known value above its limit, an unknown one above the general limit.
        let bytes = ext(&[(1, b"abcde")]);
        assert!(Reader::new(&bytes, "t").extensions(1, &[(1, 4)]).is_err());
        let big = vec![0u8; MAX_UNKNOWN_EXTENSION + 1];
        let bytes = ext(&[(7, &big)]);
        assert!(Reader::new(&bytes, "t").extensions(1, &[]).is_err());
        // A count that the bytes left cannot hold is refused before anything is read.
        let bytes = ext(&[(1, b"")]);
        let e = Reader::new(&bytes, "t").extensions(2, &[]).unwrap_err();
        assert!(e.to_string().contains("extension count 2"), "{e}");
    }
}
