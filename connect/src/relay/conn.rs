//! What host and viewer connections share: reading binary messages, sending with a deadline,
//! closing with a code, the hello deadline and the liveness check.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};

use crate::protocol::close;

pub(super) type Sink = SplitSink<WebSocket, WsMessage>;
pub(super) type Stream = SplitStream<WebSocket>;

/// Why a connection ends: a close code and reason for the peer.
pub(super) type Closing = (u16, String);

/// How reading from a peer ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PeerEnd {
    /// A close frame with this code (1005 when it had none).
    Closed(u16),
    /// The connection dropped without a close frame.
    Dropped,
}

fn ws_error(e: axum::Error) -> Closing {
    let text = e.to_string();
    if text.contains("too long") || text.contains("Space limit") || text.contains("size") {
        (close::TOO_BIG, format!("message too big: {text}"))
    } else {
        (close::POLICY, format!("connection error: {text}"))
    }
}

/// The time of the last message from the peer, for the liveness check.
pub(super) struct Liveness {
    start: Instant,
    last_ms: AtomicU64,
}

impl Liveness {
    pub fn new() -> Self {
        Liveness {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    pub fn heard(&self) {
        self.last_ms
            .store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Time since the peer last sent anything (pongs included).
    pub fn silent_for(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// The next binary message of a peer. Pings and pongs are skipped (but count as signs of life),
/// text is refused.
pub(super) async fn next_binary(stream: &mut Stream, live: &Liveness) -> Result<Bytes, ReadEnd> {
    while let Some(message) = stream.next().await {
        live.heard();
        match message {
            Err(e) => return Err(ReadEnd::Error(ws_error(e))),
            Ok(WsMessage::Binary(b)) => return Ok(b),
            Ok(WsMessage::Close(frame)) => {
                return Err(ReadEnd::End(PeerEnd::Closed(
                    frame.map_or(1005, |f| f.code),
                )))
            }
            Ok(WsMessage::Ping(_) | WsMessage::Pong(_)) => {}
            Ok(WsMessage::Text(_)) => {
                return Err(ReadEnd::Error((
                    close::POLICY,
                    "text messages are not accepted".into(),
                )))
            }
        }
    }
    Err(ReadEnd::End(PeerEnd::Dropped))
}

/// Why [`next_binary`] returned no message.
#[derive(Debug)]
pub(super) enum ReadEnd {
    /// The peer closed or dropped.
    End(PeerEnd),
    /// The peer broke the protocol: close it with this.
    Error(Closing),
}

/// The hello: the first binary message, within `limit`.
pub(super) async fn read_hello(
    stream: &mut Stream,
    live: &Liveness,
    limit: Duration,
) -> Result<Bytes, Closing> {
    match tokio::time::timeout(limit, next_binary(stream, live)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(ReadEnd::Error(closing))) => Err(closing),
        Ok(Err(ReadEnd::End(_))) => Err((close::NORMAL, "closed before the hello".into())),
        Err(_) => Err((close::STALLED, "no hello in time".into())),
    }
}

/// Sends one message; a send that blocks longer than `limit` means the peer stalled.
pub(super) async fn send(
    sink: &mut Sink,
    message: WsMessage,
    limit: Duration,
) -> Result<(), Closing> {
    match tokio::time::timeout(limit, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ws_error(e)),
        Err(_) => Err((close::STALLED, "connection stalled".into())),
    }
}

/// Closes the connection with a code: sends the close frame, then reads (and drops) whatever the
/// peer still sends until its own close frame answers, 1 s at most. Dropping a socket with unread
/// bytes in it resets the connection, and a reset throws away what is still queued to the peer,
/// the close frame included: the peer would see a drop (1006) instead of the reason, and a removed
/// viewer would take it for a network cut and come back.
pub(super) async fn close_with(sink: &mut Sink, stream: &mut Stream, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let handshake = async {
        if sink.send(WsMessage::Close(Some(frame))).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, WsMessage::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), handshake).await;
}

/// One ping, unless the peer was silent for three intervals (a dead link TCP has not noticed yet).
pub(super) async fn ping(
    sink: &mut Sink,
    live: &Liveness,
    interval: Duration,
) -> Result<(), Closing> {
    if live.silent_for() > interval * 3 {
        return Err((close::STALLED, "no answer to pings".into()));
    }
    send(sink, WsMessage::Ping(Bytes::new()), interval).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ws::WebSocketUpgrade;
    use tokio::net::TcpSocket;
    use tokio_tungstenite::tungstenite::Message as ClientMessage;

    /// A peer that is behind (its receive buffer full, 256 KiB still queued for it) and that sent
    /// something the server never read still gets the close frame with its code once it catches
    /// up: closing a socket with unread bytes would reset it and drop the queue, the close frame
    /// with it (the peer would see 1006 and take it for a network cut).
    #[tokio::test]
    async fn a_peer_that_is_behind_still_gets_the_close_frame() {
        let server = TcpSocket::new_v4().unwrap();
        // Room for the whole backlog on the server's side, so nothing blocks before the close.
        server.set_send_buffer_size(4 << 20).unwrap();
        server.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = server.listen(16).unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|socket| async move {
                    let (mut sink, mut stream) = socket.split();
                    // The peer's message arrives and stays unread.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    for _ in 0..64 {
                        let chunk = WsMessage::Binary(Bytes::from(vec![7u8; 4096]));
                        sink.send(chunk).await.unwrap();
                    }
                    close_with(&mut sink, &mut stream, close::REMOVED, "removed").await;
                })
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });

        let client = TcpSocket::new_v4().unwrap();
        client.set_recv_buffer_size(4096).unwrap();
        let tcp = client.connect(addr).await.unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp)
            .await
            .unwrap();
        ws.send(ClientMessage::Binary(vec![1u8; 64].into()))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let mut received = 0;
        let code = loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                Ok(Some(Ok(ClientMessage::Binary(b)))) => received += b.len(),
                Ok(Some(Ok(ClientMessage::Close(frame)))) => {
                    break frame.map_or(1005, |f| u16::from(f.code))
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => break 1006,
                Err(_) => break 0,
            }
        };
        assert_eq!(
            (code, received),
            (close::REMOVED, 64 * 4096),
            "the close frame and everything before it arrive"
        );
    }
}
