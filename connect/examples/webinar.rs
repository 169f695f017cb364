//! Webinar benchmark of the relay cluster on loopback: 3 NATS servers (one NATS cluster with
//! JetStream) and 3 `glimpse-relay --nats` processes, started and stopped here; one host (the Rust
//! API, in this process) on node 1 streams a recording to 1 viewer, then to N viewers spread over
//! the 3 nodes (some of them slow), then to the fast ones alone. Prints one JSON object: host CPU
//! and upload per frame with 1 vs N viewers, stream bytes on NATS against the host's upload (the
//! origin's publish and each mirror's read), the fast viewers' capture-to-receive latency with
//! and without the slow ones, join times per node, and each node's CPU, RSS and viewer count.
//!
//! Exits non-zero when a viewer cannot join, a phase measures no frame, a viewer saw a decode
//! error, or a node's `/metrics` does not count the viewers connected to it. Stops by itself (hard
//! limit 600 s).
//!
//! Full size (1,000 viewers, 30 slow):
//! `cargo build --release -p glimpse-connect --features cluster --bins --examples && target/release/examples/webinar`
//! CI size: `target/release/examples/webinar --viewers 300 --slow 10`.
//! Options: `--viewers N` (1000), `--slow N` (30), `--corpus NAME` (typing_editor, largest size
//! found), `--fps N` (20), `--phase-seconds N` (10), `--relay-bin PATH`, `--nats-bin PATH`.
//! Viewers run on one shared tokio runtime and do not decode (they read packet headers and
//! acknowledge, as a browser does); the slow ones read one message per 200 ms. Each phase measures
//! whole loops of the recording, starting at its first frame (about `--phase-seconds`), so every
//! phase encodes and sends the same pictures.

mod bench;
#[path = "../tests/cluster/harness.rs"]
mod harness;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bench::{cpu_ms, fail, join, per_frame, percentile, relay_exe, rss_mib, Player, Sample};
use glimpse::EncoderConfig;
use glimpse_connect::{ControlPolicy, Host, HostConfig, Viewer, ViewerStats};
use harness::{NatsCluster, RelayNode};

const NODES: usize = 3;

struct Options {
    viewers: usize,
    slow: usize,
    corpus: String,
    fps: f64,
    phase: Duration,
    relay_bin: Option<PathBuf>,
    nats_bin: Option<PathBuf>,
}

fn parse() -> Options {
    let mut o = Options {
        viewers: 1000,
        slow: 30,
        corpus: "typing_editor".into(),
        fps: 20.0,
        phase: Duration::from_secs(10),
        relay_bin: None,
        nats_bin: None,
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
            "--phase-seconds" => o.phase = Duration::from_secs_f64(number(&v)),
            "--relay-bin" => o.relay_bin = Some(v.into()),
            "--nats-bin" => o.nats_bin = Some(v.into()),
            other => fail(format!("unknown argument {other}")),
        }
    }
    if o.viewers < NODES + 1 || o.slow >= o.viewers {
        fail("need more than 3 viewers, and more viewers than slow ones".into());
    }
    o
}

/// Each node's figures at one instant: CPU ms, stream bytes published and read.
#[derive(Clone, Default)]
struct NodeSample {
    cpu_ms: f64,
    skips: f64,
    resyncs: f64,
    consumer_restarts: f64,
    published: f64,
    received: f64,
    nats_out: f64,
    nats_in: f64,
}

fn node_sample(node: &RelayNode) -> NodeSample {
    let m: HashMap<String, f64> = node.metrics().into_iter().collect();
    let get = |k: &str| m.get(k).copied().unwrap_or(0.0);
    NodeSample {
        cpu_ms: node.pid().map_or(0.0, |p| cpu_ms(&p.to_string())),
        skips: get("glimpse_relay_checkpoint_skips_total"),
        resyncs: get("glimpse_relay_cluster_mirror_resyncs_total"),
        consumer_restarts: get("glimpse_relay_cluster_mirror_consumer_restarts_total"),
        published: get("glimpse_relay_cluster_stream_published_bytes_total"),
        received: get("glimpse_relay_cluster_stream_received_bytes_total"),
        nats_out: get("glimpse_relay_cluster_nats_sent_bytes"),
        nats_in: get("glimpse_relay_cluster_nats_received_bytes"),
    }
}

