//! Video regions on the viewer side: one H.264 decoder per region (with the `h264` feature), or the
//! pictures handed to the host to decode (browsers' WebCodecs).

use crate::frame::{swap_red_blue, PackedImage, Rect};
use crate::video_codec::{self, RegionDecoder, VideoError};

/// One H.264 picture of a video region, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoChunk {
    /// Region identifier: pictures of one region form one H.264 stream.
    pub region: u32,
    /// Screen rectangle the picture covers.
    pub rect: Rect,
    /// True for an IDR picture (SPS and PPS in front): a fresh decoder can start here.
    pub keyframe: bool,
    /// Annex-B bytes of exactly one picture.
    pub data: Vec<u8>,
    /// True when the decoder already drew the picture into the framebuffer; false when the host must
    /// decode and draw it (decoders built without the `h264` feature, or with video decoding off).
    pub drawn: bool,
}

/// Regions decoded at once; the least recently used is dropped beyond this.
const MAX_REGIONS: usize = 4;

/// The per-region H.264 decoders of one viewer.
#[derive(Default)]
pub(crate) struct VideoDecoders {
    regions: Vec<(u32, Rect, RegionDecoder)>,
}

impl VideoDecoders {
    /// Decodes one picture into `framebuffer` at `rect`. `Ok(true)` when pixels were drawn, `Ok(false)`
    /// when the stream is waiting for a keyframe, `Err` for a malformed picture (that region's decoder
    /// is dropped, so it restarts at the next keyframe). A build without H.264 draws nothing: the host
    /// decodes the [`VideoChunk`]s itself.
    pub fn decode(
        &mut self,
        region: u32,
        rect: Rect,
        keyframe: bool,
        data: &[u8],
        framebuffer: &mut PackedImage,
        rgba: bool,
    ) -> Result<bool, VideoError> {
        if !video_codec::AVAILABLE {
            return Ok(false);
        }
        let position = self
            .regions
            .iter()
            .position(|(id, r, _)| *id == region && *r == rect);
        let index = match position {
            Some(i) => i,
            None => {
                // A new region, or a region that moved or resized: its stream restarts at a keyframe.
                self.regions.retain(|(id, _, _)| *id != region);
                if !keyframe {
                    return Ok(false);
                }
                if self.regions.len() == MAX_REGIONS {
                    self.regions.remove(0);
                }
                self.regions.push((region, rect, RegionDecoder::new()?));
                self.regions.len() - 1
            }
        };
        let stride = framebuffer.stride();
        let start = rect.y as usize * stride + rect.x as usize * 4;
        let result = self.regions[index].2.decode(
            data,
            rect.width,
            rect.height,
            &mut framebuffer.pixels[start..],
            stride,
        );
        match result {
            Ok(true) => {
                if rgba {
                    for y in rect.y..rect.bottom() {
                        swap_red_blue(framebuffer.span_mut(&rect, y));
                    }
                }
                // Most recently used last.
                let entry = self.regions.remove(index);
                self.regions.push(entry);
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(e) => {
                self.regions.remove(index);
                Err(e)
            }
        }
    }

    /// Forgets a region that ended.
    pub fn end(&mut self, region: u32) {
        self.regions.retain(|(id, _, _)| *id != region);
    }
}
