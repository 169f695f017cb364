//! Video regions on the encoder side: finding them, one H.264 encoder per region, and the lossless
//! "top-off" once a region settles.
//!
//! A tile is *busy* in a frame when at least a quarter of it changed and neither a copy nor the tile
//! cache explained it. Tiles busy in each of the last four frames whose pixels are photographic (over
//! 256 colours) are candidates; 4-connected candidates covering at least 2x2 tiles, half of their
//! bounding box or more, form a region once the same box shows up in two frames in a row. Typing,
//! scrolling (copies) and dragged windows (their tiles settle within a frame or two, and the box moves)
//! do not qualify; a playing video does.
//!
//! While a region is active its tiles are sent as H.264 pictures only, and decoders show them lossy.
//! The mirror keeps the *source* pixels there, and lossy tiles are never the source of a copy nor
//! entered into the tile cache, so no lossless op ever depends on pixels that differ between decoders.
//! A region that saw no change for `settle_frames` frames ends: every lossy tile is re-sent losslessly.

use super::VideoSettings;
use crate::codec;
use crate::damage::{DirtyTile, TileGrid};
use crate::frame::{Rect, SourceRows};
use crate::protocol::Op;
use crate::video::{RegionEncoder, VideoEncoderConfig};

/// Frames a tile must be busy in a row to be a candidate.
const BUSY_FRAMES: u8 = 4;
/// Regions encoded at once.
const MAX_REGIONS: usize = 4;

/// A region in tile units: columns `c0..c1`, rows `r0..r1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TileBox {
    c0: u32,
    r0: u32,
    c1: u32,
    r1: u32,
}

impl TileBox {
    fn contains(&self, grid: &TileGrid, index: u32) -> bool {
        let (c, r) = (index % grid.cols(), index / grid.cols());
        c >= self.c0 && c < self.c1 && r >= self.r0 && r < self.r1
    }

    fn overlaps(&self, other: &TileBox) -> bool {
        self.c0 < other.c1 && other.c0 < self.c1 && self.r0 < other.r1 && other.r0 < self.r1
    }

    fn tiles<'a>(&self, grid: &'a TileGrid) -> impl Iterator<Item = u32> + 'a {
        let b = *self;
        (b.r0..b.r1).flat_map(move |r| (b.c0..b.c1).map(move |c| r * grid.cols() + c))
    }

    fn rect(&self, grid: &TileGrid) -> Rect {
        let first = grid.tile_rect(self.r0 * grid.cols() + self.c0);
        let last = grid.tile_rect((self.r1 - 1) * grid.cols() + self.c1 - 1);
        first.union(&last)
    }
}

struct ActiveRegion {
    id: u32,
    tiles: TileBox,
    rect: Rect,
    encoder: RegionEncoder,
    quiet_frames: u32,
    keyframe_due: bool,
}

/// What the encoder should do this frame besides lossless tiles.
#[derive(Default)]
pub(crate) struct VideoPlan {
    /// Tiles that must be sent losslessly although they may not have changed (top-off).
    pub top_off: Vec<u32>,
}

/// Video state of one encoder.
pub(crate) struct VideoState {
    settings: VideoSettings,
    busy_history: Vec<u8>,
    lossy: Vec<bool>,
    regions: Vec<ActiveRegion>,
    pending: Option<TileBox>,
    next_region_id: u32,
    /// Pictures and their bytes so far.
    pub pictures: u64,
    pub picture_bytes: u64,
    pub picture_pixels: u64,
}

impl VideoState {
    pub fn new(settings: VideoSettings, grid: &TileGrid) -> Self {
        VideoState {
            settings,
            busy_history: vec![0; grid.len() as usize],
            lossy: vec![false; grid.len() as usize],
            regions: Vec::new(),
            pending: None,
            next_region_id: 1,
            pictures: 0,
            picture_bytes: 0,
            picture_pixels: 0,
        }
    }

    /// True when decoders may show other pixels than the mirror in `tile`, or it belongs to a region.
    pub fn is_lossy(&self, tile: u32) -> bool {
        self.lossy[tile as usize]
    }

    /// True when some tile `rect` touches is lossy.
    pub fn touches_lossy(&self, grid: &TileGrid, rect: &Rect) -> bool {
        grid.tiles_touching(rect).any(|t| self.lossy[t as usize])
    }

