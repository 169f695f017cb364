//! Byte-level reading and writing, below every format: LEB128 varints and a bounds-checked reader
//! that never panics. A leaf: it knows bytes and errors, nothing of pixels or packets.

use crate::error::{Error, Result};

/// Appends `value` as an unsigned LEB128 varint (1 to 10 bytes).
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a signed value, zig-zag encoded.
pub(crate) fn put_signed(out: &mut Vec<u8>, value: i64) {
    put_varint(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// Reads fields from the front of a packet; every read checks what is left.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// What is left to read.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        let (&b, rest) = self.data.split_first().ok_or(Error::Truncated(what))?;
        self.data = rest;
        Ok(b)
    }

    pub fn u32_le(&mut self, what: &'static str) -> Result<u32> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let (head, rest) = self
            .data
            .split_at_checked(n)
            .ok_or(Error::Truncated(what))?;
        self.data = rest;
        Ok(head)
    }

    /// A varint; overlong encodings and values past 64 bits are malformed.
    pub fn varint(&mut self, what: &'static str) -> Result<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let b = self.u8(what)?;
            let part = u64::from(b & 0x7f);
            if i == 9 && b > 1 {
                return Err(Error::Malformed("varint overflows 64 bits"));
            }
            value |= part << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return Err(Error::Malformed("overlong varint"));
                }
                return Ok(value);
            }
        }
        Err(Error::Malformed("varint longer than 10 bytes"))
    }

    /// A varint that must not exceed `limit`.
    pub fn varint_max(&mut self, what: &'static str, limit: u64) -> Result<u64> {
        let v = self.varint(what)?;
        Error::check_limit(what, v, limit)?;
        Ok(v)
    }

    pub fn varint_u32(&mut self, what: &'static str, limit: u32) -> Result<u32> {
        Ok(self.varint_max(what, u64::from(limit))? as u32)
    }

    pub fn varint_usize(&mut self, what: &'static str, limit: usize) -> Result<usize> {
        Ok(self.varint_max(what, limit as u64)? as usize)
    }

    pub fn signed(&mut self, what: &'static str) -> Result<i64> {
        let v = self.varint(what)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<()> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed("trailing bytes after the last field"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_garbage() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut r = Reader::new(&out);
            assert_eq!(r.varint("v").unwrap(), v);
            r.finish().unwrap();
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            put_signed(&mut out, v);
            assert_eq!(Reader::new(&out).signed("v").unwrap(), v);
        }
        assert!(Reader::new(&[0x80, 0x00]).varint("v").is_err());
        assert!(Reader::new(&[0xff; 11]).varint("v").is_err());
        assert!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
                .varint("v")
                .is_err()
        );
        assert!(Reader::new(&[0x80]).varint("v").is_err());
        assert!(Reader::new(&[5]).varint_max("v", 4).is_err());
    }
}
