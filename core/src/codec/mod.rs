//! Lossless codec for screen content.
//!
//! Each changed rectangle (at most one tile) is coded on its own, with a per-rectangle choice:
//! - **fill** when it holds a single colour (no payload at all);
//! - **palette** when it holds few colours (UI, plain text: up to 16 with Zstandard, 256 otherwise): the
//!   colours, then indices packed at 1, 2, 4 or 8 bits each;
//! - **raw** or **predicted** otherwise: plain pixels when Zstandard follows (it finds repeated glyphs
//!   across tiles itself; one byte per pixel when every pixel is grey, as anti-aliased black-on-white
//!   text is; a key channel and mostly-zero residuals when the pixels lie on the line between two
//!   colours, as text on a coloured background does), each pixel minus its left neighbour for LZ4 and
//!   DEFLATE.
//!
//! - **recolour** when the new pixels are the old ones with some colours replaced (the pairs), or, when
//!   highlighting changes over many tiles, the update's shared colour map plus exception rectangles.
//!
//! The per-frame payload (all coded rectangles back to back) then goes through one entropy stage
//! ([`Entropy`]), so glyphs repeated across tiles cost a back-reference; with Zstandard, frame updates
//! also see the last 256 KiB (1 MiB for large payloads) of earlier payloads as a dictionary, so
//! glyphs repeated across frames do too. Everything here is pure safe Rust (but the zstd encoder) so
//! that the same decoder runs natively and in WebAssembly.

pub(crate) mod cursor;
mod entropy;
pub(crate) mod history;
mod line;
mod palette;
mod predicted;
mod raw;
pub(crate) mod recolor;

pub use entropy::Entropy;
pub(crate) use entropy::{compress, decompress, Compressor};

use crate::error::{Error, Result};
use crate::frame::{Rect, SourceRows};

/// How a rectangle's pixels are coded in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum TileMode {
    /// Up to 256 opaque colours (3 bytes each) and packed indices.
    Palette = 0,
    /// Up to 256 colours with alpha (4 bytes each) and packed indices.
    PaletteAlpha = 1,
    /// Opaque pixels, left-predicted, 3 bytes each.
    Predicted = 2,
    /// Pixels with alpha, left-predicted, 4 bytes each.
    PredictedAlpha = 3,
    /// Opaque pixels as they are, 3 bytes each (B, G, R).
    Raw = 4,
    /// Pixels with alpha as they are, 4 bytes each.
    RawAlpha = 5,
    /// The rectangle's colours replaced pairwise (opaque colours, 3 bytes each); see [`recolor`].
    Recolor = 6,
    /// The same with 4-byte colours.
    RecolorAlpha = 7,
    /// The rectangle recoloured by the update's shared colour map (no payload of its own).
    RecolorShared = 8,
    /// Opaque grey pixels (B = G = R), one byte each.
    Grey = 9,
    /// Opaque pixels on the line between two colours: a key channel and residuals (see [`line`]).
    Line = 10,
}

impl TileMode {
    /// True for the modes that transform the pixels already on screen.
    pub fn is_recolor(self) -> bool {
        matches!(
            self,
            TileMode::Recolor | TileMode::RecolorAlpha | TileMode::RecolorShared
        )
    }

    pub fn from_u8(v: u8) -> Result<Self> {
        Ok(match v {
            0 => TileMode::Palette,
            1 => TileMode::PaletteAlpha,
            2 => TileMode::Predicted,
            3 => TileMode::PredictedAlpha,
            4 => TileMode::Raw,
            5 => TileMode::RawAlpha,
            6 => TileMode::Recolor,
            7 => TileMode::RecolorAlpha,
            8 => TileMode::RecolorShared,
            9 => TileMode::Grey,
            10 => TileMode::Line,
            _ => return Err(Error::Malformed("unknown tile mode")),
        })
    }
}

/// What [`encode_rect`] decided for a rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coded {
    /// One colour (canonical BGRA as a little-endian `u32`); nothing was written.
    Fill(u32),
    /// Pixels were appended to the payload in this mode.
    Tile(TileMode),
}

