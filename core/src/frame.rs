//! Frames: borrowed, validated views over captured pixels, and the rectangles that address them.

use crate::error::{Error, Result};

/// Largest width or height Glimpse accepts, in pixels.
pub const MAX_DIMENSION: u32 = 8192;

/// Byte order of a 32-bit pixel in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum PixelFormat {
    /// Bytes B, G, R, A (Windows, X11, macOS capture). Glimpse's wire format.
    Bgra8 = 0,
    /// Bytes R, G, B, A (browsers' `ImageData`, most image libraries).
    Rgba8 = 1,
}

impl PixelFormat {
    /// The format for a numeric value from C or JavaScript (`0` = BGRA8, `1` = RGBA8).
    pub fn from_u32(value: u32) -> Result<Self> {
        match value {
            0 => Ok(PixelFormat::Bgra8),
            1 => Ok(PixelFormat::Rgba8),
            other => Err(Error::UnknownPixelFormat(other)),
        }
    }
}

/// An axis-aligned rectangle in screen pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Columns covered.
    pub width: u32,
    /// Rows covered.
    pub height: u32,
}

impl Rect {
    /// A rectangle from its top-left corner and size.
    pub const fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    /// One past the right-most column.
    pub fn right(&self) -> u32 {
        self.x.saturating_add(self.width)
    }

    /// One past the bottom row.
    pub fn bottom(&self) -> u32 {
        self.y.saturating_add(self.height)
    }

    /// True when the rectangle covers no pixel.
    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// Pixels covered.
    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// The overlap of two rectangles, if any.
    pub fn intersect(&self, other: &Rect) -> Option<Rect> {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = self.right().min(other.right());
        let y1 = self.bottom().min(other.bottom());
        (x0 < x1 && y0 < y1).then(|| Rect::new(x0, y0, x1 - x0, y1 - y0))
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, other: &Rect) -> Rect {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        let x0 = self.x.min(other.x);
        let y0 = self.y.min(other.y);
        let x1 = self.right().max(other.right());
        let y1 = self.bottom().max(other.bottom());
        Rect::new(x0, y0, x1 - x0, y1 - y0)
    }

    /// True when `other` lies wholly inside `self`.
    pub fn contains(&self, other: &Rect) -> bool {
        other.x >= self.x
            && other.y >= self.y
            && other.right() <= self.right()
            && other.bottom() <= self.bottom()
    }

    /// Checks that the rectangle is non-empty and inside a `width` x `height` screen.
    pub fn check_inside(&self, width: u32, height: u32) -> Result<()> {
        let inside = !self.is_empty()
            && self.x.checked_add(self.width).is_some_and(|r| r <= width)
            && self.y.checked_add(self.height).is_some_and(|b| b <= height);
        if inside {
            Ok(())
        } else {
            Err(Error::InvalidRect {
                x: self.x,
                y: self.y,
                width: self.width,
                height: self.height,
                screen_width: width,
                screen_height: height,
            })
        }
    }
}

/// Checks a width and height against `1..=MAX_DIMENSION`.
pub fn check_dimensions(width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(Error::InvalidDimensions {
            width,
            height,
            max: MAX_DIMENSION,
        });
    }
    Ok(())
}

/// A borrowed, validated view of one captured screen image: 32-bit pixels, rows `stride` bytes apart.
///
/// ```
/// use glimpse::{Frame, PixelFormat};
/// let pixels = vec![0u8; 64 * 3]; // 3 rows of 16 pixels, no padding
/// let frame = Frame::new(&pixels, 16, 3, 64, PixelFormat::Bgra8)?;
/// assert_eq!(frame.row(2).len(), 64);
/// assert!(Frame::new(&pixels, 17, 3, 64, PixelFormat::Bgra8).is_err()); // stride too small
/// # Ok::<(), glimpse::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    data: &'a [u8],
    width: u32,
    height: u32,
    stride: usize,
    format: PixelFormat,
}

