//! Video regions end to end: detection, H.264 pictures, exactness outside them, the lossless top-off,
//! restarts, keyframes for late joiners, malformed pictures, and no false detection on screen content.
#![cfg(feature = "h264")]

use std::process::Command;

mod common;

use common::{encode_and_apply, ffprobe_stream, packed_frame};

use glimpse::internals::{equal_outside, psnr_inside};
use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, Rect, VideoChunk};
use glimpse_corpus::Corpus;

/// A desktop: static text-like background plus a "video" rectangle whose pixels change every frame.
struct Desk {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Desk {
    fn new(width: u32, height: u32) -> Self {
        let mut pixels = vec![0u8; width as usize * height as usize * 4];
        for (i, px) in pixels.chunks_exact_mut(4).enumerate() {
            let (x, y) = (i as u32 % width, i as u32 / width);
            // Text-like rows: a few colours in small glyph-sized blocks.
            let ink = (x / 3 + y / 5 * 7) % 11 == 0 && y % 16 < 12;
            px.copy_from_slice(if ink {
                &[30, 30, 30, 255]
            } else {
                &[250, 248, 245, 255]
            });
        }
        Desk {
            width,
            height,
            pixels,
        }
    }

    /// Draws frame `t` of a smooth, photographic moving pattern into `rect`.
    fn play(&mut self, rect: Rect, t: u32) {
        for y in rect.y..rect.bottom() {
            for x in rect.x..rect.right() {
                let (fx, fy) = ((x - rect.x) as f32, (y - rect.y) as f32);
                let tt = t as f32;
                let r = 128.0 + 100.0 * ((fx + 3.0 * tt) / 37.0).sin() * ((fy - tt) / 53.0).cos();
                let g = 128.0 + 90.0 * ((fx * 0.7 + fy * 0.4 + 5.0 * tt) / 29.0).sin();
                let b = 128.0 + 110.0 * (((fx - 60.0).hypot(fy - 40.0) - 4.0 * tt) / 23.0).cos();
                let i = (y * self.width + x) as usize * 4;
                self.pixels[i..i + 4].copy_from_slice(&[b as u8, g as u8, r as u8, 255]);
            }
        }
    }

    fn frame(&self) -> Frame<'_> {
        packed_frame(&self.pixels, self.width, self.height)
    }
}

/// What a viewer saw of one run.
#[derive(Default)]
struct Seen {
    chunks: Vec<VideoChunk>,
    min_psnr: f64,
    frames_with_video: u32,
    settled_after: Option<u32>,
}

/// Plays `frames_playing` frames of video in `rect(t)`, then holds the last frame; checks exactness
/// outside the lossy tiles at every frame and returns what the viewer saw.
fn run(
    desk: &mut Desk,
    rect: impl Fn(u32) -> Rect,
    frames_playing: u32,
    config: EncoderConfig,
) -> Seen {
    let mut encoder = Encoder::new(config);
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut seen = Seen {
        min_psnr: 99.0,
        ..Seen::default()
    };
    let bound = encoder.top_off_bound_frames();
    for t in 0..frames_playing + bound + 2 {
        if t < frames_playing {
            desk.play(rect(t), t);
        }
        if let Some(p) = encoder.encode(&desk.frame()).unwrap() {
            let update = decoder.apply(p.as_bytes()).unwrap();
            assert_eq!(update.video_errors, 0);
            seen.chunks.extend(update.video);
        }
        let fb = decoder.framebuffer().unwrap().pixels;
        let lossy = encoder.lossy_rects();
        assert!(
            equal_outside(fb, &desk.pixels, desk.width, &lossy),
            "frame {t}: a pixel outside the video differs"
        );
        if !lossy.is_empty() {
            seen.frames_with_video += 1;
            seen.min_psnr = seen
                .min_psnr
                .min(psnr_inside(fb, &desk.pixels, desk.width, &lossy));
            assert_eq!(
                encoder.stats().lossy_pixels,
                lossy.iter().map(|r| r.area()).sum::<u64>()
            );
        }
        if t >= frames_playing && seen.settled_after.is_none() && fb == &desk.pixels[..] {
            seen.settled_after = Some(t + 1 - frames_playing);
        }
    }
    seen
}

