//! What the load test and the webinar benchmark share: the recording played to the host in whole
#![allow(dead_code)] // each benchmark uses part of it
//! loops (so that every measured phase encodes and sends the same pictures), host samples, viewer
//! joins, and process figures from `/proc`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glimpse::{Frame, PixelFormat};
use glimpse_connect::{Host, HostStats, JoinCode, Viewer, ViewerConfig};

/// Prints `message` after the program's name and exits with status 1.
pub fn fail(message: String) -> ! {
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "bench".into());
    eprintln!("{program}: {message}");
    std::process::exit(1)
}

/// Ends the process with an error after `seconds` (the benchmarks stop by themselves).
pub fn time_limit(seconds: u64) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(seconds));
        fail("time limit reached".into());
    });
}

pub fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[((p / 100.0) * (v.len() - 1) as f64).round() as usize]
}

/// CPU time of a process (`"self"` or a pid), in ms (utime + stime).
pub fn cpu_ms(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0.0);
    ticks * 10.0 // USER_HZ is 100 on Linux
}

pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// `glimpse-relay` next to this program (target/<profile>/examples/X -> target/<profile>/), or
/// `given`.
pub fn relay_exe(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        let me = std::env::current_exe().expect("current exe");
        me.parent()
            .and_then(|p| p.parent())
            .expect("target dir")
            .join("glimpse-relay")
    })
}

/// The frames of recording `name` at its largest size in the shared corpus (or the bundled one),
/// and that size.
pub fn recording(name: &str) -> (Vec<Vec<u8>>, (u32, u32)) {
    let corpus =
        glimpse_corpus::Corpus::shared_or_bundled().unwrap_or_else(|e| fail(e.to_string()));
    let scenario = corpus
        .scenarios
        .iter()
        .filter(|s| s.name == name)
        .max_by_key(|s| s.width * s.height)
        .unwrap_or_else(|| fail(format!("no recording {name}")));
    let frames = scenario.load_all().unwrap_or_else(|e| fail(e.to_string()));
    (frames, (scenario.width, scenario.height))
}

/// The runtime the viewers share.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Joins a viewer that does not decode (it reads packet headers and acknowledges, as a browser
/// does); a slow one reads one message per 200 ms. A crowd waits its turn at the relay: the join
/// retries by itself.
pub fn join(url: &str, code: JoinCode, rt: &tokio::runtime::Runtime, slow: bool) -> Viewer {
    let mut c = ViewerConfig::new(url, code);
    c.decode = false;
    c.runtime = Some(rt.handle().clone());
    if slow {
        c.read_delay = Duration::from_millis(200);
    }
    Viewer::join(c).unwrap_or_else(|e| fail(format!("a viewer could not join through {url}: {e}")))
}

/// Host measurements at one instant.
#[derive(Clone, Copy)]
pub struct Sample {
    pub frames: u64,
    pub encode_cpu_ns: u64,
    pub sent: u64,
    pub checkpoints: u64,
}

pub fn sample(s: &HostStats) -> Sample {
    Sample {
        frames: s.frames,
        encode_cpu_ns: s.encode_cpu_ns,
        sent: s.sent_bytes,
        checkpoints: s.checkpoints,
    }
}

/// (encode CPU ms, upload bytes) per frame between two samples, and the frames.
pub fn per_frame(a: Sample, b: Sample) -> (f64, f64, u64) {
    let frames = b.frames - a.frames;
    let f = frames.max(1) as f64;
    (
        (b.encode_cpu_ns - a.encode_cpu_ns) as f64 / 1e6 / f,
        (b.sent - a.sent) as f64 / f,
        frames,
    )
}

/// The recording played to the host at a frame rate, round and round, until the host is closed;
/// measuring windows cover whole loops.
pub struct Player {
    pushed: Arc<AtomicU64>,
    /// The recording's length in frames.
    pub frames: u64,
    loops: u64,
}

impl Player {
    /// Starts playing `frames` (BGRA, `w` x `h`) at `fps` on a thread of its own; each measuring
    /// window covers about `phase` (whole loops, at least one).
    pub fn start(
        host: Arc<Host>,
        frames: Vec<Vec<u8>>,
        (w, h): (u32, u32),
        fps: f64,
        phase: Duration,
    ) -> Player {
        let length = frames.len().max(1) as u64;
        let loops = ((phase.as_secs_f64() * fps / length as f64).round() as u64).max(1);
        let pushed = Arc::new(AtomicU64::new(0));
        let counter = pushed.clone();
        std::thread::spawn(move || {
            let interval = Duration::from_secs_f64(1.0 / fps);
            let mut next = Instant::now();
            for pixels in frames.iter().cycle() {
                let frame =
                    Frame::new(pixels, w, h, w as usize * 4, PixelFormat::Bgra8).expect("frame");
                if host.push_frame(&frame, None).is_err() {
                    return;
                }
                counter.fetch_add(1, Ordering::Release);
                next += interval;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        Player {
            pushed,
            frames: length,
            loops,
        }
    }

    /// Waits until the player is about to push the recording's first frame (the network thread
    /// sent what came before: the sample falls between two pushes).
    pub fn wait_loop_start(&self) {
        loop {
            let n = self.pushed.load(Ordering::Acquire);
            if n % self.frames == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Measures whole loops: host samples and wall times (ms since the epoch) at both ends, and
    /// `between` (other figures) taken at the same instants.
    pub fn window<T>(
        &self,
        host: &Host,
        mut between: impl FnMut() -> T,
    ) -> ((Sample, Sample), (f64, f64), (T, T)) {
        self.wait_loop_start();
        let start = self.pushed.load(Ordering::Acquire);
        let (a, ta, na) = (sample(&host.stats()), epoch_ms(), between());
        while self.pushed.load(Ordering::Acquire) < start + self.loops * self.frames {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.wait_loop_start();
        let (b, tb, nb) = (sample(&host.stats()), epoch_ms(), between());
        ((a, b), (ta, tb), (na, nb))
    }
}
