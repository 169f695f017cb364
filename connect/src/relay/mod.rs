//! The relay: one host per session key, many viewers, each paced to its own connection.
//!
//! A library first, so tests and other programs start it in-process ([`Relay::start`]); the
//! `glimpse-relay` program is a thin wrapper. Every decision about the stream (who gets which packet,
//! when to ask the host for a checkpoint) is taken by [`glimpse::session::FanOut`]; lookups by
//! [`CodeRegistry`]; this module moves bytes between WebSockets and those types. One tokio task per
//! connection; a session's shared state sits behind one short-held mutex, never held across an
//! `.await`.
//!
//! Endpoints: `GET /ws/host` and `GET /ws/view` (WebSocket; the first message is the hello),
//! `GET /healthz`, `GET /metrics` (Prometheus text format), and the viewer page's files.
//!
//! ```no_run
//! # async fn run() -> Result<(), glimpse_connect::relay::StartError> {
//! use glimpse_connect::relay::{Relay, RelayConfig};
//!
//! let mut config = RelayConfig::default();
//! config.listen.set_port(0); // any free port on 127.0.0.1
//! let relay = Relay::start(config).await?;
//! println!("viewers open {}", relay.public_url());
//! relay.shutdown().await; // closes every connection with "reconnect" (1012)
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "cluster")]
pub mod cluster;
mod codes;
mod conn;
mod host;
mod http;
mod join_queue;
mod metrics;
mod server;
mod session;
mod skip_budget;
mod viewer;
mod web;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glimpse::session::FanOutConfig;

use crate::protocol::close;

pub use codes::{client_network, CodePolicy, CodeRegistry, CodeRejection, ResumeRefusal};
pub use web::web_build_hint;

use metrics::Metrics;
use session::Session;

/// Why [`Relay::start`] failed: what the relay could not set up for itself, where a
/// [`ConnectError`](crate::ConnectError) is what a client meets on its way to a relay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Plain ws on an address other than loopback, without `insecure`.
    #[error(
        "refusing to serve plain ws on {0} (not loopback): give a certificate, or --insecure \
         behind a TLS-terminating proxy"
    )]
    PlainOffLoopback(SocketAddr),
    /// The certificate or key cannot be read, or they do not fit together.
    #[error("TLS: {0}")]
    Tls(String),
    /// The address cannot be listened on (in use, not this machine's, not permitted).
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        reason: String,
    },
    /// The node cannot join its cluster (NATS unreachable or refusing it, JetStream, settings).
    #[cfg(feature = "cluster")]
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
}

