//! Plain C values shared by both ends: rectangles, pixel formats, packet kinds, frames, sessions.

use engine::{Frame, PixelFormat, Rect};

use crate::boundary::{ffi_call, out, slice, BoxHandle};
use crate::error::{glimpse_result, Failure};

/// An axis-aligned rectangle in screen pixels.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct glimpse_rect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl From<glimpse_rect> for Rect {
    fn from(r: glimpse_rect) -> Self {
        Rect::new(r.x, r.y, r.width, r.height)
    }
}

impl From<Rect> for glimpse_rect {
    fn from(r: Rect) -> Self {
        glimpse_rect {
            x: r.x,
            y: r.y,
            width: r.width,
            height: r.height,
        }
    }
}

/// Byte order of a 32-bit pixel in memory. Functions take it as a `uint32_t`; other values give
/// `GLIMPSE_RESULT_UNKNOWN_PIXEL_FORMAT`.
#[repr(u32)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types, dead_code)]
pub enum glimpse_pixel_format {
    /// Bytes B, G, R, A (Windows, X11, macOS capture). The wire format.
    Bgra8 = 0,
    /// Bytes R, G, B, A (browsers, most image libraries).
    Rgba8 = 1,
}

/// What a packet carries: the `kind` given to the packet callback.
#[repr(u32)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types, dead_code)]
pub enum glimpse_packet_kind {
    /// Self-contained full screen: where a viewer starts.
    Checkpoint = 1,
    /// Changes since the previous update or checkpoint.
    FrameUpdate = 2,
    /// A new cursor image.
    CursorShape = 3,
    /// Where the cursor is, and which image it shows.
    CursorPosition = 4,
}

/// The session a screen is shared in (fixed by the first frame, changed by a resize).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct glimpse_session {
    /// Screen width in pixels.
    pub width: u32,
    /// Screen height in pixels.
    pub height: u32,
    /// Display scale announced by the sharer (100 = 96 DPI).
    pub scale_percent: u32,
    /// Tile size in pixels.
    pub tile_size: u32,
    /// Tile cache capacity in tiles (0: no cache).
    pub cache_tiles: u32,
}

impl From<engine::SessionInfo> for glimpse_session {
    fn from(s: engine::SessionInfo) -> Self {
        glimpse_session {
            width: s.width,
            height: s.height,
            scale_percent: u32::from(s.scale_percent),
            tile_size: s.tile_size,
            cache_tiles: s.cache_tiles,
        }
    }
}

/// A pixel format from C.
pub(crate) fn pixel_format(value: u32) -> Result<PixelFormat, Failure> {
    Ok(PixelFormat::from_u32(value)?)
}

/// A frame from C arguments, validated by the core (dimensions, stride, length).
///
/// # Safety
/// A non-NULL `pixels` points to `len` readable bytes, valid for the call.
pub(crate) unsafe fn frame<'a>(
    pixels: *const u8,
    len: usize,
    width: u32,
    height: u32,
    stride: usize,
    format: u32,
    name: &str,
) -> Result<Frame<'a>, Failure> {
    if pixels.is_null() {
        return Err(Failure::null(name));
    }
    let format = pixel_format(format)?;
    // SAFETY: forwarded from the caller.
    let data = unsafe { slice(pixels, len, name) }?;
    Ok(Frame::new(data, width, height, stride, format)?)
}

/// Rectangles from C, checked to be non-empty and inside a `width` x `height` screen.
///
/// # Safety
/// A non-NULL `rects` points to `count` readable `glimpse_rect`s.
pub(crate) unsafe fn rects(
    rects: *const glimpse_rect,
    count: usize,
    name: &str,
) -> Result<Vec<Rect>, Failure> {
    // SAFETY: forwarded from the caller.
    let rects = unsafe { slice(rects, count, name) }?;
    Ok(rects.iter().map(|r| Rect::from(*r)).collect())
}

