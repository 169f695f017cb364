//! Recolouring: a rectangle whose new pixels are a function of its old ones (syntax highlighting that
//! changes, a selection, a hover or focus colour) is sent as the colour pairs that changed.

/// A hash map keyed by colours (see [`crate::fast_hash`]).
pub(crate) type HashMap<K, V> = crate::fast_hash::FastMap<K, V>;

use crate::error::{Error, Result};
use crate::frame::{PackedImage, Rect, SourceRows};

/// Most colour pairs a recolouring may list (identity pairs included while checking).
pub(crate) const MAX_PAIRS: usize = 256;

const SLOTS: usize = 1024;

/// The colours that changed if `cur` is `prev` with some colours replaced consistently over `rect`,
/// with at most [`MAX_PAIRS`] distinct old colours. `None` when some old colour became two new ones,
/// or nothing changed.
pub(crate) fn find(
    prev: &PackedImage,
    cur: &SourceRows<'_>,
    rect: &Rect,
) -> Option<Vec<(u32, u32)>> {
    // Open addressing over old colours; `order` keeps first-seen order for a deterministic output.
    let mut keys = [0u32; SLOTS];
    let mut values = [0u32; SLOTS];
    let mut used = [false; SLOTS];
    let mut order: Vec<u32> = Vec::with_capacity(64);
    let mut last: Option<(u32, u32)> = None;
    for y in rect.y..rect.bottom() {
        for (p, c) in prev
            .span(rect, y)
            .chunks_exact(4)
            .zip(cur.span(rect, y).chunks_exact(4))
        {
            let from = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
            let to = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            if let Some((f, t)) = last {
                if f == from {
                    if t != to {
                        return None;
                    }
                    continue;
                }
            }
            let mut slot = (from.wrapping_mul(0x9E37_79B1) >> 22) as usize;
            loop {
                if !used[slot] {
                    if order.len() == MAX_PAIRS {
                        return None;
                    }
                    used[slot] = true;
                    keys[slot] = from;
                    values[slot] = to;
                    order.push(slot as u32);
                    break;
                }
                if keys[slot] == from {
                    if values[slot] != to {
                        return None;
                    }
                    break;
                }
                slot = (slot + 1) & (SLOTS - 1);
            }
            last = Some((from, to));
        }
    }
    let pairs: Vec<(u32, u32)> = order
        .iter()
        .map(|&s| (keys[s as usize], values[s as usize]))
        .filter(|(f, t)| f != t)
        .collect();
    (!pairs.is_empty()).then_some(pairs)
}

/// Most pairs a shared colour map may hold.
pub(crate) const MAX_SHARED_PAIRS: usize = 4096;

/// Most exception rectangles a tile recoloured by a shared map may have.
const MAX_EXCEPTIONS: usize = 12;

/// Column gap (pixels) below which exception runs on the same rows are merged.
const MERGE_GAP: usize = 8;

/// True when `cur` keeps the shapes of `prev` over `rect`: where two neighbours in a row had the same
/// colour they still do, but for at most one pixel in `tolerance`. A recolouring keeps them (but in its
/// exceptions); new content (scrolled text, another window) breaks them everywhere. One pass, no
/// hashing: the cheap test before [`count_pairs`].
pub(crate) fn keeps_shapes(
    prev: &PackedImage,
    cur: &SourceRows<'_>,
    rect: &Rect,
    tolerance: u64,
) -> bool {
    let mut breaks = 0u64;
    for y in rect.y..rect.bottom() {
        let (p, c) = (prev.span(rect, y), cur.span(rect, y));
        for (pw, cw) in p.windows(8).step_by(4).zip(c.windows(8).step_by(4)) {
            breaks += u64::from(pw[..4] == pw[4..] && cw[..4] != cw[4..]);
        }
    }
    breaks * tolerance <= rect.area()
}