/// TLS for the relay's port: https and wss.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM file with the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Relay settings; everything is bounded.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayConfig {
    /// Where to listen (127.0.0.1:8080 by default; port 0 picks a free port).
    pub listen: SocketAddr,
    /// TLS certificate and key; `None` serves plain http and ws.
    pub tls: Option<TlsFiles>,
    /// Allows plain http on a non-loopback address (behind a TLS-terminating proxy).
    pub insecure: bool,
    /// The URL viewers use (for the links the relay prints), e.g. `https://share.example.com`;
    /// default: derived from `listen`.
    pub public_url: Option<String>,
    /// A folder to serve the viewer page from instead of the files built into this program.
    pub web_dir: Option<PathBuf>,
    /// Lookup lifetimes and failure limits.
    pub codes: CodePolicy,
    /// Failed joins (wrong codes, abandoned key exchanges) a session's code may collect before the
    /// relay refuses further joins to it (the host burns a code after 3).
    pub max_code_failures: u32,
    /// Host sessions one client network (a /24 or /64) may hold at once.
    pub max_sessions_per_client: usize,
    /// Connections at once, in all.
    pub max_connections: usize,
    /// Connections at once from one IP address.
    pub max_connections_per_ip: usize,
    /// Web origins whose pages may open the relay's WebSockets (`https://example.com`). Empty: the
    /// relay's own page only (the `Origin` equals the request's host). Native clients send none.
    pub allowed_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed (their networks, as `ADDR/BITS`).
    pub trusted_proxies: Vec<(std::net::IpAddr, u8)>,
    /// Input events one viewer may send per second (bursts of twice that).
    pub max_input_per_second: u32,
    /// Per-session memory and pacing bounds.
    pub fanout: FanOutConfig,
    /// Largest message a host may send (a checkpoint of a big, noisy screen).
    pub max_host_message: usize,
    /// Largest message a viewer may send (acks, control requests, input).
    pub max_viewer_message: usize,
    /// Sessions at most.
    pub max_sessions: usize,
    /// Viewers per session at most.
    pub max_viewers_per_session: usize,
    /// Bytes all sessions may buffer together (catch-up logs and queues); past it new sessions and
    /// viewers are refused with [`close::FULL`].
    pub max_buffered_bytes: usize,
    /// Messages queued for a host that does not read them; past this the host is closed.
    pub max_host_queue: usize,
    /// How long one send may block before the connection counts as stalled.
    pub send_timeout: Duration,
    /// How long a client has for the TLS handshake and for sending a request's headers (slow and
    /// silent connections are closed after it).
    pub header_timeout: Duration,
    /// How long a client has to send its hello.
    pub hello_timeout: Duration,
    /// How long a session waits for its host to come back after the host's connection dropped.
    pub host_grace: Duration,
    /// A viewer whose oldest unacknowledged update arrived longer ago than this skips to a fresh
    /// checkpoint (the fan-out's own bound counts bytes; small updates can lag a long time in few).
    pub max_lag_ms: u64,
    /// The share of the stream's bytes that checkpoints for lagging viewers may add to the host's
    /// upload (0.1: a tenth; 0: none are asked for them). A lagging viewer waits for its skip
    /// until the budget pays for it (`relay/skip_budget.rs`).
    pub skip_checkpoint_share: f64,
    /// Updates sent to a viewer and not acknowledged yet, at most (12 covers 30 frames/s over a
    /// 400 ms round trip). With the fan-out's byte window this paces viewers that are slow per
    /// message, and bounds how long a slow viewer takes to reach a checkpoint it skipped to.
    pub max_updates_in_flight: usize,
    /// Ping idle WebSocket connections this often (dead peers are found within two intervals).
    pub ping_interval: Duration,
    /// Join a cluster of relay nodes on NATS (`None`: this relay stands alone).
    #[cfg(feature = "cluster")]
    pub cluster: Option<cluster::ClusterConfig>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: None,
            insecure: false,
            public_url: None,
            web_dir: None,
            codes: CodePolicy::default(),
            max_code_failures: 6,
            max_sessions_per_client: 10,
            max_connections: 20_000,
            max_connections_per_ip: 256,
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            max_input_per_second: 1000,
            fanout: FanOutConfig::default(),
            max_host_message: 64 << 20,
            max_viewer_message: 4 << 10,
            max_sessions: 1000,
            max_viewers_per_session: 1000,
            max_buffered_bytes: 4 << 30,
            max_host_queue: 4096,
            send_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            hello_timeout: Duration::from_secs(10),
            host_grace: Duration::from_secs(30),
            max_lag_ms: 3000,
            skip_checkpoint_share: 0.1,
            max_updates_in_flight: 12,
            ping_interval: Duration::from_secs(5),
            #[cfg(feature = "cluster")]
            cluster: None,
        }
    }
}

/// Counters of a running relay (also in `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Live sessions (with or without their host).
    pub sessions: usize,
    /// Sessions whose host is connected.
    pub hosts: usize,
    /// Viewers connected.
    pub viewers: usize,
    /// Bytes held by the catch-up logs of all sessions.
    pub log_bytes: usize,
}

