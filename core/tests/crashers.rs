//! Replays every fuzz crasher kept in `core/tests/crashers/` (see its README.md) through the decoder:
//! none may panic, and a rejected packet must leave the decoder unchanged.

mod common;

use std::path::{Path, PathBuf};

use common::snapshot;
use glimpse::protocol::read_framed;
use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PixelFormat};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.file_name().is_some_and(|n| n != "README.md") {
            out.push(path);
        }
    }
}

/// A decoder holding a real session (a small synthetic screen).
fn primed() -> Decoder {
    let (w, h) = (96u32, 80u32);
    let px: Vec<u8> = (0..w * h * 4).map(|i| (i / 4 % 7 * 30) as u8 | 3).collect();
    let mut encoder = Encoder::new(EncoderConfig::default());
    let mut d = Decoder::new(DecoderConfig::default());
    let p = encoder
        .encode(&Frame::new(&px, w, h, w as usize * 4, PixelFormat::Bgra8).unwrap())
        .unwrap()
        .unwrap();
    d.apply(p.as_bytes()).unwrap();
    d
}

fn apply_checked(d: &mut Decoder, packet: &[u8], name: &str) {
    let before = snapshot(d);
    if d.apply(packet).is_err() {
        assert!(
            snapshot(d) == before,
            "{name}: a rejected packet changed the decoder"
        );
    }
}

#[test]
fn replay_crashers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crashers");
    assert!(
        dir.join("README.md").is_file(),
        "crasher directory not found at {}",
        dir.display()
    );
    let mut found = Vec::new();
    files(&dir, &mut found);
    assert!(
        !found.is_empty(),
        "no crasher files under {}",
        dir.display()
    );
    for path in &found {
        let name = path.strip_prefix(&dir).unwrap().display().to_string();
        let data = std::fs::read(path).unwrap();
        apply_checked(&mut Decoder::new(DecoderConfig::default()), &data, &name);
        for mut d in [Decoder::new(DecoderConfig::default()), primed()] {
            for packet in read_framed(&data).flatten() {
                apply_checked(&mut d, packet, &name);
            }
        }
        println!("{name}: {} bytes replayed", data.len());
    }
}