/// How often each (old, new) colour pair occurs in `rect`, added to `counts`; false (and `counts`
/// left as it was) when the rectangle has more than `limit` distinct pairs: new content rather than
/// recoloured content.
pub(crate) fn count_pairs(
    prev: &PackedImage,
    cur: &SourceRows<'_>,
    rect: &Rect,
    limit: usize,
    counts: &mut HashMap<(u32, u32), u64>,
) -> bool {
    let mut local: HashMap<(u32, u32), u64> = HashMap::default();
    for y in rect.y..rect.bottom() {
        let mut run: Option<((u32, u32), u64)> = None;
        for (p, c) in prev
            .span(rect, y)
            .chunks_exact(4)
            .zip(cur.span(rect, y).chunks_exact(4))
        {
            let pair = (pixel(p), pixel(c));
            match &mut run {
                Some((last, n)) if *last == pair => *n += 1,
                _ => {
                    if let Some((last, n)) = run.replace((pair, 1)) {
                        *local.entry(last).or_insert(0) += n;
                        if local.len() > limit {
                            return false;
                        }
                    }
                }
            }
        }
        if let Some((last, n)) = run {
            *local.entry(last).or_insert(0) += n;
        }
    }
    if local.len() > limit {
        return false;
    }
    for (pair, n) in local {
        *counts.entry(pair).or_insert(0) += n;
    }
    true
}

fn pixel(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().expect("4 bytes"))
}

/// One colour map for many rectangles of an update (syntax highlighting that changed over a whole
/// file: each shade of the old colour becomes a shade of the new one).
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedMap {
    /// The colours that change, sorted by old colour.
    pub pairs: Vec<(u32, u32)>,
    lookup: HashMap<u32, u32>,
}

impl SharedMap {
    /// Each old colour's most frequent new colour (ties: the smaller); `None` when nothing changes
    /// or the map would exceed [`MAX_SHARED_PAIRS`].
    pub fn from_counts(counts: &HashMap<(u32, u32), u64>) -> Option<Self> {
        let mut best: HashMap<u32, (u32, u64)> = HashMap::default();
        for (&(from, to), &n) in counts {
            let e = best.entry(from).or_insert((to, n));
            if n > e.1 || (n == e.1 && to < e.0) {
                *e = (to, n);
            }
        }
        let mut pairs: Vec<(u32, u32)> = best
            .iter()
            .filter(|(&f, &(t, _))| f != t)
            .map(|(&f, &(t, _))| (f, t))
            .collect();
        if pairs.is_empty() || pairs.len() > MAX_SHARED_PAIRS {
            return None;
        }
        pairs.sort_unstable();
        let lookup = pairs.iter().copied().collect();
        Some(SharedMap { pairs, lookup })
    }

    fn map(&self, color: u32) -> u32 {
        self.lookup.get(&color).copied().unwrap_or(color)
    }

    /// Rectangles covering the pixels of `rect` that `cur` does not show as `prev` mapped (absolute,
    /// in row order), or `None` when that takes more than a few.
    pub fn exceptions(
        &self,
        prev: &PackedImage,
        cur: &SourceRows<'_>,
        rect: &Rect,
    ) -> Option<Vec<Rect>> {
        if rect.width > 256 {
            return None;
        }
        let width = rect.width as usize;
        let mut out = Vec::new();
        let mut band: Option<(u32, [bool; 256])> = None;
        for y in rect.y..=rect.bottom() {
            let mut wrong = [false; 256];
            let mut any = false;
            if y < rect.bottom() {
                let mut last = (u32::MAX, u32::MAX);
                for (k, (p, c)) in prev
                    .span(rect, y)
                    .chunks_exact(4)
                    .zip(cur.span(rect, y).chunks_exact(4))
                    .enumerate()
                {
                    let from = pixel(p);
                    if from != last.0 {
                        last = (from, self.map(from));
                    }
                    if last.1 != pixel(c) {
                        wrong[k] = true;
                        any = true;
                    }
                }
            }
            match (&mut band, any) {
                (Some((_, columns)), true) => {
                    for (c, w) in columns.iter_mut().zip(wrong) {
                        *c |= w;
                    }
                }
                (None, true) => band = Some((y, wrong)),
                (Some((start, columns)), false) => {
                    column_runs(&columns[..width], |x, w| {
                        out.push(Rect::new(rect.x + x, *start, w, y - *start));
                    });
                    band = None;
                    if out.len() > MAX_EXCEPTIONS {
                        return None;
                    }
                }
                (None, false) => {}
            }
        }
        Some(out)
    }
}

