//! Moved content: scrolls and drags found in the screen viewers show (`Copy`), and content that
//! comes back from the reference image saved before a large change (`CopyReference`).

use super::Screen;
use crate::damage::{detect_with, DirtyTile};
use crate::frame::{PackedImage, Rect, SourceRows};
use crate::protocol::Op;
use crate::tiles::motion::{detect_moves, rect_matches_displaced, CurrentAnchors, Move};

/// Where [`apply_motion`] looks for moved content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MoveSource {
    /// The screen as viewers show it now (scrolls, window drags): `Copy` ops.
    Screen,
    /// The reference image saved before an earlier large change: `CopyReference` ops.
    Reference,
}

/// Finds moved content, applies it to the mirror as copies, and re-diffs what the copies touched.
/// Tiles the copy rectangles missed are tried one by one at the voted displacements. Returns the
/// number of copies.
pub(super) fn apply_motion(
    screen: &mut Screen,
    src: &SourceRows<'_>,
    dirty: &mut Vec<DirtyTile>,
    ops: &mut Vec<Op>,
    source: MoveSource,
    cur_anchors: &mut CurrentAnchors,
) -> u64 {
    let area = dirty
        .iter()
        .fold(Rect::default(), |acc, d| acc.union(&d.rect));
    let from_reference = source == MoveSource::Reference;
    let motion = match (from_reference, &screen.reference) {
        (false, _) => detect_moves(&screen.mirror, src, &area, false, cur_anchors),
        (true, Some(reference)) => detect_moves(reference, src, &area, true, cur_anchors),
        (true, None) => return 0,
    };
    if motion.vectors.is_empty() {
        return 0;
    }
    let mut copies = 0;
    let mut copy = |screen: &mut Screen, ops: &mut Vec<Op>, src_x: u32, src_y: u32, dst: Rect| {
        match (from_reference, &screen.reference) {
            (false, _) => {
                screen.mirror.copy_within(
                    &Rect::new(src_x, src_y, dst.width, dst.height),
                    dst.x,
                    dst.y,
                );
                ops.push(Op::Copy { src_x, src_y, dst });
            }
            (true, Some(reference)) => {
                let from = SourceRows::from_image(reference);
                screen
                    .mirror
                    .copy_rect_from_displaced(&from, src_x, src_y, &dst);
                ops.push(Op::CopyReference { src_x, src_y, dst });
            }
            (true, None) => return,
        }
        copies += 1;
    };
    // Pixels viewers show lossy differ between viewers: never copy from them (the reference is
    // saved only when every pixel is exact).
    let exact_source = |screen: &Screen, x: u32, y: u32, dst: &Rect| {
        from_reference
            || !screen
                .video
                .touches_lossy(&screen.grid, &Rect::new(x, y, dst.width, dst.height))
    };
    let mut recheck: Vec<Rect> = dirty
        .iter()
        .map(|d| screen.grid.tile_rect(d.index))
        .collect();
    // From the reference, only what covers changed pixels (content at the same place matches
    // there too, unchanged or not).
    let covers_change =
        |m: &&Move| !from_reference || dirty.iter().any(|d| d.rect.intersect(&m.dst).is_some());
    let moves: Vec<_> = motion
        .moves
        .iter()
        .filter(|m| exact_source(screen, m.src_x, m.src_y, &m.dst))
        .filter(covers_change)
        .collect();
    for m in &moves {
        copy(screen, ops, m.src_x, m.src_y, m.dst);
        recheck.push(m.dst);
    }
    if !moves.is_empty() {
        dirty.clear();
        let mirror = &screen.mirror;
        detect_with(
            &screen.grid,
            |y| mirror.row(y),
            |y| src.row(y),
            &recheck,
            dirty,
        );
        dirty.sort_by_key(|d| d.index);
        dirty.dedup_by(|b, a| {
            if a.index == b.index {
                a.rect = a.rect.union(&b.rect);
                true
            } else {
                false
            }
        });
    }
    let mut remaining = Vec::with_capacity(dirty.len());
    for d in dirty.drain(..) {
        let image = match (from_reference, &screen.reference) {
            (true, Some(reference)) => reference,
            _ => &screen.mirror,
        };
        let found = (d.rect.area() >= 64)
            .then(|| {
                motion.vectors.iter().find(|&&(dx, dy)| {
                    rect_matches_displaced(image, src, &d.rect, dx, dy)
                        && exact_source(
                            screen,
                            (i64::from(d.rect.x) - i64::from(dx)) as u32,
                            (i64::from(d.rect.y) - i64::from(dy)) as u32,
                            &d.rect,
                        )
                })
            })
            .flatten();
        match found {
            Some(&(dx, dy)) => {
                let (sx, sy) = (
                    (i64::from(d.rect.x) - i64::from(dx)) as u32,
                    (i64::from(d.rect.y) - i64::from(dy)) as u32,
                );
                copy(screen, ops, sx, sy, d.rect);
            }
            None => remaining.push(d),
        }
    }
    *dirty = remaining;
    copies
}

/// A copy of `image`, into `spare` when it has the same size (no allocation).
pub(super) fn snapshot(image: &PackedImage, spare: Option<PackedImage>) -> PackedImage {
    match spare {
        Some(mut copy) if copy.pixels.len() == image.pixels.len() => {
            copy.pixels.copy_from_slice(&image.pixels);
            copy
        }
        _ => image.clone(),
    }
}
