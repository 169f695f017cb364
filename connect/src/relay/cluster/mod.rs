//! The relay as one node of a cluster on NATS (feature `cluster`, `glimpse-relay --nats URL`).
//!
//! A host and its viewers may connect to any node. The node holding a session's host connection
//! is its *origin*; a node holding viewers of it is a *mirror*. Each node keeps its own
//! [`FanOut`](glimpse::session::FanOut) per session, so pacing, acknowledgements and skips to a
//! checkpoint stay node-local, exactly as on a single relay.
//!
//! - **Directory** (JetStream key-value bucket `PREFIX_sessions`, key `l` + the lookup): the
//!   session id, its origin node and the hash of the host's secret. Codes are allocated with
//!   create-if-absent, so they are unique in the cluster; the origin refreshes its record while
//!   the session lives (the bucket's age limit expires records of sessions nobody serves).
//! - **Stream** (JetStream stream `PREFIX_screens`, subject `PREFIX.st.SID`): the origin publishes
//!   each stream message of the host once, as the exact bytes it received; the first chunk of
//!   every checkpoint carries `Nats-Rollup: sub`, so the subject always holds the latest
//!   checkpoint and the catch-up log since. Each mirror reads it with one ordered consumer per
//!   session (one subscription per session per node, however many viewers), from the subject's
//!   first message: a late joiner on any node starts at once. Messages over the server's payload
//!   limit go in chunks (`Glimpse-Chunk: i/n`, `Glimpse-Msg: id`).
//! - **Control** (core NATS, [`wire::Envelope`]s): mirrors send what viewers say to the host
//!   (joins with their key exchange message, confirmations, control requests, sealed input,
//!   checkpoint requests, departures) to `PREFIX.node.ORIGIN`; the origin sends what the host
//!   says to a viewer (key exchange reply, admission, new keys, refusals, control answers,
//!   removals) to the mirror holding it, and session events (host status, viewer count, end) to
//!   every mirror with viewers. `PREFIX.all` carries heartbeats, departures of nodes and
//!   takeovers.
//! - **Takeover**: a host that reconnects to another node (its node died, or the load balancer
//!   sent it elsewhere) proves its secret against the directory; that node becomes the origin
//!   (compare-and-set on the record's revision), asks every node for the viewers it holds, and
//!   the session goes on under the same code. An old origin that is still alive closes its stale
//!   host connection with `REPLACED` and becomes a mirror.
//! - **Stalled consumers**: when a NATS server dies, a mirror's consumer may die with it without
//!   a word. Every 500 to 750 ms while the stream grows, the origin tells its mirrors how far
//!   JetStream stored it (`Stored`); a mirror whose consumer stays behind that for 2 s without
//!   delivering creates it again after the last message it delivered (the NATS client would
//!   notice only after 10 s without heartbeats, and then retries up to 10 s apart).
//! - **Failures**: a node that misses heartbeats for [`ClusterConfig::node_timeout`] is dead: an
//!   origin drops the viewers it held (they reconnect to another node and join again with their
//!   code: resume tokens are node-local); a mirror whose origin died shows the host as away and
//!   ends the session after the host grace unless the host takes it over elsewhere. A mirror that
//!   falls behind the stream (NATS slow-consumer drops, gaps, or messages older than the relay's
//!   lag bound) drops what it reads until the next checkpoint, which it requests: it never
//!   buffers more than its fan-out's bounds.

mod directory;
mod feed;
mod inbound;
pub(super) mod link;
mod maintenance;
mod metrics;
pub(super) mod sessions;
mod stream;
pub mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use bytes::Bytes;
use thiserror::Error;
use tokio::sync::mpsc;

use super::session::Session;
use super::RelayState;
use wire::{Body, Envelope, Names, NodeId, Sid};

pub(super) use metrics::ClusterMetrics;
pub use metrics::ClusterStats;

