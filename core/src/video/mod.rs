//! H.264 for video-like regions: one [`RegionEncoder`] per moving rectangle, one [`RegionDecoder`] per
//! region on the viewer.
//!
//! Text and UI stay lossless; a region whose pixels move like video (a player, an animation) is sent as
//! an H.264 Annex-B stream instead. This module is the codec building block only: it turns BGRA rows into
//! one H.264 picture per call and back, and knows nothing about packets or the screen.
//!
//! - Colour: BGRA is converted to I420 with **BT.709, full range** (the `yuv` crate), and the stream's
//!   VUI says so (primaries, transfer and matrix BT.709, `video_full_range_flag` 1), so `ffmpeg` and
//!   WebCodecs decoders reproduce the same colours as [`RegionDecoder`]. Screen pixels use all 256
//!   levels: full range keeps them (limited range folds them into 220), which measured 0.7 dB better
//!   at the same quantiser and 8% fewer bytes at the same quality on the corpus films.
//! - Rate control: by default every picture is coded at one quantiser ([`VideoEncoderConfig::quality_qp`],
//!   constant quality), and the bit rate is a ceiling: while the last second's pictures exceed
//!   [`VideoEncoderConfig::bitrate_bps`], the quantiser steps up (the encoder restarts, so that picture
//!   is a keyframe), and it steps back once the content is cheap again. Without `quality_qp`,
//!   OpenH264's own rate control aims at the bit rate.
//! - Geometry: any size from 1x1 up to [`MAX_ENCODE_WIDTH`] x [`MAX_ENCODE_HEIGHT`] (or the transpose).
//!   H.264 4:2:0 can only describe even sizes and OpenH264 encodes nothing under 16x16, so the picture
//!   is padded (last column and row replicated) to [`coded_size`]: even, at least 16 each way. The
//!   stream's SPS carries that size (cropped from whole macroblocks); the decoder is told the visible
//!   size and writes exactly that. A browser decoding the stream shows the coded size: crop it to the
//!   visible size (WebCodecs `visibleRect`, or drawing only that part).
//! - Pictures: every [`RegionEncoder::encode`] call yields exactly one picture (frame skipping is off).
//!   Keyframes (IDR, with SPS and PPS in front) come on the first call, on request, when the ceiling
//!   moves the quantiser, after [`RegionEncoder::set_bitrate`] under OpenH264's rate control, at a
//!   scene cut (OpenH264's detection), and every [`VideoEncoderConfig::keyframe_interval`] pictures.
//!
//! ```
//! use glimpse::internals::psnr_bgra;
//! use glimpse::video::{RegionDecoder, RegionEncoder, VideoEncoderConfig};
//!
//! let (width, height) = (97u32, 61u32); // odd sizes are fine
//! let stride = width as usize * 4;
//! let mut pixels = vec![0u8; stride * height as usize];
//! for (i, px) in pixels.chunks_exact_mut(4).enumerate() {
//!     let (x, y) = (i % width as usize, i / width as usize);
//!     px.copy_from_slice(&[(x * 2) as u8, (y * 4) as u8, (x + y) as u8, 255]); // B, G, R, A
//! }
//! let mut encoder = RegionEncoder::new(width, height, &VideoEncoderConfig::default())?;
//! let picture = encoder.encode(&pixels, stride, false)?;
//! assert!(picture.keyframe);
//!
//! let mut decoder = RegionDecoder::new()?;
//! let mut out = vec![0u8; pixels.len()];
//! assert!(decoder.decode(&picture.annexb, width, height, &mut out, stride)?);
//! assert!(psnr_bgra(&pixels, &out, width, height, stride) > 32.0);
//! # Ok::<(), glimpse::video::VideoError>(())
//! ```

mod bitstream;
mod colour;
mod h264;

pub use crate::video_config::{VideoEncoderConfig, DEFAULT_QUALITY_QP};
pub use bitstream::codec_string;
pub use h264::{RegionDecoder, RegionEncoder};

