//! Load test of quick connect on loopback: one host streaming a corpus recording through the relay
//! (a separate process: `target/*/examples/relay`) to 1, then 200 viewers (10 of them slow), then the
//! 190 fast ones alone. Stops by itself (hard limit 150 s). Prints one JSON object:
//! host CPU per frame with 1 vs 200 viewers, host upload per frame, relay memory, join times, and
//! the fast viewers' capture-to-receive latency with and without the slow ones.
//!
//! `cargo build --release --example relay --example quick_load && target/release/examples/quick_load`
//! Options: `--viewers N` (200), `--slow N` (10), `--corpus NAME[@WxH]` (typing_editor, largest size
//! found), `--fps N` (20), `--phase-seconds N` (4).

#[path = "host.rs"]
mod host;
#[path = "viewer.rs"]
mod viewer;
#[path = "wire.rs"]
mod wire;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use glimpse::EncoderConfig;
use host::{ControlPolicy, EncodeConfig, EncodeStats, HostEvent, Source};
use tokio::sync::mpsc;
use viewer::{Join, ViewerClient, ViewerOptions};

/// Set once the measurements are done (the relay is about to be stopped).
static FINISHING: AtomicBool = AtomicBool::new(false);

struct Options {
    viewers: usize,
    slow: usize,
    corpus: String,
    fps: f64,
    /// Default: one pass over the recording, so every phase encodes the same frames.
    phase: Option<Duration>,
}

