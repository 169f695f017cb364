//! `glimpse-share`: share this screen with anyone in seconds.
//!
//! Starts a relay inside this process on 127.0.0.1 (or uses `--relay ws(s)://HOST:PORT`), captures
//! the X11 screen when `DISPLAY` is set (the animated demo scene otherwise, or a corpus recording
//! with `--corpus NAME`), prints the session key and the join link, and shows who is watching.
//! Viewers may ask for remote control: `--allow-control` grants at once, `--view-only` refuses,
//! otherwise the request is asked about on the terminal. The person at the host takes control back
//! by touching mouse or keyboard. When the relay restarts or the network drops, it reconnects and
//! keeps its key.

mod capture;
mod input;
#[path = "../common/logs.rs"]
mod logs;
mod source;
mod terminal;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use clap::Parser;
use glimpse_connect::relay::{web_build_hint, Relay, RelayConfig, StartError};
use glimpse_connect::{ClientTls, ControlPolicy, Host, HostConfig, HostStats};

use input::InputPump;
use source::{OpenedSource, SourceChoice};
use terminal::{Next, Terminal};

/// Share this screen through a Glimpse relay.
#[derive(Parser, Debug)]
#[command(name = "glimpse-share", version, about)]
struct Args {
    /// Use this relay (ws://HOST:PORT or wss://HOST[:PORT]) instead of one in this process.
    #[arg(long)]
    relay: Option<String>,
    /// Trust this PEM certificate (CA or self-signed) for a wss:// relay, besides the system's.
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    /// Where the built-in relay listens (default 127.0.0.1:8080, else a free port).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The built-in relay serves its viewer page from DIR instead of the built-in files.
    #[arg(long, value_name = "DIR")]
    web: Option<PathBuf>,
    /// A name viewers see.
    #[arg(long, default_value = "")]
    name: String,
    /// Frames per second.
    #[arg(long, default_value_t = 15.0, value_parser = parse_fps)]
    fps: f64,
    /// Stream a recording (NAME or NAME@WIDTHxHEIGHT) instead of the screen.
    #[arg(long, value_name = "NAME")]
    corpus: Option<String>,
    /// Where recordings are (default: ../shared/corpus, then testdata/corpus).
    #[arg(long, value_name = "DIR")]
    corpus_dir: Option<PathBuf>,
    /// With --corpus: start over at the end (else the last frame stays).
    #[arg(long = "loop")]
    looping: bool,
    /// Share the animated demo scene even when a desktop is there.
    #[arg(long)]
    demo: bool,
    /// Share monitor N (see --list-monitors; on Wayland the portal's dialog chooses).
    #[arg(long, value_name = "N", conflicts_with = "window")]
    monitor: Option<usize>,
    /// Share one window (Wayland: the portal's dialog asks which).
    #[arg(long)]
    window: bool,
    /// List the monitors that can be shared, and exit.
    #[arg(long)]
    list_monitors: bool,
    /// Grant remote control to whoever asks.
    #[arg(long, conflicts_with = "view_only")]
    allow_control: bool,
    /// Refuse every remote control request.
    #[arg(long)]
    view_only: bool,
    /// Ask before letting each viewer in (you see its address and the name it typed).
    #[arg(long)]
    approve_viewers: bool,
    /// Stop after N frames.
    #[arg(long)]
    frames: Option<u64>,
    /// Stop after N seconds.
    #[arg(long)]
    seconds: Option<f64>,
    /// At exit, write `seq capture_ms` lines (ms since the Unix epoch).
    #[arg(long, value_name = "FILE")]
    timing: Option<PathBuf>,
    /// When a recording ends, write its last frame (BGRA, rows packed).
    #[arg(long, value_name = "FILE")]
    last_frame: Option<PathBuf>,
    /// At exit, write a JSON summary.
    #[arg(long, value_name = "FILE")]
    stats: Option<PathBuf>,
}

fn parse_fps(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|f| (0.1..=120.0).contains(f))
        .ok_or_else(|| "a number from 0.1 to 120".to_string())
}

fn main() {
    let args = Args::parse();
    logs::init("warn", false);
    std::process::exit(run(args));
}

fn run(args: Args) -> i32 {
    if args.list_monitors {
        return list_monitors(&args);
    }
    // The relay: a separate one, or ours on 127.0.0.1 (in a runtime of its own).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("share: cannot start: {e}");
            return 1;
        }
    };
    let embedded = match &args.relay {
        Some(_) => None,
        None => match runtime.block_on(start_relay(&args)) {
            Ok(relay) => Some(relay),
            Err(e) => {
                eprintln!("share: cannot start the relay: {e}");
                return 1;
            }
        },
    };
    let relay_url = match (&args.relay, &embedded) {
        (Some(url), _) => url.clone(),
        (None, Some(relay)) => relay.ws_url(),
        (None, None) => unreachable!("a relay was started above"),
    };
    let stop = Arc::new(AtomicBool::new(false));
    runtime.spawn(stop_on_signal(stop.clone()));
    let code = share(&args, &relay_url, stop);
    if let Some(relay) = embedded {
        runtime.block_on(relay.shutdown());
    }
    code
}

