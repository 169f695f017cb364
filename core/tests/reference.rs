//! The reference image: content that comes back (shifted or not) after a large transient change is
//! copied from the screen saved before that change instead of being coded again.

mod common;

use common::{encode_screen, fb, Screen};
use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, PacketKind, Rect};

const W: u32 = 640;
const H: u32 = 480;

/// A: text-like content. B: the lower part replaced (an editor colouring everything below an
/// opening quote). C: A's lower part back, one 18-pixel line lower (the quote closed on a new line).
fn scenes() -> [Screen; 3] {
    let mut a = Screen::new(W, H, 0xffff_ffff);
    a.noise(Rect::new(0, 0, W, H), 1, 6);
    let mut b = a.clone();
    b.noise(Rect::new(0, 160, W, H - 160), 3, 6);
    let mut c = a.clone();
    c.copy(Rect::new(0, 160, W, H - 160 - 18), 0, 178);
    c.noise(Rect::new(0, 160, W, 18), 5, 6);
    [a, b, c]
}

#[test]
fn content_back_after_a_transient_change_is_copied_from_the_reference() {
    let [a, b, c] = scenes();
    let mut encoder = Encoder::new(EncoderConfig::default());
    let mut viewer = Decoder::new(DecoderConfig::default());
    let mut bytes = Vec::new();
    for screen in [&a, &b, &c] {
        let packet = encode_screen(&mut encoder, screen).expect("every scene changes");
        viewer.apply(packet.as_bytes()).unwrap();
        assert_eq!(fb(&viewer), &screen.bgra()[..]);
        bytes.push(packet.len());
    }
    // The same last frame from an encoder that never saw A (it starts at B): no reference holds A.
    let mut fresh = Encoder::new(EncoderConfig::default());
    encode_screen(&mut fresh, &b).unwrap();
    let without = encode_screen(&mut fresh, &c).unwrap().len();
    assert!(
        bytes[2] * 10 < without,
        "C from the reference {} bytes, without one {without}",
        bytes[2]
    );
    // A late joiner has no reference: the encoder does not use the old one after a checkpoint.
    let mut encoder = Encoder::new(EncoderConfig::default());
    encode_screen(&mut encoder, &a);
    encode_screen(&mut encoder, &b);
    let checkpoint = encoder.checkpoint().unwrap();
    assert_eq!(checkpoint.kind(), PacketKind::Checkpoint);
    let mut joiner = Decoder::new(DecoderConfig::default());
    joiner.apply(checkpoint.as_bytes()).unwrap();
    let update = encode_screen(&mut encoder, &c).unwrap();
    joiner.apply(update.as_bytes()).unwrap();
    assert_eq!(fb(&joiner), &c.bgra()[..]);
}

#[test]
fn without_motion_detection_no_reference_is_used() {
    let [a, b, c] = scenes();
    let mut config = EncoderConfig::default();
    config.motion_detection = false;
    let mut encoder = Encoder::new(config);
    for screen in [&a, &b] {
        encode_screen(&mut encoder, screen);
    }
    let with_history = encode_screen(&mut encoder, &c).unwrap().len();
    let mut fresh = Encoder::new(config);
    encode_screen(&mut fresh, &b);
    let without = encode_screen(&mut fresh, &c).unwrap().len();
    // Only the tile cache differs (A's tiles are cached): no copies from a reference.
    assert!(with_history * 2 > without, "{with_history} vs {without}");
}

/// Text in grey shades; `keyword(x, y)` marks the pixels that turn red instead of blue.
fn recoloured(text: &Screen, keyword: impl Fn(u32, u32) -> bool) -> Screen {
    let mut out = text.clone();
    for y in 0..text.height {
        for x in 0..text.width {
            let v = text.get(x, y) & 0xff;
            out.set(
                x,
                y,
                if keyword(x, y) {
                    0xff00_0000 | v << 16
                } else {
                    0xff00_0000 | v
                },
            );
        }
    }
    out
}

#[test]
fn syntax_highlighting_that_changes_everywhere_costs_a_shared_map_and_the_keywords() {
    // 40 grey shades per tile; each tile has a 10x10 "keyword" that turns red while the rest
    // turns blue, so no tile is a consistent recolouring on its own.
    let mut text = Screen::new(W, H, 0xffff_ffff);
    text.noise(Rect::new(0, 0, W, H), 7, 40);
    for y in 0..H {
        for x in 0..W {
            let v = text.get(x, y) & 0xff;
            text.set(x, y, 0xff00_0000 | (v * 0x0001_0101));
        }
    }
    let highlighted = recoloured(&text, |x, y| x % 64 < 10 && y % 64 < 10);
    let mut encoder = Encoder::new(EncoderConfig::default());
    let mut viewer = Decoder::new(DecoderConfig::default());
    for screen in [&text, &highlighted] {
        let packet = encode_screen(&mut encoder, screen).unwrap();
        viewer.apply(packet.as_bytes()).unwrap();
        assert_eq!(fb(&viewer), &screen.bgra()[..]);
    }
    // Back again: the tiles of `text` come from the cache.
    let back = encode_screen(&mut encoder, &text).unwrap();
    viewer.apply(back.as_bytes()).unwrap();
    assert_eq!(fb(&viewer), &text.bgra()[..]);
    // Once more with a change: shared again, every pixel exact.
    let again = recoloured(&text, |x, y| x % 64 < 10 && y % 64 >= 20 && y % 64 < 30);
    let packet = encode_screen(&mut encoder, &again).unwrap();
    viewer.apply(packet.as_bytes()).unwrap();
    assert_eq!(fb(&viewer), &again.bgra()[..]);
    // Against the same frame coded as pixels (after a blank screen, nothing to recolour).
    let mut fresh = Encoder::new(EncoderConfig::default());
    encode_screen(&mut fresh, &Screen::new(W, H, 0xffff_ffff));
    let as_pixels = encode_screen(&mut fresh, &again).unwrap().len();
    assert!(
        packet.len() * 4 < as_pixels,
        "recoloured {} bytes, as pixels {as_pixels}",
        packet.len()
    );
}
