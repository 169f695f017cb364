//! One frame through the pipeline (damage -> moves -> tiles -> codec -> packet) against the
//! mirror of what viewers show, and the checkpoint of the whole mirror.

use super::motion::{apply_motion, snapshot, MoveSource};
use super::{glyph_coding, shared_recolor, EncoderConfig, EncoderStats, Screen};
use crate::codec::{self, recolor, Coded, Entropy, Scratch, TileMode};
use crate::damage::{detect_with, DirtyTile};
use crate::frame::{Rect, SourceRows};
use crate::protocol::{self, CursorState, Op, Packet, TileGlyphs};
use crate::tiles::motion::CurrentAnchors;
use crate::tiles::{solid_color, TileKey};

/// Smallest changed rectangle worth checking for a recolouring.
const MIN_RECOLOR_PIXELS: u64 = 256;

/// Changed tiles from which a change counts as large: searched in the reference image, or saved as it.
const REFERENCE_MIN_TILES: usize = 16;

/// Changed pixels below which a frame is not searched for moved content.
const MIN_MOTION_PIXELS: u64 = 4096;

/// Damage -> moves -> tiles -> codec for one frame against the mirror; updates the mirror.
pub(super) fn encode_update(
    screen: &mut Screen,
    src: &SourceRows<'_>,
    regions: &[Rect],
    config: &EncoderConfig,
    scratch: &mut Scratch,
    stats: &mut EncoderStats,
) -> Option<Packet> {
    let mut dirty: Vec<DirtyTile> = Vec::new();
    {
        let mirror = &screen.mirror;
        detect_with(
            &screen.grid,
            |y| mirror.row(y),
            |y| src.row(y),
            regions,
            &mut dirty,
        );
    }
    // Video regions take their pixels (pictures); what changed around them stays.
    screen.video.note_changes(&dirty);
    screen.video.exclude(&mut dirty);
    if dirty.is_empty() && !screen.video.active() {
        return None;
    }
    let mut ops: Vec<Op> = Vec::new();
    // A viewer that joined from a checkpoint has no payload history: everybody starts again.
    if screen.history_reset_pending {
        ops.push(Op::ResetHistory);
        screen.history_reset_pending = false;
    }
    // StoreScreen reads the screen as it was before this update's ops: it goes first.
    if screen.store_screen_pending {
        ops.push(Op::StoreScreen);
        store_screen(screen);
    }
    // Moves need enough changed pixels to be worth the search (a caret and a status bar are not).
    let changed: u64 = dirty.iter().map(|d| d.rect.area()).sum();
    // A large change: the screen before it becomes the reference image once this update is
    // applied (only where every viewer shows the same pixels), and content the current reference
    // holds comes back from it.
    let large = config.motion_detection
        && dirty.len() >= REFERENCE_MIN_TILES
        && changed >= MIN_MOTION_PIXELS;
    let next_reference = (large && screen.video.lossy_pixels() == 0).then(|| {
        ops.push(Op::SaveReference);
        snapshot(&screen.mirror, screen.spare_reference.take())
    });
    let mut cur_anchors = CurrentAnchors::default();
    if config.motion_detection && dirty.len() >= 2 && changed >= MIN_MOTION_PIXELS {
        stats.copies += apply_motion(
            screen,
            src,
            &mut dirty,
            &mut ops,
            MoveSource::Screen,
            &mut cur_anchors,
        );
        // Re-diffing what the copies touched finds the regions' pixels again.
        screen.video.exclude(&mut dirty);
    }
    let changed: u64 = dirty.iter().map(|d| d.rect.area()).sum();
    if large && dirty.len() >= 2 && changed >= MIN_MOTION_PIXELS {
        stats.copies += apply_motion(
            screen,
            src,
            &mut dirty,
            &mut ops,
            MoveSource::Reference,
            &mut cur_anchors,
        );
        screen.video.exclude(&mut dirty);
    }
    if let Some(reference) = next_reference {
        screen.spare_reference = screen.reference.replace(reference);
    }
    // Regions start (taking their pixels from now on) and end; lossy pixels of ended regions come
    // back losslessly.
    let plan = {
        let before = SourceRows::from_image(&screen.mirror);
        screen
            .video
            .plan(&screen.grid, src, &before, &dirty, &mut ops)
    };
    let mut video = Vec::new();
    for rect in screen
        .video
        .encode_pictures(&screen.grid, src, &mut ops, &mut video)
    {
        screen.mirror.copy_rect_from(src, &rect);
    }
    screen.video.exclude(&mut dirty);
    if !plan.top_off.is_empty() {
        for &(t, lossy) in &plan.top_off {
            match dirty.iter_mut().find(|d| d.index == t) {
                Some(d) => d.rect = d.rect.union(&lossy),
                None => dirty.push(DirtyTile {
                    index: t,
                    rect: lossy,
                }),
            }
        }
        dirty.sort_by_key(|d| d.index);
    }
    if ops.is_empty() && dirty.is_empty() {
        return None;
    }
    let mut payload = std::mem::take(&mut scratch.payload);
    payload.clear();
    let strategy = codec::Strategy::for_entropy(config.entropy);
    let mut shared = shared_recolor::plan(
        screen,
        src,
        &dirty,
        &mut shared_recolor::Coding {
            scratch,
            strategy,
            entropy: config.entropy,
        },
    );
    for d in &dirty {
        let tile_rect = screen.grid.tile_rect(d.index);
        let cache = &mut screen.cache;
        // A tile a region's pictures draw into (beside the region) is neither looked up nor stored.
        let lossy = screen.video.in_region(&screen.grid, d.index);
        if cache.enabled() && !lossy {
            let key = TileKey::of(src, &tile_rect);
            if let Some(id) = cache.lookup(&key) {
                let store = cache.is_aging(id);
                if store {
                    cache.store(key);
                }
                ops.push(Op::Cached {
                    tile: d.index,
                    id,
                    store,
                });
                screen.mirror.copy_rect_from(src, &tile_rect);
                screen.video.mark_exact(&screen.grid, d.index);
                stats.cache_hits += 1;
                continue;
            }
        }
        let planned = shared
            .as_mut()
            .and_then(|plan| Some((plan.tiles.remove(&d.index)?, plan)));
        if let Some((exceptions, plan)) = planned {
            if !plan.sent {
                // Sent once, before the first tile that uses it.
                ops.push(Op::RecolorMap);
                recolor::write_shared(&plan.map, &mut payload);
                plan.sent = true;
            }
            ops.push(Op::Tile {
                tile: d.index,
                rect: relative(&d.rect, &tile_rect),
                mode: TileMode::RecolorShared,
                store: false,
                glyphs: TileGlyphs::default(),
            });
            let mut coded = Vec::with_capacity(exceptions.len());
            for rect in &exceptions {
                match codec::encode_rect(src, rect, &mut payload, scratch, strategy) {
                    Coded::Fill(color) => push_fill(&mut ops, *rect, color),
                    Coded::Tile(mode) => coded.push(Op::Tile {
                        tile: d.index,
                        rect: relative(rect, &tile_rect),
                        mode,
                        store: false,
                        glyphs: TileGlyphs::default(),
                    }),
                }
            }
            // Fills first, coded exceptions after (they are disjoint): the last op of the tile
            // stores it into the cache once it is complete.
            ops.extend(coded);
            if screen.cache.enabled() {
                if let Some(Op::Tile { store, .. }) = ops.last_mut() {
                    *store = true;
                    screen.cache.store(TileKey::of(src, &tile_rect));
                }
            }
            screen.mirror.copy_rect_from(src, &d.rect);
            if d.rect == tile_rect {
                screen.video.mark_exact(&screen.grid, d.index);
            }
            continue;
        }
        let mut glyphs = TileGlyphs::default();
        let recolorable = !screen.video.is_lossy(d.index) && d.rect.area() >= MIN_RECOLOR_PIXELS;
        let coded = match recolorable
            .then(|| recolor::find(&screen.mirror, src, &d.rect))
            .flatten()
        {
            Some(pairs) if pairs.len() * 16 <= d.rect.area() as usize => {
                let opaque = recolor::opaque(&pairs);
                recolor::write(&pairs, opaque, &mut payload);
                Coded::Tile(if opaque {
                    TileMode::Recolor
                } else {
                    TileMode::RecolorAlpha
                })
            }
            // Shapes seen before come from the glyph cache (which needs the tile cache's memory).
            _ => match screen
                .cache
                .enabled()
                .then(|| {
                    glyph_coding::encode(
                        src,
                        &d.rect,
                        &mut screen.glyphs,
                        &mut payload,
                        scratch,
                        strategy,
                        &mut screen.glyph_work,
                    )
                })
                .flatten()
            {
                Some((mode, flags)) => {
                    glyphs = flags;
                    Coded::Tile(mode)
                }
                None => codec::encode_rect(src, &d.rect, &mut payload, scratch, strategy),
            },
        };
        match coded {
            Coded::Fill(color) => push_fill(&mut ops, d.rect, color),
            Coded::Tile(mode) => {
                // Glyphs are drawn as the tile is decoded: it is complete when the decoder stores it.
                let store = screen.cache.enabled() && !lossy;
                if store {
                    screen.cache.store(TileKey::of(src, &tile_rect));
                }
                ops.push(Op::Tile {
                    tile: d.index,
                    rect: relative(&d.rect, &tile_rect),
                    mode,
                    store,
                    glyphs,
                });
            }
        }
        screen.mirror.copy_rect_from(src, &d.rect);
        if d.rect == tile_rect {
            screen.video.mark_exact(&screen.grid, d.index);
        }
    }
    screen.seq += 1;
    let packet = protocol::update_packet(
        screen.seq,
        &ops,
        &payload,
        &video,
        config.entropy,
        &mut scratch.compressor,
    );
    scratch.payload = payload;
    Some(packet)
}

