//! Items for benchmarks, tests and experiments (the corpus report, `benches/`, the property tests):
//! not the SDK's API, hidden from its docs, free to change in any release.

/// Dirty-region detection (the encoder's first stage) and the tile grid it works on.
pub mod damage {
    pub use crate::damage::{detect, DirtyTile};
    pub use crate::tiles::{TileGrid, TILE_SIZE};
}

pub use crate::codec::{encode_rects, TileCoder};
use crate::Rect;

/// Peak signal-to-noise ratio in dB between two BGRA images of `width` x `height` at `stride`, over
/// the R, G and B channels (alpha ignored). Identical images give `f64::INFINITY`; buffers too short for
/// the geometry give `f64::NAN`.
#[must_use]
pub fn psnr_bgra(a: &[u8], b: &[u8], width: u32, height: u32, stride: usize) -> f64 {
    let (w, h) = (width as usize, height as usize);
    let needed = match h
        .checked_sub(1)
        .and_then(|rows| rows.checked_mul(stride)?.checked_add(w.checked_mul(4)?))
    {
        Some(n) if w > 0 && stride >= w * 4 => n,
        _ => return f64::NAN,
    };
    if a.len() < needed || b.len() < needed {
        return f64::NAN;
    }
    let mut sum: u64 = 0;
    for y in 0..h {
        let row_a = &a[y * stride..y * stride + w * 4];
        let row_b = &b[y * stride..y * stride + w * 4];
        for (pa, pb) in row_a.chunks_exact(4).zip(row_b.chunks_exact(4)) {
            for c in 0..3 {
                let d = i64::from(pa[c]) - i64::from(pb[c]);
                sum += (d * d) as u64;
            }
        }
    }
    if sum == 0 {
        return f64::INFINITY;
    }
    let mse = sum as f64 / (w * h * 3) as f64;
    10.0 * (255.0 * 255.0 / mse).log10()
}

/// The rows of `rect` in packed BGRA `pixels` of a screen `width` pixels wide.
fn rows_of<'a>(pixels: &'a [u8], width: u32, rect: &Rect) -> impl Iterator<Item = &'a [u8]> + 'a {
    let rect = *rect;
    (rect.y..rect.bottom()).map(move |y| {
        let start = (y * width + rect.x) as usize * 4;
        &pixels[start..start + rect.width as usize * 4]
    })
}

/// True when packed BGRA screens `a` and `b`, `width` pixels wide, agree on every pixel outside
/// `lossy` (e.g. [`Encoder::lossy_rects`](crate::Encoder::lossy_rects)). Panics if a rectangle lies
/// outside the buffers.
#[must_use]
pub fn equal_outside(a: &[u8], b: &[u8], width: u32, lossy: &[Rect]) -> bool {
    let mut masked_a = a.to_vec();
    for r in lossy {
        for y in r.y..r.bottom() {
            let start = (y * width + r.x) as usize * 4;
            let end = start + r.width as usize * 4;
            masked_a[start..end].copy_from_slice(&b[start..end]);
        }
    }
    masked_a == b
}

/// PSNR in dB over R, G, B of the pixels inside `lossy` of packed BGRA screens `a` and `b`, `width`
/// pixels wide; 99 when they agree there. Panics if a rectangle lies outside the buffers.
#[must_use]
pub fn psnr_inside(a: &[u8], b: &[u8], width: u32, lossy: &[Rect]) -> f64 {
    let (mut sum, mut n) = (0f64, 0u64);
    for r in lossy {
        for (ra, rb) in rows_of(a, width, r).zip(rows_of(b, width, r)) {
            for (pa, pb) in ra.chunks_exact(4).zip(rb.chunks_exact(4)) {
                for c in 0..3 {
                    let d = f64::from(pa[c]) - f64::from(pb[c]);
                    sum += d * d;
                }
                n += 3;
            }
        }
    }
    if sum == 0.0 {
        return 99.0;
    }
    10.0 * (255.0f64 * 255.0 / (sum / n as f64)).log10()
}
