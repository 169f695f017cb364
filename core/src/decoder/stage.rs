//! Staging the ops of a packet: every op is checked against the decoder's state, and the coded tiles
//! are decoded aside, without changing anything. `apply` then changes the framebuffer, cache and
//! reference image, and cannot fail.

use super::State;
use crate::codec::{self, TileMode};
use crate::error::{Error, Result};
use crate::frame::{swap_red_blue, PixelFormat, Rect};
use crate::protocol::{Op, OpList, TileGlyphs, TileOp};
use crate::tiles::glyphs::{shapes, DecoderGlyphs, Glyph, GLYPH_CAPACITY};
use crate::wire::Reader;

/// What applying one checked op needs besides its own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StagedOp {
    /// Nothing: the op applies from its fields.
    Checked,
    /// The decoded pixels of a `Tile` op (cached glyphs drawn in): packed rows of its rectangle, in
    /// the output format.
    Pixels(Vec<u8>),
    /// The colour pairs of a recolouring `Tile` op, `(from, to)`, in the output byte order.
    Recolor(Vec<(u32, u32)>),
}

/// A packet's ops, checked and staged: one [`StagedOp`] per op, and the glyphs the packet adds to
/// the glyph cache.
pub(super) struct Staged {
    pub ops: Vec<StagedOp>,
    pub new_glyphs: Vec<Glyph>,
}

/// Checks every op of a packet against the current state and decodes the coded tiles, without
/// changing anything.
pub(super) fn stage_ops(
    state: &State,
    list: &OpList,
    checkpoint: bool,
    format: PixelFormat,
) -> Result<Staged> {
    let mut stager = Stager::new(state, list, checkpoint, format);
    let mut ops = Vec::with_capacity(list.ops.len());
    for op in &list.ops {
        ops.push(stager.stage(op)?);
        stager.check_drawn_area()?;
    }
    if !stager.payload.is_empty() {
        return Err(Error::Malformed("payload longer than its tiles"));
    }
    Ok(Staged {
        ops,
        new_glyphs: stager.new_glyphs,
    })
}

/// What staging has seen of a packet so far.
struct Stager<'a> {
    state: &'a State,
    checkpoint: bool,
    format: PixelFormat,
    screen: Rect,
    /// Tile cache capacity, in entries.
    capacity: u64,
    /// Id of the first entry this packet stores, and of the next one.
    first_new_id: u64,
    next_id: u64,
    /// Sizes of entries stored by this packet (ids `first_new_id..next_id`).
    new_sizes: Vec<(u32, u32)>,
    copy_fill_area: u64,
    tile_area: u64,
    /// The payload not read yet.
    payload: &'a [u8],
    /// Copies read the reference saved before this packet (a save takes effect at its end).
    has_reference: bool,
    saves: u32,
    shared_map: Option<Vec<(u32, u32)>>,
    /// Glyphs: the cache as this packet finds it is empty after `ResetHistory`.
    reset: bool,
    new_glyphs: Vec<Glyph>,
}

impl<'a> Stager<'a> {
    fn new(state: &'a State, list: &'a OpList, checkpoint: bool, format: PixelFormat) -> Self {
        Stager {
            state,
            checkpoint,
            format,
            screen: Rect::new(0, 0, state.session.width, state.session.height),
            capacity: u64::from(state.cache.capacity()),
            first_new_id: state.cache.next_id(),
            next_id: state.cache.next_id(),
            new_sizes: Vec::new(),
            copy_fill_area: 0,
            tile_area: 0,
            payload: &list.payload[..],
            has_reference: state.reference.is_some(),
            saves: 0,
            shared_map: None,
            reset: list.ops.contains(&Op::ResetHistory),
            new_glyphs: Vec::new(),
        }
    }