    /// Marks a tile as exact again (it was just sent losslessly).
    pub fn mark_exact(&mut self, tile: u32) {
        self.lossy[tile as usize] = false;
    }

    /// Pixels decoders currently show lossy.
    pub fn lossy_pixels(&self, grid: &TileGrid) -> u64 {
        (0..grid.len())
            .filter(|&t| self.lossy[t as usize])
            .map(|t| grid.tile_rect(t).area())
            .sum()
    }

    /// Screen rectangles (tiles) viewers show lossy right now.
    pub fn lossy_rects(&self, grid: &TileGrid) -> Vec<Rect> {
        (0..grid.len())
            .filter(|&t| self.lossy[t as usize])
            .map(|t| grid.tile_rect(t))
            .collect()
    }

    /// True when a region is active (frames without damage still need a visit).
    pub fn active(&self) -> bool {
        !self.regions.is_empty() || self.lossy.iter().any(|&l| l)
    }

    /// The next picture of every region is a keyframe (a viewer joins from a checkpoint).
    pub fn request_keyframes(&mut self) {
        for r in &mut self.regions {
            r.keyframe_due = true;
        }
    }

    /// Updates the detection with this frame's dirty tiles (after copies and cache hits were taken
    /// out), starts and ends regions, and says which tiles need a lossless top-off.
    pub fn plan(
        &mut self,
        grid: &TileGrid,
        src: &SourceRows<'_>,
        dirty: &[DirtyTile],
        ops: &mut Vec<Op>,
    ) -> VideoPlan {
        let mut plan = VideoPlan::default();
        let tile_area = grid.tile_size() * grid.tile_size();
        let mut busy_now = vec![false; self.busy_history.len()];
        for d in dirty {
            if d.rect.area() * 4 >= u64::from(tile_area) {
                busy_now[d.index as usize] = true;
            }
        }
        for (h, &b) in self.busy_history.iter_mut().zip(&busy_now) {
            *h = (*h << 1) | u8::from(b);
        }
        // Regions that went quiet end.
        for r in &mut self.regions {
            let changed = dirty.iter().any(|d| r.tiles.contains(grid, d.index));
            r.quiet_frames = if changed { 0 } else { r.quiet_frames + 1 };
        }
        let settle = self.settings.settle_frames.max(1);
        let (quiet, kept): (Vec<_>, Vec<_>) = self
            .regions
            .drain(..)
            .partition(|r| r.quiet_frames >= settle);
        self.regions = kept;
        for r in quiet {
            self.end_region(grid, r, ops);
        }
        if self.settings.enabled {
            self.detect(grid, src, ops);
        }
        // Lossy tiles outside every active region are topped off now.
        for t in 0..grid.len() {
            if self.lossy[t as usize] && !self.regions.iter().any(|r| r.tiles.contains(grid, t)) {
                plan.top_off.push(t);
            }
        }
        plan
    }

    fn end_region(&mut self, _grid: &TileGrid, region: ActiveRegion, ops: &mut Vec<Op>) {
        ops.push(Op::VideoEnd { region: region.id });
    }

    fn detect(&mut self, grid: &TileGrid, src: &SourceRows<'_>, ops: &mut Vec<Op>) {
        let full = (1u8 << BUSY_FRAMES) - 1;
        let candidate: Vec<bool> = (0..grid.len())
            .map(|t| {
                self.busy_history[t as usize] & full == full
                    && !self.regions.iter().any(|r| r.tiles.contains(grid, t))
                    && codec::is_photographic(src, &grid.tile_rect(t))
            })
            .collect();
        let found = components(grid, &candidate);
        let Some(best) = found
            .into_iter()
            .max_by_key(|b| (b.c1 - b.c0) * (b.r1 - b.r0))
        else {
            self.pending = None;
            return;
        };
        // Compared field by field only when a pending box exists (`Option` equality lets LLVM read
        // the absent payload, which valgrind reports as a jump on uninitialised bytes).
        if self.pending.is_none_or(|pending| pending != best) {
            self.pending = Some(best);
            return;
        }
        self.pending = None;
        // A region that the new one overlaps moved or resized: it restarts as the new one.
        let (overlapped, kept): (Vec<_>, Vec<_>) = self
            .regions
            .drain(..)
            .partition(|r| r.tiles.overlaps(&best));
        self.regions = kept;
        for r in overlapped {
            self.end_region(grid, r, ops);
        }
        if self.regions.len() == MAX_REGIONS {
            return;
        }
        let rect = best.rect(grid);
        let auto = (rect.area() * 5).clamp(250_000, 8_000_000) as u32;
        let config = VideoEncoderConfig {
            bitrate_bps: if self.settings.bitrate_bps == 0 {
                auto
            } else {
                self.settings.bitrate_bps
            },
            max_fps: self.settings.fps.clamp(1, 120) as f32,
            ..VideoEncoderConfig::default()
        };
        if let Ok(encoder) = RegionEncoder::new(rect.width, rect.height, &config) {
            let id = self.next_region_id;
            self.next_region_id = self.next_region_id.wrapping_add(1).max(1);
            self.regions.push(ActiveRegion {
                id,
                tiles: best,
                rect,
                encoder,
                quiet_frames: 0,
                keyframe_due: true,
            });
        }
    }

