//! The quick-connect relay: one host per session key, many viewers, each paced to its own connection.
//!
//! Every decision (who gets which packet, when to ask the host for a checkpoint, who may send input,
//! which keys are valid) is taken by the sans-IO types of [`glimpse::session`]; this file only moves
//! bytes between WebSockets and those types. One tokio task per connection; the shared state of a
//! session sits behind one short-held mutex that is never held across an `.await`.
//!
//! Endpoints: `GET /` (viewer page), `GET /viewer.js`, `GET /pkg/...` (the built Web SDK),
//! `GET /ws/host` (a host: the relay answers `SessionCreated { key }`), `GET /ws/view?key=...` or
//! `GET /ws/view?resume=<32 hex digits>` (a viewer: `Welcome { viewer, resume_token }` first).
#![allow(dead_code)] // shared by the relay, share, the load test and the tests; each uses a part

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use glimpse::session::{
    Control, ControlEvent, FanOut, FanOutConfig, FanOutEvent, KeyPolicy, KeyRegistry, KeyRejection,
    SessionKey, SessionMessage, ViewerId,
};
use tokio::sync::Notify;

/// Close codes sent to clients (4000-4999 are the application's own).
pub mod close {
    /// A message that is not valid here (malformed, wrong kind, text).
    pub const POLICY: u16 = 1008;
    /// A message over the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The host ended the session.
    pub const SESSION_ENDED: u16 = 4000;
    /// No session has this key (or the resume token is unknown or used).
    pub const UNKNOWN_KEY: u16 = 4004;
    /// The key expired.
    pub const EXPIRED: u16 = 4010;
    /// Too many wrong keys from this address: retry later.
    pub const RATE_LIMITED: u16 = 4029;
    /// The host removed this viewer.
    pub const REMOVED: u16 = 4003;
    /// The relay is full (sessions or viewers).
    pub const FULL: u16 = 4013;
    /// The peer stopped reading for too long.
    pub const STALLED: u16 = 4008;
}

/// Relay settings; everything is bounded.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Where to listen (127.0.0.1 by default).
    pub listen: SocketAddr,
    /// Folder of the built Web SDK package (`js/index.js`, `dist/...`), served under `/pkg/`.
    pub pkg_dir: PathBuf,
    /// Folder of the viewer page; `None` serves the copy compiled into this program.
    pub web_dir: Option<PathBuf>,
    pub keys: KeyPolicy,
    pub fanout: FanOutConfig,
    /// Largest message a host may send (a checkpoint of a big, noisy screen).
    pub max_host_message: usize,
    /// Largest message a viewer may send (acks, control requests, input).
    pub max_viewer_message: usize,
    pub max_sessions: usize,
    pub max_viewers_per_session: usize,
    /// Messages queued for a host that does not read them; past this the host is closed.
    pub max_host_queue: usize,
    /// How long one send may block before the connection counts as stalled.
    pub send_timeout: Duration,
    /// A viewer whose oldest unacknowledged update arrived longer ago than this skips to a fresh
    /// checkpoint (the fan-out's own bound counts bytes; small updates can lag a long time in few).
    pub max_lag_ms: u64,
    /// Updates (and checkpoints) sent to a viewer and not acknowledged yet, at most: with the
    /// fan-out's byte window this paces viewers that are slow per message, not only per byte. It
    /// also bounds how long a slow viewer takes to reach a checkpoint it skipped to (it reads what is
    /// in flight first): 12 covers 30 frames/s over a 400 ms round trip.
    pub max_updates_in_flight: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            pkg_dir: default_pkg_dir(),
            web_dir: None,
            keys: KeyPolicy::default(),
            fanout: FanOutConfig::default(),
            max_host_message: 64 << 20,
            max_viewer_message: 4 << 10,
            max_sessions: 1000,
            max_viewers_per_session: 1000,
            max_host_queue: 4096,
            send_timeout: Duration::from_secs(30),
            max_lag_ms: 3000,
            max_updates_in_flight: 12,
        }
    }
}

