//! Share this screen with anyone in seconds: `cargo run --release --example share`.
//!
//! Starts a relay inside this process on 127.0.0.1 (or uses `--relay ws://HOST:PORT`), captures the
//! X11 screen when `DISPLAY` is set (the animated demo scene otherwise, or a corpus recording with
//! `--corpus NAME`), prints the session key and the viewer URL, and shows who is watching. Viewers may
//! ask for remote control: `--allow-control` grants at once, otherwise the request is asked about on
//! the terminal (y/n). The person at the host takes control back by touching mouse or keyboard.

#[path = "../quick/host.rs"]
mod host;
#[path = "../quick/relay.rs"]
mod relay;
#[path = "../quick/wire.rs"]
mod wire;

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

use glimpse::session::{ControlEvent, InputEvent};
use glimpse::EncoderConfig;
use host::{ControlPolicy, EncodeConfig, EncodeStats, HostEvent, LinkCommand, LinkEnd, Source};
use tokio::sync::mpsc;

const USAGE: &str = "usage: share [options]
  --relay ws://HOST:PORT  use this relay instead of starting one in this process
  --listen ADDR:PORT      where the built-in relay listens (default 127.0.0.1:8080, else a free port)
  --pkg DIR               the built Web SDK the built-in relay serves (default: this repository's wasm/)
  --fps N                 frames per second (default 15)
  --corpus NAME[@WxH]     stream a recording from ../shared/corpus (or testdata/corpus)
  --loop                  with --corpus: start over at the end (else the last frame stays)
  --demo                  the animated demo scene even when DISPLAY is set
  --allow-control         grant remote control to whoever asks
  --view-only             refuse every remote control request
  --frames N              stop after N frames
  --seconds N             stop after N seconds
  --timing FILE           at exit, write `seq capture_ms` lines (ms since the Unix epoch)
  --last-frame FILE       when a corpus recording ends, write its last frame (BGRA, rows packed)
  --stats FILE            at exit, write a JSON summary";

struct Options {
    relay: Option<String>,
    listen: Option<SocketAddr>,
    pkg: Option<PathBuf>,
    fps: f64,
    corpus: Option<String>,
    looping: bool,
    demo: bool,
    policy: ControlPolicy,
    frames: Option<u64>,
    seconds: Option<f64>,
    timing: Option<PathBuf>,
    last_frame: Option<PathBuf>,
    stats: Option<PathBuf>,
}

fn parse_args() -> Options {
    let mut o = Options {
        relay: None,
        listen: None,
        pkg: None,
        fps: 15.0,
        corpus: None,
        looping: false,
        demo: false,
        policy: ControlPolicy::Ask,
        frames: None,
        seconds: None,
        timing: None,
        last_frame: None,
        stats: None,
    };
    let mut args = std::env::args().skip(1);
    let fail = |msg: String| -> ! {
        eprintln!("share: {msg}\n{USAGE}");
        std::process::exit(2)
    };
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| fail(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--relay" => o.relay = Some(value().trim_end_matches('/').to_string()),
            "--listen" => {
                o.listen = Some(
                    value()
                        .parse()
                        .unwrap_or_else(|e| fail(format!("--listen: {e}"))),
                )
            }
            "--pkg" => o.pkg = Some(value().into()),
            "--fps" => {
                o.fps = value()
                    .parse()
                    .ok()
                    .filter(|f: &f64| (0.1..=120.0).contains(f))
                    .unwrap_or_else(|| fail("--fps: a number from 0.1 to 120".into()))
            }
            "--corpus" => o.corpus = Some(value()),
            "--loop" => o.looping = true,
            "--demo" => o.demo = true,
            "--allow-control" => o.policy = ControlPolicy::AutoGrant,
            "--view-only" => o.policy = ControlPolicy::Refuse,
            "--frames" => {
                o.frames = Some(
                    value()
                        .parse()
                        .unwrap_or_else(|e| fail(format!("--frames: {e}"))),
                )
            }
            "--seconds" => {
                o.seconds = Some(
                    value()
                        .parse()
                        .unwrap_or_else(|e| fail(format!("--seconds: {e}"))),
                )
            }
            "--timing" => o.timing = Some(value().into()),
            "--last-frame" => o.last_frame = Some(value().into()),
            "--stats" => o.stats = Some(value().into()),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => fail(format!("unknown argument {other}")),
        }
    }
    o
}

