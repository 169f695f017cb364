//! The sharer's engine: RGBA pixels in (from `getImageData`), packets out.

use glimpse::{EncoderConfig, Entropy, Frame, PixelFormat, Rect};
use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::{EncoderOptions, EncoderStatsObject};

use crate::error::{from_core, invalid};

/// Turns captured frames into packets, exactly as a native host does.
#[wasm_bindgen]
pub struct Encoder {
    inner: glimpse::Encoder,
}

fn frame<'a>(
    pixels: &'a [u8],
    width: u32,
    height: u32,
    stride: u32,
    format: u32,
) -> Result<Frame<'a>, JsValue> {
    let format = PixelFormat::from_u32(format).map_err(|e| from_core(&e))?;
    let stride = if stride == 0 {
        width as usize * 4
    } else {
        stride as usize
    };
    Frame::new(pixels, width, height, stride, format).map_err(|e| from_core(&e))
}

fn rects(flat: &[u32]) -> Result<Vec<Rect>, JsValue> {
    if flat.len() % 4 != 0 {
        return Err(invalid(
            "rectangles are flattened [x, y, width, height, ...]: length must be a multiple of 4",
        ));
    }
    Ok(flat
        .chunks_exact(4)
        .map(|r| Rect::new(r[0], r[1], r[2], r[3]))
        .collect())
}

fn bytes(packet: Option<glimpse::Packet>) -> Option<Vec<u8>> {
    packet.map(|p| p.as_bytes().to_vec())
}

#[wasm_bindgen]
impl Encoder {
    /// An encoder with no screen yet. `options` (optional): `cacheTiles` (0..=65536, default 2048),
    /// `motionDetection` (default true), `entropy` (`"adaptive"` default, `"deflate"`, `"lz4"`,
    /// `"stored"`), `scalePercent` (1..=1000, default 100).
    #[wasm_bindgen(constructor)]
    pub fn new(options: EncoderOptions) -> Result<Encoder, JsValue> {
        let options: &JsValue = &options;
        let mut config = EncoderConfig::default();
        if !options.is_undefined() && !options.is_null() {
            if !options.is_object() {
                return Err(invalid("encoder options must be an object"));
            }
            let get = |k: &str| Reflect::get(options, &k.into());
            let int = |k: &str, lo: u32, hi: u32| -> Result<Option<u32>, JsValue> {
                let v = get(k)?;
                if v.is_undefined() {
                    return Ok(None);
                }
                match v.as_f64() {
                    Some(n) if n.fract() == 0.0 && n >= f64::from(lo) && n <= f64::from(hi) => {
                        Ok(Some(n as u32))
                    }
                    _ => Err(invalid(&format!("{k} must be an integer in {lo}..={hi}"))),
                }
            };
            if let Some(v) = int("cacheTiles", 0, 65536)? {
                config.cache_tiles = v;
            }
            if let Some(v) = int("scalePercent", 1, 1000)? {
                config.scale_percent = v as u16;
            }
            let motion = get("motionDetection")?;
            if !motion.is_undefined() {
                config.motion_detection = motion
                    .as_bool()
                    .ok_or_else(|| invalid("motionDetection must be a boolean"))?;
            }
            let entropy = get("entropy")?;
            if !entropy.is_undefined() {
                config.entropy = match entropy.as_string().as_deref() {
                    Some("adaptive") => Entropy::Adaptive,
                    Some("deflate") => Entropy::Deflate(6),
                    Some("lz4") => Entropy::Lz4,
                    Some("stored") => Entropy::Stored,
                    _ => {
                        return Err(invalid(
                            "entropy must be \"adaptive\", \"deflate\", \"lz4\" or \"stored\"",
                        ))
                    }
                };
            }
        }
        Ok(Encoder {
            inner: glimpse::Encoder::new(config),
        })
    }

