//! Privacy masks: no masked pixel ever reaches a viewer, through updates, hints or checkpoints.
//!
//! Secret pixels carry alpha `0xfe`, which nothing else on these screens uses (everything else is
//! opaque), so any leaked secret pixel is visible in a scan of the decoded framebuffer.

mod common;

use common::{fb, packed_frame, random_edit, swap_rb, with_stride, Lcg, Screen};
use glimpse::{
    Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PixelFormat, Rect, MASK_COLOR,
};

const SECRET_ALPHA: u8 = 0xfe;

/// A distinctive, animated secret: every pixel differs, alpha 0xfe.
fn paint_secret(screen: &mut Screen, area: Rect, step: u32) {
    if let Some(r) = area.intersect(&screen.bounds()) {
        for y in r.y..r.bottom() {
            for x in r.x..r.right() {
                let v =
                    (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503) ^ step.wrapping_mul(977))
                        & 0x00ff_ffff;
                screen.set(x, y, (u32::from(SECRET_ALPHA) << 24) | v);
            }
        }
    }
}

/// Forces every pixel opaque, so only secrets carry alpha 0xfe.
fn opaque(screen: &mut Screen) {
    for p in &mut screen.pixels {
        *p |= 0xff00_0000;
    }
}

/// `screen` as a viewer must see it with `masks` applied.
fn masked(screen: &Screen, masks: &[Rect]) -> Screen {
    let mut out = screen.clone();
    for m in masks {
        out.fill(*m, MASK_COLOR);
    }
    out
}

/// Checks a decoded framebuffer (in `format`): equal to `expected`, masked pixels are MASK_COLOR, and
/// no secret pixel anywhere.
fn check(decoder: &Decoder, expected: &Screen, masks: &[Rect], format: PixelFormat, what: &str) {
    let pixels = fb(decoder);
    let mut mask_bytes = MASK_COLOR.to_le_bytes();
    if format == PixelFormat::Rgba8 {
        mask_bytes.swap(0, 2);
    }
    for (i, px) in pixels.chunks_exact(4).enumerate() {
        assert_ne!(
            px[3],
            SECRET_ALPHA,
            "{what}: secret pixel {px:02x?} leaked at {},{}",
            i as u32 % expected.width,
            i as u32 / expected.width
        );
        let (x, y) = (i as u32 % expected.width, i as u32 / expected.width);
        if masks.iter().any(|m| m.contains(&Rect::new(x, y, 1, 1))) {
            assert_eq!(px, mask_bytes, "{what}: masked pixel {x},{y}");
        }
    }
    let want = expected.bytes(format);
    if let Some(i) =
        (0..pixels.len() / 4).find(|&i| pixels[i * 4..i * 4 + 4] != want[i * 4..i * 4 + 4])
    {
        let (x, y) = (i as u32 % expected.width, i as u32 / expected.width);
        panic!("{what}: framebuffer differs from the masked screen, first at {x},{y}: {:02x?} instead of {:02x?}", &pixels[i * 4..i * 4 + 4], &want[i * 4..i * 4 + 4]);
    }
}

fn frame_bytes(screen: &Screen, format: PixelFormat, pad: usize) -> (Vec<u8>, usize) {
    let mut b = screen.bgra();
    if format == PixelFormat::Rgba8 {
        swap_rb(&mut b);
    }
    let stride = screen.width as usize * 4 + pad;
    (
        with_stride(&b, screen.width, screen.height, stride, 0xfe),
        stride,
    )
}