/// Which per-rectangle coding suits the entropy stage that follows (measured on the corpus with the
/// corpus report): Zstandard finds repeated glyphs across tiles in plain pixels, which per-tile palettes
/// renumber and hide, so with it only tiles of up to 16 colours get a palette and tiles of up to 256
/// go raw (30% fewer bytes than palettes of 256), and so do photos (left prediction would save 35% on
/// `video_region`, but costs a full colour count per tile, halving throughput; video-like regions
/// are for a video codec anyway). LZ4 and DEFLATE gain from palettes up to 256 colours and from
/// prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Strategy {
    pub max_palette: usize,
    pub predict: bool,
    /// Pixels on the line between two colours as a key channel and residuals ([`line`]).
    pub lines: bool,
}

impl Strategy {
    pub fn for_entropy(entropy: Entropy) -> Self {
        match entropy {
            Entropy::Zstd(_) | Entropy::Adaptive if cfg!(not(target_arch = "wasm32")) => Strategy {
                max_palette: 16,
                predict: false,
                lines: true,
            },
            _ => Strategy {
                max_palette: 256,
                predict: true,
                lines: false,
            },
        }
    }
}

/// Reusable scratch memory for the encoder (no allocation per tile once warmed up).
#[derive(Default)]
pub(crate) struct Scratch {
    palette: palette::ColorTable,
    indices: Vec<u8>,
    /// The coded rectangles of the frame being encoded, before the entropy stage.
    pub payload: Vec<u8>,
    pub compressor: Compressor,
}

/// Codes the pixels of `rect` (at most 256x256) from `src` and appends them to `out`.
pub(crate) fn encode_rect(
    src: &SourceRows<'_>,
    rect: &Rect,
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
    strategy: Strategy,
) -> Coded {
    match palette::analyse(
        src,
        rect,
        &mut scratch.palette,
        &mut scratch.indices,
        strategy.max_palette,
        strategy.predict,
    ) {
        palette::Analysis::Solid(color) => Coded::Fill(color),
        palette::Analysis::Palette { opaque } => {
            palette::write(&scratch.palette, &scratch.indices, opaque, out);
            Coded::Tile(if opaque {
                TileMode::Palette
            } else {
                TileMode::PaletteAlpha
            })
        }
        palette::Analysis::TooManyColors { photo } if photo || strategy.predict => {
            let opaque = palette::is_opaque(src, rect);
            predicted::encode(src, rect, opaque, out);
            Coded::Tile(if opaque {
                TileMode::Predicted
            } else {
                TileMode::PredictedAlpha
            })
        }
        palette::Analysis::TooManyColors { .. } => Coded::Tile(
            match raw::encode(src, rect, out, strategy.lines, &mut scratch.indices) {
                raw::Layout::Opaque => TileMode::Raw,
                raw::Layout::Line => TileMode::Line,
                raw::Layout::Alpha => TileMode::RawAlpha,
                raw::Layout::Grey => TileMode::Grey,
            },
        ),
    }
}

/// Appends a one-colour rectangle of `area` pixels as a one-entry palette, for an op that needs coded
/// pixels rather than a fill.
pub(crate) fn write_solid(color: u32, area: u64, out: &mut Vec<u8>) -> TileMode {
    let opaque = color >> 24 == 0xff;
    out.push(0);
    let bytes = color.to_le_bytes();
    out.extend_from_slice(if opaque { &bytes[..3] } else { &bytes[..] });
    out.resize(out.len() + (area as usize).div_ceil(8), 0);
    if opaque {
        TileMode::Palette
    } else {
        TileMode::PaletteAlpha
    }
}

/// True when `rect` holds more than 256 colours (photographs, video), counted until the 257th.
pub(crate) fn is_photographic(src: &SourceRows<'_>, rect: &Rect) -> bool {
    let mut table = palette::ColorTable::default();
    let mut indices = Vec::new();
    matches!(
        palette::analyse(src, rect, &mut table, &mut indices, 256, true),
        palette::Analysis::TooManyColors { photo: true, .. }
    )
}

