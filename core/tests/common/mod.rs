//! Helpers shared by the integration tests: a synthetic screen model, frame layout helpers and a
//! decoder snapshot for "nothing changed" assertions.
#![allow(dead_code)]

use glimpse::{Decoder, Encoder, Frame, Packet, PixelFormat, Rect, Update};

/// Canonical BGRA pixels (`u32` little endian) of a screen, the ground truth of a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u32>,
}

impl Screen {
    pub fn new(width: u32, height: u32, fill: u32) -> Self {
        Screen {
            width,
            height,
            pixels: vec![fill; width as usize * height as usize],
        }
    }

    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    pub fn get(&self, x: u32, y: u32) -> u32 {
        self.pixels[(y * self.width + x) as usize]
    }

    pub fn set(&mut self, x: u32, y: u32, v: u32) {
        self.pixels[(y * self.width + x) as usize] = v;
    }

    /// Fills `rect` (clipped to the screen) with one colour.
    pub fn fill(&mut self, rect: Rect, color: u32) {
        if let Some(r) = rect.intersect(&self.bounds()) {
            for y in r.y..r.bottom() {
                for x in r.x..r.right() {
                    self.set(x, y, color);
                }
            }
        }
    }

    /// Fills `rect` (clipped) with pseudo-random pixels from `seed`; `colors` > 0 limits the palette
    /// (text-like content), 0 gives photo-like noise.
    pub fn noise(&mut self, rect: Rect, seed: u64, colors: u32) {
        let mut rng = Lcg(seed | 1);
        if let Some(r) = rect.intersect(&self.bounds()) {
            for y in r.y..r.bottom() {
                for x in r.x..r.right() {
                    let v = rng.next_u32();
                    let px = if colors > 0 {
                        0xff00_0000 | (v % colors).wrapping_mul(0x0012_3457) & 0x00ff_ffff
                    } else {
                        v
                    };
                    self.set(x, y, px);
                }
            }
        }
    }

    /// Copies `src` (clipped to the screen) to `dst_x, dst_y` as a real screen would (scroll, drag):
    /// reads everything first, so overlap is fine; the part landing off-screen is dropped.
    pub fn copy(&mut self, src: Rect, dst_x: u32, dst_y: u32) {
        let Some(s) = src.intersect(&self.bounds()) else {
            return;
        };
        let block: Vec<u32> = (s.y..s.bottom())
            .flat_map(|y| (s.x..s.right()).map(move |x| (x, y)))
            .map(|(x, y)| self.get(x, y))
            .collect();
        for (i, y) in (s.y..s.bottom()).enumerate() {
            for (j, x) in (s.x..s.right()).enumerate() {
                let (tx, ty) = (
                    dst_x as u64 + (x - s.x) as u64,
                    dst_y as u64 + (y - s.y) as u64,
                );
                if tx < self.width as u64 && ty < self.height as u64 {
                    self.set(tx as u32, ty as u32, block[i * s.width as usize + j]);
                }
            }
        }
    }

    /// Packed canonical BGRA bytes.
    pub fn bgra(&self) -> Vec<u8> {
        self.pixels.iter().flat_map(|p| p.to_le_bytes()).collect()
    }

    /// Packed bytes in `format`.
    pub fn bytes(&self, format: PixelFormat) -> Vec<u8> {
        let mut b = self.bgra();
        if format == PixelFormat::Rgba8 {
            swap_rb(&mut b);
        }
        b
    }
}

/// Swaps bytes 0 and 2 of every pixel (BGRA <-> RGBA).
pub fn swap_rb(bytes: &mut [u8]) {
    for px in bytes.chunks_exact_mut(4) {
        px.swap(0, 2);
    }
}

/// Lays packed rows out at `stride` bytes, filling the padding with `junk` (so padding is never
/// mistaken for pixels).
pub fn with_stride(packed: &[u8], width: u32, height: u32, stride: usize, junk: u8) -> Vec<u8> {
    let row = width as usize * 4;
    let mut out = vec![junk; stride * (height as usize - 1) + row];
    for y in 0..height as usize {
        out[y * stride..y * stride + row].copy_from_slice(&packed[y * row..(y + 1) * row]);
    }
    out
}

/// A frame of packed BGRA bytes of a `width` x `height` screen.
pub fn packed_frame(bytes: &[u8], width: u32, height: u32) -> Frame<'_> {
    Frame::new(bytes, width, height, width as usize * 4, PixelFormat::Bgra8).expect("valid frame")
}

/// Encodes `frame` and applies its packet, if any, to `decoder`; the decoder's update.
pub fn encode_and_apply(
    encoder: &mut Encoder,
    decoder: &mut Decoder,
    frame: &Frame<'_>,
) -> Option<Update> {
    let packet = encoder.encode(frame).expect("encode");
    packet.map(|p| decoder.apply(p.as_bytes()).expect("apply"))
}

/// Encodes packed BGRA bytes of a `width` x `height` screen.
pub fn encode_bgra(encoder: &mut Encoder, bytes: &[u8], width: u32, height: u32) -> Option<Packet> {
    let frame = packed_frame(bytes, width, height);
    encoder
        .encode(&frame)
        .expect("encode never fails on a valid frame")
}