/// XTest injection plus the watch on the local user, for remote control on X11.
struct X11Input {
    injector: glimpse_capture::InputInjector,
    watch: Option<glimpse_capture::LocalInputWatch>,
}

impl host::InputSink for X11Input {
    fn inject(&mut self, event: &InputEvent) -> Result<(), String> {
        let i = &mut self.injector;
        let r = match *event {
            InputEvent::PointerMove { x, y } => i.pointer_move(x, y),
            InputEvent::Button { button, down } => {
                // Viewers number buttons as browsers do (0 left, 1 middle, 2 right, 3 back,
                // 4 forward); X11 as 1, 2, 3, 8, 9.
                let x_button = match button {
                    0..=2 => button + 1,
                    3 => 8,
                    4 => 9,
                    other => return Err(format!("unknown mouse button {other}")),
                };
                i.button(x_button, down)
            }
            InputEvent::Wheel { dx, dy } => i.wheel(dx, dy),
            InputEvent::Key { keysym, down } => i.key(keysym, down),
        };
        r.map_err(|e| e.to_string())
    }

    fn local_input(&mut self) -> bool {
        self.watch
            .as_mut()
            .is_some_and(|w| w.local_activity().unwrap_or(false))
    }

    fn release_all(&mut self) {
        let _ = self.injector.release_all();
    }
}

struct SourceOptions {
    corpus: Option<String>,
    looping: bool,
    demo: bool,
}

fn open_source(o: &SourceOptions) -> Result<(Source, Option<Box<dyn host::InputSink>>), String> {
    if let Some(name) = &o.corpus {
        return Ok((
            Source::Corpus(Box::new(host::CorpusSource::open(name, o.looping)?)),
            None,
        ));
    }
    if o.demo {
        return Ok((
            Source::Screen(Box::new(glimpse_capture::DemoSource::new(1280, 720))),
            None,
        ));
    }
    let source = glimpse_capture::open_default().map_err(|e| e.to_string())?;
    let mut input: Option<Box<dyn host::InputSink>> = None;
    if source.kind() == "x11" {
        match glimpse_capture::InputInjector::open(None) {
            Ok(injector) => {
                let watch = injector.watch().ok();
                input = Some(Box::new(X11Input { injector, watch }));
            }
            Err(e) => eprintln!("share: remote control disabled: {e}"),
        }
    }
    Ok((Source::Screen(source), input))
}

fn main() {
    let options = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(run(options));
    std::process::exit(code);
}

