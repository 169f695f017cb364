//! Plain pixels, for rectangles whose entropy stage finds the structure itself.

use crate::error::{Error, Result};
use crate::frame::{Rect, SourceRows};

/// Appends the pixels of `rect`: B, G, R (and A unless `opaque`).
pub(crate) fn encode(src: &SourceRows<'_>, rect: &Rect, opaque: bool, out: &mut Vec<u8>) {
    let channels = if opaque { 3 } else { 4 };
    out.reserve(rect.area() as usize * channels);
    for y in rect.y..rect.bottom() {
        let row = src.span(rect, y);
        if opaque {
            for px in row.chunks_exact(4) {
                out.extend_from_slice(&px[..3]);
            }
        } else {
            out.extend_from_slice(row);
        }
    }
}

/// Reads what [`encode`] wrote into `out` (canonical BGRA).
pub(crate) fn decode(data: &mut &[u8], alpha: bool, out: &mut [u8]) -> Result<()> {
    let channels = if alpha { 4 } else { 3 };
    let (pixels, rest) = data
        .split_at_checked(out.len() / 4 * channels)
        .ok_or(Error::Truncated("raw pixels"))?;
    if alpha {
        out.copy_from_slice(pixels);
    } else {
        for (px, p) in out.chunks_exact_mut(4).zip(pixels.chunks_exact(3)) {
            px[..3].copy_from_slice(p);
            px[3] = 255;
        }
    }
    *data = rest;
    Ok(())
}
