//! Staging and applying the ops of a packet: first everything is checked and the coded tiles are
//! decoded aside (`stage_ops`), then the framebuffer, cache and reference image change
//! (`apply_ops`, which cannot fail).

use super::video::{VideoChunk, VideoDecoders};
use super::State;
use crate::codec;
use crate::error::{Error, Result};
use crate::frame::{swap_red_blue, PackedImage, PixelFormat, Rect, SourceRows};
use crate::protocol::{Op, OpList};
use crate::tiles::glyphs::{shapes, DecoderGlyphs, Glyph, GLYPH_CAPACITY};

/// Checks every op of a packet against the current state and decodes the coded tiles, without changing
/// anything. Returns the decoded tile pixels (cached glyphs drawn in), in op order, in the output
/// format, and the glyphs the packet adds to the cache.
pub(super) fn stage_ops(
    state: &State,
    list: &OpList,
    checkpoint: bool,
    format: PixelFormat,
) -> Result<(Vec<u8>, Vec<Glyph>)> {
    let screen = Rect::new(0, 0, state.session.width, state.session.height);
    let screen_area = screen.area();
    let tiles = state.grid.len();
    let capacity = u64::from(state.cache.capacity());
    let first_new_id = state.cache.next_id();
    let mut next_id = first_new_id;
    // Sizes of entries stored by this packet (ids first_new_id..next_id).
    let mut new_sizes: Vec<(u32, u32)> = Vec::new();
    let mut copy_fill_area = 0u64;
    let mut tile_area = 0u64;
    let mut staged = Vec::new();
    let mut payload = &list.payload[..];
    // Copies read the reference saved before this packet (a save takes effect at its end).
    let has_reference = state.reference.is_some();
    let mut saves = 0;
    let mut shared_map: Option<Vec<(u32, u32)>> = None;
    // Glyphs: the cache as this packet finds it (empty after `ResetHistory`), and what it adds.
    let reset = list.ops.contains(&Op::ResetHistory);
    let mut new_glyphs: Vec<Glyph> = Vec::new();
    let store = |next_id: &mut u64, new_sizes: &mut Vec<(u32, u32)>, rect: Rect| {
        if capacity > 0 {
            new_sizes.push((rect.width, rect.height));
            *next_id += 1;
        }
    };
    for op in &list.ops {
        match *op {
            Op::StoreScreen => {
                if checkpoint {
                    return Err(Error::Malformed("StoreScreen inside a checkpoint"));
                }
                for index in 0..tiles {
                    store(&mut next_id, &mut new_sizes, state.grid.tile_rect(index));
                }
            }
            Op::Copy { src_x, src_y, dst } | Op::CopyReference { src_x, src_y, dst } => {
                if matches!(op, Op::CopyReference { .. }) && !has_reference {
                    return Err(Error::Malformed("copy from a reference image never saved"));
                }
                dst.check_inside(screen.width, screen.height)?;
                Rect::new(src_x, src_y, dst.width, dst.height)
                    .check_inside(screen.width, screen.height)?;
                copy_fill_area += dst.area();
            }
            Op::SaveReference => {
                if checkpoint {
                    return Err(Error::Malformed("reference image inside a checkpoint"));
                }
                saves += 1;
                if saves > 1 {
                    return Err(Error::Malformed(
                        "reference image saved twice in one packet",
                    ));
                }
            }
            Op::ResetHistory => {
                if checkpoint {
                    return Err(Error::Malformed("payload history inside a checkpoint"));
                }
            }
            Op::RecolorMap => {
                if checkpoint {
                    return Err(Error::Malformed("colour map inside a checkpoint"));
                }
                shared_map = Some(codec::recolor::read_shared(&mut payload)?);
            }
            Op::Fill { rect, .. } => {
                rect.check_inside(screen.width, screen.height)?;
                copy_fill_area += rect.area();
            }
            Op::Tile {
                tile,
                rect,
                mode,
                store: keep,
                glyphs,
            } => {
                if tile >= tiles {
                    return Err(Error::Malformed("tile index beyond the grid"));
                }
                if checkpoint && keep {
                    return Err(Error::Malformed("cache store inside a checkpoint"));
                }
                if (glyphs.refs || glyphs.store)
                    && (checkpoint || mode.is_recolor() || capacity == 0)
                {
                    return Err(Error::Malformed(
                        "glyphs in a checkpoint, a recolouring or a session without a cache",
                    ));
                }
                let tile_rect = state.grid.tile_rect(tile);
                rect.check_inside(tile_rect.width, tile_rect.height)?;
                tile_area += rect.area();
                if tile_area > 2 * screen_area {
                    return Err(Error::LimitExceeded {
                        what: "coded tile area",
                        value: tile_area,
                        limit: 2 * screen_area,
                    });
                }
                let start = staged.len();
                if mode.is_recolor() {
                    if checkpoint {
                        return Err(Error::Malformed("recolour inside a checkpoint"));
                    }
                    // Staged as [count u32][from u32, to u32]..., in the output byte order.
                    let pairs = match mode {
                        codec::TileMode::RecolorShared => shared_map
                            .clone()
                            .ok_or(Error::Malformed("shared recolour without a colour map"))?,
                        _ => codec::recolor::read(
                            &mut payload,
                            mode == codec::TileMode::RecolorAlpha,
                        )?,
                    };
                    staged.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
                    for (f, t) in pairs {
                        for c in [f, t] {
                            let mut b = c.to_le_bytes();
                            if format == PixelFormat::Rgba8 {
                                b.swap(0, 2);
                            }
                            staged.extend_from_slice(&b);
                        }
                    }
                    if keep {
                        store(&mut next_id, &mut new_sizes, tile_rect);
                    }
                    continue;
                }
                let refs = if glyphs.refs {
                    read_glyph_refs(&mut payload, &rect)?
                } else {
                    Vec::new()
                };
                staged.resize(start + rect.area() as usize * 4, 0);
                codec::decode_rect(
                    mode,
                    rect.width,
                    rect.height,
                    &mut payload,
                    &mut staged[start..],
                )?;
                if format == PixelFormat::Rgba8 {
                    swap_red_blue(&mut staged[start..]);
                }
                let pixels = &mut staged[start..];
                let existing = if reset { None } else { Some(&state.glyphs) };
                let drawn = draw_glyphs(pixels, &rect, &refs, existing, &new_glyphs)?;
                if glyphs.store {
                    store_glyphs(pixels, &rect, &drawn, &mut new_glyphs);
                }
                if keep {
                    store(&mut next_id, &mut new_sizes, tile_rect);
                }
            }
            Op::Video { rect, .. } => {
                if checkpoint {
                    return Err(Error::Malformed("video inside a checkpoint"));
                }
                rect.check_inside(screen.width, screen.height)?;
                copy_fill_area += rect.area();
            }
            Op::VideoEnd { .. } => {
                if checkpoint {
                    return Err(Error::Malformed("video inside a checkpoint"));
                }
            }
            Op::Cached {
                tile,
                id,
                store: keep,
            } => {
                if checkpoint {
                    return Err(Error::Malformed("cached tile inside a checkpoint"));
                }
                if tile >= tiles {
                    return Err(Error::Malformed("tile index beyond the grid"));
                }
                let live = capacity > 0 && id < next_id && id + capacity >= next_id;
                let size = if !live {
                    None
                } else if id >= first_new_id {
                    new_sizes.get((id - first_new_id) as usize).copied()
                } else {
                    state.cache.size_of(id)
                };
                let tile_rect = state.grid.tile_rect(tile);
                match size {
                    None => return Err(Error::MissingCacheEntry { id }),
                    Some(s) if s != (tile_rect.width, tile_rect.height) => {
                        return Err(Error::Malformed("cached tile has another size"))
                    }
                    Some(_) => {}
                }
                copy_fill_area += tile_rect.area();
                if keep {
                    store(&mut next_id, &mut new_sizes, tile_rect);
                }
            }
        }
        if copy_fill_area > 8 * screen_area {
            return Err(Error::LimitExceeded {
                what: "area drawn by one packet",
                value: copy_fill_area,
                limit: 8 * screen_area,
            });
        }
    }
    if !payload.is_empty() {
        return Err(Error::Malformed("payload longer than its tiles"));
    }
    Ok((staged, new_glyphs))
}

