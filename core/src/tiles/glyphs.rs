//! The glyph cache: small shapes drawn on a one-colour background (the glyphs of text, a clock's
//! digits, icons) that both sides keep, so a shape seen before costs a reference wherever it shows up
//! again, at any pixel position (the tile cache only helps whole tiles at the same place; zstd's
//! history only matches row by row, a few bytes per glyph row).
//!
//! A *shape* is a set of 8-connected pixels that differ from the rectangle's background (the most
//! frequent of the colours at 16 spots, when it covers a quarter of the rectangle), taken with every
//! pixel of its bounding box, at most [`MAX_GLYPH_SIDE`] each way
//! and at least [`MIN_GLYPH_PIXELS`] in area. Both sides find the shapes of a coded rectangle the same
//! way ([`shapes`]), so storing them costs nothing on the wire: a `Tile` op flagged "store glyphs"
//! makes both sides add every shape of its rectangle that a reference did not draw, in raster order
//! of their first pixel, as entries `next_id, next_id + 1, ...`. A reference names an entry by its
//! distance back from the newest one. Entry `id` lives until [`GLYPH_CAPACITY`] newer ones were added;
//! a checkpoint and `ResetHistory` empty the cache.

use std::collections::VecDeque;

use super::TileKey;
use crate::fast_hash::FastMap;
use crate::frame::{Rect, SourceRows};

/// Largest side of a cached glyph in pixels.
pub const MAX_GLYPH_SIDE: u32 = 32;
/// Smallest glyph area: smaller shapes cost less as pixels than as a reference.
pub const MIN_GLYPH_PIXELS: u32 = 24;
/// Glyphs both sides keep (at most 4 KiB each: 8 MiB on a viewer at worst).
pub const GLYPH_CAPACITY: u64 = 2048;

/// The background of a `w` x `h` rectangle of packed pixels: of the colours at 16 spots spread over
/// it, the most frequent in the whole rectangle if it covers a quarter of it (a band of text cut
/// tight around its ink has little more; a photograph has none); on a tie, the one whose spot comes
/// first. The same in any byte order, and linear time whatever the pixels (no sorting, no hashing of
/// what a peer sent).
fn background(pixels: &[u32], w: usize, h: usize) -> Option<u32> {
    let mut candidates: Vec<(u32, usize)> = Vec::with_capacity(16);
    for j in 0..4 {
        for i in 0..4 {
            let (x, y) = ((2 * i + 1) * w / 8, (2 * j + 1) * h / 8);
            let c = pixels[y * w + x];
            if !candidates.iter().any(|&(k, _)| k == c) {
                candidates.push((c, 0));
            }
        }
    }
    for &p in pixels {
        if let Some(entry) = candidates.iter_mut().find(|(k, _)| *k == p) {
            entry.1 += 1;
        }
    }
    // `max_by_key` keeps the last of equal maxima: scan in reverse to keep the first spot's.
    let (bg, count) = candidates.iter().rev().copied().max_by_key(|&(_, n)| n)?;
    (count * 4 >= pixels.len()).then_some(bg)
}

/// The background and shapes of a `w` x `h` rectangle of packed pixels (one word each, any byte
/// order), the shapes as rectangles relative to it, in raster order of their first pixel. `None` when
/// no colour covers a quarter of it.
pub(crate) fn shapes(pixels: &[u32], w: u32, h: u32) -> Option<(u32, Vec<Rect>)> {
    let (w, h) = (w as usize, h as usize);
    debug_assert_eq!(pixels.len(), w * h);
    let bg = background(pixels, w, h)?;
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if seen[start] || pixels[start] == bg {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            for ny in y.saturating_sub(1)..(y + 2).min(h) {
                for nx in x.saturating_sub(1)..(x + 2).min(w) {
                    let n = ny * w + nx;
                    if !seen[n] && pixels[n] != bg {
                        seen[n] = true;
                        stack.push(n);
                    }
                }
            }
        }
        let (bw, bh) = ((x1 - x0 + 1) as u32, (y1 - y0 + 1) as u32);
        if bw <= MAX_GLYPH_SIDE && bh <= MAX_GLYPH_SIDE && bw * bh >= MIN_GLYPH_PIXELS {
            out.push(Rect::new(x0 as u32, y0 as u32, bw, bh));
        }
    }
    Some((bg, out))
}

/// The pixels of `rect` in `src` as words, row after row.
pub(crate) fn words(src: &SourceRows<'_>, rect: &Rect, out: &mut Vec<u32>) {
    out.clear();
    for y in rect.y..rect.bottom() {
        out.extend(
            src.span(rect, y)
                .chunks_exact(4)
                .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]])),
        );
    }
}

/// The encoder's view of the glyph cache: which content every live entry holds.
#[derive(Default)]
pub(crate) struct EncoderGlyphs {
    ids: FastMap<TileKey, u64>,
    next_id: u64,
}

impl EncoderGlyphs {
    /// The distance back from the newest entry to a live entry holding `key`.
    pub fn lookup(&self, key: &TileKey) -> Option<u64> {
        let id = *self.ids.get(key)?;
        (id + GLYPH_CAPACITY >= self.next_id).then(|| self.next_id - 1 - id)
    }

