//! [`Host`]: share frames through a relay from a plain thread. The encoder runs on the caller's
//! thread (in [`Host::push_frame`]); the network runs on the host's own thread (a single-threaded
//! tokio runtime), which reconnects by itself with the same key when the link drops.

use std::collections::VecDeque;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use glimpse::session::ViewerId;
use glimpse::{Encoder, EncoderConfig, Frame, Packet, PacketKind, Rect};
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::backoff::Backoff;
use super::tls::ClientTls;
use super::transport::{self, Ws};
use super::{epoch_ms, thread_cpu_ns, EventQueue};
use crate::error::ConnectError;
use crate::host_session::{ControlPolicy, HostEvent, HostOptions, HostSession};
use crate::protocol::{close, close_error, JoinCode};

/// Settings of a [`Host`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HostConfig {
    /// The relay: `ws://HOST:PORT`, `wss://HOST[:PORT]` (or the `http(s)://` page URL).
    pub relay_url: String,
    /// Trusted certificates for `wss://`.
    pub tls: ClientTls,
    /// The encoder's settings.
    pub encoder: EncoderConfig,
    /// What to do when a viewer asks for remote control.
    pub policy: ControlPolicy,
    /// A name viewers see (may be empty; sealed: the relay does not see it).
    pub name: String,
    /// Ask before letting each viewer in ([`HostEvent::ApprovalNeeded`], then [`Host::approve`]
    /// or [`Host::deny`]).
    pub approve_viewers: bool,
    /// How long to keep trying to reconnect after the link dropped (the relay keeps the session
    /// about as long).
    pub reconnect_for: Duration,
    /// Time limit of one connection attempt.
    pub connect_timeout: Duration,
    /// Packets waiting for the network at most, in bytes; past it frames are dropped and the
    /// stream restarts from a checkpoint once the network keeps up again.
    pub max_queued_bytes: usize,
}

impl HostConfig {
    /// Defaults for a relay URL.
    pub fn new(relay_url: &str) -> Self {
        HostConfig {
            relay_url: relay_url.to_string(),
            tls: ClientTls::default(),
            encoder: EncoderConfig::default(),
            policy: ControlPolicy::Ask,
            name: String::new(),
            approve_viewers: false,
            reconnect_for: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_queued_bytes: 32 << 20,
        }
    }
}

/// What a host measured.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct HostStats {
    /// Frames pushed.
    pub frames: u64,
    /// Packets made (updates, checkpoints, cursor).
    pub packets: u64,
    /// Bytes of packets made.
    pub packet_bytes: u64,
    /// Checkpoints made.
    pub checkpoints: u64,
    /// Bytes sent to the relay (messages, headers included).
    pub sent_bytes: u64,
    /// Packets dropped because the network did not keep up.
    pub dropped_packets: u64,
    /// CPU time spent encoding, in nanoseconds (the calling threads' CPU clock).
    pub encode_cpu_ns: u64,
    /// Times the link was re-established.
    pub reconnects: u64,
    /// Events dropped because the program did not read them (input first).
    pub dropped_events: u64,
    /// `(seq, capture time in ms since the Unix epoch)` of every update and checkpoint, when
    /// [`Host::record_timings`] was turned on.
    pub timings: Vec<(u64, f64)>,
}

/// Packets from the encoder, in order, waiting for the network thread.
struct Outbox {
    queue: VecDeque<(Bytes, u64)>,
    bytes: usize,
}

struct Shared {
    encoder: Mutex<Encoder>,
    outbox: Mutex<Outbox>,
    outbox_ready: Notify,
    stats: Mutex<HostStats>,
    record_timings: std::sync::atomic::AtomicBool,
    max_queued_bytes: usize,
}

impl Shared {
    /// Queues packets (called with the encoder locked, so the queue keeps the encoder's order).
    fn queue(&self, packets: Vec<Packet>, captured_at_ms: u64, cpu_ns: u64) {
        let mut stats = self.stats.lock().unwrap();
        let mut outbox = self.outbox.lock().unwrap();
        stats.encode_cpu_ns += cpu_ns;
        let timings = self
            .record_timings
            .load(std::sync::atomic::Ordering::Relaxed);
        for packet in packets {
            stats.packets += 1;
            stats.packet_bytes += packet.len() as u64;
            if packet.kind() == PacketKind::Checkpoint {
                stats.checkpoints += 1;
            }
            if timings
                && matches!(
                    packet.kind(),
                    PacketKind::Checkpoint | PacketKind::FrameUpdate
                )
            {
                if let Ok(h) = glimpse::protocol::PacketHeader::read(packet.as_bytes()) {
                    stats
                        .timings
                        .push((h.seq.unwrap_or(0), captured_at_ms as f64));
                }
            }
            // Checkpoints always go in (they repair the stream); the rest only while there is room.
            if packet.kind() != PacketKind::Checkpoint && outbox.bytes >= self.max_queued_bytes {
                stats.dropped_packets += 1;
                continue;
            }
            outbox.bytes += packet.len();
            outbox
                .queue
                .push_back((packet.into_bytes(), captured_at_ms));
        }
        drop(outbox);
        self.outbox_ready.notify_one();
    }