/// True when the OpenH264 linked in has its x86 assembly (or needs none: other architectures), as far
/// as glimpse's build script could tell: it checks what `openh264-sys2` checks (`nasm` runs,
/// `OPENH264_NO_ASM` is unset) when glimpse is built. Without it H.264 encoding is about three times
/// slower; the build prints a cargo warning (see the [crate docs](crate#building-with-h264)).
pub const OPENH264_ASSEMBLY: bool = matches!(env!("GLIMPSE_OPENH264_ASSEMBLY").as_bytes(), b"1");

/// Widest region [`RegionEncoder`] accepts (OpenH264's limit: 3840x2160, or 2160x3840 portrait).
pub const MAX_ENCODE_WIDTH: u32 = 3840;
/// Tallest region [`RegionEncoder`] accepts in landscape (see [`MAX_ENCODE_WIDTH`]).
pub const MAX_ENCODE_HEIGHT: u32 = 2160;
/// Largest picture side [`RegionDecoder`] accepts, whatever a stream's SPS announces.
pub const MAX_DECODE_DIMENSION: u32 = 8192;

/// One encoded picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPicture {
    /// Annex-B bytes (start codes and NAL units) for exactly one picture; never empty.
    pub annexb: Vec<u8>,
    /// True for an IDR picture: it starts with SPS and PPS and a fresh [`RegionDecoder`] can decode it.
    pub keyframe: bool,
}

/// What went wrong in [`RegionEncoder`] or [`RegionDecoder`].
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VideoError {
    /// The region size is zero or larger than the encoder or decoder supports.
    #[error("unsupported region size {width}x{height}")]
    InvalidDimensions {
        /// Requested width in pixels.
        width: u32,
        /// Requested height in pixels.
        height: u32,
    },
    /// A row stride is shorter than one row of pixels (as [`crate::Error::InvalidStride`]).
    #[error("stride {stride} bytes is smaller than a row of {min} bytes")]
    InvalidStride {
        /// The stride given.
        stride: usize,
        /// Bytes in one row of visible pixels.
        min: usize,
    },
    /// A pixel buffer is too short for the size and stride (as [`crate::Error::FrameDataTooShort`]).
    #[error("pixel buffer holds {actual} bytes, the frame needs {needed}")]
    FrameDataTooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The H.264 data is not something this decoder accepts (bad Annex-B framing, an unsupported NAL
    /// unit type, a broken SPS, a format other than 8-bit 4:2:0).
    #[error("malformed H.264 data: {0}")]
    Malformed(&'static str),
    /// The stream's picture size is not the region's size.
    #[error("H.264 picture is {stream_width}x{stream_height}, the region needs {expected_width}x{expected_height}")]
    SizeMismatch {
        /// Coded (even) width the region needs.
        expected_width: u32,
        /// Coded (even) height the region needs.
        expected_height: u32,
        /// Width the stream announces or produced.
        stream_width: u32,
        /// Height the stream announces or produced.
        stream_height: u32,
    },
    /// OpenH264's encoder failed.
    #[error("H.264 encoder: {0}")]
    Encoder(String),
    /// OpenH264's decoder rejected the data.
    #[error("H.264 decoder: {0}")]
    Decoder(String),
    /// The colour conversion failed (a size or stride the converter refused).
    #[error("colour conversion: {0}")]
    Colour(String),
}

/// Bytes a BGRA buffer of `width` x `height` at `stride` needs (the last row may be short).
fn bgra_len(width: u32, height: u32, stride: usize) -> Result<usize, VideoError> {
    let row = width as usize * 4;
    if stride < row {
        return Err(VideoError::InvalidStride { min: row, stride });
    }
    (height as usize - 1)
        .checked_mul(stride)
        .and_then(|n| n.checked_add(row))
        .ok_or(VideoError::FrameDataTooShort {
            needed: usize::MAX,
            actual: 0,
        })
}

/// The size the H.264 stream codes for a visible size: even (4:2:0 chroma cannot describe odd sizes)
/// and at least 16x16 (OpenH264's encoder refuses anything smaller than one macroblock each way).
/// The SPS announces this size; the visible part is its top-left corner.
#[must_use]
pub fn coded_size(width: u32, height: u32) -> (u32, u32) {
    let fit = |n: u32| (n + (n & 1)).max(16);
    (fit(width), fit(height))
}
