//! Encoding a screen with a playing video: video regions (H.264 where the video is, lossless elsewhere)
//! against the lossless-only baseline on the same frames.
//!
//! `cargo bench --bench video`. Uses the `video_region` recording of `../shared/corpus` (1920x1080 when
//! present); without the shared corpus it synthesizes a 1280x720 screen with a moving photographic area.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use glimpse::{Encoder, EncoderConfig, Frame, PixelFormat};
use glimpse_corpus::Corpus;

fn frames() -> (u32, u32, Vec<Vec<u8>>) {
    if let Some(corpus) = Corpus::shared() {
        let s = corpus
            .scenarios
            .iter()
            .filter(|s| s.name == "video_region")
            .max_by_key(|s| s.width)
            .expect("video_region");
        let mut reader = s.frames().expect("frames");
        let mut frames = Vec::new();
        while let (Some(f), true) = (reader.next_frame().expect("frame"), frames.len() < 30) {
            frames.push(f);
        }
        return (s.width, s.height, frames);
    }
    let (w, h) = (1280u32, 720u32);
    let frames = (0..30)
        .map(|t| {
            let mut px = vec![245u8; (w * h * 4) as usize];
            for y in 100..452u32 {
                for x in 600..1080u32 {
                    let i = ((y * w + x) * 4) as usize;
                    let v = ((x as f32 + 4.0 * t as f32) / 17.0).sin()
                        * ((y as f32 - 2.0 * t as f32) / 23.0).cos();
                    px[i..i + 4].copy_from_slice(&[
                        (128.0 + 100.0 * v) as u8,
                        (x + t) as u8,
                        (y * 2) as u8,
                        255,
                    ]);
                }
            }
            px
        })
        .collect();
    (w, h, frames)
}

fn bench(c: &mut Criterion) {
    let (w, h, frames) = frames();
    // Warm encoders up to the point where the region is detected, then measure the next frames.
    let warm = 8;
    let mut g = c.benchmark_group(format!("video_{w}x{h}_encode_frame"));
    g.sample_size(10);
    for (name, video) in [
        ("glimpse_video_regions", true),
        ("baseline_lossless_only", false),
    ] {
        let mut config = EncoderConfig::default();
        config.video.enabled = video;
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut e = Encoder::new(config);
                    for f in &frames[..warm] {
                        e.encode(&Frame::new(f, w, h, w as usize * 4, PixelFormat::Bgra8).unwrap())
                            .unwrap();
                    }
                    e
                },
                |mut e| {
                    let mut bytes = 0;
                    for f in &frames[warm..warm + 10] {
                        let frame =
                            Frame::new(f, w, h, w as usize * 4, PixelFormat::Bgra8).unwrap();
                        bytes += e.encode(&frame).unwrap().map_or(0, |p| p.len());
                    }
                    bytes
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