fn run_secret_stream(format: PixelFormat, pad: usize, use_hints: bool, cache_tiles: u32) {
    let (w, h) = (230, 150);
    // One mask inside, one partly off-screen, one wholly off-screen.
    let masks = [
        Rect::new(30, 40, 70, 50),
        Rect::new(180, 100, 100, 100),
        Rect::new(400, 400, 10, 10),
    ];
    let mut config = EncoderConfig::default();
    config.cache_tiles = cache_tiles;
    let mut encoder = Encoder::new(config);
    encoder.set_privacy_masks(&masks);
    let mut viewer = Decoder::new(DecoderConfig::with_output_format(format));
    let mut rng = Lcg(99);
    let mut base = Screen::new(w, h, 0xff30_3030);
    base.noise(base.bounds(), 5, 6);
    for step in 0..50u32 {
        let mut changed: Vec<Rect> = (0..rng.below(3))
            .map(|_| random_edit(&mut base, &mut rng))
            .collect();
        opaque(&mut base);
        let mut screen = base.clone();
        for m in &masks {
            paint_secret(&mut screen, *m, step);
        }
        // The capture API reports the secret's own damage too.
        changed.extend(masks);
        let (bytes, stride) = frame_bytes(&screen, format, pad);
        let frame = Frame::new(&bytes, w, h, stride, format).unwrap();
        let packet = if use_hints && step > 0 {
            encoder.encode_with_hints(&frame, &changed)
        } else {
            encoder.encode(&frame)
        };
        if let Some(p) = packet.unwrap() {
            viewer.apply(p.as_bytes()).unwrap();
        }
        let expected = masked(&base, &masks);
        check(&viewer, &expected, &masks, format, &format!("step {step}"));
        if step % 7 == 0 {
            let mut late = Decoder::new(DecoderConfig::with_output_format(format));
            late.apply(encoder.checkpoint().unwrap().as_bytes())
                .unwrap();
            check(
                &late,
                &expected,
                &masks,
                format,
                &format!("checkpoint at step {step}"),
            );
        }
    }
}

#[test]
fn masked_secret_never_reaches_the_viewer() {
    run_secret_stream(PixelFormat::Bgra8, 0, false, 2048);
}

#[test]
fn masked_secret_never_reaches_the_viewer_with_hints() {
    run_secret_stream(PixelFormat::Bgra8, 0, true, 2048);
    run_secret_stream(PixelFormat::Bgra8, 8, true, 0);
}

#[test]
fn masked_secret_never_reaches_the_viewer_rgba_padded() {
    run_secret_stream(PixelFormat::Rgba8, 12, false, 2048);
    run_secret_stream(PixelFormat::Rgba8, 4, true, 5);
}

/// A screen with a secret under `mask` and ordinary content elsewhere.
fn secret_screen(w: u32, h: u32, mask: Rect) -> Screen {
    let mut s = Screen::new(w, h, 0xff00_0000);
    s.noise(s.bounds(), 17, 5);
    opaque(&mut s);
    paint_secret(&mut s, mask, 0);
    s
}

/// Checks a BGRA viewer against `screen` with `masks` applied (see [`check`]).
fn check_masked(viewer: &Decoder, screen: &Screen, masks: &[Rect], what: &str) {
    check(
        viewer,
        &masked(screen, masks),
        masks,
        PixelFormat::Bgra8,
        what,
    );
}

/// Encodes `screen` and applies the packet, if any, to `viewer`; false when there was none.
fn send(
    encoder: &mut Encoder,
    viewer: &mut Decoder,
    screen: &Screen,
    hints: Option<&[Rect]>,
) -> bool {
    let packet = encode(encoder, screen, hints);
    if let Some(p) = &packet {
        viewer.apply(p.as_bytes()).unwrap();
    }
    packet.is_some()
}

fn encode(
    encoder: &mut Encoder,
    screen: &Screen,
    hints: Option<&[Rect]>,
) -> Option<glimpse::Packet> {
    let b = screen.bgra();
    let frame = packed_frame(&b, screen.width, screen.height);
    match hints {
        Some(h) => encoder.encode_with_hints(&frame, h).unwrap(),
        None => encoder.encode(&frame).unwrap(),
    }
}

