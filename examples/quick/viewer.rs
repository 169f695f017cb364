//! A Rust WebSocket viewer for tests and the load test: joins with a key or a resume token, decodes
//! with [`glimpse::Decoder`] (or only reads headers, for cheap load clients), acknowledges what it
//! applied, can read slowly on purpose, ask for control and send input.
#![allow(dead_code)] // shared by several programs; each uses a part

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use glimpse::session::{InputEvent, SessionMessage, ViewerId};
use glimpse::{Decoder, DecoderConfig, PacketKind};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::wire;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How to join.
#[derive(Debug, Clone)]
pub enum Join {
    Key(String),
    Resume([u8; 16]),
}

/// Client behaviour.
#[derive(Debug, Clone, Copy)]
pub struct ViewerOptions {
    /// Decode every packet (else only headers are read: a cheap load client).
    pub decode: bool,
    /// Sleep this long after each message (a slow connection).
    pub read_delay: Duration,
}

impl Default for ViewerOptions {
    fn default() -> Self {
        ViewerOptions {
            decode: true,
            read_delay: Duration::ZERO,
        }
    }
}

/// A connected (or dropped) viewer and what it saw.
pub struct ViewerClient {
    base: String,
    options: ViewerOptions,
    ws: Option<Ws>,
    pub decoder: Decoder,
    pub id: ViewerId,
    pub token: [u8; 16],
    pub joined_at: Instant,
    /// Time from connecting to the first applied checkpoint.
    pub first_screen: Option<Duration>,
    pub packets: u64,
    pub bytes: u64,
    pub checkpoints: u64,
    pub last_seq: Option<u64>,
    /// `(seq, receive time in ms since the Unix epoch)` of every update and checkpoint.
    pub received: Vec<(u64, f64)>,
    pub viewer_count: u32,
    pub granted: bool,
    pub refused: bool,
    pub revoked: bool,
    pub decode_errors: u64,
    /// Close code and reason the relay sent, if it closed.
    pub closed: Option<(u16, String)>,
}

fn token_hex(token: &[u8; 16]) -> String {
    token.iter().map(|b| format!("{b:02x}")).collect()
}

async fn connect(base: &str, join: &Join) -> Result<Ws, String> {
    let url = match join {
        Join::Key(key) => format!("{base}/ws/view?key={}", key.replace(' ', "")),
        Join::Resume(token) => format!("{base}/ws/view?resume={}", token_hex(token)),
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(256 << 20))
        .max_frame_size(Some(256 << 20));
    let connect = tokio_tungstenite::connect_async_with_config(&url, Some(config), true);
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(format!("cannot connect to {url}: {e}")),
        Err(_) => Err(format!("cannot connect to {url}: timed out")),
    }
}

impl ViewerClient {
    /// Connects to the relay at `base` (`ws://127.0.0.1:PORT`) and waits for the welcome.
    pub async fn join(base: &str, join: Join, options: ViewerOptions) -> Result<Self, String> {
        let joined_at = Instant::now();
        let ws = connect(base, &join).await?;
        let mut client = ViewerClient {
            base: base.to_string(),
            options,
            ws: Some(ws),
            decoder: Decoder::new(DecoderConfig::default()),
            id: 0,
            token: [0; 16],
            joined_at,
            first_screen: None,
            packets: 0,
            bytes: 0,
            checkpoints: 0,
            last_seq: None,
            received: Vec::new(),
            viewer_count: 0,
            granted: false,
            refused: false,
            revoked: false,
            decode_errors: 0,
            closed: None,
        };
        client.await_welcome().await?;
        Ok(client)
    }

