//! Plain pixels, for rectangles whose entropy stage finds the structure itself.

use crate::error::{Error, Result};
use crate::frame::{Rect, SourceRows};

/// How [`encode`] wrote a rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// B, G, R per pixel (every pixel opaque).
    Opaque,
    /// Every pixel opaque, on the line between two colours (see [`super::line`]).
    Line,
    /// B, G, R, A per pixel.
    Alpha,
    /// One byte per pixel: every pixel opaque and grey (B = G = R), like anti-aliased black or white
    /// text. A third of the bytes, and the same glyph gives the same bytes whatever the tile, so the
    /// entropy stage and the payload history go three times as far.
    Grey,
}

/// Appends the pixels of `rect` (at most 256 wide): one byte per pixel when every pixel is opaque
/// grey, a colour line when `lines` and the pixels lie on one (see [`super::line`]), else B, G, R,
/// and A unless every pixel is opaque. `scratch` is working memory.
///
/// One pass packs each row to 3 bytes per pixel while checking alpha and greyness; a grey rectangle
/// is then narrowed in place to 1 byte per pixel, and a translucent pixel (rare on screens) rewinds
/// and writes all 4 channels.
pub(crate) fn encode(
    src: &SourceRows<'_>,
    rect: &Rect,
    out: &mut Vec<u8>,
    lines: bool,
    scratch: &mut Vec<u8>,
) -> Layout {
    let start = out.len();
    out.reserve(rect.area() as usize * 3);
    let mut packed = [0u8; 256 * 3];
    let (mut alpha, mut colour) = (u32::MAX, 0u32);
    for y in rect.y..rect.bottom() {
        let row = src.span(rect, y);
        let dst = &mut packed[..row.len() / 4 * 3];
        let (and, tint) = pack_opaque(row, dst);
        alpha &= and;
        colour |= tint;
        out.extend_from_slice(dst);
    }
    if alpha >> 24 == 0xff {
        if colour != 0 {
            if lines && super::line::encode(out, start, scratch) {
                return Layout::Line;
            }
            return Layout::Opaque;
        }
        // Grey: keep every third byte (B), in place.
        let pixels = rect.area() as usize;
        for i in 0..pixels {
            out[start + i] = out[start + 3 * i];
        }
        out.truncate(start + pixels);
        return Layout::Grey;
    }
    out.truncate(start);
    out.reserve(rect.area() as usize * 4);
    for y in rect.y..rect.bottom() {
        out.extend_from_slice(src.span(rect, y));
    }
    Layout::Alpha
}

/// Writes B, G, R of each pixel of `row` into `dst` (3/4 of its length); returns the AND of all
/// pixels (its top byte is 0xff when all are opaque) and a word that is 0 when every pixel is grey
/// (B = G = R). Four pixels at a time as three 32-bit words.
fn pack_opaque(row: &[u8], dst: &mut [u8]) -> (u32, u32) {
    let (mut and, mut tint) = (u32::MAX, 0u32);
    // Non-zero when B != G or G != R.
    let colour = |p: u32| (p ^ p >> 8) & 0xffff;
    let quads = row.chunks_exact(16);
    let tail = quads.remainder();
    let mut dst_quads = dst.chunks_exact_mut(12);
    for (q, d) in quads.zip(&mut dst_quads) {
        let p = |i: usize| u32::from_le_bytes(q[i..i + 4].try_into().expect("4 bytes"));
        let (p0, p1, p2, p3) = (p(0), p(4), p(8), p(12));
        and &= p0 & p1 & p2 & p3;
        tint |= colour(p0) | colour(p1) | colour(p2) | colour(p3);
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
        tint |= colour(u32::from_le_bytes(px.try_into().expect("4 bytes")));
    }
    (and, tint)
}

/// Reads a [`Layout::Grey`] rectangle into `out` (canonical BGRA).
pub(crate) fn decode_grey(data: &mut &[u8], out: &mut [u8]) -> Result<()> {
    let (levels, rest) = data
        .split_at_checked(out.len() / 4)
        .ok_or(Error::Truncated("grey pixels"))?;
    for (px, &v) in out.chunks_exact_mut(4).zip(levels) {
        px.copy_from_slice(&[v, v, v, 255]);
    }
    *data = rest;
    Ok(())
}

/// Reads what [`encode`] wrote as [`Layout::Opaque`] or [`Layout::Alpha`] into `out` (canonical BGRA).
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
            let (and, tint) = pack_opaque(&row, &mut dst);
            assert_eq!(and >> 24, 0xff, "{width}");
            assert_ne!(tint, 0, "{width}: coloured pixels");
            let expect: Vec<u8> = row
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            assert_eq!(dst, expect, "{width}");
            for translucent in 0..width {
                let mut row = row.clone();
                row[translucent * 4 + 3] = 254;
                assert_ne!(
                    pack_opaque(&row, &mut dst).0 >> 24,
                    0xff,
                    "{width} {translucent}"
                );
            }
            // Grey rows are told apart, whichever pixel breaks them.
            let grey: Vec<u8> = (0..width * 4)
                .map(|i| if i % 4 == 3 { 255 } else { (i / 4 * 9) as u8 })
                .collect();
            assert_eq!(pack_opaque(&grey, &mut dst).1, 0, "{width}");
            for tinted in 0..width * 4 {
                if tinted % 4 == 3 {
                    continue;
                }
                let mut row = grey.clone();
                row[tinted] ^= 1;
                assert_ne!(pack_opaque(&row, &mut dst).1, 0, "{width} {tinted}");
            }
        }
    }

    #[test]
    fn grey_rectangles_take_one_byte_per_pixel() {
        let (w, h) = (37u32, 5u32);
        let pixels: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let v = (i * 7) as u8;
                [v, v, v, 255]
            })
            .collect();
        let src = SourceRows {
            data: &pixels,
            stride: w as usize * 4,
            width: w,
            height: h,
        };
        let rect = Rect::new(3, 1, 30, 4);
        let mut out = vec![9u8];
        assert_eq!(
            encode(&src, &rect, &mut out, true, &mut Vec::new()),
            Layout::Grey
        );
        assert_eq!(out.len(), 1 + 30 * 4);
        let mut back = vec![0u8; 30 * 4 * 4];
        let mut data = &out[1..];
        decode_grey(&mut data, &mut back).unwrap();
        assert!(data.is_empty());
        let expect: Vec<u8> = (1..5)
            .flat_map(|y| pixels[(y * 37 + 3) * 4..(y * 37 + 33) * 4].to_vec())
            .collect();
        assert_eq!(back, expect);
        assert!(decode_grey(&mut &out[1..100], &mut back).is_err());
    }
}
