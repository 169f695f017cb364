//! The relay as a cluster on NATS, over real sockets on 127.0.0.1: `nats-server` processes (a
//! 3-server NATS cluster with JetStream), 3 `glimpse-relay --nats` processes, a host and viewers
//! through the Rust API in this process. Skipped (with a printed reason) when `nats-server` is
//! not installed, unless `GLIMPSE_REQUIRE_NATS` is set.
//!
//! - `fanout`: host on node 1, viewers on nodes 2 and 3 (a Chromium page on node 3 when
//!   installed, see `page`), a late joiner on node 3: every viewer ends pixel-exact; each mirror node reads the stream from NATS once, whatever its viewers.
//! - `failover`: one NATS server killed, a mirror node killed (its viewers move to another node),
//!   the host's node killed (the host moves and keeps its code): every viewer ends pixel-exact.
//! - `stall`: a mirror's JetStream consumer deleted under it: the mirror notices it is behind what
//!   JetStream stored (its origin says how far) and creates its consumer again.
//! - `secured`: NATS requiring a token and TLS: nodes with `--nats-auth-file` and `--nats-ca` serve a
//!   session; a wrong token, or no CA for the server's certificate, keeps a node from starting.

#[path = "../../examples/bench/mod.rs"]
mod bench;
#[path = "../support/browser.rs"]
mod browser;
mod failover;
mod fanout;
mod harness;
mod page;
#[path = "../support/recording.rs"]
mod recording;
mod secured;
mod stall;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glimpse_connect::{ControlPolicy, Host, Screen, Viewer, ViewerConfig};

pub use bench::runtime;
use recording::{bgra_frame, exact_host, screen};
pub use recording::{recording, wait_exact, WIDTH};

/// A host playing a recording over and over through the Rust API until stopped; then it shows
/// one last frame, which every viewer must end on.
pub struct LoopingHost {
    pub host: Arc<Host>,
    frames: Arc<Vec<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl LoopingHost {
    pub fn start(relay_url: &str, frames: Vec<Vec<u8>>, fps: f64) -> LoopingHost {
        let host = Arc::new(exact_host(
            relay_url,
            ControlPolicy::ViewOnly,
            "cluster test host",
        ));
        let frames = Arc::new(frames);
        let stop = Arc::new(AtomicBool::new(false));
        let (h, f, s) = (host.clone(), frames.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let interval = Duration::from_secs_f64(1.0 / fps);
            let mut i = 0;
            while !s.load(Ordering::Relaxed) {
                push(&h, &f[i % f.len()]);
                i += 1;
                std::thread::sleep(interval);
            }
            i
        });
        LoopingHost {
            host,
            frames,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops playing and shows frame `last` (pushed a few times, so it is sent whatever the
    /// network did meanwhile); the screen every viewer must end on.
    pub fn finish(&mut self, last: usize) -> Screen {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let pixels = self.frames[last % self.frames.len()].clone();
        for _ in 0..3 {
            push(&self.host, &pixels);
            std::thread::sleep(Duration::from_millis(100));
        }
        screen(pixels)
    }
}

impl Drop for LoopingHost {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.host.close();
    }
}

fn push(host: &Host, pixels: &[u8]) {
    // The network thread reconnects by itself; frames pushed meanwhile are dropped.
    let _ = host.push_frame(&bgra_frame(pixels), None);
}

/// A viewer that decodes, joined through `url`.
pub fn viewer(url: &str, host: &Host, name: &str) -> Viewer {
    let mut config = ViewerConfig::new(url, host.code());
    config.name = name.into();
    Viewer::join(config).unwrap_or_else(|e| panic!("{name} joins: {e}"))
}

/// Waits until `cond` holds (false after `limit`).
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while !cond() {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// `nats-server` and a runtime for a cluster test (`None`: skipped, see [`harness::nats_or_skip`]).
pub fn nats_and_runtime(what: &str) -> Option<(std::path::PathBuf, tokio::runtime::Runtime)> {
    let nats = harness::nats_or_skip(what)?;
    Some((nats, runtime()))
}

/// The `glimpse-relay` program of this build.
pub fn relay_exe() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_glimpse-relay").into()
}
