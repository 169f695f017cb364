//! The grid of square tiles the screen is cut into: what the encoder diffs, caches and codes per tile,
//! and what the decoder's tile ops address.

use crate::frame::Rect;

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

    /// Screen width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Screen height in pixels.
    pub fn height(&self) -> u32 {
        self.height
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
