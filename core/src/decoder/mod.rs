//! The decoder: packets in, a framebuffer and its damaged rectangles out.
//!
//! Every packet is checked in full before it touches anything: a packet that fails (truncated, lying
//! about sizes, pointing outside the screen or at a missing cache entry) returns an error and leaves the
//! framebuffer, the cache and the sequence number exactly as they were. Memory is bounded by the screen
//! size and the cache capacity the decoder accepted, whatever the packets claim.

use crate::codec;
use crate::damage::TileGrid;
use crate::error::{Error, Result};
use crate::frame::{swap_red_blue, PackedImage, PixelFormat, Rect, SourceRows, MAX_DIMENSION};
use crate::protocol::{
    self, CursorImage, CursorPosition, Limits, Message, Op, OpList, PacketKind, SessionInfo,
    SessionLimits,
};
use crate::tiles::cache::DecoderCache;

mod video;

pub use video::VideoChunk;
use video::VideoDecoders;

/// Settings of a [`Decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecoderConfig {
    /// Byte order of the framebuffer (and cursor images): RGBA for browsers' `ImageData`.
    pub output_format: PixelFormat,
    /// Largest screen accepted (checkpoints announcing more are rejected).
    pub max_width: u32,
    /// Largest screen height accepted.
    pub max_height: u32,
    /// Largest tile cache accepted, in tiles (each up to 16 KiB at the default tile size).
    pub max_cache_tiles: u32,
    /// Decode video regions into the framebuffer (needs the `h264` feature). When false, or without
    /// the feature, pictures are returned in [`Update::video`] for the host to decode and draw.
    pub decode_video: bool,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            output_format: PixelFormat::Bgra8,
            max_width: MAX_DIMENSION,
            max_height: MAX_DIMENSION,
            max_cache_tiles: 8192,
            decode_video: cfg!(all(feature = "h264", not(target_arch = "wasm32"))),
        }
    }
}

impl DecoderConfig {
    /// The default settings with another output format.
    pub fn with_output_format(output_format: PixelFormat) -> Self {
        DecoderConfig {
            output_format,
            ..Self::default()
        }
    }
}

/// What one applied packet did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The packet's kind.
    pub kind: PacketKind,
    /// Framebuffer rectangles that changed (repaint only these). The whole screen after a checkpoint.
    pub damage: Vec<Rect>,
    /// True when a checkpoint changed the screen size.
    pub resized: bool,
    /// Video pictures of this update, in order (see [`VideoChunk::drawn`]).
    pub video: Vec<VideoChunk>,
    /// Video regions that ended in this update (their pixels follow losslessly): a host decoding
    /// [`VideoChunk`]s itself should drop those decoders and any picture still in flight.
    pub video_ended: Vec<u32>,
    /// Video pictures that failed to decode. Contained: the rest of the update was applied, and the
    /// region recovers at its next keyframe.
    pub video_errors: u32,
}

/// The cursor as last announced.
#[derive(Debug, Clone, Copy)]
pub struct CursorView<'a> {
    /// Hotspot column in screen pixels.
    pub x: i32,
    /// Hotspot row in screen pixels.
    pub y: i32,
    /// False when the host hid the cursor.
    pub visible: bool,
    /// The image, in the decoder's output format, if it was received.
    pub image: Option<&'a CursorImage>,
}

/// A read-only view of the framebuffer.
#[derive(Debug, Clone, Copy)]
pub struct FramebufferView<'a> {
    /// Pixels, rows packed (`stride == width * 4`).
    pub pixels: &'a [u8],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next.
    pub stride: usize,
    /// Byte order of the pixels (the decoder's output format).
    pub format: PixelFormat,
}

struct State {
    session: SessionInfo,
    grid: TileGrid,
    framebuffer: PackedImage,
    /// The screen as saved by the last `SaveReference` (none after a checkpoint).
    reference: Option<PackedImage>,
    /// The frame updates' payloads since the checkpoint or the last `ResetHistory`.
    history: codec::history::History,
    cache: DecoderCache,
    seq: u64,
}

