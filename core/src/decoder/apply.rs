//! Applying staged ops (see `stage`): the framebuffer, tile cache and reference image change, and
//! video pictures are decoded or handed over. Cannot fail: staging checked everything.

use super::stage::StagedOp;
use super::video::{VideoChunk, VideoDecoders};
use super::State;
use crate::codec;
use crate::frame::{PackedImage, PixelFormat, Rect, SourceRows};
use crate::protocol::{Op, TileOp};

/// Where the video ops of one update go.
pub(super) struct VideoSink<'a> {
    decoders: &'a mut VideoDecoders,
    decode: bool,
    data: &'a [u8],
    pub(super) chunks: Vec<VideoChunk>,
    pub(super) ended: Vec<u32>,
    pub(super) errors: u32,
}

impl<'a> VideoSink<'a> {
    pub(super) fn new(decoders: &'a mut VideoDecoders, decode: bool, data: &'a [u8]) -> Self {
        VideoSink {
            decoders,
            decode,
            data,
            chunks: Vec::new(),
            ended: Vec::new(),
            errors: 0,
        }
    }

    /// Decodes (or hands over) one picture; returns whether the framebuffer changed.
    fn picture(&mut self, op: &Op, framebuffer: &mut PackedImage, format: PixelFormat) -> bool {
        let Op::Video {
            region,
            rect,
            keyframe,
            start,
            len,
        } = *op
        else {
            return false;
        };
        let data = &self.data[start as usize..(start + len) as usize];
        let mut drawn = false;
        if self.decode {
            match self.decoders.decode(
                region,
                rect,
                keyframe,
                data,
                framebuffer,
                format == PixelFormat::Rgba8,
            ) {
                Ok(d) => drawn = d,
                Err(_) => self.errors += 1,
            }
        }
        self.chunks.push(VideoChunk {
            region,
            rect,
            keyframe,
            data: data.to_vec(),
            drawn,
        });
        drawn
    }
}

/// Applies checked ops (`staged` holds one entry per op); returns the damaged rectangles, merged
/// where they line up.
pub(super) fn apply_ops(
    state: &mut State,
    ops: &[Op],
    staged: &[StagedOp],
    format: PixelFormat,
    video: &mut VideoSink<'_>,
) -> Vec<Rect> {
    let mut damage = Vec::new();
    // A reference saved while later ops still copy from the previous one waits for the end.
    let mut saved_reference = None;
    for (i, (op, staged)) in ops.iter().zip(staged).enumerate() {
        match *op {
            Op::StoreScreen => {
                for index in 0..state.grid.len() {
                    store_tile(state, index);
                }
            }
            Op::Copy { src_x, src_y, dst } => {
                state.framebuffer.copy_within(
                    &Rect::new(src_x, src_y, dst.width, dst.height),
                    dst.x,
                    dst.y,
                );
                damage.push(dst);
            }
            Op::RecolorMap | Op::ResetHistory => {}
            Op::SaveReference => {
                let copies_follow = ops[i + 1..]
                    .iter()
                    .any(|op| matches!(op, Op::CopyReference { .. }));
                match &mut state.reference {
                    _ if copies_follow => saved_reference = Some(state.framebuffer.clone()),
                    Some(reference) => reference.pixels.copy_from_slice(&state.framebuffer.pixels),
                    None => state.reference = Some(state.framebuffer.clone()),
                }
            }
            Op::CopyReference { src_x, src_y, dst } => {
                // Staging checked that a reference exists by now.
                if let Some(reference) = &state.reference {
                    let source = SourceRows::from_image(reference);
                    state
                        .framebuffer
                        .copy_rect_from_displaced(&source, src_x, src_y, &dst);
                }
                damage.push(dst);
            }
            Op::Fill { rect, color } => {
                let mut bytes = color.to_le_bytes();
                if format == PixelFormat::Rgba8 {
                    bytes.swap(0, 2);
                }
                for y in rect.y..rect.bottom() {
                    for px in state.framebuffer.span_mut(&rect, y).chunks_exact_mut(4) {
                        px.copy_from_slice(&bytes);
                    }
                }
                damage.push(rect);
            }
            Op::Tile(TileOp {
                tile, rect, store, ..
            }) => {
                let tile_rect = state.grid.tile_rect(tile);
                let abs = Rect::new(
                    tile_rect.x + rect.x,
                    tile_rect.y + rect.y,
                    rect.width,
                    rect.height,
                );
                match staged {
                    StagedOp::Recolor(pairs) => {
                        for y in abs.y..abs.bottom() {
                            codec::recolor::apply(state.framebuffer.span_mut(&abs, y), pairs);
                        }
                    }
                    StagedOp::Pixels(pixels) => {
                        let row_bytes = abs.width as usize * 4;
                        for (y, row) in (abs.y..abs.bottom()).zip(pixels.chunks_exact(row_bytes)) {
                            state.framebuffer.span_mut(&abs, y).copy_from_slice(row);
                        }
                    }
                    // Staging decodes every tile: nothing else reaches here.
                    StagedOp::Checked => {}
                }
                if store {
                    store_tile(state, tile);
                }
                damage.push(abs);
            }
            Op::Video { rect, .. } => {
                if video.picture(op, &mut state.framebuffer, format) {
                    damage.push(rect);
                }
            }
            Op::VideoEnd { region } => {
                video.decoders.end(region);
                video.ended.push(region);
            }
            Op::Cached { tile, id, store } => {
                let tile_rect = state.grid.tile_rect(tile);
                if let Ok(pixels) = state.cache.get(id) {
                    let row_bytes = tile_rect.width as usize * 4;
                    for (i, y) in (tile_rect.y..tile_rect.bottom()).enumerate() {
                        let src = &pixels[i * row_bytes..(i + 1) * row_bytes];
                        let start =
                            y as usize * state.framebuffer.stride() + tile_rect.x as usize * 4;
                        state.framebuffer.pixels[start..start + row_bytes].copy_from_slice(src);
                    }
                }
                if store {
                    store_tile(state, tile);
                }
                damage.push(tile_rect);
            }
        }
    }
    if let Some(reference) = saved_reference {
        state.reference = Some(reference);
    }
    merge_rects(damage)
}

fn store_tile(state: &mut State, index: u32) {
    let rect = state.grid.tile_rect(index);
    let fb = &state.framebuffer;
    state.cache.store(
        rect.width,
        rect.height,
        (rect.y..rect.bottom()).map(|y| fb.span(&rect, y)),
    );
}

/// Merges rectangles that sit side by side with the same rows, then those stacked with the same columns.
fn merge_rects(rects: Vec<Rect>) -> Vec<Rect> {
    let rows = merge_along(rects, |r| (r.y, r.height, r.x, r.right()));
    merge_along(rows, |r| (r.x, r.width, r.y, r.bottom()))
}

/// Merges rectangles with the same `(start, extent)` across one axis that touch or overlap along the
/// other; `key` gives `(start, extent, along, along_end)`.
fn merge_along(mut rects: Vec<Rect>, key: impl Fn(&Rect) -> (u32, u32, u32, u32)) -> Vec<Rect> {
    rects.sort_by_key(|r| {
        let (start, extent, along, _) = key(r);
        (start, extent, along)
    });
    let mut out: Vec<Rect> = Vec::with_capacity(rects.len());
    for r in rects {
        let (start, extent, along, _) = key(&r);
        match out.last_mut() {
            Some(last) if (key(last).0, key(last).1) == (start, extent) && along <= key(last).3 => {
                *last = last.union(&r);
            }
            _ => out.push(r),
        }
    }
    out
}
