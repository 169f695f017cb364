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
    /// Zstandard at level 9, with the payload history as its dictionary: the last 256 KiB for small
    /// payloads (typing, cursor blinks: a few KiB), the last 1 MiB for large ones (new content:
    /// slides, switched windows, scrolled pages), whose zstd time (about 12 ms for 250 KiB at
    /// 1280x720) stays within a frame's budget; beyond 1 MiB (a 4K screen changing whole) level 3 and
    /// the small dictionary, which zstd runs several times faster. DEFLATE where zstd is not built in.
    #[default]
    Adaptive,
}

/// Payloads up to this size are small: the short dictionary (indexing the long one would cost more
/// time than the payload itself).
const SMALL_PAYLOAD: usize = 32 * 1024;

/// Payloads beyond this size go at a faster level with the short dictionary (time budget).
#[cfg(not(target_arch = "wasm32"))]
const HUGE_PAYLOAD: usize = 1024 * 1024;

const STORED: u8 = 0;
const LZ4: u8 = 1;
const DEFLATE: u8 = 2;
const ZSTD: u8 = 3;
/// zstd with the last [`HISTORY_BYTES`](super::history::HISTORY_BYTES) of the payload history as its
/// dictionary (see [`super::history`]).
const ZSTD_HISTORY: u8 = 4;
/// zstd with the last [`LARGE_HISTORY_BYTES`](super::history::LARGE_HISTORY_BYTES) of it.
const ZSTD_LARGE_HISTORY: u8 = 5;

/// Appends `[method u8][raw_len varint][packed_len varint][packed bytes]` (stored: no packed_len),
/// with a one-off [`Compressor`] (cursor shapes; frames go through the encoder's own).
pub(crate) fn compress(entropy: Entropy, raw: &[u8], out: &mut Vec<u8>) {
    Compressor::default().compress(entropy, raw, out);
}

/// The entropy stage with its state kept between frames: a zstd context (a fresh one allocates its
/// tables each time) and the output buffer (a fresh one page-faults per 4 KiB written).
#[derive(Default)]
pub(crate) struct Compressor {
    #[cfg(not(target_arch = "wasm32"))]
    zstd: Option<(zstd::bulk::Compressor<'static>, i32)>,
    packed: Vec<u8>,
    /// The frame updates' payloads so far (since the last reset), as decoders in step hold them.
    history: super::history::History,
}

impl Compressor {
    /// Appends a frame update's payload `raw`, compressed with `entropy` and (with zstd) the payload
    /// history as its dictionary, to `out`; then adds `raw` to the history.
    pub(crate) fn compress_update(&mut self, entropy: Entropy, raw: &[u8], out: &mut Vec<u8>) {
        let method = match entropy {
            #[cfg(not(target_arch = "wasm32"))]
            Entropy::Zstd(_) | Entropy::Adaptive if !self.history.window().is_empty() => {
                use super::history::{last, HISTORY_BYTES};
                let large = matches!(entropy, Entropy::Adaptive)
                    && raw.len() > SMALL_PAYLOAD
                    && raw.len() <= HUGE_PAYLOAD;
                let (level, method, dictionary) = match entropy {
                    Entropy::Zstd(level) => (
                        level.clamp(1, 19),
                        ZSTD_HISTORY,
                        last(self.history.window(), HISTORY_BYTES),
                    ),
                    _ if large => (9, ZSTD_LARGE_HISTORY, self.history.window()),
                    _ => (
                        if raw.len() <= SMALL_PAYLOAD { 9 } else { 3 },
                        ZSTD_HISTORY,
                        last(self.history.window(), HISTORY_BYTES),
                    ),
                };
                match super::history::compress(raw, level, dictionary, &mut self.packed) {
                    Ok(()) => method,
                    Err(()) => self.zstd_or_deflate(raw, level),
                }
            }
            _ => self.method_for(entropy, raw),
        };
        self.finish(method, raw, out);
        self.history.append(raw);
    }

    /// Forgets the payload history (after a checkpoint; the next update says so with `ResetHistory`).
    pub(crate) fn reset_history(&mut self) {
        self.history.clear();
    }

    /// Appends `raw` compressed with `entropy` to `out`, as [`compress`] does.
    pub(crate) fn compress(&mut self, entropy: Entropy, raw: &[u8], out: &mut Vec<u8>) {
        let method = self.method_for(entropy, raw);
        self.finish(method, raw, out);
    }

    /// Compresses `raw` into `self.packed`; returns the method.
    fn method_for(&mut self, entropy: Entropy, raw: &[u8]) -> u8 {
        match entropy {
            Entropy::Stored => STORED,
            Entropy::Lz4 => {
                self.packed = lz4_flex::block::compress(raw);
                LZ4
            }
            Entropy::Deflate(level) => self.deflate(raw, level),
            Entropy::Zstd(level) => self.zstd_or_deflate(raw, level),
            Entropy::Adaptive => {
                self.zstd_or_deflate(raw, if raw.len() <= SMALL_PAYLOAD { 9 } else { 1 })
            }
        }
    }