/// Reads the glyph references that open a tile's payload: `count`, then per glyph `dx` u8, `dy` u8
/// and how far back from the newest entry it is.
fn read_glyph_refs(payload: &mut &[u8], rect: &Rect) -> Result<Vec<(u32, u32, u64)>> {
    let mut r = crate::protocol::wire::Reader::new(payload);
    let count = r.varint_usize("glyph count", rect.area() as usize)?;
    let mut refs = Vec::with_capacity(count);
    for _ in 0..count {
        let dx = u32::from(r.u8("glyph x")?);
        let dy = u32::from(r.u8("glyph y")?);
        refs.push((dx, dy, r.varint("glyph entry")?));
    }
    *payload = r.rest();
    Ok(refs)
}

/// Draws the referenced glyphs into a staged rectangle (`pixels`, packed rows of `rect`); returns
/// where they went (relative to it). `existing` is the cache before the packet (`None` once reset),
/// `new` what the packet stored so far, newest last.
fn draw_glyphs(
    pixels: &mut [u8],
    rect: &Rect,
    refs: &[(u32, u32, u64)],
    existing: Option<&DecoderGlyphs>,
    new: &[Glyph],
) -> Result<Vec<Rect>> {
    let row_bytes = rect.width as usize * 4;
    let mut drawn = Vec::with_capacity(refs.len());
    for &(dx, dy, back) in refs {
        let glyph = lookup_glyph(back, existing, new)
            .ok_or(Error::Malformed("glyph reference beyond the glyph cache"))?;
        let at = Rect::new(dx, dy, glyph.width, glyph.height);
        at.check_inside(rect.width, rect.height)?;
        let glyph_row = glyph.width as usize * 4;
        for (y, src) in (at.y..at.bottom()).zip(glyph.pixels.chunks_exact(glyph_row)) {
            let start = y as usize * row_bytes + at.x as usize * 4;
            pixels[start..start + glyph_row].copy_from_slice(src);
        }
        drawn.push(at);
    }
    Ok(drawn)
}

