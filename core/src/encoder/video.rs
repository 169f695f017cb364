//! Video regions on the encoder side: finding them, one H.264 encoder per region, and the lossless
//! "top-off" once a region settles.
//!
//! A tile is *busy* in a frame when at least a quarter of it changed and neither a copy nor the tile
//! cache explained it. Two ways start a region:
//! - **at once**: busy tiles whose pixels were photographic before and are photographic now (over
//!   256 colours both times: a film frame replaced by the next one), 4-connected, covering at least
//!   [`FAST_MIN_TILES`] tiles and half of their bounding box. Text, UI, slides and windows switched in
//!   are not photographic on both sides of the change;
//! - **after a while**: tiles busy in each of the last four frames whose pixels are photographic, the
//!   same box found in two frames in a row (a video that starts over plain content, a 3D view).
//!
//! Typing, scrolling (copies) and dragged windows (their tiles settle within a frame or two, and the
//! box moves) do not qualify; a playing video does.
//!
//! A region is the pixel rectangle that changed (the box's changed pixels, plus changes in the tiles
//! around it that touch them: the edges of a video rarely fall on tile borders), or the whole screen
//! when one-colour strips fill the rest (the letterbox bars of a film played full screen: they cost
//! nothing in H.264 and leave no lossless seam); UI around a video that is not one colour (a panel, a
//! window's frame) stays out and exact. Changes that keep appearing beside a region for
//! [`GROW_FRAMES`] frames grow it (it restarts).
//!
//! While a region is active its pixels are sent as H.264 pictures only, and decoders show them lossy;
//! changes around it in the same tiles stay lossless. The mirror keeps the *source* pixels there, and
//! lossy pixels are never the source of a copy nor entered into the tile cache, so no lossless op
//! ever depends on pixels that differ between decoders. A region that saw no change for
//! `settle_frames` frames ends: every lossy pixel is re-sent losslessly.

use super::VideoSettings;
use crate::codec;
use crate::damage::DirtyTile;
use crate::frame::{Rect, SourceRows};
use crate::protocol::Op;
use crate::tiles::TileGrid;
use crate::video_codec::{self, RegionEncoder, VideoEncoderConfig};

mod geometry;

use geometry::{components, geometry, subtract, touching, widen_over_bars, TileBox, TileChanges};

/// Frames a tile must be busy in a row to be a candidate (slow start).
const BUSY_FRAMES: u8 = 4;
/// Fewest photographic-on-both-sides busy tiles that start a region at once.
const FAST_MIN_TILES: u32 = 6;
/// Regions encoded at once.
const MAX_REGIONS: usize = 4;
/// Frames in a row with changes beside a region that make it grow.
const GROW_FRAMES: u32 = 3;

struct ActiveRegion {
    id: u32,
    /// The screen pixels the pictures cover.
    rect: Rect,
    encoder: RegionEncoder,
    quiet_frames: u32,
    keyframe_due: bool,
    /// Pixels of the region changed this frame.
    changed: bool,
    /// Frames in a row with changes touching the region from outside, and where.
    beside_frames: u32,
    beside: Option<Rect>,
}

/// What the encoder should do this frame besides lossless tiles.
#[derive(Default)]
pub(crate) struct VideoPlan {
    /// Tiles whose lossy pixels must be sent losslessly (top-off), with those pixels.
    pub top_off: Vec<(u32, Rect)>,
}

/// Video state of one encoder.
pub(crate) struct VideoState {
    settings: VideoSettings,
    screen: Rect,
    busy_history: Vec<u8>,
    /// Per tile, the pixels decoders may show lossy (the part a region's pictures covered).
    lossy: Vec<Option<Rect>>,
    regions: Vec<ActiveRegion>,
    pending: Option<TileBox>,
    next_region_id: u32,
    /// Pictures and their bytes so far.
    pub pictures: u64,
    pub picture_bytes: u64,
    pub picture_pixels: u64,
}

