//! Recordings played as a host's screen, and what viewers must end on: shared by the live tests
//! (`tests/live`) and the cluster tests (`tests/cluster`), which include this file.
#![allow(dead_code)] // each test uses part of it

use std::time::{Duration, Instant};

use glimpse::{EncoderConfig, Frame, PixelFormat};
use glimpse_connect::{ControlPolicy, Host, HostConfig, Screen, Viewer};

pub const WIDTH: u32 = 1280;
pub const HEIGHT: u32 = 720;

/// The frames of a bundled recording (1280x720, BGRA rows packed).
pub fn recording(name: &str, frames: usize) -> Vec<Vec<u8>> {
    let corpus = glimpse_corpus::Corpus::bundled().expect("testdata/corpus");
    let scenario = corpus
        .scenarios
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no recording {name}"));
    let mut reader = scenario.frames().expect("frames");
    let mut out = Vec::new();
    while out.len() < frames {
        match reader.next_frame().expect("frame") {
            Some(f) => out.push(f),
            None => break,
        }
    }
    out
}

/// A host through the Rust API, named `name`, that sends exact pixels (no video), so that
/// screens compare.
pub fn exact_host(relay_url: &str, policy: ControlPolicy, name: &str) -> Host {
    let mut config = HostConfig::new(relay_url);
    config.policy = policy;
    config.name = name.into();
    let mut encoder = EncoderConfig::default();
    encoder.video.enabled = false;
    config.encoder = encoder;
    Host::connect(config).expect("host connects")
}

/// One frame of a recording as a [`Frame`] (1280x720, BGRA rows packed).
pub fn bgra_frame(pixels: &[u8]) -> Frame<'_> {
    Frame::new(
        pixels,
        WIDTH,
        HEIGHT,
        WIDTH as usize * 4,
        PixelFormat::Bgra8,
    )
    .expect("frame")
}

/// The screen a viewer shows when it is at `pixels` (a frame of a recording).
pub fn screen(pixels: Vec<u8>) -> Screen {
    Screen {
        width: WIDTH,
        height: HEIGHT,
        pixels,
    }
}

/// Waits until the viewer shows `expected` exactly.
pub fn wait_exact(viewer: &Viewer, expected: &Screen, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    loop {
        if viewer.screen().as_ref() == Some(expected) {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
