//! Left-predicted coding for rectangles with many colours.

use crate::error::{Error, Result};
use crate::frame::{Rect, SourceRows};

/// Appends each pixel minus its predictor (left neighbour; top neighbour in the first column), after the
/// green channel was subtracted from red and blue. 3 bytes per pixel, or 4 with alpha.
pub(crate) fn encode(src: &SourceRows<'_>, rect: &Rect, opaque: bool, out: &mut Vec<u8>) {
    let channels = if opaque { 3 } else { 4 };
    out.reserve(rect.area() as usize * channels);
    let mut above = [0u8; 4];
    for y in rect.y..rect.bottom() {
        let row = src.span(rect, y);
        let mut prev = decorrelate(&row[..4]);
        let first = sub(prev, above);
        out.extend_from_slice(&first[..channels]);
        above = prev;
        for px in row[4..].chunks_exact(4) {
            let cur = decorrelate(px);
            out.extend_from_slice(&sub(cur, prev)[..channels]);
            prev = cur;
        }
    }
}

/// Reads what [`encode`] wrote for a rectangle `width` pixels wide into `out` (canonical BGRA).
pub(crate) fn decode(data: &mut &[u8], width: u32, alpha: bool, out: &mut [u8]) -> Result<()> {
    let channels = if alpha { 4 } else { 3 };
    let pixels = out.len() / 4;
    let (residuals, rest) = data
        .split_at_checked(pixels * channels)
        .ok_or(Error::Truncated("predicted pixels"))?;
    let width = width as usize;
    let mut above = [0u8; 4];
    let mut prev = [0u8; 4];
    for (p, (px, res)) in out
        .chunks_exact_mut(4)
        .zip(residuals.chunks_exact(channels))
        .enumerate()
    {
        let mut r = [0u8; 4];
        r[..channels].copy_from_slice(res);
        let predictor = if p % width == 0 { above } else { prev };
        let mut cur = add(r, predictor);
        if !alpha {
            cur[3] = 255;
        }
        if p % width == 0 {
            above = cur;
        }
        prev = cur;
        px.copy_from_slice(&correlate(cur));
    }
    *data = rest;
    Ok(())
}

#[inline]
fn decorrelate(px: &[u8]) -> [u8; 4] {
    [
        px[0].wrapping_sub(px[1]),
        px[1],
        px[2].wrapping_sub(px[1]),
        px[3],
    ]
}

#[inline]
fn correlate(v: [u8; 4]) -> [u8; 4] {
    [v[0].wrapping_add(v[1]), v[1], v[2].wrapping_add(v[1]), v[3]]
}

#[inline]
fn sub(a: [u8; 4], b: [u8; 4]) -> [u8; 4] {
    std::array::from_fn(|i| a[i].wrapping_sub(b[i]))
}

#[inline]
fn add(a: [u8; 4], b: [u8; 4]) -> [u8; 4] {
    std::array::from_fn(|i| a[i].wrapping_add(b[i]))
}
