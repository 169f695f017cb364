//! Test harness: relays in-process, a host playing a recording, raw WebSocket clients for hostile
//! input, a TCP proxy that can stall, and the programs as child processes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::bench::{percentile, runtime};
pub use crate::program::Program;
pub use crate::recording::{bgra_frame, exact_host, recording, screen, wait_exact, HEIGHT, WIDTH};
use futures_util::{SinkExt, StreamExt};
use glimpse_connect::protocol::Message;
use glimpse_connect::relay::{Relay, RelayConfig};
use glimpse_connect::{ControlPolicy, Host, JoinCode, Lookup, Screen, Viewer, ViewerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// A relay config for tests: a free port on 127.0.0.1, short timeouts.
pub fn relay_config() -> RelayConfig {
    let mut config = RelayConfig::default();
    config.listen.set_port(0);
    config.max_lag_ms = 600;
    config.hello_timeout = Duration::from_secs(2);
    config
}

pub fn start_relay(rt: &tokio::runtime::Runtime, config: RelayConfig) -> Relay {
    rt.block_on(Relay::start(config)).expect("relay starts")
}

/// A host playing frames at `fps` through the Rust API, on a thread of its own.
pub struct PlayingHost {
    pub host: Arc<Host>,
    pub last: Screen,
    done: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PlayingHost {
    pub fn start(relay_url: &str, frames: Vec<Vec<u8>>, fps: f64, policy: ControlPolicy) -> Self {
        let host = Arc::new(exact_host(relay_url, policy, "test host"));
        let last = screen(frames.last().expect("frames").clone());
        let (done, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (h, d, s) = (host.clone(), done.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let interval = Duration::from_secs_f64(1.0 / fps);
            for pixels in &frames {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                h.push_frame(&bgra_frame(pixels), None).expect("push");
                std::thread::sleep(interval);
            }
            d.store(true, Ordering::Relaxed);
        });
        PlayingHost {
            host,
            last,
            done,
            stop,
            thread: Some(thread),
        }
    }

    pub fn wait_done(&self, limit: Duration) {
        let until = Instant::now() + limit;
        while !self.done.load(Ordering::Relaxed) {
            assert!(Instant::now() < until, "the host did not finish playing");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PlayingHost {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What most tests here start from: a relay on a free port and a host playing frames through it.
/// Fields drop in order: the host, the relay, the runtime.
pub struct Stage {
    pub host: PlayingHost,
    pub relay: Relay,
    pub url: String,
    pub rt: tokio::runtime::Runtime,
}

impl Stage {
    /// A relay as [`relay_config`] makes it, and a host playing the first `frames` frames of
    /// recording `name` at `fps` through it with `policy`.
    pub fn start(name: &str, frames: usize, fps: f64, policy: ControlPolicy) -> Stage {
        Stage::with(relay_config(), recording(name, frames), fps, policy)
    }

    /// A relay with `config`, and a host playing `frames` at `fps` through it with `policy`.
    pub fn with(
        config: RelayConfig,
        frames: Vec<Vec<u8>>,
        fps: f64,
        policy: ControlPolicy,
    ) -> Stage {
        let rt = runtime();
        let relay = start_relay(&rt, config);
        let url = relay.ws_url();
        let host = PlayingHost::start(&url, frames, fps, policy);
        Stage {
            host,
            relay,
            url,
            rt,
        }
    }

    /// The host's code.
    pub fn code(&self) -> JoinCode {
        self.host.host.code()
    }

    /// A viewer joined straight to the relay with the host's code.
    pub fn join(&self) -> Viewer {
        Viewer::join(ViewerConfig::new(&self.url, self.code())).expect("a viewer joins")
    }

    /// Drops the host, then shuts the relay down.
    pub fn end(self) {
        let Stage {
            host, relay, rt, ..
        } = self;
        drop(host);
        rt.block_on(relay.shutdown());
    }
}

/// A host's hello: a new session (`lookup` None) or one taken back, with `secret`.
pub fn host_hello(lookup: Option<Lookup>, secret: u8) -> Vec<u8> {
    Message::HostHello {
        lookup,
        secret: [secret; 32],
    }
    .encode()
}

/// A raw WebSocket client, to send what well-behaved clients never would.
pub struct RawClient {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr, path: &str) -> RawClient {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
            .await
            .expect("ws connect");
        RawClient { ws }
    }

    /// A WebSocket over an already connected stream (e.g. from a chosen local address).
    pub async fn over(stream: TcpStream, addr: SocketAddr, path: &str) -> RawClient {
        let (ws, _) = tokio_tungstenite::client_async(
            format!("ws://{addr}{path}"),
            tokio_tungstenite::MaybeTlsStream::Plain(stream),
        )
        .await
        .expect("ws handshake");
        RawClient { ws }
    }

    pub async fn send(&mut self, bytes: Vec<u8>) {
        let _ = self.ws.send(WsMessage::Binary(bytes.into())).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        let _ = self.ws.send(WsMessage::Text(text.into())).await;
    }

    /// The next binary message, or the close code (1006 when dropped), within 5 s.
    pub async fn next(&mut self) -> Result<Vec<u8>, u16> {
        loop {
            match tokio::time::timeout(Duration::from_secs(5), self.ws.next()).await {
                Err(_) => return Err(0),
                Ok(Some(Ok(WsMessage::Binary(b)))) => return Ok(b.to_vec()),
                Ok(Some(Ok(WsMessage::Close(frame)))) => {
                    return Err(frame.map_or(1005, |f| u16::from(f.code)))
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) | Ok(None) => return Err(1006),
            }
        }
    }

    /// Reads until the connection closes; its close code.
    pub async fn close_code(&mut self) -> u16 {
        loop {
            match self.next().await {
                Ok(_) => continue,
                Err(code) => return code,
            }
        }
    }
}

/// A TCP proxy in front of the relay whose forwarding can be stalled (a network that stops
/// delivering without closing anything), for both existing and new connections.
pub struct StallProxy {
    pub addr: SocketAddr,
    stalled: Arc<tokio::sync::watch::Sender<bool>>,
}

impl StallProxy {
    pub async fn start(target: SocketAddr) -> StallProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().unwrap();
        let stalled = Arc::new(tokio::sync::watch::channel(false).0);
        let s = stalled.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pipe(cr, sw, s.subscribe()), pipe(sr, cw, s.subscribe()));
                });
            }
        });
        StallProxy { addr, stalled }
    }

    pub fn stall(&self, on: bool) {
        let _ = self.stalled.send(on);
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 << 10];
    loop {
        while *stalled.borrow() {
            if stalled.changed().await.is_err() {
                return;
            }
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Data read just before a stall is held until the stall ends, like a dead link.
        while *stalled.borrow() {
            if stalled.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// What a [`WsTap`] does to the relay's binary messages on their way to the viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tamper {
    /// Forward as they are (and record them).
    Nothing,
    /// Flip one bit in the sealed payload of the next screen packet.
    FlipNextPacket,
    /// Send the next screen packet twice.
    ReplayNextPacket,
}

/// A man in the middle between a viewer and the relay, speaking WebSocket frames: it records every
/// binary message the relay forwards, can tamper with screen packets, and can inject messages
/// toward the relay as if the viewer sent them. A stand-in for a hostile relay.
pub struct WsTap {
    pub addr: SocketAddr,
    pub recorded: Arc<Mutex<Vec<Vec<u8>>>>,
    tamper: Arc<Mutex<Tamper>>,
    inject: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
}

impl WsTap {
    pub async fn start(target: SocketAddr) -> WsTap {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("tap binds");
        let addr = listener.local_addr().unwrap();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let tamper = Arc::new(Mutex::new(Tamper::Nothing));
        let (inject, injections) = tokio::sync::mpsc::unbounded_channel();
        let (r, t) = (recorded.clone(), tamper.clone());
        tokio::spawn(async move {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let Ok(server) = TcpStream::connect(target).await else {
                return;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::join!(
                frames_to_relay(cr, sw, injections),
                frames_to_viewer(sr, cw, r, t)
            );
        });
        WsTap {
            addr,
            recorded,
            tamper,
            inject,
        }
    }

    pub fn tamper(&self, how: Tamper) {
        *self.tamper.lock().unwrap() = how;
    }

    /// Sends `message` to the relay as if the viewer had.
    pub fn inject(&self, message: Vec<u8>) {
        let _ = self.inject.send(message);
    }
}

/// Copies the HTTP upgrade (request or response) through, up to its blank line.
async fn copy_http_head(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if from.read_exact(&mut byte).await.is_err() || head.len() > 16 << 10 {
            return false;
        }
        head.push(byte[0]);
    }
    to.write_all(&head).await.is_ok()
}

/// One WebSocket frame: (first byte, payload unmasked).
async fn read_frame(from: &mut tokio::net::tcp::OwnedReadHalf) -> Option<(u8, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut h = [0u8; 2];
    from.read_exact(&mut h).await.ok()?;
    let masked = h[1] & 0x80 != 0;
    let len = match h[1] & 0x7f {
        126 => u64::from(from.read_u16().await.ok()?),
        127 => from.read_u64().await.ok()?,
        n => u64::from(n),
    };
    let mut mask = [0u8; 4];
    if masked {
        from.read_exact(&mut mask).await.ok()?;
    }
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    from.read_exact(&mut payload).await.ok()?;
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Some((h[0], payload))
}

/// Encodes a frame; client frames must be masked (a zero mask leaves the bytes as they are).
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![first];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&[0; 4]);
    }
    out.extend_from_slice(payload);
    out
}

