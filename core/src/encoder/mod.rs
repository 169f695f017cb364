//! The encoder: frames in, packets out.

use crate::codec::{Entropy, Scratch};
use crate::error::{Error, Result};
use crate::frame::{swap_red_blue, Frame, PackedImage, PixelFormat, Rect, SourceRows};
use crate::protocol::{
    self, CursorImage, CursorPosition, CursorState, Packet, SessionInfo, MAX_CURSOR_SIZE,
};
use crate::tiles::cache::EncoderCache;
use crate::tiles::glyphs::EncoderGlyphs;
use crate::tiles::{TileGrid, TILE_SIZE};

mod glyph_coding;
mod motion;
mod shared_recolor;
mod tile_coding;
mod update;
mod video;

use update::{build_checkpoint, encode_update};

/// Colour of privacy-masked pixels (opaque dark grey), canonical BGRA.
pub const MASK_COLOR: u32 = 0xff20_2020;

/// Settings of an [`Encoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncoderConfig {
    /// Tile cache capacity in 64x64 tiles (16 KiB each on the viewer). 0 turns the cache off.
    pub cache_tiles: u32,
    /// Detect scrolling and moved windows and send them as copies.
    pub motion_detection: bool,
    /// Entropy stage of the payload.
    pub entropy: Entropy,
    /// Display scale announced to viewers (100 = 96 DPI).
    pub scale_percent: u16,
    /// Video regions: H.264 where pixels move like video (needs the `h264` feature).
    pub video: VideoSettings,
}

/// Quantiser video regions are coded at by default ([`VideoSettings::quality_qp`]).
pub const DEFAULT_VIDEO_QUALITY_QP: u8 = crate::video_codec::DEFAULT_QUALITY_QP;

/// Settings of video regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VideoSettings {
    /// Send video-like regions as H.264. Off: everything lossless. On by default with the `h264`
    /// feature; without it regions never start.
    pub enabled: bool,
    /// Bit rate ceiling of each region in bits per second; 0 picks one from the region's size
    /// (5 bits per pixel per second, 250 kbit/s to 8 Mbit/s). Regions are coded at constant quality
    /// ([`quality_qp`](Self::quality_qp)) and spend what the content needs; only above the ceiling
    /// does the quality step down.
    pub bitrate_bps: u32,
    /// H.264 quantiser of video regions (0..=51; lower is sharper and costs more). The default, 22,
    /// plays the corpus films at 41-44 dB (RGB PSNR) for less than whole-frame H.264 spends.
    pub quality_qp: u8,
    /// Frames per second the host captures at (the rate control spreads the bit rate over them).
    pub fps: u32,
    /// A region that saw no change for this many frames ends and is re-sent losslessly: every pixel
    /// is exact again at most `settle_frames + 1` frames after the screen settles.
    pub settle_frames: u32,
}

impl Default for VideoSettings {
    fn default() -> Self {
        VideoSettings {
            enabled: crate::video_codec::AVAILABLE,
            bitrate_bps: 0,
            quality_qp: DEFAULT_VIDEO_QUALITY_QP,
            fps: 10,
            settle_frames: 3,
        }
    }
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            cache_tiles: 2048,
            motion_detection: true,
            entropy: Entropy::default(),
            scale_percent: 100,
            video: VideoSettings::default(),
        }
    }
}

/// Turns captured frames into packets. See the [crate docs](crate) for the pipeline.
///
/// ```
/// use glimpse::{Encoder, EncoderConfig, Frame, PixelFormat, PacketKind};
/// let mut encoder = Encoder::new(EncoderConfig::default());
/// let mut pixels = vec![255u8; 640 * 480 * 4];
/// let first = encoder.encode(&Frame::new(&pixels, 640, 480, 640 * 4, PixelFormat::Bgra8)?)?;
/// assert_eq!(first.unwrap().kind(), PacketKind::Checkpoint);
/// // Nothing changed: no packet at all.
/// assert!(encoder.encode(&Frame::new(&pixels, 640, 480, 640 * 4, PixelFormat::Bgra8)?)?.is_none());
/// pixels[4 * (100 * 640 + 100)] = 0;
/// let update = encoder.encode(&Frame::new(&pixels, 640, 480, 640 * 4, PixelFormat::Bgra8)?)?.unwrap();
/// assert_eq!(update.kind(), PacketKind::FrameUpdate);
/// assert!(update.len() < 40);
/// # Ok::<(), glimpse::Error>(())
/// ```
pub struct Encoder {
    config: EncoderConfig,
    screen: Option<Screen>,
    masks: Vec<Rect>,
    /// Areas whose masking changed since the last frame: compared whatever the hints say.
    mask_changes: Vec<Rect>,
    cursor: CursorState,
    cursor_shapes: Vec<(u64, u32)>,
    next_shape_id: u32,
    scratch: Scratch,
    stats: EncoderStats,
}

