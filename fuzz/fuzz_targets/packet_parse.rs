//! Any bytes as one packet (and as a framed stream) into a fresh decoder: never a panic, and a
//! rejected packet leaves the decoder without a session.
#![no_main]

use glimpse::protocol::{peek_kind, read_framed};
use glimpse::{Decoder, DecoderConfig};
use libfuzzer_sys::fuzz_target;

fn decoder() -> Decoder {
    let mut config = DecoderConfig::default();
    // Keep each run cheap: screens up to 512x512, a small cache.
    config.max_width = 512;
    config.max_height = 512;
    config.max_cache_tiles = 64;
    Decoder::new(config)
}

fuzz_target!(|data: &[u8]| {
    let kind = peek_kind(data);
    let mut d = decoder();
    match d.apply(data) {
        Ok(update) => {
            assert_eq!(Ok(update.kind), kind);
            if let Some(view) = d.framebuffer() {
                assert_eq!(
                    view.pixels.len(),
                    view.width as usize * view.height as usize * 4
                );
            }
        }
        Err(_) => assert!(d.framebuffer().is_none() && d.seq().is_none()),
    }
    let mut d = decoder();
    for packet in read_framed(data).flatten() {
        let _ = d.apply(packet);
    }
});