/// The repository's `wasm/` when its Web SDK is built (wasm/ci.sh), else `quick/build/pkg`
/// (quick/build_web.sh), else `wasm/` (the relay then tells how to build it).
pub fn default_pkg_dir() -> PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    [root.join("wasm"), root.join("quick/build/pkg")]
        .into_iter()
        .find(|d| d.join("dist/glimpse_wasm_bg.wasm").exists() && d.join("js/index.js").exists())
        .unwrap_or_else(|| root.join("wasm"))
}

/// Counters for logs and the load test.
#[derive(Debug, Clone, Copy, Default)]
pub struct RelayStats {
    pub sessions: usize,
    pub viewers: usize,
    /// Bytes held by the catch-up logs of all sessions.
    pub log_bytes: usize,
}

/// A running relay. Dropping it does not stop it; call [`RelayHandle::shutdown`].
pub struct RelayHandle {
    pub addr: SocketAddr,
    relay: Arc<Relay>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RelayHandle {
    pub fn stats(&self) -> RelayStats {
        self.relay.stats()
    }

    /// True when the Web SDK files the viewer page loads are there.
    pub fn pkg_ready(&self) -> bool {
        let dir = &self.relay.config.pkg_dir;
        dir.join("js/index.js").exists() && dir.join("dist/glimpse_wasm_bg.wasm").exists()
    }

    /// Stops accepting and ends every connection.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let sessions: Vec<_> = self
            .relay
            .sessions
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        for s in sessions {
            s.end("relay shutting down");
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.task).await;
    }
}

/// Binds and serves in the current tokio runtime.
pub async fn start(config: RelayConfig) -> std::io::Result<RelayHandle> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let relay = Arc::new(Relay {
        keys: Mutex::new(KeyRegistry::new(config.keys)),
        config,
        start: Instant::now(),
        sessions: Mutex::new(HashMap::new()),
        next_session: AtomicU64::new(1),
    });
    let app = Router::new()
        .route("/", get(index))
        .route("/viewer.js", get(viewer_js))
        .route("/session.js", get(session_js))
        .route("/pkg/{*path}", get(pkg_file))
        .route("/ws/host", get(host_ws))
        .route("/ws/view", get(view_ws))
        .with_state(relay.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(expiry_loop(relay.clone()));
    let task = tokio::spawn(async move {
        let serve = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            eprintln!("relay: server error: {e}");
        }
    });
    Ok(RelayHandle {
        addr,
        relay,
        stop: Some(stop),
        task,
    })
}

struct Relay {
    config: RelayConfig,
    start: Instant,
    keys: Mutex<KeyRegistry<Arc<Session>>>,
    sessions: Mutex<HashMap<u64, Arc<Session>>>,
    next_session: AtomicU64,
}

impl Relay {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn stats(&self) -> RelayStats {
        let sessions: Vec<_> = self.sessions.lock().unwrap().values().cloned().collect();
        let mut stats = RelayStats {
            sessions: sessions.len(),
            ..RelayStats::default()
        };
        for s in sessions {
            let inner = s.inner.lock().unwrap();
            stats.viewers += inner.viewers.len();
            stats.log_bytes += inner.fanout.log_bytes();
        }
        stats
    }
}

/// Drops unused keys, old resume tokens and failure records; ends sessions nobody joined in time.
async fn expiry_loop(relay: Arc<Relay>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let now = relay.now_ms();
        let sessions: Vec<_> = relay.sessions.lock().unwrap().values().cloned().collect();
        let ttl = relay.config.keys.unused_ttl_ms;
        for s in sessions {
            let (watched, idle_since) = {
                let inner = s.inner.lock().unwrap();
                (!inner.viewers.is_empty(), inner.idle_since)
            };
            if watched {
                s.check_lag(now, relay.config.max_lag_ms);
                relay.keys.lock().unwrap().touch(s.key, now);
            } else if now.saturating_sub(idle_since) > ttl {
                s.end_with(close::EXPIRED, "session key expired unused");
            }
        }
        relay.keys.lock().unwrap().expire(now);
        if Arc::strong_count(&relay) == 1 {
            return; // the server is gone
        }
    }
}