/// State that exists once the first frame fixed the screen size.
struct Screen {
    session: SessionInfo,
    grid: TileGrid,
    /// Exactly what every decoder in step shows.
    mirror: PackedImage,
    /// Canonical copy of the incoming frame when it cannot be read in place (RGBA input, masks).
    staging: Vec<u8>,
    /// True when `staging` holds the whole previous frame (so hints may limit what is re-staged).
    staging_valid: bool,
    cache: EncoderCache,
    seq: u64,
    store_screen_pending: bool,
    /// True after a checkpoint: the next update starts with `ResetHistory`.
    history_reset_pending: bool,
    /// What decoders in step hold as the reference image (`None` after a checkpoint).
    reference: Option<PackedImage>,
    /// The previous reference's memory, reused for the next one.
    spare_reference: Option<PackedImage>,
    video: video::VideoState,
    /// What decoders in step hold in their glyph cache.
    glyphs: EncoderGlyphs,
    glyph_work: glyph_coding::GlyphScratch,
}

/// Counters of what an encoder produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncoderStats {
    /// Frames given to `encode`.
    pub frames: u64,
    /// Frames that produced no packet (nothing changed).
    pub unchanged_frames: u64,
    /// Checkpoints produced.
    pub checkpoints: u64,
    /// Bytes of all packets produced.
    pub bytes: u64,
    /// Copy operations (scroll/move) emitted.
    pub copies: u64,
    /// Tiles sent as cache references.
    pub cache_hits: u64,
    /// H.264 pictures sent for video regions.
    pub video_pictures: u64,
    /// Bytes of those pictures.
    pub video_bytes: u64,
    /// Pixels covered by those pictures (a region's area once per picture).
    pub video_pixels: u64,
    /// Pixels viewers show lossy right now (video regions not yet topped off).
    pub lossy_pixels: u64,
}

impl Encoder {
    /// An encoder with no screen yet: the first frame fixes its size.
    pub fn new(config: EncoderConfig) -> Self {
        Encoder {
            config,
            screen: None,
            masks: Vec::new(),
            mask_changes: Vec::new(),
            cursor: CursorState::default(),
            cursor_shapes: Vec::new(),
            next_shape_id: 1,
            scratch: Scratch::default(),
            stats: EncoderStats::default(),
        }
    }

    /// The settings this encoder was made with.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// The session viewers are in, once a frame was encoded.
    pub fn session(&self) -> Option<SessionInfo> {
        self.screen.as_ref().map(|s| s.session)
    }

    /// Counters so far.
    pub fn stats(&self) -> EncoderStats {
        let mut stats = self.stats;
        if let Some(screen) = &self.screen {
            stats.video_pictures = screen.video.pictures;
            stats.video_bytes = screen.video.picture_bytes;
            stats.video_pixels = screen.video.picture_pixels;
            stats.lossy_pixels = screen.video.lossy_pixels();
        }
        stats
    }

    /// The screen rectangles viewers show lossy right now (tiles of video regions not yet topped off);
    /// every other pixel is exact.
    pub fn lossy_rects(&self) -> Vec<Rect> {
        self.screen
            .as_ref()
            .map_or_else(Vec::new, |s| s.video.lossy_rects())
    }

    /// The sharp-text guarantee: after the screen stops changing, every pixel viewers show is exact
    /// within this many frames (`settle_frames + 1`; 400 ms at 10 frames per second by default).
    pub fn top_off_bound_frames(&self) -> u32 {
        self.config.video.settle_frames.max(1).saturating_add(1)
    }

    /// Encodes a frame. Returns a checkpoint for the first frame or after a size change, a frame update
    /// when something changed, and `None` when the frame equals the previous one.
    pub fn encode(&mut self, frame: &Frame<'_>) -> Result<Option<Packet>> {
        self.encode_inner(frame, None)
    }

    /// Like [`encode`](Self::encode), comparing only inside `hints`: the damage rectangles reported by
    /// the capture API. Pixels outside every hint must equal the previous frame.
    pub fn encode_with_hints(
        &mut self,
        frame: &Frame<'_>,
        hints: &[Rect],
    ) -> Result<Option<Packet>> {
        self.encode_inner(frame, Some(hints))
    }

    /// Sets the privacy masks: screen rectangles whose pixels never leave the encoder (they are sent as
    /// [`MASK_COLOR`]). Applies from the next frame on; an empty slice removes all masks.
    pub fn set_privacy_masks(&mut self, masks: &[Rect]) {
        self.mask_changes.extend(self.masks.iter().copied());
        self.mask_changes.extend(masks.iter().copied());
        self.masks = masks.iter().copied().filter(|m| !m.is_empty()).collect();
    }

