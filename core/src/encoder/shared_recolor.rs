//! Syntax highlighting that changes over a whole file (an opening quote turns everything below into a
//! string): one colour map for the update, and per tile only the pixels it gets wrong.

use std::collections::HashMap;

use crate::codec::recolor::HashMap as ColorMap;

use super::Screen;
use crate::codec;
use crate::codec::recolor::{self, SharedMap};
use crate::damage::DirtyTile;
use crate::frame::{Rect, SourceRows};
use crate::tiles::TileKey;

/// Smallest changed rectangle worth recolouring with the shared map.
const MIN_PIXELS: u64 = 1024;

/// Fewest tiles that make a shared map worth sending.
const MIN_TILES: usize = 4;

/// What a pair of the map and an exception's op cost, in pixels' worth of coded text.
const PAIR_PIXELS: u64 = 48;
const EXCEPTION_OP_PIXELS: u64 = 64;

/// The exceptions may cover at most one pixel in this many of the recoloured tiles.
const MAX_EXCEPTION_SHARE: u64 = 20;

/// A recoloured tile breaks at most one same-colour neighbour pair in this many pixels (in its
/// exceptions).
const KEEPS_SHAPES_TOLERANCE: u64 = 32;

/// Most distinct (old, new) pairs a tile may show and still count as recoloured: text anti-aliased
/// per subpixel has a hundred or two shades per tile; new content has thousands.
const MAX_TILE_PAIRS: usize = 512;

/// How often each (old, new) colour pair occurs.
type PairCounts = ColorMap<(u32, u32), u64>;

/// How the update codes pixels (to weigh a plan in bytes).
pub(super) struct Coding<'a> {
    pub scratch: &'a mut codec::Scratch,
    pub strategy: codec::Strategy,
    pub entropy: codec::Entropy,
}

/// The shared map and, per tile index, the rectangles it gets wrong (coded as pixels after it).
pub(super) struct SharedRecolor {
    pub map: SharedMap,
    pub tiles: HashMap<u32, Vec<Rect>>,
    /// True once the map went into the update.
    pub sent: bool,
}

/// Plans a shared recolouring of `dirty` (against the screen viewers show), or `None` when too few
/// tiles are recoloured content.
pub(super) fn plan(
    screen: &Screen,
    src: &SourceRows<'_>,
    dirty: &[DirtyTile],
    coding: &mut Coding<'_>,
) -> Option<SharedRecolor> {
    // Cheap filters first (size, exact pixels, shapes kept: one pass, no hashing), then the tile
    // cache: tiles seen before, or repeated in this update, go as cache references whatever the map
    // says.
    let mut seen = std::collections::HashSet::new();
    let mut first_of_its_kind = |d: &DirtyTile| {
        if !screen.cache.enabled() {
            return true;
        }
        let key = TileKey::of(src, &screen.grid.tile_rect(d.index));
        screen.cache.lookup(&key).is_none() && seen.insert(key)
    };
    let candidates: Vec<&DirtyTile> = dirty
        .iter()
        .filter(|d| d.rect.area() >= MIN_PIXELS && !screen.video.is_lossy(d.index))
        .filter(|d| recolor::keeps_shapes(&screen.mirror, src, &d.rect, KEEPS_SHAPES_TOLERANCE))
        .filter(|d| first_of_its_kind(d))
        .collect();
    if candidates.len() < MIN_TILES {
        return None;
    }
    let counted: Vec<(&DirtyTile, PairCounts)> = candidates
        .into_iter()
        .filter_map(|d| {
            let mut counts = ColorMap::default();
            recolor::count_pairs(&screen.mirror, src, &d.rect, MAX_TILE_PAIRS, &mut counts)
                .then_some((d, counts))
        })
        .collect();
    // Twice: the map of every recoloured-looking tile, then the map of the tiles it suits.
    let mut chosen: Vec<usize> = (0..counted.len()).collect();
    let mut plan = None;
    for _ in 0..2 {
        if chosen.len() < MIN_TILES {
            return None;
        }
        let mut counts = ColorMap::default();
        for &k in &chosen {
            for (&pair, &n) in &counted[k].1 {
                *counts.entry(pair).or_insert(0) += n;
            }
        }
        let map = SharedMap::from_counts(&counts)?;
        let mut tiles = HashMap::new();
        let mut suited = Vec::new();
        let mut saved = 0u64;
        for &k in &chosen {
            let d = counted[k].0;
            let Some(exceptions) = map.exceptions(&screen.mirror, src, &d.rect) else {
                continue;
            };
            let cost: u64 = exceptions
                .iter()
                .map(|e| e.area() + EXCEPTION_OP_PIXELS)
                .sum();
            if cost * 2 <= d.rect.area() {
                saved += d.rect.area() - cost;
                tiles.insert(d.index, exceptions);
                suited.push(k);
            }
        }
        // Only a recolouring that explains nearly everything: where a twentieth or more of the
        // pixels disagree, coding the tiles as they are compresses better (measured on the corpus).
        let area: u64 = suited.iter().map(|&k| counted[k].0.rect.area()).sum();
        let exception_area: u64 = tiles.values().flatten().map(Rect::area).sum();
        let pays = suited.len() >= MIN_TILES
            && exception_area * MAX_EXCEPTION_SHARE <= area
            && saved >= map.pairs.len() as u64 * PAIR_PIXELS;
        plan = pays.then_some(SharedRecolor {
            map,
            tiles,
            sent: false,
        });
        chosen = suited;
    }
    // The last word goes to the entropy coder: both ways coded and compressed (rare: a few times
    // per session).
    let plan = plan?;
    let planned: Vec<&DirtyTile> = counted
        .iter()
        .map(|(d, _)| *d)
        .filter(|d| plan.tiles.contains_key(&d.index))
        .collect();
    let mut shared = Vec::new();
    recolor::write_shared(&plan.map, &mut shared);
    let mut per_tile = Vec::new();
    for d in &planned {
        for rect in &plan.tiles[&d.index] {
            codec::encode_rect(src, rect, &mut shared, coding.scratch, coding.strategy);
        }
        match recolor::find(&screen.mirror, src, &d.rect) {
            Some(pairs) if pairs.len() * 16 <= d.rect.area() as usize => {
                recolor::write(&pairs, recolor::opaque(&pairs), &mut per_tile);
            }
            _ => {
                codec::encode_rect(src, &d.rect, &mut per_tile, coding.scratch, coding.strategy);
            }
        }
    }
    let mut packed = [Vec::new(), Vec::new()];
    for (raw, out) in [&shared, &per_tile].into_iter().zip(&mut packed) {
        coding.scratch.compressor.compress(coding.entropy, raw, out);
    }
    (packed[0].len() < packed[1].len()).then_some(plan)
}