async fn start_relay(args: &Args) -> Result<Relay, StartError> {
    let mut config = RelayConfig::default();
    config.web_dir = args.web.clone();
    let wanted = args.listen.unwrap_or(config.listen);
    config.listen = wanted;
    let relay = match Relay::start(config.clone()).await {
        Ok(r) => r,
        // The default port is taken (another share, say): any free one will do.
        Err(e @ StartError::Listen { .. }) if args.listen.is_none() => {
            eprintln!("share: {wanted} is busy ({e}); using a free port");
            config.listen.set_port(0);
            Relay::start(config).await?
        }
        Err(e) => return Err(e),
    };
    if !relay.web_ready() {
        eprintln!("share: warning: {}", web_build_hint());
    }
    Ok(relay)
}

/// Sets `stop` on SIGTERM or SIGINT: the session ends properly (viewers are told).
async fn stop_on_signal(stop: Arc<AtomicBool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    stop.store(true, Ordering::Relaxed);
}

/// What the command line asks to share.
fn source_choice(args: &Args) -> SourceChoice {
    SourceChoice {
        corpus: args.corpus.clone(),
        corpus_dir: args.corpus_dir.clone(),
        looping: args.looping,
        demo: args.demo,
        monitor: args.monitor,
        window: args.window,
        remote_control: !args.view_only,
    }
}

/// `--list-monitors`.
fn list_monitors(args: &Args) -> i32 {
    match glimpse_capture::list_monitors(&source_choice(args).capture_options()) {
        Ok(monitors) => {
            for m in monitors {
                println!(
                    "{}: {} {}x{} at {},{}{}",
                    m.index,
                    m.name,
                    m.width,
                    m.height,
                    m.x,
                    m.y,
                    if m.primary { " (primary)" } else { "" }
                );
            }
            0
        }
        Err(e) => {
            eprintln!("share: {e}");
            1
        }
    }
}

/// Opens the source, starts the session, runs capture and the terminal until the end.
fn share(args: &Args, relay_url: &str, stop: Arc<AtomicBool>) -> i32 {
    let (host_tx, host_rx) = mpsc::channel::<Arc<Host>>();
    type Opened = (
        String,
        Vec<String>,
        Option<Box<dyn glimpse_capture::RemoteInput>>,
    );
    let (opened_tx, opened_rx) = mpsc::channel::<Result<Opened, String>>();
    let capture_config = capture::CaptureConfig {
        fps: args.fps,
        max_frames: args.frames,
        last_frame_file: args.last_frame.clone(),
    };
    let choice = source_choice(args);
    let capture_stop = stop.clone();
    let counts = Arc::new(capture::CaptureCounts::default());
    let capture_counts = counts.clone();
    // The source is opened on the capture thread (an X11 connection stays on one thread); the
    // portal's dialog, if any, is answered meanwhile.
    let capture_thread = std::thread::Builder::new()
        .name("capture".into())
        .spawn(move || -> Result<u64, String> {
            let OpenedSource {
                source,
                injector,
                description,
                notes,
            } = match source::open(&choice) {
                Ok(s) => s,
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                    return Ok(0);
                }
            };
            let _ = opened_tx.send(Ok((description, notes, injector)));
            let Ok(host) = host_rx.recv() else {
                return Ok(0);
            };
            let result = capture::run(
                source,
                &host,
                &capture_config,
                &capture_counts,
                &capture_stop,
            );
            capture_stop.store(true, Ordering::Relaxed);
            result
        })
        .expect("capture thread");
    let injector = match wait_for_source(&opened_rx, &stop) {
        Some(Ok((what, notes, injector))) => {
            println!("share: sharing the {what}");
            for note in notes {
                println!("share: note: {note}");
            }
            injector
        }
        Some(Err(e)) => {
            eprintln!("share: cannot capture: {e}");
            return 1;
        }
        None => return 1,
    };
    let mut config = HostConfig::new(relay_url);
    config.tls = ClientTls {
        ca_cert: args.ca_cert.clone(),
        only_ca_cert: false,
    };
    config.name = args.name.clone();
    config.approve_viewers = args.approve_viewers;
    config.policy = if args.allow_control {
        ControlPolicy::AutoGrant
    } else if args.view_only {
        ControlPolicy::ViewOnly
    } else {
        ControlPolicy::Ask
    };
    let host = match Host::connect(config) {
        Ok(h) => Arc::new(h),
        Err(e) => {
            eprintln!("share: cannot start a session on {relay_url}: {e}");
            stop.store(true, Ordering::Relaxed);
            return 1;
        }
    };
    host.record_timings(args.timing.is_some());
    terminal::print_code(&host);
    let pump = injector.map(|injector| {
        let host = host.clone();
        InputPump::start(injector, move || {
            let _ = host.local_input();
        })
    });
    let _ = host_tx.send(host.clone());
    let code = event_loop(args, &host, pump.as_ref(), &stop);
    stop.store(true, Ordering::Relaxed);
    let captured = capture_thread.join();
    if let Ok(Err(e)) = &captured {
        eprintln!("share: capture stopped: {e}");
    }
    host.close();
    report(args, &host.stats(), &counts, pump.as_ref());
    code
}