/// One shared screen.
struct Session {
    id: u64,
    key: SessionKey,
    inner: Mutex<SessionInner>,
    /// Wakes the host's writer.
    host_notify: Notify,
}

struct SessionInner {
    fanout: FanOut,
    control: Control,
    /// Screen size from the latest checkpoint (for input validation).
    screen: (u32, u32),
    viewers: HashMap<ViewerId, ViewerSlot>,
    to_host: VecDeque<Bytes>,
    /// Set when the session is over: everybody closes with this.
    ended: Option<(u16, String)>,
    /// When the last viewer left (or the session started).
    idle_since: u64,
    /// `(seq, arrival ms)` of recent updates and checkpoints, to tell how far behind a viewer is.
    arrivals: VecDeque<(u64, u64)>,
    /// A checkpoint was asked for viewers that lag too far behind.
    resync_requested: bool,
}

struct ViewerSlot {
    /// This viewer's id inside the fan-out (a new one after each skip to a fresh checkpoint).
    fan_id: ViewerId,
    /// Waiting for the next checkpoint to skip to.
    resync: bool,
    /// Not checked for lag again until it acknowledged this seq (the checkpoint it skipped to).
    resync_floor: u64,
    /// Sequence numbers sent and not acknowledged, oldest first.
    unacked: VecDeque<u64>,
    notify: Arc<Notify>,
    /// Session messages for this viewer (control answers); bounded, small.
    outbox: VecDeque<Bytes>,
    /// Viewer count changed since last sent.
    count_dirty: bool,
    /// When the count was last sent: at most one count per second (a crowd joining must not
    /// flood a slow viewer with counts).
    count_sent_at: Option<u64>,
    /// Close this viewer with this reason.
    kick: Option<(u16, String)>,
    token: [u8; 16],
}

impl Session {
    /// Marks viewers whose oldest unacknowledged update is older than `max_lag_ms` for a skip to
    /// the next checkpoint, and asks the host for one (at most one outstanding).
    fn check_lag(&self, now: u64, max_lag_ms: u64) {
        let mut guard = self.inner.lock().unwrap();
        let inner = &mut *guard;
        let mut any = false;
        for slot in inner.viewers.values().filter(|s| s.count_dirty) {
            slot.notify.notify_one(); // a viewer count held back by the rate limit
        }
        for slot in inner.viewers.values_mut().filter(|s| !s.resync) {
            let Some(acked) = inner
                .fanout
                .viewer_stats(slot.fan_id)
                .and_then(|s| s.acked_seq)
            else {
                continue; // not started yet: the fan-out handles joiners
            };
            if acked < slot.resync_floor {
                continue; // still reading its way to the checkpoint it skipped to
            }
            let oldest = inner.arrivals.iter().find(|(seq, _)| *seq > acked);
            if oldest.is_some_and(|(_, at)| now.saturating_sub(*at) > max_lag_ms) {
                slot.resync = true;
                any = true;
            }
        }
        let request = any && !inner.resync_requested;
        if request {
            inner.resync_requested = true;
            inner.push_host(&SessionMessage::CheckpointRequest, usize::MAX);
        }
        drop(guard);
        if request {
            self.host_notify.notify_one();
        }
    }

    fn end(&self, reason: &str) {
        self.end_with(close::SESSION_ENDED, reason);
    }

    fn end_with(&self, code: u16, reason: &str) {
        let mut inner = self.inner.lock().unwrap();
        if inner.ended.is_none() {
            inner.ended = Some((code, reason.to_string()));
        }
        for slot in inner.viewers.values() {
            slot.notify.notify_one();
        }
        drop(inner);
        self.host_notify.notify_one();
    }
}

impl SessionInner {
    fn push_host(&mut self, message: &SessionMessage, limit: usize) -> bool {
        if self.to_host.len() >= limit {
            return false;
        }
        self.to_host.push_back(Bytes::from(message.encode()));
        true
    }

    fn push_viewer(&mut self, viewer: ViewerId, message: &SessionMessage) {
        if let Some(slot) = self.viewers.get_mut(&viewer) {
            if slot.outbox.len() < 64 {
                slot.outbox.push_back(Bytes::from(message.encode()));
            } else {
                slot.kick = Some((close::STALLED, "viewer does not read its messages".into()));
            }
            slot.notify.notify_one();
        }
    }

