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
    /// DEFLATE (`miniz_oxide`) at the given level (1..=9): pure Rust everywhere.
    Deflate(u8),
    /// Zstandard at the given level (1..=19), encoded by the zstd C library and decoded in pure Rust
    /// (`ruzstd`), so viewers in WebAssembly read it too. Builds without the C library (WebAssembly)
    /// encode DEFLATE instead.
    Zstd(i32),
    /// Zstandard: level 9 for small payloads (typing, cursor blinks: a few KiB, where every byte counts
    /// and the time does not), level 1 for large ones. DEFLATE where zstd is not built in.
    #[default]
    Adaptive,
}

/// Payloads up to this size get the strongest coder.
const SMALL_PAYLOAD: usize = 32 * 1024;

const STORED: u8 = 0;
const LZ4: u8 = 1;
const DEFLATE: u8 = 2;
const ZSTD: u8 = 3;

/// Appends `[method u8][raw_len varint][packed_len varint][packed bytes]` (stored: no packed_len).
pub(crate) fn compress(entropy: Entropy, raw: &[u8], out: &mut Vec<u8>) {
    let (method, packed) = match entropy {
        Entropy::Stored => (STORED, None),
        Entropy::Lz4 => (LZ4, Some(lz4_flex::block::compress(raw))),
        Entropy::Deflate(level) => (
            DEFLATE,
            Some(miniz_oxide::deflate::compress_to_vec(
                raw,
                level.clamp(1, 9),
            )),
        ),
        Entropy::Zstd(level) => zstd_or_deflate(raw, level),
        Entropy::Adaptive => zstd_or_deflate(raw, if raw.len() <= SMALL_PAYLOAD { 9 } else { 1 }),
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

#[cfg(not(target_arch = "wasm32"))]
fn zstd_or_deflate(raw: &[u8], level: i32) -> (u8, Option<Vec<u8>>) {
    match zstd::bulk::compress(raw, level.clamp(1, 19)) {
        Ok(packed) => (ZSTD, Some(packed)),
        Err(_) => (DEFLATE, Some(miniz_oxide::deflate::compress_to_vec(raw, 6))),
    }
}

#[cfg(target_arch = "wasm32")]
fn zstd_or_deflate(raw: &[u8], level: i32) -> (u8, Option<Vec<u8>>) {
    (
        DEFLATE,
        Some(miniz_oxide::deflate::compress_to_vec(
            raw,
            if level > 3 { 6 } else { 1 },
        )),
    )
}

/// Reads what [`compress`] wrote; `max_raw` bounds the memory a hostile packet can make us allocate.
pub(crate) fn decompress(
    reader: &mut crate::protocol::wire::Reader<'_>,
    max_raw: usize,
) -> Result<Vec<u8>> {
    let method = reader.u8("payload method")?;
    let raw_len = reader.varint_usize("payload size", max_raw)?;
    if method == STORED {
        return Ok(reader.bytes(raw_len, "stored payload")?.to_vec());
    }
    let packed_len =
        reader.varint_usize("packed payload size", max_raw.saturating_mul(2).max(64))?;
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
        DEFLATE => {
            miniz_oxide::inflate::decompress_to_vec_with_limit(packed, raw_len).map_err(|_| {
                Error::CorruptPayload("deflate stream does not decode within its declared size")
            })?
        }
        ZSTD => {
            // The window a hostile frame may declare is capped by what the payload may hold.
            let max_window = (raw_len as u64).next_power_of_two().max(1 << 10);
            let mut decoder =
                ruzstd::decoding::StreamingDecoder::new_with_max_window_size(packed, max_window)
                    .map_err(|_| Error::CorruptPayload("zstd frame header"))?;
            let mut raw = vec![0u8; raw_len];
            std::io::Read::read_exact(&mut decoder, &mut raw)
                .map_err(|_| Error::CorruptPayload("zstd frame shorter than declared"))?;
            let mut extra = [0u8; 1];
            if !matches!(std::io::Read::read(&mut decoder, &mut extra), Ok(0)) {
                return Err(Error::CorruptPayload("zstd frame longer than declared"));
            }
            raw
        }
        _ => return Err(Error::Malformed("unknown payload method")),
    };
    if raw.len() != raw_len {
        return Err(Error::CorruptPayload("payload size differs from declared"));
    }
    Ok(raw)
}
