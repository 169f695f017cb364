//! Geometry of video regions: boxes of candidate tiles, the pixels a region covers, and what is left
//! of a changed rectangle around one.

use crate::damage::DirtyTile;
use crate::frame::{Rect, SourceRows};
use crate::tiles::TileGrid;

/// A box of tiles: columns `c0..c1`, rows `r0..r1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TileBox {
    pub c0: u32,
    pub r0: u32,
    pub c1: u32,
    pub r1: u32,
}

impl TileBox {
    pub fn contains(&self, grid: &TileGrid, index: u32) -> bool {
        let (c, r) = (index % grid.cols(), index / grid.cols());
        c >= self.c0 && c < self.c1 && r >= self.r0 && r < self.r1
    }

    /// The box grown by one tile each way (within the grid).
    pub fn ring(&self, grid: &TileGrid) -> TileBox {
        TileBox {
            c0: self.c0.saturating_sub(1),
            r0: self.r0.saturating_sub(1),
            c1: (self.c1 + 1).min(grid.cols()),
            r1: (self.r1 + 1).min(grid.rows()),
        }
    }
}

/// Per tile, what changed this frame outside the regions.
pub(super) struct TileChanges {
    /// Changed pixels (the area of the tile's changed rectangles).
    pub area: Vec<u64>,
    /// Bounding box of the tile's changed rectangles.
    pub bbox: Vec<Option<Rect>>,
}

impl TileChanges {
    pub fn of(grid: &TileGrid, dirty: &[DirtyTile]) -> Self {
        let mut changes = TileChanges {
            area: vec![0; grid.len() as usize],
            bbox: vec![None; grid.len() as usize],
        };
        for d in dirty {
            let t = d.index as usize;
            changes.area[t] += d.rect.area();
            changes.bbox[t] = Some(changes.bbox[t].map_or(d.rect, |b| b.union(&d.rect)));
        }
        changes
    }
}

/// True when `a` and `b` overlap or share an edge.
pub(super) fn touching(a: &Rect, b: &Rect) -> bool {
    a.x <= b.right() && b.x <= a.right() && a.y <= b.bottom() && b.y <= a.bottom()
}

/// The pixels a region found as `tiles` covers: the changed pixels of those tiles, plus changes in
/// the tiles around that touch them.
pub(super) fn geometry(grid: &TileGrid, tiles: &TileBox, changes: &TileChanges) -> Option<Rect> {
    let ring = tiles.ring(grid);
    let mut rect: Option<Rect> = None;
    for t in (0..grid.len()).filter(|&t| tiles.contains(grid, t)) {
        if let Some(b) = changes.bbox[t as usize] {
            rect = Some(rect.map_or(b, |r| r.union(&b)));
        }
    }
    let core = rect?;
    let mut rect = core;
    for t in (0..grid.len()).filter(|&t| ring.contains(grid, t) && !tiles.contains(grid, t)) {
        if let Some(b) = changes.bbox[t as usize].filter(|b| touching(b, &core)) {
            rect = rect.union(&b);
        }
    }
    Some(rect)
}

/// The whole screen when `rect` plus one-colour strips up to the screen's edges covers it (a film
/// played full screen with its letterbox or pillarbox bars), else `rect`: a one-colour desktop around a
/// window is no bar.
pub(super) fn widen_over_bars(src: &SourceRows<'_>, rect: Rect, screen: &Rect) -> Rect {
    let solid = |strip: Rect| strip.is_empty() || crate::tiles::solid_color(src, &strip).is_some();
    let mut r = rect;
    // Left and right over the rect's rows, then top and bottom over the widened columns.
    if solid(Rect::new(0, r.y, r.x, r.height)) {
        r = Rect::new(0, r.y, r.right(), r.height);
    }
    if solid(Rect::new(
        r.right(),
        r.y,
        screen.right() - r.right(),
        r.height,
    )) {
        r = Rect::new(r.x, r.y, screen.right() - r.x, r.height);
    }
    if solid(Rect::new(r.x, 0, r.width, r.y)) {
        r = Rect::new(r.x, 0, r.width, r.bottom());
    }
    if solid(Rect::new(
        r.x,
        r.bottom(),
        r.width,
        screen.bottom() - r.bottom(),
    )) {
        r = Rect::new(r.x, r.y, r.width, screen.bottom() - r.y);
    }
    if r == *screen {
        r
    } else {
        rect
    }
}