/// How a relay joins a cluster.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// NATS servers (`nats://HOST:PORT`); the client reconnects to any of them.
    pub servers: Vec<String>,
    /// Subjects, buckets and the stream are named after this (letters, digits, `-`, `_`), so
    /// several clusters can share one NATS system ("glimpse").
    pub prefix: String,
    /// Replicas of the buckets and the stream (3; at most the number of NATS servers known): with
    /// 3, one NATS server may die without losing a session.
    pub replicas: usize,
    /// Keep the stream in memory instead of files (faster; lost when every replica restarts).
    pub memory_storage: bool,
    /// A node silent for this long is dead (3 s); heartbeats go every sixth of it.
    pub node_timeout: Duration,
    /// Directory records of sessions nobody refreshes expire after this (10 min; refreshed every
    /// quarter of it).
    pub session_ttl: Duration,
    /// Bytes the stream keeps at most, for all sessions (4 GiB; the oldest go first).
    pub stream_max_bytes: i64,
    /// A mirror with no viewer left keeps its subscription this long (10 s), for viewers that
    /// come back.
    pub mirror_linger: Duration,
    /// Bytes of one session's stream waiting to be published at most (64 MiB); past it updates
    /// are dropped and the stream restarts at a checkpoint.
    pub publish_queue_bytes: usize,
    /// How long [`Relay::start`](super::Relay::start) waits for NATS and JetStream (30 s).
    pub connect_timeout: Duration,
    /// How long a new origin waits for the other nodes' viewer rosters after a takeover (1 s;
    /// it stops waiting as soon as every live node answered).
    pub roster_wait: Duration,
    /// How this node proves itself to NATS (`None`: no authentication).
    pub auth: Option<NatsAuth>,
    /// A PEM file of certificates to trust for NATS over TLS (then TLS is required).
    pub ca_file: Option<std::path::PathBuf>,
}

/// Credentials for NATS.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NatsAuth {
    /// A token (`authorization { token: ... }` in the server's configuration).
    Token(String),
    /// A user and password.
    UserPassword(String, String),
}

impl NatsAuth {
    /// Reads a file holding a token, or `user:password`, on its first line (only its first 64 KiB
    /// are read).
    pub fn from_file(path: &std::path::Path) -> Result<NatsAuth, ClusterError> {
        use std::io::Read as _;
        let bad = |e: std::io::Error| ClusterError::Config(format!("{}: {e}", path.display()));
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(bad)?
            .take(64 << 10)
            .read_to_string(&mut text)
            .map_err(bad)?;
        let line = text.lines().next().unwrap_or("").trim();
        if line.is_empty() {
            return Err(ClusterError::Config(format!("{}: empty", path.display())));
        }
        Ok(match line.split_once(':') {
            Some((user, password)) => NatsAuth::UserPassword(user.into(), password.into()),
            None => NatsAuth::Token(line.into()),
        })
    }
}

impl std::fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NatsAuth::Token(_) => f.write_str("Token(..)"),
            NatsAuth::UserPassword(user, _) => write!(f, "UserPassword({user:?}, ..)"),
        }
    }
}

impl ClusterConfig {
    /// Defaults for these NATS servers.
    pub fn new(servers: Vec<String>) -> Self {
        ClusterConfig {
            servers,
            prefix: "glimpse".into(),
            replicas: 3,
            memory_storage: false,
            node_timeout: Duration::from_secs(3),
            session_ttl: Duration::from_secs(600),
            stream_max_bytes: 4 << 30,
            mirror_linger: Duration::from_secs(10),
            publish_queue_bytes: 64 << 20,
            connect_timeout: Duration::from_secs(30),
            roster_wait: Duration::from_secs(1),
            auth: None,
            ca_file: None,
        }
    }
}