    /// True when `tile` is sent as video this frame.
    pub fn in_region(&self, grid: &TileGrid, tile: u32) -> bool {
        self.regions.iter().any(|r| r.tiles.contains(grid, tile))
    }

    /// Encodes one picture for every region whose pixels changed (or that owes a keyframe); marks its
    /// tiles lossy. Returns the rectangles now holding source pixels in the mirror.
    pub fn encode_pictures(
        &mut self,
        grid: &TileGrid,
        src: &SourceRows<'_>,
        dirty: &[DirtyTile],
        ops: &mut Vec<Op>,
        video: &mut Vec<u8>,
    ) -> Vec<Rect> {
        let mut written = Vec::new();
        let mut failed = Vec::new();
        for (i, r) in self.regions.iter_mut().enumerate() {
            let changed = dirty.iter().any(|d| r.tiles.contains(grid, d.index));
            if !(changed || r.keyframe_due && r.quiet_frames == 0) {
                continue;
            }
            let start = r.rect.y as usize * src.stride + r.rect.x as usize * 4;
            match r
                .encoder
                .encode(&src.data[start..], src.stride, r.keyframe_due)
            {
                Ok(picture) => {
                    r.keyframe_due = false;
                    let begin = video.len() as u32;
                    video.extend_from_slice(&picture.annexb);
                    ops.push(Op::Video {
                        region: r.id,
                        rect: r.rect,
                        keyframe: picture.keyframe,
                        start: begin,
                        len: picture.annexb.len() as u32,
                    });
                    self.pictures += 1;
                    self.picture_pixels += r.rect.area();
                    self.picture_bytes += picture.annexb.len() as u64;
                    for t in r.tiles.tiles(grid) {
                        self.lossy[t as usize] = true;
                    }
                    written.push(r.rect);
                }
                Err(_) => failed.push(i),
            }
        }
        for i in failed.into_iter().rev() {
            let r = self.regions.remove(i);
            self.end_region(grid, r, ops);
        }
        written
    }
}

/// Bounding boxes of 4-connected candidate tiles that cover at least 2x2 tiles, half of the box or more.
fn components(grid: &TileGrid, candidate: &[bool]) -> Vec<TileBox> {
    let mut seen = vec![false; candidate.len()];
    let mut out = Vec::new();
    let cols = grid.cols();
    for start in 0..grid.len() {
        if !candidate[start as usize] || seen[start as usize] {
            continue;
        }
        let mut stack = vec![start];
        seen[start as usize] = true;
        let mut count = 0u32;
        let mut b = TileBox {
            c0: u32::MAX,
            r0: u32::MAX,
            c1: 0,
            r1: 0,
        };
        while let Some(t) = stack.pop() {
            count += 1;
            let (c, r) = (t % cols, t / cols);
            b = TileBox {
                c0: b.c0.min(c),
                r0: b.r0.min(r),
                c1: b.c1.max(c + 1),
                r1: b.r1.max(r + 1),
            };
            let mut push = |n: u32| {
                if candidate[n as usize] && !seen[n as usize] {
                    seen[n as usize] = true;
                    stack.push(n);
                }
            };
            if c > 0 {
                push(t - 1);
            }
            if c + 1 < cols {
                push(t + 1);
            }
            if r > 0 {
                push(t - cols);
            }
            if r + 1 < grid.rows() {
                push(t + cols);
            }
        }
        let area = (b.c1 - b.c0) * (b.r1 - b.r0);
        if b.c1 - b.c0 >= 2 && b.r1 - b.r0 >= 2 && count * 2 >= area {
            out.push(b);
        }
    }
    out
}
