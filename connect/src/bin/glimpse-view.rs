//! `glimpse-view`: a native viewer for scripts and terminals.
//!
//! `glimpse-view --relay URL --code CODE [--seconds N] [--snapshot FILE.png] [--stats FILE.json]`
//! joins the session, follows it (reconnecting after drops), and exits 0 after N seconds or when
//! the host ends the session; 1 when it could not join or the session was lost; 2 for bad
//! arguments. With `--expect FILE` (BGRA rows packed, or a PNG) it checks the last screen against
//! it and exits 3 when they differ.

#[path = "common/logs.rs"]
mod logs;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use glimpse_connect::{
    ClientTls, ConnectError, JoinCode, Screen, Viewer, ViewerConfig, ViewerEvent, ViewerStats,
};

/// Watch a Glimpse session from a terminal.
#[derive(Parser, Debug)]
#[command(name = "glimpse-view", version, about)]
struct Args {
    /// The relay (ws://HOST:PORT, wss://..., or its http(s) page URL).
    #[arg(long)]
    relay: String,
    /// The code the host gave (123 456 7890).
    #[arg(long, alias = "key")]
    code: String,
    /// A name the host sees.
    #[arg(long, default_value = "glimpse-view")]
    name: String,
    /// Trust this PEM certificate (CA or self-signed) for wss://, besides the system's.
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    /// Leave after N seconds (default: stay until the host ends the session).
    #[arg(long)]
    seconds: Option<f64>,
    /// Write the last screen as PNG.
    #[arg(long, value_name = "FILE.png")]
    snapshot: Option<PathBuf>,
    /// Write a JSON summary (frames, bytes, join ms, latency p50/p95, checks).
    #[arg(long, value_name = "FILE.json")]
    stats: Option<PathBuf>,
    /// Compare the last screen with this image (BGRA rows packed with --expect-size, or PNG).
    #[arg(long, value_name = "FILE")]
    expect: Option<PathBuf>,
    /// WIDTHxHEIGHT of a raw --expect file.
    #[arg(long, value_name = "WxH")]
    expect_size: Option<String>,
    /// Print every event.
    #[arg(long, short)]
    verbose: bool,
}

fn main() {
    let args = Args::parse();
    logs::init("warn", false);
    let code = match JoinCode::parse(&args.code) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("glimpse-view: {e}");
            std::process::exit(2);
        }
    };
    std::process::exit(run(&args, code));
}

fn run(args: &Args, code: JoinCode) -> i32 {
    let started = Instant::now();
    let mut config = ViewerConfig::new(&args.relay, code);
    config.name = args.name.clone();
    config.tls = ClientTls {
        ca_cert: args.ca_cert.clone(),
        only_ca_cert: false,
    };
    let viewer = match Viewer::join(config) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("glimpse-view: cannot join: {e}");
            write_stats(args, None, &ViewerStats::default(), Some(&e), None);
            return 1;
        }
    };
    println!("glimpse-view: joined session {}", code.lookup());
    let deadline = args.seconds.map(|s| started + Duration::from_secs_f64(s));
    let mut ended: Option<ConnectError> = None;
    loop {
        let left = deadline.map_or(Duration::from_millis(200), |d| {
            d.saturating_duration_since(Instant::now())
        });
        if deadline.is_some() && left.is_zero() {
            break;
        }
        match viewer.next_event(left.min(Duration::from_millis(200))) {
            Some(ViewerEvent::Ended(e)) => {
                ended = Some(e);
                break;
            }
            Some(ViewerEvent::Screen { .. }) | None => {}
            Some(event) if args.verbose => println!("glimpse-view: {event:?}"),
            Some(ViewerEvent::Reconnecting { reason }) => {
                println!("glimpse-view: connection lost ({reason}); reconnecting")
            }
            Some(_) => {}
        }
    }
    let screen = viewer.screen();
    let stats = viewer.stats();
    viewer.close();
    let mut code = match &ended {
        Some(ConnectError::SessionEnded(reason)) => {
            println!("glimpse-view: the session ended: {reason}");
            0
        }
        Some(e) => {
            eprintln!("glimpse-view: {e}");
            1
        }
        None => 0,
    };
    if let (Some(path), Some(screen)) = (&args.snapshot, &screen) {
        if let Err(e) = write_png(path, screen) {
            eprintln!("glimpse-view: cannot write {}: {e}", path.display());
            code = code.max(1);
        }
    }
    let exact = args
        .expect
        .as_ref()
        .map(|path| match load_expected(path, args) {
            Ok(expected) => screen.as_ref() == Some(&expected),
            Err(e) => {
                eprintln!("glimpse-view: cannot read {}: {e}", path.display());
                false
            }
        });
    if exact == Some(false) {
        eprintln!("glimpse-view: the last screen differs from the expected image");
        code = 3;
    }
    write_stats(args, screen.as_ref(), &stats, ended.as_ref(), exact);
    println!(
        "glimpse-view: {} updates, {} checkpoints, {} bytes, {} decode errors, {} reconnects",
        stats.updates, stats.checkpoints, stats.bytes, stats.decode_errors, stats.reconnects
    );
    code
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((p / 100.0) * (v.len() - 1) as f64).round() as usize]
}