/// Decodes one coded rectangle of `width` x `height` from the front of `data` into `out` (canonical
/// BGRA, packed, `width * height * 4` bytes), and advances `data` past it.
pub(crate) fn decode_rect(
    mode: TileMode,
    width: u32,
    height: u32,
    data: &mut &[u8],
    out: &mut [u8],
) -> Result<()> {
    debug_assert_eq!(out.len(), width as usize * height as usize * 4);
    match mode {
        TileMode::Palette => palette::read(data, false, out),
        TileMode::PaletteAlpha => palette::read(data, true, out),
        TileMode::Predicted => predicted::decode(data, width, false, out),
        TileMode::PredictedAlpha => predicted::decode(data, width, true, out),
        TileMode::Raw => raw::decode(data, false, out),
        TileMode::RawAlpha => raw::decode(data, true, out),
        TileMode::Grey => raw::decode_grey(data, out),
        TileMode::Line => line::decode(data, out),
        // Recolouring reads the framebuffer: the decoder applies it in place (see `recolor`).
        TileMode::Recolor | TileMode::RecolorAlpha | TileMode::RecolorShared => {
            Err(Error::Malformed("recolour is not a standalone tile"))
        }
    }
}

/// Codes rectangles of frames as the [`Encoder`](crate::Encoder) does (fill, palette, raw or
/// predicted per rectangle, then one entropy stage over them all), keeping its buffers and entropy
/// context from one call to the next as the encoder does between frames. Exposed for benchmarks and
/// experiments; the encoder is what sends pixels.
///
/// ```
/// use glimpse::internals::TileCoder;
/// use glimpse::{Entropy, Frame, PixelFormat, Rect};
///
/// let pixels = vec![255u8; 64 * 64 * 4];
/// let frame = Frame::new(&pixels, 64, 64, 64 * 4, PixelFormat::Bgra8)?;
/// let mut coder = TileCoder::new(Entropy::default());
/// let payload = coder.encode(&frame, &[Rect::new(0, 0, 64, 64)])?;
/// assert!(payload.len() < 16); // one colour: a fill, no pixels
/// # Ok::<(), glimpse::Error>(())
/// ```
pub struct TileCoder {
    entropy: Entropy,
    scratch: Scratch,
    staging: Vec<u8>,
    out: Vec<u8>,
}

