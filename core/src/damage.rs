//! Dirty-region detection: which tiles changed between two frames, tightened to the changed pixels.
//!
//! The screen is cut into a grid of square tiles ([`TileGrid`], from `tiles`). [`detect`] compares two frames row by
//! row: an unchanged row costs one slice compare (a `memcmp`), so an unchanged frame costs about as much
//! as comparing the two buffers once. Only rows that differ are split into tile segments, and inside a
//! changed segment the first and last changed pixel tighten the tile's dirty rectangle.
//!
//! Capture APIs that report damage themselves (XDamage, DXGI dirty rects, PipeWire damage) pass those
//! rectangles as hints; only pixels inside them are compared.

use crate::frame::{Frame, Rect};
use crate::tiles::TileGrid;

/// One changed tile and the smallest rectangle holding all of its changed pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirtyTile {
    /// Raster index in the [`TileGrid`].
    pub index: u32,
    /// Changed pixels, in screen coordinates, inside the tile.
    pub rect: Rect,
}

/// Compares `cur` with `prev` (same size and pixel format) and returns the changed tiles of a
/// `tile`-sized grid in raster order. With `hints`, only pixels inside the hint rectangles are compared
/// (pixels outside are taken as unchanged); hints are clipped to the screen.
///
/// ```
/// use glimpse::internals::damage;
/// use glimpse::{Frame, PixelFormat, Rect};
/// let a = vec![0u8; 100 * 100 * 4];
/// let mut b = a.clone();
/// b[(50 * 100 + 70) * 4] = 9; // pixel (70, 50)
/// let prev = Frame::new(&a, 100, 100, 400, PixelFormat::Bgra8)?;
/// let cur = Frame::new(&b, 100, 100, 400, PixelFormat::Bgra8)?;
/// let dirty = damage::detect(&prev, &cur, None, 64);
/// assert_eq!(dirty.len(), 1);
/// assert_eq!(dirty[0].rect, Rect::new(70, 50, 1, 1));
/// # Ok::<(), glimpse::Error>(())
/// ```
pub fn detect(
    prev: &Frame<'_>,
    cur: &Frame<'_>,
    hints: Option<&[Rect]>,
    tile: u32,
) -> Vec<DirtyTile> {
    let width = prev.width().min(cur.width());
    let height = prev.height().min(cur.height());
    let grid = TileGrid::new(width, height, tile);
    let mut out = Vec::new();
    let full = [Rect::new(0, 0, width, height)];
    let regions = hints.unwrap_or(&full);
    detect_with(&grid, |y| prev.row(y), |y| cur.row(y), regions, &mut out);
    out
}

/// Per-tile dirty bounds being accumulated for one band of tile rows.
#[derive(Clone, Copy)]
struct Bounds {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

/// Core of [`detect`], over any row accessors (caller frames, the encoder's packed mirror).
pub(crate) fn detect_with<'p, 'c>(
    grid: &TileGrid,
    prev_row: impl Fn(u32) -> &'p [u8],
    cur_row: impl Fn(u32) -> &'c [u8],
    regions: &[Rect],
    out: &mut Vec<DirtyTile>,
) {
    let screen = Rect::new(0, 0, grid.width(), grid.height());
    let clipped: Vec<Rect> = regions
        .iter()
        .filter_map(|r| r.intersect(&screen))
        .collect();
    if clipped.is_empty() {
        return;
    }
    let tile = grid.tile_size();
    let mut acc: Vec<Option<Bounds>> = vec![None; grid.cols() as usize];
    for band in 0..grid.rows() {
        let band_rect = Rect::new(
            0,
            band * tile,
            grid.width(),
            tile.min(grid.height() - band * tile),
        );
        let mut any = false;
        for region in clipped.iter().filter_map(|r| r.intersect(&band_rect)) {
            let (bx0, bx1) = (region.x as usize * 4, region.right() as usize * 4);
            for y in region.y..region.bottom() {
                let p = &prev_row(y)[bx0..bx1];
                let c = &cur_row(y)[bx0..bx1];
                if p == c {
                    continue;
                }
                any = true;
                let mut x = region.x;
                while x < region.right() {
                    let seg_end = ((x / tile + 1) * tile).min(region.right());
                    let (s0, s1) = (
                        (x - region.x) as usize * 4,
                        (seg_end - region.x) as usize * 4,
                    );
                    let (ps, cs) = (&p[s0..s1], &c[s0..s1]);
                    if ps != cs {
                        let first = first_diff_pixel(ps, cs);
                        let last = last_diff_pixel(ps, cs);
                        let (dx0, dx1) = (x + first, x + last + 1);
                        let slot = &mut acc[(x / tile) as usize];
                        *slot = Some(match *slot {
                            None => Bounds {
                                x0: dx0,
                                y0: y,
                                x1: dx1,
                                y1: y + 1,
                            },
                            Some(b) => Bounds {
                                x0: b.x0.min(dx0),
                                y0: b.y0.min(y),
                                x1: b.x1.max(dx1),
                                y1: b.y1.max(y + 1),
                            },
                        });
                    }
                    x = seg_end;
                }
            }
        }
        if any {
            for (col, slot) in acc.iter_mut().enumerate() {
                if let Some(b) = slot.take() {
                    out.push(DirtyTile {
                        index: band * grid.cols() + col as u32,
                        rect: Rect::new(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0),
                    });
                }
            }
        }
    }
}

fn first_diff_pixel(a: &[u8], b: &[u8]) -> u32 {
    a.chunks_exact(4)
        .zip(b.chunks_exact(4))
        .position(|(x, y)| x != y)
        .unwrap_or(0) as u32
}

fn last_diff_pixel(a: &[u8], b: &[u8]) -> u32 {
    let n = a.len() / 4;
    (0..n)
        .rev()
        .find(|&i| a[i * 4..i * 4 + 4] != b[i * 4..i * 4 + 4])
        .unwrap_or(0) as u32
}
