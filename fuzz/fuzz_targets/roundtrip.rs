//! Arbitrary small frames and edit sequences: encode -> decode equals the source at every step, in
//! both pixel formats, with and without capture hints, motion detection and the tile cache.
//!
//! Input: `[width, height, flags, pad, seed...]` then 8-byte edits `[kind, x, y, w, h, a, b, c]`;
//! an edit with kind bit 7 set ends a frame.
#![no_main]

use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Entropy, Frame, PixelFormat, Rect};
use libfuzzer_sys::fuzz_target;

fn rect(e: &[u8], w: u32, h: u32) -> Rect {
    let x = u32::from(e[1]) % w;
    let y = u32::from(e[2]) % h;
    Rect::new(
        x,
        y,
        1 + u32::from(e[3]) % (w - x),
        1 + u32::from(e[4]) % (h - y),
    )
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let (w, h) = (1 + u32::from(data[0]) % 140, 1 + u32::from(data[1]) % 100);
    let flags = data[2];
    let pad = usize::from(data[3] % 16);
    let format = if flags & 1 == 0 {
        PixelFormat::Bgra8
    } else {
        PixelFormat::Rgba8
    };
    let mut config = EncoderConfig::default();
    config.motion_detection = flags & 2 != 0;
    config.cache_tiles = [0, 3, 2048, 16][usize::from(flags >> 2 & 3)];
    config.entropy = [
        Entropy::Adaptive,
        Entropy::Stored,
        Entropy::Lz4,
        Entropy::Deflate(1),
    ][usize::from(flags >> 4 & 3)];
    let use_hints = flags & 0x40 != 0;
    let mut encoder = Encoder::new(config);
    let mut decoder = Decoder::new(DecoderConfig::with_output_format(format));
    // The model: canonical BGRA u32 pixels.
    let mut screen: Vec<u32> = (0..w * h)
        .map(|i| 0xff00_0000 | (i * u32::from(data[4]) / 3))
        .collect();
    let mut edits = data[5..].chunks_exact(8).peekable();
    let mut first = true;
    while first || edits.peek().is_some() {
        let mut hints = Vec::new();
        for e in edits.by_ref() {
            let r = rect(e, w, h);
            let color = u32::from_le_bytes([e[5], e[6], e[7], e[5] ^ e[6]]);
            match e[0] & 3 {
                0 => (r.y..r.bottom()).for_each(|y| {
                    (r.x..r.right()).for_each(|x| screen[(y * w + x) as usize] = color)
                }),
                1 => (r.y..r.bottom()).for_each(|y| {
                    (r.x..r.right()).for_each(|x| {
                        screen[(y * w + x) as usize] =
                            color.wrapping_mul(x ^ (y << 3)) | (color & 0xff00_0000)
                    })
                }),
                _ => {
                    // Copy r to (a, b) (scroll or drag), reading first.
                    let (dx, dy) = (u32::from(e[5]) % w, u32::from(e[6]) % h);
                    let block: Vec<u32> = (r.y..r.bottom())
                        .flat_map(|y| (r.x..r.right()).map(move |x| (x, y)))
                        .map(|(x, y)| screen[(y * w + x) as usize])
                        .collect();
                    for (i, y) in (r.y..r.bottom()).enumerate() {
                        for (j, x) in (r.x..r.right()).enumerate() {
                            let (tx, ty) = (dx + x - r.x, dy + y - r.y);
                            if tx < w && ty < h {
                                screen[(ty * w + tx) as usize] = block[i * r.width as usize + j];
                            }
                        }
                    }
                    hints.push(Rect::new(dx, dy, r.width, r.height));
                }
            }
            hints.push(r);
            if e[0] & 0x80 != 0 {
                break;
            }
        }
        let mut packed: Vec<u8> = screen.iter().flat_map(|p| p.to_le_bytes()).collect();
        if format == PixelFormat::Rgba8 {
            packed.chunks_exact_mut(4).for_each(|p| p.swap(0, 2));
        }
        let stride = w as usize * 4 + pad;
        let mut input = vec![0xa5u8; stride * (h as usize - 1) + w as usize * 4];
        for y in 0..h as usize {
            input[y * stride..y * stride + w as usize * 4]
                .copy_from_slice(&packed[y * w as usize * 4..(y + 1) * w as usize * 4]);
        }
        let frame = Frame::new(&input, w, h, stride, format).unwrap();
        let packet = if use_hints && !first {
            encoder.encode_with_hints(&frame, &hints)
        } else {
            encoder.encode(&frame)
        };
        if let Some(p) = packet.unwrap() {
            decoder
                .apply(p.as_bytes())
                .expect("the decoder accepts what the encoder made");
        }
        assert!(
            decoder.framebuffer().unwrap().pixels == &packed[..],
            "decoded screen differs from the source"
        );
        first = false;
    }
});
