//! The entropy stage applied to a frame's whole payload.

use crate::error::{Error, Result};

/// Entropy coder for the per-frame payload. The choice is written into every payload, so a decoder
/// reads any of them whatever its encoder was set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Entropy {
    /// No entropy stage.
    Stored,
    /// LZ4 block format (`lz4_flex`): fastest, weaker on photos.
    Lz4,
    /// DEFLATE (`miniz_oxide`) at the given level (1..=9): smaller, slower.
    Deflate(u8),
    /// DEFLATE level 6 for small payloads (typing, cursor blinks: a few KiB, where every byte counts and
    /// the time does not); for large ones LZ4, or DEFLATE level 1 when LZ4 leaves more than 40%.
    #[default]
    Adaptive,
}

/// Payloads up to this size get the strongest coder.
const SMALL_PAYLOAD: usize = 32 * 1024;

const STORED: u8 = 0;
const LZ4: u8 = 1;
const DEFLATE: u8 = 2;

/// Appends `[method u8][raw_len varint][packed_len varint][packed bytes]` (stored: no packed_len).
pub(crate) fn compress(entropy: Entropy, raw: &[u8], out: &mut Vec<u8>) {
    let (method, packed) = match entropy {
        Entropy::Stored => (STORED, None),
        Entropy::Lz4 => (LZ4, Some(lz4_flex::block::compress(raw))),
        Entropy::Deflate(level) => (DEFLATE, Some(miniz_oxide::deflate::compress_to_vec(raw, level.clamp(1, 9)))),
        Entropy::Adaptive if raw.len() <= SMALL_PAYLOAD => {
            (DEFLATE, Some(miniz_oxide::deflate::compress_to_vec(raw, 6)))
        }
        Entropy::Adaptive => {
            let lz4 = lz4_flex::block::compress(raw);
            if lz4.len() * 10 > raw.len() * 4 {
                let deflated = miniz_oxide::deflate::compress_to_vec(raw, 1);
                if deflated.len() < lz4.len() {
                    (DEFLATE, Some(deflated))
                } else {
                    (LZ4, Some(lz4))
                }
            } else {
                (LZ4, Some(lz4))
            }
        }
    };
    match packed {
        Some(p) if p.len() < raw.len() => {
            out.push(method);
            crate::protocol::wire::put_varint(out, raw.len() as u64);
            crate::protocol::wire::put_varint(out, p.len() as u64);
            out.extend_from_slice(&p);
        }
        _ => {
            out.push(STORED);
            crate::protocol::wire::put_varint(out, raw.len() as u64);
            out.extend_from_slice(raw);
        }
    }
}

/// Reads what [`compress`] wrote; `max_raw` bounds the memory a hostile packet can make us allocate.
pub(crate) fn decompress(reader: &mut crate::protocol::wire::Reader<'_>, max_raw: usize) -> Result<Vec<u8>> {
    let method = reader.u8("payload method")?;
    let raw_len = reader.varint_usize("payload size", max_raw)?;
    if method == STORED {
        return Ok(reader.bytes(raw_len, "stored payload")?.to_vec());
    }
    let packed_len = reader.varint_usize("packed payload size", max_raw.saturating_mul(2).max(64))?;
    let packed = reader.bytes(packed_len, "packed payload")?;
    let raw = match method {
        LZ4 => {
            let mut raw = vec![0u8; raw_len];
            let n = lz4_flex::block::decompress_into(packed, &mut raw)
                .map_err(|_| Error::CorruptPayload("lz4 block does not decode"))?;
            if n != raw_len {
                return Err(Error::CorruptPayload("lz4 block shorter than declared"));
            }
            raw
        }
        DEFLATE => miniz_oxide::inflate::decompress_to_vec_with_limit(packed, raw_len)
            .map_err(|_| Error::CorruptPayload("deflate stream does not decode within its declared size"))?,
        _ => return Err(Error::Malformed("unknown payload method")),
    };
    if raw.len() != raw_len {
        return Err(Error::CorruptPayload("payload size differs from declared"));
    }
    Ok(raw)
}