fn write_stats(
    args: &Args,
    screen: Option<&Screen>,
    s: &ViewerStats,
    ended: Option<&ConnectError>,
    exact: Option<bool>,
) {
    let Some(path) = &args.stats else { return };
    let json = serde_json::json!({
        "frames": s.updates + s.checkpoints,
        "updates": s.updates,
        "checkpoints": s.checkpoints,
        "packets": s.packets,
        "bytes": s.bytes,
        "join_ms": s.join_ms,
        "first_screen_ms": s.first_screen_ms,
        "latency_ms_p50": percentile(&s.latencies_ms, 50.0),
        "latency_ms_p95": percentile(&s.latencies_ms, 95.0),
        "decode_errors": s.decode_errors,
        "refused_packets": s.refused_packets,
        "reconnects": s.reconnects,
        "last_seq": s.last_seq,
        "screen": screen.map(|s| format!("{}x{}", s.width, s.height)),
        "pixel_exact": exact,
        "ended": ended.map(|e| e.to_string()),
        "applied": s.applied.iter().map(|(seq, at)| [*seq as f64, *at]).collect::<Vec<_>>(),
    });
    if let Err(e) = std::fs::write(path, format!("{json}\n")) {
        eprintln!("glimpse-view: cannot write {}: {e}", path.display());
    }
}

fn write_png(path: &Path, screen: &Screen) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), screen.width, screen.height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    let mut rgba = screen.pixels.clone();
    for px in rgba.chunks_exact_mut(4) {
        px.swap(0, 2);
    }
    writer.write_image_data(&rgba).map_err(|e| e.to_string())
}

/// The expected screen: a PNG, or BGRA rows packed of `--expect-size`.
fn load_expected(path: &Path, args: &Args) -> Result<Screen, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    if bytes.starts_with(b"\x89PNG") {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
        let mut buf = vec![0; reader.output_buffer_size().ok_or("PNG too large")?];
        let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
        if info.color_type != png::ColorType::Rgba || info.bit_depth != png::BitDepth::Eight {
            return Err("only 8-bit RGBA PNGs can be compared".into());
        }
        buf.truncate(info.buffer_size());
        for px in buf.chunks_exact_mut(4) {
            px.swap(0, 2);
        }
        return Ok(Screen {
            width: info.width,
            height: info.height,
            pixels: buf,
        });
    }
    let size = args
        .expect_size
        .as_deref()
        .ok_or("a raw --expect file needs --expect-size WxH")?;
    let (w, h) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .ok_or("--expect-size is WIDTHxHEIGHT")?;
    if bytes.len() != w as usize * h as usize * 4 {
        return Err(format!(
            "{} bytes, {w}x{h} BGRA needs {}",
            bytes.len(),
            w as usize * h as usize * 4
        ));
    }
    Ok(Screen {
        width: w,
        height: h,
        pixels: bytes,
    })
}
