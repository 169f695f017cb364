//! Measures the capture paths: latency from a frame being on the screen to its packet, and CPU per
//! frame, for the Wayland portal (PipeWire) and X11 (MIT-SHM + XDamage) on the same kind of content.
//! `capture/wayland/bench.sh` runs it at 1280x720 and 1920x1080 on both.
//!
//! ```text
//! capture_bench portal [--frames N] [--token-file PATH] [--server-pid PID]
//!     inside the headless session, while screen-app.py ticks its clock fast: latency from the
//!     compositor's presentation time (the buffer's pts) to the packet
//! capture_bench x11 [--frames N] [--display :N] [--server-pid PID]
//!     draws a terminal-like window and a clock-sized change per frame, then captures: latency from
//!     the drawing being done in the server (after a round trip) to the packet
//! ```
//! Prints one line: frames, latency median and 90th percentile (to the frame handed out, and to
//! the packet), CPU per frame of this process (capture + encode; on X11 also the few drawing
//! requests) and of the display server (`--server-pid`: mutter renders and copies into PipeWire's
//! buffer; Xvfb draws and copies into the MIT-SHM segment).

use glimpse::{Encoder, EncoderConfig};
use glimpse_capture::{BackendChoice, CaptureOptions, CapturedFrame, PortalSource, ScreenSource};
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{self, ConnectionExt as _};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

type Error = Box<dyn std::error::Error>;

struct Args {
    backend: String,
    frames: usize,
    token_file: Option<String>,
    display: Option<String>,
    server_pid: Option<u32>,
}

