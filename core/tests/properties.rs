//! Property tests: random screens and random edit sequences round-trip pixel-exact in every geometry
//! and layout; hinted damage equals a full compare; damage rectangles are tight.

mod common;

use common::{encode_and_apply, with_stride, Screen};
use glimpse::internals::damage::{self, DirtyTile};
use glimpse::{
    Decoder, DecoderConfig, Encoder, EncoderConfig, Entropy, Frame, PacketKind, PixelFormat, Rect,
};
use proptest::prelude::*;

/// One edit of the model screen; coordinates are reduced modulo the screen size when applied.
#[derive(Debug, Clone)]
enum Edit {
    Fill {
        r: [u32; 4],
        color: u32,
    },
    Noise {
        r: [u32; 4],
        seed: u64,
        colors: u32,
    },
    /// Rows `y0..y0+h` move by `dy` (scrolling); the uncovered rows get new text-like content.
    Scroll {
        y0: u32,
        h: u32,
        dy: i32,
        seed: u64,
    },
    /// A block is copied elsewhere (window drag, repeated content).
    Copy {
        r: [u32; 4],
        to: [u32; 2],
    },
    Nothing,
}

fn rect_in(r: [u32; 4], w: u32, h: u32) -> Rect {
    let x = r[0] % w;
    let y = r[1] % h;
    Rect::new(x, y, 1 + r[2] % (w - x), 1 + r[3] % (h - y))
}

/// Applies `edit`; returns a rectangle holding every changed pixel (possibly empty).
fn apply(screen: &mut Screen, edit: &Edit) -> Rect {
    let (w, h) = (screen.width, screen.height);
    match *edit {
        Edit::Fill { r, color } => {
            let r = rect_in(r, w, h);
            screen.fill(r, color);
            r
        }
        Edit::Noise { r, seed, colors } => {
            let r = rect_in(r, w, h);
            screen.noise(r, seed, colors);
            r
        }
        Edit::Scroll {
            y0,
            h: bh,
            dy,
            seed,
        } => {
            let y0 = y0 % h;
            let bh = 1 + bh % (h - y0);
            let band = Rect::new(0, y0, w, bh);
            let d = dy.unsigned_abs() % bh.max(1);
            if d == 0 {
                return Rect::default();
            }
            if dy > 0 {
                screen.copy(Rect::new(0, y0, w, bh - d), 0, y0 + d);
                screen.noise(Rect::new(0, y0, w, d), seed, 3);
            } else {
                screen.copy(Rect::new(0, y0 + d, w, bh - d), 0, y0);
                screen.noise(Rect::new(0, y0 + bh - d, w, d), seed, 3);
            }
            band
        }
        Edit::Copy { r, to } => {
            let src = rect_in(r, w, h);
            let (dx, dy) = (to[0] % w, to[1] % h);
            screen.copy(src, dx, dy);
            Rect::new(dx, dy, src.width, src.height)
                .intersect(&screen.bounds())
                .unwrap()
        }
        Edit::Nothing => Rect::default(),
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    let r = prop::array::uniform4(0u32..400);
    prop_oneof![
        (r.clone(), any::<u32>()).prop_map(|(r, color)| Edit::Fill { r, color }),
        (r.clone(), any::<u64>(), 0u32..5).prop_map(|(r, seed, colors)| Edit::Noise {
            r,
            seed,
            colors
        }),
        (0u32..400, 0u32..400, -40i32..40, any::<u64>())
            .prop_map(|(y0, h, dy, seed)| Edit::Scroll { y0, h, dy, seed }),
        (r, prop::array::uniform2(0u32..400)).prop_map(|(r, to)| Edit::Copy { r, to }),
        Just(Edit::Nothing),
    ]
}

fn size() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![1 => Just((1u32, 1u32)), 1 => (1u32..4, 1u32..4), 6 => (1u32..200, 1u32..90)]
}

fn format() -> impl Strategy<Value = PixelFormat> {
    prop_oneof![Just(PixelFormat::Bgra8), Just(PixelFormat::Rgba8)]
}

fn entropy() -> impl Strategy<Value = Entropy> {
    prop_oneof![
        Just(Entropy::Stored),
        Just(Entropy::Lz4),
        Just(Entropy::Deflate(1)),
        Just(Entropy::Adaptive)
    ]
}

