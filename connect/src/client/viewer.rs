//! [`Viewer`]: watch a session from a plain thread. The network thread decodes every packet into
//! the viewer's screen, acknowledges it, and reconnects by itself after a drop (with its resume
//! token, or the key when the relay restarted).

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use glimpse::session::{InputEvent, StreamKind, ViewerId};
use glimpse::{Decoder, DecoderConfig};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::tls::ClientTls;
use super::transport::{self, Ws};
use super::{epoch_ms, random_bytes, EventQueue};
use crate::error::ConnectError;
use crate::protocol::{close, JoinCode};
use crate::viewer_session::{ControlState, Reconnect, ViewerEvent as SessionEvent, ViewerSession};

/// Settings of a [`Viewer`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ViewerConfig {
    /// The relay: `ws://HOST:PORT`, `wss://HOST[:PORT]` (or the `http(s)://` page URL).
    pub relay_url: String,
    /// The code the host gave.
    pub code: JoinCode,
    /// A name the host sees (may be empty).
    pub name: String,
    /// Trusted certificates for `wss://`.
    pub tls: ClientTls,
    /// Decode packets into a screen (else only their headers are read: a cheap client for load
    /// tests, which still acknowledges what it received).
    pub decode: bool,
    /// Limits of the decoder (screen size, cache).
    pub decoder: DecoderConfig,
    /// Time limit of one connection attempt.
    pub connect_timeout: Duration,
    /// [`Viewer::join`] gives up when the first screen has not arrived by then.
    pub join_timeout: Duration,
    /// Run the network on this tokio runtime (as a task) instead of a thread of the viewer's own:
    /// for programs that already run tokio, and for many viewers in one process.
    pub runtime: Option<tokio::runtime::Handle>,
    /// Sleeps this long after each message: a slow link, for tests.
    #[doc(hidden)]
    pub read_delay: Duration,
}

impl ViewerConfig {
    /// Defaults for a relay URL and a code.
    pub fn new(relay_url: &str, code: JoinCode) -> Self {
        ViewerConfig {
            relay_url: relay_url.to_string(),
            code,
            name: String::new(),
            tls: ClientTls::default(),
            decode: true,
            decoder: DecoderConfig::default(),
            connect_timeout: Duration::from_secs(10),
            join_timeout: Duration::from_secs(20),
            runtime: None,
            read_delay: Duration::ZERO,
        }
    }
}

/// What happened to a viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViewerEvent {
    /// Joined, or rejoined after a drop.
    Joined {
        /// This viewer's id in the session.
        viewer: ViewerId,
        /// The host's name (may be empty).
        host_name: String,
    },
    /// The screen changed: it now shows stream position `seq`.
    Screen {
        /// The update or checkpoint applied.
        seq: u64,
    },
    /// How many viewers watch.
    ViewerCount(u32),
    /// Remote control changed.
    Control {
        /// The new state.
        state: ControlState,
        /// The host refused the request.
        refused: bool,
    },
    /// The host's link dropped (`false`) or came back (`true`).
    HostStatus {
        /// The host is connected.
        connected: bool,
    },
    /// The connection dropped; reconnecting.
    Reconnecting {
        /// Why it dropped.
        reason: String,
    },
    /// The session is over for this viewer.
    Ended(ConnectError),
}

/// What a viewer measured.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ViewerStats {
    /// Screen packets received.
    pub packets: u64,
    /// Bytes of messages received.
    pub bytes: u64,
    /// Checkpoints applied.
    pub checkpoints: u64,
    /// Frame updates applied.
    pub updates: u64,
    /// Packets the decoder rejected.
    pub decode_errors: u64,
    /// Packets refused before decoding: they did not authenticate, were replays, or came under a
    /// key this viewer does not have. None was shown.
    pub refused_packets: u64,
    /// Milliseconds from starting to join to the welcome.
    pub join_ms: Option<f64>,
    /// Milliseconds from starting to join to the first screen.
    pub first_screen_ms: Option<f64>,
    /// Connections re-established after a drop.
    pub reconnects: u64,
    /// Events dropped because the program did not read them (screen updates first).
    pub dropped_events: u64,
    /// The last update or checkpoint applied.
    pub last_seq: Option<u64>,
    /// Capture-to-applied latency of every update and checkpoint, in ms (host and viewer clocks;
    /// meaningful on one machine or with synchronised clocks). The most recent 100 000.
    pub latencies_ms: Vec<f64>,
    /// `(seq, time applied in ms since the Unix epoch)` of every update and checkpoint, the most
    /// recent 100 000.
    pub applied: Vec<(u64, f64)>,
}