    /// Encodes a frame: `format` 1 = RGBA (`ImageData`), 0 = BGRA; `stride` in bytes, 0 = packed.
    /// Returns a checkpoint for the first frame or after a size change, a frame update when something
    /// changed, `undefined` when nothing did.
    pub fn encode(
        &mut self,
        pixels: &[u8],
        width: u32,
        height: u32,
        stride: u32,
        format: u32,
    ) -> Result<Option<Vec<u8>>, JsValue> {
        let frame = frame(pixels, width, height, stride, format)?;
        self.inner
            .encode(&frame)
            .map(bytes)
            .map_err(|e| from_core(&e))
    }

    /// Like `encode`, comparing only inside `hints` (flattened `[x, y, width, height, ...]`): pixels
    /// outside every hint must equal the previous frame.
    #[wasm_bindgen(js_name = encodeWithHints)]
    pub fn encode_with_hints(
        &mut self,
        pixels: &[u8],
        width: u32,
        height: u32,
        stride: u32,
        format: u32,
        hints: &[u32],
    ) -> Result<Option<Vec<u8>>, JsValue> {
        let frame = frame(pixels, width, height, stride, format)?;
        let hints = rects(hints)?;
        self.inner
            .encode_with_hints(&frame, &hints)
            .map(bytes)
            .map_err(|e| from_core(&e))
    }

    /// Encodes an `ImageData` (RGBA, as `getImageData` returns it).
    #[wasm_bindgen(js_name = encodeImageData)]
    pub fn encode_image_data(
        &mut self,
        image: &web_sys::ImageData,
    ) -> Result<Option<Vec<u8>>, JsValue> {
        let data = image.data();
        self.encode(&data, image.width(), image.height(), 0, 1)
    }

    /// A self-contained checkpoint of the current screen for viewers joining now (or after a loss);
    /// `undefined` before the first frame.
    pub fn checkpoint(&mut self) -> Option<Vec<u8>> {
        bytes(self.inner.checkpoint())
    }

    /// Screen rectangles (flattened `[x, y, width, height, ...]`) whose pixels never leave the encoder;
    /// from the next frame on. An empty array removes all masks.
    #[wasm_bindgen(js_name = setPrivacyMasks)]
    pub fn set_privacy_masks(&mut self, masks: &[u32]) -> Result<(), JsValue> {
        self.inner.set_privacy_masks(&rects(masks)?);
        Ok(())
    }

    /// Sets the cursor image (at most 256x256) and hotspot; returns the packet that announces it, or
    /// `undefined` if viewers already have it.
    #[wasm_bindgen(js_name = setCursorShape)]
    #[allow(clippy::too_many_arguments)]
    pub fn set_cursor_shape(
        &mut self,
        pixels: &[u8],
        width: u32,
        height: u32,
        stride: u32,
        format: u32,
        hotspot_x: u32,
        hotspot_y: u32,
    ) -> Result<Option<Vec<u8>>, JsValue> {
        let image = frame(pixels, width, height, stride, format)?;
        self.inner
            .set_cursor_shape(&image, hotspot_x, hotspot_y)
            .map(bytes)
            .map_err(|e| from_core(&e))
    }

    /// Moves the cursor hotspot to `x, y` and shows or hides it; `undefined` if nothing changed.
    #[wasm_bindgen(js_name = moveCursor)]
    pub fn move_cursor(&mut self, x: i32, y: i32, visible: bool) -> Option<Vec<u8>> {
        bytes(self.inner.move_cursor(x, y, visible))
    }

    /// Counters so far: `{ frames, unchangedFrames, checkpoints, bytes, copies, cacheHits }`.
    pub fn stats(&self) -> EncoderStatsObject {
        let s = self.inner.stats();
        let o = Object::new();
        for (k, v) in [
            ("frames", s.frames),
            ("unchangedFrames", s.unchanged_frames),
            ("checkpoints", s.checkpoints),
            ("bytes", s.bytes),
            ("copies", s.copies),
            ("cacheHits", s.cache_hits),
        ] {
            // Setting a property on a fresh plain object cannot fail.
            let _ = Reflect::set(&o, &k.into(), &(v as f64).into());
        }
        o.unchecked_into()
    }
}
