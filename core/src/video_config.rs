//! The settings of an H.264 region encoder, defined in every build: the encoder fills them in
//! whether or not this build codes video (`video_codec` decides), and the public `video` module
//! re-exports them.

/// Quantiser of [`VideoEncoderConfig::default`]'s constant quality, tuned on the corpus films: about
/// 41 dB RGB PSNR on the 480x352 clip of `video_region` (1280x720) at 380 kbit/s, 44 dB on the
/// letterboxed full-screen film at 1.06 Mbit/s (10 pictures per second).
pub const DEFAULT_QUALITY_QP: u8 = 22;

/// Settings of one [`RegionEncoder`](crate::video::RegionEncoder).
#[derive(Debug, Clone, PartialEq)]
pub struct VideoEncoderConfig {
    /// Bit rate in bits per second: the ceiling of constant quality ([`quality_qp`](Self::quality_qp)),
    /// or the target of OpenH264's rate control without it (frame skipping off either way).
    pub bitrate_bps: u32,
    /// Highest picture rate expected, in pictures per second; the rate control spreads the bit rate
    /// over this many pictures. Clamped to 1..=120.
    pub max_fps: f32,
    /// Lowest quantiser the rate control may use (0..=51, lower is better quality and more bytes).
    pub min_qp: u8,
    /// Highest quantiser the rate control may use (0..=51). Capping it keeps the picture from falling
    /// apart when the bit rate is too low for the content, at the cost of overshooting the bit rate.
    pub max_qp: u8,
    /// An IDR picture every this many pictures; 0 sends keyframes only on the first picture, on request
    /// and after a bit rate or quantiser change.
    pub keyframe_interval: u32,
    /// Constant quality: every picture at this quantiser (clamped to `min_qp..=max_qp`), raised 2 at a
    /// time up to `max_qp` while the last second's pictures exceed `bitrate_bps`. `None`: OpenH264's
    /// rate control aims at `bitrate_bps` within `min_qp..=max_qp`.
    pub quality_qp: Option<u8>,
}

impl Default for VideoEncoderConfig {
    /// Constant quality at quantiser [`DEFAULT_QUALITY_QP`] under a 2.5 Mbit/s ceiling, up to 30
    /// pictures per second, quantiser 10..=42, keyframes only on request.
    fn default() -> Self {
        Self {
            bitrate_bps: 2_500_000,
            max_fps: 30.0,
            min_qp: 10,
            max_qp: 42,
            keyframe_interval: 0,
            quality_qp: Some(DEFAULT_QUALITY_QP),
        }
    }
}
