//! The host side of quick connect, shared by the `share` command, the load test and the tests:
//!
//! - [`run_encoder`]: a thread that captures (screen, demo scene or a corpus recording), encodes with
//!   [`glimpse::Encoder`] at a fixed rate, answers checkpoint requests and injects granted input;
//! - [`run_link`]: the WebSocket to the relay (async): packets up, session messages down, remote
//!   control decisions with the host-side [`glimpse::session::Control`].
#![allow(dead_code)] // shared by several programs; each uses a part

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use glimpse::session::{Control, ControlEvent, InputEvent, SessionKey, SessionMessage, ViewerId};
use glimpse::{Encoder, EncoderConfig, Frame, PacketKind, PixelFormat};
use glimpse_capture::ScreenSource;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::wire;

/// A recording from the corpus, played as if it were the screen (looping when asked).
pub struct CorpusSource {
    scenario: glimpse_corpus::Scenario,
    reader: glimpse_corpus::FrameReader,
    frame: Vec<u8>,
    looping: bool,
    /// Frames handed out.
    pub played: u64,
}

impl CorpusSource {
    /// `name` is a scenario name, optionally `name@WIDTHxHEIGHT` (default: the largest size found).
    /// Looks in `../shared/corpus` first, then `testdata/corpus`.
    pub fn open(name: &str, looping: bool) -> Result<Self, String> {
        let (name, size) = match name.split_once('@') {
            Some((n, s)) => (n, Some(s)),
            None => (name, None),
        };
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let corpora = [root.join("../shared/corpus"), root.join("testdata/corpus")];
        let mut found: Vec<glimpse_corpus::Scenario> = Vec::new();
        for dir in corpora.iter().filter(|d| d.exists()) {
            if let Ok(c) = glimpse_corpus::Corpus::open(dir) {
                found.extend(c.scenarios.into_iter().filter(|s| {
                    s.name == name
                        && size.is_none_or(|sz| format!("{}x{}", s.width, s.height) == sz)
                }));
            }
            if !found.is_empty() {
                break;
            }
        }
        found.sort_by_key(|s| std::cmp::Reverse(s.width * s.height));
        let scenario = found
            .into_iter()
            .next()
            .ok_or_else(|| format!("no corpus recording named {name} (size {size:?})"))?;
        let reader = scenario.frames().map_err(|e| e.to_string())?;
        Ok(CorpusSource {
            scenario,
            reader,
            frame: Vec::new(),
            looping,
            played: 0,
        })
    }

    pub fn frame_count(&self) -> usize {
        self.scenario.frame_count
    }

    pub fn size(&self) -> (u32, u32) {
        (self.scenario.width, self.scenario.height)
    }

    pub fn name(&self) -> &str {
        &self.scenario.name
    }

    /// The next frame; `false` at the end (when not looping).
    fn advance(&mut self) -> Result<bool, String> {
        loop {
            match self.reader.next_frame().map_err(|e| e.to_string())? {
                Some(f) => {
                    self.frame = f;
                    self.played += 1;
                    return Ok(true);
                }
                None if self.looping => {
                    self.reader = self.scenario.frames().map_err(|e| e.to_string())?;
                }
                None => return Ok(false),
            }
        }
    }
}

/// Where frames come from.
pub enum Source {
    Screen(Box<dyn ScreenSource>),
    Corpus(Box<CorpusSource>),
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Screen(s) => {
                let (w, h) = s.size();
                format!("{} screen {w}x{h}", s.kind())
            }
            Source::Corpus(c) => {
                let (w, h) = c.size();
                format!("corpus recording {} {w}x{h}", c.name())
            }
        }
    }
}

/// Commands to the encoder thread.
#[derive(Debug)]
pub enum HostCommand {
    /// A viewer joined or fell behind: send a checkpoint of the current screen.
    Checkpoint,
    /// A granted viewer's input: inject it.
    Inject(InputEvent),
    /// Control ended: let go of every key and button still held by the viewer.
    ReleaseInput,
    Stop,
}

/// Encoder thread settings.
pub struct EncodeConfig {
    pub fps: f64,
    pub max_frames: Option<u64>,
    pub max_duration: Option<Duration>,
    pub encoder: EncoderConfig,
    /// Keep a copy of the last frame in the stats (for pixel comparisons).
    pub keep_last_frame: bool,
    /// When a corpus recording ends, write its last frame (BGRA, rows packed) here.
    pub last_frame_file: Option<PathBuf>,
}

