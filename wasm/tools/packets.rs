//! Native test tool of the npm package (never built for wasm32).
//!
//! `packets make <out-dir>`: encodes recordings (`../shared/corpus` when present, else the bundled
//! `testdata/corpus`) with the native encoder into length-prefixed packet files (`write_framed`), plus
//! the expected screens (RGBA) at several points, and `manifest.json` describing them.
//!
//! `packets check <packets> <frames.rgba> <width> <height>`: decodes a packet file made elsewhere (by
//! the browser sharer) with the native decoder and compares, after every checkpoint or frame update, the
//! framebuffer with the next frame of `frames.rgba` (RGBA frames, concatenated). Exits 1 on mismatch.

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
    use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PacketKind, PixelFormat};
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
        let mut manifest = String::new();
        write!(
            manifest,
            "{{\"corpus\": \"{source}\", \"checkpointEvery\": {CHECKPOINT_EVERY}, \"streams\": [\n  {}\n], \"bench\": {bench_json}}}\n",
            streams.join(",\n  ")
        )?;
        std::fs::write(out.join("manifest.json"), manifest)?;
        println!(
            "packets: {} streams from the {source} corpus in {}",
            streams.len(),
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