async fn frames_to_relay(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut injections: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
) {
    use tokio::io::AsyncWriteExt;
    if !copy_http_head(&mut from, &mut to).await {
        return;
    }
    loop {
        let bytes = tokio::select! {
            f = read_frame(&mut from) => match f {
                Some((first, payload)) => frame(first, &payload, true),
                None => return,
            },
            Some(message) = injections.recv() => frame(0x82, &message, true),
        };
        if to.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

async fn frames_to_viewer(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    recorded: Arc<Mutex<Vec<Vec<u8>>>>,
    tamper: Arc<Mutex<Tamper>>,
) {
    use tokio::io::AsyncWriteExt;
    if !copy_http_head(&mut from, &mut to).await {
        return;
    }
    while let Some((first, mut payload)) = read_frame(&mut from).await {
        let mut copies = 1;
        if first & 0x0f == 2 {
            recorded.lock().unwrap().push(payload.clone());
            let is_packet = matches!(
                glimpse_connect::protocol::Message::decode(&payload),
                Ok(glimpse_connect::protocol::Message::Stream(_))
            );
            if is_packet {
                let how = std::mem::replace(&mut *tamper.lock().unwrap(), Tamper::Nothing);
                match how {
                    Tamper::FlipNextPacket => {
                        let last = payload.len() - 20; // inside the ciphertext, before the tag
                        payload[last] ^= 0x04;
                    }
                    Tamper::ReplayNextPacket => copies = 2,
                    Tamper::Nothing => {}
                }
            }
        }
        for _ in 0..copies {
            if to.write_all(&frame(first, &payload, false)).await.is_err() {
                return;
            }
        }
    }
}

/// Shannon entropy of `bytes`, in bits per byte.
pub fn entropy(bytes: &[u8]) -> f64 {
    let mut counts = [0u64; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len().max(1) as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}
