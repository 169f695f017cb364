//! The build's one video switch. With the `h264` feature on native builds, region encoders and
//! decoders are OpenH264's (the public `video` module); otherwise stand-ins that are never created,
//! so no region ever starts and the decoder hands pictures to the host (`VideoChunk::drawn` false).
//! The encoder and decoder reach video through this module only and compile the same either way.

pub(crate) use crate::video_config::{VideoEncoderConfig, DEFAULT_QUALITY_QP};
pub(crate) use selected::*;

#[cfg(all(feature = "h264", not(target_arch = "wasm32")))]
mod selected {
    pub(crate) use crate::video::{RegionDecoder, RegionEncoder, VideoError};

    /// True when this build codes video regions itself.
    pub(crate) const AVAILABLE: bool = true;
}

#[cfg(not(all(feature = "h264", not(target_arch = "wasm32"))))]
#[allow(dead_code)] // the stand-ins are never created: their fields and results are never read
mod selected {
    use crate::video_config::VideoEncoderConfig;

    /// True when this build codes video regions itself.
    pub(crate) const AVAILABLE: bool = false;

    /// Why a stand-in cannot be created: this build has no H.264.
    #[derive(Debug)]
    pub(crate) struct VideoError;

    pub(crate) struct EncodedPicture {
        pub annexb: Vec<u8>,
        pub keyframe: bool,
    }

    /// No region encoder exists in this build: `new` always fails.
    pub(crate) struct RegionEncoder;

    impl RegionEncoder {
        pub fn new(
            _width: u32,
            _height: u32,
            _config: &VideoEncoderConfig,
        ) -> Result<Self, VideoError> {
            Err(VideoError)
        }

        pub fn encode(
            &mut self,
            _pixels: &[u8],
            _stride: usize,
            _force_keyframe: bool,
        ) -> Result<EncodedPicture, VideoError> {
            Err(VideoError)
        }
    }

    /// No region decoder exists in this build: `new` always fails.
    pub(crate) struct RegionDecoder;

    impl RegionDecoder {
        pub fn new() -> Result<Self, VideoError> {
            Err(VideoError)
        }

        pub fn decode(
            &mut self,
            _annexb: &[u8],
            _width: u32,
            _height: u32,
            _out: &mut [u8],
            _out_stride: usize,
        ) -> Result<bool, VideoError> {
            Err(VideoError)
        }
    }
}