    /// Adds an entry holding `key` (as a decoder does for a stored shape).
    pub fn store(&mut self, key: TileKey) {
        self.ids.insert(key, self.next_id);
        self.next_id += 1;
        // Forget dead entries now and then.
        if self.ids.len() as u64 > 4 * GLYPH_CAPACITY {
            let oldest_live = self.next_id.saturating_sub(GLYPH_CAPACITY);
            self.ids.retain(|_, id| *id >= oldest_live);
        }
    }

    /// Empties the cache (a checkpoint; the next update resets viewers in step).
    pub fn clear(&mut self) {
        self.ids.clear();
        self.next_id = 0;
    }
}

/// One cached glyph on a viewer: its size and pixels (in the viewer's byte order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glyph {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// The viewer's glyph cache: the newest [`GLYPH_CAPACITY`] glyphs.
#[derive(Debug, Default, Clone)]
pub(crate) struct DecoderGlyphs {
    entries: VecDeque<Glyph>,
}

impl DecoderGlyphs {
    /// The glyph `back` entries before the newest one.
    pub fn get(&self, back: u64) -> Option<&Glyph> {
        let back = usize::try_from(back).ok()?;
        let len = self.entries.len();
        (back < len).then(|| &self.entries[len - 1 - back])
    }

    pub fn push(&mut self, glyph: Glyph) {
        self.entries.push_back(glyph);
        if self.entries.len() as u64 > GLYPH_CAPACITY {
            self.entries.pop_front();
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BG: u32 = 0xffff_ffff;
    const INK: u32 = 0xff00_0000;

    fn canvas(w: u32, h: u32, ink: &[(u32, u32)]) -> Vec<u32> {
        let mut px = vec![BG; (w * h) as usize];
        for &(x, y) in ink {
            px[(y * w + x) as usize] = INK;
        }
        px
    }

    #[test]
    fn shapes_are_connected_ink_in_raster_order() {
        // A 5x6 block, a diagonal touching it (8-connected), a separate 6x4 bar, a speck.
        let mut ink = Vec::new();
        for y in 2..8 {
            for x in 3..8 {
                ink.push((x, y));
            }
        }
        ink.extend([(8, 8), (9, 9)]);
        for y in 20..24 {
            for x in 30..36 {
                ink.push((x, y));
            }
        }
        ink.push((50, 50));
        let px = canvas(64, 64, &ink);
        assert_eq!(
            shapes(&px, 64, 64),
            Some((BG, vec![Rect::new(3, 2, 7, 8), Rect::new(30, 20, 6, 4)]))
        );
        // Too large a shape is no glyph; a rectangle without a background has none.
        let big: Vec<(u32, u32)> = (0..40).map(|x| (x, 3)).collect();
        assert_eq!(shapes(&canvas(64, 8, &big), 64, 8), Some((BG, Vec::new())));
        let stripes: Vec<u32> = (0..64 * 8)
            .map(|i| if i % 5 == 0 { BG } else { i / 5 })
            .collect();
        assert_eq!(shapes(&stripes, 64, 8), None);
    }

    #[test]
    fn the_background_is_the_most_frequent_colour_at_the_spots() {
        // 8x8: four columns of 5, one of 7, three of 9.
        let px: Vec<u32> = (0..64)
            .map(|i| match i % 8 {
                0..=3 => 5,
                4 => 7,
                _ => 9,
            })
            .collect();
        assert_eq!(background(&px, 8, 8), Some(5));
        let px: Vec<u32> = px
            .iter()
            .map(|&c| {
                if c == 5 {
                    9
                } else if c == 9 {
                    5
                } else {
                    c
                }
            })
            .collect();
        assert_eq!(background(&px, 8, 8), Some(9));
        let noise: Vec<u32> = (0..64).collect();
        assert_eq!(background(&noise, 8, 8), None);
    }

    #[test]
    fn caches_agree_on_ids_and_age_out_together() {
        let mut encoder = EncoderGlyphs::default();
        let mut decoder = DecoderGlyphs::default();
        let key = |n: u32| {
            let px: Vec<u8> = (0..4).flat_map(|_| n.to_le_bytes()).collect();
            let rows = SourceRows {
                data: &px,
                stride: 8,
                width: 2,
                height: 2,
            };
            TileKey::of(&rows, &Rect::new(0, 0, 2, 2))
        };
        for n in 0..GLYPH_CAPACITY as u32 + 10 {
            encoder.store(key(n));
            decoder.push(Glyph {
                width: 1,
                height: 1,
                pixels: vec![n as u8, 0, 0, 0],
            });
        }
        // The first ten aged out on both sides; the others are where the encoder says.
        assert_eq!(encoder.lookup(&key(9)), None);
        assert!(decoder.get(GLYPH_CAPACITY).is_none());
        for n in [10u32, 500, GLYPH_CAPACITY as u32 + 9] {
            let back = encoder.lookup(&key(n)).unwrap();
            assert_eq!(decoder.get(back).unwrap().pixels[0], n as u8);
        }
        encoder.clear();
        decoder.clear();
        assert_eq!(encoder.lookup(&key(500)), None);
        assert!(decoder.get(0).is_none());
    }
}
