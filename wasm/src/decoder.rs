//! The viewer's engine: packets in, an RGBA framebuffer and its damaged rectangles out.

use glimpse::{DecoderConfig, PixelFormat, MAX_DIMENSION};
use js_sys::{Array, Object, Reflect, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::{DecoderOptions, MaybeCursor, RawVideoChunkArray};

use crate::error::{self, from_core, invalid};

/// Rebuilds the shared screen from packets, in RGBA (the byte order of `ImageData`).
///
/// After a failed `push` nothing changed: the framebuffer, the cache and the sequence number are as
/// before. `OUT_OF_SYNC` (25) means the viewer must wait for the next checkpoint.
#[wasm_bindgen]
pub struct Decoder {
    inner: glimpse::Decoder,
    damage: Vec<u32>,
    resized: bool,
    video: Vec<glimpse::VideoChunk>,
    video_ended: Vec<u32>,
}

#[wasm_bindgen]
impl Decoder {
    /// A decoder waiting for its first checkpoint. `options` (optional): `maxWidth`, `maxHeight`
    /// (1..=8192, default 8192) and `maxCacheTiles` (default 8192): larger sessions are rejected.
    #[wasm_bindgen(constructor)]
    pub fn new(options: DecoderOptions) -> Result<Decoder, JsValue> {
        let options: &JsValue = &options;
        let mut config = DecoderConfig::with_output_format(PixelFormat::Rgba8);
        if !options.is_undefined() && !options.is_null() {
            if !options.is_object() {
                return Err(invalid("decoder options must be an object"));
            }
            let limit = |name: &str, max: u32| -> Result<Option<u32>, JsValue> {
                match Reflect::get(options, &name.into())?.as_f64() {
                    None => Ok(None),
                    Some(v) if v.fract() == 0.0 && v >= 1.0 && v <= f64::from(max) => {
                        Ok(Some(v as u32))
                    }
                    Some(v) => Err(invalid(&format!(
                        "{name} {v} is not an integer in 1..={max}"
                    ))),
                }
            };
            if let Some(v) = limit("maxWidth", MAX_DIMENSION)? {
                config.max_width = v;
            }
            if let Some(v) = limit("maxHeight", MAX_DIMENSION)? {
                config.max_height = v;
            }
            if let Some(v) = limit("maxCacheTiles", 1 << 20)? {
                config.max_cache_tiles = v;
            }
        }
        Ok(Decoder {
            inner: glimpse::Decoder::new(config),
            damage: Vec::new(),
            resized: false,
            video: Vec::new(),
            video_ended: Vec::new(),
        })
    }

    /// Applies one packet and returns its kind (1 checkpoint, 2 frame update, 3 cursor shape, 4 cursor
    /// position). The damaged rectangles are then in [`damage`](Self::damage). Throws a `GlimpseError`
    /// (and changes nothing) for a bad packet.
    pub fn push(&mut self, packet: &[u8]) -> Result<u32, JsValue> {
        let update = self.inner.apply(packet).map_err(|e| from_core(&e))?;
        self.damage.clear();
        for r in &update.damage {
            self.damage
                .extend_from_slice(&[r.x, r.y, r.width, r.height]);
        }
        self.resized = update.resized;
        self.video = update.video;
        self.video_ended = update.video_ended;
        Ok(update.kind as u32)
    }

    /// The H.264 pictures of the last successful push, in order, for the host to decode (WebCodecs)
    /// and draw: `[{ region, x, y, width, height, keyframe, data }]`. `data` is one Annex-B picture
    /// (SPS and PPS in front of keyframes); its coded size is the rectangle padded to even and at
    /// least 16x16: show only the top-left `width` x `height`. Empty for other packets.
    #[wasm_bindgen(js_name = videoChunks)]
    pub fn video_chunks(&self) -> RawVideoChunkArray {
        let out = Array::new();
        for c in &self.video {
            let o = Object::new();
            let set = |k: &str, v: JsValue| {
                // Setting a property on a fresh plain object cannot fail.
                let _ = Reflect::set(&o, &k.into(), &v);
            };
            set("region", c.region.into());
            set("x", c.rect.x.into());
            set("y", c.rect.y.into());
            set("width", c.rect.width.into());
            set("height", c.rect.height.into());
            set("keyframe", c.keyframe.into());
            set("data", Uint8Array::from(&c.data[..]).into());
            out.push(&o);
        }
        out.unchecked_into()
    }

    /// How many H.264 pictures the last successful push carried (without copying them).
    #[wasm_bindgen(getter, js_name = videoCount)]
    pub fn video_count(&self) -> u32 {
        self.video.len() as u32
    }

    /// Video regions that ended in the last successful push (their pixels follow losslessly): drop
    /// their decoders and any picture still in flight.
    #[wasm_bindgen(js_name = videoEnded)]
    pub fn video_ended(&self) -> Uint32Array {
        Uint32Array::from(&self.video_ended[..])
    }

    /// Damaged rectangles of the last successful push, flattened `[x, y, width, height, ...]`.
    pub fn damage(&self) -> Uint32Array {
        Uint32Array::from(&self.damage[..])
    }

    /// True when the last successful push was a checkpoint that changed the screen size.
    #[wasm_bindgen(getter)]
    pub fn resized(&self) -> bool {
        self.resized
    }

    /// Screen width in pixels; 0 before the first checkpoint.
    #[wasm_bindgen(getter)]
    pub fn width(&self) -> u32 {
        self.inner.session().map_or(0, |s| s.width)
    }

    /// Screen height in pixels; 0 before the first checkpoint.
    #[wasm_bindgen(getter)]
    pub fn height(&self) -> u32 {
        self.inner.session().map_or(0, |s| s.height)
    }

    /// The host's display scale (100 = 96 DPI); 0 before the first checkpoint.
    #[wasm_bindgen(getter, js_name = scalePercent)]
    pub fn scale_percent(&self) -> u32 {
        self.inner
            .session()
            .map_or(0, |s| u32::from(s.scale_percent))
    }

    /// Sequence number of the last applied update or checkpoint; -1 before the first checkpoint.
    #[wasm_bindgen(getter)]
    pub fn seq(&self) -> f64 {
        self.inner.seq().map_or(-1.0, |s| s as f64)
    }

    /// Byte offset of the RGBA framebuffer in the wasm memory (rows packed, `width * 4` bytes each), for
    /// a zero-copy view. The view is valid until the next `push` or `free`, and until the memory grows:
    /// re-create it when `memory.buffer` changed. 0 before the first checkpoint.
    #[wasm_bindgen(js_name = framebufferPtr)]
    pub fn framebuffer_ptr(&self) -> usize {
        self.inner
            .framebuffer()
            .map_or(0, |f| f.pixels.as_ptr() as usize)
    }

    /// Length in bytes of the framebuffer (`width * height * 4`); 0 before the first checkpoint.
    #[wasm_bindgen(js_name = framebufferLen)]
    pub fn framebuffer_len(&self) -> usize {
        self.inner.framebuffer().map_or(0, |f| f.pixels.len())
    }

    /// A copy of the RGBA framebuffer. Throws `NOT_AVAILABLE` (8) before the first checkpoint.
    pub fn framebuffer(&self) -> Result<Vec<u8>, JsValue> {
        self.inner
            .framebuffer()
            .map(|f| f.pixels.to_vec())
            .ok_or_else(|| error::js_error(error::NOT_AVAILABLE, "no checkpoint received yet"))
    }

    /// The cursor as last announced, or `undefined` before the first cursor position:
    /// `{ x, y, visible, shapeId, width, height, hotspotX, hotspotY }` (the image fields are 0 when the
    /// image was not received).
    pub fn cursor(&self) -> MaybeCursor {
        let Some(c) = self.inner.cursor() else {
            return JsValue::UNDEFINED.unchecked_into();
        };
        let o = Object::new();
        let set = |k: &str, v: JsValue| {
            // Setting a property on a fresh plain object cannot fail.
            let _ = Reflect::set(&o, &k.into(), &v);
        };
        set("x", c.x.into());
        set("y", c.y.into());
        set("visible", c.visible.into());
        let (id, w, h, hx, hy) = c.image.map_or((0, 0, 0, 0, 0), |i| {
            (i.id, i.width, i.height, i.hotspot_x, i.hotspot_y)
        });
        set("shapeId", id.into());
        set("width", w.into());
        set("height", h.into());
        set("hotspotX", hx.into());
        set("hotspotY", hy.into());
        o.unchecked_into()
    }

    /// The current cursor image in RGBA (`width * height * 4` bytes), or `undefined`.
    #[wasm_bindgen(js_name = cursorPixels)]
    pub fn cursor_pixels(&self) -> Option<Vec<u8>> {
        self.inner
            .cursor()
            .and_then(|c| c.image)
            .map(|i| i.pixels.clone())
    }
}