    fn control_events(&mut self, events: impl IntoIterator<Item = ControlEvent>) {
        for event in events {
            match event {
                ControlEvent::Granted(v) => self.push_viewer(v, &SessionMessage::ControlGranted),
                ControlEvent::Refused(v) => self.push_viewer(v, &SessionMessage::ControlRefused),
                ControlEvent::Revoked(v) => self.push_viewer(v, &SessionMessage::ControlRevoked),
                ControlEvent::Requested(_) => {}
            }
        }
    }

    /// Forwards the fan-out's checkpoint requests to the host; true when one was queued.
    fn drain_events(&mut self) -> bool {
        let mut need = false;
        while let Some(event) = self.fanout.poll_event() {
            need |= matches!(event, FanOutEvent::NeedCheckpoint);
        }
        if need {
            self.push_host(&SessionMessage::CheckpointRequest, usize::MAX);
        }
        need
    }

    fn counts_changed(&mut self) {
        for slot in self.viewers.values_mut() {
            slot.count_dirty = true;
            slot.notify.notify_one();
        }
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    b
}

// ---------------------------------------------------------------------------------------------
// HTTP: the viewer page and the Web SDK files.

const INDEX_HTML: &str = include_str!("../../web/viewer/index.html");
const VIEWER_JS: &str = include_str!("../../web/viewer/viewer.js");
const SESSION_JS: &str = include_str!("../../web/viewer/session.js");

async fn page_file(relay: &Relay, name: &str, builtin: &'static str, mime: &str) -> Response {
    let body = match &relay.config.web_dir {
        Some(dir) => match tokio::fs::read(dir.join(name)).await {
            Ok(b) => b,
            Err(_) => return (StatusCode::NOT_FOUND, "not found").into_response(),
        },
        None => builtin.as_bytes().to_vec(),
    };
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        body,
    )
        .into_response()
}

async fn index(State(relay): State<Arc<Relay>>) -> Response {
    page_file(&relay, "index.html", INDEX_HTML, "text/html; charset=utf-8").await
}

async fn viewer_js(State(relay): State<Arc<Relay>>) -> Response {
    page_file(&relay, "viewer.js", VIEWER_JS, "text/javascript").await
}

async fn session_js(State(relay): State<Arc<Relay>>) -> Response {
    page_file(&relay, "session.js", SESSION_JS, "text/javascript").await
}

/// `/pkg/js/*.js` and `/pkg/dist/*` only: nothing else of the disk is reachable.
async fn pkg_file(State(relay): State<Arc<Relay>>, Path(path): Path<String>) -> Response {
    let allowed = path
        .split_once('/')
        .filter(|(dir, name)| {
            (*dir == "js" || *dir == "dist")
                && !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
                && !name.starts_with('.')
        })
        .is_some();
    if !allowed {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let mime = match path.rsplit('.').next() {
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("ts") => "text/plain",
        _ => "application/octet-stream",
    };
    match tokio::fs::read(relay.config.pkg_dir.join(&path)).await {
        Ok(body) => ([(header::CONTENT_TYPE, mime)], body).into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            "the Web SDK is not built: run `bash quick/build_web.sh` (or pass --pkg DIR)",
        )
            .into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Hosts.

async fn host_ws(State(relay): State<Arc<Relay>>, ws: WebSocketUpgrade) -> impl IntoResponse {
    let max = relay.config.max_host_message;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| host_connection(relay, socket))
}

async fn host_connection(relay: Arc<Relay>, mut socket: WebSocket) {
    let now = relay.now_ms();
    if relay.sessions.lock().unwrap().len() >= relay.config.max_sessions {
        close_socket(&mut socket, close::FULL, "relay full: too many sessions").await;
        return;
    }
    let id = relay.next_session.fetch_add(1, Ordering::Relaxed);
    // Draw keys until one is free (with 10^9 keys this loops once in practice).
    let session = loop {
        let key = SessionKey::from_random(u64::from_le_bytes(random_bytes()));
        let session = Arc::new(Session {
            id,
            key,
            inner: Mutex::new(SessionInner {
                fanout: FanOut::new(relay.config.fanout),
                control: Control::new(),
                screen: (0, 0),
                viewers: HashMap::new(),
                to_host: VecDeque::new(),
                ended: None,
                idle_since: now,
                arrivals: VecDeque::new(),
                resync_requested: false,
            }),
            host_notify: Notify::new(),
        });
        if relay.keys.lock().unwrap().insert(key, session.clone(), now) {
            break session;
        }
    };
    relay.sessions.lock().unwrap().insert(id, session.clone());
    session.inner.lock().unwrap().to_host.push_back(Bytes::from(
        SessionMessage::SessionCreated { key: session.key }.encode(),
    ));
    session.host_notify.notify_one();

    let (mut sink, mut stream) = socket.split();
    let outcome = tokio::select! {
        r = host_reader(&relay, &session, &mut stream) => r,
        r = host_writer(&relay, &session, &mut sink) => r,
    };
    // The session ends with its host.
    relay.sessions.lock().unwrap().remove(&id);
    relay.keys.lock().unwrap().remove(session.key);
    session.end("the host ended the session");
    if let Err((code, reason)) = outcome {
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            sink.send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }))),
        )
        .await;
    }
}