#[test]
fn video_at_the_screen_edge_goes_h264_and_settles_exact() {
    let mut desk = Desk::new(1000, 563);
    // Odd size, touching the right and bottom edges.
    let video = Rect::new(613, 377, 387, 186);
    let seen = run(&mut desk, |_| video, 30, EncoderConfig::default());
    assert!(
        seen.frames_with_video >= 20,
        "video detected in {} frames",
        seen.frames_with_video
    );
    assert!(seen.chunks[0].keyframe && seen.chunks.iter().all(|c| c.drawn));
    println!(
        "synthetic video: min PSNR {:.2} dB over {} frames",
        seen.min_psnr, seen.frames_with_video
    );
    assert!(seen.min_psnr > 32.0, "PSNR {:.2}", seen.min_psnr);
    let bound = EncoderConfig::default().video.settle_frames + 1;
    let settled = seen
        .settled_after
        .expect("the viewer became exact after the video stopped");
    assert!(
        settled <= bound,
        "exact {settled} frames after the last change, bound {bound}"
    );
    // The region covers the video (tile-aligned) and nothing far from it.
    let r = seen.chunks[0].rect;
    assert!(r.contains(&Rect::new(640, 384, 360, 179)), "{r:?}");
    assert!(r.x >= 576 && r.y >= 320, "{r:?}");
    ffmpeg_decodes_every_picture(&seen.chunks);
}

/// Writes one region's pictures to a file and asks ffmpeg to decode every frame.
fn ffmpeg_decodes_every_picture(chunks: &[VideoChunk]) {
    let region = chunks[0].region;
    let stream: Vec<u8> = chunks
        .iter()
        .filter(|c| c.region == region)
        .flat_map(|c| c.data.clone())
        .collect();
    let pictures = chunks.iter().filter(|c| c.region == region).count();
    // One file per call: tests run on several threads of one process.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("glimpse-region-{}-{call}.h264", std::process::id()));
    std::fs::write(&path, &stream).unwrap();
    let probe = ffprobe_stream(&path, "nb_read_frames", "csv=p=0");
    let Ok(probe) = probe else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have ffmpeg installed"
        );
        println!("ffmpeg not installed: skipped the ffmpeg check");
        return;
    };
    let decode = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    assert!(
        decode.status.success() && decode.stderr.is_empty(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&decode.stderr)
    );
    let frames: usize = String::from_utf8_lossy(&probe.stdout)
        .trim()
        .parse()
        .expect("ffprobe frame count");
    assert_eq!(
        frames, pictures,
        "ffmpeg decoded {frames} of {pictures} pictures"
    );
}

#[test]
fn a_region_that_grows_restarts_and_stays_exact_outside() {
    let mut desk = Desk::new(960, 540);
    let rect = |t: u32| {
        if t < 15 {
            Rect::new(130, 70, 256, 192)
        } else {
            Rect::new(130, 70, 400, 300)
        }
    };
    let seen = run(&mut desk, rect, 30, EncoderConfig::default());
    let regions: Vec<(u32, Rect)> = seen.chunks.iter().map(|c| (c.region, c.rect)).collect();
    let first = regions[0];
    let last = *regions.last().unwrap();
    assert_ne!(first.0, last.0, "a resized region restarts under a new id");
    assert!(last.1.area() > first.1.area());
    let restart = seen.chunks.iter().find(|c| c.region == last.0).unwrap();
    assert!(
        restart.keyframe,
        "a restarted region begins with a keyframe"
    );
    assert!(seen.settled_after.is_some());
}

