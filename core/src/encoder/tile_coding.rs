//! The coding of each changed tile, in order of preference: a tile cache hit, the update's shared
//! recolouring, a recolouring of the pixels viewers show, cached glyphs, then the codec's own choice
//! (fill, palette, raw, ...). Keeps the mirror, the tile cache and the video state in step with
//! what the ops make viewers do.

use super::{glyph_coding, shared_recolor, EncoderStats, Screen};
use crate::codec::{self, recolor, Coded, Entropy, Scratch, Strategy, TileMode};
use crate::damage::DirtyTile;
use crate::frame::{Rect, SourceRows};
use crate::protocol::{Op, TileGlyphs, TileOp};
use crate::tiles::TileKey;

/// Smallest changed rectangle worth checking for a recolouring.
const MIN_RECOLOR_PIXELS: u64 = 256;

/// Where an update's coded tiles go, and how pixels are coded.
pub(super) struct Coder<'a> {
    pub ops: &'a mut Vec<Op>,
    pub payload: &'a mut Vec<u8>,
    pub scratch: &'a mut Scratch,
    pub entropy: Entropy,
    pub strategy: Strategy,
}

/// Codes every tile of `dirty` (raster order) and copies what it sends into the mirror.
pub(super) fn code_tiles(
    screen: &mut Screen,
    src: &SourceRows<'_>,
    dirty: &[DirtyTile],
    coder: &mut Coder<'_>,
    stats: &mut EncoderStats,
) {
    let mut shared = shared_recolor::plan(
        screen,
        src,
        dirty,
        &mut shared_recolor::Coding {
            scratch: coder.scratch,
            strategy: coder.strategy,
            entropy: coder.entropy,
        },
    );
    for d in dirty {
        let tile_rect = screen.grid.tile_rect(d.index);
        if code_cached(screen, src, d.index, &tile_rect, coder) {
            stats.cache_hits += 1;
            continue;
        }
        let planned = shared
            .as_mut()
            .and_then(|plan| Some((plan.tiles.remove(&d.index)?, plan)));
        match planned {
            Some((exceptions, plan)) => {
                code_shared_recolor(screen, src, d, &tile_rect, &exceptions, plan, coder)
            }
            None => code_pixels(screen, src, d, &tile_rect, coder),
        }
        screen.mirror.copy_rect_from(src, &d.rect);
        screen.video.mark_sent(&screen.grid, d.index, &d.rect);
    }
}

/// Sends tile `index` as a tile cache hit when the cache holds its content; true if it did.
fn code_cached(
    screen: &mut Screen,
    src: &SourceRows<'_>,
    index: u32,
    tile_rect: &Rect,
    coder: &mut Coder<'_>,
) -> bool {
    // A tile a region's pictures draw into (beside the region) is neither looked up nor stored.
    let lossy = screen.video.in_region(&screen.grid, index);
    if !screen.cache.enabled() || lossy {
        return false;
    }
    let cache = &mut screen.cache;
    let key = TileKey::of(src, tile_rect);
    let Some(id) = cache.lookup(&key) else {
        return false;
    };
    let store = cache.is_aging(id);
    if store {
        cache.store(key);
    }
    coder.ops.push(Op::Cached {
        tile: index,
        id,
        store,
    });
    screen.mirror.copy_rect_from(src, tile_rect);
    screen.video.mark_exact(&screen.grid, index);
    true
}

/// Sends a tile of the shared recolouring: the map (before its first tile), the tile's recolour op,
/// then the pixels the map gets wrong.
fn code_shared_recolor(
    screen: &mut Screen,
    src: &SourceRows<'_>,
    d: &DirtyTile,
    tile_rect: &Rect,
    exceptions: &[Rect],
    plan: &mut shared_recolor::SharedRecolor,
    coder: &mut Coder<'_>,
) {
    if !plan.sent {
        // Sent once, before the first tile that uses it.
        coder.ops.push(Op::RecolorMap);
        recolor::write_shared(&plan.map, coder.payload);
        plan.sent = true;
    }
    coder.ops.push(Op::Tile(TileOp {
        tile: d.index,
        rect: relative(&d.rect, tile_rect),
        mode: TileMode::RecolorShared,
        store: false,
        glyphs: TileGlyphs::default(),
    }));
    let mut coded = Vec::with_capacity(exceptions.len());
    for rect in exceptions {
        match codec::encode_rect(src, rect, coder.payload, coder.scratch, coder.strategy) {
            Coded::Fill(color) => push_fill(coder.ops, *rect, color),
            Coded::Tile(mode) => coded.push(Op::Tile(TileOp {
                tile: d.index,
                rect: relative(rect, tile_rect),
                mode,
                store: false,
                glyphs: TileGlyphs::default(),
            })),
        }
    }
    // Fills first, coded exceptions after (they are disjoint): the last op of the tile stores it
    // into the cache once it is complete.
    coder.ops.extend(coded);
    if screen.cache.enabled() {
        if let Some(Op::Tile(t)) = coder.ops.last_mut() {
            t.store = true;
            screen.cache.store(TileKey::of(src, tile_rect));
        }
    }
}