/// Entry `back` before the newest of the cache as a packet sees it: the packet's own new glyphs,
/// then the older ones, at most [`GLYPH_CAPACITY`] in all.
fn lookup_glyph<'a>(
    back: u64,
    existing: Option<&'a DecoderGlyphs>,
    new: &'a [Glyph],
) -> Option<&'a Glyph> {
    if back >= GLYPH_CAPACITY {
        return None;
    }
    match usize::try_from(back).ok()?.checked_sub(new.len()) {
        None => Some(&new[new.len() - 1 - back as usize]),
        Some(older) => existing?.get(older as u64),
    }
}

/// Adds the shapes of a staged rectangle that no reference drew to `new`, as the encoder does.
fn store_glyphs(pixels: &[u8], rect: &Rect, drawn: &[Rect], new: &mut Vec<Glyph>) {
    let words: Vec<u32> = pixels
        .chunks_exact(4)
        .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
        .collect();
    let Some((_, found)) = shapes(&words, rect.width, rect.height) else {
        return;
    };
    let row_bytes = rect.width as usize * 4;
    for shape in found.into_iter().filter(|s| !drawn.contains(s)) {
        let mut glyph = Vec::with_capacity(shape.area() as usize * 4);
        for y in shape.y..shape.bottom() {
            let start = y as usize * row_bytes + shape.x as usize * 4;
            glyph.extend_from_slice(&pixels[start..start + shape.width as usize * 4]);
        }
        new.push(Glyph {
            width: shape.width,
            height: shape.height,
            pixels: glyph,
        });
    }
}

/// Applies checked ops; returns the damaged rectangles, merged where they line up.
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

pub(super) fn apply_ops(
    state: &mut State,
    ops: &[Op],
    staged: &[u8],
    format: PixelFormat,
    video: &mut VideoSink<'_>,
) -> Vec<Rect> {
    let mut damage = Vec::new();
    let mut staged = staged;
    // A reference saved while later ops still copy from the previous one waits for the end.
    let mut saved_reference = None;
    for (i, op) in ops.iter().enumerate() {
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
            Op::Tile {
                tile,
                rect,
                store,
                mode,
                ..
            } if mode.is_recolor() => {
                let tile_rect = state.grid.tile_rect(tile);
                let abs = Rect::new(
                    tile_rect.x + rect.x,
                    tile_rect.y + rect.y,
                    rect.width,
                    rect.height,
                );
                let (count, rest) = staged.split_at(4);
                let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]) as usize;
                let (raw, rest) = rest.split_at(count * 8);
                staged = rest;
                let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                let pairs: Vec<(u32, u32)> = raw
                    .chunks_exact(8)
                    .map(|p| (word(&p[..4]), word(&p[4..])))
                    .collect();
                for y in abs.y..abs.bottom() {
                    codec::recolor::apply(state.framebuffer.span_mut(&abs, y), &pairs);
                }
                if store {
                    store_tile(state, tile);
                }
                damage.push(abs);
            }
            Op::Tile {
                tile, rect, store, ..
            } => {
                let tile_rect = state.grid.tile_rect(tile);
                let abs = Rect::new(
                    tile_rect.x + rect.x,
                    tile_rect.y + rect.y,
                    rect.width,
                    rect.height,
                );
                let row_bytes = abs.width as usize * 4;
                for y in abs.y..abs.bottom() {
                    let (row, rest) = staged.split_at(row_bytes);
                    state.framebuffer.span_mut(&abs, y).copy_from_slice(row);
                    staged = rest;
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
