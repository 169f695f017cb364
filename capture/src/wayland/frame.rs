//! What the PipeWire thread hands to the capturing thread: the newest frame, the damage since the
//! frame handed out before, the cursor. Plus the pure conversions from PipeWire's layouts.

use crate::CursorShape;
use glimpse::{PixelFormat, Rect};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// Damage rectangles kept per frame at most; more are merged into their bounding box.
const MAX_DAMAGE_RECTS: usize = 64;

/// A frame copied out of a PipeWire buffer: opaque BGRA or RGBA rows.
#[derive(Debug)]
pub(crate) struct FrameBuffer {
    pub pixels: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub format: PixelFormat,
    /// When the PipeWire thread received the buffer.
    pub arrived: Instant,
    /// The buffer's presentation time (`SPA_META_Header` pts, CLOCK_MONOTONIC nanoseconds).
    pub pts_ns: Option<i64>,
}

impl FrameBuffer {
    pub fn empty() -> Self {
        FrameBuffer {
            pixels: Vec::new(),
            width: 0,
            height: 0,
            stride: 0,
            format: PixelFormat::Bgra8,
            arrived: Instant::now(),
            pts_ns: None,
        }
    }
}

/// The cursor as the stream's `SPA_META_Cursor` last described it.
#[derive(Debug, Default, Clone)]
pub(crate) struct CursorMeta {
    /// Hot-spot position in stream pixels; `None` when the cursor is not on the stream.
    pub position: Option<(i32, i32)>,
    /// False when the last bitmap was empty or fully transparent.
    pub visible: bool,
    /// The last shape received, and its serial (counts shapes from 1).
    pub shape: Option<CursorShape>,
    /// Bumped by every position change (for host priority: the local user moving the pointer).
    pub moves: u64,
}

/// State shared by the PipeWire thread (writer) and the capturing thread (reader).
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    /// The newest frame not yet handed out.
    pub pending: Option<FrameBuffer>,
    /// A frame buffer to reuse for the next copy.
    pub spare: Option<FrameBuffer>,
    /// Damage since the frame handed out last (`None`: unknown, compare everything).
    pub damage: Option<Vec<Rect>>,
    /// Frames received.
    pub frames: u64,
    /// Frames received without damage metadata (their damage was computed).
    pub frames_without_damage_metadata: u64,
    pub cursor: CursorMeta,
    /// Why the stream stopped, once it has.
    pub ended: Option<String>,
    /// What the buffers are: "memfd", "memptr" or "dmabuf".
    pub buffer_kind: Option<&'static str>,
    /// The negotiated PipeWire video format's name ("BGRx"...).
    pub video_format: Option<&'static str>,
    /// The negotiated frame size (the stream's coordinate space for pointer motion).
    pub size: Option<(u32, u32)>,
}

/// [`StreamState`] behind a mutex, with a condition variable for "a frame arrived / it ended".
#[derive(Debug, Default)]
pub(crate) struct SharedStream {
    state: Mutex<StreamState>,
    pub changed: Condvar,
}

impl SharedStream {
    /// The state; a poisoned lock (a panic on the other thread) still gives the data.
    pub fn lock(&self) -> MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that the stream stopped (the first reason wins) and wakes the reader.
    pub fn end(&self, why: String) {
        let mut state = self.lock();
        state.ended.get_or_insert(why);
        drop(state);
        self.changed.notify_all();
    }

    /// Publishes a new frame with the damage since the previous one (`None`: unknown);
    /// `from_metadata` says where the damage came from.
    pub fn publish(&self, frame: FrameBuffer, damage: Option<Vec<Rect>>, from_metadata: bool) {
        let mut state = self.lock();
        state.frames += 1;
        if !from_metadata {
            state.frames_without_damage_metadata += 1;
        }
        if let Some(old) = state.pending.replace(frame) {
            state.spare = Some(old);
        }
        merge_damage(&mut state.damage, damage);
        drop(state);
        self.changed.notify_all();
    }
}