/// Encodes a model screen as BGRA.
pub fn encode_screen(encoder: &mut Encoder, screen: &Screen) -> Option<Packet> {
    encode_bgra(encoder, &screen.bgra(), screen.width, screen.height)
}

/// Everything observable about a decoder that a failed `apply` must leave alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub seq: Option<u64>,
    pub pixels: Option<Vec<u8>>,
    pub size: Option<(u32, u32)>,
    pub damage: Vec<Rect>,
    pub cursor: Option<(i32, i32, bool, Option<Vec<u8>>)>,
}

pub fn snapshot(d: &Decoder) -> Snapshot {
    Snapshot {
        seq: d.seq(),
        pixels: d.framebuffer().map(|f| f.pixels.to_vec()),
        size: d.framebuffer().map(|f| (f.width, f.height)),
        damage: d.damage().to_vec(),
        cursor: d
            .cursor()
            .map(|c| (c.x, c.y, c.visible, c.image.map(|i| i.pixels.clone()))),
    }
}

/// The decoder's framebuffer bytes (panics before the first checkpoint).
pub fn fb(d: &Decoder) -> &[u8] {
    d.framebuffer().expect("decoder has a framebuffer").pixels
}

/// A small deterministic generator (no dependency needed).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % u64::from(n)) as u32
    }

    /// A random rectangle inside a `w` x `h` screen.
    pub fn rect(&mut self, w: u32, h: u32) -> Rect {
        let x = self.below(w);
        let y = self.below(h);
        Rect::new(x, y, 1 + self.below(w - x), 1 + self.below(h - y))
    }
}

/// One random "desktop" edit of the model screen: fills, text-like blocks, photo blocks, scrolls,
/// window moves and repeats of earlier content (for the tile cache). Returns the changed area (a
/// superset), usable as a capture hint.
pub fn random_edit(screen: &mut Screen, rng: &mut Lcg) -> Rect {
    let (w, h) = (screen.width, screen.height);
    match rng.below(7) {
        0 => {
            let r = rng.rect(w, h);
            screen.fill(r, 0xff00_0000 | rng.next_u32());
            r
        }
        1 => {
            let r = rng.rect(w, h);
            screen.noise(r, rng.next_u64(), 1 + rng.below(6));
            r
        }
        2 => {
            let r = Rect::new(
                rng.below(w),
                rng.below(h),
                1 + rng.below(24),
                1 + rng.below(24),
            );
            screen.noise(r, rng.next_u64(), 0);
            r.intersect(&screen.bounds()).unwrap()
        }
        3 => {
            // Scroll the whole screen (or a band) up or down by a few rows.
            let band = if rng.below(2) == 0 {
                screen.bounds()
            } else {
                Rect::new(0, rng.below(h), w, 1 + rng.below(h))
            };
            let band = band.intersect(&screen.bounds()).unwrap();
            let dy = 1 + rng.below(band.height.max(2) / 2 + 1);
            if rng.below(2) == 0 && dy < band.height {
                screen.copy(
                    Rect::new(band.x, band.y + dy, band.width, band.height - dy),
                    band.x,
                    band.y,
                );
                screen.noise(
                    Rect::new(band.x, band.bottom() - dy, band.width, dy),
                    rng.next_u64(),
                    3,
                );
            } else if dy < band.height {
                screen.copy(
                    Rect::new(band.x, band.y, band.width, band.height - dy),
                    band.x,
                    band.y + dy,
                );
                screen.noise(Rect::new(band.x, band.y, band.width, dy), rng.next_u64(), 3);
            }
            band
        }
        4 => {
            // Drag a block to a nearby place; what was under it becomes background.
            let src = rng.rect(w, h);
            let dx = rng.below(w);
            let dy = rng.below(h);
            screen.copy(src, dx, dy);
            src.union(&Rect::new(dx, dy, src.width, src.height))
                .intersect(&screen.bounds())
                .unwrap()
        }
        5 => {
            // Repeat one 64x64-aligned tile somewhere else aligned (cache and checkpoint copies).
            if w >= 64 && h >= 64 {
                let (sx, sy) = (rng.below(w / 64) * 64, rng.below(h / 64) * 64);
                let (dx, dy) = (rng.below(w / 64) * 64, rng.below(h / 64) * 64);
                screen.copy(Rect::new(sx, sy, 64, 64), dx, dy);
                Rect::new(dx, dy, 64, 64)
            } else {
                let r = rng.rect(w, h);
                screen.fill(r, 0xffff_ffff);
                r
            }
        }
        _ => Rect::new(0, 0, 0, 0), // nothing changes
    }
}

/// Runs ffprobe on the H.264 file `path`: counts the frames of its first video stream and prints the
/// stream's `entries` (`-show_entries stream=...`) in `format` (`-of`). Err when ffprobe cannot run.
pub fn ffprobe_stream(
    path: &std::path::Path,
    entries: &str,
    format: &str,
) -> std::io::Result<std::process::Output> {
    std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", &format!("stream={entries}"), "-of", format])
        .arg(path)
        .output()
}