/// What the encoder thread measured.
#[derive(Debug, Default, Clone)]
pub struct EncodeStats {
    /// Frames captured and encoded.
    pub frames: u64,
    /// Packets (updates, checkpoints, cursor) sent to the link.
    pub packets: u64,
    pub bytes: u64,
    pub checkpoints: u64,
    /// CPU time of the encoder thread spent encoding (capture excluded), in nanoseconds.
    pub encode_cpu_ns: u64,
    /// `(seq, capture time in ms since the Unix epoch)` of every update and checkpoint.
    pub timings: Vec<(u64, f64)>,
    /// Input events injected.
    pub injected: u64,
    /// The last frame encoded, BGRA rows packed (kept only when asked).
    pub last_frame: Option<(u32, u32, Vec<u8>)>,
}

/// CPU time of the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Injects input (the share command's XTest injector), and tells when the local user touched
/// the mouse or keyboard.
pub trait InputSink: Send {
    fn inject(&mut self, event: &InputEvent) -> Result<(), String>;
    /// True when local input happened since the last call.
    fn local_input(&mut self) -> bool {
        false
    }
    /// Releases everything injected and still held.
    fn release_all(&mut self) {}
}

/// Captures and encodes until told to stop, the limits are reached, the source ends or the link
/// goes away. Packets go to `out`; the returned stats are also kept in `stats` as it runs.
pub fn run_encoder(
    mut source: Source,
    config: EncodeConfig,
    commands: std_mpsc::Receiver<HostCommand>,
    out: mpsc::Sender<Bytes>,
    mut input: Option<Box<dyn InputSink>>,
    local_input: Option<mpsc::UnboundedSender<()>>,
    stats: Arc<Mutex<EncodeStats>>,
) -> Result<(), String> {
    let keep_last_frame = config.keep_last_frame;
    let last_frame_file = config.last_frame_file.clone();
    let mut encoder = Encoder::new(config.encoder);
    let interval = Duration::from_secs_f64(1.0 / config.fps.max(0.1));
    let start = Instant::now();
    let mut next_tick = start;
    let mut want_checkpoint = false;
    let mut frames = 0u64;
    let mut ticks = 0u64;
    let mut ended = false;
    loop {
        loop {
            match commands.try_recv() {
                Ok(HostCommand::Checkpoint) => want_checkpoint = true,
                Ok(HostCommand::Inject(event)) => {
                    if let Some(sink) = input.as_mut() {
                        match sink.inject(&event) {
                            Ok(()) => stats.lock().unwrap().injected += 1,
                            Err(e) => eprintln!("share: input not injected: {e}"),
                        }
                    }
                }
                Ok(HostCommand::ReleaseInput) => {
                    if let Some(sink) = input.as_mut() {
                        sink.release_all();
                    }
                }
                Ok(HostCommand::Stop) | Err(std_mpsc::TryRecvError::Disconnected) => return Ok(()),
                Err(std_mpsc::TryRecvError::Empty) => break,
            }
        }
        if let (Some(sink), Some(tx)) = (input.as_mut(), local_input.as_ref()) {
            if sink.local_input() {
                let _ = tx.send(());
            }
        }
        if config.max_frames.is_some_and(|m| ticks >= m)
            || config.max_duration.is_some_and(|d| start.elapsed() >= d)
        {
            return Ok(());
        }
        let captured_at = wire::epoch_ms();
        let mut packets: Vec<glimpse::Packet> = Vec::with_capacity(4);
        let cpu_before;
        let mut keep = None;
        match &mut source {
            Source::Screen(screen) => {
                let shot = screen.capture().map_err(|e| e.to_string())?;
                cpu_before = thread_cpu_ns();
                let frame = Frame::new(
                    shot.pixels,
                    shot.width,
                    shot.height,
                    shot.stride,
                    shot.format,
                )
                .map_err(|e| e.to_string())?;
                let packet = match &shot.damage {
                    Some(hints) => encoder.encode_with_hints(&frame, hints),
                    None => encoder.encode(&frame),
                }
                .map_err(|e| e.to_string())?;
                packets.extend(packet);
                if keep_last_frame {
                    keep = Some(packed_bgra(&frame));
                }
            }
            Source::Corpus(corpus) => {
                if !ended && !corpus.advance()? {
                    // The recording ended: its last frame stays on screen (joiners still get it).
                    ended = true;
                    if let Some(path) = &last_frame_file {
                        std::fs::write(path, &corpus.frame)
                            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    }
                }
                cpu_before = thread_cpu_ns();
                if !ended {
                    let (w, h) = corpus.size();
                    let frame = Frame::new(&corpus.frame, w, h, w as usize * 4, PixelFormat::Bgra8)
                        .map_err(|e| e.to_string())?;
                    packets.extend(encoder.encode(&frame).map_err(|e| e.to_string())?);
                    if keep_last_frame {
                        keep = Some((w, h, corpus.frame.clone()));
                    }
                }
            }
        }
        if std::mem::take(&mut want_checkpoint) {
            // After this frame's update: a joiner gets the freshest screen; viewers in step skip it.
            packets.extend(encoder.checkpoint());
        }
        if let Source::Screen(screen) = &mut source {
            if let Ok(Some(cursor)) = screen.cursor() {
                if let Some(shape) = &cursor.shape {
                    if let Ok(image) = Frame::new(
                        &shape.pixels,
                        shape.width,
                        shape.height,
                        shape.width as usize * 4,
                        PixelFormat::Bgra8,
                    ) {
                        if let Ok(p) =
                            encoder.set_cursor_shape(&image, shape.hotspot_x, shape.hotspot_y)
                        {
                            packets.extend(p);
                        }
                    }
                }
                packets.extend(encoder.move_cursor(cursor.x, cursor.y, cursor.visible));
            }
        }
        let cpu = thread_cpu_ns().saturating_sub(cpu_before);
        ticks += 1;
        if !ended {
            frames += 1;
        }
        {
            let mut s = stats.lock().unwrap();
            s.frames = frames;
            s.encode_cpu_ns += cpu;
            if keep.is_some() {
                s.last_frame = keep;
            }
            for p in &packets {
                s.packets += 1;
                s.bytes += p.len() as u64;
                if p.kind() == PacketKind::Checkpoint {
                    s.checkpoints += 1;
                }
                if let Some(seq) = wire::packet_seq(p.as_bytes()) {
                    s.timings.push((seq, captured_at));
                }
            }
        }
        for p in packets {
            if out.blocking_send(p.into_bytes()).is_err() {
                return Ok(()); // the link is gone
            }
        }
        next_tick += interval;
        let now = Instant::now();
        if next_tick > now {
            std::thread::sleep(next_tick - now);
        } else {
            next_tick = now; // behind: do not try to catch up with a burst
        }
    }
}

