//! Real recordings (the shared corpus when present, else the bundled one) round-trip pixel-exact at
//! every frame, in every input layout the SDK accepts.
//!
//! Run time, measured on 2 cores at the dev profile's opt-level 1 with the shared corpus: 18-35 s for
//! the whole file, `video_region` (a large photo area changing every frame) ~4.5 s of it per layout. So
//! every frame of every scenario is checked; no subsampling was needed.

mod common;

use std::time::Instant;

use common::{swap_rb, with_stride};
use glimpse::{
    Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PacketKind, PixelFormat, Rect,
};
use glimpse_corpus::{Corpus, Scenario};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;

fn corpus() -> Corpus {
    match Corpus::shared() {
        Some(c) if c.at(WIDTH, HEIGHT).next().is_some() => {
            println!("corpus: shared ({})", c.dir.display());
            c
        }
        _ => {
            let c = Corpus::bundled().expect("the bundled corpus ships with the repository");
            println!("corpus: bundled ({})", c.dir.display());
            c
        }
    }
}

/// How a scenario is fed to the encoder.
#[derive(Clone, Copy, Debug)]
struct Layout {
    format: PixelFormat,
    /// Extra bytes after each row (0 = packed).
    padding: usize,
    motion: bool,
}

/// Encodes every frame of `s` laid out as `layout`, applies each packet, and compares the
/// framebuffer with the source frame. Returns the number of frames checked.
fn roundtrip(s: &Scenario, layout: Layout) -> usize {
    let mut config = EncoderConfig::default();
    config.motion_detection = layout.motion;
    // Lossless everywhere: video regions (lossy until they settle) are tested in video_regions.rs.
    config.video.enabled = false;
    let mut encoder = Encoder::new(config);
    let mut decoder = Decoder::new(DecoderConfig::with_output_format(layout.format));
    let stride = s.width as usize * 4 + layout.padding;
    let mut frames = s.frames().expect("scenario opens");
    let (mut index, mut previous): (usize, Option<Vec<u8>>) = (0, None);
    while let Some(mut bgra) = frames.next_frame().expect("frame reads") {
        if layout.format == PixelFormat::Rgba8 {
            swap_rb(&mut bgra);
        }
        // Padding bytes change every frame: they must never be taken for pixels.
        let input = if layout.padding > 0 {
            with_stride(&bgra, s.width, s.height, stride, index as u8)
        } else {
            bgra.clone()
        };
        let frame = Frame::new(&input, s.width, s.height, stride, layout.format).unwrap();
        let packet = encoder.encode(&frame).unwrap();
        match (&packet, &previous) {
            (None, None) => panic!("{}: first frame gave no packet", s.name),
            (Some(p), None) => {
                assert_eq!(p.kind(), PacketKind::Checkpoint, "{}: first packet", s.name)
            }
            (Some(p), Some(prev)) => {
                assert_eq!(
                    p.kind(),
                    PacketKind::FrameUpdate,
                    "{} frame {index}",
                    s.name
                );
                assert_ne!(
                    prev, &bgra,
                    "{} frame {index}: a packet for an unchanged frame",
                    s.name
                );
            }
            (None, Some(prev)) => assert_eq!(
                prev, &bgra,
                "{} frame {index}: changed frame gave no packet",
                s.name
            ),
        }
        if let Some(p) = packet {
            let update = decoder
                .apply(p.as_bytes())
                .unwrap_or_else(|e| panic!("{} frame {index}: {e}", s.name));
            if let Some(prev) = &previous {
                assert_damage_covers(prev, &bgra, s.width, &update.damage, &s.name, index);
            }
        }
        let fb = decoder.framebuffer().unwrap();
        assert_eq!(
            (fb.width, fb.height, fb.format),
            (s.width, s.height, layout.format)
        );
        assert!(
            fb.pixels == &bgra[..],
            "{} frame {index} ({layout:?}): framebuffer differs from the source",
            s.name
        );
        previous = Some(bgra);
        index += 1;
    }
    assert_eq!(index, s.frame_count, "{}: every frame was read", s.name);
    index
}

/// Every pixel that differs between two consecutive frames lies inside a reported damage rectangle.
fn assert_damage_covers(
    prev: &[u8],
    cur: &[u8],
    width: u32,
    damage: &[Rect],
    name: &str,
    index: usize,
) {
    let row = width as usize * 4;
    for (i, (a, b)) in prev.chunks_exact(4).zip(cur.chunks_exact(4)).enumerate() {
        if a != b {
            let (x, y) = ((i % (row / 4)) as u32, (i / (row / 4)) as u32);
            assert!(
                damage.iter().any(|r| r.contains(&Rect::new(x, y, 1, 1))),
                "{name} frame {index}: pixel {x},{y} changed outside the reported damage {damage:?}"
            );
        }
    }
}

fn run_all(layout: Layout, only: Option<&[&str]>) {
    let corpus = corpus();
    let scenarios: Vec<&Scenario> = corpus
        .at(WIDTH, HEIGHT)
        .filter(|s| only.is_none_or(|names| names.contains(&s.name.as_str())))
        .collect();
    assert!(
        !scenarios.is_empty(),
        "no 1280x720 scenario found for {only:?}"
    );
    for s in scenarios {
        let start = Instant::now();
        let n = roundtrip(s, layout);
        println!(
            "{} ({layout:?}): {n} frames checked in {:.1?}",
            s.name,
            start.elapsed()
        );
    }
}

#[test]
fn every_scenario_bgra() {
    run_all(
        Layout {
            format: PixelFormat::Bgra8,
            padding: 0,
            motion: true,
        },
        None,
    );
}

#[test]
fn every_scenario_without_motion_detection() {
    run_all(
        Layout {
            format: PixelFormat::Bgra8,
            padding: 0,
            motion: false,
        },
        None,
    );
}

#[test]
fn rgba_input_and_rgba_output() {
    // Scrolling (copies, cache) and typing (small palette tiles).
    run_all(
        Layout {
            format: PixelFormat::Rgba8,
            padding: 0,
            motion: true,
        },
        Some(&["scroll_terminal", "typing_editor"]),
    );
}

#[test]
fn padded_stride_input() {
    run_all(
        Layout {
            format: PixelFormat::Bgra8,
            padding: 52,
            motion: true,
        },
        Some(&["scroll_terminal", "idle_clock"]),
    );
}