/// Rebuilds the shared screen from packets.
///
/// ```
/// use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PixelFormat};
/// let pixels: Vec<u8> = (0..32 * 32 * 4).map(|i| (i * 7 % 256) as u8).collect();
/// let mut encoder = Encoder::new(EncoderConfig::default());
/// let packet = encoder.encode(&Frame::new(&pixels, 32, 32, 128, PixelFormat::Bgra8)?)?.unwrap();
/// let mut decoder = Decoder::new(DecoderConfig::default());
/// let update = decoder.apply(packet.as_bytes())?;
/// assert!(update.resized);
/// assert_eq!(decoder.framebuffer().unwrap().pixels, &pixels[..]);
/// assert!(decoder.apply(&packet.as_bytes()[..10]).is_err()); // truncated: rejected, nothing lost
/// assert_eq!(decoder.framebuffer().unwrap().pixels, &pixels[..]);
/// # Ok::<(), glimpse::Error>(())
/// ```
pub struct Decoder {
    config: DecoderConfig,
    state: Option<State>,
    cursor_images: Vec<CursorImage>,
    cursor_position: Option<CursorPosition>,
    damage: Vec<Rect>,
    video: VideoDecoders,
}

/// Cursor images kept at once.
const CURSOR_IMAGES: usize = 16;

impl Decoder {
    /// A decoder waiting for its first checkpoint.
    pub fn new(config: DecoderConfig) -> Self {
        Decoder {
            config,
            state: None,
            cursor_images: Vec::new(),
            cursor_position: None,
            damage: Vec::new(),
            video: VideoDecoders::default(),
        }
    }

    /// The session, once a checkpoint arrived.
    pub fn session(&self) -> Option<SessionInfo> {
        self.state.as_ref().map(|s| s.session)
    }

    /// Sequence number of the last applied update or checkpoint.
    pub fn seq(&self) -> Option<u64> {
        self.state.as_ref().map(|s| s.seq)
    }

    /// The framebuffer, once a checkpoint arrived.
    pub fn framebuffer(&self) -> Option<FramebufferView<'_>> {
        self.state.as_ref().map(|s| FramebufferView {
            pixels: &s.framebuffer.pixels,
            width: s.framebuffer.width,
            height: s.framebuffer.height,
            stride: s.framebuffer.stride(),
            format: self.config.output_format,
        })
    }

    /// Damaged rectangles of the last successfully applied packet.
    pub fn damage(&self) -> &[Rect] {
        &self.damage
    }

    /// The cursor, once a position arrived.
    pub fn cursor(&self) -> Option<CursorView<'_>> {
        let p = self.cursor_position?;
        Some(CursorView {
            x: p.x,
            y: p.y,
            visible: p.visible,
            image: self.cursor_images.iter().rev().find(|i| i.id == p.shape_id),
        })
    }

    /// Applies one packet. On error nothing changed; after [`Error::OutOfSync`] or a lost packet the
    /// viewer needs a checkpoint.
    pub fn apply(&mut self, packet: &[u8]) -> Result<Update> {
        let limits = SessionLimits {
            max_width: self.config.max_width,
            max_height: self.config.max_height,
            max_cache_tiles: self.config.max_cache_tiles,
        };
        let screen = self
            .state
            .as_ref()
            .map(|s| Limits::for_screen(s.session.width, s.session.height, s.session.tile_size));
        // An update that does not follow the last one is out of sync before anything else: its
        // payload may depend on a history this decoder lacks.
        if let (Some(seq), Some(state)) = (protocol::peek_update_seq(packet)?, &self.state) {
            if seq != state.seq.wrapping_add(1) {
                return Err(Error::OutOfSync {
                    expected: state.seq.wrapping_add(1),
                    got: seq,
                });
            }
        }
        let history = self.state.as_ref().map_or(&[][..], |s| s.history.window());
        match protocol::parse(packet, &limits, screen, history)? {
            Message::Checkpoint {
                session,
                seq,
                next_cache_id,
                cursor,
                ops,
            } => {
                let grid = TileGrid::new(session.width, session.height, session.tile_size);
                let mut state = State {
                    session,
                    grid,
                    framebuffer: PackedImage::new(session.width, session.height, 0xff00_0000),
                    reference: None,
                    history: Default::default(),
                    cache: DecoderCache::new(session.cache_tiles, next_cache_id),
                    seq,
                };
                let staged = stage_ops(&state, &ops, true, self.config.output_format)?;
                let mut sink = VideoSink::new(&mut self.video, false, &ops.video);
                apply_ops(
                    &mut state,
                    &ops.ops,
                    &staged,
                    self.config.output_format,
                    &mut sink,
                );
                self.video = VideoDecoders::default();
                let resized = self.state.as_ref().is_none_or(|s| {
                    (s.session.width, s.session.height) != (session.width, session.height)
                });
                self.state = Some(state);
                self.cursor_images.clear();
                if let Some(image) = cursor.image {
                    self.add_cursor_image(image);
                }
                self.cursor_position = cursor.position;
                self.damage = vec![Rect::new(0, 0, session.width, session.height)];
                Ok(Update {
                    kind: PacketKind::Checkpoint,
                    damage: self.damage.clone(),
                    resized,
                    video: Vec::new(),
                    video_ended: Vec::new(),
                    video_errors: 0,
                })
            }
            Message::FrameUpdate { seq, ops } => {
                let state = self.state.as_mut().ok_or(Error::NoCheckpoint)?;
                if seq != state.seq.wrapping_add(1) {
                    return Err(Error::OutOfSync {
                        expected: state.seq.wrapping_add(1),
                        got: seq,
                    });
                }
                let staged = stage_ops(state, &ops, false, self.config.output_format)?;
                let mut sink =
                    VideoSink::new(&mut self.video, self.config.decode_video, &ops.video);
                self.damage = apply_ops(
                    state,
                    &ops.ops,
                    &staged,
                    self.config.output_format,
                    &mut sink,
                );
                if ops.ops.contains(&Op::ResetHistory) {
                    state.history.clear();
                }
                state.history.append(&ops.payload);
                state.seq = seq;
                Ok(Update {
                    kind: PacketKind::FrameUpdate,
                    damage: self.damage.clone(),
                    resized: false,
                    video: sink.chunks,
                    video_ended: sink.ended,
                    video_errors: sink.errors,
                })
            }
            Message::CursorShape(image) => {
                self.add_cursor_image(image);
                Ok(Update {
                    kind: PacketKind::CursorShape,
                    damage: Vec::new(),
                    resized: false,
                    video: Vec::new(),
                    video_ended: Vec::new(),
                    video_errors: 0,
                })
            }
            Message::CursorPosition(p) => {
                self.cursor_position = Some(p);
                Ok(Update {
                    kind: PacketKind::CursorPosition,
                    damage: Vec::new(),
                    resized: false,
                    video: Vec::new(),
                    video_ended: Vec::new(),
                    video_errors: 0,
                })
            }
        }
    }

    fn add_cursor_image(&mut self, mut image: CursorImage) {
        if self.config.output_format == PixelFormat::Rgba8 {
            swap_red_blue(&mut image.pixels);
        }
        self.cursor_images.retain(|i| i.id != image.id);
        if self.cursor_images.len() == CURSOR_IMAGES {
            self.cursor_images.remove(0);
        }
        self.cursor_images.push(image);
    }
}