/// Checks rectangles against a screen.
pub(crate) fn check_inside(rects: &[Rect], width: u32, height: u32) -> Result<(), Failure> {
    for r in rects {
        r.check_inside(width, height)?;
    }
    Ok(())
}

/// A captured frame and its damage rectangles from C arguments: the frame as [`frame`] makes it,
/// then the rectangles (`damage`, `count`, NULL and 0 for none) as [`rects`] does, each checked to
/// be non-empty and inside the frame.
///
/// # Safety
/// A non-NULL `pixels` points to `len` readable bytes; a non-NULL `damage` points to `count`
/// readable rectangles; both valid for the call.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn frame_and_damage<'a>(
    pixels: *const u8,
    len: usize,
    width: u32,
    height: u32,
    stride: usize,
    format: u32,
    damage: *const glimpse_rect,
    count: usize,
    damage_name: &str,
) -> Result<(Frame<'a>, Vec<Rect>), Failure> {
    // SAFETY: forwarded from the caller.
    let frame = unsafe { frame(pixels, len, width, height, stride, format, "pixels") }?;
    // SAFETY: forwarded from the caller.
    let damage = unsafe { rects(damage, count, damage_name) }?;
    check_inside(&damage, width, height)?;
    Ok((frame, damage))
}

/// The whole body of an export that hands out a list of rectangles (`rects`, `cap`, `out_count`):
/// the panic boundary, then `handle` (NULL fails naming `handle_name`), `out_count` (NULL fails) and
/// `rects` (NULL with a non-zero `cap` fails), then `list`, which hands its rectangles to the copy
/// function it is given (borrowed: no allocation on the way). Copies them when they fit, else fails
/// with `GLIMPSE_RESULT_BUFFER_TOO_SMALL` and writes only the count needed.
///
/// # Safety
/// `handle` is NULL or a live handle; `rects` is NULL or points to `cap` writable rectangles;
/// `out_count` is NULL or writable.
pub(crate) unsafe fn rects_into<H: BoxHandle>(
    handle: *const H,
    handle_name: &str,
    rects: *mut glimpse_rect,
    cap: usize,
    out_count: *mut usize,
    list: impl FnOnce(&H, &mut dyn FnMut(&[Rect]) -> Result<(), Failure>) -> Result<(), Failure>,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let handle = unsafe { H::from_ptr(handle, handle_name) }?;
        // SAFETY: forwarded from the caller.
        let out_count = unsafe { out(out_count, "out_count") }?;
        if rects.is_null() && cap != 0 {
            return Err(Failure::null("rects"));
        }
        list(handle, &mut |list: &[Rect]| {
            if list.len() > cap {
                *out_count = list.len();
                return Err(Failure::new(
                    glimpse_result::BufferTooSmall,
                    format!("{} rectangles, room for {cap}", list.len()),
                ));
            }
            for (i, r) in list.iter().enumerate() {
                // SAFETY: i < list.len() <= cap, and `rects` holds `cap` writable rectangles.
                unsafe { rects.add(i).write(glimpse_rect::from(*r)) };
            }
            *out_count = list.len();
            Ok(())
        })
    })
}

/// The packet kind number.
pub(crate) fn kind_number(kind: engine::PacketKind) -> u32 {
    kind as u32
}

#[cfg(test)]
mod tests {
    #[test]
    fn packet_kind_numbers_match_core() {
        use super::glimpse_packet_kind as C;
        use engine::PacketKind as K;
        assert_eq!(K::Checkpoint as u32, C::Checkpoint as u32);
        assert_eq!(K::FrameUpdate as u32, C::FrameUpdate as u32);
        assert_eq!(K::CursorShape as u32, C::CursorShape as u32);
        assert_eq!(K::CursorPosition as u32, C::CursorPosition as u32);
        assert_eq!(
            engine::PixelFormat::Bgra8 as u32,
            super::glimpse_pixel_format::Bgra8 as u32
        );
        assert_eq!(
            engine::PixelFormat::Rgba8 as u32,
            super::glimpse_pixel_format::Rgba8 as u32
        );
    }
}