#[test]
fn a_region_with_edges_inside_tiles_settles_exact_and_goes_quiet() {
    // Found by the property test: noise that scrolls by a row from row 13 down (a block copied
    // into it too) starts a region at once (photographic on both sides). Its top-off sends the lossy part of each top tile only
    // (rows 13..64), which never counted as exact: those tiles were sent again every frame, forever.
    let (w, h) = (171u32, 88u32);
    let mut screen = common::Screen::new(w, h, 0xff00_0000);
    screen.noise(screen.bounds(), 3_455_865_113_658_525_358, 0);
    let mut config = EncoderConfig::default();
    config.motion_detection = false;
    config.cache_tiles = 0;
    let mut encoder = Encoder::new(config);
    let mut decoder = Decoder::new(DecoderConfig::default());
    encode_and_apply(
        &mut encoder,
        &mut decoder,
        &packed_frame(&screen.bgra(), w, h),
    );
    screen.copy(Rect::new(0, 13, w, 66), 0, 14);
    screen.noise(Rect::new(0, 13, w, 1), 0, 3);
    screen.copy(Rect::new(0, 14, 22, 57), 107, 31);
    let pixels = screen.bgra();
    let frame = packed_frame(&pixels, w, h);
    encode_and_apply(&mut encoder, &mut decoder, &frame);
    let lossy = encoder.lossy_rects();
    assert!(
        lossy.iter().any(|r| r.y % 64 != 0),
        "a region with an edge inside a tile: {lossy:?}"
    );
    for _ in 0..encoder.top_off_bound_frames() {
        encode_and_apply(&mut encoder, &mut decoder, &frame);
    }
    assert_eq!(
        encoder.stats().lossy_pixels,
        0,
        "{:?}",
        encoder.lossy_rects()
    );
    assert_eq!(decoder.framebuffer().unwrap().pixels, &pixels[..]);
    assert!(
        encoder.encode(&frame).unwrap().is_none(),
        "a settled, unchanged screen sends nothing"
    );
}

#[test]
fn video_off_sends_everything_lossless() {
    let mut desk = Desk::new(640, 360);
    let mut config = EncoderConfig::default();
    config.video.enabled = false;
    let seen = run(&mut desk, |_| Rect::new(64, 64, 320, 200), 12, config);
    assert!(seen.chunks.is_empty());
    assert_eq!(seen.frames_with_video, 0);
    assert_eq!(seen.settled_after, Some(1), "exact at every frame");
}

#[test]
fn a_late_joiner_gets_a_keyframe_and_converges() {
    let mut desk = Desk::new(640, 360);
    let video = Rect::new(128, 64, 256, 192);
    let mut encoder = Encoder::new(EncoderConfig::default());
    let mut early = Decoder::new(DecoderConfig::default());
    let mut late: Option<Decoder> = None;
    let mut late_chunks = Vec::new();
    for t in 0..40 {
        if t < 30 {
            desk.play(video, t);
        }
        if let Some(p) = encoder.encode(&desk.frame()).unwrap() {
            early.apply(p.as_bytes()).unwrap();
            if let Some(d) = late.as_mut() {
                late_chunks.extend(d.apply(p.as_bytes()).unwrap().video);
            }
        }
        if t == 15 {
            assert!(
                !encoder.lossy_rects().is_empty(),
                "video is playing at the join"
            );
            let mut d = Decoder::new(DecoderConfig::default());
            d.apply(encoder.checkpoint().unwrap().as_bytes()).unwrap();
            // The checkpoint itself is exact.
            assert_eq!(d.framebuffer().unwrap().pixels, &desk.pixels[..]);
            late = Some(d);
        }
    }
    assert!(late_chunks[0].keyframe && late_chunks.iter().all(|c| c.drawn));
    let late = late.unwrap();
    assert_eq!(late.framebuffer().unwrap().pixels, &desk.pixels[..]);
    assert_eq!(early.framebuffer().unwrap().pixels, &desk.pixels[..]);
}

