//! Tiles: the grid the screen is cut into, content keys per tile, the tile cache both sides keep in step, and scroll/move
//! detection.

pub(crate) mod cache;
pub(crate) mod glyphs;
mod grid;
pub(crate) mod motion;

use xxhash_rust::xxh3::Xxh3;

use crate::frame::{Rect, SourceRows};
pub use grid::{TileGrid, TILE_SIZE};

/// Identifies tile content: a 128-bit XXH3 of the pixels plus the tile's size, so edge tiles of
/// different shapes never match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TileKey {
    hash: u128,
    width: u16,
    height: u16,
}

impl TileKey {
    pub fn of(src: &SourceRows<'_>, rect: &Rect) -> Self {
        let mut hasher = Xxh3::new();
        for y in rect.y..rect.bottom() {
            hasher.update(src.span(rect, y));
        }
        TileKey {
            hash: hasher.digest128(),
            width: rect.width as u16,
            height: rect.height as u16,
        }
    }
}

impl TileKey {
    /// A key no tile content has (zero size): for cache entries whose pixels differ between viewers.
    pub fn never_matching(n: u32) -> Self {
        TileKey {
            hash: u128::from(n),
            width: 0,
            height: 0,
        }
    }
}

/// The single colour of `rect`, if it has one.
pub(crate) fn solid_color(src: &SourceRows<'_>, rect: &Rect) -> Option<u32> {
    let first = src.pixel(rect.x, rect.y).to_le_bytes();
    (rect.y..rect.bottom())
        .all(|y| src.span(rect, y).chunks_exact(4).all(|px| px == first))
        .then(|| u32::from_le_bytes(first))
}