/// A `Tile` op's rectangle is relative to its tile.
fn relative(rect: &Rect, tile: &Rect) -> Rect {
    Rect::new(rect.x - tile.x, rect.y - tile.y, rect.width, rect.height)
}

/// Appends a fill, merging it into the previous fill when they form one rectangle.
fn push_fill(ops: &mut Vec<Op>, rect: Rect, color: u32) {
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

/// Mirrors the decoder's `StoreScreen`: every tile stored in raster order.
fn store_screen(screen: &mut Screen) {
    screen.store_screen_pending = false;
    let rows = SourceRows::from_image(&screen.mirror);
    for index in 0..screen.grid.len() {
        // Viewers hold different (lossy) pixels there: such an entry must never be referenced.
        let key = if screen.video.is_lossy(index) {
            TileKey::never_matching(index)
        } else {
            TileKey::of(&rows, &screen.grid.tile_rect(index))
        };
        screen.cache.store(key);
    }
}

/// The whole mirror as fills, copies of identical earlier tiles, and coded tiles.
pub(super) fn build_checkpoint(
    screen: &mut Screen,
    cursor: &CursorState,
    scratch: &mut Scratch,
    entropy: Entropy,
) -> Packet {
    let rows = SourceRows::from_image(&screen.mirror);
    let mut ops = Vec::new();
    let mut payload = std::mem::take(&mut scratch.payload);
    payload.clear();
    let mut seen: std::collections::HashMap<TileKey, u32> = std::collections::HashMap::new();
    for index in 0..screen.grid.len() {
        let rect = screen.grid.tile_rect(index);
        if let Some(color) = solid_color(&rows, &rect) {
            push_fill(&mut ops, rect, color);
            continue;
        }
        let key = TileKey::of(&rows, &rect);
        if let Some(&earlier) = seen.get(&key) {
            let src = screen.grid.tile_rect(earlier);
            ops.push(Op::Copy {
                src_x: src.x,
                src_y: src.y,
                dst: rect,
            });
            continue;
        }
        seen.insert(key, index);
        match codec::encode_rect(
            &rows,
            &rect,
            &mut payload,
            scratch,
            codec::Strategy::for_entropy(entropy),
        ) {
            Coded::Fill(color) => push_fill(&mut ops, rect, color),
            Coded::Tile(mode) => ops.push(Op::Tile {
                tile: index,
                rect: relative(&rect, &rect),
                mode,
                store: false,
                glyphs: TileGlyphs::default(),
            }),
        }
    }
    // Joiners start without a payload history; the next update tells the others to forget theirs.
    scratch.compressor.reset_history();
    screen.history_reset_pending = true;
    let packet = protocol::checkpoint_packet(
        &screen.session,
        screen.seq,
        screen.cache.next_id(),
        cursor,
        &ops,
        &payload,
        entropy,
        &mut scratch.compressor,
    );
    scratch.payload = payload;
    packet
}