/// How the capture API reports damage in a case.
#[derive(Debug, Clone, Copy)]
enum Hints {
    None,
    /// Exactly the edited rectangles.
    Exact,
    /// The edited rectangles grown, duplicated, and mixed with rectangles partly or wholly off-screen.
    Sloppy,
}

fn hints_for(changed: &[Rect], mode: Hints, w: u32, h: u32) -> Option<Vec<Rect>> {
    match mode {
        Hints::None => None,
        Hints::Exact => Some(changed.to_vec()),
        Hints::Sloppy => {
            let mut out = Vec::new();
            for r in changed.iter().filter(|r| !r.is_empty()) {
                out.push(Rect::new(
                    r.x.saturating_sub(3),
                    r.y.saturating_sub(2),
                    r.width + 9,
                    r.height + 5,
                ));
                out.push(*r);
            }
            out.push(Rect::new(w + 3, 0, 50, 50));
            out.push(Rect::new(
                w.saturating_sub(2),
                h.saturating_sub(2),
                1000,
                1000,
            ));
            out.push(Rect::new(u32::MAX - 3, u32::MAX - 3, 100, 100));
            out.push(Rect::new(0, 0, 0, 7));
            Some(out)
        }
    }
}

fn hints_mode() -> impl Strategy<Value = Hints> {
    prop_oneof![Just(Hints::None), Just(Hints::Exact), Just(Hints::Sloppy)]
}

/// The frame bytes of `screen` as the caller hands them over: `format`, `pad` bytes after every row
/// (filled with `junk`).
fn layout(screen: &Screen, format: PixelFormat, pad: usize, junk: u8) -> (Vec<u8>, usize) {
    let stride = screen.width as usize * 4 + pad;
    (
        with_stride(
            &screen.bytes(format),
            screen.width,
            screen.height,
            stride,
            junk,
        ),
        stride,
    )
}

#[derive(Debug, Clone)]
struct Case {
    size: (u32, u32),
    pad: usize,
    input: PixelFormat,
    output: PixelFormat,
    motion: bool,
    cache_tiles: u32,
    entropy: Entropy,
    hints: Hints,
    seed: u64,
    frames: Vec<Vec<Edit>>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        size(),
        prop_oneof![Just(0usize), 1usize..13, Just(4096)],
        format(),
        format(),
        any::<bool>(),
        prop_oneof![Just(0u32), 1u32..5, Just(2048)],
        entropy(),
        hints_mode(),
        any::<u64>(),
        prop::collection::vec(prop::collection::vec(edit(), 0..4), 1..10),
    )
        .prop_map(
            |(size, pad, input, output, motion, cache_tiles, entropy, hints, seed, frames)| Case {
                size,
                pad,
                input,
                output,
                motion,
                cache_tiles,
                entropy,
                hints,
                seed,
                frames,
            },
        )
}

fn run_case(c: &Case) -> Result<(), TestCaseError> {
    let (w, h) = c.size;
    let mut config = EncoderConfig::default();
    config.motion_detection = c.motion;
    config.cache_tiles = c.cache_tiles;
    config.entropy = c.entropy;
    let mut encoder = Encoder::new(config);
    let mut decoder = Decoder::new(DecoderConfig::with_output_format(c.output));
    let mut screen = Screen::new(w, h, 0xff00_0000);
    screen.noise(screen.bounds(), c.seed, (c.seed % 7) as u32);
    for (step, edits) in std::iter::once(&Vec::new())
        .chain(c.frames.iter())
        .enumerate()
    {
        let before = screen.clone();
        // Viewers show video regions lossy until they settle (noise that changes all over looks
        // like a film): what is exact is everything else, and everything once the screen settles.
        let lossy_before = encoder.stats().lossy_pixels;
        let changed: Vec<Rect> = edits.iter().map(|e| apply(&mut screen, e)).collect();
        let (bytes, stride) = layout(&screen, c.input, c.pad, step as u8 ^ 0x5a);
        let frame = Frame::new(&bytes, w, h, stride, c.input).unwrap();
        let packet = match (step, hints_for(&changed, c.hints, w, h)) {
            (0, _) | (_, None) => encoder.encode(&frame).unwrap(),
            (_, Some(hints)) => encoder.encode_with_hints(&frame, &hints).unwrap(),
        };
        match &packet {
            Some(p) if step == 0 => prop_assert_eq!(p.kind(), PacketKind::Checkpoint),
            Some(p) => {
                prop_assert_eq!(p.kind(), PacketKind::FrameUpdate);
                // A region that settled is re-sent losslessly, with or without a change.
                prop_assert!(
                    lossy_before > 0 || before != screen,
                    "a packet for an unchanged screen at step {}",
                    step
                );
            }
            None => prop_assert_eq!(
                &before,
                &screen,
                "no packet for a changed screen at step {}",
                step
            ),
        }
        if let Some(p) = packet {
            decoder
                .apply(p.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("step {step}: {e}")))?;
        }
        let view = decoder.framebuffer().unwrap();
        prop_assert_eq!(
            (view.width, view.height, view.stride),
            (w, h, w as usize * 4)
        );
        let differing = differing_pixels(view.pixels, &screen.bytes(c.output));
        let lossy = encoder.stats().lossy_pixels;
        prop_assert!(
            differing <= lossy,
            "framebuffer differs at step {}: {} pixels, {} in video regions",
            step,
            differing,
            lossy
        );
    }
    // The screen settles: video regions end and are re-sent losslessly, every pixel exact.
    let (bytes, stride) = layout(&screen, c.input, c.pad, 0xa5);
    let frame = Frame::new(&bytes, w, h, stride, c.input).unwrap();
    for _ in 0..=EncoderConfig::default().video.settle_frames {
        if let Some(p) = encoder.encode(&frame).unwrap() {
            decoder
                .apply(p.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("settling: {e}")))?;
        }
    }
    prop_assert_eq!(encoder.stats().lossy_pixels, 0, "settled, nothing lossy");
    let view = decoder.framebuffer().unwrap();
    prop_assert!(
        view.pixels == &screen.bytes(c.output)[..],
        "framebuffer differs once the screen settled"
    );
    Ok(())
}