fn parse() -> Options {
    let mut o = Options {
        viewers: 200,
        slow: 10,
        corpus: "typing_editor".into(),
        fps: 20.0,
        phase: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--viewers" => o.viewers = v.parse().expect("--viewers N"),
            "--slow" => o.slow = v.parse().expect("--slow N"),
            "--corpus" => o.corpus = v,
            "--fps" => o.fps = v.parse().expect("--fps N"),
            "--phase-seconds" => {
                o.phase = Some(Duration::from_secs_f64(
                    v.parse().expect("--phase-seconds N"),
                ))
            }
            other => {
                eprintln!("quick_load: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    assert!(
        o.viewers > o.slow && o.viewers >= 2,
        "need more viewers than slow ones"
    );
    o
}

/// utime + stime of one thread of this process, in ms (clock-tick resolution).
fn task_cpu_ms(tid: i32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return 0.0;
    };
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0.0);
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks * 1000.0 / hz
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn start_relay() -> (Child, String) {
    let exe = std::env::current_exe().expect("current exe");
    let relay = exe.with_file_name("relay");
    let mut child = Command::new(&relay)
        .args(["--listen", "127.0.0.1:0", "--seconds", "170"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            eprintln!(
                "quick_load: cannot start {} ({e}): build it with `cargo build --release --example relay`",
                relay.display()
            );
            std::process::exit(1)
        });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("relay output");
    let addr = line
        .trim()
        .strip_prefix("relay listening on http://")
        .unwrap_or_else(|| panic!("unexpected relay output: {line}"))
        .to_string();
    (child, format!("ws://{addr}"))
}

/// A phase's measurements of the host.
#[derive(Clone, Copy, Default)]
struct Sample {
    frames: u64,
    encode_cpu_ns: u64,
    bytes: u64,
    threads_cpu_ms: f64,
}

struct Viewers {
    tasks: Vec<tokio::task::JoinHandle<ViewerClient>>,
}

fn main() {
    let o = parse();
    // Hard limit: whatever happens, stop.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(150));
        eprintln!("quick_load: time limit reached");
        std::process::exit(3);
    });
    let (mut relay, base) = start_relay();
    let relay_pid = relay.id();

    // Host: encoder thread + link thread (its own runtime), both measured.
    let corpus = host::CorpusSource::open(&o.corpus, true).expect("corpus");
    let (w, h) = corpus.size();
    let scenario = corpus.name().to_string();
    let phase = o
        .phase
        .unwrap_or(Duration::from_secs_f64(corpus.frame_count() as f64 / o.fps));
    let stats = Arc::new(Mutex::new(EncodeStats::default()));
    let (packets_tx, mut packets_rx) = mpsc::channel(64);
    let (encoder_tx, encoder_rx) = std_mpsc::channel();
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let encoder_tid = Arc::new(AtomicI32::new(0));
    let link_tid = Arc::new(AtomicI32::new(0));
    let config = EncodeConfig {
        fps: o.fps,
        max_frames: None,
        max_duration: Some(Duration::from_secs(140)),
        encoder: EncoderConfig::default(),
        keep_last_frame: false,
        last_frame_file: None,
    };
    let (s, tid) = (stats.clone(), encoder_tid.clone());
    std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tid.store(unsafe { libc::gettid() }, Ordering::Relaxed);
        let _ = host::run_encoder(
            Source::Corpus(Box::new(corpus)),
            config,
            encoder_rx,
            packets_tx,
            None,
            None,
            s,
        );
    });
    let url = format!("{base}/ws/host");
    let tid = link_tid.clone();
    std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tid.store(unsafe { libc::gettid() }, Ordering::Relaxed);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (_commands_tx, mut commands_rx) = mpsc::unbounded_channel();
            let (_local_tx, mut local_rx) = mpsc::unbounded_channel();
            let end = host::run_link(
                &url,
                &mut packets_rx,
                &encoder_tx,
                &mut commands_rx,
                &mut local_rx,
                &events_tx,
                ControlPolicy::Refuse,
            )
            .await;
            // The relay is killed at the end: only an earlier end is news.
            if let host::LinkEnd::Error(e) = end {
                if !FINISHING.load(Ordering::Relaxed) {
                    eprintln!("quick_load: host link ended early: {e}");
                }
            }
        });
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let key = rt.block_on(async {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), events_rx.recv()).await {
                Ok(Some(HostEvent::Ready { key })) => break key.to_string(),
                Ok(Some(_)) => {}
                other => panic!("no session key: {other:?}"),
            }
        }
    });
    let sample = || {
        let s = stats.lock().unwrap();
        Sample {
            frames: s.frames,
            encode_cpu_ns: s.encode_cpu_ns,
            bytes: s.bytes,
            threads_cpu_ms: task_cpu_ms(encoder_tid.load(Ordering::Relaxed))
                + task_cpu_ms(link_tid.load(Ordering::Relaxed)),
        }
    };
    let per_frame = |a: Sample, b: Sample| {
        let frames = (b.frames - a.frames).max(1) as f64;
        (
            (b.encode_cpu_ns - a.encode_cpu_ns) as f64 / 1e6 / frames,
            (b.threads_cpu_ms - a.threads_cpu_ms) / frames,
            (b.bytes - a.bytes) as f64 / frames,
            b.frames - a.frames,
        )
    };
    let stop = Arc::new(AtomicBool::new(false));
    let spawn_viewer = |options: ViewerOptions, stop: Arc<AtomicBool>| {
        let (base, key) = (base.clone(), key.clone());
        rt.spawn(async move {
            let mut v = ViewerClient::join(&base, Join::Key(key), options)
                .await
                .expect("viewer join");
            while !stop.load(Ordering::Relaxed) {
                if !v.run_for(Duration::from_millis(100)).await.unwrap_or(false) {
                    break;
                }
            }
            v.close().await;
            v
        })
    };

    // Phase 1: one viewer.
    let first_stop = Arc::new(AtomicBool::new(false));
    let mut all = Viewers { tasks: Vec::new() };
    all.tasks
        .push(spawn_viewer(ViewerOptions::default(), first_stop.clone()));
    // Warm-up: one pass over the recording, so that every measured pass finds the tile cache alike.
    std::thread::sleep(phase + Duration::from_millis(500));
    let rss_1 = rss_mib(relay_pid);
    let a0 = sample();
    let t1_start = wire::epoch_ms();
    std::thread::sleep(phase);
    let a1 = sample();
    let t1_end = wire::epoch_ms();
    let rss_1_end = rss_mib(relay_pid);

    // Phase 2: everybody (the slow ones read one message per 200 ms).
    let slow_stop = Arc::new(AtomicBool::new(false));
    let mut slow_tasks = Vec::new();
    let fast_opts = ViewerOptions {
        decode: false,
        read_delay: Duration::ZERO,
    };
    let slow_opts = ViewerOptions {
        decode: false,
        read_delay: Duration::from_millis(200),
    };
    let join_started = Instant::now();
    for i in 1..o.viewers {
        if i <= o.slow {
            slow_tasks.push(spawn_viewer(slow_opts, slow_stop.clone()));
        } else {
            all.tasks.push(spawn_viewer(fast_opts, stop.clone()));
        }
    }
    std::thread::sleep(Duration::from_millis(2500));
    let join_wall = join_started.elapsed();
    let b0 = sample();
    let t2_start = wire::epoch_ms();
    let mut rss_2 = rss_mib(relay_pid);
    let steps = 8;
    for _ in 0..steps {
        std::thread::sleep(phase / steps);
        rss_2 = rss_2.max(rss_mib(relay_pid));
    }
    let b1 = sample();
    let t2_end = wire::epoch_ms();

    // Phase 3: the slow viewers leave.
    slow_stop.store(true, Ordering::Relaxed);
    let slow: Vec<ViewerClient> = rt.block_on(async {
        let mut out = Vec::new();
        for t in slow_tasks {
            if let Ok(Ok(v)) = tokio::time::timeout(Duration::from_secs(10), t).await {
                out.push(v);
            }
        }
        out
    });
    std::thread::sleep(Duration::from_millis(1000));
    let c0 = sample();
    let t3_start = wire::epoch_ms();
    std::thread::sleep(phase);
    let c1 = sample();
    let t3_end = wire::epoch_ms();
    let rss_3 = rss_mib(relay_pid);

    stop.store(true, Ordering::Relaxed);
    first_stop.store(true, Ordering::Relaxed);
    let fast: Vec<ViewerClient> = rt.block_on(async {
        let mut out = Vec::new();
        for t in all.tasks {
            if let Ok(Ok(v)) = tokio::time::timeout(Duration::from_secs(10), t).await {
                out.push(v);
            }
        }
        out
    });
    FINISHING.store(true, Ordering::Relaxed);
    let _ = relay.kill();
    let _ = relay.wait();

    // Latency: receive time minus the host's capture time of the same seq.
    let captured: std::collections::HashMap<u64, f64> =
        stats.lock().unwrap().timings.iter().copied().collect();
    let latency = |viewers: &[ViewerClient], from: f64, to: f64| {
        let mut l: Vec<f64> = viewers
            .iter()
            .flat_map(|v| v.received.iter())
            .filter(|(_, t)| *t >= from && *t < to)
            .filter_map(|(seq, t)| captured.get(seq).map(|c| t - c))
            .collect();
        (
            wire::percentile(&mut l, 50.0),
            wire::percentile(&mut l, 95.0),
            l.len(),
        )
    };
    let (one_cpu, one_threads, one_bytes, one_frames) = per_frame(a0, a1);
    let (all_cpu, all_threads, all_bytes, all_frames) = per_frame(b0, b1);
    let (nos_cpu, nos_threads, _, _) = per_frame(c0, c1);
    let (l1_50, l1_95, _) = latency(&fast[..1], t1_start, t1_end);
    let (lw_50, lw_95, lw_n) = latency(&fast, t2_start, t2_end);
    let (lo_50, lo_95, lo_n) = latency(&fast, t3_start, t3_end);
    let mut joins: Vec<f64> = fast[1..]
        .iter()
        .chain(slow.iter())
        .filter_map(|v| v.first_screen.map(|d| d.as_secs_f64() * 1000.0))
        .collect();
    let joined = joins.len();
    let first_join = fast[0]
        .first_screen
        .map_or(-1.0, |d| d.as_secs_f64() * 1000.0);
    let last_seq = captured.keys().max().copied().unwrap_or(0);
    // How far behind each slow viewer was at the end of the crowded phase, in updates.
    let host_seq_at = |t: f64| {
        captured
            .iter()
            .filter(|(_, c)| **c < t)
            .map(|(s, _)| *s)
            .max()
            .unwrap_or(0)
    };
    let host_at_t2 = host_seq_at(t2_end);
    let slow_behind: Vec<u64> = slow
        .iter()
        .map(|v| {
            let seen = v
                .received
                .iter()
                .filter(|(_, t)| *t < t2_end)
                .map(|(s, _)| *s)
                .max()
                .unwrap_or(0);
            host_at_t2.saturating_sub(seen)
        })
        .collect();
    let _ = last_seq;
    let slow_skips: u64 = slow.iter().map(|v| v.checkpoints.saturating_sub(1)).sum();
    let errors: u64 = fast.iter().map(|v| v.decode_errors).sum();
    println!(
        "{{\"scenario\":\"{scenario}\",\"resolution\":\"{w}x{h}\",\"fps\":{},\"viewers\":{},\"slow_viewers\":{},\
\"host_encode_cpu_ms_per_frame\":{{\"1\":{one_cpu:.3},\"all\":{all_cpu:.3},\"all_without_slow\":{nos_cpu:.3},\"ratio_all_vs_1\":{:.3}}},\
\"host_threads_cpu_ms_per_frame\":{{\"1\":{one_threads:.3},\"all\":{all_threads:.3},\"all_without_slow\":{nos_threads:.3}}},\
\"host_upload_bytes_per_frame\":{{\"1\":{one_bytes:.0},\"all\":{all_bytes:.0}}},\"frames_measured\":{{\"1\":{one_frames},\"all\":{all_frames}}},\
\"relay_rss_mib\":{{\"1_viewer\":{:.1},\"all_peak\":{rss_2:.1},\"after_slow_left\":{rss_3:.1}}},\
\"join_first_screen_ms\":{{\"first_viewer\":{first_join:.1},\"crowd_joined\":{joined},\"p50\":{:.1},\"p95\":{:.1},\"max\":{:.1},\"all_joins_wall_ms\":{:.0}}},\
\"latency_ms\":{{\"single_viewer\":{{\"p50\":{l1_50:.1},\"p95\":{l1_95:.1}}},\"fast_with_slow\":{{\"p50\":{lw_50:.1},\"p95\":{lw_95:.1},\"samples\":{lw_n}}},\"fast_without_slow\":{{\"p50\":{lo_50:.1},\"p95\":{lo_95:.1},\"samples\":{lo_n}}}}},\
\"slow_viewers_updates_behind_when_crowded\":{:?},\"slow_viewer_skips\":{slow_skips},\"decode_errors\":{errors}}}",
        o.fps,
        o.viewers,
        o.slow,
        all_cpu / one_cpu.max(1e-9),
        rss_1.max(rss_1_end),
        wire::percentile(&mut joins, 50.0),
        wire::percentile(&mut joins, 95.0),
        joins.iter().copied().fold(0.0, f64::max),
        join_wall.as_secs_f64() * 1000.0,
        slow_behind,
    );
    std::process::exit(0);
}