/// A running relay. Dropping it does not stop it; call [`Relay::shutdown`].
pub struct Relay {
    addr: SocketAddr,
    state: Arc<RelayState>,
    server: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Binds `config.listen` and serves in the current tokio runtime. Refuses a non-loopback
    /// address without TLS unless `config.insecure` is set.
    pub async fn start(config: RelayConfig) -> Result<Relay, StartError> {
        if config.tls.is_none() && !config.insecure && !config.listen.ip().is_loopback() {
            return Err(StartError::PlainOffLoopback(config.listen));
        }
        let tls = match &config.tls {
            Some(files) => Some(server::tls_acceptor(files)?),
            None => None,
        };
        let cannot_listen = |e: std::io::Error| StartError::Listen {
            addr: config.listen,
            reason: e.to_string(),
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(cannot_listen)?;
        let addr = listener.local_addr().map_err(cannot_listen)?;
        let public_url = config.public_url.clone().unwrap_or_else(|| {
            let scheme = if config.tls.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{addr}")
        });
        let web = web::WebFiles::new(config.web_dir.clone());
        #[cfg(feature = "cluster")]
        let cluster = match &config.cluster {
            Some(c) => Some(cluster::Cluster::connect(c.clone(), &public_url).await?),
            None => None,
        };
        #[cfg(feature = "cluster")]
        let metrics = Metrics::new(cluster.as_ref().map(|c| &c.metrics));
        #[cfg(not(feature = "cluster"))]
        let metrics = Metrics::new();
        let state = Arc::new(RelayState {
            codes: Mutex::new(CodeRegistry::new(config.codes)),
            host_slots: Mutex::new(HashMap::new()),
            connections: Mutex::new(server::OpenConnections::default()),
            config,
            public_url: public_url.trim_end_matches('/').to_string(),
            start: Instant::now(),
            sessions: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            metrics,
            stopping: AtomicBool::new(false),
            stop: tokio::sync::watch::channel(false).0,
            web,
            #[cfg(feature = "cluster")]
            cluster,
        });
        #[cfg(feature = "cluster")]
        cluster::start_tasks(&state).await?;
        tokio::spawn(session::expiry_loop(state.clone()));
        let server = tokio::spawn(server::serve(listener, tls, state.clone()));
        tracing::info!(%addr, tls = state.config.tls.is_some(), "relay listening");
        Ok(Relay {
            addr,
            state,
            server,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL viewers open (`--public-url`, or `http(s)://ADDR`).
    pub fn public_url(&self) -> &str {
        &self.state.public_url
    }

    /// The WebSocket URL hosts connect to (`ws(s)://.../ws/host`'s base, without the path).
    pub fn ws_url(&self) -> String {
        let scheme = if self.state.config.tls.is_some() {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// True when the viewer page's files are there (built in, or in `--web DIR`).
    pub fn web_ready(&self) -> bool {
        self.state.web.ready()
    }

    /// Counters right now.
    pub fn stats(&self) -> RelayStats {
        self.state.stats()
    }

    /// This node's cluster figures (`None` when it stands alone).
    #[cfg(feature = "cluster")]
    pub fn cluster_stats(&self) -> Option<cluster::ClusterStats> {
        self.state.cluster.as_ref().map(|c| c.stats())
    }

    /// Stops accepting, closes every connection with [`close::RESTART`] (clients reconnect, to
    /// this relay once it is back or to another), and waits up to 2 s for them to go.
    pub async fn shutdown(self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        #[cfg(feature = "cluster")]
        if let Some(cluster) = &self.state.cluster {
            cluster.leave().await;
        }
        let _ = self.state.stop.send(true);
        let sessions: Vec<Arc<Session>> = self
            .state
            .sessions
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        for s in sessions {
            s.end_with(close::RESTART, "the relay is restarting: reconnect");
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.server).await;
    }
}

/// What every connection task shares.
pub(crate) struct RelayState {
    config: RelayConfig,
    public_url: String,
    start: Instant,
    codes: Mutex<CodeRegistry<Arc<Session>>>,
    /// Host sessions per client network.
    host_slots: Mutex<HashMap<String, usize>>,
    /// Connections open now, for the caps.
    connections: Mutex<server::OpenConnections>,
    sessions: Mutex<HashMap<u64, Arc<Session>>>,
    next_id: AtomicU64,
    metrics: Metrics,
    stopping: AtomicBool,
    stop: tokio::sync::watch::Sender<bool>,
    web: web::WebFiles,
    #[cfg(feature = "cluster")]
    cluster: Option<Arc<cluster::Cluster>>,
}

impl RelayState {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn stats(&self) -> RelayStats {
        let sessions: Vec<Arc<Session>> = self.sessions.lock().unwrap().values().cloned().collect();
        let mut stats = RelayStats {
            sessions: sessions.len(),
            ..RelayStats::default()
        };
        for s in sessions {
            let inner = s.inner.lock().unwrap();
            stats.viewers += inner.admitted_count();
            stats.log_bytes += inner.fanout.log_bytes();
            stats.hosts += usize::from(inner.host_connected());
        }
        stats
    }

    /// Bytes buffered by all sessions (their catch-up logs).
    fn buffered_bytes(&self) -> usize {
        self.stats().log_bytes
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// A random 64-bit number from the OS.
#[cfg(feature = "cluster")]
fn random_u64() -> u64 {
    u64::from_le_bytes(random_bytes())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The OS random source failing is not recoverable for a server that hands out secrets.
    os_random::fill(&mut b).expect("the operating system's random source failed");
    b
}