impl<'a> Frame<'a> {
    /// Validates the geometry once: size in `1..=8192`, `stride >= width * 4`, and a buffer that holds
    /// every row (the last row needs only `width * 4` bytes, not a whole stride).
    pub fn new(
        data: &'a [u8],
        width: u32,
        height: u32,
        stride: usize,
        format: PixelFormat,
    ) -> Result<Self> {
        check_dimensions(width, height)?;
        let row_bytes = width as usize * 4;
        if stride < row_bytes {
            return Err(Error::InvalidStride {
                stride,
                min: row_bytes,
            });
        }
        let needed = stride
            .checked_mul(height as usize - 1)
            .and_then(|n| n.checked_add(row_bytes))
            .ok_or(Error::FrameDataTooShort {
                needed: usize::MAX,
                actual: data.len(),
            })?;
        if data.len() < needed {
            return Err(Error::FrameDataTooShort {
                needed,
                actual: data.len(),
            });
        }
        Ok(Frame {
            data,
            width,
            height,
            stride,
            format,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Bytes from one row to the next.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Byte order of the pixels.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// The whole screen as a rectangle.
    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    /// The whole buffer, as given.
    pub(crate) fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Row `y` without its padding: exactly `width * 4` bytes. Panics if `y >= height`.
    pub fn row(&self, y: u32) -> &'a [u8] {
        let start = y as usize * self.stride;
        &self.data[start..start + self.width as usize * 4]
    }
}

/// Swaps the R and B bytes of every pixel in place (BGRA <-> RGBA).
pub(crate) fn swap_red_blue(pixels: &mut [u8]) {
    for px in pixels.chunks_exact_mut(4) {
        px.swap(0, 2);
    }
}

/// A frame held in Glimpse's canonical layout: BGRA8, rows packed (`stride = width * 4`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackedImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl PackedImage {
    pub fn new(width: u32, height: u32, fill: u32) -> Self {
        let mut pixels = vec![0u8; width as usize * height as usize * 4];
        let bytes = fill.to_le_bytes();
        for px in pixels.chunks_exact_mut(4) {
            px.copy_from_slice(&bytes);
        }
        PackedImage {
            width,
            height,
            pixels,
        }
    }

    pub fn stride(&self) -> usize {
        self.width as usize * 4
    }

    pub fn row(&self, y: u32) -> &[u8] {
        let s = self.stride();
        &self.pixels[y as usize * s..(y as usize + 1) * s]
    }

    /// The bytes of `rect`'s row `y` (absolute row), `rect.width * 4` long.
    pub fn span(&self, rect: &Rect, y: u32) -> &[u8] {
        let start = y as usize * self.stride() + rect.x as usize * 4;
        &self.pixels[start..start + rect.width as usize * 4]
    }

    pub fn span_mut(&mut self, rect: &Rect, y: u32) -> &mut [u8] {
        let start = y as usize * self.stride() + rect.x as usize * 4;
        &mut self.pixels[start..start + rect.width as usize * 4]
    }

    /// Copies `rect` (inside both) from `src` rows into this image.
    pub fn copy_rect_from(&mut self, src: &SourceRows<'_>, rect: &Rect) {
        for y in rect.y..rect.bottom() {
            let from = &src.row(y)[rect.x as usize * 4..rect.right() as usize * 4];
            self.span_mut(rect, y).copy_from_slice(from);
        }
    }

    /// Copies the pixels of `src` at `src_x, src_y` into `dst` (both rectangles inside their images).
    pub fn copy_rect_from_displaced(
        &mut self,
        src: &SourceRows<'_>,
        src_x: u32,
        src_y: u32,
        dst: &Rect,
    ) {
        let from = Rect::new(src_x, src_y, dst.width, dst.height);
        for r in 0..dst.height {
            self.span_mut(dst, dst.y + r)
                .copy_from_slice(src.span(&from, src_y + r));
        }
    }

    /// Moves the pixels of `src` to `dst_x, dst_y` within the image; overlapping areas are handled.
    pub fn copy_within(&mut self, src: &Rect, dst_x: u32, dst_y: u32) {
        let stride = self.stride();
        let row_len = src.width as usize * 4;
        let rows: Box<dyn Iterator<Item = u32>> = if dst_y > src.y {
            Box::new((0..src.height).rev())
        } else {
            Box::new(0..src.height)
        };
        for r in rows {
            let from = (src.y + r) as usize * stride + src.x as usize * 4;
            let to = (dst_y + r) as usize * stride + dst_x as usize * 4;
            self.pixels.copy_within(from..from + row_len, to);
        }
    }
}

/// Rows of the frame being encoded, in canonical BGRA: either the caller's buffer (borrowed, any stride)
/// or the encoder's staging copy (after format conversion and privacy masks).
#[derive(Clone, Copy)]
pub(crate) struct SourceRows<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: u32,
    pub height: u32,
}