type Closing = Result<(), (u16, String)>;

fn ws_error(e: axum::Error) -> (u16, String) {
    let text = e.to_string();
    if text.contains("too long") || text.contains("Space limit") || text.contains("size") {
        (close::TOO_BIG, format!("message too big: {text}"))
    } else {
        (close::POLICY, format!("connection error: {text}"))
    }
}

/// The next binary message of a peer; `None` when it closed. Pings and pongs are skipped, text is
/// refused.
async fn next_binary(
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
) -> Result<Option<Bytes>, (u16, String)> {
    while let Some(message) = stream.next().await {
        match message.map_err(ws_error)? {
            Message::Binary(b) => return Ok(Some(b)),
            Message::Close(_) => return Ok(None),
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Text(_) => {
                return Err((close::POLICY, "text messages are not accepted".into()))
            }
        }
    }
    Ok(None)
}

async fn host_reader(
    relay: &Relay,
    session: &Session,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
) -> Closing {
    while let Some(bytes) = next_binary(stream).await? {
        let now = relay.now_ms();
        let mut inner = session.inner.lock().unwrap();
        if glimpse::session::is_session_message(&bytes) {
            let message = SessionMessage::decode(&bytes)
                .map_err(|e| (close::POLICY, format!("bad session message: {e}")))?;
            match message {
                SessionMessage::GrantControl { viewer } => {
                    if inner.viewers.contains_key(&viewer) {
                        let events = inner.control.grant(viewer);
                        inner.control_events(events);
                    }
                }
                SessionMessage::RefuseControl { viewer } => {
                    let event = inner.control.refuse(viewer);
                    inner.control_events([event]);
                }
                SessionMessage::RevokeControl => {
                    let event = inner.control.revoke();
                    inner.control_events(event);
                }
                SessionMessage::RemoveViewer { viewer } => {
                    if let Some(slot) = inner.viewers.get_mut(&viewer) {
                        slot.kick = Some((close::REMOVED, "removed by the host".into()));
                        slot.notify.notify_one();
                    }
                }
                other => {
                    return Err((
                        close::POLICY,
                        format!("a host may not send {}", message_name(&other)),
                    ))
                }
            }
            continue;
        }
        let checkpoint = crate::wire::checkpoint_header(&bytes);
        if let Some((w, h, _)) = checkpoint {
            inner.screen = (w, h);
        }
        let seq = crate::wire::packet_seq(&bytes);
        inner
            .fanout
            .host_packet(bytes, now)
            .map_err(|e| (close::POLICY, format!("bad packet: {e}")))?;
        if let Some(seq) = seq {
            if inner.arrivals.back().is_none_or(|(last, _)| *last != seq) {
                inner.arrivals.push_back((seq, now));
                if inner.arrivals.len() > 8192 {
                    inner.arrivals.pop_front();
                }
            }
        }
        if checkpoint.is_some() {
            // Viewers too far behind restart from this checkpoint.
            let inner = &mut *inner;
            inner.resync_requested = false;
            let floor = checkpoint.map_or(0, |(_, _, seq)| seq);
            for slot in inner.viewers.values_mut().filter(|s| s.resync) {
                inner.fanout.remove_viewer(slot.fan_id);
                slot.fan_id = inner.fanout.add_viewer(now);
                slot.resync = false;
                slot.resync_floor = floor;
            }
        }
        if inner.drain_events() {
            session.host_notify.notify_one();
        }
        for slot in inner.viewers.values() {
            slot.notify.notify_one();
        }
    }
    Ok(())
}

