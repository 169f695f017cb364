//! Measures Glimpse on a corpus of real screen recordings: bytes, speed, and pixel-exactness.
//!
//! ```text
//! cargo run --release --example corpus_report -- --res 1920x1080 [--json] [--corpus DIR] [--only a,b]
//! ```
//! Prints one line per scenario (JSON with `--json`, a table otherwise). The corpus defaults to
//! `../shared/corpus`, or the recordings bundled in `testdata/corpus` when that is absent.

use std::time::Instant;

use glimpse::internals::{damage, equal_outside, psnr_inside};
use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PixelFormat, Rect};
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
    /// The encoding thread's CPU time per frame (Linux), beside the wall time above.
    encode_cpu_ms: Vec<f64>,
    decode_ms: Vec<f64>,
    /// Every pixel outside the lossy (video) tiles exact at every frame.
    exact_outside_video: bool,
    /// PSNR of the lossy tiles, per frame that had any.
    video_psnr_db: Vec<f64>,
    video_pixels: u64,
    /// Frames of repeating the last frame until the viewer was pixel-exact (None: never within 50).
    settle_frames: Option<u32>,
    /// Per frame, the rectangles viewers showed lossy (empty: exact everywhere).
    lossy: Vec<Vec<Rect>>,
    /// Pixels that differ from the previous frame, and those of them inside that frame's pictures.
    changed_pixels: u64,
    changed_pixels_in_video: u64,
}

/// Encodes every frame, decodes every packet, and checks the viewer's screen after each frame.
fn run(frames: &[Vec<u8>], s: &Scenario, config: EncoderConfig) -> Result<Run, glimpse::Error> {
    let mut encoder = Encoder::new(config);
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut r = Run {
        pixel_exact: true,
        exact_outside_video: true,
        ..Run::default()
    };
    for (i, pixels) in frames.iter().enumerate() {
        let frame = scenario_frame(pixels, s)?;
        // The thread's CPU clock (unlike wall time, it leaves out time another process held the
        // core) is read outside the wall-clock window.
        let cpu = cpu_time::ThreadTime::try_now().ok();
        let t = Instant::now();
        let packet = encoder.encode(&frame)?;
        r.encode_ms.push(t.elapsed().as_secs_f64() * 1e3);
        if let Some(Ok(used)) = cpu.map(|c| c.try_elapsed()) {
            r.encode_cpu_ms.push(used.as_secs_f64() * 1e3);
        }
        let bytes = packet.as_ref().map_or(0, |p| p.len() as u64);
        let mut pictures = Vec::new();
        if let Some(p) = &packet {
            let t = Instant::now();
            let update = decoder.apply(p.as_bytes())?;
            r.decode_ms.push(t.elapsed().as_secs_f64() * 1e3);
            pictures.extend(update.video.iter().map(|c| c.rect));
        }
        if i > 0 {
            let (changed, in_video) = changed_pixels(&frames[i - 1], pixels, s.width, &pictures);
            r.changed_pixels += changed;
            r.changed_pixels_in_video += in_video;
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
        let fb = decoder.framebuffer().expect("a checkpoint came first");
        let exact = fb.pixels == &pixels[..];
        r.pixel_exact &= exact;
        let lossy = encoder.lossy_rects();
        if lossy.is_empty() {
            r.exact_outside_video &= exact;
        } else {
            r.exact_outside_video &= equal_outside(fb.pixels, pixels, s.width, &lossy);
            r.video_psnr_db
                .push(psnr_inside(fb.pixels, pixels, s.width, &lossy));
        }
        r.lossy.push(lossy);
    }
    r.video_pixels = encoder.stats().video_pixels;
    // The screen settles: repeat the last frame until the viewer shows it exactly.
    let last = frames.last().expect("frames");
    let frame = scenario_frame(last, s)?;
    for repeat in 0..=50u32 {
        if decoder
            .framebuffer()
            .is_some_and(|fb| fb.pixels == &last[..])
        {
            r.settle_frames = Some(repeat);
            break;
        }
        if let Some(p) = encoder.encode(&frame)? {
            decoder.apply(p.as_bytes())?;
        }
    }
    Ok(r)
}

/// One of the scenario's frames: packed BGRA at its size.
fn scenario_frame<'a>(pixels: &'a [u8], s: &Scenario) -> Result<Frame<'a>, glimpse::Error> {
    Frame::new(
        pixels,
        s.width,
        s.height,
        s.width as usize * 4,
        PixelFormat::Bgra8,
    )
}