fn main() {
    let o = parse();
    bench::time_limit(600);
    let nats_bin = o
        .nats_bin
        .clone()
        .or_else(harness::nats_server)
        .unwrap_or_else(|| fail("nats-server is missing: bash scripts/setup.sh".into()));
    let (frames, (w, h)) = bench::recording(&o.corpus);

    let servers = NatsCluster::start(&nats_bin, 3);
    let limits = [
        "--max-viewers",
        "100000",
        "--max-connections-per-ip",
        "100000",
        "--max-connections",
        "100000",
    ];
    let nodes: Vec<RelayNode> = (0..NODES)
        .map(|_| RelayNode::start(&relay_exe(o.relay_bin.clone()), &servers.urls(), &limits))
        .collect();
    let urls: Vec<String> = nodes.iter().map(|n| n.url()).collect();

    let mut config = HostConfig::new(&urls[0]);
    config.policy = ControlPolicy::ViewOnly;
    config.encoder = EncoderConfig::default();
    let host =
        std::sync::Arc::new(Host::connect(config).unwrap_or_else(|e| fail(format!("host: {e}"))));
    host.record_timings(true);
    let code = host.code();
    let player = Player::start(host.clone(), frames, (w, h), o.fps, o.phase);
    let rt = bench::runtime();
    run(&o, &nodes, &urls, &host, code, &rt, (w, h), &player);
}

/// One viewer of the crowd: its node, whether it is slow, the viewer.
type Member = (usize, bool, Viewer);

