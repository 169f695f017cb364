//! Dirty-region detection: which tiles changed between two frames, tightened to the changed pixels.
//!
//! The screen is cut into a grid of square tiles ([`TileGrid`]). [`detect`] compares two frames row by
//! row: an unchanged row costs one slice compare (a `memcmp`), so an unchanged frame costs about as much
//! as comparing the two buffers once. Only rows that differ are split into tile segments, and inside a
//! changed segment the first and last changed pixel tighten the tile's dirty rectangle.
//!
//! Capture APIs that report damage themselves (XDamage, DXGI dirty rects, PipeWire damage) pass those
//! rectangles as hints; only pixels inside them are compared.

use crate::frame::{Frame, Rect};

/// Tile edge length used by the encoder, in pixels.
pub const TILE_SIZE: u32 = 64;

/// A grid of `tile` x `tile` squares over a `width` x `height` screen; the last column and row may be
/// narrower. Tiles are numbered in raster order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileGrid {
    width: u32,
    height: u32,
    tile: u32,
    cols: u32,
    rows: u32,
}

impl TileGrid {
    /// The grid for a screen. `tile` must be at least 1.
    pub fn new(width: u32, height: u32, tile: u32) -> Self {
        let tile = tile.max(1);
        TileGrid {
            width,
            height,
            tile,
            cols: width.div_ceil(tile),
            rows: height.div_ceil(tile),
        }
    }

    /// Tile edge length.
    pub fn tile_size(&self) -> u32 {
        self.tile
    }

    /// Tiles per row.
    pub fn cols(&self) -> u32 {
        self.cols
    }

    /// Rows of tiles.
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// Number of tiles.
    pub fn len(&self) -> u32 {
        self.cols * self.rows
    }

    /// True for a grid without tiles (never for a valid screen).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The screen rectangle of tile `index` (`index < len()`).
    pub fn tile_rect(&self, index: u32) -> Rect {
        let (c, r) = (index % self.cols, index / self.cols);
        let x = c * self.tile;
        let y = r * self.tile;
        Rect::new(
            x,
            y,
            self.tile.min(self.width - x),
            self.tile.min(self.height - y),
        )
    }

    /// The index of the tile holding pixel `x, y`.
    pub fn index_at(&self, x: u32, y: u32) -> u32 {
        (y / self.tile) * self.cols + x / self.tile
    }

    /// Indices of all tiles that `rect` touches, in raster order.
    pub fn tiles_touching(&self, rect: &Rect) -> impl Iterator<Item = u32> + '_ {
        let c0 = rect.x / self.tile;
        let c1 = rect.right().min(self.width).saturating_sub(1) / self.tile;
        let r0 = rect.y / self.tile;
        let r1 = rect.bottom().min(self.height).saturating_sub(1) / self.tile;
        let empty = rect.is_empty() || rect.x >= self.width || rect.y >= self.height;
        let rows = if empty { 1..1 } else { r0..r1 + 1 };
        rows.flat_map(move |r| (c0..=c1).map(move |c| r * self.cols + c))
    }
}

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
/// use glimpse::{damage, Frame, PixelFormat, Rect};
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
    let screen = Rect::new(0, 0, grid.width, grid.height);
    let clipped: Vec<Rect> = regions
        .iter()
        .filter_map(|r| r.intersect(&screen))
        .collect();
    if clipped.is_empty() {
        return;
    }
    let tile = grid.tile;
    let mut acc: Vec<Option<Bounds>> = vec![None; grid.cols as usize];
    for band in 0..grid.rows {
        let band_rect = Rect::new(
            0,
            band * tile,
            grid.width,
            tile.min(grid.height - band * tile),
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
                        index: band * grid.cols + col as u32,
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
