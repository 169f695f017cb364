//! Palette coding for rectangles of at most 256 colours.

use crate::error::{Error, Result};
use crate::frame::{Rect, SourceRows};

const TABLE_SLOTS: usize = 1024;

/// A small open-addressing colour table; a generation stamp avoids clearing it between tiles.
pub(crate) struct ColorTable {
    keys: Vec<u32>,
    values: Vec<u8>,
    stamps: Vec<u32>,
    generation: u32,
    /// Colours in order of first appearance.
    pub colors: Vec<u32>,
}

impl Default for ColorTable {
    fn default() -> Self {
        ColorTable {
            keys: vec![0; TABLE_SLOTS],
            values: vec![0; TABLE_SLOTS],
            stamps: vec![0; TABLE_SLOTS],
            generation: 0,
            colors: Vec::with_capacity(256),
        }
    }
}

impl ColorTable {
    fn reset(&mut self) {
        self.colors.clear();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamps.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
    }

    /// The index of `color`, adding it if new; `None` when a new colour would exceed `limit` (<= 256).
    #[inline]
    fn index_of(&mut self, color: u32, limit: usize) -> Option<u8> {
        let mut slot = (color.wrapping_mul(0x9E37_79B1) >> 22) as usize;
        loop {
            if self.stamps[slot] != self.generation {
                if self.colors.len() >= limit {
                    return None;
                }
                let index = self.colors.len() as u8;
                self.stamps[slot] = self.generation;
                self.keys[slot] = color;
                self.values[slot] = index;
                self.colors.push(color);
                return Some(index);
            }
            if self.keys[slot] == color {
                return Some(self.values[slot]);
            }
            slot = (slot + 1) & (TABLE_SLOTS - 1);
        }
    }
}

pub(crate) enum Analysis {
    Solid(u32),
    Palette {
        opaque: bool,
    },
    /// More than `max_colors`; `photo` when more than 256.
    TooManyColors {
        photo: bool,
    },
}

/// Counts colours of `rect`, filling `table` and one index per pixel into `indices`.
/// `max_colors` (at most 256) bounds the palette: more colours give `TooManyColors`, which tells
/// whether there are over 256 (`photo`) only when `tell_photos`.
pub(crate) fn analyse(
    src: &SourceRows<'_>,
    rect: &Rect,
    table: &mut ColorTable,
    indices: &mut Vec<u8>,
    max_colors: usize,
    tell_photos: bool,
) -> Analysis {
    // Without the photo split, counting can stop at the first colour past the palette.
    let stop_after = if tell_photos { 256 } else { max_colors };
    table.reset();
    let width = rect.width as usize;
    indices.resize(rect.area() as usize, 0);
    let mut alpha = 0xffu8;
    let mut last_color = src.pixel(rect.x, rect.y) ^ 1;
    let mut last_index = 0u8;
    for (y, row_indices) in (rect.y..rect.bottom()).zip(indices.chunks_exact_mut(width)) {
        for (px, index) in src.span(rect, y).chunks_exact(4).zip(row_indices) {
            let color = u32::from_le_bytes(px.try_into().expect("4 bytes"));
            if color != last_color {
                alpha &= px[3];
                match table.index_of(color, stop_after) {
                    Some(i) => last_index = i,
                    None => {
                        return Analysis::TooManyColors {
                            photo: tell_photos && table.colors.len() == 256,
                        }
                    }
                }
                last_color = color;
            }
            *index = last_index;
        }
    }
    let opaque = alpha == 0xff;
    match table.colors.len() {
        1 => Analysis::Solid(table.colors[0]),
        n if n > max_colors => Analysis::TooManyColors { photo: false },
        _ => Analysis::Palette { opaque },
    }
}

/// True when every pixel of `rect` is opaque.
pub(crate) fn is_opaque(src: &SourceRows<'_>, rect: &Rect) -> bool {
    (rect.y..rect.bottom()).all(|y| {
        src.span(rect, y)
            .chunks_exact(4)
            .fold(0xffu8, |alpha, px| alpha & px[3])
            == 0xff
    })
}

fn bits_for(colors: usize) -> u32 {
    match colors {
        0..=2 => 1,
        3..=4 => 2,
        5..=16 => 4,
        _ => 8,
    }
}

/// Appends `[count - 1][colours: 3 or 4 bytes each][indices packed MSB first]`.
pub(crate) fn write(table: &ColorTable, indices: &[u8], opaque: bool, out: &mut Vec<u8>) {
    out.push((table.colors.len() - 1) as u8);
    for &c in &table.colors {
        let b = c.to_le_bytes();
        out.extend_from_slice(if opaque { &b[..3] } else { &b[..] });
    }
    let bits = bits_for(table.colors.len());
    if bits == 8 {
        out.extend_from_slice(indices);
        return;
    }
    let per_byte = (8 / bits) as usize;
    for chunk in indices.chunks(per_byte) {
        let mut byte = 0u8;
        for (k, &i) in chunk.iter().enumerate() {
            byte |= i << (8 - bits as usize * (k + 1));
        }
        out.push(byte);
    }
}

/// Reads what [`write`] wrote into `out` (canonical BGRA pixels).
pub(crate) fn read(data: &mut &[u8], alpha: bool, out: &mut [u8]) -> Result<()> {
    let (&count_minus_one, rest) = data.split_first().ok_or(Error::Truncated("palette size"))?;
    let count = count_minus_one as usize + 1;
    let color_bytes = if alpha { 4 } else { 3 };
    let (raw_colors, rest) = rest
        .split_at_checked(count * color_bytes)
        .ok_or(Error::Truncated("palette colours"))?;
    let mut colors = [[0u8; 4]; 256];
    for (c, raw) in colors.iter_mut().zip(raw_colors.chunks_exact(color_bytes)) {
        c[..color_bytes].copy_from_slice(raw);
        if !alpha {
            c[3] = 255;
        }
    }
    let pixels = out.len() / 4;
    let bits = bits_for(count) as usize;
    let per_byte = 8 / bits;
    let index_bytes = pixels.div_ceil(per_byte);
    let (packed, rest) = rest
        .split_at_checked(index_bytes)
        .ok_or(Error::Truncated("palette indices"))?;
    let mask = ((1u16 << bits) - 1) as u8;
    let mut invalid = false;
    for (p, px) in out.chunks_exact_mut(4).enumerate() {
        let byte = packed[p / per_byte];
        let shift = 8 - bits * (p % per_byte + 1);
        let index = ((byte >> shift) & mask) as usize;
        invalid |= index >= count;
        px.copy_from_slice(&colors[index]);
    }
    if invalid {
        return Err(Error::Malformed("palette index beyond palette"));
    }
    *data = rest;
    Ok(())
}