/// What can go wrong between a relay node and NATS. Numbers never change once released;
/// [`Relay::start`](super::Relay::start) returns it as [`StartError::Cluster`](super::StartError::Cluster).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No NATS server could be reached.
    #[error("cannot reach NATS: {0}")]
    Connect(String),
    /// JetStream is not available, or its stream or buckets cannot be set up.
    #[error("JetStream: {0}")]
    JetStream(String),
    /// The session directory could not be read or written.
    #[error("session directory: {0}")]
    Directory(String),
    /// Settings that cannot work (no servers, a bad prefix).
    #[error("cluster settings: {0}")]
    Config(String),
}

impl ClusterError {
    /// The stable number of this error (60-69).
    pub fn code(&self) -> u32 {
        match self {
            ClusterError::Connect(_) => 60,
            ClusterError::JetStream(_) => 61,
            ClusterError::Directory(_) => 62,
            ClusterError::Config(_) => 63,
        }
    }
}

/// Where a takeover collects the other nodes' rosters.
type RosterSender = mpsc::UnboundedSender<(NodeId, Vec<crate::protocol::ViewerEntry>)>;

/// Which nodes are alive, from their heartbeats.
#[derive(Default)]
struct Peers {
    seen: HashMap<NodeId, Instant>,
    dead: HashSet<NodeId>,
}

/// One relay node's link to the cluster.
pub(super) struct Cluster {
    pub config: ClusterConfig,
    pub node: NodeId,
    pub names: Names,
    client: async_nats::Client,
    js: jetstream::Context,
    directory: directory::Directory,
    /// Largest message the NATS servers take (headers included).
    max_payload: usize,
    /// Core NATS messages on their way out (subject, bytes), in order.
    out: mpsc::Sender<(String, Bytes)>,
    out_rx: Mutex<Option<mpsc::Receiver<(String, Bytes)>>>,
    /// Sessions this node holds (origin or mirror), by cluster id.
    pub sessions: Mutex<HashMap<Sid, Arc<Session>>>,
    peers: Mutex<Peers>,
    /// Takeovers waiting for rosters: where to deliver them.
    rosters: Mutex<HashMap<Sid, RosterSender>>,
    pub metrics: ClusterMetrics,
    /// The NATS connection is up (set by the client's events).
    connected: Arc<std::sync::atomic::AtomicBool>,
    /// Since when the connection is down, while it is.
    down_since: Arc<Mutex<Option<Instant>>>,
    /// Counts the connections made to NATS: mirrors restart their consumers when it changes
    /// (a push consumer whose flow control reply was lost while the link was down stalls for
    /// good, heartbeats and all).
    pub connections: tokio::sync::watch::Receiver<u64>,
}

impl Cluster {
    /// Connects to NATS, sets up the stream and buckets and claims a node number.
    pub async fn connect(
        config: ClusterConfig,
        public_url: &str,
    ) -> Result<Arc<Cluster>, ClusterError> {
        if config.servers.is_empty() {
            return Err(ClusterError::Config("no NATS server given".into()));
        }
        let names = Names::new(&config.prefix).map_err(|e| ClusterError::Config(e.to_string()))?;
        let connected = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let down_since = Arc::new(Mutex::new(None));
        let (connections_tx, connections) = tokio::sync::watch::channel(0u64);
        let link = Link {
            connected: connected.clone(),
            down_since: down_since.clone(),
            connections: Arc::new(connections_tx),
        };
        let client = connect_client(&config, link).await?;
        let max_payload = client.server_info().max_payload.max(64 << 10);
        let mut js = jetstream::new(client.clone());
        js.set_timeout(Duration::from_secs(5));
        let known = client.server_info().connect_urls.len().max(1);
        let replicas = config.replicas.clamp(1, known.max(1));
        let directory = directory::Directory::setup(&js, &names, &config, replicas).await?;
        stream::setup(&js, &names, &config, replicas).await?;
        let node = directory.claim_node(public_url).await?;
        let (out, out_rx) = mpsc::channel(65_536);
        tracing::info!(node, replicas, max_payload, "joined the relay cluster");
        Ok(Arc::new(Cluster {
            config,
            node,
            names,
            client,
            js,
            directory,
            max_payload,
            out,
            out_rx: Mutex::new(Some(out_rx)),
            sessions: Mutex::new(HashMap::new()),
            peers: Mutex::new(Peers::default()),
            rosters: Mutex::new(HashMap::new()),
            metrics: ClusterMetrics::default(),
            connected,
            down_since,
            connections,
        }))
    }