async fn run(options: Options) -> i32 {
    // The relay: a separate one, or ours on 127.0.0.1.
    let mut embedded = None;
    let (ws_base, page_base) = match &options.relay {
        Some(url) => {
            let page = url
                .replacen("ws://", "http://", 1)
                .replacen("wss://", "https://", 1);
            (url.clone(), page)
        }
        None => {
            let mut config = relay::RelayConfig::default();
            if let Some(pkg) = &options.pkg {
                config.pkg_dir = pkg.clone();
            }
            let wanted = options.listen.unwrap_or(config.listen);
            config.listen = wanted;
            let handle = match relay::start(config.clone()).await {
                Ok(h) => h,
                Err(e) if options.listen.is_none() => {
                    // 8080 is taken: any free port will do.
                    eprintln!("share: {wanted} is busy ({e}); using a free port");
                    config.listen.set_port(0);
                    relay::start(config).await.unwrap_or_else(|e| {
                        eprintln!("share: cannot start the relay: {e}");
                        std::process::exit(1)
                    })
                }
                Err(e) => {
                    eprintln!("share: cannot listen on {wanted}: {e}");
                    return 1;
                }
            };
            if !handle.pkg_ready() {
                eprintln!(
                    "share: warning: the Web SDK is not built (run `bash quick/build_web.sh`): browsers cannot view yet"
                );
            }
            let addr = handle.addr;
            embedded = Some(handle);
            (format!("ws://{addr}"), format!("http://{addr}"))
        }
    };

    // The encoder thread.
    let stats = Arc::new(Mutex::new(EncodeStats::default()));
    let (packets_tx, mut packets_rx) = mpsc::channel(64);
    let (encoder_tx, encoder_rx) = std_mpsc::channel();
    let (local_tx, mut local_rx) = mpsc::unbounded_channel();
    let config = EncodeConfig {
        fps: options.fps,
        max_frames: options.frames,
        max_duration: options.seconds.map(Duration::from_secs_f64),
        encoder: EncoderConfig::default(),
        keep_last_frame: false,
        last_frame_file: options.last_frame.clone(),
    };
    let encoder_stats = stats.clone();
    // The source is opened on the encoder thread (an X11 connection stays on one thread).
    let (opened_tx, opened_rx) = std_mpsc::channel::<Result<String, String>>();
    let source_options = SourceOptions {
        corpus: options.corpus.clone(),
        looping: options.looping,
        demo: options.demo,
    };
    let encoder_thread = std::thread::Builder::new()
        .name("encoder".into())
        .spawn(move || {
            let (source, input) = match open_source(&source_options) {
                Ok(opened) => opened,
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                    return;
                }
            };
            let _ = opened_tx.send(Ok(source.describe()));
            let r = host::run_encoder(
                source,
                config,
                encoder_rx,
                packets_tx,
                input,
                Some(local_tx),
                encoder_stats.clone(),
            );
            if let Err(e) = &r {
                eprintln!("share: capture stopped: {e}");
            }
        })
        .expect("encoder thread");
    match tokio::task::spawn_blocking(move || opened_rx.recv()).await {
        Ok(Ok(Ok(what))) => println!("share: sharing the {what}"),
        Ok(Ok(Err(e))) => {
            eprintln!("share: cannot capture: {e}");
            return 1;
        }
        _ => return 1,
    }

    // The terminal: answers to control requests and commands.
    let (commands_tx, mut commands_rx) = mpsc::unbounded_channel::<LinkCommand>();
    let (lines_tx, mut lines_rx) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let (events_tx, mut events_rx) = mpsc::unbounded_channel::<HostEvent>();
    let page = page_base.clone();
    let printer = tokio::spawn(async move {
        let mut pending: Vec<u64> = Vec::new();
        let mut stdin_open = true;
        loop {
            tokio::select! {
                e = events_rx.recv() => {
                    let Some(e) = e else { return };
                    match e {
                        HostEvent::Ready { key } => {
                            println!("share: session key: {key}");
                            println!("share: viewers open {page}/ and type the key, or open {page}/?key={}", host::key_digits(&key));
                        }
                        HostEvent::ViewerJoined { viewer, watching } => {
                            println!("share: viewer {viewer} joined ({watching} watching)");
                        }
                        HostEvent::ViewerLeft { viewer, watching } => {
                            pending.retain(|v| *v != viewer);
                            println!("share: viewer {viewer} left ({watching} watching)");
                        }
                        HostEvent::ControlRequested { viewer } if stdin_open => {
                            pending.push(viewer);
                            println!("share: viewer {viewer} asks for remote control: type y to grant, n to refuse");
                        }
                        HostEvent::ControlRequested { viewer } => {
                            println!("share: viewer {viewer} asks for remote control (no terminal to answer: refused)");
                            let _ = commands_tx.send(LinkCommand::Refuse(viewer));
                        }
                        HostEvent::Control(ControlEvent::Granted(v)) => println!("share: viewer {v} controls this screen (move the mouse or type to take it back; r revokes)"),
                        HostEvent::Control(ControlEvent::Refused(v)) => println!("share: remote control refused to viewer {v}"),
                        HostEvent::Control(ControlEvent::Revoked(v)) => println!("share: remote control taken back from viewer {v}"),
                        HostEvent::Control(_) => {}
                    }
                    let _ = std::io::stdout().flush();
                }
                line = lines_rx.recv(), if stdin_open => {
                    let Some(line) = line else {
                        // Stdin closed: nobody can answer requests any more.
                        stdin_open = false;
                        for viewer in pending.drain(..) {
                            let _ = commands_tx.send(LinkCommand::Refuse(viewer));
                        }
                        continue;
                    };
                    let words: Vec<&str> = line.split_whitespace().collect();
                    match words.as_slice() {
                        ["y" | "yes"] => match pending.pop() {
                            Some(v) => { let _ = commands_tx.send(LinkCommand::Grant(v)); }
                            None => println!("share: no request to answer"),
                        },
                        ["n" | "no"] => match pending.pop() {
                            Some(v) => { let _ = commands_tx.send(LinkCommand::Refuse(v)); }
                            None => println!("share: no request to answer"),
                        },
                        ["r" | "revoke"] => { let _ = commands_tx.send(LinkCommand::Revoke); }
                        ["k" | "kick", id] => match id.parse() {
                            Ok(v) => { let _ = commands_tx.send(LinkCommand::Remove(v)); }
                            Err(_) => println!("share: kick takes a viewer number"),
                        },
                        [] => {}
                        _ => println!("share: commands: y (grant), n (refuse), r (revoke control), k N (remove viewer N)"),
                    }
                }
            }
        }
    });

    // The link to the relay; a key that expired unused gets a new session.
    let url = format!("{ws_base}/ws/host");
    let mut code = 0;
    loop {
        let end = host::run_link(
            &url,
            &mut packets_rx,
            &encoder_tx,
            &mut commands_rx,
            &mut local_rx,
            &events_tx,
            options.policy,
        )
        .await;
        match end {
            LinkEnd::Finished => break,
            LinkEnd::Closed { code: c, reason } if c == relay::close::EXPIRED => {
                println!("share: {reason}; starting a new session");
            }
            LinkEnd::Closed { code: c, reason } => {
                eprintln!("share: the relay closed the session ({c} {reason})");
                code = 1;
                break;
            }
            LinkEnd::Error(e) => {
                eprintln!("share: {e}");
                code = 1;
                break;
            }
        }
    }
    let _ = encoder_tx.send(host::HostCommand::Stop);
    drop(packets_rx);
    let _ = tokio::task::spawn_blocking(move || encoder_thread.join()).await;
    printer.abort();

    let s = stats.lock().unwrap().clone();
    println!(
        "share: {} frames, {} packets, {} bytes, {} checkpoints, encode CPU {:.2} ms/frame, {} input events injected",
        s.frames,
        s.packets,
        s.bytes,
        s.checkpoints,
        s.encode_cpu_ns as f64 / 1e6 / s.frames.max(1) as f64,
        s.injected
    );
    if let Some(path) = &options.timing {
        let text: String = s
            .timings
            .iter()
            .map(|(seq, ms)| format!("{seq} {ms:.3}\n"))
            .collect();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("share: cannot write {}: {e}", path.display());
        }
    }
    if let Some(path) = &options.stats {
        let json = format!(
            "{{\"frames\":{},\"packets\":{},\"bytes\":{},\"checkpoints\":{},\"encode_cpu_ms_per_frame\":{:.3},\"injected\":{}}}\n",
            s.frames,
            s.packets,
            s.bytes,
            s.checkpoints,
            s.encode_cpu_ns as f64 / 1e6 / s.frames.max(1) as f64,
            s.injected
        );
        let _ = std::fs::write(path, json);
    }
    if let Some(relay) = embedded {
        relay.shutdown().await;
    }
    code
}