const MAX_SAMPLES: usize = 100_000;

/// A screen as a viewer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// BGRA pixels, rows packed (`width * 4` bytes each).
    pub pixels: Vec<u8>,
}

struct Shared {
    decoder: Mutex<Decoder>,
    stats: Mutex<ViewerStats>,
}

#[derive(Debug)]
enum Command {
    RequestControl,
    Input(InputEvent),
    Leave,
    Cut,
}

/// A viewer of a session (see the [module docs](self)). Methods take `&self` and may be called
/// from any thread.
pub struct Viewer {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    events: Arc<EventQueue<ViewerEvent>>,
    finished: Mutex<Option<Finished>>,
}

/// How to wait for the network to stop.
enum Finished {
    Thread(JoinHandle<()>),
    Task(std::sync::mpsc::Receiver<()>),
}

impl Viewer {
    /// Joins the session of `config.code`; returns once the first screen arrived (or with the
    /// reason it could not: a wrong code fails at once).
    pub fn join(config: ViewerConfig) -> Result<Viewer, ConnectError> {
        let base = transport::ws_base(&config.relay_url)?;
        if base.starts_with("wss://") {
            config.tls.client_config()?;
        }
        let shared = Arc::new(Shared {
            decoder: Mutex::new(Decoder::new(config.decoder)),
            stats: Mutex::new(ViewerStats::default()),
        });
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let events = Arc::new(EventQueue::new(4096));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let join_timeout = config.join_timeout;
        let link = Link {
            session: ViewerSession::new(config.code, &config.name),
            base,
            config,
            shared: shared.clone(),
            commands: commands_rx,
            events: events.clone(),
            ready: Some(ready_tx),
            started: Instant::now(),
        };
        let finished = match link.config.runtime.clone() {
            Some(runtime) => {
                let (done_tx, done_rx) = std::sync::mpsc::channel();
                runtime.spawn(async move {
                    let mut link = link;
                    link.run_async().await;
                    link.events.close();
                    let _ = done_tx.send(());
                });
                Finished::Task(done_rx)
            }
            None => Finished::Thread(
                std::thread::Builder::new()
                    .name("glimpse-viewer".into())
                    .spawn(move || link.run())
                    .map_err(|e| {
                        ConnectError::Unreachable(format!("cannot start a thread: {e}"))
                    })?,
            ),
        };
        let viewer = Viewer {
            shared,
            commands: commands_tx,
            events,
            finished: Mutex::new(Some(finished)),
        };
        match ready_rx.recv_timeout(join_timeout) {
            Ok(Ok(())) => Ok(viewer),
            Ok(Err(e)) => Err(e),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                Err(ConnectError::Timeout("the first screen"))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(ConnectError::Closed),
        }
    }

    /// The next event, waiting at most `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Option<ViewerEvent> {
        self.events.pop(timeout)
    }

    /// The screen as it is now (BGRA, rows packed); `None` before the first checkpoint.
    pub fn screen(&self) -> Option<Screen> {
        let decoder = self.shared.decoder.lock().unwrap();
        let fb = decoder.framebuffer()?;
        let row = fb.width as usize * 4;
        let mut pixels = Vec::with_capacity(row * fb.height as usize);
        for y in 0..fb.height as usize {
            pixels.extend_from_slice(&fb.pixels[y * fb.stride..y * fb.stride + row]);
        }
        Some(Screen {
            width: fb.width,
            height: fb.height,
            pixels,
        })
    }

    /// The stream position the screen shows.
    pub fn seq(&self) -> Option<u64> {
        self.shared.stats.lock().unwrap().last_seq
    }

    /// Asks the host for remote control ([`ViewerEvent::Control`] tells the answer).
    pub fn request_control(&self) -> Result<(), ConnectError> {
        self.command(Command::RequestControl)
    }

    /// Sends an input event; dropped unless the host granted control.
    pub fn send_input(&self, event: InputEvent) -> Result<(), ConnectError> {
        self.command(Command::Input(event))
    }

    /// What this viewer measured so far.
    pub fn stats(&self) -> ViewerStats {
        let mut stats = self.shared.stats.lock().unwrap().clone();
        stats.dropped_events = self.events.dropped();
        stats
    }

    /// Drops the connection without a close handshake (a network cut): the viewer reconnects.
    #[doc(hidden)]
    pub fn cut_connection(&self) -> Result<(), ConnectError> {
        self.command(Command::Cut)
    }

    /// Leaves the session and stops the network thread (also done on drop).
    pub fn close(&self) {
        let _ = self.commands.send(Command::Leave);
        match self.finished.lock().unwrap().take() {
            Some(Finished::Thread(thread)) => {
                let _ = thread.join();
            }
            Some(Finished::Task(done)) => {
                let _ = done.recv_timeout(Duration::from_secs(5));
            }
            None => {}
        }
    }

    fn command(&self, command: Command) -> Result<(), ConnectError> {
        self.commands
            .send(command)
            .map_err(|_| ConnectError::Closed)
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.close();
    }
}

