//! BGRA <-> I420 (BT.709, full range) over one region, with the padding H.264 needs.

use super::VideoError;
use ::yuv::{
    BufferStoreMut, YuvConversionMode, YuvPlanarImage, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};
use openh264::formats::YUVSource;

/// The colour matrix used both ways; the encoder's VUI announces the same.
const MATRIX: YuvStandardMatrix = YuvStandardMatrix::Bt709;
/// Full ("PC", 0..255) range, as the VUI announces: screen pixels use every level.
const RANGE: YuvRange = YuvRange::Full;

/// An I420 picture of even size, reused from picture to picture.
pub(crate) struct I420 {
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    /// Coded (even) width.
    width: usize,
    /// Coded (even) height.
    height: usize,
    /// Tightly packed copy of the input when its last row is short (see `fill_from_bgra`).
    scratch: Vec<u8>,
}

impl I420 {
    /// A black picture of an even `width` x `height`.
    pub(crate) fn new(width: u32, height: u32) -> Self {
        debug_assert!(width % 2 == 0 && height % 2 == 0);
        let (width, height) = (width as usize, height as usize);
        let chroma = (width / 2) * (height / 2);
        Self {
            y: vec![16; width * height],
            u: vec![128; chroma],
            v: vec![128; chroma],
            width,
            height,
            scratch: Vec::new(),
        }
    }

    /// Converts `visible_width` x `visible_height` BGRA pixels (at most the coded size) and fills the
    /// padding by replicating the last visible column and row.
    pub(crate) fn fill_from_bgra(
        &mut self,
        bgra: &[u8],
        stride: usize,
        visible_width: u32,
        visible_height: u32,
    ) -> Result<(), VideoError> {
        let (w, h) = (visible_width as usize, visible_height as usize);
        debug_assert!(w <= self.width && h <= self.height && w * 4 <= stride);
        // The converter walks rows in exact pairs (`chunks_exact`) and takes an odd last row from the
        // remainder, so every buffer must end exactly after the visible rows, and the source must hold
        // `stride * h` bytes. A source whose last row is short is packed tightly first.
        let (bgra, stride) = match stride.checked_mul(h) {
            Some(full) if bgra.len() >= full => (&bgra[..full], stride),
            _ => {
                self.scratch.clear();
                for row in bgra.chunks(stride).take(h) {
                    self.scratch.extend_from_slice(&row[..w * 4]);
                }
                (&self.scratch[..], w * 4)
            }
        };
        let stride_u32 = u32::try_from(stride).map_err(|_| VideoError::StrideTooSmall {
            expected: w * 4,
            received: stride,
        })?;
        let chroma_stride = self.width / 2;
        let chroma_len = chroma_stride * h.div_ceil(2);
        let mut image = YuvPlanarImageMut {
            y_plane: BufferStoreMut::Borrowed(&mut self.y[..self.width * h]),
            y_stride: self.width as u32,
            u_plane: BufferStoreMut::Borrowed(&mut self.u[..chroma_len]),
            u_stride: chroma_stride as u32,
            v_plane: BufferStoreMut::Borrowed(&mut self.v[..chroma_len]),
            v_stride: chroma_stride as u32,
            width: visible_width,
            height: visible_height,
        };
        ::yuv::bgra_to_yuv420(
            &mut image,
            bgra,
            stride_u32,
            RANGE,
            MATRIX,
            YuvConversionMode::Balanced,
        )
        .map_err(|e| VideoError::Colour(e.to_string()))?;
        // Padding: repeat the last visible column and row, so the edge blends with the picture instead
        // of costing bits as a sharp border.
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        replicate_edges(&mut self.y, self.width, w, h);
        replicate_edges(&mut self.u, self.width / 2, cw, ch);
        replicate_edges(&mut self.v, self.width / 2, cw, ch);
        Ok(())
    }
}

/// Fills a plane `stride` wide beyond its visible `w` x `h` with copies of the last column and row.
fn replicate_edges(plane: &mut [u8], stride: usize, w: usize, h: usize) {
    if w < stride {
        for row in plane.chunks_exact_mut(stride).take(h) {
            let edge = row[w - 1];
            row[w..].fill(edge);
        }
    }
    let (top, bottom) = plane.split_at_mut(h * stride);
    let last = &top[(h - 1) * stride..];
    for row in bottom.chunks_exact_mut(stride) {
        row.copy_from_slice(last);
    }
}

impl YUVSource for I420 {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn strides(&self) -> (usize, usize, usize) {
        (self.width, self.width / 2, self.width / 2)
    }

    fn y(&self) -> &[u8] {
        &self.y
    }

    fn u(&self) -> &[u8] {
        &self.u
    }

    fn v(&self) -> &[u8] {
        &self.v
    }
}

/// Converts the top-left `width` x `height` of a decoded I420 picture into BGRA (alpha 255).
pub(crate) fn write_bgra(
    source: &impl YUVSource,
    width: u32,
    height: u32,
    out: &mut [u8],
    out_stride: usize,
) -> Result<(), VideoError> {
    let (y_stride, u_stride, v_stride) = source.strides();
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    // The converter takes an odd last row as the *last* chunk of each buffer, so every buffer must end
    // right after the visible rows (the decoder's planes may hold one more row, `out` many more).
    let exact =
        |plane: &[u8], stride: usize, rows: usize, row: usize| -> Result<usize, VideoError> {
            let len = (rows - 1)
                .checked_mul(stride)
                .and_then(|n| n.checked_add(row))
                .filter(|&n| n <= plane.len() && row <= stride)
                .ok_or(VideoError::Malformed(
                    "decoded picture smaller than the region",
                ))?;
            Ok(len)
        };
    let y_len = exact(source.y(), y_stride, h, w)?;
    let u_len = exact(source.u(), u_stride, ch, cw)?;
    let v_len = exact(source.v(), v_stride, ch, cw)?;
    let out_len = exact(out, out_stride, h, w * 4)?;
    let to_u32 = |n: usize| u32::try_from(n).map_err(|_| VideoError::Malformed("stride overflow"));
    let image = YuvPlanarImage {
        y_plane: &source.y()[..y_len],
        y_stride: to_u32(y_stride)?,
        u_plane: &source.u()[..u_len],
        u_stride: to_u32(u_stride)?,
        v_plane: &source.v()[..v_len],
        v_stride: to_u32(v_stride)?,
        width,
        height,
    };
    let out_stride = u32::try_from(out_stride).map_err(|_| VideoError::StrideTooSmall {
        expected: width as usize * 4,
        received: out_stride,
    })?;
    ::yuv::yuv420_to_bgra(&image, &mut out[..out_len], out_stride, RANGE, MATRIX)
        .map_err(|e| VideoError::Colour(e.to_string()))
}
