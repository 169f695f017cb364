//! Scroll and move detection.
//!
//! Content that moved (a scrolled page, a dragged window) is found in two steps:
//! 1. **Votes.** Along every row of the changed area, a rolling hash over 16-pixel windows picks
//!    content-defined anchors (windows whose hash has its top 6 bits clear, skipping flat windows), in
//!    the previous and in the current frame alike. Because anchors depend on content, not position, an
//!    anchor that moved by `(dx, dy)` is picked in both frames; each match of a unique anchor votes for
//!    its displacement.
//! 2. **Rectangles.** For the best-voted displacements, rows are compared at that offset; runs of
//!    matching pixels that line up over consecutive rows become copy rectangles.
//!
//! Both steps are linear in the changed area, so the cost follows what changed, not the screen size.

/// Anchor hashes and displacements: keys the encoder derives itself (see [`crate::fast_hash`]).
type HashMap<K, V> = crate::fast_hash::FastMap<K, V>;

use crate::frame::{PackedImage, Rect, SourceRows};

const WINDOW: usize = 16;
const BASE: u64 = 0x100_0000_01b3;
const MIN_RUN: u32 = 32;
/// A row run this much wider than the open copy rectangle (either side) starts a new one.
const WIDEN: u32 = 64;
const MIN_HEIGHT: u32 = 4;
const MIN_AREA: u64 = 2048;
const MIN_VOTES: u32 = 3;
const MAX_CANDIDATES: usize = 3;

/// A rectangle of the current frame found in the previous frame at `src_x, src_y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Move {
    pub src_x: u32,
    pub src_y: u32,
    pub dst: Rect,
}

/// The current frame's anchors over an area, kept for a second search in the same frame (against
/// the reference image) over an area inside the first.
#[derive(Debug, Default)]
pub(crate) struct CurrentAnchors {
    area: Option<Rect>,
    anchors: Vec<(u64, u32, u32)>,
}

impl CurrentAnchors {
    /// The anchors of `cur` whose windows lie inside `area` (those [`for_each_anchor`] finds there).
    fn inside(
        &mut self,
        cur: &SourceRows<'_>,
        area: &Rect,
    ) -> impl Iterator<Item = &(u64, u32, u32)> {
        if !self.area.is_some_and(|known| known.contains(area)) {
            self.anchors.clear();
            let anchors = &mut self.anchors;
            for_each_anchor(cur, area, |hash, x, y| anchors.push((hash, x, y)));
            self.area = Some(*area);
        }
        let area = *area;
        self.anchors.iter().filter(move |&&(_, x, y)| {
            x >= area.x && x + WINDOW as u32 <= area.right() && y >= area.y && y < area.bottom()
        })
    }
}

/// Finds moved content inside `area` (changed pixels' bounding box) between `prev` and `cur`.
/// Moves come in an order safe to apply one after the other (like `memmove`). `prev` is the previous
/// frame, or with `allow_still` another image (content at the same place is then a match too).
/// `cur_anchors` keeps the current frame's anchors for another search in the same frame.
pub(crate) fn detect_moves(
    prev: &PackedImage,
    cur: &SourceRows<'_>,
    area: &Rect,
    allow_still: bool,
    cur_anchors: &mut CurrentAnchors,
) -> Motion {
    let mut motion = Motion::default();
    if area.width < MIN_RUN || area.height < MIN_HEIGHT || area.area() < MIN_AREA {
        return motion;
    }
    let prev_rows = SourceRows::from_image(prev);
    let mut prev_anchors: HashMap<u64, (u32, u32)> = HashMap::default();
    for_each_anchor(&prev_rows, area, |hash, x, y| {
        prev_anchors
            .entry(hash)
            .and_modify(|p| *p = (u32::MAX, u32::MAX))
            .or_insert((x, y));
    });
    let mut votes: HashMap<(i32, i32), u32> = HashMap::default();
    let mut seen_cur: HashMap<u64, bool> = HashMap::default();
    for &(hash, x, y) in cur_anchors.inside(cur, area) {
        let unique = !seen_cur.contains_key(&hash);
        seen_cur.insert(hash, unique);
        if let Some(&(px, py)) = prev_anchors.get(&hash) {
            if px != u32::MAX && unique {
                let d = (x as i32 - px as i32, y as i32 - py as i32);
                if allow_still || d != (0, 0) {
                    *votes.entry(d).or_insert(0) += 1;
                }
            }
        }
    }
    let mut candidates: Vec<((i32, i32), u32)> =
        votes.into_iter().filter(|&(_, v)| v >= MIN_VOTES).collect();
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    candidates.truncate(MAX_CANDIDATES);

    for ((dx, dy), _) in candidates {
        let mut found = copy_rects(&prev_rows, cur, area, dx, dy);
        // Apply order: read sources before they are overwritten.
        if dy > 0 || (dy == 0 && dx > 0) {
            found.reverse();
        }
        motion.moves.extend(found);
        motion.vectors.push((dx, dy));
    }
    motion
}

