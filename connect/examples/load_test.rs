//! Load test of quick connect on loopback: one host (the Rust API, in this process) streams a
//! recording through a `glimpse-relay` process to 1, then N viewers (some of them slow), then the
//! fast ones alone. Prints one JSON object: host CPU and upload per frame with 1 vs N viewers,
//! relay memory, join times, the fast viewers' capture-to-receive latency with and without the slow
//! ones, and the relay's own `/metrics` and `/healthz` during the crowded phase.
//!
//! Exits non-zero when a viewer cannot join, a phase measures no frame, a viewer saw a decode
//! error, or `/metrics` does not count the viewers that are connected. Stops by itself (hard limit
//! 170 s).
//!
//! `cargo build --release -p glimpse-connect --bins --examples && target/release/examples/load_test`
//! Options: `--viewers N` (200), `--slow N` (10), `--corpus NAME` (typing_editor, largest size
//! found), `--fps N` (20), `--phase-seconds N` (one pass over the recording), `--relay-bin PATH`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use glimpse::{EncoderConfig, Frame, PixelFormat};
use glimpse_connect::{ControlPolicy, Host, HostConfig, HostStats, Viewer, ViewerConfig};

struct Options {
    viewers: usize,
    slow: usize,
    corpus: String,
    fps: f64,
    phase: Option<Duration>,
    relay_bin: Option<String>,
}

fn fail(message: String) -> ! {
    eprintln!("load_test: {message}");
    std::process::exit(1)
}

fn parse() -> Options {
    let mut o = Options {
        viewers: 200,
        slow: 10,
        corpus: "typing_editor".into(),
        fps: 20.0,
        phase: None,
        relay_bin: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        let number = |v: &str| {
            v.parse::<f64>()
                .unwrap_or_else(|_| fail(format!("{a} needs a number")))
        };
        match a.as_str() {
            "--viewers" => o.viewers = number(&v) as usize,
            "--slow" => o.slow = number(&v) as usize,
            "--corpus" => o.corpus = v,
            "--fps" => o.fps = number(&v),
            "--phase-seconds" => o.phase = Some(Duration::from_secs_f64(number(&v))),
            "--relay-bin" => o.relay_bin = Some(v),
            other => fail(format!("unknown argument {other}")),
        }
    }
    if o.viewers < 2 || o.slow >= o.viewers {
        fail("need at least 2 viewers, and more viewers than slow ones".into());
    }
    o
}

fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((p / 100.0) * (v.len() - 1) as f64).round() as usize]
}

/// CPU time of this process, in ms (utime + stime).
fn process_cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0.0);
    ticks * 10.0 // USER_HZ is 100 on Linux
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn start_relay(o: &Options) -> (Child, String) {
    let exe = o
        .relay_bin
        .clone()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let me = std::env::current_exe().expect("current exe");
            // target/<profile>/examples/load_test -> target/<profile>/glimpse-relay
            me.parent()
                .and_then(|p| p.parent())
                .expect("target dir")
                .join("glimpse-relay")
        });
    let mut child = Command::new(&exe)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--seconds",
            "170",
            "--max-viewers",
            "100000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            fail(format!(
                "cannot start {} ({e}): build it first",
                exe.display()
            ))
        });
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("relay output");
    let addr = line
        .trim()
        .strip_prefix("relay listening on http://")
        .unwrap_or_else(|| fail(format!("unexpected relay output: {line}")))
        .to_string();
    (child, addr)
}

