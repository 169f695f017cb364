//! Coding a rectangle with the glyph cache: shapes seen before are drawn from the cache (their pixels
//! become background in what is coded), new shapes are stored by both sides after it.

use crate::codec::{self, Coded, Scratch, Strategy, TileMode};
use crate::frame::{Rect, SourceRows};
use crate::protocol::TileGlyphs;
use crate::tiles::glyphs::{shapes, words, EncoderGlyphs};
use crate::tiles::TileKey;
use crate::wire::put_varint;

/// Smallest rectangle worth looking for shapes in.
const MIN_PIXELS: u64 = 256;

/// Working memory kept between rectangles.
#[derive(Default)]
pub(super) struct GlyphScratch {
    words: Vec<u32>,
    bytes: Vec<u8>,
}

/// Codes `rect` of `src` into `payload` using and feeding the glyph cache. `None` (nothing written)
/// when the rectangle has no shapes: the caller codes it the usual way.
pub(super) fn encode(
    src: &SourceRows<'_>,
    rect: &Rect,
    glyphs: &mut EncoderGlyphs,
    payload: &mut Vec<u8>,
    scratch: &mut Scratch,
    strategy: Strategy,
    work: &mut GlyphScratch,
) -> Option<(TileMode, TileGlyphs)> {
    if rect.area() < MIN_PIXELS {
        return None;
    }
    words(src, rect, &mut work.words);
    let (background, found) = shapes(&work.words, rect.width, rect.height)?;
    if found.is_empty() {
        return None;
    }
    let absolute = |r: &Rect| Rect::new(rect.x + r.x, rect.y + r.y, r.width, r.height);
    let mut refs = Vec::new();
    let mut misses = Vec::new();
    for shape in &found {
        let key = TileKey::of(src, &absolute(shape));
        match glyphs.lookup(&key) {
            Some(back) => refs.push((*shape, back)),
            None => misses.push((*shape, key)),
        }
    }
    // Decoders store the shapes no reference drew, telling them apart by rectangle: a shape with
    // the rectangle of a drawn one (two shapes in one box, rare) is stored by neither side.
    let stores: Vec<TileKey> = misses
        .into_iter()
        .filter(|(shape, _)| !refs.iter().any(|(drawn, _)| drawn == shape))
        .map(|(_, key)| key)
        .collect();
    let flags = TileGlyphs {
        refs: !refs.is_empty(),
        store: !stores.is_empty(),
    };
    let mode = if refs.is_empty() {
        match codec::encode_rect(src, rect, payload, scratch, strategy) {
            Coded::Tile(mode) => mode,
            // Shapes differ from the background: never one colour.
            Coded::Fill(color) => codec::write_solid(color, rect.area(), payload),
        }
    } else {
        put_varint(payload, refs.len() as u64);
        for (shape, back) in &refs {
            payload.extend_from_slice(&[shape.x as u8, shape.y as u8]);
            put_varint(payload, *back);
        }
        // What the references draw is background in the coded pixels.
        let width = rect.width as usize;
        for (shape, _) in &refs {
            for y in shape.y..shape.bottom() {
                let row = y as usize * width;
                work.words[row + shape.x as usize..row + shape.right() as usize].fill(background);
            }
        }
        work.bytes.clear();
        work.bytes
            .extend(work.words.iter().flat_map(|w| w.to_le_bytes()));
        let rows = SourceRows {
            data: &work.bytes,
            stride: width * 4,
            width: rect.width,
            height: rect.height,
        };
        let whole = Rect::new(0, 0, rect.width, rect.height);
        match codec::encode_rect(&rows, &whole, payload, scratch, strategy) {
            Coded::Tile(mode) => mode,
            Coded::Fill(color) => codec::write_solid(color, rect.area(), payload),
        }
    };
    // Both sides add the new shapes in the same order once the rectangle is drawn.
    for key in stores {
        glyphs.store(key);
    }
    Some((mode, flags))
}