/// What [`detect_moves`] found.
#[derive(Debug, Default)]
pub(crate) struct Motion {
    /// Copy rectangles, in a safe order.
    pub moves: Vec<Move>,
    /// The displacements voted for, best first: worth trying on single tiles the rectangles missed.
    pub vectors: Vec<(i32, i32)>,
}

/// True when `rect` of `cur` equals `image` displaced by `(dx, dy)` (source inside the image).
pub(crate) fn rect_matches_displaced(
    image: &PackedImage,
    cur: &SourceRows<'_>,
    rect: &Rect,
    dx: i32,
    dy: i32,
) -> bool {
    let sx = i64::from(rect.x) - i64::from(dx);
    let sy = i64::from(rect.y) - i64::from(dy);
    if sx < 0
        || sy < 0
        || sx + i64::from(rect.width) > i64::from(image.width)
        || sy + i64::from(rect.height) > i64::from(image.height)
    {
        return false;
    }
    let src = Rect::new(sx as u32, sy as u32, rect.width, rect.height);
    (0..rect.height).all(|r| image.span(&src, src.y + r) == cur.span(rect, rect.y + r))
}

/// Calls `f(hash, x, y)` for every anchor window inside `area`.
fn for_each_anchor(rows: &SourceRows<'_>, area: &Rect, mut f: impl FnMut(u64, u32, u32)) {
    let mut base_pow = 1u64;
    for _ in 0..WINDOW {
        base_pow = base_pow.wrapping_mul(BASE);
    }
    let n = area.width as usize;
    if n < WINDOW {
        return;
    }
    let mut px = Vec::with_capacity(n);
    for y in area.y..area.bottom() {
        px.clear();
        px.extend(
            rows.span(area, y)
                .chunks_exact(4)
                .map(|p| u32::from_le_bytes(p.try_into().expect("4 bytes"))),
        );
        let mut hash = 0u64;
        let mut edges = 0u32;
        for i in 0..n {
            hash = hash.wrapping_mul(BASE).wrapping_add(u64::from(px[i]));
            if i > 0 && px[i] != px[i - 1] {
                edges += 1;
            }
            if i >= WINDOW {
                hash = hash.wrapping_sub(base_pow.wrapping_mul(u64::from(px[i - WINDOW])));
                if px[i - WINDOW + 1] != px[i - WINDOW] {
                    edges -= 1;
                }
            }
            if i + 1 >= WINDOW && edges >= 2 {
                let mixed = hash.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                if mixed >> 58 == 0 {
                    f(mixed, area.x + (i + 1 - WINDOW) as u32, y);
                }
            }
        }
    }
}

/// Rectangles of `cur` inside `area` equal to `prev` displaced by `(dx, dy)`, top to bottom.
///
/// Rows are taken one at a time. In a row that changed, the displaced-match run holding the most changed
/// pixels is the row's candidate (blank margins match at any displacement, so the run that explains the
/// change wins, not the widest). Runs that line up over consecutive rows grow one rectangle; unchanged
/// rows only extend a rectangle already open, so a copy never starts in content that did not move.
fn copy_rects(
    prev: &SourceRows<'_>,
    cur: &SourceRows<'_>,
    area: &Rect,
    dx: i32,
    dy: i32,
) -> Vec<Move> {
    // Destination rows/columns whose source lies on screen.
    let x0 = (area.x as i64).max(i64::from(dx)) as u32;
    let x1 = (area.right() as i64).min(i64::from(prev.width) + i64::from(dx)) as u32;
    let y0 = (area.y as i64).max(i64::from(dy)) as u32;
    let y1 = (area.bottom() as i64).min(i64::from(prev.height) + i64::from(dy)) as u32;
    let mut out = Vec::new();
    if x1 <= x0 + MIN_RUN || y1 <= y0 {
        return out;
    }
    let mut open: Option<(u32, u32, u32)> = None; // x0, x1, first row
    let close = |open: &mut Option<(u32, u32, u32)>, end_y: u32, out: &mut Vec<Move>| {
        if let Some((a, b, top)) = open.take() {
            let dst = Rect::new(a, top, b - a, end_y - top);
            if dst.height >= MIN_HEIGHT && dst.area() >= MIN_AREA {
                out.push(Move {
                    src_x: (a as i64 - i64::from(dx)) as u32,
                    src_y: (top as i64 - i64::from(dy)) as u32,
                    dst,
                });
            }
        }
    };
    let sx0 = (x0 as i64 - i64::from(dx)) as usize;
    for y in y0..y1 {
        let sy = (y as i64 - i64::from(dy)) as u32;
        let c = &cur.row(y)[x0 as usize * 4..x1 as usize * 4];
        let p = &prev.row(sy)[sx0 * 4..sx0 * 4 + c.len()];
        let same = &prev.row(y)[x0 as usize * 4..x1 as usize * 4];
        if c == same {
            // Unchanged row: it may only extend an open rectangle, where the displaced pixels match.
            if let Some((oa, ob, _)) = open {
                let (a, b) = ((oa - x0) as usize * 4, (ob - x0) as usize * 4);
                if c[a..b] != p[a..b] {
                    close(&mut open, y, &mut out);
                }
            }
            continue;
        }
        let run = best_run(c, p, same).map(|(a, b)| (x0 + a, x0 + b));
        match (run, open) {
            (Some((a, b)), Some((oa, ob, top))) => {
                let (ia, ib) = (a.max(oa), b.min(ob));
                // A run reaching well past the open rectangle starts a wider one instead of being
                // cut down to it (a narrow first row must not narrow everything below).
                let widens = oa.saturating_sub(a) >= WIDEN || b.saturating_sub(ob) >= WIDEN;
                if !widens && ib > ia && ib - ia >= MIN_RUN.max((ob - oa) * 3 / 4) {
                    open = Some((ia, ib, top));
                } else {
                    close(&mut open, y, &mut out);
                    open = Some((a, b, y));
                }
            }
            (Some((a, b)), None) => open = Some((a, b, y)),
            (None, Some(_)) => close(&mut open, y, &mut out),
            (None, None) => {}
        }
    }
    close(&mut open, y1, &mut out);
    out
}

