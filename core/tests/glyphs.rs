//! The glyph cache end to end: shapes drawn again elsewhere cost references, and viewers in step
//! and viewers joining late stay pixel-exact.

use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PixelFormat};

const W: u32 = 640;
const H: u32 = 360;

/// Glyph `n`: a 7x11 grey anti-aliased blob (its middle column is ink, so it is one shape).
fn glyph(n: u32) -> Vec<u8> {
    (0..77u32)
        .map(|i| {
            let (x, y) = (i % 7, i / 7);
            let v = (x * 37 + y * 11 + n * 53).wrapping_mul(2_654_435_761) >> 29;
            if x == 3 {
                0
            } else {
                [255, 255, 200, 128, 40, 0, 255, 90][v as usize]
            }
        })
        .collect()
}

/// Draws `text` (glyph numbers) from (`x`, `y`), 9 pixels apart.
fn write(screen: &mut [u8], text: &[u32], x: u32, y: u32) {
    for (k, &n) in text.iter().enumerate() {
        for (i, v) in glyph(n).into_iter().enumerate() {
            let (gx, gy) = (x + k as u32 * 9 + i as u32 % 7, y + i as u32 / 7);
            let at = ((gy * W + gx) * 4) as usize;
            screen[at..at + 4].copy_from_slice(&[v, v, v, 255]);
        }
    }
}

fn frame(screen: &[u8]) -> Frame<'_> {
    Frame::new(screen, W, H, W as usize * 4, PixelFormat::Bgra8).unwrap()
}

#[test]
fn shapes_seen_before_cost_references_and_everyone_stays_exact() {
    let text: Vec<u32> = (0..40).collect();
    let mut shuffled: Vec<u32> = (0..40).map(|k| (k * 17) % 40).collect();
    shuffled.reverse();
    let mut bytes = Vec::new();
    for config in [EncoderConfig::default(), {
        let mut c = EncoderConfig::default();
        c.cache_tiles = 0; // no tile cache: no glyph cache either
        c
    }] {
        let mut screen = vec![255u8; (W * H * 4) as usize];
        let mut encoder = Encoder::new(config);
        let mut viewer = Decoder::new(DecoderConfig::default());
        let apply = |encoder: &mut Encoder, screen: &[u8], viewer: &mut Decoder| {
            let p = encoder.encode(&frame(screen)).unwrap().unwrap();
            viewer.apply(p.as_bytes()).unwrap();
            assert_eq!(viewer.framebuffer().unwrap().pixels, screen);
            p.len()
        };
        apply(&mut encoder, &screen, &mut viewer);
        write(&mut screen, &text, 21, 30);
        apply(&mut encoder, &screen, &mut viewer);
        // The same glyphs in another order, elsewhere, off the tile grid.
        write(&mut screen, &shuffled, 37, 201);
        bytes.push(apply(&mut encoder, &screen, &mut viewer));
        // A viewer joins; the next text comes from glyphs both must have (or not) alike.
        let mut late = Decoder::new(DecoderConfig::default());
        late.apply(encoder.checkpoint().unwrap().as_bytes())
            .unwrap();
        write(&mut screen, &text[5..25], 300, 110);
        let p = encoder.encode(&frame(&screen)).unwrap().unwrap();
        for d in [&mut viewer, &mut late] {
            d.apply(p.as_bytes()).unwrap();
            assert_eq!(d.framebuffer().unwrap().pixels, &screen[..]);
        }
        write(&mut screen, &shuffled[..20], 301, 300);
        let p = encoder.encode(&frame(&screen)).unwrap().unwrap();
        for d in [&mut viewer, &mut late] {
            d.apply(p.as_bytes()).unwrap();
            assert_eq!(d.framebuffer().unwrap().pixels, &screen[..]);
        }
    }
    println!(
        "repeated text: {} bytes with the glyph cache, {} without",
        bytes[0], bytes[1]
    );
    assert!(bytes[0] * 3 < bytes[1] * 2, "{bytes:?}");
}
