//! The decoder: packets in, a framebuffer and its damaged rectangles out.
//!
//! Every packet is checked in full before it touches anything: a packet that fails (truncated, lying
//! about sizes, pointing outside the screen or at a missing cache entry) returns an error and leaves the
//! framebuffer, the cache and the sequence number exactly as they were. Memory is bounded by the screen
//! size and the cache capacity the decoder accepted, whatever the packets claim.

use crate::codec;
use crate::error::{Error, Result};
use crate::frame::{swap_red_blue, PackedImage, PixelFormat, Rect, MAX_DIMENSION};
use crate::protocol::{
    self, CursorImage, CursorPosition, Limits, Message, Op, PacketKind, SessionInfo, SessionLimits,
};
use crate::tiles::cache::DecoderCache;
use crate::tiles::glyphs::DecoderGlyphs;
use crate::tiles::TileGrid;

mod apply;
mod stage;
mod video;

use apply::{apply_ops, VideoSink};
use stage::stage_ops;
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
    /// Largest tile cache accepted, in tiles (each up to 16 KiB at the default tile size). A session
    /// with a tile cache also keeps the glyph cache: up to 2048 glyphs of at most 32x32 pixels (8 MiB
    /// at worst, far less for text).
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
            decode_video: crate::video_codec::AVAILABLE,
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
    glyphs: DecoderGlyphs,
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
            Message::Checkpoint(c) => {
                let session = c.session;
                let grid = TileGrid::new(session.width, session.height, session.tile_size);
                let mut state = State {
                    session,
                    grid,
                    framebuffer: PackedImage::new(session.width, session.height, 0xff00_0000),
                    reference: None,
                    history: Default::default(),
                    glyphs: Default::default(),
                    cache: DecoderCache::new(session.cache_tiles, c.next_cache_id),
                    seq: c.seq,
                };
                let staged = stage_ops(&state, &c.ops, true, self.config.output_format)?;
                let mut sink = VideoSink::new(&mut self.video, false, &c.ops.video);
                apply_ops(
                    &mut state,
                    &c.ops.ops,
                    &staged.ops,
                    self.config.output_format,
                    &mut sink,
                );
                self.video = VideoDecoders::default();
                let resized = self.state.as_ref().is_none_or(|s| {
                    (s.session.width, s.session.height) != (session.width, session.height)
                });
                self.state = Some(state);
                self.cursor_images.clear();
                if let Some(image) = c.cursor.image {
                    self.add_cursor_image(image);
                }
                self.cursor_position = c.cursor.position;
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
                    &staged.ops,
                    self.config.output_format,
                    &mut sink,
                );
                if ops.ops.contains(&Op::ResetHistory) {
                    state.history.clear();
                    state.glyphs.clear();
                }
                for glyph in staged.new_glyphs {
                    state.glyphs.push(glyph);
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
