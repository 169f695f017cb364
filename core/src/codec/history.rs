//! The payload history: the last payloads of the stream, which both sides keep, as a dictionary for
//! the next one. Typing sends the same glyphs again and again, a terminal the same lines, a scrolled
//! page the same words: with the history in front of it, zstd sends them as back-references.
//!
//! Every frame update's payload (uncompressed) is appended; a checkpoint starts the decoder with an
//! empty history, and the encoder, after making one, starts its next update with a `ResetHistory` op
//! so that viewers in step and viewers that just joined hold the same bytes.

use crate::error::{Error, Result};

/// How many of the latest payload bytes serve as the dictionary of a small payload (measured on the
/// corpus: 64 KiB keeps most of the gain on typing, 256 KiB adds scrolling and terminals; zstd
/// indexes the whole dictionary for every payload, so a larger one costs small payloads time).
pub const HISTORY_BYTES: usize = 256 * 1024;

/// The dictionary of a large payload (a slide, a switched window, a scrolled page: new content
/// that reuses the glyphs and lines of the last few large ones): 1 MiB took 10% off slides and
/// scrolling at 1280x720 against 256 KiB, for about 6 ms more per large update.
pub const LARGE_HISTORY_BYTES: usize = 1024 * 1024;

/// The latest payload bytes, at most [`LARGE_HISTORY_BYTES`] of them in use.
#[derive(Debug, Default, Clone)]
pub(crate) struct History {
    bytes: Vec<u8>,
}

impl History {
    /// Appends a frame update's payload.
    pub fn append(&mut self, payload: &[u8]) {
        self.bytes.extend_from_slice(payload);
        // Trim now and then, not on every append (the window is what counts).
        if self.bytes.len() > 2 * LARGE_HISTORY_BYTES {
            let excess = self.bytes.len() - LARGE_HISTORY_BYTES;
            self.bytes.drain(..excess);
        }
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    /// The largest dictionary: the last [`LARGE_HISTORY_BYTES`] bytes.
    pub fn window(&self) -> &[u8] {
        last(&self.bytes, LARGE_HISTORY_BYTES)
    }
}

/// The last `n` bytes of `bytes` (all of them when shorter).
pub(crate) fn last(bytes: &[u8], n: usize) -> &[u8] {
    &bytes[bytes.len().saturating_sub(n)..]
}

/// zstd-compresses `raw` at `level` with `dictionary` as its raw-content prefix into `packed`
/// (cleared first).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn compress(
    raw: &[u8],
    level: i32,
    dictionary: &[u8],
    packed: &mut Vec<u8>,
) -> std::result::Result<(), ()> {
    use zstd::zstd_safe::{CCtx, CParameter};
    let mut context = CCtx::try_create().ok_or(())?;
    context
        .set_parameter(CParameter::CompressionLevel(level))
        .map_err(|_| ())?;
    context
        .set_parameter(CParameter::ChecksumFlag(false))
        .map_err(|_| ())?;
    // A prefix is raw content: no byte of the history can make zstd read it as a dictionary format.
    context.ref_prefix(dictionary).map_err(|_| ())?;
    packed.clear();
    packed.reserve(zstd::zstd_safe::compress_bound(raw.len()));
    context.compress2(packed, raw).map_err(|_| ())?;
    Ok(())
}

/// Decodes a zstd frame made by [`compress`] with the same `dictionary` into exactly `raw_len`
/// bytes; anything else (a longer or shorter frame, a window beyond what the sizes need, a
/// reference before the dictionary) is an error.
pub(crate) fn decompress(packed: &[u8], raw_len: usize, dictionary: &[u8]) -> Result<Vec<u8>> {
    use ruzstd::decoding::{BlockDecodingStrategy, Dictionary, FrameDecoder};
    const ID: u32 = 1;
    let corrupt = |what| Error::CorruptPayload(what);
    let mut decoder = FrameDecoder::new();
    // zstd sizes the window to cover the prefix and the payload.
    let window = ((raw_len + dictionary.len()) as u64)
        .next_power_of_two()
        .max(1 << 10)
        * 2;
    decoder.set_max_window_size(window);
    decoder
        .add_dict(Dictionary {
            id: ID,
            fse: Default::default(),
            huf: Default::default(),
            dict_content: dictionary.to_vec(),
            offset_hist: [1, 4, 8],
        })
        .map_err(|_| corrupt("zstd dictionary"))?;
    let mut source = packed;
    decoder
        .init(&mut source)
        .map_err(|_| corrupt("zstd frame header"))?;
    decoder
        .force_dict(ID)
        .map_err(|_| corrupt("zstd dictionary"))?;
    let mut raw = Vec::with_capacity(raw_len);
    loop {
        let finished = decoder
            .decode_blocks(&mut source, BlockDecodingStrategy::UptoBytes(64 * 1024))
            .map_err(|_| corrupt("zstd block does not decode"))?;
        if let Some(bytes) = decoder.collect() {
            if raw.len() + bytes.len() > raw_len {
                return Err(corrupt("zstd frame longer than declared"));
            }
            raw.extend_from_slice(&bytes);
        }
        if finished {
            break;
        }
    }
    if let Some(bytes) = decoder.collect() {
        if raw.len() + bytes.len() > raw_len {
            return Err(corrupt("zstd frame longer than declared"));
        }
        raw.extend_from_slice(&bytes);
    }
    if raw.len() != raw_len {
        return Err(corrupt("zstd frame shorter than declared"));
    }
    if !source.is_empty() {
        return Err(corrupt("bytes after the zstd frame"));
    }
    Ok(raw)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::codec::noise;

    #[test]
    fn the_history_makes_repeated_content_cheap_and_round_trips() {
        let mut history = History::default();
        let old = noise(1, 200_000);
        history.append(&old);
        // Content sent before comes back (a glyph, a line, a word), in pieces.
        let payload: Vec<u8> = [
            &old[5_000..12_000],
            &old[150_000..160_000],
            &old[90_000..93_000],
        ]
        .concat();
        let mut with = Vec::new();
        compress(&payload, 9, history.window(), &mut with).unwrap();
        let without = zstd::bulk::compress(&payload, 9).unwrap();
        assert!(
            with.len() * 20 < without.len(),
            "{} vs {}",
            with.len(),
            without.len()
        );
        assert_eq!(
            decompress(&with, payload.len(), history.window()).unwrap(),
            payload
        );
        // Wrong sizes, another dictionary, truncation: errors or other bytes, never a panic.
        assert!(decompress(&with, payload.len() - 1, history.window()).is_err());
        assert!(decompress(&with, payload.len() + 1, history.window()).is_err());
        let other = noise(3, 200_000);
        assert_ne!(
            decompress(&with, payload.len(), &other).ok(),
            Some(payload.clone())
        );
        assert!(decompress(&with, payload.len(), &[]).is_err());
        for cut in [0, 1, 5, with.len() / 2, with.len() - 1] {
            assert!(decompress(&with[..cut], payload.len(), history.window()).is_err());
        }
    }

    #[test]
    fn the_window_is_the_latest_bytes() {
        let mut history = History::default();
        for k in 0..150u32 {
            history.append(&[k as u8; 20_000]);
            assert!(history.window().len() <= LARGE_HISTORY_BYTES);
        }
        assert_eq!(history.window().len(), LARGE_HISTORY_BYTES);
        assert_eq!(*history.window().last().unwrap(), 149);
        assert_eq!(last(history.window(), HISTORY_BYTES).len(), HISTORY_BYTES);
        assert_eq!(last(&[1, 2, 3], 5), &[1, 2, 3]);
        history.clear();
        assert!(history.window().is_empty());
    }
}