impl<'a> SourceRows<'a> {
    pub fn row(&self, y: u32) -> &'a [u8] {
        let start = y as usize * self.stride;
        &self.data[start..start + self.width as usize * 4]
    }

    pub fn span(&self, rect: &Rect, y: u32) -> &'a [u8] {
        &self.row(y)[rect.x as usize * 4..rect.right() as usize * 4]
    }

    pub fn pixel(&self, x: u32, y: u32) -> u32 {
        let i = y as usize * self.stride + x as usize * 4;
        u32::from_le_bytes([
            self.data[i],
            self.data[i + 1],
            self.data[i + 2],
            self.data[i + 3],
        ])
    }

    pub fn from_image(image: &'a PackedImage) -> Self {
        SourceRows {
            data: &image.pixels,
            stride: image.stride(),
            width: image.width,
            height: image.height,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rejects_bad_geometry() {
        let buf = vec![0u8; 100];
        assert!(matches!(
            Frame::new(&buf, 0, 1, 4, PixelFormat::Bgra8),
            Err(Error::InvalidDimensions { .. })
        ));
        assert!(matches!(
            Frame::new(&buf, 8193, 1, 40000, PixelFormat::Bgra8),
            Err(Error::InvalidDimensions { .. })
        ));
        assert!(matches!(
            Frame::new(&buf, 5, 1, 19, PixelFormat::Bgra8),
            Err(Error::InvalidStride { min: 20, .. })
        ));
        assert!(matches!(
            Frame::new(&buf, 5, 5, 24, PixelFormat::Bgra8),
            Err(Error::FrameDataTooShort { needed: 116, .. })
        ));
        assert!(Frame::new(&buf, 5, 1, usize::MAX, PixelFormat::Bgra8).is_ok());
        assert!(matches!(
            Frame::new(&buf, 5, 2, usize::MAX, PixelFormat::Bgra8),
            Err(Error::FrameDataTooShort { .. })
        ));
        // The last row needs no padding.
        assert!(Frame::new(&buf, 5, 4, 24, PixelFormat::Bgra8).is_ok());
    }

    #[test]
    fn rect_intersection_and_bounds() {
        let a = Rect::new(0, 0, 10, 10);
        assert_eq!(
            a.intersect(&Rect::new(5, 5, 10, 10)),
            Some(Rect::new(5, 5, 5, 5))
        );
        assert_eq!(a.intersect(&Rect::new(10, 0, 1, 1)), None);
        assert!(Rect::new(u32::MAX, 0, 2, 1).check_inside(100, 100).is_err());
        assert!(Rect::new(99, 99, 1, 1).check_inside(100, 100).is_ok());
        assert!(Rect::new(0, 0, 0, 1).check_inside(100, 100).is_err());
    }

    #[test]
    fn copy_within_handles_overlap() {
        let mut img = PackedImage::new(4, 4, 0);
        for (i, px) in img.pixels.chunks_exact_mut(4).enumerate() {
            px[0] = i as u8;
        }
        img.copy_within(&Rect::new(0, 0, 4, 3), 0, 1);
        let col: Vec<u8> = (0..4).map(|y| img.pixels[y * 16]).collect();
        assert_eq!(col, vec![0, 0, 4, 8]);
    }
}