async fn host_writer(
    relay: &Relay,
    session: &Session,
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
) -> Closing {
    loop {
        let notified = session.host_notify.notified();
        let batch: Vec<Bytes> = {
            let mut inner = session.inner.lock().unwrap();
            if let Some(reason) = &inner.ended {
                return Err(reason.clone());
            }
            if inner.to_host.len() > relay.config.max_host_queue {
                return Err((close::STALLED, "host does not read its messages".into()));
            }
            inner.to_host.drain(..).collect()
        };
        if batch.is_empty() {
            notified.await;
            continue;
        }
        for b in batch {
            send(sink, b, relay.config.send_timeout).await?;
        }
    }
}

async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    bytes: Bytes,
    limit: Duration,
) -> Closing {
    match tokio::time::timeout(limit, sink.send(Message::Binary(bytes))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ws_error(e)),
        Err(_) => Err((close::STALLED, "connection stalled".into())),
    }
}

async fn close_socket(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        socket.send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))),
    )
    .await;
}

fn message_name(m: &SessionMessage) -> &'static str {
    match m {
        SessionMessage::Welcome { .. } => "Welcome",
        SessionMessage::ViewerCount(_) => "ViewerCount",
        SessionMessage::ControlGranted => "ControlGranted",
        SessionMessage::ControlRefused => "ControlRefused",
        SessionMessage::ControlRevoked => "ControlRevoked",
        SessionMessage::Ack { .. } => "Ack",
        SessionMessage::ControlRequest => "ControlRequest",
        SessionMessage::Input(_) => "Input",
        SessionMessage::CheckpointRequest => "CheckpointRequest",
        SessionMessage::ViewerJoined { .. } => "ViewerJoined",
        SessionMessage::ViewerLeft { .. } => "ViewerLeft",
        SessionMessage::ControlRequested { .. } => "ControlRequested",
        SessionMessage::InputFrom { .. } => "InputFrom",
        SessionMessage::GrantControl { .. } => "GrantControl",
        SessionMessage::RefuseControl { .. } => "RefuseControl",
        SessionMessage::RevokeControl => "RevokeControl",
        SessionMessage::RemoveViewer { .. } => "RemoveViewer",
        SessionMessage::SessionCreated { .. } => "SessionCreated",
        #[allow(unreachable_patterns)]
        _ => "an unknown message",
    }
}

// ---------------------------------------------------------------------------------------------
// Viewers.

#[derive(Default)]
struct ViewQuery {
    key: Option<String>,
    resume: Option<String>,
}

impl ViewQuery {
    /// `key=...&resume=...`; keys are digits, spaces (`+` or `%20`) and dashes, tokens hex.
    fn parse(raw: Option<&str>) -> Self {
        let mut q = ViewQuery::default();
        for pair in raw.unwrap_or("").split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = value.replace("%20", " ").replace('+', " ");
            match name {
                "key" => q.key = Some(value),
                "resume" => q.resume = Some(value),
                _ => {}
            }
        }
        q
    }
}

async fn view_ws(
    State(relay): State<Arc<Relay>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> impl IntoResponse {
    let query = ViewQuery::parse(query.as_deref());
    let max = relay.config.max_viewer_message;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| viewer_connection(relay, socket, peer, query))
}

fn parse_token(hex: &str) -> Option<[u8; 16]> {
    if hex.len() != 32 {
        return None;
    }
    let mut token = [0u8; 16];
    for (i, b) in token.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(token)
}