/// Adds `new` to the damage accumulated in `acc`; unknown stays unknown until the reader resets it.
pub(crate) fn merge_damage(acc: &mut Option<Vec<Rect>>, new: Option<Vec<Rect>>) {
    match (acc.as_mut(), new) {
        (Some(rects), Some(new)) => {
            rects.extend(new);
            if rects.len() > MAX_DAMAGE_RECTS {
                let bounds = rects.iter().skip(1).fold(rects[0], |b, r| b.union(r));
                *rects = vec![bounds];
            }
        }
        _ => *acc = None,
    }
}

/// A `SPA_META_VideoDamage` region (buffer pixels) relative to the frame `crop`, clipped to it.
pub(crate) fn damage_rect(x: i32, y: i32, width: u32, height: u32, crop: Rect) -> Option<Rect> {
    let x0 = i64::from(x).max(i64::from(crop.x));
    let y0 = i64::from(y).max(i64::from(crop.y));
    let x1 = (i64::from(x) + i64::from(width)).min(i64::from(crop.right()));
    let y1 = (i64::from(y) + i64::from(height)).min(i64::from(crop.bottom()));
    (x0 < x1 && y0 < y1).then(|| {
        Rect::new(
            (x0 - i64::from(crop.x)) as u32,
            (y0 - i64::from(crop.y)) as u32,
            (x1 - x0) as u32,
            (y1 - y0) as u32,
        )
    })
}

/// Copies the `crop` rectangle of 4-byte pixels from `src` (rows `src_stride` bytes apart) into
/// `dst`, tightly packed; with `opaque`, every fourth byte is set to 255 (BGRx/RGBx leave it
/// undefined). Returns false when `src` is too short for the rectangle.
pub(crate) fn copy_rect(
    src: &[u8],
    src_stride: usize,
    crop: Rect,
    dst: &mut Vec<u8>,
    opaque: bool,
) -> bool {
    let row_bytes = crop.width as usize * 4;
    let first = crop.y as usize * src_stride + crop.x as usize * 4;
    let needed = match crop.height {
        0 => 0,
        h => first + (h as usize - 1) * src_stride + row_bytes,
    };
    if src.len() < needed || src_stride < row_bytes {
        return false;
    }
    dst.clear();
    dst.reserve(row_bytes * crop.height as usize);
    for row in 0..crop.height as usize {
        let start = first + row * src_stride;
        dst.extend_from_slice(&src[start..start + row_bytes]);
    }
    if opaque {
        for px in dst.chunks_exact_mut(4) {
            px[3] = 255;
        }
    }
    true
}

/// Side of the square tiles in which [`update_reference`] reports damage.
const DAMAGE_TILE: usize = 64;

/// Compares the `crop` of `src` (rows `src_stride` bytes apart) with `reference` (the previous
/// frame, tightly packed, the crop's size), copies the 64-pixel row pieces that changed into
/// `reference`, and returns the changed area as rectangles on a 64x64 grid (clipped to the frame).
/// The fourth byte of each pixel (padding in BGRx) is ignored. `None` when `src` is too short.
///
/// For producers that send no damage metadata (mutter 43): one pass that the copy out of the
/// PipeWire buffer needs anyway, and the encoder then compares only the changed tiles.
pub(crate) fn update_reference(
    src: &[u8],
    src_stride: usize,
    crop: Rect,
    reference: &mut [u8],
) -> Option<Vec<Rect>> {
    let (width, height) = (crop.width as usize, crop.height as usize);
    let row_bytes = width * 4;
    let first = crop.y as usize * src_stride + crop.x as usize * 4;
    if height == 0 || width == 0 {
        return Some(Vec::new());
    }
    if src_stride < row_bytes
        || src.len() < first + (height - 1) * src_stride + row_bytes
        || reference.len() != row_bytes * height
    {
        return None;
    }
    let columns = width.div_ceil(DAMAGE_TILE);
    let mut rects: Vec<Rect> = Vec::new();
    // Rectangles of the previous band, which the next band may extend downwards.
    let mut open: Vec<usize> = Vec::new();
    let mut dirty = vec![false; columns];
    for band_y in (0..height).step_by(DAMAGE_TILE) {
        let band_h = DAMAGE_TILE.min(height - band_y);
        dirty.iter_mut().for_each(|d| *d = false);
        for y in band_y..band_y + band_h {
            let src_row = &src[first + y * src_stride..][..row_bytes];
            let ref_row = &mut reference[y * row_bytes..][..row_bytes];
            for (column, d) in dirty.iter_mut().enumerate() {
                let start = column * DAMAGE_TILE * 4;
                let end = (start + DAMAGE_TILE * 4).min(row_bytes);
                let (s, r) = (&src_row[start..end], &mut ref_row[start..end]);
                if s != r {
                    if !same_colours(s, r) {
                        *d = true;
                    }
                    r.copy_from_slice(s);
                }
            }
        }
        let mut still_open = Vec::new();
        let mut column = 0;
        while column < columns {
            if !dirty[column] {
                column += 1;
                continue;
            }
            let run_start = column;
            while column < columns && dirty[column] {
                column += 1;
            }
            let x = (run_start * DAMAGE_TILE) as u32;
            let w = ((column * DAMAGE_TILE).min(width) - run_start * DAMAGE_TILE) as u32;
            let below = open.iter().copied().find(|&i| {
                let r = rects[i];
                r.x == x && r.width == w && r.bottom() == band_y as u32
            });
            match below {
                Some(i) => {
                    rects[i].height += band_h as u32;
                    still_open.push(i);
                }
                None => {
                    still_open.push(rects.len());
                    rects.push(Rect::new(x, band_y as u32, w, band_h as u32));
                }
            }
        }
        open = still_open;
    }
    Some(rects)
}