#[test]
fn malformed_pictures_are_contained() {
    let mut desk = Desk::new(640, 360);
    let video = Rect::new(64, 64, 320, 192);
    let mut encoder = Encoder::new(EncoderConfig::default());
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut probe = Decoder::new(DecoderConfig::default());
    let mut corrupted = 0;
    for t in 0..40u32 {
        if t < 30 {
            desk.play(video, t);
            // Something outside the video changes too: it must keep updating.
            let i = ((20 * desk.width + t * 7) * 4) as usize;
            desk.pixels[i..i + 4].copy_from_slice(&[0, 0, 255, 255]);
        }
        let Some(p) = encoder.encode(&desk.frame()).unwrap() else {
            continue;
        };
        let update = probe.apply(p.as_bytes()).unwrap();
        let mut bytes = p.as_bytes().to_vec();
        if let Some(chunk) = update.video.first().filter(|_| t % 3 == 0) {
            // Overwrite the picture's slice data (after its first NAL headers) with garbage.
            let at = bytes
                .windows(chunk.data.len())
                .position(|w| w == &chunk.data[..])
                .unwrap();
            let garbage_from = at + chunk.data.len().min(40);
            for (k, b) in bytes[garbage_from..at + chunk.data.len()]
                .iter_mut()
                .enumerate()
            {
                *b = (k as u8).wrapping_mul(37) ^ 0x5a;
            }
            corrupted += 1;
        }
        let update = decoder
            .apply(&bytes)
            .expect("a bad picture does not reject the update");
        let fb = decoder.framebuffer().unwrap().pixels;
        assert!(
            equal_outside(fb, &desk.pixels, desk.width, &encoder.lossy_rects()),
            "frame {t}"
        );
        let _ = update.video_errors;
    }
    assert!(corrupted > 3);
    // Once settled, the top-off repairs the region whatever the bad pictures did.
    assert_eq!(decoder.framebuffer().unwrap().pixels, &desk.pixels[..]);
}

#[test]
fn recordings_without_video_never_start_a_region() {
    let corpus = Corpus::shared_or_bundled().unwrap();
    let mut checked = 0;
    // The manifest says which recordings play a video (category "d"); every other one is screen
    // content that must stay lossless.
    for s in corpus.at(1280, 720).filter(|s| !s.holds_video()) {
        let mut encoder = Encoder::new(EncoderConfig::default());
        let mut reader = s.frames().unwrap();
        while let Some(f) = reader.next_frame().unwrap() {
            encoder
                .encode(&packed_frame(&f, s.width, s.height))
                .unwrap();
        }
        assert_eq!(
            encoder.stats().video_pictures,
            0,
            "{}: false video detection",
            s.name
        );
        checked += 1;
    }
    assert!(checked >= 5);
}

#[test]
fn the_video_region_recording_goes_h264_with_exact_surroundings() {
    let Some(corpus) = Corpus::shared() else {
        println!("../shared/corpus absent: the video_region recording is not bundled; skipped");
        return;
    };
    let s = corpus
        .at(1280, 720)
        .find(|s| s.name == "video_region")
        .expect("video_region in the corpus");
    let frames = s.load_all().unwrap();
    let mut encoder = Encoder::new(EncoderConfig::default());
    let mut decoder = Decoder::new(DecoderConfig::default());
    let (mut psnr_sum, mut psnr_n) = (0.0, 0);
    let mut chunks = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let frame = packed_frame(f, s.width, s.height);
        if let Some(p) = encoder.encode(&frame).unwrap() {
            chunks.extend(decoder.apply(p.as_bytes()).unwrap().video);
        }
        let fb = decoder.framebuffer().unwrap().pixels;
        let lossy = encoder.lossy_rects();
        assert!(
            equal_outside(fb, f, s.width, &lossy),
            "frame {i}: a pixel outside the video differs"
        );
        if !lossy.is_empty() {
            psnr_sum += psnr_inside(fb, f, s.width, &lossy);
            psnr_n += 1;
        }
    }
    let psnr = psnr_sum / f64::from(psnr_n);
    println!(
        "video_region 1280x720: {} pictures, {} frames lossy, mean PSNR {psnr:.2} dB",
        chunks.len(),
        psnr_n
    );
    assert!(psnr_n > 50 && psnr > 32.0);
    // The recording ends: repeat the last frame; exact within the bound.
    let last = frames.last().unwrap();
    let frame = packed_frame(last, s.width, s.height);
    let bound = encoder.top_off_bound_frames();
    for _ in 0..bound {
        encode_and_apply(&mut encoder, &mut decoder, &frame);
    }
    assert_eq!(
        decoder.framebuffer().unwrap().pixels,
        &last[..],
        "not exact {bound} frames after the end"
    );
    assert_eq!(encoder.stats().lossy_pixels, 0);
    ffmpeg_decodes_every_picture(&chunks);
}