    /// A self-contained checkpoint of the current screen, for a viewer joining now (or after a loss).
    /// Viewers already in step can ignore it: the stream that follows suits both. `None` before the
    /// first frame.
    pub fn checkpoint(&mut self) -> Option<Packet> {
        let entropy = self.config.entropy;
        let screen = self.screen.as_mut()?;
        let packet = build_checkpoint(screen, &self.cursor, &mut self.scratch, entropy);
        self.stats.checkpoints += 1;
        // A late joiner's cache is empty: forget ours; the next update rebuilds it with StoreScreen.
        screen.cache.forget_all();
        screen.store_screen_pending = screen.cache.enabled();
        // A late joiner has no reference image either: the next large change saves a new one.
        screen.spare_reference = screen.reference.take();
        // Nor glyphs: the next update's `ResetHistory` empties the cache of viewers in step too.
        screen.glyphs.clear();
        // A late joiner's video decoders start at a keyframe.
        screen.video.request_keyframes();
        self.cursor_shapes
            .retain(|&(_, id)| Some(id) == self.cursor.image.as_ref().map(|i| i.id));
        Some(packet)
    }

    /// Sets the cursor image (at most 256x256; any stride and format) and its hotspot. Returns the packet
    /// that announces it, or `None` if viewers already have this image (then only a position packet is
    /// needed, which this call queues into the state a later `move_cursor` or checkpoint sends).
    pub fn set_cursor_shape(
        &mut self,
        image: &Frame<'_>,
        hotspot_x: u32,
        hotspot_y: u32,
    ) -> Result<Option<Packet>> {
        if image.width() > MAX_CURSOR_SIZE || image.height() > MAX_CURSOR_SIZE {
            return Err(Error::LimitExceeded {
                what: "cursor size",
                value: u64::from(image.width().max(image.height())),
                limit: u64::from(MAX_CURSOR_SIZE),
            });
        }
        if hotspot_x >= image.width() || hotspot_y >= image.height() {
            return Err(Error::InvalidRect {
                x: hotspot_x,
                y: hotspot_y,
                width: 1,
                height: 1,
                screen_width: image.width(),
                screen_height: image.height(),
            });
        }
        let mut pixels = Vec::with_capacity(image.width() as usize * image.height() as usize * 4);
        for y in 0..image.height() {
            pixels.extend_from_slice(image.row(y));
        }
        if image.format() == PixelFormat::Rgba8 {
            swap_red_blue(&mut pixels);
        }
        let hash = xxhash_rust::xxh3::xxh3_64(&pixels)
            ^ u64::from(image.width()) << 48
            ^ u64::from(hotspot_x) << 32
            ^ u64::from(hotspot_y) << 16;
        if let Some(&(_, id)) = self.cursor_shapes.iter().find(|(h, _)| *h == hash) {
            if let Some(pos) = &mut self.cursor.position {
                pos.shape_id = id;
            }
            let known = self.cursor.image.as_ref().is_some_and(|i| i.id == id);
            if known {
                return Ok(None);
            }
        }
        let id = self.next_shape_id;
        self.next_shape_id = self.next_shape_id.wrapping_add(1).max(1);
        let cursor = CursorImage {
            id,
            width: image.width(),
            height: image.height(),
            hotspot_x,
            hotspot_y,
            pixels,
        };
        let packet = protocol::cursor_shape_packet(&cursor, self.config.entropy);
        self.cursor_shapes.push((hash, id));
        if self.cursor_shapes.len() > 16 {
            self.cursor_shapes.remove(0);
        }
        if let Some(pos) = &mut self.cursor.position {
            pos.shape_id = id;
        }
        self.cursor.image = Some(cursor);
        self.stats.bytes += packet.len() as u64;
        Ok(Some(packet))
    }

    /// Moves the cursor hotspot to `x, y` (screen pixels) and shows or hides it. `None` if nothing changed.
    pub fn move_cursor(&mut self, x: i32, y: i32, visible: bool) -> Option<Packet> {
        let shape_id = self.cursor.image.as_ref().map_or(0, |i| i.id);
        let position = CursorPosition {
            x,
            y,
            visible,
            shape_id,
        };
        if self.cursor.position == Some(position) {
            return None;
        }
        self.cursor.position = Some(position);
        let packet = protocol::cursor_position_packet(&position);
        self.stats.bytes += packet.len() as u64;
        Some(packet)
    }