/// Pixels of `cur` that differ from `prev`, and how many of them lie inside `pictures`.
fn changed_pixels(prev: &[u8], cur: &[u8], width: u32, pictures: &[Rect]) -> (u64, u64) {
    let (mut changed, mut in_video) = (0u64, 0u64);
    for (i, (a, b)) in prev.chunks_exact(4).zip(cur.chunks_exact(4)).enumerate() {
        if a != b {
            changed += 1;
            let (x, y) = (i as u32 % width, i as u32 / width);
            if pictures.iter().any(|r| r.contains(&Rect::new(x, y, 1, 1))) {
                in_video += 1;
            }
        }
    }
    (changed, in_video)
}

/// The whole-frame H.264 baseline: bytes of all frames, of the frames after the first, and the mean
/// PSNR over the rectangles the main run showed lossy (per frame that had any).
#[derive(Default)]
struct WholeFrame {
    bytes: u64,
    steady_bytes: u64,
    psnr_db: Option<f64>,
}

/// The whole screen through one H.264 encoder at the settings video regions use (RustDesk's and
/// Chrome Remote Desktop's approach), decoded to measure it over `lossy` (per frame).
#[cfg(feature = "h264")]
fn whole_frame_h264(frames: &[Vec<u8>], s: &Scenario, lossy: &[Vec<Rect>]) -> WholeFrame {
    use glimpse::video::{RegionDecoder, RegionEncoder, VideoEncoderConfig};
    let config = VideoEncoderConfig {
        bitrate_bps: ((u64::from(s.width) * u64::from(s.height) * 5).clamp(250_000, 8_000_000))
            as u32,
        max_fps: 10.0,
        quality_qp: Some(EncoderConfig::default().video.quality_qp),
        ..VideoEncoderConfig::default()
    };
    let (Ok(mut encoder), Ok(mut decoder)) = (
        RegionEncoder::new(s.width, s.height, &config),
        RegionDecoder::new(),
    ) else {
        return WholeFrame::default();
    };
    let stride = s.width as usize * 4;
    let mut out = vec![0u8; stride * s.height as usize];
    let mut result = WholeFrame::default();
    let mut psnr = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let Ok(picture) = encoder.encode(f, stride, false) else {
            continue;
        };
        let bytes = picture.annexb.len() as u64;
        result.bytes += bytes;
        if i > 0 {
            result.steady_bytes += bytes;
        }
        let decoded = decoder
            .decode(&picture.annexb, s.width, s.height, &mut out, stride)
            .unwrap_or(false);
        if let Some(rects) = lossy.get(i).filter(|r| decoded && !r.is_empty()) {
            psnr.push(psnr_inside(&out, f, s.width, rects));
        }
    }
    result.psnr_db = (!psnr.is_empty()).then(|| psnr.iter().sum::<f64>() / psnr.len() as f64);
    result
}

#[cfg(not(feature = "h264"))]
fn whole_frame_h264(_frames: &[Vec<u8>], _s: &Scenario, _lossy: &[Vec<Rect>]) -> WholeFrame {
    WholeFrame::default()
}