/// Calls `f(x, width)` for each run of set columns, runs closer than [`MERGE_GAP`] merged.
fn column_runs(columns: &[bool], mut f: impl FnMut(u32, u32)) {
    let mut x = 0;
    while x < columns.len() {
        if !columns[x] {
            x += 1;
            continue;
        }
        let mut last = x;
        let mut k = x + 1;
        while k < columns.len() && k <= last + MERGE_GAP {
            if columns[k] {
                last = k;
            }
            k += 1;
        }
        f(x as u32, (last + 1 - x) as u32);
        x = last + 1;
    }
}

/// Appends a shared map: `[alpha u8][count varint][from, to]...`, colours 3 bytes each (4 with
/// alpha).
pub(crate) fn write_shared(map: &SharedMap, out: &mut Vec<u8>) {
    let alpha = !opaque(&map.pairs);
    out.push(u8::from(alpha));
    crate::wire::put_varint(out, map.pairs.len() as u64);
    put_pairs(&map.pairs, !alpha, out);
}

/// Reads what [`write_shared`] wrote.
pub(crate) fn read_shared(data: &mut &[u8]) -> Result<Vec<(u32, u32)>> {
    let mut reader = crate::wire::Reader::new(data);
    let alpha = match reader.u8("shared colour map flags")? {
        0 => false,
        1 => true,
        _ => return Err(Error::Malformed("unknown shared colour map flags")),
    };
    let count = reader.varint_usize("shared colour map size", MAX_SHARED_PAIRS)?;
    let raw = reader.bytes(count * 2 * color_bytes(alpha), "shared colour map")?;
    *data = reader.rest();
    Ok(parse_pairs(raw, alpha))
}

/// True when every colour of `pairs` is opaque (3 bytes each on the wire).
pub(crate) fn opaque(pairs: &[(u32, u32)]) -> bool {
    pairs
        .iter()
        .all(|&(f, t)| f >> 24 == 0xff && t >> 24 == 0xff)
}

/// Appends `[count - 1][from, to]...`, colours 3 or 4 bytes each.
pub(crate) fn write(pairs: &[(u32, u32)], opaque: bool, out: &mut Vec<u8>) {
    out.push((pairs.len() - 1) as u8);
    put_pairs(pairs, opaque, out);
}

fn color_bytes(alpha: bool) -> usize {
    if alpha {
        4
    } else {
        3
    }
}

/// Appends each pair's colours, 3 bytes each when `opaque`, else 4.
fn put_pairs(pairs: &[(u32, u32)], opaque: bool, out: &mut Vec<u8>) {
    let n = color_bytes(!opaque);
    for &(f, t) in pairs {
        out.extend_from_slice(&f.to_le_bytes()[..n]);
        out.extend_from_slice(&t.to_le_bytes()[..n]);
    }
}

/// The pairs [`put_pairs`] wrote into `raw` (whole pairs only).
fn parse_pairs(raw: &[u8], alpha: bool) -> Vec<(u32, u32)> {
    let n = color_bytes(alpha);
    let color = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], if alpha { b[3] } else { 0xff }]);
    raw.chunks_exact(2 * n)
        .map(|p| (color(&p[..n]), color(&p[n..])))
        .collect()
}

