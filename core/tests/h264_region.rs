//! H.264 regions (`glimpse::video`): quality, odd sizes, standard bitstreams (checked with ffmpeg),
//! keyframes on request and hostile input.
#![cfg(all(feature = "h264", not(target_arch = "wasm32")))]

mod common;

use common::ffprobe_stream;
use glimpse::internals::psnr_bgra;
use glimpse::video::{
    codec_string, coded_size, EncodedPicture, RegionDecoder, RegionEncoder, VideoEncoderConfig,
    VideoError, OPENH264_ASSEMBLY,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Encodes frame `t` of [`photo_like`], packed rows, without asking for a keyframe.
fn encode_photo(encoder: &mut RegionEncoder, width: u32, height: u32, t: u32) -> EncodedPicture {
    let stride = width as usize * 4;
    encoder
        .encode(&photo_like(width, height, stride, t), stride, false)
        .unwrap()
}

/// A photographic-looking BGRA picture (smooth shading, texture, a moving disc) at time `t`.
fn photo_like(width: u32, height: u32, stride: usize, t: u32) -> Vec<u8> {
    let mut pixels = vec![0u8; stride * height as usize];
    let t = t as f32;
    let (cx, cy) = (
        width as f32 * (0.3 + 0.02 * t).fract(),
        height as f32 * (0.5 + 0.3 * (t * 0.2).sin()),
    );
    let radius = (width.min(height) as f32 * 0.2).max(1.0);
    for y in 0..height as usize {
        for x in 0..width as usize {
            let (fx, fy) = (x as f32 + 2.0 * t, y as f32 + t);
            let texture = 18.0 * (fx * 0.21).sin() * (fy * 0.17).cos();
            let mut r = 120.0 + 90.0 * (fx * 0.013).sin() + texture;
            let mut g = 100.0 + 80.0 * (fy * 0.011 + 1.0).cos() + texture * 0.5;
            let mut b = 140.0 + 70.0 * ((fx + fy) * 0.009).sin() - texture * 0.3;
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            if d < radius {
                let k = 1.0 - d / radius;
                r = r * (1.0 - k) + 230.0 * k;
                g = g * (1.0 - k) + 190.0 * k;
                b = b * (1.0 - k) + 40.0 * k;
            }
            let i = y * stride + x * 4;
            pixels[i..i + 4].copy_from_slice(&[
                b.clamp(0.0, 255.0) as u8,
                g.clamp(0.0, 255.0) as u8,
                r.clamp(0.0, 255.0) as u8,
                255,
            ]);
        }
    }
    pixels
}

/// Copies the `w` x `h` rectangle at (`x`, `y`) out of a tightly packed frame `frame_width` wide.
fn crop(frame: &[u8], frame_width: u32, x: u32, y: u32, w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(w as usize * h as usize * 4);
    for row in y..y + h {
        let start = (row as usize * frame_width as usize + x as usize) * 4;
        out.extend_from_slice(&frame[start..start + w as usize * 4]);
    }
    out
}

/// Quality of one encoded-and-decoded sequence.
struct Run {
    pictures: Vec<EncodedPicture>,
    mean_psnr: f64,
    min_psnr: f64,
    encode_ms: f64,
}

/// Encodes `frames` (tightly packed BGRA, `width` x `height`), decodes every picture natively and
/// measures PSNR against the source.
fn encode_decode(width: u32, height: u32, frames: &[Vec<u8>], config: &VideoEncoderConfig) -> Run {
    let stride = width as usize * 4;
    let mut encoder = RegionEncoder::new(width, height, config).unwrap();
    let mut decoder = RegionDecoder::new().unwrap();
    let mut out = vec![0u8; stride * height as usize];
    let (mut pictures, mut psnrs, mut encode_time) = (Vec::new(), Vec::new(), 0.0);
    for frame in frames {
        let start = std::time::Instant::now();
        let picture = encoder.encode(frame, stride, false).unwrap();
        encode_time += start.elapsed().as_secs_f64();
        assert!(!picture.annexb.is_empty());
        if pictures.is_empty() {
            assert!(picture.keyframe, "the first picture is a keyframe");
        }
        assert!(decoder
            .decode(&picture.annexb, width, height, &mut out, stride)
            .unwrap());
        psnrs.push(psnr_bgra(frame, &out, width, height, stride));
        assert!(out.chunks_exact(4).all(|px| px[3] == 255), "alpha is 255");
        pictures.push(picture);
    }
    // OpenH264 starts a scene cut (a film's) with a keyframe too, and nothing else does here.
    let keyframes = pictures.iter().filter(|p| p.keyframe).count();
    assert!(
        keyframes <= 1 + pictures.len() / 10,
        "{keyframes} keyframes in {} pictures",
        pictures.len()
    );
    Run {
        pictures,
        mean_psnr: psnrs.iter().sum::<f64>() / psnrs.len() as f64,
        min_psnr: psnrs.iter().copied().fold(f64::INFINITY, f64::min),
        encode_ms: encode_time * 1000.0 / frames.len() as f64,
    }
}

fn bytes_per_picture(pictures: &[EncodedPicture]) -> f64 {
    pictures.iter().map(|p| p.annexb.len()).sum::<usize>() as f64 / pictures.len() as f64
}

#[test]
fn synthetic_video_round_trips_above_32_db() {
    let (width, height) = (640, 360);
    let frames: Vec<_> = (0..30)
        .map(|t| photo_like(width, height, width as usize * 4, t))
        .collect();
    let run = encode_decode(width, height, &frames, &VideoEncoderConfig::default());
    println!(
        "synthetic {width}x{height}, 30 pictures at constant quality: PSNR mean {:.2} dB, min {:.2} \
         dB, {:.0} bytes/picture, encode {:.2} ms/picture",
        run.mean_psnr,
        run.min_psnr,
        bytes_per_picture(&run.pictures),
        run.encode_ms
    );
    assert!(run.mean_psnr > 32.0, "mean PSNR {:.2} dB", run.mean_psnr);
    assert!(run.min_psnr > 30.0, "min PSNR {:.2} dB", run.min_psnr);
    check_with_ffmpeg("synthetic", &run.pictures, width, height);

    // WebCodecs needs the codec string; the keyframe carries it.
    let codec = codec_string(&run.pictures[0].annexb).expect("SPS in the keyframe");
    assert!(codec.starts_with("avc1."), "{codec}");
    assert_eq!(codec_string(&run.pictures[1].annexb), None);
}

/// The bounding box of the pixels that change in more than half of the frame pairs (the video).
fn moving_region(scenario: &glimpse_corpus::Scenario) -> (u32, u32, u32, u32) {
    let (w, h) = (scenario.width as usize, scenario.height as usize);
    let mut counts = vec![0u16; w * h];
    let mut frames = scenario.frames().unwrap();
    let mut prev = frames.next_frame().unwrap().unwrap();
    let mut pairs = 0;
    while let Some(frame) = frames.next_frame().unwrap() {
        for (i, (a, b)) in prev.chunks_exact(4).zip(frame.chunks_exact(4)).enumerate() {
            counts[i] += u16::from(a != b);
        }
        prev = frame;
        pairs += 1;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (i, &c) in counts.iter().enumerate() {
        if c * 2 > pairs {
            let (x, y) = (i % w, i / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
        }
    }
    assert!(x1 > x0 && y1 > y0, "no moving region found");
    (x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32)
}

#[test]
fn corpus_video_region_round_trips_above_32_db() {
    let Some(corpus) = glimpse_corpus::Corpus::shared() else {
        println!("shared corpus not present: skipping the recorded video region");
        return;
    };
    let Some(scenario) = corpus.at(1280, 720).find(|s| s.name == "video_region") else {
        println!("no video_region at 1280x720 in the shared corpus: skipping");
        return;
    };
    let (x, y, w, h) = moving_region(scenario);
    println!("video_region 1280x720: moving region {w}x{h} at ({x}, {y})");
    assert!(
        w >= 200 && h >= 150,
        "region {w}x{h} is too small for the mpv window"
    );
    let mut reader = scenario.frames().unwrap();
    let mut frames = Vec::new();
    while let Some(frame) = reader.next_frame().unwrap() {
        frames.push(crop(&frame, scenario.width, x, y, w, h));
        if frames.len() == 60 {
            break;
        }
    }
    // The default (constant quality under a ceiling), and OpenH264's rate control at two targets.
    for (quality_qp, bitrate_bps) in [
        (VideoEncoderConfig::default().quality_qp, 1_000_000),
        (None, 1_000_000),
        (None, 2_500_000),
    ] {
        let config = VideoEncoderConfig {
            bitrate_bps,
            max_fps: 10.0, // the corpus is captured at 10 frames per second
            quality_qp,
            ..VideoEncoderConfig::default()
        };
        let run = encode_decode(w, h, &frames, &config);
        let kbps = bytes_per_picture(&run.pictures) * 8.0 * 10.0 / 1000.0;
        println!(
            "video_region {w}x{h}, {} pictures, quantiser {quality_qp:?}, {} kbit/s: PSNR mean \
             {:.2} dB, min {:.2} dB, {kbps:.0} kbit/s at 10 fps, encode {:.2} ms/picture",
            frames.len(),
            bitrate_bps / 1000,
            run.mean_psnr,
            run.min_psnr,
            run.encode_ms
        );
        assert!(run.mean_psnr > 32.0, "mean PSNR {:.2} dB", run.mean_psnr);
        if quality_qp.is_some() {
            // Constant quality: the film at 40 dB or more, well under the ceiling.
            assert!(run.mean_psnr > 40.0, "mean PSNR {:.2} dB", run.mean_psnr);
            assert!(kbps < 800.0, "{kbps:.0} kbit/s");
            check_with_ffmpeg("video_region", &run.pictures, w, h);
        }
    }
}

#[test]
fn constant_quality_steps_down_only_above_the_ceiling() {
    let (width, height) = (320, 240);
    let stride = width as usize * 4;
    let frames: Vec<_> = (0..40)
        .map(|t| photo_like(width, height, stride, t * 3))
        .collect();
    let run = |bitrate_bps: u32| {
        let config = VideoEncoderConfig {
            bitrate_bps,
            max_fps: 10.0,
            quality_qp: Some(16),
            ..VideoEncoderConfig::default()
        };
        let mut encoder = RegionEncoder::new(width, height, &config).unwrap();
        let mut qps = Vec::new();
        let mut bytes = Vec::new();
        for f in &frames {
            bytes.push(encoder.encode(f, stride, false).unwrap().annexb.len());
            qps.push(encoder.quality_qp().unwrap());
        }
        (qps, bytes)
    };
    // A ceiling far above what quantiser 16 costs: every picture at 16.
    let (qps, generous) = run(50_000_000);
    assert!(qps.iter().all(|&qp| qp == 16), "{qps:?}");
    // A ceiling below it: the quantiser rises (a second of pictures at a time), the bytes fall.
    let (qps, capped) = run(100_000);
    assert!(qps.last().unwrap() > &16, "{qps:?}");
    assert!(
        qps.windows(2).all(|w| w[1] >= w[0]),
        "never back while over: {qps:?}"
    );
    let last_second = |b: &[usize]| b[30..].iter().sum::<usize>();
    assert!(
        last_second(&capped) * 4 < last_second(&generous) * 3,
        "{} vs {} bytes",
        last_second(&capped),
        last_second(&generous)
    );
}

#[test]
fn odd_sizes_round_trip_at_their_visible_size() {
    for (width, height) in [
        (1, 1),
        (2, 2),
        (3, 5),
        (17, 1),
        (1, 33),
        (97, 61),
        (480, 352),
    ] {
        // A stride with slack, and an output buffer with guard bytes around the visible pixels.
        let stride = width as usize * 4 + 12;
        let mut encoder =
            RegionEncoder::new(width, height, &VideoEncoderConfig::default()).unwrap();
        assert_eq!(encoder.size(), (width, height));
        let mut decoder = RegionDecoder::new().unwrap();
        let mut pictures = Vec::new();
        for t in 0..4 {
            let mut pixels = photo_like(width, height, stride, t);
            // The last row may end right after its pixels.
            pixels.truncate(stride * (height as usize - 1) + width as usize * 4);
            let picture = encoder.encode(&pixels, stride, false).unwrap();
            let mut out = vec![0xa5u8; stride * height as usize + 64];
            assert!(
                decoder
                    .decode(&picture.annexb, width, height, &mut out, stride)
                    .unwrap(),
                "{width}x{height} picture {t}"
            );
            for (i, &b) in out.iter().enumerate() {
                let (row, col) = (i / stride, i % stride);
                if row >= height as usize || col >= width as usize * 4 {
                    assert_eq!(
                        b, 0xa5,
                        "{width}x{height}: byte {i} outside the region written"
                    );
                }
            }
            // Below 8 pixels a side, one chroma sample covers most of the picture's colours.
            let floor = if width.min(height) >= 8 { 28.0 } else { 15.0 };
            let psnr = psnr_bgra(&pixels, &out, width, height, stride);
            assert!(
                psnr > floor,
                "{width}x{height} picture {t}: PSNR {psnr:.2} dB"
            );
            pictures.push(picture);
        }
        // A flat colour comes back within a few levels at every size (a wrong matrix is off by ~10).
        let flat: Vec<u8> = [40u8, 120, 200, 255].repeat(width as usize * height as usize);
        let picture = encoder.encode(&flat, width as usize * 4, true).unwrap();
        let mut out = vec![0u8; flat.len()];
        assert!(decoder
            .decode(&picture.annexb, width, height, &mut out, width as usize * 4)
            .unwrap());
        let total: u64 = out
            .iter()
            .zip(&flat)
            .map(|(g, w)| u64::from(g.abs_diff(*w)))
            .sum();
        let worst = out.iter().zip(&flat).map(|(g, w)| g.abs_diff(*w)).max();
        let mean = total as f64 / flat.len() as f64;
        assert!(
            mean < 2.5 && worst < Some(16),
            "{width}x{height} flat: mean error {mean:.2}, worst {worst:?}"
        );
        pictures.push(picture);
        check_with_ffmpeg(&format!("odd_{width}x{height}"), &pictures, width, height);
    }
}

#[test]
fn rejects_bad_geometry() {
    let config = VideoEncoderConfig::default();
    for (w, h) in [(0, 10), (10, 0), (3841, 16), (2200, 2200), (16, 3841)] {
        assert!(matches!(
            RegionEncoder::new(w, h, &config),
            Err(VideoError::InvalidDimensions { .. })
        ));
    }
    assert!(RegionEncoder::new(2160, 3840, &config).is_ok());
    let mut encoder = RegionEncoder::new(8, 8, &config).unwrap();
    assert!(matches!(
        encoder.encode(&[0; 8 * 8 * 4], 8 * 4 - 1, false),
        Err(VideoError::InvalidStride { .. })
    ));
    assert!(matches!(
        encoder.encode(&[0; 8 * 8 * 4 - 1], 8 * 4, false),
        Err(VideoError::FrameDataTooShort { .. })
    ));
    let picture = encoder.encode(&[0; 8 * 8 * 4], 8 * 4, false).unwrap();
    let mut decoder = RegionDecoder::new().unwrap();
    let mut out = vec![0u8; 8 * 8 * 4];
    assert!(matches!(
        decoder.decode(&picture.annexb, 8, 8, &mut out[..100], 8 * 4),
        Err(VideoError::FrameDataTooShort { .. })
    ));
    assert!(matches!(
        decoder.decode(&picture.annexb, 8193, 8, &mut out, 8 * 4),
        Err(VideoError::InvalidDimensions { .. })
    ));
    // The stream is 8x8 (coded 16x16): a decoder told the region is 40x8 (coded 40x16) refuses it.
    let mut wide = vec![0u8; 40 * 8 * 4];
    assert!(matches!(
        decoder.decode(&picture.annexb, 40, 8, &mut wide, 40 * 4),
        Err(VideoError::SizeMismatch { .. })
    ));
    assert!(decoder
        .decode(&picture.annexb, 8, 8, &mut out, 8 * 4)
        .unwrap());
}

#[test]
fn keyframe_on_request_decodes_on_a_fresh_decoder() {
    let (width, height) = (160, 96);
    let stride = width as usize * 4;
    let mut encoder = RegionEncoder::new(width, height, &VideoEncoderConfig::default()).unwrap();
    let mut out = vec![0u8; stride * height as usize];
    for t in 0..12 {
        let pixels = photo_like(width, height, stride, t);
        let force = t == 5 || t == 9;
        let picture = encoder.encode(&pixels, stride, force).unwrap();
        assert_eq!(picture.keyframe, t == 0 || force, "picture {t}");
        let mut fresh = RegionDecoder::new().unwrap();
        let decoded = fresh.decode(&picture.annexb, width, height, &mut out, stride);
        if picture.keyframe {
            assert_eq!(decoded, Ok(true), "keyframe {t} on a fresh decoder");
            assert!(psnr_bgra(&pixels, &out, width, height, stride) > 30.0);
            assert!(codec_string(&picture.annexb).is_some());
        } else {
            // A delta picture without its references: no picture, or an error, never a panic.
            assert!(
                !matches!(decoded, Ok(true)),
                "delta picture {t}: {decoded:?}"
            );
        }
    }
    // Constant quality: a new ceiling takes effect without a restart.
    encoder.set_bitrate(500_000);
    assert_eq!(encoder.config().bitrate_bps, 500_000);
    let picture = encode_photo(&mut encoder, width, height, 12);
    assert!(!picture.keyframe);
}

#[test]
fn a_new_target_bit_rate_restarts_openh264_rate_control() {
    let (width, height) = (160, 96);
    let config = VideoEncoderConfig {
        quality_qp: None,
        ..VideoEncoderConfig::default()
    };
    let mut encoder = RegionEncoder::new(width, height, &config).unwrap();
    for t in 0..3 {
        encode_photo(&mut encoder, width, height, t);
    }
    // A new bit rate restarts the encoder: the next picture is a keyframe, and the stream continues.
    encoder.set_bitrate(500_000);
    assert_eq!(encoder.config().bitrate_bps, 500_000);
    let picture = encode_photo(&mut encoder, width, height, 12);
    assert!(picture.keyframe);
    let next = encode_photo(&mut encoder, width, height, 13);
    assert!(!next.keyframe);
    encoder.set_bitrate(500_000); // unchanged: no restart
    let next = encode_photo(&mut encoder, width, height, 14);
    assert!(!next.keyframe);
}

#[test]
fn periodic_keyframes() {
    let (width, height) = (64, 48);
    let config = VideoEncoderConfig {
        keyframe_interval: 4,
        ..VideoEncoderConfig::default()
    };
    let mut encoder = RegionEncoder::new(width, height, &config).unwrap();
    let keyframes: Vec<bool> = (0..9)
        .map(|t| encode_photo(&mut encoder, width, height, t).keyframe)
        .collect();
    assert_eq!(
        keyframes,
        [true, false, false, false, true, false, false, false, true]
    );
}

/// A tiny xorshift generator: deterministic "random" bytes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Writes H.264 syntax elements (bits, Exp-Golomb) into an SPS NAL unit.
#[derive(Default)]
struct BitWriter {
    bits: Vec<bool>,
}

impl BitWriter {
    fn bits(&mut self, value: u64, n: u32) -> &mut Self {
        for i in (0..n).rev() {
            self.bits.push((value >> i) & 1 == 1);
        }
        self
    }

    fn ue(&mut self, value: u64) -> &mut Self {
        let v = value + 1;
        let len = 64 - v.leading_zeros();
        self.bits(0, len - 1).bits(v, len)
    }

    /// Start code, NAL header, RBSP trailing bits; emulation prevention is added.
    fn annexb(&mut self, nal_header: u8) -> Vec<u8> {
        self.bits.push(true);
        while self.bits.len() % 8 != 0 {
            self.bits.push(false);
        }
        let mut out = vec![0, 0, 0, 1, nal_header];
        let mut zeros = 0;
        for byte in self.bits.chunks(8) {
            let b = byte
                .iter()
                .fold(0u8, |acc, &bit| (acc << 1) | u8::from(bit));
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            out.push(b);
        }
        out
    }
}

/// A baseline SPS for `width_mbs` x `height_mbs` macroblocks with an optional crop (in chroma units).
fn sps(width_mbs: u64, height_mbs: u64, crop: Option<(u64, u64)>) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.bits(66, 8).bits(0xc0, 8).bits(52, 8).ue(0); // profile, constraints, level, sps id
    w.ue(0).ue(0).ue(0); // log2_max_frame_num, poc type 0, log2_max_poc_lsb
    w.ue(1).bits(0, 1); // max_num_ref_frames, gaps
    w.ue(width_mbs - 1).ue(height_mbs - 1);
    w.bits(1, 1).bits(1, 1); // frame_mbs_only, direct_8x8_inference
    match crop {
        Some((right, bottom)) => {
            w.bits(1, 1).ue(0).ue(right).ue(0).ue(bottom);
        }
        None => {
            w.bits(0, 1);
        }
    }
    w.bits(0, 1); // no VUI
    w.annexb(0x67)
}

/// Decodes `data` and checks the outcome is contained: an error or no picture, never a panic or a
/// write outside `out`'s region.
fn feed(
    decoder: &mut RegionDecoder,
    data: &[u8],
    width: u32,
    height: u32,
) -> Result<bool, VideoError> {
    let stride = width as usize * 4;
    let mut out = vec![0u8; stride * height as usize];
    decoder.decode(data, width, height, &mut out, stride)
}

#[test]
fn malformed_input_is_rejected_or_contained() {
    let (width, height) = (96, 64);
    let mut encoder = RegionEncoder::new(width, height, &VideoEncoderConfig::default()).unwrap();
    let pictures: Vec<_> = (0..4)
        .map(|t| encode_photo(&mut encoder, width, height, t))
        .collect();
    let keyframe = &pictures[0].annexb;

    // Empty input, no start code, junk before the start code, forbidden bit, unsupported NAL types.
    let mut decoder = RegionDecoder::new().unwrap();
    for bad in [
        &[][..],
        &[1, 2, 3, 4, 5],
        &[9, 0, 0, 1, 0x65, 0x88],
        &[0, 0, 1, 0xe5, 0x88],
        &[0, 0, 1, 0x6f, 0x88],             // subset SPS (SVC)
        &[0, 0, 1, 0x74, 0x88],             // coded slice extension (SVC)
        &[0, 0, 1, 0x67, 0x42],             // truncated SPS
        &[0, 0, 1, 0x67, 0x42, 0, 0x1f, 0], // SPS cut in its Exp-Golomb fields
    ] {
        assert!(
            matches!(
                feed(&mut decoder, bad, width, height),
                Err(VideoError::Malformed(_))
            ),
            "{bad:?}"
        );
    }

    // An SPS announcing a huge picture never reaches OpenH264.
    for huge in [
        sps(8192, 8192, None),                   // 131072x131072
        sps(513, 513, None),                     // 8208x8208, over the 8192 limit
        sps(4000, 4000, Some((31_952, 31_968))), // cropped to 96x64 from 64000x64000
        sps(7, 4, Some((8, 0))),                 // cropped to 96x64 from a macroblock too many
    ] {
        let result = feed(&mut decoder, &huge, width, height);
        assert!(result.is_err(), "{result:?}");
    }
    // The right size passes the checks, and a bare SPS is no picture.
    assert_eq!(
        feed(&mut decoder, &sps(6, 4, None), width, height),
        Ok(false)
    );
    // A region claimed to be 8192x8192 with a matching SPS is allowed through the checks but still
    // produces no picture from a bare SPS.
    assert!(!matches!(
        feed(&mut decoder, &sps(512, 512, None), 8192, 8192),
        Ok(true)
    ));

    // Truncated pictures: every prefix of the keyframe, then of a delta picture after it.
    let mut decoder = RegionDecoder::new().unwrap();
    for cut in 0..keyframe.len() {
        let _ = feed(&mut decoder, &keyframe[..cut], width, height);
    }
    let mut decoder = RegionDecoder::new().unwrap();
    assert_eq!(feed(&mut decoder, keyframe, width, height), Ok(true));
    let delta = &pictures[1].annexb;
    for cut in (0..delta.len()).step_by(3) {
        let _ = feed(&mut decoder, &delta[..cut], width, height);
    }

    // Random bytes, with and without a start code in front.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut decoder = RegionDecoder::new().unwrap();
    for round in 0..400 {
        let len = (rng.next() % 600) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if round % 2 == 0 {
            data.splice(0..0, [0, 0, 0, 1]);
        }
        let _ = feed(&mut decoder, &data, width, height);
    }

    // Bit flips and overwritten bytes in valid pictures, decoded in stream order.
    for round in 0..150 {
        let mut decoder = RegionDecoder::new().unwrap();
        for (n, picture) in pictures.iter().enumerate() {
            let mut data = picture.annexb.clone();
            if round % 4 == n % 4 || n == 0 {
                for _ in 0..1 + rng.next() % 4 {
                    let at = (rng.next() as usize) % data.len();
                    if rng.next() % 2 == 0 {
                        data[at] ^= 1 << (rng.next() % 8);
                    } else {
                        data[at] = rng.next() as u8;
                    }
                }
            }
            let _ = feed(&mut decoder, &data, width, height);
        }
    }

    // After all that, a fresh keyframe still decodes on a used decoder.
    let mut decoder = RegionDecoder::new().unwrap();
    let _ = feed(
        &mut decoder,
        &[0, 0, 1, 0x65, 0xff, 0x00, 0x12],
        width,
        height,
    );
    assert_eq!(feed(&mut decoder, keyframe, width, height), Ok(true));
}

/// Writes the pictures as one Annex-B file and checks that ffmpeg decodes every picture without an
/// error, at the coded size (even, at least 16x16), with BT.709 limited-range colour signalled.
fn check_with_ffmpeg(name: &str, pictures: &[EncodedPicture], width: u32, height: u32) {
    let have = |tool: &str| Command::new(tool).arg("-version").output().is_ok();
    if !have("ffmpeg") || !have("ffprobe") {
        assert!(
            std::env::var_os("CI").is_none(),
            "ffmpeg/ffprobe missing on CI: install ffmpeg"
        );
        println!("ffmpeg not installed: skipping the ffmpeg check of {name}");
        return;
    }
    let path = temp_path(&format!("{name}.h264"));
    let stream: Vec<u8> = pictures.iter().flat_map(|p| p.annexb.clone()).collect();
    std::fs::write(&path, &stream).unwrap();

    let decode = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&decode.stderr);
    assert!(
        decode.status.success() && errors.trim().is_empty(),
        "ffmpeg decoding {name}: {errors}"
    );

    let probe = ffprobe_stream(
        &path,
        "nb_read_frames,width,height,color_space,color_range,color_primaries",
        "default=noprint_wrappers=1",
    )
    .unwrap();
    let report = String::from_utf8_lossy(&probe.stdout);
    assert!(probe.status.success(), "ffprobe {name}: {report}");
    let field = |key: &str| {
        report
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("ffprobe {name}: no {key} in {report}"))
            .to_string()
    };
    assert_eq!(
        field("nb_read_frames"),
        pictures.len().to_string(),
        "{name}"
    );
    let (coded_width, coded_height) = coded_size(width, height);
    assert_eq!(field("width"), coded_width.to_string(), "{name}");
    assert_eq!(field("height"), coded_height.to_string(), "{name}");
    assert_eq!(field("color_space"), "bt709", "{name}");
    assert_eq!(field("color_range"), "pc", "{name}");
    assert_eq!(field("color_primaries"), "bt709", "{name}");
    let _ = std::fs::remove_file(&path);
}

fn temp_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    dir.join(format!("h264_region_{}_{name}", std::process::id()))
}

#[test]
fn ci_builds_openh264_with_its_assembly() {
    // Without nasm OpenH264 encodes about 3x slower; CI installs it before the first build.
    let assembly = std::hint::black_box(OPENH264_ASSEMBLY);
    if std::env::var_os("CI").is_some() {
        assert!(
            assembly,
            "OpenH264 was built without its assembly: install nasm, then cargo clean -p openh264-sys2 -p glimpse"
        );
    } else if !assembly {
        println!("OpenH264 was built without its assembly: H.264 encoding is about 3x slower");
    }
}