/// `a` minus `b`: up to four rectangles (above, below, left, right of `b`).
pub(super) fn subtract(a: &Rect, b: &Rect) -> Vec<Rect> {
    let Some(i) = a.intersect(b) else {
        return vec![*a];
    };
    let mut out = Vec::with_capacity(2);
    if i.y > a.y {
        out.push(Rect::new(a.x, a.y, a.width, i.y - a.y));
    }
    if i.bottom() < a.bottom() {
        out.push(Rect::new(a.x, i.bottom(), a.width, a.bottom() - i.bottom()));
    }
    if i.x > a.x {
        out.push(Rect::new(a.x, i.y, i.x - a.x, i.height));
    }
    if i.right() < a.right() {
        out.push(Rect::new(i.right(), i.y, a.right() - i.right(), i.height));
    }
    out
}

/// Bounding boxes of 4-connected candidate tiles that cover at least 2x2 tiles, half of the box or
/// more, with their tile counts.
pub(super) fn components(grid: &TileGrid, candidate: &[bool]) -> Vec<(TileBox, u32)> {
    let mut seen = vec![false; candidate.len()];
    let mut out = Vec::new();
    let cols = grid.cols();
    for start in 0..grid.len() {
        if !candidate[start as usize] || seen[start as usize] {
            continue;
        }
        let mut stack = vec![start];
        seen[start as usize] = true;
        let mut count = 0u32;
        let mut b = TileBox {
            c0: u32::MAX,
            r0: u32::MAX,
            c1: 0,
            r1: 0,
        };
        while let Some(t) = stack.pop() {
            count += 1;
            let (c, r) = (t % cols, t / cols);
            b = TileBox {
                c0: b.c0.min(c),
                r0: b.r0.min(r),
                c1: b.c1.max(c + 1),
                r1: b.r1.max(r + 1),
            };
            let mut push = |n: u32| {
                if candidate[n as usize] && !seen[n as usize] {
                    seen[n as usize] = true;
                    stack.push(n);
                }
            };
            if c > 0 {
                push(t - 1);
            }
            if c + 1 < cols {
                push(t + 1);
            }
            if r > 0 {
                push(t - cols);
            }
            if r + 1 < grid.rows() {
                push(t + cols);
            }
        }
        let area = (b.c1 - b.c0) * (b.r1 - b.r0);
        if b.c1 - b.c0 >= 2 && b.r1 - b.r0 >= 2 && count * 2 >= area {
            out.push((b, count));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtract_leaves_what_is_outside() {
        let a = Rect::new(10, 10, 50, 40);
        assert_eq!(subtract(&a, &Rect::new(100, 100, 5, 5)), vec![a]);
        assert!(subtract(&a, &Rect::new(0, 0, 100, 100)).is_empty());
        // A corner: an L of two pieces.
        let corner = subtract(&a, &Rect::new(30, 30, 100, 100));
        assert_eq!(
            corner,
            vec![Rect::new(10, 10, 50, 20), Rect::new(10, 30, 20, 20)]
        );
        // A hole in the middle: four pieces that tile the rest exactly.
        let hole = Rect::new(20, 20, 10, 10);
        let pieces = subtract(&a, &hole);
        assert_eq!(pieces.len(), 4);
        assert_eq!(
            pieces.iter().map(Rect::area).sum::<u64>(),
            a.area() - hole.area()
        );
        assert!(pieces
            .iter()
            .all(|p| p.intersect(&hole).is_none() && a.contains(p)));
    }
}
