//! One frame through the pipeline (damage -> moves -> video -> tiles -> packet) against the
//! mirror of what viewers show, and the checkpoint of the whole mirror.

use super::motion::{apply_motion, snapshot, MoveSource};
use super::tile_coding::{code_tiles, push_fill, relative, Coder};
use super::{EncoderConfig, EncoderStats, Screen};
use crate::codec::{self, Coded, Entropy, Scratch};
use crate::damage::{detect_with, DirtyTile};
use crate::frame::{Rect, SourceRows};
use crate::protocol::{self, CursorState, Op, Packet, TileGlyphs, TileOp};
use crate::tiles::motion::CurrentAnchors;
use crate::tiles::{solid_color, TileKey};

/// Changed tiles from which a change counts as large: searched in the reference image, or saved as it.
const REFERENCE_MIN_TILES: usize = 16;

/// Changed pixels below which a frame is not searched for moved content.
const MIN_MOTION_PIXELS: u64 = 4096;

/// Damage -> moves -> video -> tiles for one frame against the mirror; updates the mirror.
pub(super) fn encode_update(
    screen: &mut Screen,
    src: &SourceRows<'_>,
    regions: &[Rect],
    config: &EncoderConfig,
    scratch: &mut Scratch,
    stats: &mut EncoderStats,
) -> Option<Packet> {
    let mut dirty = find_damage(screen, src, regions);
    if dirty.is_empty() && !screen.video.active() {
        return None;
    }
    let mut ops = opening_ops(screen);
    find_moves(screen, src, config, &mut dirty, &mut ops, stats);
    let video = code_video(screen, src, &mut dirty, &mut ops);
    if ops.is_empty() && dirty.is_empty() {
        return None;
    }
    let mut payload = std::mem::take(&mut scratch.payload);
    payload.clear();
    let mut coder = Coder {
        ops: &mut ops,
        payload: &mut payload,
        scratch,
        entropy: config.entropy,
        strategy: codec::Strategy::for_entropy(config.entropy),
    };
    code_tiles(screen, src, &dirty, &mut coder, stats);
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

/// The tiles that differ from the mirror (inside `regions`), less what video regions take: their
/// pixels go as pictures; what changed around them stays.
fn find_damage(screen: &mut Screen, src: &SourceRows<'_>, regions: &[Rect]) -> Vec<DirtyTile> {
    let mut dirty: Vec<DirtyTile> = Vec::new();
    let mirror = &screen.mirror;
    detect_with(
        &screen.grid,
        |y| mirror.row(y),
        |y| src.row(y),
        regions,
        &mut dirty,
    );
    screen.video.note_changes(&dirty);
    screen.video.exclude(&mut dirty);
    dirty
}

/// The ops an update starts with: forgetting the payload history and storing the screen, when a
/// checkpoint asked for them.
fn opening_ops(screen: &mut Screen) -> Vec<Op> {
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
    ops
}

/// Moved content as copies: from the screen viewers show, then (after a large change) from the
/// reference image; a large change also saves the screen before it as the next reference.
fn find_moves(
    screen: &mut Screen,
    src: &SourceRows<'_>,
    config: &EncoderConfig,
    dirty: &mut Vec<DirtyTile>,
    ops: &mut Vec<Op>,
    stats: &mut EncoderStats,
) {
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
            dirty,
            ops,
            MoveSource::Screen,
            &mut cur_anchors,
        );
        // Re-diffing what the copies touched finds the regions' pixels again.
        screen.video.exclude(dirty);
    }
    let changed: u64 = dirty.iter().map(|d| d.rect.area()).sum();
    if large && dirty.len() >= 2 && changed >= MIN_MOTION_PIXELS {
        stats.copies += apply_motion(
            screen,
            src,
            dirty,
            ops,
            MoveSource::Reference,
            &mut cur_anchors,
        );
        screen.video.exclude(dirty);
    }
    if let Some(reference) = next_reference {
        screen.spare_reference = screen.reference.replace(reference);
    }
}

/// Video regions start (taking their pixels from now on), send their pictures, and end; the lossy
/// pixels of ended regions join `dirty` to come back losslessly. Returns the pictures' bytes.
fn code_video(
    screen: &mut Screen,
    src: &SourceRows<'_>,
    dirty: &mut Vec<DirtyTile>,
    ops: &mut Vec<Op>,
) -> Vec<u8> {
    let plan = {
        let before = SourceRows::from_image(&screen.mirror);
        screen.video.plan(&screen.grid, src, &before, dirty, ops)
    };
    let mut video = Vec::new();
    for rect in screen
        .video
        .encode_pictures(&screen.grid, src, ops, &mut video)
    {
        screen.mirror.copy_rect_from(src, &rect);
    }
    screen.video.exclude(dirty);
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
    video
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
            Coded::Tile(mode) => ops.push(Op::Tile(TileOp {
                tile: index,
                rect: relative(&rect, &rect),
                mode,
                store: false,
                glyphs: TileGlyphs::default(),
            })),
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