    /// True while the NATS connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Queues an envelope for `node` (dropped, and counted, when the queue is full: NATS is
    /// down or far behind).
    pub fn send(&self, node: NodeId, sid: Sid, body: Body) {
        self.publish(self.names.node(node), sid, body);
    }

    /// Queues an envelope for every node.
    pub fn send_all(&self, sid: Sid, body: Body) {
        self.publish(self.names.all(), sid, body);
    }

    fn publish(&self, subject: String, sid: Sid, body: Body) {
        let bytes = Envelope {
            from: self.node,
            sid,
            body,
        }
        .encode();
        let len = bytes.len() as u64;
        match self.out.try_send((subject, Bytes::from(bytes))) {
            Ok(()) => {
                self.metrics.control_sent_bytes.inc_by(len);
            }
            Err(_) => {
                self.metrics.dropped_messages.inc();
            }
        }
    }

    /// Nodes whose heartbeats arrive, this one excluded.
    pub fn live_nodes(&self) -> Vec<NodeId> {
        let peers = self.peers.lock().unwrap();
        peers
            .seen
            .keys()
            .filter(|n| !peers.dead.contains(n))
            .copied()
            .collect()
    }

    /// True when `node` is known dead.
    pub fn is_dead(&self, node: NodeId) -> bool {
        node != self.node && self.peers.lock().unwrap().dead.contains(&node)
    }

    /// The session with cluster id `sid` on this node.
    pub fn session(&self, sid: Sid) -> Option<Arc<Session>> {
        self.sessions.lock().unwrap().get(&sid).cloned()
    }

    /// Figures for `/metrics` and tests.
    pub fn stats(&self) -> ClusterStats {
        let mut stats = self.metrics.snapshot();
        stats.node = self.node;
        stats.nats_connected = self.is_connected();
        stats.live_nodes = self.live_nodes().len() + 1;
        let statistics = self.client.statistics();
        stats.nats_in_bytes = statistics
            .in_bytes
            .load(std::sync::atomic::Ordering::Relaxed);
        stats.nats_out_bytes = statistics
            .out_bytes
            .load(std::sync::atomic::Ordering::Relaxed);
        for session in self.sessions.lock().unwrap().values() {
            let inner = session.inner.lock().unwrap();
            match inner.cluster.as_ref().map(|l| &l.role) {
                Some(link::Role::Origin(_)) => stats.origins += 1,
                Some(link::Role::Mirror(_)) => stats.mirrors += 1,
                None => {}
            }
        }
        stats
    }

    /// This node stops: the others hear it at once (instead of after the node timeout), and its
    /// number is free again.
    pub async fn leave(&self) {
        self.send_all(0, Body::Leaving);
        // Give the sender task a moment to pass it on, then make sure NATS has it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), self.client.flush()).await;
        self.directory.release_node(self.node).await;
    }
}

/// What the NATS client's events update.
#[derive(Clone)]
struct Link {
    connected: Arc<std::sync::atomic::AtomicBool>,
    down_since: Arc<Mutex<Option<Instant>>>,
    connections: Arc<tokio::sync::watch::Sender<u64>>,
}