/// A plain HTTP GET on loopback: (status line, body).
fn http_get(addr: &str, path: &str) -> (String, String) {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return (String::new(), String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text.lines().next().unwrap_or_default().to_string();
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(-1.0)
}

/// Host measurements at one instant.
#[derive(Clone, Copy)]
struct Sample {
    frames: u64,
    encode_cpu_ns: u64,
    sent: u64,
}

fn sample(s: &HostStats) -> Sample {
    Sample {
        frames: s.frames,
        encode_cpu_ns: s.encode_cpu_ns,
        sent: s.sent_bytes,
    }
}

/// (encode CPU ms, upload bytes) per frame between two samples, and the frames.
fn per_frame(a: Sample, b: Sample) -> (f64, f64, u64) {
    let frames = b.frames - a.frames;
    let f = frames.max(1) as f64;
    (
        (b.encode_cpu_ns - a.encode_cpu_ns) as f64 / 1e6 / f,
        (b.sent - a.sent) as f64 / f,
        frames,
    )
}

/// Plays the recording to the host at `fps`, round and round, until the host is closed.
fn play(host: std::sync::Arc<Host>, frames: Vec<Vec<u8>>, (w, h): (u32, u32), fps: f64) {
    std::thread::spawn(move || {
        let interval = Duration::from_secs_f64(1.0 / fps);
        let mut next = Instant::now();
        for pixels in frames.iter().cycle() {
            let frame =
                Frame::new(pixels, w, h, w as usize * 4, PixelFormat::Bgra8).expect("frame");
            if host.push_frame(&frame, None).is_err() {
                return;
            }
            next += interval;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    });
}

/// Joins `total` viewers, 8 at a time; the first `slow` of them are slow readers.
fn join_crowd(
    join: &(dyn Fn(bool) -> Result<Viewer, glimpse_connect::ConnectError> + Sync),
    total: usize,
    slow: usize,
) -> Vec<(bool, Viewer)> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|k| {
                scope.spawn(move || {
                    (k..total)
                        .step_by(8)
                        .map(|i| {
                            let v = join(i < slow).unwrap_or_else(|e| {
                                fail(format!("viewer {i} could not join: {e}"))
                            });
                            (i < slow, v)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("joiner"))
            .collect()
    })
}

/// What went wrong in the run, if anything: the load test fails on these, never on its figures.
fn problems(
    o: &Options,
    joined: usize,
    frames_and_samples: [u64; 5],
    errors: u64,
    metrics_viewers: f64,
    health: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    if joined != o.viewers - 1 {
        problems.push(format!(
            "{joined} of {} joiners saw a screen",
            o.viewers - 1
        ));
    }
    if frames_and_samples.contains(&0) {
        problems.push("a phase measured no frame".to_string());
    }
    if errors > 0 {
        problems.push(format!("{errors} decode errors"));
    }
    if metrics_viewers != o.viewers as f64 {
        problems.push(format!(
            "/metrics counted {metrics_viewers} viewers, {} were connected",
            o.viewers
        ));
    }
    if !health.contains(" 200") {
        problems.push(format!("/healthz answered {health:?}"));
    }
    problems
}

/// The joiners' first-screen times (every viewer but the first), the slow viewers' skips to a
/// checkpoint, and every viewer's decode errors.
fn crowd_figures(
    fast: &[glimpse_connect::ViewerStats],
    slow: &[glimpse_connect::ViewerStats],
) -> (Vec<f64>, u64, u64) {
    let joins = fast[1..]
        .iter()
        .chain(slow)
        .filter_map(|s| s.first_screen_ms)
        .collect();
    let skips = slow.iter().map(|s| s.checkpoints.saturating_sub(1)).sum();
    let errors = fast.iter().chain(slow).map(|s| s.decode_errors).sum();
    (joins, skips, errors)
}

fn main() {
    let o = parse();
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(170));
        fail("time limit reached".into());
    });
    let corpus =
        glimpse_corpus::Corpus::shared_or_bundled().unwrap_or_else(|e| fail(e.to_string()));
    let scenario = corpus
        .scenarios
        .iter()
        .filter(|s| s.name == o.corpus)
        .max_by_key(|s| s.width * s.height)
        .unwrap_or_else(|| fail(format!("no recording {}", o.corpus)));
    let frames = scenario.load_all().unwrap_or_else(|e| fail(e.to_string()));
    let (w, h) = (scenario.width, scenario.height);
    let phase = o
        .phase
        .unwrap_or(Duration::from_secs_f64(frames.len() as f64 / o.fps));
    let (mut relay, addr) = start_relay(&o);
    let url = format!("ws://{addr}");

    let mut config = HostConfig::new(&url);
    config.policy = ControlPolicy::ViewOnly;
    config.encoder = EncoderConfig::default();
    let host =
        std::sync::Arc::new(Host::connect(config).unwrap_or_else(|e| fail(format!("host: {e}"))));
    host.record_timings(true);
    let code = host.code();
    play(host.clone(), frames, (w, h), o.fps);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let join = |slow: bool| {
        let mut c = ViewerConfig::new(&url, code);
        c.decode = false;
        c.runtime = Some(rt.handle().clone());
        if slow {
            c.read_delay = Duration::from_millis(200);
        }
        Viewer::join(c)
    };

    // Phase 1: one viewer (after a warm-up pass, so every measured pass finds the tile cache alike).
    let first = join(false).unwrap_or_else(|e| fail(format!("first viewer: {e}")));
    std::thread::sleep(phase + Duration::from_millis(500));
    let rss_1 = rss_mib(relay.id());
    let a0 = sample(&host.stats());
    let t1 = epoch_ms();
    std::thread::sleep(phase);
    let a1 = sample(&host.stats());
    let t1_end = epoch_ms();

    // Phase 2: everybody (the slow ones read one message per 200 ms). Joins run 8 at a time.
    let join_started = Instant::now();
    let crowd = join_crowd(&join, o.viewers - 1, o.slow);
    let join_wall = join_started.elapsed();
    std::thread::sleep(Duration::from_millis(1000));
    let b0 = sample(&host.stats());
    let t2 = epoch_ms();
    let mut rss_2 = rss_mib(relay.id());
    let (health, _) = http_get(&addr, "/healthz");
    let (_, metrics) = http_get(&addr, "/metrics");
    let metrics_viewers = metric(&metrics, "glimpse_relay_viewers");
    let cpu_before = process_cpu_ms();
    for _ in 0..8 {
        std::thread::sleep(phase / 8);
        rss_2 = rss_2.max(rss_mib(relay.id()));
    }
    let b1 = sample(&host.stats());
    let t2_end = epoch_ms();
    let clients_cpu = process_cpu_ms() - cpu_before;

    // Phase 3: the slow viewers leave.
    let (slow, fast): (Vec<_>, Vec<_>) = crowd.into_iter().partition(|(s, _)| *s);
    let slow: Vec<Viewer> = slow.into_iter().map(|(_, v)| v).collect();
    let fast: Vec<Viewer> = std::iter::once(first)
        .chain(fast.into_iter().map(|(_, v)| v))
        .collect();
    let slow_stats: Vec<_> = slow.iter().map(|v| v.stats()).collect();
    drop(slow);
    std::thread::sleep(Duration::from_millis(1000));
    let c0 = sample(&host.stats());
    let t3 = epoch_ms();
    std::thread::sleep(phase);
    let c1 = sample(&host.stats());
    let t3_end = epoch_ms();
    let rss_3 = rss_mib(relay.id());
    let fast_stats: Vec<_> = fast.iter().map(|v| v.stats()).collect();
    drop(fast);
    let timings: std::collections::HashMap<u64, f64> = host.stats().timings.into_iter().collect();
    host.close();
    let _ = relay.kill();
    let _ = relay.wait();

    let latency = |stats: &[glimpse_connect::ViewerStats], from: f64, to: f64| {
        let l: Vec<f64> = stats
            .iter()
            .flat_map(|s| s.applied.iter())
            .filter(|(_, t)| *t >= from && *t < to)
            .filter_map(|(seq, t)| timings.get(seq).map(|c| t - c))
            .collect();
        (percentile(&l, 50.0), percentile(&l, 95.0), l.len())
    };
    let (one_cpu, one_bytes, one_frames) = per_frame(a0, a1);
    let (all_cpu, all_bytes, all_frames) = per_frame(b0, b1);
    let (nos_cpu, _, nos_frames) = per_frame(c0, c1);
    let (l1_50, l1_95, _) = latency(&fast_stats[..1], t1, t1_end);
    let (lw_50, lw_95, lw_n) = latency(&fast_stats, t2, t2_end);
    let (lo_50, lo_95, lo_n) = latency(&fast_stats, t3, t3_end);
    let (joins, slow_skips, errors) = crowd_figures(&fast_stats, &slow_stats);
    let json = serde_json::json!({
        "scenario": o.corpus, "resolution": format!("{w}x{h}"), "fps": o.fps,
        "viewers": o.viewers, "slow_viewers": o.slow,
        "host_encode_cpu_ms_per_frame": {"1": one_cpu, "all": all_cpu, "all_without_slow": nos_cpu, "ratio_all_vs_1": all_cpu / one_cpu.max(1e-9)},
        "host_upload_bytes_per_frame": {"1": one_bytes, "all": all_bytes, "ratio_all_vs_1": all_bytes / one_bytes.max(1e-9)},
        "frames_measured": {"1": one_frames, "all": all_frames, "all_without_slow": nos_frames},
        "relay_rss_mib": {"1_viewer": rss_1, "all_peak": rss_2, "after_slow_left": rss_3},
        "viewer_clients_cpu_ms_per_s": clients_cpu / phase.as_secs_f64(),
        "join_first_screen_ms": {"joined": joins.len(), "p50": percentile(&joins, 50.0), "p95": percentile(&joins, 95.0), "all_joins_wall_ms": join_wall.as_secs_f64() * 1000.0},
        "latency_ms": {
            "single_viewer": {"p50": l1_50, "p95": l1_95},
            "fast_with_slow": {"p50": lw_50, "p95": lw_95, "samples": lw_n},
            "fast_without_slow": {"p50": lo_50, "p95": lo_95, "samples": lo_n}
        },
        "slow_viewer_skips": slow_skips,
        "decode_errors": errors,
        "relay_metrics": {"healthz": health, "viewers": metrics_viewers, "expected_viewers": o.viewers},
    });
    println!("{json}");
    let problems = problems(
        &o,
        joins.len(),
        [one_frames, all_frames, nos_frames, lw_n as u64, lo_n as u64],
        errors,
        metrics_viewers,
        &health,
    );
    if !problems.is_empty() {
        fail(problems.join("; "));
    }
}