/// zstd -1 of each frame's changed 64x64 tiles (all tiles for the first frame).
/// Pure scrolls of a real frame: the frame shifted by `d` pixels (down or right), the exposed strip
/// new content (the frame turned upside down there). For each shift: update bytes with scroll/move
/// detection on and off.
fn pure_scrolls(frame: &[u8], s: &Scenario) -> Result<Vec<(String, usize, usize)>, glimpse::Error> {
    let (w, h) = (s.width as usize, s.height as usize);
    let px = |x: usize, y: usize| &frame[(y * w + x) * 4..(y * w + x) * 4 + 4];
    let mut out = Vec::new();
    for d in [1usize, 3, 17, 64, 127, 200] {
        for vertical in [true, false] {
            let mut shifted = vec![0u8; frame.len()];
            for y in 0..h {
                for x in 0..w {
                    let src = match (vertical, y >= d, x >= d) {
                        (true, true, _) => px(x, y - d),
                        (false, _, true) => px(x - d, y),
                        _ => px(w - 1 - x, h - 1 - y),
                    };
                    shifted[(y * w + x) * 4..(y * w + x) * 4 + 4].copy_from_slice(src);
                }
            }
            let mut bytes = [0usize; 2];
            for (k, motion) in [true, false].into_iter().enumerate() {
                let mut config = EncoderConfig::default();
                config.motion_detection = motion;
                config.video.enabled = false;
                let mut e = Encoder::new(config);
                e.encode(&scenario_frame(frame, s)?)?;
                let p = e.encode(&scenario_frame(&shifted, s)?)?;
                bytes[k] = p.map_or(0, |p| p.len());
            }
            let name = format!("{} {d}px", if vertical { "down" } else { "right" });
            out.push((name, bytes[0], bytes[1]));
        }
    }
    Ok(out)
}