async fn viewer_connection(
    relay: Arc<Relay>,
    mut socket: WebSocket,
    peer: SocketAddr,
    query: ViewQuery,
) {
    let now = relay.now_ms();
    let client = peer.ip().to_string();
    let found = if let Some(resume) = &query.resume {
        let token = parse_token(resume);
        let resumed = token.and_then(|t| relay.keys.lock().unwrap().resume(&t, now));
        match resumed {
            Some((session, _old)) => Ok(session),
            None => Err((
                close::UNKNOWN_KEY,
                "unknown or expired resume token: type the key again".to_string(),
            )),
        }
    } else if let Some(key) = &query.key {
        let found = relay.keys.lock().unwrap().lookup(key, &client, now);
        found.map_err(|rejection| match rejection {
            KeyRejection::Unknown => (close::UNKNOWN_KEY, "no session has this key".to_string()),
            KeyRejection::Expired => (close::EXPIRED, "this key expired".to_string()),
            KeyRejection::RateLimited { retry_after_ms } => (
                close::RATE_LIMITED,
                format!(
                    "too many wrong keys: retry in {} s",
                    retry_after_ms.div_ceil(1000)
                ),
            ),
            #[allow(unreachable_patterns)]
            _ => (close::UNKNOWN_KEY, "key refused".to_string()),
        })
    } else {
        Err((close::POLICY, "give ?key=... or ?resume=...".to_string()))
    };
    let session = match found {
        Ok(s) => s,
        Err((code, reason)) => {
            close_socket(&mut socket, code, &reason).await;
            return;
        }
    };

    let token = random_bytes::<16>();
    let notify = Arc::new(Notify::new());
    let joined: Result<ViewerId, (u16, &str)> = (|| {
        let mut inner = session.inner.lock().unwrap();
        if inner.ended.is_some() {
            return Err((close::SESSION_ENDED, "the session ended"));
        }
        if inner.viewers.len() >= relay.config.max_viewers_per_session {
            return Err((close::FULL, "too many viewers in this session"));
        }
        let viewer = inner.fanout.add_viewer(now);
        let mut outbox = VecDeque::new();
        outbox.push_back(Bytes::from(
            SessionMessage::Welcome {
                viewer,
                resume_token: token,
            }
            .encode(),
        ));
        inner.viewers.insert(
            viewer,
            ViewerSlot {
                fan_id: viewer,
                resync: false,
                resync_floor: 0,
                unacked: VecDeque::new(),
                notify: notify.clone(),
                outbox,
                count_dirty: true,
                count_sent_at: None,
                kick: None,
                token,
            },
        );
        inner.counts_changed();
        inner.push_host(&SessionMessage::ViewerJoined { viewer }, usize::MAX);
        inner.drain_events();
        Ok(viewer)
    })();
    let viewer = match joined {
        Ok(v) => v,
        Err((code, reason)) => {
            close_socket(&mut socket, code, reason).await;
            return;
        }
    };
    relay.keys.lock().unwrap().touch(session.key, now);
    session.host_notify.notify_one();

    let (mut sink, mut stream) = socket.split();
    let outcome = tokio::select! {
        r = viewer_reader(&relay, &session, viewer, &notify, &mut stream) => r,
        r = viewer_writer(&relay, &session, viewer, &notify, &mut sink) => r,
    };

    // Leave: free the slot, tell the host, and let the viewer come back with its token.
    let now = relay.now_ms();
    let resumable = {
        let mut inner = session.inner.lock().unwrap();
        let slot = inner.viewers.remove(&viewer);
        if let Some(slot) = &slot {
            inner.fanout.remove_viewer(slot.fan_id);
        }
        inner.drain_events();
        let _ = inner.control.viewer_left(viewer);
        inner.push_host(&SessionMessage::ViewerLeft { viewer }, usize::MAX);
        inner.counts_changed();
        if inner.viewers.is_empty() {
            inner.idle_since = now;
        }
        let kicked = slot.as_ref().is_some_and(|s| s.kick.is_some());
        inner.ended.is_none() && !kicked
    };
    session.host_notify.notify_one();
    if resumable {
        let session_ref = relay.sessions.lock().unwrap().get(&session.id).cloned();
        if let Some(s) = session_ref {
            relay
                .keys
                .lock()
                .unwrap()
                .issue_resume(s, viewer, token, now);
        }
    }
    if let Err((code, reason)) = outcome {
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            sink.send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }))),
        )
        .await;
    }
}

