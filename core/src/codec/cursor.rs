//! Cursor images: one rectangle coded as tiles are (behind its mode byte), through the entropy stage
//! on its own. `protocol` frames the result; the pixel format is decided here.

use super::{
    compress, decode_rect, decompress, encode_rect, Coded, Entropy, Scratch, Strategy, TileMode,
};
use crate::error::{Error, Result};
use crate::frame::{Rect, SourceRows};
use crate::wire::Reader;

/// Appends the coded pixels of a cursor image (`width * height` canonical BGRA pixels, packed) to
/// `out`: a mode byte and the coded rectangle, compressed with `entropy`.
pub(crate) fn encode(pixels: &[u8], width: u32, height: u32, entropy: Entropy, out: &mut Vec<u8>) {
    let rows = SourceRows {
        data: pixels,
        stride: width as usize * 4,
        width,
        height,
    };
    let rect = Rect::new(0, 0, width, height);
    let mut payload = vec![0u8];
    let mut scratch = Scratch::default();
    payload[0] = match encode_rect(
        &rows,
        &rect,
        &mut payload,
        &mut scratch,
        Strategy::for_entropy(entropy),
    ) {
        Coded::Tile(mode) => mode as u8,
        Coded::Fill(_) => {
            // One colour: code it as a one-entry palette so the reader has a single path.
            payload.truncate(1);
            payload.push(0);
            payload.extend_from_slice(&pixels[..4]);
            let area = width as usize * height as usize;
            payload.resize(payload.len() + area.div_ceil(8), 0);
            TileMode::PaletteAlpha as u8
        }
    };
    compress(entropy, &payload, out);
}

/// Reads what [`encode`] wrote for a `width` x `height` image: canonical BGRA pixels, packed.
/// `max_payload` bounds the decompressed size.
pub(crate) fn decode(
    r: &mut Reader<'_>,
    width: u32,
    height: u32,
    max_payload: usize,
) -> Result<Vec<u8>> {
    let payload = decompress(r, max_payload, None)?;
    let mut data = &payload[..];
    let (&mode, rest) = data.split_first().ok_or(Error::Truncated("cursor mode"))?;
    data = rest;
    let mut pixels = vec![0u8; width as usize * height as usize * 4];
    decode_rect(
        TileMode::from_u8(mode)?,
        width,
        height,
        &mut data,
        &mut pixels,
    )?;
    if !data.is_empty() {
        return Err(Error::Malformed("trailing bytes in cursor image"));
    }
    Ok(pixels)
}
