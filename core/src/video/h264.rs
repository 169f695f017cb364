//! [`RegionEncoder`] and [`RegionDecoder`]: OpenH264 behind a per-region API.

use super::bitstream::{
    nal_type, nal_units, parse_sps, NAL_AUD, NAL_FILLER, NAL_IDR, NAL_PPS, NAL_SEI, NAL_SLICE,
    NAL_SPS,
};
use super::colour::{write_bgra, I420};
use super::{
    bgra_len, coded_size, EncodedPicture, VideoEncoderConfig, VideoError, MAX_DECODE_DIMENSION,
    MAX_ENCODE_HEIGHT, MAX_ENCODE_WIDTH,
};
use openh264::decoder::Decoder;
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, QpRange,
    RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::YUVSource;
use openh264::{OpenH264API, Timestamp};

/// Largest Annex-B input [`RegionDecoder::decode`] accepts for one picture.
const MAX_PICTURE_BYTES: usize = 64 << 20;

/// One H.264 stream for one region size. A region that moves keeps its encoder; one that resizes gets
/// a new one (the first picture of a new encoder is a keyframe).
pub struct RegionEncoder {
    encoder: Encoder,
    picture: I420,
    width: u32,
    height: u32,
    config: VideoEncoderConfig,
    /// Pictures encoded so far (the timestamps handed to the rate control).
    count: u64,
    /// Constant quality: the quantiser in force and the ceiling's window.
    quality: Option<Ceiling>,
}

/// Constant quality under a bit rate ceiling: the sizes of the last second's pictures decide whether
/// the quantiser steps up (over the ceiling) or back towards the target (well under it).
#[derive(Debug, Clone)]
struct Ceiling {
    qp: u8,
    /// Bytes of the last `window` pictures since the quantiser last changed.
    recent: std::collections::VecDeque<u64>,
    /// Pictures per second: the window's length.
    window: usize,
}

impl Ceiling {
    /// Records a picture's size; returns the quantiser to restart at when it should change.
    fn after_picture(
        &mut self,
        bytes: usize,
        config: &VideoEncoderConfig,
        target: u8,
    ) -> Option<u8> {
        self.recent.push_back(bytes as u64);
        if self.recent.len() > self.window {
            self.recent.pop_front();
        }
        if self.recent.len() < self.window {
            return None;
        }
        // Bits of the last second against the ceiling.
        let bits: u64 = self.recent.iter().sum::<u64>() * 8;
        let ceiling = u64::from(config.bitrate_bps);
        let max_qp = config.max_qp.min(51);
        let next = if bits > ceiling && self.qp < max_qp {
            (self.qp + 2).min(max_qp)
        } else if self.qp > target && bits * 3 < ceiling {
            self.qp - 1
        } else {
            return None;
        };
        self.qp = next;
        self.recent.clear();
        Some(next)
    }
}