    fn encode_inner(
        &mut self,
        frame: &Frame<'_>,
        hints: Option<&[Rect]>,
    ) -> Result<Option<Packet>> {
        self.stats.frames += 1;
        let resized = self
            .screen
            .as_ref()
            .is_none_or(|s| s.session.width != frame.width() || s.session.height != frame.height());
        if resized {
            self.start_screen(frame);
            let packet = self.checkpoint().expect("screen was just set");
            self.stats.bytes += packet.len() as u64;
            return Ok(Some(packet));
        }
        let screen = self
            .screen
            .as_mut()
            .expect("screen exists after the resize check");
        // Which areas to compare.
        let full = [frame.bounds()];
        let mut regions: Vec<Rect> = hints.map_or_else(|| full.to_vec(), |h| h.to_vec());
        if hints.is_some() {
            regions.append(&mut self.mask_changes);
        }
        self.mask_changes.clear();
        let needs_staging = frame.format() == PixelFormat::Rgba8 || !self.masks.is_empty();
        let mut staging = std::mem::take(&mut screen.staging);
        if needs_staging {
            // Staging that missed frames (it was not needed for them) is refreshed whole.
            let whole = [frame.bounds()];
            let stage_regions = if screen.staging_valid {
                &regions[..]
            } else {
                &whole[..]
            };
            stage(&mut staging, frame, stage_regions, &self.masks);
        }
        screen.staging_valid = needs_staging;
        let src = if needs_staging {
            SourceRows {
                data: &staging,
                stride: frame.width() as usize * 4,
                width: frame.width(),
                height: frame.height(),
            }
        } else {
            SourceRows {
                data: frame_data(frame),
                stride: frame.stride(),
                width: frame.width(),
                height: frame.height(),
            }
        };
        let packet = encode_update(
            screen,
            &src,
            &regions,
            &self.config,
            &mut self.scratch,
            &mut self.stats,
        );
        screen.staging = staging;
        match &packet {
            Some(p) => self.stats.bytes += p.len() as u64,
            None => self.stats.unchanged_frames += 1,
        }
        Ok(packet)
    }

    fn start_screen(&mut self, frame: &Frame<'_>) {
        let (width, height) = (frame.width(), frame.height());
        let session = SessionInfo {
            width,
            height,
            scale_percent: self.config.scale_percent,
            tile_size: TILE_SIZE,
            cache_tiles: self.config.cache_tiles,
        };
        let mut mirror = PackedImage::new(width, height, 0);
        let mut staging = Vec::new();
        let full = [frame.bounds()];
        stage(&mut staging, frame, &full, &self.masks);
        mirror.pixels.copy_from_slice(&staging);
        let next_id = self.screen.as_ref().map_or(0, |s| s.cache.next_id());
        let mut cache = EncoderCache::new(self.config.cache_tiles);
        // Ids keep growing across a resize, so no viewer ever confuses old and new entries.
        cache.set_next_id(next_id);
        self.mask_changes.clear();
        let grid = TileGrid::new(width, height, TILE_SIZE);
        self.screen = Some(Screen {
            session,
            grid,
            video: video::VideoState::new(self.config.video, &grid),
            mirror,
            staging_valid: frame.format() == PixelFormat::Rgba8 || !self.masks.is_empty(),
            staging: if frame.format() == PixelFormat::Rgba8 || !self.masks.is_empty() {
                staging
            } else {
                Vec::new()
            },
            cache,
            seq: 0,
            store_screen_pending: false,
            history_reset_pending: true,
            reference: None,
            spare_reference: None,
            glyphs: EncoderGlyphs::default(),
            glyph_work: Default::default(),
        });
    }
}

/// The frame's bytes from the first pixel on (rows at `stride`).
fn frame_data<'a>(frame: &Frame<'a>) -> &'a [u8] {
    frame.data()
}

/// Writes `regions` of `frame` into `staging` in canonical layout, then blanks the masks there.
fn stage(staging: &mut Vec<u8>, frame: &Frame<'_>, regions: &[Rect], masks: &[Rect]) {
    let (width, height) = (frame.width(), frame.height());
    let stride = width as usize * 4;
    if staging.len() != stride * height as usize {
        staging.clear();
        staging.resize(stride * height as usize, 0);
    }
    let screen = frame.bounds();
    for region in regions.iter().filter_map(|r| r.intersect(&screen)) {
        for y in region.y..region.bottom() {
            let (a, b) = (region.x as usize * 4, region.right() as usize * 4);
            let dst = &mut staging[y as usize * stride + a..y as usize * stride + b];
            dst.copy_from_slice(&frame.row(y)[a..b]);
            if frame.format() == PixelFormat::Rgba8 {
                swap_red_blue(dst);
            }
        }
    }
    let color = MASK_COLOR.to_le_bytes();
    for mask in masks.iter().filter_map(|m| m.intersect(&screen)) {
        for y in mask.y..mask.bottom() {
            let row = &mut staging[y as usize * stride..(y as usize + 1) * stride];
            for px in row[mask.x as usize * 4..mask.right() as usize * 4].chunks_exact_mut(4) {
                px.copy_from_slice(&color);
            }
        }
    }
}