fn packed_bgra(frame: &Frame<'_>) -> (u32, u32, Vec<u8>) {
    let mut pixels = Vec::with_capacity(frame.width() as usize * frame.height() as usize * 4);
    for y in 0..frame.height() {
        pixels.extend_from_slice(frame.row(y));
    }
    if frame.format() == PixelFormat::Rgba8 {
        for px in pixels.chunks_exact_mut(4) {
            px.swap(0, 2);
        }
    }
    (frame.width(), frame.height(), pixels)
}

/// What to do when a viewer asks for control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlPolicy {
    /// Grant at once (`--allow-control`).
    AutoGrant,
    /// Ask the person at the host ([`HostEvent::ControlRequested`], answered with [`LinkCommand`]).
    Ask,
    /// Refuse every request (view-only).
    Refuse,
}

/// What the link reports to the program (for printing).
#[derive(Debug, Clone)]
pub enum HostEvent {
    Ready { key: SessionKey },
    ViewerJoined { viewer: ViewerId, watching: usize },
    ViewerLeft { viewer: ViewerId, watching: usize },
    ControlRequested { viewer: ViewerId },
    Control(ControlEvent),
}

/// What the program tells the link.
#[derive(Debug, Clone, Copy)]
pub enum LinkCommand {
    Grant(ViewerId),
    Refuse(ViewerId),
    Revoke,
    Remove(ViewerId),
}

/// How the link ended.
#[derive(Debug, Clone)]
pub enum LinkEnd {
    /// The encoder stopped (limits reached).
    Finished,
    /// The relay closed the connection.
    Closed {
        code: u16,
        reason: String,
    },
    Error(String),
}