impl TileCoder {
    /// A coder whose payloads go through `entropy`.
    pub fn new(entropy: Entropy) -> Self {
        TileCoder {
            entropy,
            scratch: Scratch::default(),
            staging: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Codes `rects` (each at most 256x256, inside the frame) of `frame` and returns the compressed
    /// payload, valid until the next call.
    pub fn encode(&mut self, frame: &crate::Frame<'_>, rects: &[Rect]) -> Result<&[u8]> {
        for rect in rects {
            rect.check_inside(frame.width(), frame.height())?;
            let side = rect.width.max(rect.height);
            Error::check_limit("side of a coded rectangle", side.into(), 256)?;
        }
        let src = if frame.format() == crate::PixelFormat::Bgra8 {
            SourceRows {
                data: frame.data(),
                stride: frame.stride(),
                width: frame.width(),
                height: frame.height(),
            }
        } else {
            self.staging.clear();
            for y in 0..frame.height() {
                self.staging.extend_from_slice(frame.row(y));
            }
            crate::frame::swap_red_blue(&mut self.staging);
            SourceRows {
                data: &self.staging,
                stride: frame.width() as usize * 4,
                width: frame.width(),
                height: frame.height(),
            }
        };
        let strategy = Strategy::for_entropy(self.entropy);
        let mut payload = std::mem::take(&mut self.scratch.payload);
        payload.clear();
        for rect in rects {
            encode_rect(&src, rect, &mut payload, &mut self.scratch, strategy);
        }
        self.out.clear();
        self.scratch
            .compressor
            .compress(self.entropy, &payload, &mut self.out);
        self.scratch.payload = payload;
        Ok(&self.out)
    }
}

/// Codes `rects` of `frame` with a one-off [`TileCoder`] and returns the compressed payload.
pub fn encode_rects(frame: &crate::Frame<'_>, rects: &[Rect], entropy: Entropy) -> Result<Vec<u8>> {
    Ok(TileCoder::new(entropy).encode(frame, rects)?.to_vec())
}

/// Pseudo-random bytes from `seed`: payloads no entropy stage can shrink (the codec tests' input).
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) fn noise(seed: u32, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::PackedImage;

    fn roundtrip(img: &PackedImage, rect: Rect) -> Coded {
        let zstd_like = Strategy {
            max_palette: 16,
            predict: false,
            lines: true,
        };
        let src = SourceRows::from_image(img);
        let mut out = Vec::new();
        if let Coded::Tile(mode) =
            encode_rect(&src, &rect, &mut out, &mut Scratch::default(), zstd_like)
        {
            let mut got = vec![0u8; rect.area() as usize * 4];
            decode_rect(mode, rect.width, rect.height, &mut &out[..], &mut got).unwrap();
            let expect: Vec<u8> = (rect.y..rect.bottom())
                .flat_map(|y| img.span(&rect, y).to_vec())
                .collect();
            assert_eq!(got, expect, "{mode:?}");
        }
        let src = SourceRows::from_image(img);
        let mut out = Vec::new();
        let mut scratch = Scratch::default();
        let coded = encode_rect(
            &src,
            &rect,
            &mut out,
            &mut scratch,
            Strategy {
                max_palette: 256,
                predict: true,
                lines: false,
            },
        );
        let mut expect = Vec::new();
        for y in rect.y..rect.bottom() {
            expect.extend_from_slice(img.span(&rect, y));
        }
        match coded {
            Coded::Fill(c) => assert!(expect.chunks_exact(4).all(|p| p == c.to_le_bytes())),
            Coded::Tile(mode) => {
                let mut data = &out[..];
                let mut got = vec![0u8; expect.len()];
                decode_rect(mode, rect.width, rect.height, &mut data, &mut got).unwrap();
                assert!(data.is_empty(), "decoder left {} bytes", data.len());
                assert_eq!(got, expect);
                // Every truncation is an error, never a panic.
                for cut in 0..out.len() {
                    let mut short = &out[..cut];
                    assert!(
                        decode_rect(mode, rect.width, rect.height, &mut short, &mut got).is_err()
                    );
                }
            }
        }
        coded
    }

    fn image(width: u32, height: u32, f: impl Fn(u32, u32) -> u32) -> PackedImage {
        let mut img = PackedImage::new(width, height, 0);
        for y in 0..height {
            for x in 0..width {
                let i = (y * width + x) as usize * 4;
                img.pixels[i..i + 4].copy_from_slice(&f(x, y).to_le_bytes());
            }
        }
        img
    }

    #[test]
    fn picks_fill_palette_and_predicted() {
        let solid = image(64, 64, |_, _| 0xff10_2030);
        assert_eq!(
            roundtrip(&solid, Rect::new(3, 5, 17, 9)),
            Coded::Fill(0xff10_2030)
        );
        for colors in [2u32, 3, 4, 5, 16, 17, 200, 256] {
            let img = image(64, 64, |x, y| {
                0xff00_0000 | (((x * 7 + y * 13) % colors) * 0x010101)
            });
            assert_eq!(
                roundtrip(&img, Rect::new(0, 0, 64, 64)),
                Coded::Tile(TileMode::Palette),
                "{colors}"
            );
            roundtrip(&img, Rect::new(1, 2, 3, 61));
        }
        let photo = image(64, 64, |x, y| {
            0xff00_0000 | (x * 4) | (y * 4) << 8 | ((x ^ y) * 3) << 16
        });
        assert_eq!(
            roundtrip(&photo, Rect::new(0, 0, 64, 64)),
            Coded::Tile(TileMode::Predicted)
        );
        let translucent = image(64, 64, |x, y| (x * 4) << 24 | (y * 4) << 8 | x);
        assert_eq!(
            roundtrip(&translucent, Rect::new(0, 0, 64, 64)),
            Coded::Tile(TileMode::PredictedAlpha)
        );
        let two_alpha = image(
            64,
            64,
            |x, _| if x % 2 == 0 { 0x0000_0000 } else { 0x80ff_ffff },
        );
        assert_eq!(
            roundtrip(&two_alpha, Rect::new(0, 0, 64, 64)),
            Coded::Tile(TileMode::PaletteAlpha)
        );
        assert_eq!(
            roundtrip(&photo, Rect::new(63, 63, 1, 1)),
            Coded::Fill(photo_pixel(63, 63))
        );
    }

    fn photo_pixel(x: u32, y: u32) -> u32 {
        0xff00_0000 | (x * 4) | (y * 4) << 8 | ((x ^ y) * 3) << 16
    }
}