/// True when two runs of 4-byte pixels differ only in their fourth bytes.
fn same_colours(a: &[u8], b: &[u8]) -> bool {
    a.chunks_exact(4)
        .zip(b.chunks_exact(4))
        .all(|(p, q)| p[..3] == q[..3])
}

/// Byte layouts of PipeWire video formats this crate takes, by position of R, G, B, A in a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// B, G, R, A or x (frames as [`PixelFormat::Bgra8`]).
    Bgra,
    /// R, G, B, A or x (frames as [`PixelFormat::Rgba8`]).
    Rgba,
}

impl Layout {
    pub fn pixel_format(self) -> PixelFormat {
        match self {
            Layout::Bgra => PixelFormat::Bgra8,
            Layout::Rgba => PixelFormat::Rgba8,
        }
    }
}

/// A cursor bitmap (`layout`, `alpha` false for x formats, premultiplied as mutter sends it) as
/// straight-alpha BGRA bytes, or `None` when the data is short.
pub(crate) fn cursor_pixels(
    layout: Layout,
    has_alpha: bool,
    data: &[u8],
    width: u32,
    height: u32,
    stride: usize,
) -> Option<Vec<u8>> {
    let row_bytes = width as usize * 4;
    if stride < row_bytes || (height > 0 && data.len() < (height as usize - 1) * stride + row_bytes)
    {
        return None;
    }
    let mut out = Vec::with_capacity(row_bytes * height as usize);
    for row in 0..height as usize {
        for px in data[row * stride..row * stride + row_bytes].chunks_exact(4) {
            let (r, g, b) = match layout {
                Layout::Bgra => (px[2], px[1], px[0]),
                Layout::Rgba => (px[0], px[1], px[2]),
            };
            let a = if has_alpha { px[3] } else { 255 };
            let straight = |c: u8| match a {
                0 => 0,
                255 => c,
                _ => ((u32::from(c) * 255 + u32::from(a) / 2) / u32::from(a)).min(255) as u8,
            };
            out.extend_from_slice(&[straight(b), straight(g), straight(r), a]);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_accumulates_until_too_many_then_merges() {
        let mut acc = Some(Vec::new());
        merge_damage(&mut acc, Some(vec![Rect::new(0, 0, 1, 1)]));
        merge_damage(&mut acc, Some(vec![Rect::new(5, 5, 2, 2)]));
        assert_eq!(acc.as_ref().map(Vec::len), Some(2));
        let many: Vec<Rect> = (0..MAX_DAMAGE_RECTS as u32)
            .map(|i| Rect::new(i, 10, 1, 1))
            .collect();
        merge_damage(&mut acc, Some(many));
        assert_eq!(acc, Some(vec![Rect::new(0, 0, 64, 11)]));
        merge_damage(&mut acc, None);
        assert_eq!(acc, None);
        merge_damage(&mut acc, Some(vec![Rect::new(0, 0, 1, 1)]));
        assert_eq!(acc, None, "unknown stays unknown");
    }

    #[test]
    fn damage_regions_are_relative_to_the_crop_and_clipped() {
        let crop = Rect::new(100, 50, 200, 100);
        assert_eq!(
            damage_rect(90, 60, 20, 10, crop),
            Some(Rect::new(0, 10, 10, 10))
        );
        assert_eq!(
            damage_rect(290, 140, 50, 50, crop),
            Some(Rect::new(190, 90, 10, 10))
        );
        assert_eq!(damage_rect(0, 0, 50, 50, crop), None);
    }

    #[test]
    fn copy_crops_packs_and_makes_opaque() {
        // 3x2 source, stride 16 (one padding pixel per row).
        let mut src = Vec::new();
        for i in 0..8u8 {
            src.extend_from_slice(&[i, i + 10, i + 20, 0]);
        }
        let mut dst = Vec::new();
        assert!(copy_rect(&src, 16, Rect::new(1, 0, 2, 2), &mut dst, true));
        assert_eq!(
            dst,
            [1, 11, 21, 255, 2, 12, 22, 255, 5, 15, 25, 255, 6, 16, 26, 255]
        );
        assert!(copy_rect(&src, 16, Rect::new(0, 1, 1, 1), &mut dst, false));
        assert_eq!(dst, [4, 14, 24, 0]);
        assert!(!copy_rect(&src, 16, Rect::new(2, 1, 3, 1), &mut dst, true));
    }

    #[test]
    fn reference_updates_report_changed_tiles() {
        let (w, h) = (200u32, 150u32);
        let stride = w as usize * 4 + 8;
        let mut src = vec![0u8; stride * h as usize];
        let crop = Rect::new(0, 0, w, h);
        let mut reference = vec![0u8; (w * h * 4) as usize];
        assert_eq!(
            update_reference(&src, stride, crop, &mut reference),
            Some(vec![])
        );
        // Padding bytes alone are no change.
        src[3] = 0xff;
        assert_eq!(
            update_reference(&src, stride, crop, &mut reference),
            Some(vec![])
        );
        // One pixel in tile (1, 0), two in tiles (0, 1) and (0, 2): one rect each column run,
        // extended downwards over bands with the same run.
        let mut poke = |x: usize, y: usize| src[y * stride + x * 4] = 7;
        poke(70, 10);
        poke(5, 70);
        poke(10, 140);
        let rects = update_reference(&src, stride, crop, &mut reference).unwrap();
        assert_eq!(
            rects,
            vec![Rect::new(64, 0, 64, 64), Rect::new(0, 64, 64, 86)]
        );
        assert_eq!(reference[(10 * w as usize + 70) * 4], 7);
        assert_eq!(
            update_reference(&src, stride, crop, &mut reference),
            Some(vec![])
        );
        // The last column is clipped to the width.
        src[10 * stride + 199 * 4 + 1] = 9;
        let rects = update_reference(&src, stride, crop, &mut reference).unwrap();
        assert_eq!(rects, vec![Rect::new(192, 0, 8, 64)]);
        assert_eq!(
            update_reference(&src[..100], stride, crop, &mut reference),
            None
        );
    }

    #[test]
    fn cursor_bitmaps_become_straight_bgra() {
        // RGBA premultiplied: opaque red, half-transparent premultiplied green, transparent.
        let data = [255, 0, 0, 255, 0, 64, 0, 128, 9, 9, 9, 0];
        let px = cursor_pixels(Layout::Rgba, true, &data, 3, 1, 12).unwrap();
        assert_eq!(px, [0, 0, 255, 255, 0, 128, 0, 128, 0, 0, 0, 0]);
        let bgrx = cursor_pixels(Layout::Bgra, false, &[1, 2, 3, 0], 1, 1, 4).unwrap();
        assert_eq!(bgrx, [1, 2, 3, 255]);
        assert!(cursor_pixels(Layout::Rgba, true, &data, 3, 2, 12).is_none());
    }
}