    fn stage(&mut self, op: &Op) -> Result<StagedOp> {
        match *op {
            Op::StoreScreen => self.store_screen(),
            Op::Copy { src_x, src_y, dst } => self.copy(src_x, src_y, &dst),
            Op::CopyReference { src_x, src_y, dst } => self.copy_reference(src_x, src_y, &dst),
            Op::SaveReference => self.save_reference(),
            Op::ResetHistory => self.not_in_checkpoint("payload history inside a checkpoint"),
            Op::RecolorMap => self.recolor_map(),
            Op::Fill { rect, .. } => self.fill(&rect),
            Op::Tile(t) => self.tile(&t),
            Op::Video { rect, .. } => self.video(&rect),
            Op::VideoEnd { .. } => self.not_in_checkpoint("video inside a checkpoint"),
            Op::Cached { tile, id, store } => self.cached(tile, id, store),
        }
    }

    /// Copies, fills, video and cached tiles may draw at most eight screens' worth per packet.
    fn check_drawn_area(&self) -> Result<()> {
        Error::check_limit(
            "area drawn by one packet",
            self.copy_fill_area,
            8 * self.screen.area(),
        )
    }

    fn not_in_checkpoint(&self, what: &'static str) -> Result<StagedOp> {
        if self.checkpoint {
            return Err(Error::Malformed(what));
        }
        Ok(StagedOp::Checked)
    }

    /// Counts one tile cache entry of `rect`'s size stored by this packet.
    fn store(&mut self, rect: Rect) {
        if self.capacity > 0 {
            self.new_sizes.push((rect.width, rect.height));
            self.next_id += 1;
        }
    }

    fn store_screen(&mut self) -> Result<StagedOp> {
        self.not_in_checkpoint("StoreScreen inside a checkpoint")?;
        for index in 0..self.state.grid.len() {
            self.store(self.state.grid.tile_rect(index));
        }
        Ok(StagedOp::Checked)
    }

    fn copy(&mut self, src_x: u32, src_y: u32, dst: &Rect) -> Result<StagedOp> {
        let (width, height) = (self.screen.width, self.screen.height);
        dst.check_inside(width, height)?;
        Rect::new(src_x, src_y, dst.width, dst.height).check_inside(width, height)?;
        self.copy_fill_area += dst.area();
        Ok(StagedOp::Checked)
    }

    fn copy_reference(&mut self, src_x: u32, src_y: u32, dst: &Rect) -> Result<StagedOp> {
        if !self.has_reference {
            return Err(Error::Malformed("copy from a reference image never saved"));
        }
        self.copy(src_x, src_y, dst)
    }

    fn save_reference(&mut self) -> Result<StagedOp> {
        self.not_in_checkpoint("reference image inside a checkpoint")?;
        self.saves += 1;
        if self.saves > 1 {
            return Err(Error::Malformed(
                "reference image saved twice in one packet",
            ));
        }
        Ok(StagedOp::Checked)
    }

    fn recolor_map(&mut self) -> Result<StagedOp> {
        self.not_in_checkpoint("colour map inside a checkpoint")?;
        self.shared_map = Some(codec::recolor::read_shared(&mut self.payload)?);
        Ok(StagedOp::Checked)
    }

    fn fill(&mut self, rect: &Rect) -> Result<StagedOp> {
        rect.check_inside(self.screen.width, self.screen.height)?;
        self.copy_fill_area += rect.area();
        Ok(StagedOp::Checked)
    }

    fn tile(&mut self, t: &TileOp) -> Result<StagedOp> {
        if t.tile >= self.state.grid.len() {
            return Err(Error::Malformed("tile index beyond the grid"));
        }
        if self.checkpoint && t.store {
            return Err(Error::Malformed("cache store inside a checkpoint"));
        }
        if (t.glyphs.refs || t.glyphs.store)
            && (self.checkpoint || t.mode.is_recolor() || self.capacity == 0)
        {
            return Err(Error::Malformed(
                "glyphs in a checkpoint, a recolouring or a session without a cache",
            ));
        }
        let tile_rect = self.state.grid.tile_rect(t.tile);
        t.rect.check_inside(tile_rect.width, tile_rect.height)?;
        self.tile_area += t.rect.area();
        Error::check_limit("coded tile area", self.tile_area, 2 * self.screen.area())?;
        let staged = if t.mode.is_recolor() {
            self.recolor(t.mode)?
        } else {
            self.pixels(&t.rect, t.mode, t.glyphs)?
        };
        if t.store {
            self.store(tile_rect);
        }
        Ok(staged)
    }