fn zstd1_baseline(frames: &[Vec<u8>], s: &Scenario) -> u64 {
    let grid = damage::TileGrid::new(s.width, s.height, 64);
    let mut total = 0u64;
    for (i, pixels) in frames.iter().enumerate() {
        let tiles: Vec<u32> = if i == 0 {
            (0..grid.len()).collect()
        } else {
            let prev = scenario_frame(&frames[i - 1], s).unwrap();
            let cur = scenario_frame(pixels, s).unwrap();
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
        let prev = scenario_frame(&pair[0], s).unwrap();
        let cur = scenario_frame(&pair[1], s).unwrap();
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

/// The column titles of the text table.
fn print_table_header() {
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

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("corpus_report: {e}");
            std::process::exit(2);
        }
    };
    #[cfg(feature = "h264")]
    if !glimpse::video::OPENH264_ASSEMBLY {
        eprintln!(
            "corpus_report: warning: OpenH264 was built without its assembly (no nasm): video \
             encode times are about 3x what they should be (see the glimpse crate docs)"
        );
    }
    let corpus = match Corpus::open(&o.corpus) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("corpus_report: cannot read corpus at {}: {e}", o.corpus);
            std::process::exit(2);
        }
    };
    if !o.json {
        print_table_header();
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
            let mut lossless = EncoderConfig::default();
            lossless.video.enabled = false;
            let mut off = lossless;
            off.motion_detection = false;
            Ok((main, run(&frames, s, lossless)?, run(&frames, s, off)?))
        });
        let (mut main, lossless, no_scroll) = match result {
            Ok(r) => r,
            Err(e) => {
                eprintln!("corpus_report: {}: {e}", s.name);
                failed = true;
                continue;
            }
        };
        let zstd1 = zstd1_baseline(&frames, s);
        let pure_scroll = pure_scrolls(&frames[frames.len() / 2], s).unwrap_or_default();
        let pure_scroll_json: Vec<_> = pure_scroll
            .iter()
            .map(|(shift, on, off)| serde_json::json!({"shift": shift, "bytes": on, "no_scroll_bytes": off}))
            .collect();
        let (damage_ms, memcmp_ms) = timings(&frames, s);
        let seconds = frames.len() as f64 / 10.0;
        let kbps = main.bytes_total as f64 * 8.0 / 1000.0 / seconds;
        let per_changed =
            (main.bytes_total - main.first_frame_bytes) as f64 / main.changed_frames.max(1) as f64;
        let encode_ms = median(&mut main.encode_ms);
        let encode_cpu_ms =
            (main.encode_cpu_ms.len() == frames.len()).then(|| median(&mut main.encode_cpu_ms));
        let decode_ms = median(&mut main.decode_ms);
        // Lossless runs must be exact everywhere; with video, outside the video and once settled.
        failed |= !lossless.pixel_exact || !no_scroll.pixel_exact;
        failed |= !main.exact_outside_video || main.settle_frames.is_none();
        let whole_h264 = whole_frame_h264(&frames, s, &main.lossy);
        let video_changed_fraction = if main.changed_pixels == 0 {
            0.0
        } else {
            main.changed_pixels_in_video as f64 / main.changed_pixels as f64
        };
        let steady_seconds = (frames.len() as f64 - 1.0).max(1.0) / 10.0;
        let steady_kbps_of =
            |bytes: u64| (bytes as f64 * 8.0 / 1000.0 / steady_seconds * 10.0).round() / 10.0;
        let screen_pixels = frames.len() as f64 * f64::from(s.width) * f64::from(s.height);
        let video_fraction = main.video_pixels as f64 / screen_pixels;
        let psnr = if main.video_psnr_db.is_empty() {
            None
        } else {
            Some(main.video_psnr_db.iter().sum::<f64>() / main.video_psnr_db.len() as f64)
        };
        let settled_ms = main.settle_frames.map(|f| f * 100);
        let kbps_of = |bytes: u64| (bytes as f64 * 8.0 / 1000.0 / seconds * 10.0).round() / 10.0;
        if o.json {
            println!(
                "{}",
                serde_json::json!({
                    "scenario": s.name, "width": s.width, "height": s.height, "frames": frames.len(),
                    "pixel_exact": lossless.pixel_exact && no_scroll.pixel_exact,
                    "pixel_exact_with_video": main.pixel_exact,
                    "exact_outside_video": main.exact_outside_video,
                    "lossless_only_kbps": kbps_of(lossless.bytes_total),
                    "lossless_only_bytes": lossless.bytes_total,
                    "whole_frame_h264_kbps": kbps_of(whole_h264.bytes),
                    "whole_frame_h264_steady_kbps": steady_kbps_of(whole_h264.steady_bytes),
                    "whole_frame_h264_psnr_db": whole_h264.psnr_db.map(|p| (p * 100.0).round() / 100.0),
                    "video_pixels_fraction": (video_fraction * 10000.0).round() / 10000.0,
                    "video_changed_pixels_fraction": (video_changed_fraction * 10000.0).round() / 10000.0,
                    "video_psnr_db": psnr.map(|p| (p * 100.0).round() / 100.0),
                    "settled_exact_ms": settled_ms,
                    "bytes_total": main.bytes_total, "first_frame_bytes": main.first_frame_bytes,
                    "kbps_at_10fps": (kbps * 10.0).round() / 10.0,
                    "steady_kbps": steady_kbps_of(main.bytes_total - main.first_frame_bytes),
                    "changed_frames": main.changed_frames,
                    "bytes_per_changed_frame": per_changed.round(),
                    "unchanged_frames": main.unchanged_frames, "unchanged_frame_bytes": main.unchanged_frame_bytes,
                    "no_scroll_bytes": no_scroll.bytes_total,
                    "encode_ms_median": encode_ms, "encode_cpu_ms_median": encode_cpu_ms,
                    "decode_ms_median": decode_ms,
                    "damage_ms_median": damage_ms, "memcmp_ms_median": memcmp_ms,
                    "zstd1_bytes": zstd1,
                    "pure_scroll": pure_scroll_json,
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