#[test]
fn removing_the_mask_reveals_the_unchanged_content() {
    for hints in [None, Some(&[][..])] {
        let mask = Rect::new(10, 20, 90, 70);
        let screen = secret_screen(160, 120, mask);
        let mut encoder = Encoder::new(EncoderConfig::default());
        encoder.set_privacy_masks(&[mask]);
        let mut viewer = Decoder::new(DecoderConfig::default());
        assert!(send(&mut encoder, &mut viewer, &screen, None));
        check_masked(&viewer, &screen, &[mask], "masked");
        // The same frame again, masks gone: the capture reports no damage, yet the area is sent.
        encoder.set_privacy_masks(&[]);
        assert!(
            send(&mut encoder, &mut viewer, &screen, hints),
            "unmasking changes what viewers see"
        );
        assert_eq!(
            fb(&viewer),
            &screen.bgra()[..],
            "hints {hints:?}: content not revealed"
        );
        // Nothing changes afterwards.
        assert!(encode(&mut encoder, &screen, hints).is_none());
    }
}

#[test]
fn moving_masks_mid_stream() {
    for hints in [None, Some(&[][..])] {
        let (a, b) = (Rect::new(0, 0, 50, 40), Rect::new(100, 60, 100, 100)); // b is partly off-screen
        let mut screen = secret_screen(160, 120, a);
        paint_secret(&mut screen, b, 0);
        let mut encoder = Encoder::new(EncoderConfig::default());
        encoder.set_privacy_masks(&[a, b]);
        let mut viewer = Decoder::new(DecoderConfig::default());
        assert!(send(&mut encoder, &mut viewer, &screen, None));
        check_masked(&viewer, &screen, &[a, b], "both masked");
        // Move the secret under b only and unmask a: a's new content shows, b stays masked.
        let mut next = screen.clone();
        next.noise(a, 3, 4);
        opaque(&mut next);
        encoder.set_privacy_masks(&[b]);
        let hint_list = hints.map(|_| vec![a]);
        send(&mut encoder, &mut viewer, &next, hint_list.as_deref());
        check_masked(
            &viewer,
            &next,
            &[b],
            &format!("after moving, hints {hints:?}"),
        );
        // A new mask over unchanged content hides it from now on, even when the capture reports nothing.
        let c = Rect::new(20, 70, 30, 30);
        encoder.set_privacy_masks(&[b, c]);
        send(&mut encoder, &mut viewer, &next, hints);
        check_masked(
            &viewer,
            &next,
            &[b, c],
            &format!("new mask, hints {hints:?}"),
        );
    }
}

/// Masks added to a running BGRA stream while the capture reports damage (hints): the encoder stages
/// only the hinted areas, and must not take the rest of its staging buffer for screen content.
#[test]
fn mask_added_mid_stream_with_hints_keeps_viewers_exact() {
    let (w, h) = (128, 64); // two 64x64 tiles
    let mut screen = Screen::new(w, h, 0xff00_0000);
    screen.set(40, 40, 0xffff_ffff); // a dot in tile 0, never inside a hint
    let mut encoder = Encoder::new(EncoderConfig::default());
    let mut viewer = Decoder::new(DecoderConfig::default());
    assert!(send(&mut encoder, &mut viewer, &screen, None));

    let mask = Rect::new(0, 0, 8, 8);
    encoder.set_privacy_masks(&[mask]);
    let change = Rect::new(10, 0, 4, 4);
    screen.noise(change, 1, 0);
    opaque(&mut screen);
    assert!(send(&mut encoder, &mut viewer, &screen, Some(&[change])));
    check_masked(&viewer, &screen, &[mask], "after the hinted update");

    // Tile 1 now shows what tile 0 would show without its dot.
    let mut tile0_without_dot = masked(&screen, &[mask]);
    tile0_without_dot.set(40, 40, 0xff00_0000);
    for y in 0..64 {
        for x in 0..64 {
            screen.set(64 + x, y, tile0_without_dot.get(x, y));
        }
    }
    send(
        &mut encoder,
        &mut viewer,
        &screen,
        Some(&[Rect::new(64, 0, 64, 64)]),
    );
    check_masked(&viewer, &screen, &[mask], "tile 1 = tile 0 without its dot");
}