/// Among the runs where `cur` equals the displaced `src` (at least `MIN_RUN` pixels), the one holding the
/// most pixels that changed (`cur != same`), as pixel offsets `[a, b)`. `None` if no run explains a change.
fn best_run(cur: &[u8], src: &[u8], same: &[u8]) -> Option<(u32, u32)> {
    let mut best: Option<(u32, u32, u32)> = None; // a, b, changed pixels
    let mut start = 0u32;
    let mut changed = 0u32;
    let n = (cur.len() / 4) as u32;
    let finish = |start: u32, end: u32, changed: u32, best: &mut Option<(u32, u32, u32)>| {
        if end - start >= MIN_RUN && changed > 0 && best.is_none_or(|(_, _, c)| c < changed) {
            *best = Some((start, end, changed));
        }
    };
    let word = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
    for (i, ((c, s), o)) in cur
        .chunks_exact(4)
        .zip(src.chunks_exact(4))
        .zip(same.chunks_exact(4))
        .enumerate()
    {
        let px = word(c);
        if px != word(s) {
            finish(start, i as u32, changed, &mut best);
            start = i as u32 + 1;
            changed = 0;
        } else if px != word(o) {
            changed += 1;
        }
    }
    finish(start, n, changed, &mut best);
    best.map(|(a, b, _)| (a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame full of pseudo-random "text": distinct rows so every displacement is unambiguous.
    fn busy(width: u32, height: u32, seed: u32) -> PackedImage {
        let mut img = PackedImage::new(width, height, 0xffff_ffff);
        let mut s = seed | 1;
        for px in img.pixels.chunks_exact_mut(4) {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            if s % 3 == 0 {
                px.copy_from_slice(&(0xff00_0000 | (s & 0x00ff_ffff)).to_le_bytes());
            }
        }
        img
    }

    fn shifted(img: &PackedImage, dx: i32, dy: i32, fresh: &PackedImage) -> PackedImage {
        let mut out = fresh.clone();
        for y in 0..img.height {
            for x in 0..img.width {
                let (sx, sy) = (x as i32 - dx, y as i32 - dy);
                if sx >= 0 && sy >= 0 && (sx as u32) < img.width && (sy as u32) < img.height {
                    let s = (sy as u32 * img.width + sx as u32) as usize * 4;
                    let d = (y * img.width + x) as usize * 4;
                    out.pixels[d..d + 4].copy_from_slice(&img.pixels[s..s + 4]);
                }
            }
        }
        out
    }

    #[test]
    fn finds_vertical_horizontal_and_diagonal_moves() {
        let prev = busy(320, 240, 7);
        let fresh = busy(320, 240, 99);
        for (dx, dy) in [(0, 1), (0, -37), (0, 200), (5, 0), (-60, 0), (23, -41)] {
            let cur = shifted(&prev, dx, dy, &fresh);
            let moves = detect_moves(
                &prev,
                &SourceRows::from_image(&cur),
                &Rect::new(0, 0, 320, 240),
                false,
                &mut CurrentAnchors::default(),
            )
            .moves;
            let best = moves
                .first()
                .unwrap_or_else(|| panic!("no move for {dx},{dy}"));
            assert_eq!(
                (
                    best.dst.x as i32 - best.src_x as i32,
                    best.dst.y as i32 - best.src_y as i32
                ),
                (dx, dy)
            );
            let covered: u64 = moves.iter().map(|m| m.dst.area()).sum();
            let expected = (320 - dx.unsigned_abs()) as u64 * (240 - dy.unsigned_abs()) as u64;
            assert!(
                covered * 10 >= expected * 9,
                "{dx},{dy}: {covered} of {expected}"
            );
        }
    }

    #[test]
    fn no_moves_in_unrelated_content() {
        let prev = busy(256, 128, 1);
        let cur = busy(256, 128, 2);
        assert!(detect_moves(
            &prev,
            &SourceRows::from_image(&cur),
            &Rect::new(0, 0, 256, 128),
            true,
            &mut CurrentAnchors::default(),
        )
        .moves
        .is_empty());
    }
}
