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

mod bench;
#[path = "../tests/cluster/harness.rs"]
mod harness;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bench::{cpu_ms, fail, join, per_frame, percentile, relay_exe, rss_mib, Player};
use glimpse::EncoderConfig;
use glimpse_connect::{ControlPolicy, Host, HostConfig, JoinCode, Viewer};
use harness::http_get;

struct Options {
    viewers: usize,
    slow: usize,
    corpus: String,
    fps: f64,
    phase: Option<Duration>,
    relay_bin: Option<String>,
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

fn start_relay(o: &Options) -> (Child, String) {
    let exe = relay_exe(o.relay_bin.clone().map(std::path::PathBuf::from));
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

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(-1.0)
}

/// Joins `total` viewers, 8 at a time; the first `slow` of them are slow readers.
fn join_crowd(
    url: &str,
    code: JoinCode,
    rt: &tokio::runtime::Runtime,
    total: usize,
    slow: usize,
) -> Vec<(bool, Viewer)> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|k| {
                scope.spawn(move || {
                    (k..total)
                        .step_by(8)
                        .map(|i| (i < slow, join(url, code, rt, i < slow)))
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
    bench::time_limit(170);
    let (frames, (w, h)) = bench::recording(&o.corpus);
    let phase = o
        .phase
        .unwrap_or(Duration::from_secs_f64(frames.len() as f64 / o.fps));
    let (mut relay, addr) = start_relay(&o);
    let url = format!("ws://{addr}");
    let socket: std::net::SocketAddr = addr.parse().expect("relay address");

    let mut config = HostConfig::new(&url);
    config.policy = ControlPolicy::ViewOnly;
    config.encoder = EncoderConfig::default();
    let host =
        std::sync::Arc::new(Host::connect(config).unwrap_or_else(|e| fail(format!("host: {e}"))));
    host.record_timings(true);
    let code = host.code();
    let player = Player::start(host.clone(), frames, (w, h), o.fps, phase);
    let rt = bench::runtime();

    // Phase 1: one viewer (after a warm-up loop, so every measured loop finds the tile cache
    // alike). Every phase measures whole loops of the recording: the same pictures.
    let first = join(&url, code, &rt, false);
    player.wait_loop_start();
    std::thread::sleep(Duration::from_millis(100));
    let ((a0, a1), (t1, t1_end), _) = player.window(&host, || ());
    let rss_1 = rss_mib(relay.id());

    // Phase 2: everybody (the slow ones read one message per 200 ms). Joins run 8 at a time.
    let join_started = Instant::now();
    let crowd = join_crowd(&url, code, &rt, o.viewers - 1, o.slow);
    let join_wall = join_started.elapsed();
    std::thread::sleep(Duration::from_millis(1000));
    let (health, _) = http_get(socket, "/healthz");
    let (_, metrics) = http_get(socket, "/metrics");
    let metrics_viewers = metric(&metrics, "glimpse_relay_viewers");
    let relay_pid = relay.id();
    let ((b0, b1), (t2, t2_end), ((rss_a, cpu_a), (rss_b, cpu_b))) =
        player.window(&host, || (rss_mib(relay_pid), cpu_ms("self")));
    let rss_2 = rss_a.max(rss_b);
    let clients_cpu_per_s = (cpu_b - cpu_a) / ((t2_end - t2) / 1000.0).max(1e-9);

    // Phase 3: the slow viewers leave.
    let (slow, fast): (Vec<_>, Vec<_>) = crowd.into_iter().partition(|(s, _)| *s);
    let slow: Vec<Viewer> = slow.into_iter().map(|(_, v)| v).collect();
    let fast: Vec<Viewer> = std::iter::once(first)
        .chain(fast.into_iter().map(|(_, v)| v))
        .collect();
    let slow_stats: Vec<_> = slow.iter().map(|v| v.stats()).collect();
    drop(slow);
    std::thread::sleep(Duration::from_millis(1000));
    let ((c0, c1), (t3, t3_end), _) = player.window(&host, || ());
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
        "viewer_clients_cpu_ms_per_s": clients_cpu_per_s,
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