impl std::fmt::Debug for RegionEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionEncoder")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("config", &self.config)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl RegionEncoder {
    /// An encoder for a `width` x `height` region (any size from 1x1 to 3840x2160 or 2160x3840).
    pub fn new(width: u32, height: u32, config: &VideoEncoderConfig) -> Result<Self, VideoError> {
        let (long, short) = (width.max(height), width.min(height));
        if width == 0 || height == 0 || long > MAX_ENCODE_WIDTH || short > MAX_ENCODE_HEIGHT {
            return Err(VideoError::InvalidDimensions { width, height });
        }
        let (coded_width, coded_height) = coded_size(width, height);
        let quality = config.quality_qp.map(|qp| Ceiling {
            qp: clamp_qp(qp, config),
            recent: std::collections::VecDeque::new(),
            window: clamp_fps(config.max_fps).round() as usize,
        });
        Ok(Self {
            encoder: new_encoder(config, quality.as_ref().map(|q| q.qp))?,
            picture: I420::new(coded_width, coded_height),
            width,
            height,
            config: config.clone(),
            count: 0,
            quality,
        })
    }

    /// The quantiser pictures are coded at now (constant quality), `None` under OpenH264's rate
    /// control.
    #[must_use]
    pub fn quality_qp(&self) -> Option<u8> {
        self.quality.as_ref().map(|q| q.qp)
    }

    /// The visible size this encoder was made for.
    #[must_use]
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The settings in force.
    #[must_use]
    pub fn config(&self) -> &VideoEncoderConfig {
        &self.config
    }

    /// Encodes one picture from BGRA rows (B, G, R, A; alpha ignored): `width` x `height` pixels, rows
    /// `stride` bytes apart (the last row may be short). Always returns exactly one picture; with
    /// `force_keyframe` it is an IDR picture with SPS and PPS in front.
    pub fn encode(
        &mut self,
        pixels: &[u8],
        stride: usize,
        force_keyframe: bool,
    ) -> Result<EncodedPicture, VideoError> {
        let needed = bgra_len(self.width, self.height, stride)?;
        if pixels.len() < needed {
            return Err(VideoError::BufferTooSmall {
                expected: needed,
                received: pixels.len(),
            });
        }
        self.picture
            .fill_from_bgra(pixels, stride, self.width, self.height)?;
        if force_keyframe && self.count > 0 {
            self.encoder.force_intra_frame();
        }
        let fps = clamp_fps(self.config.max_fps);
        let millis = (self.count as f64 * 1000.0 / f64::from(fps)) as u64;
        self.count += 1;
        let stream = self
            .encoder
            .encode_at(&self.picture, Timestamp::from_millis(millis))
            .map_err(|e| VideoError::Encoder(e.to_string()))?;
        let frame_type = stream.frame_type();
        let annexb = stream.to_vec();
        if annexb.is_empty() || matches!(frame_type, FrameType::Skip | FrameType::Invalid) {
            // Frame skipping is off, so this would be an OpenH264 surprise: say so rather than send
            // an empty picture.
            return Err(VideoError::Encoder(format!(
                "no picture produced (frame type {frame_type:?})"
            )));
        }
        let target = self.config.quality_qp.map(|qp| clamp_qp(qp, &self.config));
        if let (Some(quality), Some(target)) = (self.quality.as_mut(), target) {
            if let Some(qp) = quality.after_picture(annexb.len(), &self.config, target) {
                // A new quantiser needs a new encoder: the next picture is a keyframe. If OpenH264
                // refused (it accepted the same settings before), keep the running one.
                if let Ok(encoder) = new_encoder(&self.config, Some(qp)) {
                    self.encoder = encoder;
                    self.count = 0;
                }
            }
        }
        Ok(EncodedPicture {
            annexb,
            keyframe: frame_type == FrameType::IDR,
        })
    }

    /// Changes the bit rate from the next picture on: the ceiling of constant quality (checked from
    /// the next picture on, nothing restarts), or the target of OpenH264's rate control. OpenH264's safe
    /// API cannot retune a running encoder, so under its rate control the encoder is restarted and the
    /// next picture is a keyframe: call this when the rate really changed (it does nothing when `bps`
    /// is the rate in force), not on every estimate.
    pub fn set_bitrate(&mut self, bps: u32) {
        if bps == self.config.bitrate_bps {
            return;
        }
        if self.quality.is_some() {
            self.config.bitrate_bps = bps;
            return;
        }
        let mut config = self.config.clone();
        config.bitrate_bps = bps;
        // Creating an encoder only fails on parameters OpenH264 refuses, which `new` already accepted
        // with the same size; if it ever fails, keep the running encoder at the old rate.
        if let Ok(encoder) = new_encoder(&config, self.quality_qp()) {
            self.encoder = encoder;
            self.config = config;
            self.count = 0;
        }
    }
}

fn clamp_fps(fps: f32) -> f32 {
    if fps.is_finite() {
        fps.clamp(1.0, 120.0)
    } else {
        30.0
    }
}

/// `qp` clamped to the config's quantiser range.
fn clamp_qp(qp: u8, config: &VideoEncoderConfig) -> u8 {
    let max_qp = config.max_qp.min(51);
    qp.clamp(config.min_qp.min(max_qp), max_qp)
}

/// An OpenH264 encoder for `config`; with `constant_qp`, every picture at that quantiser.
fn new_encoder(
    config: &VideoEncoderConfig,
    constant_qp: Option<u8>,
) -> Result<Encoder, VideoError> {
    let max_qp = config.max_qp.min(51);
    let min_qp = config.min_qp.min(max_qp);
    // Constant quality is the rate control pinned to one quantiser (OpenH264's own quality mode
    // still aims at the bit rate, and starts its first keyframe at a coarser quantiser).
    let qp = constant_qp.map_or(QpRange::new(min_qp, max_qp), |qp| QpRange::new(qp, qp));
    let settings = EncoderConfig::new()
        .usage_type(UsageType::CameraVideoRealTime)
        .rate_control_mode(RateControlMode::Bitrate)
        .bitrate(BitRate::from_bps(config.bitrate_bps.max(10_000)))
        .max_frame_rate(FrameRate::from_hz(clamp_fps(config.max_fps)))
        .skip_frames(false)
        .qp(qp)
        // Background detection skips blocks it takes for static background: on films it cost
        // 0.4 dB for 3% fewer bytes (a worse trade than one quantiser step).
        .background_detection(false)
        // Adaptive quantisation moves the quantiser per macroblock: nothing to move at constant
        // quality (the same bytes without it), and under a bit rate target it spends bits by looks
        // rather than by PSNR.
        .adaptive_quantization(constant_qp.is_none())
        .intra_frame_period(IntraFramePeriod::from_num_frames(config.keyframe_interval))
        // One thread: size-limited slices on two threads measured no faster (the only multi-slice
        // mode the safe API offers), and the host runs one encoder per region anyway.
        .num_threads(1)
        // Low complexity: about 10% faster at 1080p than Medium for the same size and PSNR.
        .complexity(Complexity::Low)
        .vui(VuiConfig::bt709_full());
    Encoder::with_api_config(OpenH264API::from_source(), settings)
        .map_err(|e| VideoError::Encoder(e.to_string()))
}