async fn connect_client(
    config: &ClusterConfig,
    link: Link,
) -> Result<async_nats::Client, ClusterError> {
    let connected = link.connected.clone();
    let options = async_nats::ConnectOptions::new()
        .name("glimpse-relay")
        .connection_timeout(Duration::from_secs(5))
        .ping_interval(Duration::from_secs(2))
        .subscription_capacity(16 * 1024)
        .event_callback(move |event| {
            let link = link.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        link.connected
                            .store(true, std::sync::atomic::Ordering::SeqCst);
                        link.connections.send_modify(|n| *n += 1);
                        tracing::info!("NATS connected");
                    }
                    async_nats::Event::Disconnected | async_nats::Event::Closed => {
                        link.connected
                            .store(false, std::sync::atomic::Ordering::SeqCst);
                        link.down_since
                            .lock()
                            .unwrap()
                            .get_or_insert_with(Instant::now);
                        tracing::warn!("NATS connection lost: reconnecting");
                    }
                    other => tracing::info!(event = %other, "NATS"),
                }
            }
        });
    let options = match &config.auth {
        Some(NatsAuth::Token(token)) => options.token(token.clone()),
        Some(NatsAuth::UserPassword(user, password)) => {
            options.user_and_password(user.clone(), password.clone())
        }
        None => options,
    };
    let options = match &config.ca_file {
        Some(path) => options
            .add_root_certificates(path.clone())
            .require_tls(true),
        None => options,
    };
    let until = Instant::now() + config.connect_timeout;
    loop {
        match options.clone().connect(config.servers.as_slice()).await {
            Ok(client) => {
                connected.store(true, std::sync::atomic::Ordering::SeqCst);
                return Ok(client);
            }
            Err(e) if Instant::now() >= until => {
                return Err(ClusterError::Connect(format!(
                    "{} ({e})",
                    config.servers.join(",")
                )))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Starts the node's tasks: the sender of core messages, the receiver of envelopes and the
/// maintenance loop (heartbeats, dead nodes, record refresh, viewer counts).
pub(super) async fn start_tasks(state: &Arc<RelayState>) -> Result<(), ClusterError> {
    let Some(cluster) = state.cluster.clone() else {
        return Ok(());
    };
    let Some(mut rx) = cluster.out_rx.lock().unwrap().take() else {
        return Ok(());
    };
    let client = cluster.client.clone();
    tokio::spawn(async move {
        while let Some((subject, bytes)) = rx.recv().await {
            if let Err(e) = client.publish(subject, bytes).await {
                tracing::debug!(error = %e, "NATS publish failed");
            }
        }
    });
    inbound::start(state, &cluster).await?;
    tokio::spawn(maintenance::run(state.clone()));
    Ok(())
}

/// A task that is aborted when this handle is dropped (a mirror's consumer, an origin's
/// publisher).
pub(super) struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Milliseconds since the Unix epoch.
fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::{ClusterError, NatsAuth};

    fn auth_from(text: &[u8]) -> Result<NatsAuth, ClusterError> {
        let path = std::env::temp_dir().join(format!(
            "glimpse-nats-auth-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::write(&path, text).unwrap();
        let auth = NatsAuth::from_file(&path);
        let _ = std::fs::remove_file(&path);
        auth
    }

    #[test]
    fn nats_credentials_file() {
        assert_eq!(
            auth_from(b"s3cret-token\n").unwrap(),
            NatsAuth::Token("s3cret-token".into())
        );
        assert_eq!(
            auth_from(b"relay:pass:word\r\nignored").unwrap(),
            NatsAuth::UserPassword("relay".into(), "pass:word".into())
        );
        let empty = auth_from(b"  \n").unwrap_err();
        assert!(matches!(empty, ClusterError::Config(_)), "{empty}");
        let binary = auth_from(&[0xff, 0xfe, 0x00]).unwrap_err();
        assert!(matches!(binary, ClusterError::Config(_)), "{binary}");
        let missing =
            NatsAuth::from_file(std::path::Path::new("/nonexistent/glimpse")).unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/glimpse"),
            "{missing}"
        );
        // The token never shows in logs.
        assert!(!format!("{:?}", NatsAuth::Token("s3cret".into())).contains("s3cret"));
    }
}
