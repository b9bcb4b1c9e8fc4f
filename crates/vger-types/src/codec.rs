//! The binary codec of the vger format: little-endian fixed-width integers and length-prefixed
//! byte strings. Every read is bounds-checked and every length is capped, so a hostile input
//! can neither panic the reader nor make it allocate more than the input itself holds.

use crate::error::{Result, VgerError};

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
}
