//! The encoder: frames in, packets out.

use crate::codec::{self, recolor, Coded, Entropy, Scratch, TileMode};
use crate::damage::{detect_with, DirtyTile, TileGrid, TILE_SIZE};
use crate::error::{Error, Result};
use crate::frame::{swap_red_blue, Frame, PackedImage, PixelFormat, Rect, SourceRows};
use crate::protocol::{
    self, CursorImage, CursorPosition, CursorState, Op, Packet, SessionInfo, MAX_CURSOR_SIZE,
};
use crate::tiles::cache::EncoderCache;
use crate::tiles::{solid_color, TileKey};

#[cfg(not(all(feature = "h264", not(target_arch = "wasm32"))))]
#[path = "no_video.rs"]
mod video;
#[cfg(all(feature = "h264", not(target_arch = "wasm32")))]
mod video;

mod motion;
mod shared_recolor;

use crate::tiles::motion::CurrentAnchors;
use motion::{apply_motion, snapshot, MoveSource};

/// Colour of privacy-masked pixels (opaque dark grey), canonical BGRA.
pub const MASK_COLOR: u32 = 0xff20_2020;

/// Smallest changed rectangle worth checking for a recolouring.
const MIN_RECOLOR_PIXELS: u64 = 256;

/// Changed tiles from which a change counts as large: searched in the reference image, or saved as it.
const REFERENCE_MIN_TILES: usize = 16;

/// Changed pixels below which a frame is not searched for moved content.
const MIN_MOTION_PIXELS: u64 = 4096;

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

/// Settings of video regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct VideoSettings {
    /// Send video-like regions as H.264. Off: everything lossless. On by default with the `h264`
    /// feature; without it regions never start.
    pub enabled: bool,
    /// Target bit rate of each region in bits per second; 0 picks one from the region's size
    /// (5 bits per pixel per second, 250 kbit/s to 8 Mbit/s).
    pub bitrate_bps: u32,
    /// Frames per second the host captures at (the rate control spreads the bit rate over them).
    pub fps: u32,
    /// A region that saw no change for this many frames ends and is re-sent losslessly: every pixel
    /// is exact again at most `settle_frames + 1` frames after the screen settles.
    pub settle_frames: u32,
}

impl Default for VideoSettings {
    fn default() -> Self {
        VideoSettings {
            enabled: cfg!(all(feature = "h264", not(target_arch = "wasm32"))),
            bitrate_bps: 0,
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
            stats.lossy_pixels = screen.video.lossy_pixels(&screen.grid);
        }
        stats
    }

    /// The screen rectangles viewers show lossy right now (tiles of video regions not yet topped off);
    /// every other pixel is exact.
    pub fn lossy_rects(&self) -> Vec<Rect> {
        self.screen
            .as_ref()
            .map_or_else(Vec::new, |s| s.video.lossy_rects(&s.grid))
    }

    /// The sharp-text guarantee: after the screen stops changing, every pixel viewers show is exact
    /// within this many frames (`settle_frames + 1`; 400 ms at 10 frames per second by default).
    pub fn top_off_bound_frames(&self) -> u32 {
        self.config.video.settle_frames.max(1) + 1
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

/// Damage -> moves -> tiles -> codec for one frame against the mirror; updates the mirror.
fn encode_update(
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
    let next_reference = (large && screen.video.lossy_pixels(&screen.grid) == 0).then(|| {
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
    }
    if let Some(reference) = next_reference {
        screen.spare_reference = screen.reference.replace(reference);
    }
    // Video regions take their tiles; lossy tiles of ended regions come back losslessly.
    let plan = screen.video.plan(&screen.grid, src, &dirty, &mut ops);
    let mut video = Vec::new();
    for rect in screen
        .video
        .encode_pictures(&screen.grid, src, &dirty, &mut ops, &mut video)
    {
        screen.mirror.copy_rect_from(src, &rect);
    }
    let video_state = &screen.video;
    let grid = screen.grid;
    dirty.retain(|d| !video_state.in_region(&grid, d.index));
    if !plan.top_off.is_empty() {
        for &t in &plan.top_off {
            let rect = grid.tile_rect(t);
            match dirty.iter_mut().find(|d| d.index == t) {
                Some(d) => d.rect = rect,
                None => dirty.push(DirtyTile { index: t, rect }),
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
        if cache.enabled() {
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
                screen.video.mark_exact(d.index);
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
                screen.video.mark_exact(d.index);
            }
            continue;
        }
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
            _ => codec::encode_rect(src, &d.rect, &mut payload, scratch, strategy),
        };
        match coded {
            Coded::Fill(color) => push_fill(&mut ops, d.rect, color),
            Coded::Tile(mode) => {
                let store = screen.cache.enabled();
                if store {
                    screen.cache.store(TileKey::of(src, &tile_rect));
                }
                ops.push(Op::Tile {
                    tile: d.index,
                    rect: relative(&d.rect, &tile_rect),
                    mode,
                    store,
                });
            }
        }
        screen.mirror.copy_rect_from(src, &d.rect);
        if d.rect == tile_rect {
            screen.video.mark_exact(d.index);
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
fn build_checkpoint(
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