/// Reads what [`write`] wrote.
pub(crate) fn read(data: &mut &[u8], alpha: bool) -> Result<Vec<(u32, u32)>> {
    let (&count, rest) = data
        .split_first()
        .ok_or(Error::Truncated("recolour size"))?;
    let count = usize::from(count) + 1;
    if count > MAX_PAIRS {
        return Err(Error::Malformed("recolour with too many pairs"));
    }
    let (raw, rest) = rest
        .split_at_checked(count * 2 * color_bytes(alpha))
        .ok_or(Error::Truncated("recolour pairs"))?;
    *data = rest;
    Ok(parse_pairs(raw, alpha))
}

/// Replaces the listed colours in `pixels` (packed 32-bit pixels in the framebuffer's byte order).
pub(crate) fn apply(pixels: &mut [u8], pairs: &[(u32, u32)]) {
    let mut sorted = pairs.to_vec();
    sorted.sort_unstable_by_key(|p| p.0);
    let mut last: Option<(u32, Option<u32>)> = None;
    for px in pixels.chunks_exact_mut(4) {
        let v = u32::from_le_bytes([px[0], px[1], px[2], px[3]]);
        let to = match last {
            Some((f, t)) if f == v => t,
            _ => sorted
                .binary_search_by_key(&v, |p| p.0)
                .ok()
                .map(|i| sorted[i].1),
        };
        last = Some((v, to));
        if let Some(t) = to {
            px.copy_from_slice(&t.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, f: impl Fn(u32, u32) -> u32) -> PackedImage {
        let mut img = PackedImage::new(width, height, 0);
        for (i, px) in img.pixels.chunks_exact_mut(4).enumerate() {
            px.copy_from_slice(&f(i as u32 % width, i as u32 / width).to_le_bytes());
        }
        img
    }

    #[test]
    fn finds_consistent_recolourings_only() {
        let glyphs = |x: u32, y: u32| {
            [0xffff_ffff, 0xff00_0000, 0xff80_8080][((x * 7 + y * 3) % 5 % 3) as usize]
        };
        let prev = image(64, 64, glyphs);
        // Black text turns magenta, grey anti-aliasing turns pink, white stays.
        let recoloured = image(64, 64, |x, y| match glyphs(x, y) {
            0xff00_0000 => 0xffc0_00c0,
            0xff80_8080 => 0xffe0_80e0,
            other => other,
        });
        let rect = Rect::new(3, 5, 50, 40);
        let pairs = find(&prev, &SourceRows::from_image(&recoloured), &rect).unwrap();
        assert_eq!(pairs.len(), 2);
        let mut out = Vec::new();
        write(&pairs, opaque(&pairs), &mut out);
        let mut data = &out[..];
        let read_back = read(&mut data, false).unwrap();
        assert!(data.is_empty());
        let mut applied = prev.clone();
        for y in rect.y..rect.bottom() {
            apply(applied.span_mut(&rect, y), &read_back);
        }
        for y in rect.y..rect.bottom() {
            assert_eq!(applied.span(&rect, y), recoloured.span(&rect, y));
        }
        // One old colour becoming two new ones is not a recolouring; nor is no change.
        let mut split = recoloured.clone();
        split.span_mut(&rect, rect.y)[..4].copy_from_slice(&0xff12_3456u32.to_le_bytes());
        let first_old = u32::from_le_bytes(prev.span(&rect, rect.y)[..4].try_into().unwrap());
        assert!(
            prev.pixels
                .chunks_exact(4)
                .filter(|p| p == &first_old.to_le_bytes())
                .count()
                > 1
        );
        assert_eq!(find(&prev, &SourceRows::from_image(&split), &rect), None);
        assert_eq!(find(&prev, &SourceRows::from_image(&prev), &rect), None);
        for cut in 0..out.len() {
            assert!(read(&mut &out[..cut], false).is_err());
        }
    }
}