    /// Appends the payload header and the packed bytes (or `raw` itself when packing did not pay).
    fn finish(&self, method: u8, raw: &[u8], out: &mut Vec<u8>) {
        if method != STORED && self.packed.len() < raw.len() {
            out.push(method);
            crate::wire::put_varint(out, raw.len() as u64);
            crate::wire::put_varint(out, self.packed.len() as u64);
            out.extend_from_slice(&self.packed);
        } else {
            out.push(STORED);
            crate::wire::put_varint(out, raw.len() as u64);
            out.extend_from_slice(raw);
        }
    }

    fn deflate(&mut self, raw: &[u8], level: u8) -> u8 {
        self.packed = miniz_oxide::deflate::compress_to_vec(raw, level.clamp(1, 9));
        DEFLATE
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn zstd_or_deflate(&mut self, raw: &[u8], level: i32) -> u8 {
        let level = level.clamp(1, 19);
        if self.zstd.is_none() {
            self.zstd = zstd::bulk::Compressor::new(level)
                .ok()
                .map(|context| (context, level));
        }
        let Some((context, context_level)) = self.zstd.as_mut() else {
            return self.deflate(raw, 6);
        };
        if *context_level != level {
            if context.set_compression_level(level).is_err() {
                return self.deflate(raw, 6);
            }
            *context_level = level;
        }
        self.packed.clear();
        self.packed
            .reserve(zstd::zstd_safe::compress_bound(raw.len()));
        match context.compress_to_buffer(raw, &mut self.packed) {
            Ok(_) => ZSTD,
            Err(_) => self.deflate(raw, 6),
        }
    }

    #[cfg(target_arch = "wasm32")]
    fn zstd_or_deflate(&mut self, raw: &[u8], level: i32) -> u8 {
        self.deflate(raw, if level > 3 { 6 } else { 1 })
    }
}

/// Reads what [`compress`] or [`Compressor::compress_update`] wrote; `max_raw` bounds the memory a
/// hostile packet can make us allocate. `history` is the payload history for frame updates, its last
/// [`LARGE_HISTORY_BYTES`](super::history::LARGE_HISTORY_BYTES) at least (`None` where there is
/// none: checkpoints, cursor shapes).
pub(crate) fn decompress(
    reader: &mut crate::wire::Reader<'_>,
    max_raw: usize,
    history: Option<&[u8]>,
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
        ZSTD_HISTORY | ZSTD_LARGE_HISTORY => {
            use super::history::{last, HISTORY_BYTES, LARGE_HISTORY_BYTES};
            let Some(history) = history else {
                return Err(Error::Malformed("payload history where there is none"));
            };
            let window = if method == ZSTD_HISTORY {
                HISTORY_BYTES
            } else {
                LARGE_HISTORY_BYTES
            };
            super::history::decompress(packed, raw_len, last(history, window))?
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::codec::noise;
    use crate::wire::Reader;

    #[test]
    fn large_payloads_reach_back_a_mebibyte() {
        let mut compressor = Compressor::default();
        let mut decoder_history = super::super::history::History::default();
        let old = noise(7, 600_000);
        let filler = noise(9, 300_000);
        for payload in [&old, &filler] {
            let mut out = Vec::new();
            compressor.compress_update(Entropy::Adaptive, payload, &mut out);
            decoder_history.append(payload);
        }
        // Content from 900 KB back: beyond the small dictionary, inside the large one.
        let payload: Vec<u8> = [&old[1_000..60_000], &noise(11, 1_000)[..]].concat();
        let mut out = Vec::new();
        compressor.compress_update(Entropy::Adaptive, &payload, &mut out);
        assert_eq!(out[0], ZSTD_LARGE_HISTORY);
        assert!(out.len() < 4_000, "{} bytes", out.len());
        let decoded = decompress(
            &mut Reader::new(&out),
            1 << 20,
            Some(decoder_history.window()),
        )
        .unwrap();
        assert_eq!(decoded, payload);
        // A decoder holding only the last 256 KiB cannot decode it (an error or other bytes).
        let short = super::super::history::last(decoder_history.window(), 256 * 1024);
        assert_ne!(
            decompress(&mut Reader::new(&out), 1 << 20, Some(short)).ok(),
            Some(payload)
        );
        // Small payloads keep the short dictionary.
        let mut out = Vec::new();
        compressor.compress_update(Entropy::Adaptive, &filler[290_000..291_000], &mut out);
        assert_eq!(out[0], ZSTD_HISTORY);
    }
}