impl VideoState {
    pub fn new(mut settings: VideoSettings, grid: &TileGrid) -> Self {
        // A build without H.264 never starts a region.
        settings.enabled &= video_codec::AVAILABLE;
        VideoState {
            settings,
            screen: grid.tile_rect(0).union(&grid.tile_rect(grid.len() - 1)),
            busy_history: vec![0; grid.len() as usize],
            lossy: vec![None; grid.len() as usize],
            regions: Vec::new(),
            pending: None,
            next_region_id: 1,
            pictures: 0,
            picture_bytes: 0,
            picture_pixels: 0,
        }
    }

    /// True when decoders may show other pixels than the mirror somewhere in `tile`.
    pub fn is_lossy(&self, tile: u32) -> bool {
        self.lossy[tile as usize].is_some()
    }

    /// True when decoders may show other pixels than the mirror somewhere in `rect`.
    pub fn touches_lossy(&self, grid: &TileGrid, rect: &Rect) -> bool {
        grid.tiles_touching(rect)
            .any(|t| self.lossy[t as usize].is_some_and(|lossy| lossy.intersect(rect).is_some()))
    }

    /// True when an active region covers part of `tile` (its pictures draw there).
    pub fn in_region(&self, grid: &TileGrid, tile: u32) -> bool {
        let rect = grid.tile_rect(tile);
        self.regions
            .iter()
            .any(|r| r.rect.intersect(&rect).is_some())
    }

    /// Marks a tile as exact again (it was just sent losslessly), unless a region still covers part
    /// of it.
    pub fn mark_exact(&mut self, grid: &TileGrid, tile: u32) {
        if !self.in_region(grid, tile) {
            self.lossy[tile as usize] = None;
        }
    }

    /// `sent` (in `tile`) was just sent losslessly: the tile is exact again when that covers all
    /// its lossy pixels, unless a region still covers part of it. (A top-off sends just the lossy
    /// rectangle, which is rarely the whole tile.)
    pub fn mark_sent(&mut self, grid: &TileGrid, tile: u32, sent: &Rect) {
        if self.lossy[tile as usize].is_some_and(|lossy| sent.contains(&lossy)) {
            self.mark_exact(grid, tile);
        }
    }

    /// Pixels decoders currently show lossy.
    pub fn lossy_pixels(&self) -> u64 {
        self.lossy.iter().flatten().map(Rect::area).sum()
    }

    /// Screen rectangles viewers show lossy right now.
    pub fn lossy_rects(&self) -> Vec<Rect> {
        self.lossy.iter().flatten().copied().collect()
    }

    /// True when a region is active or pixels are lossy (frames without damage still need a visit).
    pub fn active(&self) -> bool {
        !self.regions.is_empty() || self.lossy.iter().any(Option::is_some)
    }

    /// The next picture of every region is a keyframe (a viewer joins from a checkpoint).
    pub fn request_keyframes(&mut self) {
        for r in &mut self.regions {
            r.keyframe_due = true;
        }
    }

    /// Notes which regions changed this frame (and what changed beside them), from the frame's
    /// damage before anything explained it.
    pub fn note_changes(&mut self, dirty: &[DirtyTile]) {
        for r in &mut self.regions {
            r.changed = dirty.iter().any(|d| d.rect.intersect(&r.rect).is_some());
            let beside = dirty
                .iter()
                .filter(|d| touching(&d.rect, &r.rect) && !r.rect.contains(&d.rect))
                .fold(None, |acc: Option<Rect>, d| {
                    Some(acc.map_or(d.rect, |a| a.union(&d.rect)))
                });
            match beside {
                Some(b) => {
                    r.beside_frames += 1;
                    r.beside = Some(r.beside.map_or(b, |a| a.union(&b)));
                }
                None => {
                    r.beside_frames = 0;
                    r.beside = None;
                }
            }
        }
    }

