//! Plain pixels, for rectangles whose entropy stage finds the structure itself.

use crate::error::{Error, Result};
use crate::frame::{Rect, SourceRows};

/// Appends the pixels of `rect` (at most 256 wide): B, G, R, and A unless every pixel is opaque.
/// Returns true when the rectangle was opaque (3 bytes per pixel were written).
///
/// One pass packs each row to 3 bytes per pixel while checking alpha; a translucent pixel (rare on
/// screens) rewinds and writes all 4 channels.
pub(crate) fn encode(src: &SourceRows<'_>, rect: &Rect, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    out.reserve(rect.area() as usize * 3);
    let mut packed = [0u8; 256 * 3];
    let mut alpha = u32::MAX;
    for y in rect.y..rect.bottom() {
        let row = src.span(rect, y);
        let dst = &mut packed[..row.len() / 4 * 3];
        alpha &= pack_opaque(row, dst);
        out.extend_from_slice(dst);
    }
    if alpha >> 24 == 0xff {
        return true;
    }
    out.truncate(start);
    out.reserve(rect.area() as usize * 4);
    for y in rect.y..rect.bottom() {
        out.extend_from_slice(src.span(rect, y));
    }
    false
}

/// Writes B, G, R of each pixel of `row` into `dst` (3/4 of its length); returns the AND of all
/// pixels (its top byte is 0xff when all are opaque). Four pixels at a time as three 32-bit words.
fn pack_opaque(row: &[u8], dst: &mut [u8]) -> u32 {
    let mut and = u32::MAX;
    let quads = row.chunks_exact(16);
    let tail = quads.remainder();
    let mut dst_quads = dst.chunks_exact_mut(12);
    for (q, d) in quads.zip(&mut dst_quads) {
        let p = |i: usize| u32::from_le_bytes(q[i..i + 4].try_into().expect("4 bytes"));
        let (p0, p1, p2, p3) = (p(0), p(4), p(8), p(12));
        and &= p0 & p1 & p2 & p3;
        d[0..4].copy_from_slice(&(p0 & 0x00ff_ffff | p1 << 24).to_le_bytes());
        d[4..8].copy_from_slice(&((p1 >> 8) & 0xffff | p2 << 16).to_le_bytes());
        d[8..12].copy_from_slice(&((p2 >> 16) & 0xff | p3 << 8).to_le_bytes());
    }
    for (px, d) in tail
        .chunks_exact(4)
        .zip(dst_quads.into_remainder().chunks_exact_mut(3))
    {
        d.copy_from_slice(&px[..3]);
        and &= u32::from(px[3]) << 24 | 0x00ff_ffff;
    }
    and
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_every_width_and_tells_alpha() {
        for width in 1..=37usize {
            let row: Vec<u8> = (0..width * 4)
                .map(|i| if i % 4 == 3 { 255 } else { (i * 7) as u8 })
                .collect();
            let mut dst = vec![0u8; width * 3];
            assert_eq!(pack_opaque(&row, &mut dst) >> 24, 0xff, "{width}");
            let expect: Vec<u8> = row
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            assert_eq!(dst, expect, "{width}");
            for translucent in 0..width {
                let mut row = row.clone();
                row[translucent * 4 + 3] = 254;
                assert_ne!(
                    pack_opaque(&row, &mut dst) >> 24,
                    0xff,
                    "{width} {translucent}"
                );
            }
        }
    }
}
