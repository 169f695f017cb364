//! Measures Glimpse on a corpus of real screen recordings: bytes, speed, and pixel-exactness.
//!
//! ```text
//! cargo run --release --example corpus_report -- --res 1920x1080 [--json] [--corpus DIR] [--only a,b]
//! ```
//! Prints one line per scenario (JSON with `--json`, a table otherwise). The corpus defaults to
//! `../shared/corpus`, or the recordings bundled in `testdata/corpus` when that is absent.

use std::time::Instant;

use glimpse::{damage, Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PixelFormat};
use glimpse_corpus::{Corpus, Scenario};

struct Options {
    corpus: String,
    res: Option<(u32, u32)>,
    json: bool,
    only: Option<Vec<String>>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        corpus: "../shared/corpus".into(),
        res: None,
        json: false,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => o.json = true,
            "--corpus" => o.corpus = args.next().ok_or("--corpus needs a directory")?,
            "--only" => {
                o.only = Some(
                    args.next()
                        .ok_or("--only needs names")?
                        .split(',')
                        .map(String::from)
                        .collect(),
                )
            }
            "--res" => {
                let v = args.next().ok_or("--res needs WxH")?;
                let (w, h) = v.split_once('x').ok_or("--res is WxH, e.g. 1920x1080")?;
                o.res = Some((
                    w.parse().map_err(|_| "bad width")?,
                    h.parse().map_err(|_| "bad height")?,
                ));
            }
            "-h" | "--help" => {
                println!(
                    "usage: corpus_report [--res WxH] [--json] [--corpus DIR] [--only NAME,...]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[derive(Default)]
struct Run {
    bytes_total: u64,
    first_frame_bytes: u64,
    unchanged_frames: u64,
    unchanged_frame_bytes: u64,
    changed_frames: u64,
    pixel_exact: bool,
    encode_ms: Vec<f64>,
    decode_ms: Vec<f64>,
}

/// Encodes every frame, decodes every packet, and checks the viewer's screen after each frame.
fn run(frames: &[Vec<u8>], s: &Scenario, config: EncoderConfig) -> Result<Run, glimpse::Error> {
    let mut encoder = Encoder::new(config);
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut r = Run {
        pixel_exact: true,
        ..Run::default()
    };
    for (i, pixels) in frames.iter().enumerate() {
        let frame = Frame::new(
            pixels,
            s.width,
            s.height,
            s.width as usize * 4,
            PixelFormat::Bgra8,
        )?;
        let t = Instant::now();
        let packet = encoder.encode(&frame)?;
        r.encode_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let bytes = packet.as_ref().map_or(0, |p| p.len() as u64);
        if let Some(p) = &packet {
            let t = Instant::now();
            decoder.apply(p.as_bytes())?;
            r.decode_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        r.bytes_total += bytes;
        if i == 0 {
            r.first_frame_bytes = bytes;
        } else if frames[i - 1] == *pixels {
            r.unchanged_frames += 1;
            r.unchanged_frame_bytes += bytes;
        } else {
            r.changed_frames += 1;
        }
        r.pixel_exact &= decoder
            .framebuffer()
            .is_some_and(|fb| fb.pixels == &pixels[..]);
    }
    Ok(r)
}

/// zstd -1 of each frame's changed 64x64 tiles (all tiles for the first frame).
fn zstd1_baseline(frames: &[Vec<u8>], s: &Scenario) -> u64 {
    let grid = damage::TileGrid::new(s.width, s.height, 64);
    let mut total = 0u64;
    for (i, pixels) in frames.iter().enumerate() {
        let tiles: Vec<u32> = if i == 0 {
            (0..grid.len()).collect()
        } else {
            let prev = Frame::new(
                &frames[i - 1],
                s.width,
                s.height,
                s.width as usize * 4,
                PixelFormat::Bgra8,
            )
            .unwrap();
            let cur = Frame::new(
                pixels,
                s.width,
                s.height,
                s.width as usize * 4,
                PixelFormat::Bgra8,
            )
            .unwrap();
            damage::detect(&prev, &cur, None, 64)
                .iter()
                .map(|d| d.index)
                .collect()
        };
        if tiles.is_empty() {
            continue;
        }
        let mut raw = Vec::new();
        for t in tiles {
            let r = grid.tile_rect(t);
            for y in r.y..r.bottom() {
                let start = (y * s.width + r.x) as usize * 4;
                raw.extend_from_slice(&pixels[start..start + r.width as usize * 4]);
            }
        }
        total += zstd::bulk::compress(&raw, 1).map_or(raw.len(), |c| c.len()) as u64;
    }
    total
}

fn timings(frames: &[Vec<u8>], s: &Scenario) -> (f64, f64) {
    let (mut damage_ms, mut memcmp_ms) = (Vec::new(), Vec::new());
    for pair in frames.windows(2) {
        let prev = Frame::new(
            &pair[0],
            s.width,
            s.height,
            s.width as usize * 4,
            PixelFormat::Bgra8,
        )
        .unwrap();
        let cur = Frame::new(
            &pair[1],
            s.width,
            s.height,
            s.width as usize * 4,
            PixelFormat::Bgra8,
        )
        .unwrap();
        let t = Instant::now();
        std::hint::black_box(damage::detect(&prev, &cur, None, 64));
        damage_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        std::hint::black_box(
            std::hint::black_box(&pair[0][..]) == std::hint::black_box(&pair[1][..]),
        );
        memcmp_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (median(&mut damage_ms), median(&mut memcmp_ms))
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("corpus_report: {e}");
            std::process::exit(2);
        }
    };
    let corpus = match Corpus::open(&o.corpus) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("corpus_report: cannot read corpus at {}: {e}", o.corpus);
            std::process::exit(2);
        }
    };
    if !o.json {
        println!(
            "{:<16} {:>6} {:>5} {:>10} {:>9} {:>8} {:>9} {:>10} {:>10} {:>7} {:>7} {:>7} {:>7}",
            "scenario",
            "frames",
            "exact",
            "bytes",
            "first",
            "kbps@10",
            "B/chg",
            "no_scroll",
            "zstd1",
            "enc ms",
            "dec ms",
            "dmg ms",
            "cmp ms"
        );
    }
    let mut failed = false;
    for s in &corpus.scenarios {
        if o.res.is_some_and(|(w, h)| (s.width, s.height) != (w, h)) {
            continue;
        }
        if o.only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|n| n == &s.name))
        {
            continue;
        }
        let frames = match s.load_all() {
            Ok(f) => f,
            Err(e) => {
                eprintln!("corpus_report: {}: {e}", s.name);
                failed = true;
                continue;
            }
        };
        let result = run(&frames, s, EncoderConfig::default()).and_then(|main| {
            let mut off = EncoderConfig::default();
            off.motion_detection = false;
            Ok((main, run(&frames, s, off)?))
        });
        let (mut main, no_scroll) = match result {
            Ok(r) => r,
            Err(e) => {
                eprintln!("corpus_report: {}: {e}", s.name);
                failed = true;
                continue;
            }
        };
        let zstd1 = zstd1_baseline(&frames, s);
        let (damage_ms, memcmp_ms) = timings(&frames, s);
        let seconds = frames.len() as f64 / 10.0;
        let kbps = main.bytes_total as f64 * 8.0 / 1000.0 / seconds;
        let per_changed =
            (main.bytes_total - main.first_frame_bytes) as f64 / main.changed_frames.max(1) as f64;
        let encode_ms = median(&mut main.encode_ms);
        let decode_ms = median(&mut main.decode_ms);
        failed |= !main.pixel_exact || !no_scroll.pixel_exact;
        if o.json {
            println!(
                "{}",
                serde_json::json!({
                    "scenario": s.name, "width": s.width, "height": s.height, "frames": frames.len(),
                    "pixel_exact": main.pixel_exact && no_scroll.pixel_exact,
                    "bytes_total": main.bytes_total, "first_frame_bytes": main.first_frame_bytes,
                    "kbps_at_10fps": (kbps * 10.0).round() / 10.0,
                    "changed_frames": main.changed_frames,
                    "bytes_per_changed_frame": per_changed.round(),
                    "unchanged_frames": main.unchanged_frames, "unchanged_frame_bytes": main.unchanged_frame_bytes,
                    "no_scroll_bytes": no_scroll.bytes_total,
                    "encode_ms_median": encode_ms, "decode_ms_median": decode_ms,
                    "damage_ms_median": damage_ms, "memcmp_ms_median": memcmp_ms,
                    "zstd1_bytes": zstd1,
                })
            );
        } else {
            println!(
                "{:<16} {:>6} {:>5} {:>10} {:>9} {:>8.1} {:>9.0} {:>10} {:>10} {:>7.2} {:>7.2} {:>7.3} {:>7.3}",
                s.name, frames.len(), main.pixel_exact, main.bytes_total, main.first_frame_bytes, kbps, per_changed,
                no_scroll.bytes_total, zstd1, encode_ms, decode_ms, damage_ms, memcmp_ms
            );
        }
    }
    if failed {
        std::process::exit(1);
    }
}