struct Link {
    session: ViewerSession,
    base: String,
    config: ViewerConfig,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    events: Arc<EventQueue<ViewerEvent>>,
    ready: Option<std::sync::mpsc::Sender<Result<(), ConnectError>>>,
    started: Instant,
}

/// How one connection ended.
enum ConnectionEnd {
    /// Closed with a code (1006 when it dropped without one).
    Closed(u16, String),
    /// The program left.
    Left,
}

impl Link {
    fn run(mut self) {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(self.run_async()),
            Err(e) => self.fail(ConnectError::Unreachable(format!("no async runtime: {e}"))),
        }
        self.events.close();
    }

    fn fail(&mut self, error: ConnectError) {
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Err(error.clone()));
        }
        self.events.push(ViewerEvent::Ended(error), false);
    }

    async fn run_async(&mut self) {
        let mut connections = 0u32;
        loop {
            let attempt = transport::connect(
                &self.base,
                "/ws/view",
                &self.config.tls,
                256 << 20,
                self.config.connect_timeout,
            )
            .await;
            let (code, reason) = match attempt {
                Ok(ws) => {
                    // A join still waiting for its turn (a busy session) is not a reconnection.
                    if connections > 0 && self.ready.is_none() {
                        self.shared.stats.lock().unwrap().reconnects += 1;
                    }
                    connections += 1;
                    match self.run_connection(ws).await {
                        ConnectionEnd::Left => return,
                        ConnectionEnd::Closed(code, reason) => (code, reason),
                    }
                }
                // The very first connection failed: say why (TLS, unreachable) as it is.
                Err(e) if connections == 0 => return self.fail(e),
                Err(e) => (1006, e.to_string()),
            };
            let random = random_bytes::<4>().map_or(0, u32::from_le_bytes);
            match self
                .session
                .closed(code, &reason, epoch_ms() as u64, random)
            {
                Reconnect::GiveUp(error) => return self.fail(error),
                Reconnect::After { delay_ms } => {
                    if self.ready.is_none() {
                        self.events.push(
                            ViewerEvent::Reconnecting {
                                reason: reason.clone(),
                            },
                            false,
                        );
                    }
                    if !self.wait(Duration::from_millis(delay_ms)).await {
                        return;
                    }
                }
            }
        }
    }

    /// Sleeps before reconnecting; false when the program left meanwhile.
    async fn wait(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return true,
                command = self.commands.recv() => match command {
                    None | Some(Command::Leave) => return false,
                    Some(_) => {} // nothing to send it to
                },
            }
        }
    }

    async fn run_connection(&mut self, ws: Ws) -> ConnectionEnd {
        let (mut sink, mut stream) = ws.split();
        let mut ping = tokio::time::interval(Duration::from_secs(1));
        let mut last_heard = Instant::now();
        let mut outgoing = vec![self.session.hello()];
        loop {
            for bytes in outgoing.drain(..) {
                let send = sink.send(WsMessage::Binary(bytes.into()));
                match tokio::time::timeout(Duration::from_secs(10), send).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return ConnectionEnd::Closed(1006, e.to_string()),
                    Err(_) => {
                        return ConnectionEnd::Closed(1006, "the relay stopped reading".into())
                    }
                }
            }
            tokio::select! {
                message = stream.next() => {
                    last_heard = Instant::now();
                    let bytes: Bytes = match message {
                        Some(Ok(WsMessage::Binary(b))) => b,
                        Some(Ok(WsMessage::Close(frame))) => {
                            let (code, reason) = frame
                                .map(|f| (u16::from(f.code), f.reason.to_string()))
                                .unwrap_or((1005, String::new()));
                            return ConnectionEnd::Closed(code, reason);
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return ConnectionEnd::Closed(1006, e.to_string()),
                        None => return ConnectionEnd::Closed(1006, "connection lost".into()),
                    };
                    if !self.config.read_delay.is_zero() {
                        tokio::time::sleep(self.config.read_delay).await;
                    }
                    match self.on_message(&bytes, &mut outgoing) {
                        Ok(()) => {}
                        Err(e) => {
                            let frame = CloseFrame { code: CloseCode::from(close::POLICY), reason: e.to_string().into() };
                            let _ = sink.send(WsMessage::Close(Some(frame))).await;
                            return ConnectionEnd::Closed(1006, e.to_string());
                        }
                    }
                }
                command = self.commands.recv() => match command {
                    None | Some(Command::Leave) => {
                        let frame = CloseFrame { code: CloseCode::Normal, reason: "viewer left".into() };
                        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(WsMessage::Close(Some(frame)))).await;
                        self.events.push(ViewerEvent::Ended(ConnectError::Closed), false);
                        return ConnectionEnd::Left;
                    }
                    Some(Command::Cut) => return ConnectionEnd::Closed(1006, "cut".into()),
                    Some(Command::RequestControl) => outgoing.extend(self.session.request_control()),
                    Some(Command::Input(event)) => outgoing.extend(self.session.input(event)),
                },
                _ = ping.tick() => {
                    if last_heard.elapsed() > Duration::from_secs(12) {
                        return ConnectionEnd::Closed(1006, "the relay stopped answering".into());
                    }
                    let ping = sink.send(WsMessage::Ping(Bytes::new()));
                    if tokio::time::timeout(Duration::from_secs(5), ping).await.is_err() {
                        return ConnectionEnd::Closed(1006, "the relay stopped reading".into());
                    }
                }
            }
        }
    }

    /// Handles one message; what to send back goes to `outgoing`.
    fn on_message(
        &mut self,
        bytes: &[u8],
        outgoing: &mut Vec<Vec<u8>>,
    ) -> Result<(), ConnectError> {
        self.shared.stats.lock().unwrap().bytes += bytes.len() as u64;
        let event = self.session.receive(bytes, epoch_ms() as u64)?;
        let event = match event {
            None => None,
            Some(SessionEvent::Packet {
                kind,
                seq,
                captured_at_ms,
                data,
            }) => {
                outgoing.extend(self.on_packet(kind, seq, captured_at_ms, &data));
                None
            }
            Some(SessionEvent::Refused { reason }) => {
                self.shared.stats.lock().unwrap().refused_packets += 1;
                tracing::warn!(reason, "a packet was refused");
                None
            }
            Some(SessionEvent::Welcome { .. }) => None,
            Some(SessionEvent::Admitted { host_name }) => {
                let mut stats = self.shared.stats.lock().unwrap();
                stats
                    .join_ms
                    .get_or_insert(self.started.elapsed().as_secs_f64() * 1000.0);
                let viewer = self.session.viewer().unwrap_or(0);
                Some(ViewerEvent::Joined { viewer, host_name })
            }
            Some(SessionEvent::ViewerCount(n)) => Some(ViewerEvent::ViewerCount(n)),
            Some(SessionEvent::Control { state, refused }) => {
                Some(ViewerEvent::Control { state, refused })
            }
            Some(SessionEvent::HostStatus { connected }) => {
                Some(ViewerEvent::HostStatus { connected })
            }
        };
        while let Some(m) = self.session.poll_outgoing() {
            outgoing.push(m);
        }
        if let Some(event) = event {
            self.events.push(event, false);
        }
        Ok(())
    }

    /// Applies an opened packet; the ack (or a resync when the decoder refused it) to send.
    fn on_packet(
        &mut self,
        kind: StreamKind,
        seq: u64,
        captured_at_ms: u64,
        data: &[u8],
    ) -> Option<Vec<u8>> {
        let applied = if self.config.decode {
            let mut decoder = self.shared.decoder.lock().unwrap();
            decoder.apply(data).is_ok()
        } else {
            true
        };
        let now = epoch_ms();
        let mut stats = self.shared.stats.lock().unwrap();
        stats.packets += 1;
        if !applied {
            stats.decode_errors += 1;
            return Some(self.session.resync());
        }
        match kind {
            StreamKind::Cursor => return None,
            StreamKind::Checkpoint { .. } => {
                stats.checkpoints += 1;
                if stats.first_screen_ms.is_none() {
                    stats.first_screen_ms = Some(self.started.elapsed().as_secs_f64() * 1000.0);
                }
            }
            StreamKind::Update => stats.updates += 1,
        }
        stats.last_seq = Some(seq);
        if captured_at_ms > 0 {
            push_bounded(&mut stats.latencies_ms, now - captured_at_ms as f64);
        }
        push_bounded(&mut stats.applied, (seq, now));
        drop(stats);
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Ok(()));
        }
        self.events.push(ViewerEvent::Screen { seq }, true);
        Some(self.session.ack(seq))
    }
}

fn push_bounded<T>(samples: &mut Vec<T>, value: T) {
    if samples.len() >= MAX_SAMPLES {
        samples.drain(..MAX_SAMPLES / 2);
    }
    samples.push(value);
}
