//! Native test tool of the npm package (never built for wasm32).
//!
//! `packets make <out-dir>`: encodes recordings (`../shared/corpus` when present, else the bundled
//! `testdata/corpus`) with the native encoder into length-prefixed packet files (`write_framed`), plus
//! the expected screens (RGBA) at several points, and `manifest.json` describing them.
//!
//! Plus streams with a video region (`videoStreams` in the manifest): a synthetic 1280x720 screen with a
//! moving photographic pattern, and the corpus's `video_region` recording when the shared corpus is
//! there. For each checked frame: the source screen (RGBA) and the encoder's lossy rectangles (every
//! other pixel must be exact on a viewer); the last frame is checked after the region settled.
//!
//! Plus hostile streams for the browser viewer's limits (`hostile` in the manifest; see
//! `hostile.rs`): an update with 5 video regions, 8 regions started one after another, a checkpoint
//! announcing 8192x8192.
//!
//! `packets check <packets> <frames.rgba> <width> <height>`: decodes a packet file made elsewhere (by
//! the browser sharer) with the native decoder and compares, after every checkpoint or frame update, the
//! framebuffer with the next frame of `frames.rgba` (RGBA frames, concatenated). Exits 1 on mismatch.

#[cfg(not(target_arch = "wasm32"))]
mod hostile;

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("make") if args.len() == 2 => native::make(std::path::Path::new(&args[1])),
        Some("check") if args.len() == 5 => native::check(&args[1..]),
        _ => Err(
            "usage: packets make <out-dir> | packets check <packets> <frames.rgba> <w> <h>".into(),
        ),
    };
    if let Err(e) = result {
        eprintln!("packets: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::fmt::Write as _;
    use std::path::Path;

    use glimpse::protocol::{read_framed, write_framed};
    use glimpse::{
        Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PacketKind, PixelFormat, Rect,
    };
    use glimpse_corpus::{Corpus, Scenario};

    type Res<T> = Result<T, Box<dyn std::error::Error>>;

    /// Frames per test stream, the checkpoint interval, and the frames whose screens are checked.
    const FRAMES: usize = 40;
    const CHECKPOINT_EVERY: usize = 15;
    const CHECKS: [usize; 4] = [0, 13, 26, 39];

    fn bgra_to_rgba(bgra: &[u8]) -> Vec<u8> {
        let mut out = bgra.to_vec();
        for px in out.chunks_exact_mut(4) {
            px.swap(0, 2);
        }
        out
    }

    /// A 12x18 arrow cursor (BGRA), hotspot at its tip.
    fn cursor_image() -> Vec<u8> {
        let (w, h) = (12usize, 18usize);
        let mut px = vec![0u8; w * h * 4];
        for y in 0..h {
            for x in 0..w {
                if x <= y && x < w && y < 16 {
                    let edge = x == 0 || x == y || y == 15;
                    let c: [u8; 4] = if edge {
                        [0, 0, 0, 255]
                    } else {
                        [255, 255, 255, 255]
                    };
                    px[(y * w + x) * 4..][..4].copy_from_slice(&c);
                }
            }
        }
        px
    }

    struct Stream {
        json: String,
    }

    /// Encodes the first `frames` frames of a scenario into `<name>.glp`, with a cursor that follows a
    /// path, a checkpoint every `CHECKPOINT_EVERY` frames, and expected screens at `checks`.
    fn encode(
        scenario: &Scenario,
        out: &Path,
        tag: &str,
        frames: usize,
        checks: &[usize],
    ) -> Res<Stream> {
        let (w, h) = (scenario.width, scenario.height);
        let mut encoder = Encoder::new(EncoderConfig::default());
        let mut decoder = Decoder::new(DecoderConfig::default());
        let mut reader = scenario.frames()?;
        let mut file = Vec::new();
        let mut kinds = Vec::new();
        let mut checks_json = Vec::new();
        let push = |p: glimpse::Packet,
                    decoder: &mut Decoder,
                    file: &mut Vec<u8>,
                    kinds: &mut Vec<u8>|
         -> Res<()> {
            decoder.apply(p.as_bytes())?; // self-check: the native decoder accepts the stream
            write_framed(file, p.as_bytes());
            kinds.push(p.kind() as u8);
            Ok(())
        };
        let cursor = cursor_image();
        for i in 0..frames.min(scenario.frame_count) {
            let Some(pixels) = reader.next_frame()? else {
                break;
            };
            let frame = Frame::new(&pixels, w, h, w as usize * 4, PixelFormat::Bgra8)?;
            if let Some(p) = encoder.encode(&frame)? {
                push(p, &mut decoder, &mut file, &mut kinds)?;
            }
            if i == 0 {
                let img = Frame::new(&cursor, 12, 18, 48, PixelFormat::Bgra8)?;
                if let Some(p) = encoder.set_cursor_shape(&img, 0, 0)? {
                    push(p, &mut decoder, &mut file, &mut kinds)?;
                }
            }
            let (cx, cy) = (100 + 7 * i as i32, 80 + 3 * i as i32);
            if let Some(p) = encoder.move_cursor(cx, cy, true) {
                push(p, &mut decoder, &mut file, &mut kinds)?;
            }
            if i > 0 && i % CHECKPOINT_EVERY == 0 {
                if let Some(p) = encoder.checkpoint() {
                    push(p, &mut decoder, &mut file, &mut kinds)?;
                }
            }
            if checks.contains(&i) {
                let name = format!("{tag}-{i}.rgba");
                let rgba = bgra_to_rgba(&pixels);
                assert_eq!(
                    decoder.framebuffer().map(|f| bgra_to_rgba(f.pixels)),
                    Some(rgba.clone()),
                    "native round trip of {tag} frame {i}"
                );
                std::fs::write(out.join(&name), &rgba)?;
                checks_json.push(format!(
                    "{{\"frame\": {i}, \"afterPacket\": {}, \"file\": \"{name}\", \"cursor\": [{cx}, {cy}]}}",
                    kinds.len()
                ));
            }
        }
        let name = format!("{tag}.glp");
        std::fs::write(out.join(&name), &file)?;
        let kinds: Vec<String> = kinds.iter().map(u8::to_string).collect();
        Ok(Stream {
            json: format!(
                "{{\"name\": \"{tag}\", \"scenario\": \"{}\", \"width\": {w}, \"height\": {h}, \"packets\": \"{name}\", \"bytes\": {}, \"kinds\": [{}], \"checks\": [{}]}}",
                scenario.name,
                file.len(),
                kinds.join(", "),
                checks_json.join(", ")
            ),
        })
    }

    /// Synthetic video stream: frames of a 1280x720 screen (BGRA).
    const SYN_W: u32 = 1280;
    const SYN_H: u32 = 720;
    /// The moving picture: a 480x352 area, not tile-aligned on its right and bottom edges.
    const SYN_VIDEO: Rect = Rect {
        x: 384,
        y: 192,
        width: 480,
        height: 352,
    };
    const SYN_MOVING: usize = 30;
    const SYN_STATIC: usize = 6;

    /// A static "desktop": light background, rows of dark word-like blocks (text), a title bar.
    fn synthetic_background() -> Vec<u8> {
        let (w, h) = (SYN_W as usize, SYN_H as usize);
        let mut px = vec![0u8; w * h * 4];
        let mut seed = 0x1234_5678u32;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for (i, p) in px.chunks_exact_mut(4).enumerate() {
            let y = i / w;
            let c: [u8; 4] = if y < 28 {
                [0x60, 0x40, 0x30, 255]
            } else {
                [0xf4, 0xf2, 0xf0, 255]
            };
            p.copy_from_slice(&c);
        }
        // Text lines: 8 px tall "words" with 1-px glyph gaps, every 18 px.
        for line in 0..((h - 40) / 18) {
            let y0 = 40 + line * 18;
            let mut x = 12 + (rnd() % 20) as usize;
            while x + 10 < w - 12 {
                let word = 12 + (rnd() % 60) as usize;
                for gx in x..(x + word).min(w - 12) {
                    if (gx - x) % 7 == 6 {
                        continue;
                    }
                    let ink = 0x20 + (rnd() % 0x30) as u8;
                    for y in y0..y0 + 8 {
                        if rnd() % 5 != 0 {
                            px[(y * w + gx) * 4..][..3].copy_from_slice(&[ink, ink, ink]);
                        }
                    }
                }
                x += word + 6 + (rnd() % 10) as usize;
            }
        }
        px
    }

    /// Frame `t` of the synthetic stream: the background with a smooth, moving photographic pattern.
    fn synthetic_frame(background: &[u8], t: usize) -> Vec<u8> {
        let mut px = background.to_vec();
        let t = t.min(SYN_MOVING - 1) as f32;
        let r = SYN_VIDEO;
        for y in r.y..r.bottom() {
            for x in r.x..r.right() {
                let (fx, fy) = ((x - r.x) as f32, (y - r.y) as f32);
                let a = (fx * 0.031 + t * 0.35).sin();
                let b = (fy * 0.043 - t * 0.27).cos();
                let c = ((fx + fy) * 0.017 + t * 0.19).sin();
                let d =
                    (((fx - 240.0 - 6.0 * t).powi(2) + (fy - 176.0).powi(2)).sqrt() * 0.06).cos();
                let blue = 120.0 + 55.0 * a + 40.0 * d + 30.0 * (fy / 352.0);
                let green = 110.0 + 50.0 * b + 35.0 * c + 25.0 * d;
                let red = 130.0 + 45.0 * c + 45.0 * a * b + 40.0 * (fx / 480.0);
                let i = (y as usize * SYN_W as usize + x as usize) * 4;
                px[i..i + 4].copy_from_slice(&[
                    blue.clamp(0.0, 255.0) as u8,
                    green.clamp(0.0, 255.0) as u8,
                    red.clamp(0.0, 255.0) as u8,
                    255,
                ]);
            }
        }
        px
    }

    fn in_rects(rects: &[Rect], x: u32, y: u32) -> bool {
        rects
            .iter()
            .any(|r| x >= r.x && x < r.right() && y >= r.y && y < r.bottom())
    }

    /// PSNR (dB, over RGB) of `a` against `b` inside `rects`, and the number of pixels outside them
    /// that differ. Both RGBA or both BGRA.
    fn compare(a: &[u8], b: &[u8], w: u32, rects: &[Rect]) -> (f64, usize) {
        let (mut se, mut n, mut outside) = (0f64, 0u64, 0usize);
        for (i, (pa, pb)) in a.chunks_exact(4).zip(b.chunks_exact(4)).enumerate() {
            let (x, y) = (i as u32 % w, i as u32 / w);
            if in_rects(rects, x, y) {
                for k in 0..3 {
                    let d = f64::from(pa[k]) - f64::from(pb[k]);
                    se += d * d;
                }
                n += 3;
            } else if pa != pb {
                outside += 1;
            }
        }
        let psnr = if se == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (255.0f64 * 255.0 / (se / n as f64)).log10()
        };
        (psnr, outside)
    }

    /// The packets of a video stream so far, and what the native decoder saw in them.
    #[derive(Default)]
    struct VideoAcc {
        file: Vec<u8>,
        kinds: Vec<u8>,
        pictures: usize,
        keyframes: usize,
        regions: Vec<u32>,
        ended: usize,
    }

    impl VideoAcc {
        fn push(&mut self, tag: &str, p: glimpse::Packet, decoder: &mut Decoder) -> Res<()> {
            let update = decoder.apply(p.as_bytes())?;
            if update.video_errors > 0 {
                return Err(format!("{tag}: native H.264 decode failed").into());
            }
            for c in &update.video {
                self.pictures += 1;
                self.keyframes += usize::from(c.keyframe);
                if !self.regions.contains(&c.region) {
                    self.regions.push(c.region);
                }
            }
            self.ended += update.video_ended.len();
            write_framed(&mut self.file, p.as_bytes());
            self.kinds.push(p.kind() as u8);
            Ok(())
        }
    }

    /// Encodes a stream with a video region (`frames` yields BGRA screens). Writes `<tag>.glp`, and for
    /// each frame in `checks` plus the last one the source screen (RGBA) and the encoder's lossy
    /// rectangles. Self-checks with the native decoder (H.264 decoded natively): exact outside the
    /// lossy rectangles, and exact everywhere at the end.
    fn encode_video(
        tag: &str,
        scenario: &str,
        (w, h): (u32, u32),
        frames: impl Iterator<Item = Res<Vec<u8>>>,
        checks: &[usize],
        out: &Path,
    ) -> Res<String> {
        let mut encoder = Encoder::new(EncoderConfig::default());
        if !encoder.config().video.enabled {
            return Err("the native encoder has no H.264 (feature h264 off)".into());
        }
        let mut decoder = Decoder::new(DecoderConfig::default());
        let mut checks_json = Vec::new();
        let mut acc = VideoAcc::default();
        let mut last = None;
        let mut count = 0;
        for (i, pixels) in frames.enumerate() {
            let pixels = pixels?;
            let frame = Frame::new(&pixels, w, h, w as usize * 4, PixelFormat::Bgra8)?;
            if let Some(p) = encoder.encode(&frame)? {
                acc.push(tag, p, &mut decoder)?;
            }
            if i > 0 && i % CHECKPOINT_EVERY == 0 {
                if let Some(p) = encoder.checkpoint() {
                    acc.push(tag, p, &mut decoder)?;
                }
            }
            if checks.contains(&i) {
                let lossy = encoder.lossy_rects();
                let fb = decoder.framebuffer().ok_or("no framebuffer")?;
                let (psnr, outside) = compare(fb.pixels, &pixels, w, &lossy);
                if outside != 0 {
                    return Err(format!("{tag} frame {i}: {outside} pixels outside the lossy rectangles differ natively").into());
                }
                let name = format!("{tag}-{i}.rgba");
                std::fs::write(out.join(&name), bgra_to_rgba(&pixels))?;
                let rects: Vec<String> = lossy
                    .iter()
                    .map(|r| format!("[{}, {}, {}, {}]", r.x, r.y, r.width, r.height))
                    .collect();
                let native = if psnr.is_finite() {
                    format!("{psnr:.2}")
                } else {
                    "null".into()
                };
                checks_json.push(format!(
                    "{{\"frame\": {i}, \"afterPacket\": {}, \"file\": \"{name}\", \"lossy\": [{}], \"nativePsnr\": {native}}}",
                    acc.kinds.len(),
                    rects.join(", ")
                ));
            }
            count = i + 1;
            last = Some(pixels);
        }
        let last = last.ok_or("no frames")?;
        if !encoder.lossy_rects().is_empty() {
            return Err(format!("{tag}: still lossy after the last frame").into());
        }
        if decoder.framebuffer().map(|f| f.pixels) != Some(&last[..]) {
            return Err(format!("{tag}: native decoder not exact after the region settled").into());
        }
        let VideoAcc {
            file,
            kinds,
            pictures,
            keyframes,
            regions,
            ended,
        } = acc;
        if pictures == 0 || ended == 0 {
            return Err(
                format!("{tag}: no video region ({pictures} pictures, {ended} ended)").into(),
            );
        }
        let name = format!("{tag}-last.rgba");
        std::fs::write(out.join(&name), bgra_to_rgba(&last))?;
        std::fs::write(out.join(format!("{tag}.glp")), &file)?;
        let kinds: Vec<String> = kinds.iter().map(u8::to_string).collect();
        let regions: Vec<String> = regions.iter().map(u32::to_string).collect();
        Ok(format!(
            "{{\"name\": \"{tag}\", \"scenario\": \"{scenario}\", \"width\": {w}, \"height\": {h}, \"frames\": {count}, \"packets\": \"{tag}.glp\", \"bytes\": {}, \"kinds\": [{}], \"pictures\": {pictures}, \"keyframes\": {keyframes}, \"regions\": [{}], \"ended\": {ended}, \"checks\": [{}], \"last\": \"{name}\"}}",
            file.len(),
            kinds.join(", "),
            regions.join(", "),
            checks_json.join(", ")
        ))
    }

    /// The video streams: synthetic, and the corpus's `video_region` (first 40 frames, then the last
    /// one 6 more times so the region settles) when `corpus` has it.
    fn video_streams(corpus: Option<&Corpus>, out: &Path) -> Res<Vec<String>> {
        let background = synthetic_background();
        let synthetic = (0..SYN_MOVING + SYN_STATIC).map(|t| Ok(synthetic_frame(&background, t)));
        let mut streams = vec![encode_video(
            "video_synthetic",
            "synthetic",
            (SYN_W, SYN_H),
            synthetic,
            &[3, 8, 12, 16, 20, 24, 29],
            out,
        )?];
        if let Some(s) = corpus.and_then(|c| c.at(1280, 720).find(|s| s.name == "video_region")) {
            let mut reader = s.frames()?;
            let mut frames = Vec::new();
            while frames.len() < FRAMES {
                match reader.next_frame()? {
                    Some(f) => frames.push(f),
                    None => break,
                }
            }
            let last = frames.last().ok_or("empty video_region recording")?.clone();
            frames.extend(std::iter::repeat_n(last, 6));
            streams.push(encode_video(
                "video_region",
                &s.name,
                (s.width, s.height),
                frames.into_iter().map(Ok),
                &[8, 14, 16, 22, 30, 39],
                out,
            )?);
        }
        Ok(streams)
    }

    pub fn make(out: &Path) -> Res<()> {
        std::fs::create_dir_all(out)?;
        let shared = Corpus::shared();
        let corpus = match &shared {
            Some(c) => c.clone(),
            None => Corpus::bundled()?,
        };
        let source = if shared.is_some() {
            "shared"
        } else {
            "bundled"
        };
        let mut streams = Vec::new();
        for name in [
            "typing_editor",
            "scroll_terminal",
            "window_drag",
            "scroll_webpage",
        ] {
            if let Some(s) = corpus.at(1280, 720).find(|s| s.name == name) {
                streams.push(encode(s, out, name, FRAMES, &CHECKS)?.json);
            }
        }
        // Benchmark stream: typing at 1080p when the shared corpus has it, else 720p.
        let bench = corpus
            .at(1920, 1080)
            .find(|s| s.name == "typing_editor")
            .or_else(|| corpus.at(1280, 720).find(|s| s.name == "typing_editor"))
            .ok_or("no typing_editor recording in the corpus")?;
        let bench_json = encode(bench, out, "bench", 41, &[40])?.json;
        let video = video_streams(shared.as_ref(), out)?;
        let background = synthetic_background();
        let moving = (0..SYN_MOVING).map(|t| synthetic_frame(&background, t));
        let hostile = crate::hostile::make(out, (SYN_W, SYN_H), moving.collect())?;
        let mut manifest = String::new();
        write!(
            manifest,
            "{{\"corpus\": \"{source}\", \"checkpointEvery\": {CHECKPOINT_EVERY}, \"streams\": [\n  {}\n], \"videoStreams\": [\n  {}\n], \"hostile\": {hostile}, \"bench\": {bench_json}}}\n",
            streams.join(",\n  "),
            video.join(",\n  ")
        )?;
        std::fs::write(out.join("manifest.json"), manifest)?;
        println!(
            "packets: {} streams from the {source} corpus and {} video streams in {}",
            streams.len(),
            video.len(),
            out.display()
        );
        Ok(())
    }

    pub fn check(args: &[String]) -> Res<()> {
        let packets = std::fs::read(&args[0])?;
        let frames = std::fs::read(&args[1])?;
        let (w, h): (usize, usize) = (args[2].parse()?, args[3].parse()?);
        let size = w * h * 4;
        let mut decoder = Decoder::new(DecoderConfig::with_output_format(PixelFormat::Rgba8));
        let (mut next, mut count, mut checked) = (0usize, 0usize, 0usize);
        for packet in read_framed(&packets) {
            let update = decoder.apply(packet?)?;
            count += 1;
            if matches!(
                update.kind,
                PacketKind::Checkpoint | PacketKind::FrameUpdate
            ) {
                let expected = frames
                    .get(next..next + size)
                    .ok_or("fewer frames than screen packets")?;
                let fb = decoder.framebuffer().ok_or("no framebuffer")?;
                if (fb.width as usize, fb.height as usize) != (w, h) {
                    return Err(
                        format!("screen is {}x{}, expected {w}x{h}", fb.width, fb.height).into(),
                    );
                }
                if let Some(i) = fb.pixels.iter().zip(expected).position(|(a, b)| a != b) {
                    let p = i / 4;
                    return Err(format!(
                        "packet {count}: pixel ({}, {}) differs: decoded {:?}, page encoded {:?}",
                        p % w,
                        p / w,
                        &fb.pixels[p * 4..p * 4 + 4],
                        &expected[p * 4..p * 4 + 4]
                    )
                    .into());
                }
                next += size;
                checked += 1;
            }
        }
        if checked == 0 || next != frames.len() {
            return Err(format!(
                "checked {checked} screens, {} bytes of frames left",
                frames.len() - next
            )
            .into());
        }
        println!("packets: {count} packets decoded natively, {checked} screens pixel-exact");
        Ok(())
    }
}