    /// Takes the regions' pixels out of `dirty` (they go as pictures): what is left of a changed
    /// rectangle around a region stays, in up to four pieces per tile.
    pub fn exclude(&self, dirty: &mut Vec<DirtyTile>) {
        if self.regions.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(dirty.len());
        for d in dirty.drain(..) {
            let mut pieces = vec![d.rect];
            for r in &self.regions {
                pieces = pieces
                    .into_iter()
                    .flat_map(|p| subtract(&p, &r.rect))
                    .collect();
            }
            out.extend(pieces.into_iter().map(|rect| DirtyTile {
                index: d.index,
                rect,
            }));
        }
        *dirty = out;
    }

    /// Updates the detection with this frame's changes outside the regions (after copies took what
    /// they explain), starts, grows and ends regions, and says which lossy pixels need a lossless
    /// top-off.
    pub fn plan(
        &mut self,
        grid: &TileGrid,
        src: &SourceRows<'_>,
        before: &SourceRows<'_>,
        dirty: &[DirtyTile],
        ops: &mut Vec<Op>,
    ) -> VideoPlan {
        if !self.settings.enabled {
            // No region ever started: nothing is lossy, nothing to plan.
            return VideoPlan::default();
        }
        let changes = TileChanges::of(grid, dirty);
        let tile_area = u64::from(grid.tile_size() * grid.tile_size());
        for (h, &area) in self.busy_history.iter_mut().zip(&changes.area) {
            *h = (*h << 1) | u8::from(area * 4 >= tile_area);
        }
        // Regions that went quiet end.
        for r in &mut self.regions {
            r.quiet_frames = if r.changed { 0 } else { r.quiet_frames + 1 };
        }
        let settle = self.settings.settle_frames.max(1);
        let (quiet, kept): (Vec<_>, Vec<_>) = self
            .regions
            .drain(..)
            .partition(|r| r.quiet_frames >= settle);
        self.regions = kept;
        for r in quiet {
            ops.push(Op::VideoEnd { region: r.id });
        }
        if self.settings.enabled {
            self.grow(src, ops);
            self.detect(grid, src, before, &changes, ops);
        }
        // Lossy pixels no active region covers are topped off now.
        let mut plan = VideoPlan::default();
        for t in 0..grid.len() {
            if let Some(lossy) = self.lossy[t as usize] {
                if !self
                    .regions
                    .iter()
                    .any(|r| r.rect.intersect(&lossy).is_some())
                {
                    plan.top_off.push((t, lossy));
                }
            }
        }
        plan
    }

    /// Regions with changes beside them for [`GROW_FRAMES`] frames restart over the larger rectangle.
    fn grow(&mut self, src: &SourceRows<'_>, ops: &mut Vec<Op>) {
        let grown: Vec<Rect> = self
            .regions
            .iter()
            .filter(|r| r.beside_frames >= GROW_FRAMES)
            .filter_map(|r| Some(r.rect.union(&r.beside?)))
            .collect();
        for rect in grown {
            self.start_region(src, rect, ops);
        }
    }