/// Sends the changed pixels of a tile as the best of a recolouring, cached glyphs and the codec.
fn code_pixels(
    screen: &mut Screen,
    src: &SourceRows<'_>,
    d: &DirtyTile,
    tile_rect: &Rect,
    coder: &mut Coder<'_>,
) {
    let (coded, glyphs) = match recolouring(screen, src, d, coder) {
        Some(mode) => (Coded::Tile(mode), TileGlyphs::default()),
        None => match glyph_coding(screen, src, &d.rect, coder) {
            Some((mode, glyphs)) => (Coded::Tile(mode), glyphs),
            None => (
                codec::encode_rect(src, &d.rect, coder.payload, coder.scratch, coder.strategy),
                TileGlyphs::default(),
            ),
        },
    };
    match coded {
        Coded::Fill(color) => push_fill(coder.ops, d.rect, color),
        Coded::Tile(mode) => {
            // Glyphs are drawn as the tile is decoded: it is complete when the decoder stores it.
            let lossy = screen.video.in_region(&screen.grid, d.index);
            let store = screen.cache.enabled() && !lossy;
            if store {
                screen.cache.store(TileKey::of(src, tile_rect));
            }
            coder.ops.push(Op::Tile(TileOp {
                tile: d.index,
                rect: relative(&d.rect, tile_rect),
                mode,
                store,
                glyphs,
            }));
        }
    }
}

/// Writes the changed pixels as old colours replaced by new ones, when that is what changed and
/// few enough pairs say it.
fn recolouring(
    screen: &Screen,
    src: &SourceRows<'_>,
    d: &DirtyTile,
    coder: &mut Coder<'_>,
) -> Option<TileMode> {
    let recolorable = !screen.video.is_lossy(d.index) && d.rect.area() >= MIN_RECOLOR_PIXELS;
    if !recolorable {
        return None;
    }
    let pairs = recolor::find(&screen.mirror, src, &d.rect)?;
    if pairs.len() * 16 > d.rect.area() as usize {
        return None;
    }
    let opaque = recolor::opaque(&pairs);
    recolor::write(&pairs, opaque, coder.payload);
    Some(if opaque {
        TileMode::Recolor
    } else {
        TileMode::RecolorAlpha
    })
}

/// Codes `rect` with shapes seen before drawn from the glyph cache (which needs the tile cache's
/// memory); `None` (nothing written) when it has no shapes.
fn glyph_coding(
    screen: &mut Screen,
    src: &SourceRows<'_>,
    rect: &Rect,
    coder: &mut Coder<'_>,
) -> Option<(TileMode, TileGlyphs)> {
    if !screen.cache.enabled() {
        return None;
    }
    glyph_coding::encode(
        src,
        rect,
        &mut screen.glyphs,
        coder.payload,
        coder.scratch,
        coder.strategy,
        &mut screen.glyph_work,
    )
}

/// A `Tile` op's rectangle is relative to its tile.
pub(super) fn relative(rect: &Rect, tile: &Rect) -> Rect {
    Rect::new(rect.x - tile.x, rect.y - tile.y, rect.width, rect.height)
}

/// Appends a fill, merging it into the previous fill when they form one rectangle.
pub(super) fn push_fill(ops: &mut Vec<Op>, rect: Rect, color: u32) {
    if let Some(Op::Fill {
        rect: last,
        color: last_color,
    }) = ops.last_mut()
    {
        if *last_color == color
            && last.y == rect.y
            && last.height == rect.height
            && last.right() == rect.x
        {
            last.width += rect.width;
            return;
        }
    }
    ops.push(Op::Fill { rect, color });
}
