//! Stand-in for `video.rs` in builds without the `h264` feature: no region ever starts, so every
//! tile is sent losslessly. Same interface, nothing to do.

use super::VideoSettings;
use crate::damage::{DirtyTile, TileGrid};
use crate::frame::{Rect, SourceRows};
use crate::protocol::Op;

#[derive(Default)]
pub(crate) struct VideoPlan {
    pub top_off: Vec<(u32, Rect)>,
}

pub(crate) struct VideoState {
    pub pictures: u64,
    pub picture_bytes: u64,
    pub picture_pixels: u64,
}

impl VideoState {
    pub fn new(_settings: VideoSettings, _grid: &TileGrid) -> Self {
        VideoState {
            pictures: 0,
            picture_bytes: 0,
            picture_pixels: 0,
        }
    }
    pub fn is_lossy(&self, _tile: u32) -> bool {
        false
    }
    pub fn touches_lossy(&self, _grid: &TileGrid, _rect: &Rect) -> bool {
        false
    }
    pub fn in_region(&self, _grid: &TileGrid, _tile: u32) -> bool {
        false
    }
    pub fn mark_exact(&mut self, _grid: &TileGrid, _tile: u32) {}
    pub fn lossy_pixels(&self) -> u64 {
        0
    }
    pub fn lossy_rects(&self) -> Vec<Rect> {
        Vec::new()
    }
    pub fn active(&self) -> bool {
        false
    }
    pub fn request_keyframes(&mut self) {}
    pub fn note_changes(&mut self, _dirty: &[DirtyTile]) {}
    pub fn exclude(&self, _dirty: &mut Vec<DirtyTile>) {}
    pub fn plan(
        &mut self,
        _grid: &TileGrid,
        _src: &SourceRows<'_>,
        _before: &SourceRows<'_>,
        _dirty: &[DirtyTile],
        _ops: &mut Vec<Op>,
    ) -> VideoPlan {
        VideoPlan::default()
    }
    pub fn encode_pictures(
        &mut self,
        _grid: &TileGrid,
        _src: &SourceRows<'_>,
        _ops: &mut Vec<Op>,
        _video: &mut Vec<u8>,
    ) -> Vec<Rect> {
        Vec::new()
    }
}
