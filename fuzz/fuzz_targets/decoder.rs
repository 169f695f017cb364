//! A decoder primed with a real checkpoint and updates of a small synthetic screen, then arbitrary
//! packets (the input is a stream framed with `write_framed`): never a panic, a rejected packet
//! changes nothing, an accepted one leaves a consistent framebuffer.
#![no_main]

use std::sync::OnceLock;

use glimpse::protocol::read_framed;
use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PixelFormat};
use libfuzzer_sys::fuzz_target;

const W: u32 = 96;
const H: u32 = 80;

/// Checkpoint plus a few updates (fills, tiles, cache stores) of a 96x80 screen.
fn prime() -> &'static Vec<Vec<u8>> {
    static PACKETS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    PACKETS.get_or_init(|| {
        let mut config = EncoderConfig::default();
        config.cache_tiles = 8;
        let mut encoder = Encoder::new(config);
        let mut px: Vec<u8> = (0..W * H * 4).map(|i| (i / 4 % 7 * 30) as u8 | 3).collect();
        let mut out = Vec::new();
        for step in 0..4u32 {
            for y in 10 + step * 5..30 + step * 5 {
                for x in step * 7..step * 7 + 20 {
                    px[((y * W + x) * 4) as usize] = (x * y + step) as u8;
                }
            }
            let frame = Frame::new(&px, W, H, W as usize * 4, PixelFormat::Bgra8).unwrap();
            if let Some(p) = encoder.encode(&frame).unwrap() {
                out.push(p.as_bytes().to_vec());
            }
        }
        out
    })
}

fuzz_target!(|data: &[u8]| {
    // Checkpoints may re-size the session: up to 512x512, so that runs stay fast.
    let mut config = DecoderConfig::default();
    config.max_width = 512;
    config.max_height = 512;
    let mut d = Decoder::new(config);
    for p in prime() {
        d.apply(p).expect("the priming stream applies");
    }
    for packet in read_framed(data).flatten() {
        let before = (
            d.seq(),
            d.framebuffer().map(|f| f.pixels.to_vec()),
            d.damage().to_vec(),
        );
        match d.apply(packet) {
            Err(_) => {
                let after = (
                    d.seq(),
                    d.framebuffer().map(|f| f.pixels.to_vec()),
                    d.damage().to_vec(),
                );
                assert!(before == after, "a rejected packet changed the decoder");
            }
            Ok(_) => {
                let view = d.framebuffer().expect("a session");
                assert_eq!(
                    view.pixels.len(),
                    view.width as usize * view.height as usize * 4
                );
                for r in d.damage() {
                    assert!(
                        r.x + r.width <= view.width && r.y + r.height <= view.height,
                        "damage {r:?} off-screen"
                    );
                }
            }
        }
    }
});