/// Connects to `url` (`ws://.../ws/host`) and runs the session until the encoder stops or the relay
/// closes. Packets from `packets` go up, starting at a checkpoint (earlier updates are dropped).
#[allow(clippy::too_many_arguments)]
pub async fn run_link(
    url: &str,
    packets: &mut mpsc::Receiver<Bytes>,
    encoder: &std_mpsc::Sender<HostCommand>,
    commands: &mut mpsc::UnboundedReceiver<LinkCommand>,
    local_input: &mut mpsc::UnboundedReceiver<()>,
    events: &mpsc::UnboundedSender<HostEvent>,
    policy: ControlPolicy,
) -> LinkEnd {
    let config = WebSocketConfig::default()
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    let connect = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
    let (ws, _) = match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return LinkEnd::Error(format!("cannot connect to {url}: {e}")),
        Err(_) => return LinkEnd::Error(format!("cannot connect to {url}: timed out")),
    };
    let (mut sink, mut stream) = ws.split();
    let mut control = Control::new();
    let mut screen = (0u32, 0u32);
    let mut watching = std::collections::BTreeSet::new();
    let mut synced = false;
    let mut commands_open = true;
    let local_open = true;
    let start = Instant::now();
    let _ = encoder.send(HostCommand::Checkpoint);
    let report = |e: ControlEvent| {
        if matches!(e, ControlEvent::Revoked(_)) {
            let _ = encoder.send(HostCommand::ReleaseInput);
        }
        let _ = events.send(HostEvent::Control(e));
    };
    loop {
        let outgoing: Option<Bytes> = tokio::select! {
            p = packets.recv() => {
                let Some(p) = p else {
                    let _ = sink.send(Message::Close(None)).await;
                    return LinkEnd::Finished;
                };
                let kind = glimpse::protocol::peek_kind(&p).ok();
                if kind == Some(PacketKind::Checkpoint) {
                    synced = true;
                    if let Some((w, h, _)) = wire::checkpoint_header(&p) {
                        screen = (w, h);
                    }
                }
                synced.then_some(p)
            }
            m = stream.next() => {
                let bytes = match m {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Close(frame))) => {
                        let (code, reason) = frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((1005, String::new()));
                        return LinkEnd::Closed { code, reason };
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return LinkEnd::Error(e.to_string()),
                    None => return LinkEnd::Closed { code: 1006, reason: "connection lost".into() },
                };
                let message = match SessionMessage::decode(&bytes) {
                    Ok(m) => m,
                    Err(e) => return LinkEnd::Error(format!("bad message from the relay: {e}")),
                };
                match message {
                    SessionMessage::SessionCreated { key } => {
                        let _ = events.send(HostEvent::Ready { key });
                        None
                    }
                    SessionMessage::CheckpointRequest => {
                        let _ = encoder.send(HostCommand::Checkpoint);
                        None
                    }
                    SessionMessage::ViewerJoined { viewer } => {
                        watching.insert(viewer);
                        let _ = events.send(HostEvent::ViewerJoined { viewer, watching: watching.len() });
                        None
                    }
                    SessionMessage::ViewerLeft { viewer } => {
                        watching.remove(&viewer);
                        if let Some(e) = control.viewer_left(viewer) {
                            report(e);
                        }
                        let _ = events.send(HostEvent::ViewerLeft { viewer, watching: watching.len() });
                        None
                    }
                    SessionMessage::ControlRequested { viewer } => {
                        if control.request(viewer).is_none() {
                            continue; // asked already, or holds control
                        }
                        match policy {
                            ControlPolicy::AutoGrant => {
                                for e in control.grant(viewer) {
                                    report(e);
                                }
                                Some(Bytes::from(SessionMessage::GrantControl { viewer }.encode()))
                            }
                            ControlPolicy::Refuse => {
                                report(control.refuse(viewer));
                                Some(Bytes::from(SessionMessage::RefuseControl { viewer }.encode()))
                            }
                            ControlPolicy::Ask => {
                                let _ = events.send(HostEvent::ControlRequested { viewer });
                                None
                            }
                        }
                    }
                    SessionMessage::InputFrom { viewer, event } => {
                        // The host's own check: only the holder, coordinates on the screen.
                        if let Ok(event) = control.accept_input(viewer, &event, screen) {
                            let _ = encoder.send(HostCommand::Inject(event));
                        }
                        None
                    }
                    _ => None,
                }
            }
            c = commands.recv(), if commands_open => {
                let message = match c {
                    None => {
                        commands_open = false; // stdin closed: nobody answers any more
                        None
                    }
                    Some(LinkCommand::Grant(viewer)) => {
                        for e in control.grant(viewer) {
                            report(e);
                        }
                        Some(SessionMessage::GrantControl { viewer })
                    }
                    Some(LinkCommand::Refuse(viewer)) => {
                        report(control.refuse(viewer));
                        Some(SessionMessage::RefuseControl { viewer })
                    }
                    Some(LinkCommand::Revoke) => {
                        if let Some(e) = control.revoke() {
                            report(e);
                        }
                        Some(SessionMessage::RevokeControl)
                    }
                    Some(LinkCommand::Remove(viewer)) => Some(SessionMessage::RemoveViewer { viewer }),
                };
                message.map(|m| Bytes::from(m.encode()))
            }
            Some(()) = local_input.recv(), if local_open => {
                // The person at the host moved or typed: take control back at once.
                let now = start.elapsed().as_millis() as u64;
                match control.local_input(now) {
                    Some(e) => {
                        report(e);
                        Some(Bytes::from(SessionMessage::RevokeControl.encode()))
                    }
                    None => None,
                }
            }
        };
        if let Some(bytes) = outgoing {
            match tokio::time::timeout(Duration::from_secs(30), sink.send(Message::Binary(bytes)))
                .await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return LinkEnd::Error(e.to_string()),
                Err(_) => return LinkEnd::Error("the relay stopped reading".into()),
            }
        }
    }
}

/// `123 456 789` style keys in URLs: digits only.
pub fn key_digits(key: &SessionKey) -> String {
    format!("{:09}", key.value())
}