async fn viewer_reader(
    relay: &Relay,
    session: &Session,
    viewer: ViewerId,
    notify: &Notify,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
) -> Closing {
    while let Some(bytes) = next_binary(stream).await? {
        let message = SessionMessage::decode(&bytes)
            .map_err(|e| (close::POLICY, format!("bad message: {e}")))?;
        let now = relay.now_ms();
        let mut inner = session.inner.lock().unwrap();
        match message {
            SessionMessage::Ack { seq } => {
                if let Some(slot) = inner.viewers.get_mut(&viewer) {
                    while slot.unacked.front().is_some_and(|s| *s <= seq) {
                        slot.unacked.pop_front();
                    }
                    let fan_id = slot.fan_id;
                    inner.fanout.ack(fan_id, seq, now);
                }
                if inner.drain_events() {
                    session.host_notify.notify_one();
                }
                notify.notify_one();
            }
            SessionMessage::ControlRequest => {
                if inner.control.request(viewer).is_none() {
                    continue; // asked already (or holds control): the host hears it once
                }
                if !inner.push_host(
                    &SessionMessage::ControlRequested { viewer },
                    relay.config.max_host_queue,
                ) {
                    inner.control.forget_request(viewer);
                    continue; // the host is flooded; the viewer may ask again
                }
                session.host_notify.notify_one();
            }
            SessionMessage::Input(event) => {
                // Only the holder of a grant gets through; others' events are dropped (a grant may
                // have been revoked while their events were in flight).
                let screen = inner.screen;
                if let Ok(event) = inner.control.accept_input(viewer, &event, screen) {
                    if inner.push_host(
                        &SessionMessage::InputFrom { viewer, event },
                        relay.config.max_host_queue,
                    ) {
                        session.host_notify.notify_one();
                    }
                }
            }
            other => {
                return Err((
                    close::POLICY,
                    format!("a viewer may not send {}", message_name(&other)),
                ))
            }
        }
    }
    Ok(())
}

async fn viewer_writer(
    relay: &Relay,
    session: &Session,
    viewer: ViewerId,
    notify: &Notify,
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
) -> Closing {
    let mut batch = Vec::new();
    loop {
        let notified = notify.notified();
        {
            let now = relay.now_ms();
            let mut inner = session.inner.lock().unwrap();
            if let Some(reason) = &inner.ended {
                return Err(reason.clone());
            }
            let count = inner.viewers.len() as u32;
            let inner = &mut *inner;
            let Some(slot) = inner.viewers.get_mut(&viewer) else {
                return Ok(());
            };
            if let Some(reason) = &slot.kick {
                return Err(reason.clone());
            }
            batch.extend(slot.outbox.drain(..));
            let count_due = slot
                .count_sent_at
                .is_none_or(|t| now.saturating_sub(t) >= 1000);
            if slot.count_dirty && count_due {
                slot.count_dirty = false;
                slot.count_sent_at = Some(now);
                batch.push(Bytes::from(SessionMessage::ViewerCount(count).encode()));
            }
            // Pull what the transport may take now; the fan-out's window bounds it.
            let mut bytes = 0;
            while bytes < 1 << 20 && slot.unacked.len() < relay.config.max_updates_in_flight {
                match inner.fanout.poll_send(slot.fan_id, now) {
                    Some(p) => {
                        if let Some(seq) = crate::wire::packet_seq(&p) {
                            slot.unacked.push_back(seq);
                        }
                        bytes += p.len();
                        batch.push(p);
                    }
                    None => break,
                }
            }
            if inner.drain_events() {
                session.host_notify.notify_one();
            }
        }
        if batch.is_empty() {
            notified.await;
            continue;
        }
        for b in batch.drain(..) {
            send(sink, b, relay.config.send_timeout).await?;
        }
    }
}