    async fn await_welcome(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.id == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.step(left).await? {
                return Err(match &self.closed {
                    Some((code, reason)) => format!("closed before the welcome: {code} {reason}"),
                    None => "no welcome from the relay".into(),
                });
            }
        }
        Ok(())
    }

    /// Reads until `duration` passed or the connection ends. `Ok(false)` when it ended.
    pub async fn run_for(&mut self, duration: Duration) -> Result<bool, String> {
        let deadline = Instant::now() + duration;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(true);
            }
            if !self.step(left).await? {
                return Ok(false);
            }
        }
    }

    /// Reads until the viewer applied `seq` (or later), or `timeout` passed.
    pub async fn run_until_seq(&mut self, seq: u64, timeout: Duration) -> Result<bool, String> {
        let deadline = Instant::now() + timeout;
        while self.last_seq.is_none_or(|s| s < seq) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.step(left).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Handles at most one message, waiting at most `timeout`. `Ok(false)` when the connection ended.
    pub async fn step(&mut self, timeout: Duration) -> Result<bool, String> {
        let Some(ws) = self.ws.as_mut() else {
            return Ok(false);
        };
        let message = match tokio::time::timeout(timeout, ws.next()).await {
            Err(_) => return Ok(true),
            Ok(None) => {
                self.ws = None;
                return Ok(false);
            }
            Ok(Some(Err(e))) => {
                self.ws = None;
                self.closed = Some((1006, e.to_string()));
                return Ok(false);
            }
            Ok(Some(Ok(m))) => m,
        };
        let bytes: Bytes = match message {
            Message::Binary(b) => b,
            Message::Close(frame) => {
                self.closed = Some(
                    frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new())),
                );
                self.ws = None;
                return Ok(false);
            }
            _ => return Ok(true),
        };
        if !self.options.read_delay.is_zero() {
            tokio::time::sleep(self.options.read_delay).await;
        }
        if glimpse::session::is_session_message(&bytes) {
            match SessionMessage::decode(&bytes).map_err(|e| format!("bad message: {e}"))? {
                SessionMessage::Welcome {
                    viewer,
                    resume_token,
                } => {
                    self.id = viewer;
                    self.token = resume_token;
                }
                SessionMessage::ViewerCount(n) => self.viewer_count = n,
                SessionMessage::ControlGranted => self.granted = true,
                SessionMessage::ControlRefused => self.refused = true,
                SessionMessage::ControlRevoked => {
                    self.granted = false;
                    self.revoked = true;
                }
                _ => {}
            }
            return Ok(true);
        }
        self.packets += 1;
        self.bytes += bytes.len() as u64;
        let kind = glimpse::protocol::peek_kind(&bytes).map_err(|e| e.to_string())?;
        let seq = if self.options.decode {
            match self.decoder.apply(&bytes) {
                Ok(_) => self.decoder.seq(),
                Err(_) => {
                    self.decode_errors += 1;
                    None
                }
            }
        } else {
            wire::packet_seq(&bytes)
        };
        if kind == PacketKind::Checkpoint {
            self.checkpoints += 1;
            if self.first_screen.is_none() && seq.is_some() {
                self.first_screen = Some(self.joined_at.elapsed());
            }
        }
        if matches!(kind, PacketKind::Checkpoint | PacketKind::FrameUpdate) {
            if let Some(seq) = seq {
                self.last_seq = Some(seq);
                self.received.push((seq, wire::epoch_ms()));
                self.send(&SessionMessage::Ack { seq }).await?;
            }
        }
        Ok(true)
    }

    pub async fn send(&mut self, message: &SessionMessage) -> Result<(), String> {
        self.send_raw(message.encode()).await
    }

    /// Sends arbitrary bytes (for tests of malformed messages).
    pub async fn send_raw(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        let Some(ws) = self.ws.as_mut() else {
            return Err("not connected".into());
        };
        match tokio::time::timeout(
            Duration::from_secs(10),
            ws.send(Message::Binary(bytes.into())),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("send timed out".into()),
        }
    }

    pub async fn request_control(&mut self) -> Result<(), String> {
        self.send(&SessionMessage::ControlRequest).await
    }

    pub async fn input(&mut self, event: InputEvent) -> Result<(), String> {
        self.send(&SessionMessage::Input(event)).await
    }

    /// Drops the TCP connection without a close handshake (a network cut).
    pub fn cut(&mut self) {
        self.ws = None;
    }

    /// Closes politely.
    pub async fn close(&mut self) {
        if let Some(mut ws) = self.ws.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
        }
    }

    /// Reconnects with the resume token (no key), keeping the decoder.
    pub async fn resume(&mut self) -> Result<(), String> {
        self.ws = Some(connect(&self.base, &Join::Resume(self.token)).await?);
        self.id = 0;
        self.closed = None;
        self.await_welcome().await
    }

    pub fn connected(&self) -> bool {
        self.ws.is_some()
    }

    /// The decoded screen, BGRA rows packed.
    pub fn screen(&self) -> Option<(u32, u32, Vec<u8>)> {
        let fb = self.decoder.framebuffer()?;
        let row = fb.width as usize * 4;
        let mut pixels = Vec::with_capacity(row * fb.height as usize);
        for y in 0..fb.height as usize {
            pixels.extend_from_slice(&fb.pixels[y * fb.stride..y * fb.stride + row]);
        }
        Some((fb.width, fb.height, pixels))
    }
}