#[test]
fn recordings_with_video_go_h264_from_their_first_change() {
    let Some(corpus) = Corpus::shared() else {
        println!("../shared/corpus absent: its video recordings are not bundled; skipped");
        return;
    };
    let mut checked = 0;
    for s in corpus.at(1280, 720).filter(|s| s.holds_video()) {
        let mut encoder = Encoder::new(EncoderConfig::default());
        let mut decoder = Decoder::new(DecoderConfig::default());
        let mut reader = s.frames().unwrap();
        let mut prev: Option<Vec<u8>> = None;
        let (mut changed, mut in_video, mut first_picture) = (0u64, 0u64, None);
        let mut t = 0;
        while let Some(f) = reader.next_frame().unwrap() {
            let frame = packed_frame(&f, s.width, s.height);
            let rects: Vec<Rect> = match encoder.encode(&frame).unwrap() {
                Some(p) => decoder
                    .apply(p.as_bytes())
                    .unwrap()
                    .video
                    .iter()
                    .map(|c| c.rect)
                    .collect(),
                None => Vec::new(),
            };
            if !rects.is_empty() && first_picture.is_none() {
                first_picture = Some(t);
            }
            if let Some(prev) = &prev {
                for (i, (a, b)) in prev.chunks_exact(4).zip(f.chunks_exact(4)).enumerate() {
                    if a != b {
                        changed += 1;
                        let p = Rect::new(i as u32 % s.width, i as u32 / s.width, 1, 1);
                        in_video += u64::from(rects.iter().any(|r| r.contains(&p)));
                    }
                }
            }
            let fb = decoder.framebuffer().unwrap().pixels;
            assert!(
                equal_outside(fb, &f, s.width, &encoder.lossy_rects()),
                "{} frame {t}: a pixel outside the video differs",
                s.name
            );
            prev = Some(f);
            t += 1;
        }
        let share = in_video as f64 / changed as f64;
        println!(
            "{}: first picture at frame {first_picture:?}, {:.1}% of the changed pixels as video",
            s.name,
            share * 100.0
        );
        // A film playing from the start is video from the first frame that changes.
        assert_eq!(first_picture, Some(1), "{}", s.name);
        assert!(share >= 0.9, "{}: {:.1}%", s.name, share * 100.0);
        checked += 1;
    }
    assert!(
        checked >= 2,
        "the shared corpus has video_region and fullscreen_video"
    );
}

#[test]
fn a_letterboxed_film_goes_as_the_whole_screen_and_a_panel_stays_exact() {
    // A film played full screen: pillarbox bars (black) left and right.
    let mut desk = Desk::new(640, 360);
    desk.pixels
        .chunks_exact_mut(4)
        .for_each(|px| px.copy_from_slice(&[0, 0, 0, 255]));
    let film = Rect::new(100, 0, 440, 360);
    let seen = run(&mut desk, |_| film, 12, EncoderConfig::default());
    let screen = Rect::new(0, 0, 640, 360);
    assert!(!seen.chunks.is_empty());
    assert!(
        seen.chunks.iter().all(|c| c.rect == screen),
        "{:?}",
        seen.chunks[0].rect
    );
    // The same film above a panel (text, not one colour): the panel is no bar, it stays out of the
    // pictures and exact (`run` checks every pixel outside the lossy ones at every frame).
    let mut desk = Desk::new(640, 360);
    for (i, px) in desk.pixels.chunks_exact_mut(4).enumerate() {
        if i / 640 < 330 {
            px.copy_from_slice(&[0, 0, 0, 255]);
        }
    }
    let film = Rect::new(100, 0, 440, 330);
    let seen = run(&mut desk, |_| film, 12, EncoderConfig::default());
    assert!(!seen.chunks.is_empty());
    assert!(
        seen.chunks.iter().all(|c| c.rect.bottom() <= 330),
        "{:?}",
        seen.chunks[0].rect
    );
    assert!(seen.settled_after.is_some());
}
