//! Opens the default screen source (X11 when `DISPLAY` works, the demo otherwise), captures one
//! frame, prints its size and damage, and writes it as a binary PPM.
//!
//! `cargo run -p glimpse-capture --example capture_once -- shot.ppm [frames]`
//! With `frames` > 1 it captures that many frames and writes the last one.

use glimpse_capture::open_default;
use std::io::Write;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: capture_once OUTPUT.ppm [FRAMES]")?;
    let frames: u32 = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1)
        .max(1);
    let mut source = open_default()?;
    println!("source: {}, size {:?}", source.kind(), source.size());
    for i in 0..frames {
        let start = Instant::now();
        let frame = source.capture()?;
        let took = start.elapsed();
        let damage = match &frame.damage {
            None => "unknown (compare everything)".to_string(),
            Some(rects) => format!("{} rects {:?}", rects.len(), &rects[..rects.len().min(4)]),
        };
        println!(
            "frame {i}: {}x{} stride {} in {took:.2?}, damage: {damage}",
            frame.width, frame.height, frame.stride
        );
        if i + 1 == frames {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
            write!(out, "P6\n{} {}\n255\n", frame.width, frame.height)?;
            for row in frame
                .pixels
                .chunks(frame.stride)
                .take(frame.height as usize)
            {
                for px in row[..frame.width as usize * 4].chunks_exact(4) {
                    out.write_all(&[px[2], px[1], px[0]])?;
                }
            }
            out.flush()?;
        }
    }
    if let Some(cursor) = source.cursor()? {
        println!(
            "cursor at {},{} visible {} shape {:?}",
            cursor.x,
            cursor.y,
            cursor.visible,
            cursor.shape.map(|s| (s.width, s.height, s.serial))
        );
    }
    println!("wrote {path}");
    Ok(())
}