    /// The colour pairs of a recolouring tile, in the output byte order.
    fn recolor(&mut self, mode: TileMode) -> Result<StagedOp> {
        self.not_in_checkpoint("recolour inside a checkpoint")?;
        let pairs = match mode {
            TileMode::RecolorShared => self
                .shared_map
                .clone()
                .ok_or(Error::Malformed("shared recolour without a colour map"))?,
            _ => codec::recolor::read(&mut self.payload, mode == TileMode::RecolorAlpha)?,
        };
        let output = |c: u32| {
            let mut b = c.to_le_bytes();
            if self.format == PixelFormat::Rgba8 {
                b.swap(0, 2);
            }
            u32::from_le_bytes(b)
        };
        Ok(StagedOp::Recolor(
            pairs
                .into_iter()
                .map(|(f, t)| (output(f), output(t)))
                .collect(),
        ))
    }

    /// The decoded pixels of a coded tile, cached glyphs drawn in; stores its new glyphs.
    fn pixels(&mut self, rect: &Rect, mode: TileMode, glyphs: TileGlyphs) -> Result<StagedOp> {
        let refs = if glyphs.refs {
            read_glyph_refs(&mut self.payload, rect)?
        } else {
            Vec::new()
        };
        let mut pixels = vec![0; rect.area() as usize * 4];
        codec::decode_rect(
            mode,
            rect.width,
            rect.height,
            &mut self.payload,
            &mut pixels,
        )?;
        if self.format == PixelFormat::Rgba8 {
            swap_red_blue(&mut pixels);
        }
        let existing = if self.reset {
            None
        } else {
            Some(&self.state.glyphs)
        };
        let drawn = draw_glyphs(&mut pixels, rect, &refs, existing, &self.new_glyphs)?;
        if glyphs.store {
            store_glyphs(&pixels, rect, &drawn, &mut self.new_glyphs);
        }
        Ok(StagedOp::Pixels(pixels))
    }

    fn video(&mut self, rect: &Rect) -> Result<StagedOp> {
        self.not_in_checkpoint("video inside a checkpoint")?;
        rect.check_inside(self.screen.width, self.screen.height)?;
        self.copy_fill_area += rect.area();
        Ok(StagedOp::Checked)
    }

    fn cached(&mut self, tile: u32, id: u64, keep: bool) -> Result<StagedOp> {
        self.not_in_checkpoint("cached tile inside a checkpoint")?;
        if tile >= self.state.grid.len() {
            return Err(Error::Malformed("tile index beyond the grid"));
        }
        let (capacity, next_id) = (self.capacity, self.next_id);
        let live = capacity > 0 && id < next_id && id + capacity >= next_id;
        let size = if !live {
            None
        } else if id >= self.first_new_id {
            self.new_sizes
                .get((id - self.first_new_id) as usize)
                .copied()
        } else {
            self.state.cache.size_of(id)
        };
        let tile_rect = self.state.grid.tile_rect(tile);
        match size {
            None => return Err(Error::MissingCacheEntry { id }),
            Some(s) if s != (tile_rect.width, tile_rect.height) => {
                return Err(Error::Malformed("cached tile has another size"))
            }
            Some(_) => {}
        }
        self.copy_fill_area += tile_rect.area();
        if keep {
            self.store(tile_rect);
        }
        Ok(StagedOp::Checked)
    }
}

/// Reads the glyph references that open a tile's payload: `count`, then per glyph `dx` u8, `dy` u8
/// and how far back from the newest entry it is.
fn read_glyph_refs(payload: &mut &[u8], rect: &Rect) -> Result<Vec<(u32, u32, u64)>> {
    let mut r = Reader::new(payload);
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
