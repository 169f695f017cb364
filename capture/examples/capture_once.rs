//! Opens the desktop's screen (the Wayland portal, X11 or the demo scene, as `open` picks), says
//! which backend it uses, captures frames, prints their size and damage, and writes the last one
//! as a binary PPM.
//!
//! ```text
//! cargo run -p glimpse-capture --example capture_once -- [OPTIONS] shot.ppm [FRAMES]
//!   --list-monitors      list the monitors and stop
//!   --monitor N          share monitor N (X11: crops to it; Wayland: the portal's dialog picks)
//!   --window             share one window (Wayland: picked in the portal's dialog)
//!   --backend NAME       portal, x11 or demo (default: pick)
//!   --token-file PATH    where the portal's restore token lives
//! ```
//! With `FRAMES` > 1 it captures that many frames, 100 ms apart, and writes the last one.

use glimpse_capture::{list_monitors, open, BackendChoice, CaptureOptions, Selection};
use std::io::Write;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut options = CaptureOptions::default();
    let mut positional = Vec::new();
    let mut list = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--list-monitors" => list = true,
            "--monitor" => options.selection = Selection::Monitor(value()?.parse()?),
            "--window" => options.selection = Selection::Window,
            "--backend" => {
                options.backend = match value()?.as_str() {
                    "portal" => BackendChoice::Portal,
                    "x11" => BackendChoice::X11,
                    "demo" => BackendChoice::Demo,
                    other => return Err(format!("unknown backend {other}").into()),
                }
            }
            "--token-file" => options.restore_token_file = Some(value()?.into()),
            _ => positional.push(arg),
        }
    }
    if list {
        for m in list_monitors(&options)? {
            let primary = if m.primary { " (primary)" } else { "" };
            println!(
                "{}: {} {}x{}+{}+{}{primary}",
                m.index, m.name, m.width, m.height, m.x, m.y
            );
        }
        return Ok(());
    }
    let mut positional = positional.into_iter();
    let path = positional
        .next()
        .ok_or("usage: capture_once [OPTIONS] OUTPUT.ppm [FRAMES]")?;
    let frames: u32 = positional
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1)
        .max(1);
    let mut opened = open(&options)?;
    println!("backend: {} ({})", opened.backend.name(), opened.backend);
    for note in &opened.notes {
        println!("note: {note}");
    }
    let source = &mut opened.source;
    println!("source: {}, size {:?}", source.kind(), source.size());
    for i in 0..frames {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        let start = Instant::now();
        let frame = source.capture()?;
        let took = start.elapsed();
        let damage = match &frame.damage {
            None => "unknown (compare everything)".to_string(),
            Some(rects) => format!("{} rects {:?}", rects.len(), &rects[..rects.len().min(4)]),
        };
        println!(
            "frame {i}: {}x{} stride {} {:?} in {took:.2?}, damage: {damage}",
            frame.width, frame.height, frame.stride, frame.format
        );
        if i + 1 == frames {
            write_ppm(&path, &frame)?;
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

fn write_ppm(
    path: &str,
    frame: &glimpse_capture::CapturedFrame<'_>,
) -> Result<(), Box<dyn std::error::Error>> {
    let (r, b) = match frame.format {
        glimpse::PixelFormat::Rgba8 => (0, 2),
        _ => (2, 0),
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    write!(out, "P6\n{} {}\n255\n", frame.width, frame.height)?;
    for row in frame
        .pixels
        .chunks(frame.stride)
        .take(frame.height as usize)
    {
        for px in row[..frame.width as usize * 4].chunks_exact(4) {
            out.write_all(&[px[r], px[1], px[b]])?;
        }
    }
    out.flush()?;
    Ok(())
}