    fn take_packets(&self) -> Vec<(Bytes, u64)> {
        let mut outbox = self.outbox.lock().unwrap();
        outbox.bytes = 0;
        outbox.queue.drain(..).collect()
    }

    fn checkpoint(&self) {
        let mut encoder = self.encoder.lock().unwrap();
        let cpu = thread_cpu_ns();
        let packets: Vec<Packet> = encoder.checkpoint().into_iter().collect();
        self.queue(
            packets,
            epoch_ms() as u64,
            thread_cpu_ns().saturating_sub(cpu),
        );
    }
}

/// What the program asks of the network thread.
#[derive(Debug)]
enum Command {
    Grant(ViewerId),
    Refuse(ViewerId),
    Revoke,
    Remove(ViewerId),
    Approve(ViewerId),
    Deny(ViewerId),
    LocalInput,
    End,
}

/// A shared screen on a relay (see the [module docs](self)). Every method takes `&self` and may be
/// called from any thread; [`Host::push_frame`] from one thread at a time keeps frames in order.
pub struct Host {
    shared: Arc<Shared>,
    code: Arc<Mutex<JoinCode>>,
    page: String,
    commands: mpsc::UnboundedSender<Command>,
    events: Arc<EventQueue<HostEvent>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Host {
    /// Connects to the relay and starts a session; returns once the session has its code (or with
    /// the reason it could not).
    pub fn connect(config: HostConfig) -> Result<Host, ConnectError> {
        let base = transport::ws_base(&config.relay_url)?;
        let page = transport::page_base(&config.relay_url)?;
        if base.starts_with("wss://") {
            config.tls.client_config()?; // a bad CA file fails here, not on the network thread
        }
        let shared = Arc::new(Shared {
            encoder: Mutex::new(Encoder::new(config.encoder)),
            outbox: Mutex::new(Outbox {
                queue: VecDeque::new(),
                bytes: 0,
            }),
            outbox_ready: Notify::new(),
            stats: Mutex::new(HostStats::default()),
            record_timings: std::sync::atomic::AtomicBool::new(false),
            max_queued_bytes: config.max_queued_bytes,
        });
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let events = Arc::new(EventQueue::new(8192));
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<JoinCode, ConnectError>>();
        let secret = super::random_bytes::<32>()?;
        let options = HostOptions {
            policy: config.policy,
            name: config.name.clone(),
            approve_viewers: config.approve_viewers,
        };
        let session = HostSession::new(options, secret)?;
        let placeholder = JoinCode::parse("0000000000")?;
        let code = Arc::new(Mutex::new(placeholder));
        let link = Link {
            base,
            config,
            shared: shared.clone(),
            session,
            commands: commands_rx,
            events: events.clone(),
            code: code.clone(),
            ready: Some(ready_tx),
        };
        let thread = std::thread::Builder::new()
            .name("glimpse-host".into())
            .spawn(move || link.run())
            .map_err(|e| ConnectError::Unreachable(format!("cannot start a thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => return Err(ConnectError::Closed),
        }
        Ok(Host {
            shared,
            code,
            page,
            commands: commands_tx,
            events,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The code viewers type (`"123 456 7890"` when printed). It changes when a code is burned
    /// after wrong attempts ([`HostEvent::CodeReplaced`]).
    pub fn code(&self) -> JoinCode {
        *self.code.lock().unwrap()
    }

    /// The link viewers open: the relay's page with the code in the URL fragment, which browsers
    /// never send to a server.
    pub fn join_link(&self) -> String {
        format!("{}/#code={}", self.page, self.code().digits())
    }

    /// Encodes a frame (on this thread) and hands its packet to the network thread. `damage` are
    /// hints from the capture API (every changed pixel inside one of them); `None` compares the
    /// whole frame.
    pub fn push_frame(
        &self,
        frame: &Frame<'_>,
        damage: Option<&[Rect]>,
    ) -> Result<(), ConnectError> {
        self.encode(|encoder| {
            let packet = match damage {
                Some(hints) => encoder.encode_with_hints(frame, hints)?,
                None => encoder.encode(frame)?,
            };
            Ok(packet.into_iter().collect())
        })?;
        self.shared.stats.lock().unwrap().frames += 1;
        Ok(())
    }

    /// Sets the cursor image (BGRA, straight alpha, at most 256x256) and its hot spot.
    pub fn set_cursor_shape(
        &self,
        image: &Frame<'_>,
        hotspot_x: u32,
        hotspot_y: u32,
    ) -> Result<(), ConnectError> {
        self.encode(|encoder| {
            Ok(encoder
                .set_cursor_shape(image, hotspot_x, hotspot_y)?
                .into_iter()
                .collect())
        })
    }

    /// Moves the cursor (screen pixels) or hides it.
    pub fn move_cursor(&self, x: i32, y: i32, visible: bool) -> Result<(), ConnectError> {
        self.encode(|encoder| Ok(encoder.move_cursor(x, y, visible).into_iter().collect()))
    }

    fn encode(
        &self,
        f: impl FnOnce(&mut Encoder) -> Result<Vec<Packet>, ConnectError>,
    ) -> Result<(), ConnectError> {
        let captured_at = epoch_ms() as u64;
        let mut encoder = self.shared.encoder.lock().unwrap();
        let cpu = thread_cpu_ns();
        let packets = f(&mut encoder)?;
        let cpu = thread_cpu_ns().saturating_sub(cpu);
        self.shared.queue(packets, captured_at, cpu);
        Ok(())
    }

    /// Runs `f` with the encoder (its stats, lossy rectangles, privacy masks...).
    pub fn with_encoder<T>(&self, f: impl FnOnce(&mut Encoder) -> T) -> T {
        f(&mut self.shared.encoder.lock().unwrap())
    }

    /// The next event, waiting at most `timeout`; `None` when none came (or the session is over
    /// and every event was read).
    pub fn next_event(&self, timeout: Duration) -> Option<HostEvent> {
        self.events.pop(timeout)
    }

    /// Gives remote control to `viewer`.
    pub fn grant(&self, viewer: ViewerId) -> Result<(), ConnectError> {
        self.command(Command::Grant(viewer))
    }

    /// Refuses `viewer`'s request for control (or takes control from it).
    pub fn refuse(&self, viewer: ViewerId) -> Result<(), ConnectError> {
        self.command(Command::Refuse(viewer))
    }

    /// Takes remote control back.
    pub fn revoke(&self) -> Result<(), ConnectError> {
        self.command(Command::Revoke)
    }

    /// Disconnects `viewer` (it cannot come back with its resume token).
    pub fn remove(&self, viewer: ViewerId) -> Result<(), ConnectError> {
        self.command(Command::Remove(viewer))
    }

    /// Lets in a viewer that waits for approval ([`HostConfig::approve_viewers`]).
    pub fn approve(&self, viewer: ViewerId) -> Result<(), ConnectError> {
        self.command(Command::Approve(viewer))
    }

    /// Turns away a viewer that waits for approval.
    pub fn deny(&self, viewer: ViewerId) -> Result<(), ConnectError> {
        self.command(Command::Deny(viewer))
    }

    /// The person at this machine used mouse or keyboard: control comes back to them at once.
    pub fn local_input(&self) -> Result<(), ConnectError> {
        self.command(Command::LocalInput)
    }

    fn command(&self, command: Command) -> Result<(), ConnectError> {
        self.commands
            .send(command)
            .map_err(|_| ConnectError::Closed)
    }

    /// Keeps `(seq, capture time)` of every update and checkpoint in [`HostStats::timings`].
    pub fn record_timings(&self, on: bool) {
        self.shared
            .record_timings
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// What the host measured so far.
    pub fn stats(&self) -> HostStats {
        let mut stats = self.shared.stats.lock().unwrap().clone();
        stats.dropped_events = self.events.dropped();
        stats
    }

    /// Ends the session for every viewer and stops the network thread (also done on drop).
    pub fn close(&self) {
        let _ = self.commands.send(Command::End);
        if let Some(thread) = self.thread.lock().unwrap().take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.close();
    }
}

/// The network thread's state.
struct Link {
    base: String,
    config: HostConfig,
    shared: Arc<Shared>,
    session: HostSession,
    commands: mpsc::UnboundedReceiver<Command>,
    events: Arc<EventQueue<HostEvent>>,
    /// The current code, for `Host::code`.
    code: Arc<Mutex<JoinCode>>,
    /// Until the first session is ready: where `Host::connect` waits.
    ready: Option<std_mpsc::Sender<Result<JoinCode, ConnectError>>>,
}

/// How one connection ended.
enum ConnectionEnd {
    /// The program ended the session.
    Finished,
    /// Closed for good (the relay's reason).
    Final(ConnectError),
    /// Dropped: reconnect.
    Dropped(String),
}

impl Link {
    fn run(mut self) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                self.fail(ConnectError::Unreachable(format!("no async runtime: {e}")));
                return;
            }
        };
        runtime.block_on(self.run_async());
        self.events.close();
    }

    /// Reports a failure: to `Host::connect` while it waits, else as the last event.
    fn fail(&mut self, error: ConnectError) {
        match self.ready.take() {
            Some(ready) => {
                let _ = ready.send(Err(error));
            }
            None => self.events.push(HostEvent::Ended(error), false),
        }
    }

    async fn run_async(&mut self) {
        let mut backoff = Backoff::new();
        let mut down_since: Option<Instant> = None;
        loop {
            let attempt = transport::connect(
                &self.base,
                "/ws/host",
                &self.config.tls,
                1 << 20,
                self.config.connect_timeout,
            )
            .await;
            let reason = match attempt {
                Ok(ws) => match self.run_connection(ws).await {
                    ConnectionEnd::Finished => return,
                    ConnectionEnd::Final(e) => return self.fail(e),
                    ConnectionEnd::Dropped(reason) => {
                        self.session.disconnected();
                        self.handle_events();
                        if self.ready.is_none() && down_since.is_none() {
                            backoff = Backoff::new();
                        }
                        reason
                    }
                },
                Err(e) if self.ready.is_some() => return self.fail(e),
                Err(e) => e.to_string(),
            };
            let since = *down_since.get_or_insert_with(Instant::now);
            if since.elapsed() > self.config.reconnect_for {
                return self.fail(ConnectError::ConnectionLost(format!(
                    "could not reconnect within {} s: {reason}",
                    self.config.reconnect_for.as_secs()
                )));
            }
            tracing::info!(%reason, "relay link down: reconnecting");
            if !self.wait_before_retry(backoff.next_delay()).await {
                return;
            }
            if self.session.is_ready() {
                down_since = None;
            }
        }
    }

    /// Sleeps `delay` while discarding packets (they cannot be sent; a checkpoint restarts the
    /// stream) and answering `End`. False when the program ended the session.
    async fn wait_before_retry(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return true,
                _ = self.shared.outbox_ready.notified() => { self.shared.take_packets(); }
                command = self.commands.recv() => match command {
                    None | Some(Command::End) => return false,
                    Some(_) => {} // control decisions need a live link
                },
            }
        }
    }

    async fn run_connection(&mut self, ws: Ws) -> ConnectionEnd {
        let (mut sink, mut stream) = ws.split();
        let mut ping = tokio::time::interval(Duration::from_secs(1));
        let mut last_heard = Instant::now();
        let hello = self.session.hello();
        self.shared.take_packets(); // stale: the stream restarts at the next checkpoint
        let mut outgoing: Vec<Vec<u8>> = vec![hello];
        loop {
            self.handle_events();
            while let Some(m) = self.session.poll_outgoing() {
                outgoing.push(m);
            }
            for bytes in outgoing.drain(..) {
                let len = bytes.len() as u64;
                let sent = tokio::time::timeout(
                    Duration::from_secs(10),
                    sink.send(WsMessage::Binary(bytes.into())),
                )
                .await;
                match sent {
                    Ok(Ok(())) => self.shared.stats.lock().unwrap().sent_bytes += len,
                    Ok(Err(e)) => return ConnectionEnd::Dropped(format!("send failed: {e}")),
                    Err(_) => return ConnectionEnd::Dropped("the relay stopped reading".into()),
                }
            }
            if let Some(end) = self.ready_check() {
                return end;
            }
            tokio::select! {
                message = stream.next() => {
                    last_heard = Instant::now();
                    match message {
                        Some(Ok(WsMessage::Binary(bytes))) => {
                            if let Err(e) = self.session.receive(&bytes, epoch_ms() as u64) {
                                return ConnectionEnd::Dropped(e.to_string());
                            }
                        }
                        Some(Ok(WsMessage::Close(frame))) => {
                            let (code, reason) = frame
                                .map(|f| (u16::from(f.code), f.reason.to_string()))
                                .unwrap_or((1005, String::new()));
                            return self.closed(code, &reason);
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return ConnectionEnd::Dropped(e.to_string()),
                        None => return ConnectionEnd::Dropped("connection lost".into()),
                    }
                }
                _ = self.shared.outbox_ready.notified() => {
                    for (packet, captured_at) in self.shared.take_packets() {
                        match self.session.stream_message(&packet, captured_at) {
                            Ok(Some(message)) => outgoing.push(message),
                            Ok(None) => {}
                            Err(e) => tracing::warn!(error = %e, "packet not sent"),
                        }
                    }
                }
                command = self.commands.recv() => match command {
                    None | Some(Command::End) => {
                        // What the encoder made before the end goes out first: viewers end on
                        // the last frame.
                        let mut last: Vec<Vec<u8>> = std::mem::take(&mut outgoing);
                        for (packet, captured_at) in self.shared.take_packets() {
                            if let Ok(Some(message)) = self.session.stream_message(&packet, captured_at) {
                                last.push(message);
                            }
                        }
                        last.push(self.session.end());
                        let _ = tokio::time::timeout(Duration::from_secs(2), async {
                            for bytes in last {
                                sink.send(WsMessage::Binary(bytes.into())).await?;
                            }
                            sink.close().await
                        }).await;
                        let ended = ConnectError::SessionEnded("ended by the host".into());
                        self.events.push(HostEvent::Ended(ended), false);
                        return ConnectionEnd::Finished;
                    }
                    Some(command) => self.apply(command),
                },
                _ = ping.tick() => {
                    self.session.tick(epoch_ms() as u64);
                    if last_heard.elapsed() > Duration::from_secs(3) {
                        return ConnectionEnd::Dropped("the relay stopped answering".into());
                    }
                    if tokio::time::timeout(Duration::from_secs(1), sink.send(WsMessage::Ping(Bytes::new()))).await.is_err() {
                        return ConnectionEnd::Dropped("the relay stopped reading".into());
                    }
                }
            }
        }
    }

    /// Once the session is ready, lets `Host::connect` return.
    fn ready_check(&mut self) -> Option<ConnectionEnd> {
        if let (Some(code), true) = (self.session.code(), self.session.is_ready()) {
            if let Some(ready) = self.ready.take() {
                if ready.send(Ok(code)).is_err() {
                    return Some(ConnectionEnd::Finished); // nobody waits any more
                }
            }
        }
        None
    }

    fn closed(&mut self, code: u16, reason: &str) -> ConnectionEnd {
        if close::is_final(code) {
            ConnectionEnd::Final(close_error(code, reason))
        } else {
            ConnectionEnd::Dropped(format!("closed by the relay ({code} {reason})"))
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Grant(v) => {
                if let Err(e) = self.session.grant(v) {
                    tracing::info!(error = %e, "grant not applied");
                }
            }
            Command::Refuse(v) => self.session.refuse(v),
            Command::Revoke => self.session.revoke(),
            Command::Remove(v) => {
                if let Err(e) = self.session.remove(v) {
                    tracing::warn!(error = %e, "removing a viewer failed");
                }
            }
            Command::Approve(v) => {
                if let Err(e) = self.session.approve(v) {
                    tracing::info!(error = %e, "approval not applied");
                }
            }
            Command::Deny(v) => self.session.deny(v),
            Command::LocalInput => self.session.local_input(epoch_ms() as u64),
            Command::End => {}
        }
    }

    /// Acts on the session's events: checkpoints here, the rest to the program.
    fn handle_events(&mut self) {
        while let Some(event) = self.session.poll_event() {
            match event {
                HostEvent::CheckpointNeeded => self.shared.checkpoint(),
                HostEvent::Ready { code, resumed } => {
                    *self.code.lock().unwrap() = code;
                    if resumed {
                        self.shared.stats.lock().unwrap().reconnects += 1;
                    }
                    self.events.push(event, false);
                }
                HostEvent::CodeReplaced { code } => {
                    *self.code.lock().unwrap() = code;
                    self.events.push(event, false);
                }
                other => {
                    let droppable = matches!(other, HostEvent::Input { .. });
                    self.events.push(other, droppable);
                }
            }
        }
    }
}