/// Checks every op of a packet against the current state and decodes the coded tiles, without changing
/// anything. Returns the decoded tile pixels, in op order, in the output format.
fn stage_ops(
    state: &State,
    list: &OpList,
    checkpoint: bool,
    format: PixelFormat,
) -> Result<Vec<u8>> {
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
            Op::Copy { src_x, src_y, dst } => {
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
            Op::CopyReference { src_x, src_y, dst } => {
                if !has_reference {
                    return Err(Error::Malformed("copy from a reference image never saved"));
                }
                dst.check_inside(screen.width, screen.height)?;
                Rect::new(src_x, src_y, dst.width, dst.height)
                    .check_inside(screen.width, screen.height)?;
                copy_fill_area += dst.area();
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
            } => {
                if tile >= tiles {
                    return Err(Error::Malformed("tile index beyond the grid"));
                }
                if checkpoint && keep {
                    return Err(Error::Malformed("cache store inside a checkpoint"));
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
    Ok(staged)
}

/// Applies checked ops; returns the damaged rectangles, merged where they line up.
/// Where the video ops of one update go.
struct VideoSink<'a> {
    decoders: &'a mut VideoDecoders,
    decode: bool,
    data: &'a [u8],
    chunks: Vec<VideoChunk>,
    ended: Vec<u32>,
    errors: u32,
}

impl<'a> VideoSink<'a> {
    fn new(decoders: &'a mut VideoDecoders, decode: bool, data: &'a [u8]) -> Self {
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

fn apply_ops(
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
fn merge_rects(mut rects: Vec<Rect>) -> Vec<Rect> {
    rects.sort_by_key(|r| (r.y, r.height, r.x));
    let mut rows: Vec<Rect> = Vec::with_capacity(rects.len());
    for r in rects {
        match rows.last_mut() {
            Some(last) if last.y == r.y && last.height == r.height && r.x <= last.right() => {
                *last = last.union(&r);
            }
            _ => rows.push(r),
        }
    }
    rows.sort_by_key(|r| (r.x, r.width, r.y));
    let mut out: Vec<Rect> = Vec::with_capacity(rows.len());
    for r in rows {
        match out.last_mut() {
            Some(last) if last.x == r.x && last.width == r.width && r.y <= last.bottom() => {
                *last = last.union(&r)
            }
            _ => out.push(r),
        }
    }
    out
}