    fn detect(
        &mut self,
        grid: &TileGrid,
        src: &SourceRows<'_>,
        before: &SourceRows<'_>,
        changes: &TileChanges,
        ops: &mut Vec<Op>,
    ) {
        let tile_area = u64::from(grid.tile_size() * grid.tile_size());
        // Tiles a region touches are left to it (changes beside a region grow it instead).
        let free = |t: u32| {
            let rect = grid.tile_rect(t);
            !self
                .regions
                .iter()
                .any(|r| r.rect.intersect(&rect).is_some())
        };
        // At once: photographic before and after a change over most of the tile.
        let fast: Vec<bool> = (0..grid.len())
            .map(|t| {
                changes.bbox[t as usize].is_some_and(|bbox| {
                    changes.area[t as usize] * 4 >= tile_area
                        && free(t)
                        && codec::is_photographic(src, &bbox)
                        && codec::is_photographic(before, &bbox)
                })
            })
            .collect();
        let fast_box = components(grid, &fast)
            .into_iter()
            .filter(|&(_, count)| count >= FAST_MIN_TILES)
            .max_by_key(|(b, _)| (b.c1 - b.c0) * (b.r1 - b.r0));
        if let Some(rect) = fast_box.and_then(|(b, _)| geometry(grid, &b, changes)) {
            self.pending = None;
            self.start_region(src, rect, ops);
            return;
        }
        // After a while: busy for several frames, photographic now, the same box twice.
        let full = (1u8 << BUSY_FRAMES) - 1;
        let candidate: Vec<bool> = (0..grid.len())
            .map(|t| {
                self.busy_history[t as usize] & full == full
                    && free(t)
                    && codec::is_photographic(src, &grid.tile_rect(t))
            })
            .collect();
        let Some(best) = components(grid, &candidate)
            .into_iter()
            .map(|(b, _)| b)
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
        if let Some(rect) = geometry(grid, &best, changes) {
            self.start_region(src, rect, ops);
        }
    }

    /// Starts a region over `rect` widened over the one-colour strips between it and the screen's
    /// edges (regions it overlaps end: it replaces them).
    fn start_region(&mut self, src: &SourceRows<'_>, rect: Rect, ops: &mut Vec<Op>) {
        let rect = widen_over_bars(src, rect, &self.screen);
        let (overlapped, kept): (Vec<_>, Vec<_>) = self
            .regions
            .drain(..)
            .partition(|r| r.rect.intersect(&rect).is_some());
        self.regions = kept;
        for r in overlapped {
            ops.push(Op::VideoEnd { region: r.id });
        }
        if self.regions.len() == MAX_REGIONS {
            return;
        }
        let auto = (rect.area() * 5).clamp(250_000, 8_000_000) as u32;
        let config = VideoEncoderConfig {
            bitrate_bps: if self.settings.bitrate_bps == 0 {
                auto
            } else {
                self.settings.bitrate_bps
            },
            max_fps: self.settings.fps.clamp(1, 120) as f32,
            quality_qp: Some(self.settings.quality_qp),
            ..VideoEncoderConfig::default()
        };
        if let Ok(encoder) = RegionEncoder::new(rect.width, rect.height, &config) {
            let id = self.next_region_id;
            self.next_region_id = self.next_region_id.wrapping_add(1).max(1);
            self.regions.push(ActiveRegion {
                id,
                rect,
                encoder,
                quiet_frames: 0,
                keyframe_due: true,
                changed: true,
                beside_frames: 0,
                beside: None,
            });
        }
    }

    /// Encodes one picture for every region whose pixels changed (or that owes a keyframe); marks its
    /// pixels lossy. Returns the rectangles now holding source pixels in the mirror.
    pub fn encode_pictures(
        &mut self,
        grid: &TileGrid,
        src: &SourceRows<'_>,
        ops: &mut Vec<Op>,
        video: &mut Vec<u8>,
    ) -> Vec<Rect> {
        let mut written = Vec::new();
        let mut failed = Vec::new();
        for (i, r) in self.regions.iter_mut().enumerate() {
            if !(r.changed || r.keyframe_due && r.quiet_frames == 0) {
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
                    for t in grid.tiles_touching(&r.rect) {
                        let part = grid
                            .tile_rect(t)
                            .intersect(&r.rect)
                            .expect("the tile touches the region");
                        let lossy = &mut self.lossy[t as usize];
                        *lossy = Some(lossy.map_or(part, |l| l.union(&part)));
                    }
                    written.push(r.rect);
                }
                Err(_) => failed.push(i),
            }
        }
        for i in failed.into_iter().rev() {
            let r = self.regions.remove(i);
            ops.push(Op::VideoEnd { region: r.id });
        }
        written
    }
}