#[allow(clippy::too_many_arguments)]
fn run(
    o: &Options,
    nodes: &[RelayNode],
    urls: &[String],
    host: &Host,
    code: glimpse_connect::JoinCode,
    rt: &tokio::runtime::Runtime,
    (w, h): (u32, u32),
    player: &Player,
) {
    // Phase 1: one viewer, on node 2 (after a warm-up, so the tile cache is alike in every phase).
    let first = join(&urls[1], code, rt, false);
    let nodes_now = || nodes.iter().map(node_sample).collect::<Vec<NodeSample>>();
    player.wait_loop_start(); // a whole loop of warm-up
    std::thread::sleep(Duration::from_millis(100));
    let ((a0, a1), (t1, t1_end), (n_a0, n_a1)) = player.window(host, nodes_now);

    // Phase 2: everybody, viewer i on node i % 3 (the slow ones among them), joining 4 at a time
    // per node.
    let join_started = Instant::now();
    let crowd: Vec<Member> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..NODES * 4)
            .map(|k| {
                let total = o.viewers - 1;
                scope.spawn(move || {
                    (k..total)
                        .step_by(NODES * 4)
                        .map(|i| {
                            let (node, slow) = (i % NODES, i < o.slow);
                            (node, slow, join(&urls[node], code, rt, slow))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("joiner"))
            .collect()
    });
    let join_wall = join_started.elapsed();
    std::thread::sleep(Duration::from_millis(1500));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (((b0, b1), (t2, t2_end), (n_b0, n_b1)), rss) = std::thread::scope(|scope| {
        let peaks = scope.spawn(|| {
            let mut rss = vec![0.0f64; NODES];
            while !stop.load(Ordering::Relaxed) {
                for (i, node) in nodes.iter().enumerate() {
                    rss[i] = rss[i].max(node.pid().map_or(0.0, rss_mib));
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            rss
        });
        let measured = player.window(host, nodes_now);
        stop.store(true, Ordering::Relaxed);
        (measured, peaks.join().expect("rss sampler"))
    });
    let node_viewers: Vec<f64> = nodes
        .iter()
        .map(|n| n.metric("glimpse_relay_viewers"))
        .collect();

    // Phase 3: the slow viewers leave.
    let (slow, fast): (Vec<Member>, Vec<Member>) = crowd.into_iter().partition(|m| m.1);
    let slow_stats: Vec<(usize, ViewerStats)> = slow.iter().map(|m| (m.0, m.2.stats())).collect();
    drop(slow);
    std::thread::sleep(Duration::from_millis(1500));
    let ((c0, c1), (t3, t3_end), _) = player.window(host, || ());
    let fast_stats: Vec<(usize, ViewerStats)> = std::iter::once((1, first.stats()))
        .chain(fast.iter().map(|m| (m.0, m.2.stats())))
        .collect();
    drop(fast);
    drop(first);
    let timings: HashMap<u64, f64> = host.stats().timings.into_iter().collect();
    host.close();

    let expected: Vec<usize> = (0..NODES)
        .map(|n| (0..o.viewers - 1).filter(|i| i % NODES == n).count() + usize::from(n == 1))
        .collect();
    let report = Report {
        o,
        resolution: format!("{w}x{h}"),
        phases: [(a0, a1), (b0, b1), (c0, c1)],
        windows: [(t1, t1_end), (t2, t2_end), (t3, t3_end)],
        nodes_1: (n_a0, n_a1),
        nodes_n: (n_b0, n_b1),
        node_viewers,
        expected,
        rss,
        join_wall,
        fast_stats,
        slow_stats,
        timings,
        recording_frames: player.frames,
    };
    report.print_and_check();
}

struct Report<'a> {
    o: &'a Options,
    resolution: String,
    phases: [(Sample, Sample); 3],
    windows: [(f64, f64); 3],
    nodes_1: (Vec<NodeSample>, Vec<NodeSample>),
    nodes_n: (Vec<NodeSample>, Vec<NodeSample>),
    node_viewers: Vec<f64>,
    expected: Vec<usize>,
    rss: Vec<f64>,
    join_wall: Duration,
    fast_stats: Vec<(usize, ViewerStats)>,
    slow_stats: Vec<(usize, ViewerStats)>,
    timings: HashMap<u64, f64>,
    recording_frames: u64,
}

impl Report<'_> {
    fn latency(&self, fast_only_first: bool, (from, to): (f64, f64)) -> (f64, f64, usize) {
        let stats = if fast_only_first {
            &self.fast_stats[..1]
        } else {
            &self.fast_stats[..]
        };
        let l: Vec<f64> = stats
            .iter()
            .flat_map(|(_, s)| s.applied.iter())
            .filter(|(_, t)| *t >= from && *t < to)
            .filter_map(|(seq, t)| self.timings.get(seq).map(|c| t - c))
            .collect();
        (percentile(&l, 50.0), percentile(&l, 95.0), l.len())
    }

    /// Stream bytes on NATS in a phase: the origin's publish and each mirror's read, per host
    /// upload byte.
    fn nats(&self, (a, b): &(Vec<NodeSample>, Vec<NodeSample>), upload: f64) -> serde_json::Value {
        let per = |x: f64| x / upload.max(1.0);
        let published = b[0].published - a[0].published;
        let reads: Vec<f64> = (0..NODES).map(|i| b[i].received - a[i].received).collect();
        let client: Vec<f64> = (0..NODES)
            .map(|i| (b[i].nats_out - a[i].nats_out) + (b[i].nats_in - a[i].nats_in))
            .collect();
        serde_json::json!({
            "host_upload_bytes": upload,
            "origin_published_per_upload": per(published),
            "mirror_reads_per_upload": reads.iter().skip(1).map(|r| per(*r)).collect::<Vec<_>>(),
            "stream_copies_on_nats_per_upload": per(published + reads.iter().sum::<f64>()),
            "nats_client_bytes_per_node_per_upload": client.iter().map(|c| per(*c)).collect::<Vec<_>>(),
        })
    }

    fn print_and_check(&self) {
        let o = self.o;
        let [(a0, a1), (b0, b1), (c0, c1)] = self.phases;
        let (one_cpu, one_bytes, one_frames) = per_frame(a0, a1);
        let (all_cpu, all_bytes, all_frames) = per_frame(b0, b1);
        let (nos_cpu, nos_bytes, nos_frames) = per_frame(c0, c1);
        let (l1_50, l1_95, _) = self.latency(true, self.windows[0]);
        let (lw_50, lw_95, lw_n) = self.latency(false, self.windows[1]);
        let (lo_50, lo_95, lo_n) = self.latency(false, self.windows[2]);
        let phase_s = (self.windows[1].1 - self.windows[1].0) / 1000.0;
        let per_node: Vec<serde_json::Value> = (0..NODES)
            .map(|i| {
                let joins: Vec<f64> = self.fast_stats[1..]
                    .iter()
                    .chain(&self.slow_stats)
                    .filter(|(n, _)| *n == i)
                    .filter_map(|(_, s)| s.first_screen_ms)
                    .collect();
                let cpu = self.nodes_n.1[i].cpu_ms - self.nodes_n.0[i].cpu_ms;
                serde_json::json!({
                    "node": i + 1,
                    "role": if i == 0 { "origin" } else { "mirror" },
                    "viewers": self.node_viewers[i],
                    "join_first_screen_ms": {"joined": joins.len(), "p50": percentile(&joins, 50.0), "p95": percentile(&joins, 95.0)},
                    "cpu_ms_per_s": cpu / phase_s,
                    "cpu_ms_per_s_per_100_viewers": cpu / phase_s / (self.node_viewers[i].max(1.0) / 100.0),
                    "rss_mib": self.rss[i],
                    "checkpoint_skips": self.nodes_n.1[i].skips - self.nodes_n.0[i].skips,
                    "mirror_resyncs": self.nodes_n.1[i].resyncs - self.nodes_n.0[i].resyncs,
                    "mirror_consumer_restarts":
                        self.nodes_n.1[i].consumer_restarts - self.nodes_n.0[i].consumer_restarts,
                })
            })
            .collect();
        let errors: u64 = self
            .fast_stats
            .iter()
            .chain(&self.slow_stats)
            .map(|(_, s)| s.decode_errors)
            .sum();
        let slow_skips: u64 = self
            .slow_stats
            .iter()
            .map(|(_, s)| s.checkpoints.saturating_sub(1))
            .sum();
        let json = serde_json::json!({
            "scenario": o.corpus, "resolution": self.resolution, "fps": o.fps, "nodes": NODES,
            "viewers": o.viewers, "slow_viewers": o.slow,
            "host_encode_cpu_ms_per_frame": {"1": one_cpu, "all": all_cpu, "all_without_slow": nos_cpu, "ratio_all_vs_1": all_cpu / one_cpu.max(1e-9)},
            "host_upload_bytes_per_frame": {"1": one_bytes, "all": all_bytes, "all_without_slow": nos_bytes, "ratio_all_vs_1": all_bytes / one_bytes.max(1e-9)},
            "host_checkpoints": {"1": a1.checkpoints - a0.checkpoints, "all": b1.checkpoints - b0.checkpoints, "all_without_slow": c1.checkpoints - c0.checkpoints},
            "frames_measured": {"1": one_frames, "all": all_frames, "all_without_slow": nos_frames},
            "recording_frames": self.recording_frames,
            "nats_stream_bytes": {
                "one_viewer_on_node_2": self.nats(&self.nodes_1, (a1.sent - a0.sent) as f64),
                "all_viewers": self.nats(&self.nodes_n, (b1.sent - b0.sent) as f64),
            },
            "latency_ms": {
                "single_viewer": {"p50": l1_50, "p95": l1_95},
                "fast_with_slow": {"p50": lw_50, "p95": lw_95, "samples": lw_n},
                "fast_without_slow": {"p50": lo_50, "p95": lo_95, "samples": lo_n}
            },
            "all_joins_wall_ms": self.join_wall.as_secs_f64() * 1000.0,
            "per_node": per_node,
            "slow_viewer_checkpoints_after_first": slow_skips,
            "slow_viewer_reconnects": self.slow_stats.iter().map(|(_, s)| s.reconnects).sum::<u64>(),
            "decode_errors": errors,
        });
        println!("{json}");
        let mut problems = Vec::new();
        let joined = self
            .fast_stats
            .iter()
            .chain(&self.slow_stats)
            .filter(|(_, s)| s.first_screen_ms.is_some())
            .count();
        if joined != o.viewers {
            problems.push(format!("{joined} of {} viewers saw a screen", o.viewers));
        }
        if one_frames == 0 || all_frames == 0 || nos_frames == 0 || lw_n == 0 || lo_n == 0 {
            problems.push("a phase measured no frame".to_string());
        }
        if errors > 0 {
            problems.push(format!("{errors} decode errors"));
        }
        for (i, (seen, expected)) in self.node_viewers.iter().zip(&self.expected).enumerate() {
            if *seen != *expected as f64 {
                problems.push(format!(
                    "node {} counted {seen} viewers, {expected} were connected",
                    i + 1
                ));
            }
        }
        if !problems.is_empty() {
            fail(problems.join("; "));
        }
    }
}