/// Waits for the capture thread to open the source. On Wayland that waits for the person at the
/// host to answer the portal's share dialog: after a moment it says so, and a signal ends the wait
/// (`None`; the capture thread stays blocked in the portal until the process exits).
fn wait_for_source<T>(
    opened: &mpsc::Receiver<Result<T, String>>,
    stop: &AtomicBool,
) -> Option<Result<T, String>> {
    let started = Instant::now();
    let mut told = false;
    loop {
        match opened.recv_timeout(Duration::from_millis(100)) {
            Ok(result) => return Some(result),
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if stop.load(Ordering::Relaxed) {
            eprintln!("share: stopped before the screen was opened");
            return None;
        }
        if !told && started.elapsed() >= Duration::from_secs(2) {
            println!("share: waiting for the screen (answer the share dialog on this desktop, if one shows)");
            told = true;
        }
    }
}

/// Prints events and reads commands until the session ends, the capture stops, or time is up.
fn event_loop(args: &Args, host: &Host, pump: Option<&InputPump>, stop: &AtomicBool) -> i32 {
    let (lines_tx, lines_rx) = mpsc::channel::<Option<String>>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = lines_tx.send(None);
    });
    let deadline = args
        .seconds
        .map(|s| Instant::now() + Duration::from_secs_f64(s));
    let mut terminal = Terminal::new();
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return 0;
        }
        if stop.load(Ordering::Relaxed) {
            return 0; // a signal, or the frame limit was reached
        }
        while let Ok(line) = lines_rx.try_recv() {
            match line {
                Some(line) => terminal.line(&line, host),
                None => terminal.stdin_closed(host),
            }
        }
        if let Some(event) = host.next_event(Duration::from_millis(50)) {
            if let Next::Stop(reason) = terminal.event(event, host, pump) {
                if let Some(reason) = reason {
                    eprintln!("share: {reason}");
                }
                return 1;
            }
        }
    }
}

fn report(args: &Args, s: &HostStats, counts: &capture::CaptureCounts, pump: Option<&InputPump>) {
    let cpu_per_frame = s.encode_cpu_ns as f64 / 1e6 / s.frames.max(1) as f64;
    let (injected, dropped_input) = pump.map_or((0, 0), |p| p.counts());
    println!(
        "share: {} frames, {} packets, {} bytes, {} checkpoints, encode CPU {cpu_per_frame:.2} ms/frame, {} reconnects, {injected} input events injected",
        s.frames, s.packets, s.packet_bytes, s.checkpoints, s.reconnects
    );
    if let Some(path) = &args.timing {
        let text: String = s
            .timings
            .iter()
            .map(|(seq, ms)| format!("{seq} {ms:.3}\n"))
            .collect();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("share: cannot write {}: {e}", path.display());
        }
    }
    if let Some(path) = &args.stats {
        let json = serde_json::json!({
            "frames": s.frames,
            "packets": s.packets,
            "bytes": s.packet_bytes,
            "sent_bytes": s.sent_bytes,
            "checkpoints": s.checkpoints,
            "dropped_packets": s.dropped_packets,
            "encode_cpu_ms_per_frame": cpu_per_frame,
            "reconnects": s.reconnects,
            "injected": injected,
            "dropped_input": dropped_input,
            "hinted_frames": counts.hinted_frames.load(Ordering::Relaxed),
            "unchanged_frames": counts.unchanged_frames.load(Ordering::Relaxed),
            "hint_pixels": counts.hint_pixels.load(Ordering::Relaxed),
            "changed_frame_pixels": counts.changed_frame_pixels.load(Ordering::Relaxed),
        });
        if let Err(e) = std::fs::write(path, format!("{json}\n")) {
            eprintln!("share: cannot write {}: {e}", path.display());
        }
    }
}