/// Pixels (4 bytes each) that differ between two images of the same layout.
fn differing_pixels(a: &[u8], b: &[u8]) -> u64 {
    a.chunks_exact(4)
        .zip(b.chunks_exact(4))
        .filter(|(x, y)| x != y)
        .count() as u64
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_edit_sequences_round_trip(c in case()) {
        run_case(&c)?;
    }
}

// ---- damage -------------------------------------------------------------------------------------

/// Changed-pixel map of two screens.
fn changed_map(a: &Screen, b: &Screen) -> Vec<bool> {
    a.pixels
        .iter()
        .zip(&b.pixels)
        .map(|(x, y)| x != y)
        .collect()
}

/// Checks `dirty` against the true change map: raster order, each rect inside its tile, every changed
/// pixel covered, and each rect tight (its first and last row and column hold a changed pixel).
fn check_tight(
    dirty: &[DirtyTile],
    changed: &[bool],
    w: u32,
    h: u32,
    tile: u32,
) -> Result<(), TestCaseError> {
    let cols = w.div_ceil(tile);
    let at = |x: u32, y: u32| changed[(y * w + x) as usize];
    for pair in dirty.windows(2) {
        prop_assert!(
            pair[0].index < pair[1].index,
            "tiles out of raster order: {:?}",
            pair
        );
    }
    for d in dirty {
        let (tx, ty) = ((d.index % cols) * tile, (d.index / cols) * tile);
        let tile_rect = Rect::new(tx, ty, tile.min(w - tx), tile.min(h - ty));
        prop_assert!(
            tile_rect.contains(&d.rect) && !d.rect.is_empty(),
            "{:?} outside its tile {:?}",
            d,
            tile_rect
        );
        let r = d.rect;
        prop_assert!(
            (r.x..r.right()).any(|x| at(x, r.y)),
            "top row of {:?} unchanged",
            r
        );
        prop_assert!(
            (r.x..r.right()).any(|x| at(x, r.bottom() - 1)),
            "bottom row of {:?} unchanged",
            r
        );
        prop_assert!(
            (r.y..r.bottom()).any(|y| at(r.x, y)),
            "left column of {:?} unchanged",
            r
        );
        prop_assert!(
            (r.y..r.bottom()).any(|y| at(r.right() - 1, y)),
            "right column of {:?} unchanged",
            r
        );
    }
    for y in 0..h {
        for x in 0..w {
            if at(x, y) {
                let index = (y / tile) * cols + x / tile;
                let d = dirty.iter().find(|d| d.index == index);
                prop_assert!(
                    d.is_some_and(|d| d.rect.contains(&Rect::new(x, y, 1, 1))),
                    "changed pixel {},{} not covered by tile {}: {:?}",
                    x,
                    y,
                    index,
                    d
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn hinted_damage_equals_full_compare_and_is_tight(
        (w, h) in size(),
        seed in any::<u64>(),
        edits in prop::collection::vec(edit(), 0..5),
        tile in prop_oneof![Just(1u32), 2u32..9, Just(16), Just(64)],
        hints in prop_oneof![Just(Hints::Exact), Just(Hints::Sloppy)],
        pads in (0usize..9, 0usize..9),
        fmt in format(),
    ) {
        let mut prev = Screen::new(w, h, 0xff00_0000);
        prev.noise(prev.bounds(), seed, 4);
        let mut cur = prev.clone();
        let changed: Vec<Rect> = edits.iter().map(|e| apply(&mut cur, e)).collect();
        // Both frames in the same format, each with its own stride and padding junk.
        let (a, sa) = layout(&prev, fmt, pads.0, 0xaa);
        let (b, sb) = layout(&cur, fmt, pads.1, 0x55);
        let fa = Frame::new(&a, w, h, sa, fmt).unwrap();
        let fb = Frame::new(&b, w, h, sb, fmt).unwrap();
        let full = damage::detect(&fa, &fb, None, tile);
        let hinted = damage::detect(&fa, &fb, hints_for(&changed, hints, w, h).as_deref(), tile);
        prop_assert_eq!(&hinted, &full);
        check_tight(&full, &changed_map(&prev, &cur), w, h, tile)?;
    }
}

#[test]
fn hints_outside_the_change_hide_it_and_empty_hints_compare_nothing() {
    // The contract: pixels outside every hint are taken as unchanged.
    let prev = Screen::new(100, 80, 0xff00_0000);
    let mut cur = prev.clone();
    cur.set(70, 50, 0xffff_ffff);
    let (a, b) = (prev.bgra(), cur.bgra());
    let fa = Frame::new(&a, 100, 80, 400, PixelFormat::Bgra8).unwrap();
    let fb = Frame::new(&b, 100, 80, 400, PixelFormat::Bgra8).unwrap();
    assert_eq!(damage::detect(&fa, &fb, None, 64).len(), 1);
    assert!(damage::detect(&fa, &fb, Some(&[]), 64).is_empty());
    assert!(damage::detect(&fa, &fb, Some(&[Rect::new(0, 0, 70, 80)]), 64).is_empty());
    assert_eq!(
        damage::detect(&fa, &fb, Some(&[Rect::new(70, 50, 1, 1)]), 64)[0].rect,
        Rect::new(70, 50, 1, 1)
    );
}

#[test]
fn odd_geometries_round_trip() {
    // 1x1, width 3, a stride far larger than the row, and RGBA with an odd padding.
    for (w, h, stride, format) in [
        (1u32, 1u32, 4usize, PixelFormat::Bgra8),
        (1, 1, 7, PixelFormat::Rgba8),
        (3, 5, 12, PixelFormat::Bgra8),
        (3, 3, 100_003, PixelFormat::Rgba8),
        (1, 300, 4, PixelFormat::Bgra8),
        (300, 1, 1200, PixelFormat::Rgba8),
        (65, 65, 65 * 4 + 1, PixelFormat::Bgra8),
    ] {
        let mut encoder = Encoder::new(EncoderConfig::default());
        let mut decoder = Decoder::new(DecoderConfig::with_output_format(format));
        let mut screen = Screen::new(w, h, 0xff12_3456);
        for step in 0..6u64 {
            screen.noise(Rect::new(step as u32 % w, step as u32 % h, 2, 2), step, 0);
            let packed = screen.bytes(format);
            let bytes = with_stride(&packed, w, h, stride, 0xee);
            let frame = Frame::new(&bytes, w, h, stride, format).unwrap();
            encode_and_apply(&mut encoder, &mut decoder, &frame);
            assert_eq!(
                decoder.framebuffer().unwrap().pixels,
                &packed[..],
                "{w}x{h} stride {stride} step {step}"
            );
        }
    }
}

#[test]
fn top_off_bound_saturates_for_any_settle_setting() {
    for (settle, bound) in [
        (0, 2),
        (3, 4),
        (u32::MAX - 1, u32::MAX),
        (u32::MAX, u32::MAX),
    ] {
        let mut config = EncoderConfig::default();
        config.video.settle_frames = settle;
        assert_eq!(
            Encoder::new(config).top_off_bound_frames(),
            bound,
            "{settle}"
        );
    }
}