fn parse_args() -> Result<Args, Error> {
    let mut args = std::env::args().skip(1);
    let backend = args
        .next()
        .ok_or("usage: capture_bench portal|x11 [OPTIONS]")?;
    let mut parsed = Args {
        backend,
        frames: 200,
        token_file: None,
        display: None,
        server_pid: None,
    };
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--frames" => parsed.frames = value.parse()?,
            "--token-file" => parsed.token_file = Some(value),
            "--display" => parsed.display = Some(value),
            "--server-pid" => parsed.server_pid = Some(value.parse()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(parsed)
}

/// CPU seconds used so far by process `pid` (user + system), from /proc.
fn cpu_seconds(pid: &str) -> Result<f64, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .ok_or("odd /proc stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// Latencies of one run, and the CPU counters when the measured frames began (after warm-up).
#[derive(Default)]
struct Run {
    to_frame: Vec<Duration>,
    to_packet: Vec<Duration>,
    /// Portal only: from the PipeWire buffer's arrival in this process to the frame handed out.
    from_arrival: Vec<Duration>,
    server_pid: Option<String>,
    cpu_start: Option<(f64, Option<f64>)>,
}

impl Run {
    fn start_cpu(&mut self) -> Result<(), Error> {
        let server = self.server_pid.as_deref().map(cpu_seconds).transpose()?;
        self.cpu_start = Some((cpu_seconds("self")?, server));
        Ok(())
    }

    /// Milliseconds of CPU per measured frame: this process, and the server when known.
    fn cpu_per_frame(&self) -> Result<(f64, Option<f64>), Error> {
        let (ours, server) = self.cpu_start.ok_or("no frames measured")?;
        let frames = self.to_frame.len() as f64;
        let per = |now: f64, before: f64| (now - before) * 1000.0 / frames;
        let server = match (self.server_pid.as_deref(), server) {
            (Some(pid), Some(before)) => Some(per(cpu_seconds(pid)?, before)),
            _ => None,
        };
        Ok((per(cpu_seconds("self")?, ours), server))
    }
}

fn percentile(values: &mut [Duration], p: usize) -> Duration {
    values.sort();
    values
        .get((values.len() * p / 100).min(values.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// Encodes a captured frame with its damage hints; returns how long it took.
fn encode(encoder: &mut Encoder, shot: &CapturedFrame<'_>) -> Result<Duration, Error> {
    let start = Instant::now();
    let frame = shot.frame()?;
    match &shot.damage {
        Some(hints) => encoder.encode_with_hints(&frame, hints)?,
        None => encoder.encode(&frame)?,
    };
    Ok(start.elapsed())
}

fn run_portal(args: &Args, run: &mut Run) -> Result<(u32, u32), Error> {
    let mut options = CaptureOptions::default();
    options.backend = BackendChoice::Portal;
    options.restore_token_file = args.token_file.clone().map(Into::into);
    let (mut source, _) = PortalSource::open(&options)?;
    let mut encoder = Encoder::new(EncoderConfig::default());
    let size = source.size();
    let mut skipped = 0;
    while run.to_frame.len() < args.frames {
        if !source.wait_for_frame(Duration::from_secs(5))? {
            return Err("no frame for 5 s: is screen-app.py ticking (the `fast` file)?".into());
        }
        let shot = source.capture()?;
        let encoded = encode(&mut encoder, &shot)?;
        let latency = source.last_latency().ok_or("no latency")?;
        if skipped < 10 {
            skipped += 1; // warm-up: first frames, first checkpoint
            if skipped == 10 {
                run.start_cpu()?;
            }
            continue;
        }
        let presented = latency
            .since_presentation
            .ok_or("the stream's buffers carry no presentation time")?;
        run.to_frame.push(presented);
        run.to_packet.push(presented + encoded);
        run.from_arrival.push(latency.since_arrival);
    }
    let stats = source.stats();
    eprintln!(
        "portal: {:?} buffers, {:?}, {} of {} frames with computed damage",
        stats.buffer_kind,
        stats.video_format,
        stats.frames_without_damage_metadata,
        stats.frames_received
    );
    Ok(size)
}

/// Draws a terminal-like window (dark, 700x500, centred) and returns it with its GC.
fn terminal_window(conn: &RustConnection, screen: usize) -> Result<(u32, u32), Error> {
    let root = conn.setup().roots[screen].root;
    let (w, h) = (
        conn.setup().roots[screen].width_in_pixels,
        conn.setup().roots[screen].height_in_pixels,
    );
    let win = conn.generate_id()?;
    let aux = xproto::CreateWindowAux::new()
        .background_pixel(0x111111)
        .override_redirect(1);
    let (x, y) = ((w as i16 - 700) / 2, (h as i16 - 500) / 2);
    conn.create_window(
        24,
        win,
        root,
        x,
        y,
        700,
        500,
        0,
        xproto::WindowClass::INPUT_OUTPUT,
        0,
        &aux,
    )?;
    conn.map_window(win)?;
    let gc = conn.generate_id()?;
    conn.create_gc(gc, win, &xproto::CreateGCAux::new().foreground(0xdddddd))?;
    conn.sync()?;
    Ok((win, gc))
}

/// Draws frame `n` of a clock: 12 "digits" of 9x16 px blocks in a 150x23 area.
fn draw_clock(conn: &RustConnection, (win, gc): (u32, u32), n: usize) -> Result<(), Error> {
    let background = xproto::Rectangle {
        x: 12,
        y: 30,
        width: 150,
        height: 23,
    };
    conn.change_gc(gc, &xproto::ChangeGCAux::new().foreground(0x111111))?;
    conn.poly_fill_rectangle(win, gc, &[background])?;
    conn.change_gc(gc, &xproto::ChangeGCAux::new().foreground(0xdddddd))?;
    let strokes: Vec<xproto::Rectangle> = (0..12)
        .flat_map(|digit| {
            let value = (n / 10usize.pow((11 - digit) as u32 % 4)) % 10;
            let x = 12 + digit as i16 * 12;
            (0..4)
                .filter(move |bit| value >> bit & 1 == 1)
                .map(move |bit| xproto::Rectangle {
                    x,
                    y: 33 + bit * 4,
                    width: 9,
                    height: 3,
                })
        })
        .collect();
    conn.poly_fill_rectangle(win, gc, &strokes)?;
    conn.sync()?;
    Ok(())
}

fn run_x11(args: &Args, run: &mut Run) -> Result<(u32, u32), Error> {
    let display = args.display.as_deref();
    let (conn, screen) = x11rb::connect(display)?;
    let window = terminal_window(&conn, screen)?;
    let mut source = glimpse_capture::X11Source::open(display)?;
    let mut encoder = Encoder::new(EncoderConfig::default());
    let size = source.size();
    for n in 0..args.frames + 10 {
        draw_clock(&conn, window, n)?;
        let drawn = Instant::now();
        let shot = source.capture()?;
        let to_frame = drawn.elapsed();
        let encoded = encode(&mut encoder, &shot)?;
        if n == 9 {
            run.start_cpu()?;
        }
        if n >= 10 {
            run.to_frame.push(to_frame);
            run.to_packet.push(to_frame + encoded);
        }
        // The same pace as the Wayland run (screen-app.py ticks every 20 ms).
        std::thread::sleep(Duration::from_millis(20).saturating_sub(drawn.elapsed()));
    }
    eprintln!(
        "x11: MIT-SHM {}, XDamage {}",
        source.uses_shm(),
        source.has_damage()
    );
    Ok(size)
}

fn main() -> Result<(), Error> {
    let args = parse_args()?;
    let mut run = Run {
        server_pid: args.server_pid.map(|p| p.to_string()),
        ..Run::default()
    };
    let (width, height) = match args.backend.as_str() {
        "portal" => run_portal(&args, &mut run)?,
        "x11" => run_x11(&args, &mut run)?,
        other => return Err(format!("unknown backend {other}").into()),
    };
    let (ours, server) = run.cpu_per_frame()?;
    let arrival = if run.from_arrival.is_empty() {
        String::new()
    } else {
        format!(
            " (PipeWire buffer arrival to frame: median {:.2} ms)",
            percentile(&mut run.from_arrival, 50).as_secs_f64() * 1000.0
        )
    };
    let server = server.map_or("-".into(), |s| format!("{s:.2}"));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:<6} {width}x{height}: {} frames; to frame median {:.2} ms, p90 {:.2} ms; to packet median \
         {:.2} ms, p90 {:.2} ms{arrival}; CPU per frame: this process {ours:.2} ms, display server \
         {server} ms",
        args.backend,
        run.to_frame.len(),
        ms(percentile(&mut run.to_frame, 50)),
        ms(percentile(&mut run.to_frame, 90)),
        ms(percentile(&mut run.to_packet, 50)),
        ms(percentile(&mut run.to_packet, 90)),
    );
    Ok(())
}