/// Decodes one region's H.264 stream into BGRA. Untrusted input is checked before OpenH264 sees it:
/// only plain H.264 NAL unit types pass, and every SPS must be 8-bit 4:2:0 of exactly the region's
/// (even-padded) size, at most 8192x8192, so a stream cannot make the decoder allocate more than the
/// region needs.
pub struct RegionDecoder {
    decoder: Decoder,
}

impl std::fmt::Debug for RegionDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegionDecoder").finish_non_exhaustive()
    }
}

impl RegionDecoder {
    /// A decoder waiting for a keyframe.
    pub fn new() -> Result<Self, VideoError> {
        Ok(Self {
            decoder: Decoder::new().map_err(|e| VideoError::Decoder(e.to_string()))?,
        })
    }

    /// Decodes one picture's Annex-B bytes for a `width` x `height` region and writes its visible
    /// pixels as BGRA (alpha 255) into `out`, rows `out_stride` bytes apart. Returns `Ok(false)` when
    /// the data produced no picture (for example a delta picture before any keyframe). Malformed data
    /// gives an error; `out` is only written when a picture is produced.
    pub fn decode(
        &mut self,
        annexb: &[u8],
        width: u32,
        height: u32,
        out: &mut [u8],
        out_stride: usize,
    ) -> Result<bool, VideoError> {
        if width == 0
            || height == 0
            || width > MAX_DECODE_DIMENSION
            || height > MAX_DECODE_DIMENSION
        {
            return Err(VideoError::InvalidDimensions { width, height });
        }
        let needed = bgra_len(width, height, out_stride)?;
        if out.len() < needed {
            return Err(VideoError::BufferTooSmall {
                expected: needed,
                received: out.len(),
            });
        }
        if annexb.len() > MAX_PICTURE_BYTES {
            return Err(VideoError::Malformed("picture larger than 64 MiB"));
        }
        let (coded_width, coded_height) = coded_size(width, height);
        check_stream(annexb, coded_width, coded_height)?;

        let picture = self
            .decoder
            .decode(annexb)
            .map_err(|e| VideoError::Decoder(e.to_string()))?;
        let Some(picture) = picture else {
            return Ok(false);
        };
        let (w, h) = picture.dimensions();
        if (w, h) != (coded_width as usize, coded_height as usize) {
            // A picture from parameter sets of an earlier, differently sized stream.
            return Err(VideoError::SizeMismatch {
                expected_width: coded_width,
                expected_height: coded_height,
                stream_width: w as u32,
                stream_height: h as u32,
            });
        }
        write_bgra(&picture, width, height, out, out_stride)?;
        Ok(true)
    }
}

/// Rejects anything but plain H.264 NAL units, and any SPS that is not 8-bit 4:2:0 of exactly
/// `coded_width` x `coded_height` (within [`MAX_DECODE_DIMENSION`]).
fn check_stream(annexb: &[u8], coded_width: u32, coded_height: u32) -> Result<(), VideoError> {
    for unit in nal_units(annexb)? {
        match nal_type(unit)? {
            NAL_SLICE | NAL_IDR | NAL_SEI | NAL_PPS | NAL_AUD | NAL_FILLER => {}
            NAL_SPS => {
                let sps = parse_sps(unit)?;
                if sps.chroma_format_idc != 1
                    || sps.bit_depth_luma != 8
                    || sps.bit_depth_chroma != 8
                {
                    return Err(VideoError::Malformed("not 8-bit 4:2:0"));
                }
                // Whole macroblocks around the region, no more: this bounds what OpenH264 allocates.
                let align = |n: u32| u64::from(n).div_ceil(16) * 16;
                if sps.coded_width > align(coded_width) || sps.coded_height > align(coded_height) {
                    return Err(VideoError::Malformed(
                        "SPS macroblock size larger than the region",
                    ));
                }
                if (sps.width, sps.height) != (u64::from(coded_width), u64::from(coded_height)) {
                    return Err(VideoError::SizeMismatch {
                        expected_width: coded_width,
                        expected_height: coded_height,
                        stream_width: u32::try_from(sps.width).unwrap_or(u32::MAX),
                        stream_height: u32::try_from(sps.height).unwrap_or(u32::MAX),
                    });
                }
            }
            _ => return Err(VideoError::Malformed("unsupported NAL unit type")),
        }
    }
    Ok(())
}
