//! A host's connection: the hello (a new session, or taking one back), then screen packets and
//! control decisions up, session events down. When the connection drops without the host ending
//! the session, the session waits [`RelayConfig::host_grace`](super::RelayConfig::host_grace) for
//! the host to come back.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::ws::{Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::StreamExt;
use glimpse::session::{FanOut, InputEvent, StreamKind};

use super::conn::{self, Closing, Liveness, PeerEnd, ReadEnd, Sink, Stream};
use super::session::{Session, SessionInner};
use super::{random_bytes, RelayState};
use crate::protocol::{clean_name, close, Message, SessionKey};

/// How a host connection ended.
enum HostEnd {
    /// The host ended the session (`EndSession`, or a normal close).
    Ended,
    /// The connection dropped or broke: the session waits for the host.
    Dropped(Option<Closing>),
}

pub(super) async fn connection(state: Arc<RelayState>, socket: WebSocket, peer: SocketAddr) {
    let conn_id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    let live = Liveness::new();
    let session = match hello(&state, &mut stream, &live, conn_id).await {
        Ok(s) => s,
        Err((code, reason)) => {
            state.metrics.refused.inc();
            tracing::info!(%peer, code, %reason, "host refused");
            conn::close_with(&mut sink, code, &reason).await;
            return;
        }
    };
    session.host_notify.notify_one();
    let end = tokio::select! {
        end = reader(&state, &session, &mut stream, &live) => end,
        closing = writer(&state, &session, conn_id, &mut sink, &live) => HostEnd::Dropped(Some(closing)),
    };
    let now = state.now_ms();
    match end {
        HostEnd::Ended => {
            tracing::info!(session = session.id, "host ended the session");
            session.end_with(close::SESSION_ENDED, "the host ended the session");
            state.remove_session(&session);
            conn::close_with(&mut sink, close::NORMAL, "session ended").await;
        }
        HostEnd::Dropped(closing) => {
            let still_ours = {
                let mut inner = session.inner.lock().unwrap();
                let ours = inner.host_conn == Some(conn_id);
                if ours && inner.ended.is_none() {
                    inner.host_conn = None;
                    inner.host_away_since = Some(now);
                    inner.to_host.clear();
                    inner.broadcast(&Message::HostStatus { connected: false });
                }
                ours
            };
            if still_ours {
                tracing::info!(
                    session = session.id,
                    "host dropped: waiting for it to come back"
                );
            }
            if let Some((code, reason)) = closing {
                conn::close_with(&mut sink, code, &reason).await;
            }
        }
    }
}

/// Reads the hello and attaches this connection to a new or existing session.
async fn hello(
    state: &Arc<RelayState>,
    stream: &mut Stream,
    live: &Liveness,
    conn_id: u64,
) -> Result<Arc<Session>, Closing> {
    let bytes = conn::read_hello(stream, live, state.config.hello_timeout).await?;
    state.metrics.bytes_in.inc_by(bytes.len() as u64);
    let (key, secret, name) = match Message::decode(&bytes) {
        Ok(Message::HostHello { key, secret, name }) => (key, secret, clean_name(&name)),
        Ok(other) => {
            return Err((
                close::POLICY,
                format!("the first message must be HostHello, not {}", other.name()),
            ))
        }
        Err(e) => return Err((close::POLICY, format!("bad hello: {e}"))),
    };
    if state.is_stopping() {
        return Err((close::RESTART, "the relay is restarting".into()));
    }
    let now = state.now_ms();
    if let Some(key) = key {
        let existing = state.keys.lock().unwrap().get(key);
        if let Some(session) = existing {
            if !session.secret_matches(&secret) {
                return Err((close::KEY_IN_USE, "this key belongs to another host".into()));
            }
            attach(&session, conn_id, true);
            state.metrics.host_reconnects.inc();
            tracing::info!(session = session.id, "host came back");
            return Ok(session);
        }
    }
    let session = create(state, key, &secret, name, now)?;
    attach(&session, conn_id, false);
    tracing::info!(
        session = session.id,
        recreated = key.is_some(),
        "session started"
    );
    Ok(session)
}

/// A new session under a fresh random key, or under `wanted` (a host re-creating its session on a
/// relay that restarted), if that key is free.
fn create(
    state: &Arc<RelayState>,
    wanted: Option<SessionKey>,
    secret: &[u8; 32],
    name: String,
    now: u64,
) -> Result<Arc<Session>, Closing> {
    if state.sessions.lock().unwrap().len() >= state.config.max_sessions {
        return Err((close::FULL, "relay full: too many sessions".into()));
    }
    if state.buffered_bytes() >= state.config.max_buffered_bytes {
        return Err((close::FULL, "relay full: memory budget spent".into()));
    }
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    for attempt in 0.. {
        let key = match wanted {
            Some(key) if attempt == 0 => key,
            Some(_) => return Err((close::KEY_IN_USE, "this key is taken".into())),
            None => SessionKey::from_random(u64::from_le_bytes(random_bytes())),
        };
        let inner = SessionInner::new(FanOut::new(state.config.fanout), now, name.clone());
        let session = Session::new(id, key, secret, inner);
        // With 10^9 keys a fresh one is found at once in practice.
        if state.keys.lock().unwrap().insert(key, session.clone(), now) {
            state.sessions.lock().unwrap().insert(id, session.clone());
            return Ok(session);
        }
    }
    unreachable!("the loop returns")
}

/// Makes `conn_id` the session's host connection (an older one, if any, closes with
/// [`close::REPLACED`]) and tells the host it is live.
fn attach(session: &Session, conn_id: u64, resumed: bool) {
    let mut inner = session.inner.lock().unwrap();
    let was_away = inner.host_away_since.take().is_some();
    let replaced = inner.host_conn.replace(conn_id).is_some();
    inner.to_host.clear();
    let ready = Message::SessionReady {
        key: session.key,
        resumed,
        viewers: inner.viewer_entries(),
    };
    inner.push_host(&ready);
    if was_away || replaced {
        inner.broadcast(&Message::HostStatus { connected: true });
    }
    // The host answers with a restart checkpoint; viewers waiting to skip ahead take it.
    inner.resync_requested = false;
    drop(inner);
    session.host_notify.notify_one();
}

async fn reader(
    state: &RelayState,
    session: &Session,
    stream: &mut Stream,
    live: &Liveness,
) -> HostEnd {
    loop {
        let bytes = match conn::next_binary(stream, live).await {
            Ok(b) => b,
            Err(ReadEnd::End(PeerEnd::Closed(close::NORMAL))) => return HostEnd::Ended,
            Err(ReadEnd::End(_)) => return HostEnd::Dropped(None),
            Err(ReadEnd::Error(closing)) => return HostEnd::Dropped(Some(closing)),
        };
        state.metrics.bytes_in.inc_by(bytes.len() as u64);
        match handle(state, session, bytes) {
            Ok(true) => {}
            Ok(false) => return HostEnd::Ended,
            Err(closing) => return HostEnd::Dropped(Some(closing)),
        }
    }
}

/// One message from the host. `Ok(false)` when it ends the session.
fn handle(state: &RelayState, session: &Session, bytes: Bytes) -> Result<bool, Closing> {
    let now = state.now_ms();
    let message =
        Message::decode(&bytes).map_err(|e| (close::POLICY, format!("bad message: {e}")))?;
    let mut guard = session.inner.lock().unwrap();
    let inner = &mut *guard;
    match message {
        Message::Stream(packet) => {
            let (kind, seq) = (packet.kind, packet.seq);
            inner
                .fanout
                .push(bytes.clone(), kind, seq, now)
                .map_err(|e| (close::POLICY, format!("bad stream packet: {e}")))?;
            if kind != StreamKind::Cursor
                && inner.arrivals.back().is_none_or(|(last, _)| *last != seq)
            {
                inner.arrivals.push_back((seq, now));
                if inner.arrivals.len() > 8192 {
                    inner.arrivals.pop_front();
                }
            }
            if let StreamKind::Checkpoint { .. } = kind {
                // Viewers too far behind restart from this checkpoint.
                inner.resync_requested = false;
                for slot in inner.viewers.values_mut().filter(|s| s.resync) {
                    inner.fanout.remove_viewer(slot.fan_id);
                    slot.fan_id = inner.fanout.add_viewer(now);
                    slot.resync = false;
                    slot.resync_floor = seq;
                    slot.skips_counted = 0;
                }
            }
            if inner.drain_events() {
                session.host_notify.notify_one();
            }
            for slot in inner.viewers.values() {
                slot.notify.notify_one();
            }
        }
        Message::GrantControl { viewer } => {
            if inner.viewers.contains_key(&viewer) {
                let events = inner.control.grant(viewer);
                inner.control_events(events);
            } else {
                // The viewer left before the grant arrived: tell the host, so both agree.
                inner.push_host(&Message::ViewerLeft { viewer });
                session.host_notify.notify_one();
            }
        }
        Message::RefuseControl { viewer } => {
            let event = inner.control.refuse(viewer);
            inner.control_events([event]);
        }
        Message::RevokeControl => {
            let event = inner.control.revoke();
            inner.control_events(event);
        }
        Message::RemoveViewer { viewer } => {
            if let Some(slot) = inner.viewers.get_mut(&viewer) {
                slot.kick = Some((close::REMOVED, "removed by the host".into()));
                slot.notify.notify_one();
            }
        }
        Message::EndSession => return Ok(false),
        other => {
            return Err((
                close::POLICY,
                format!("a host may not send {}", other.name()),
            ))
        }
    }
    Ok(true)
}

async fn writer(
    state: &RelayState,
    session: &Session,
    conn_id: u64,
    sink: &mut Sink,
    live: &Liveness,
) -> Closing {
    let interval = state.config.ping_interval;
    let mut ping = tokio::time::interval(interval);
    ping.tick().await;
    let mut batch: VecDeque<Bytes> = VecDeque::new();
    loop {
        let notified = session.host_notify.notified();
        {
            let mut inner = session.inner.lock().unwrap();
            if let Some(reason) = &inner.ended {
                return reason.clone();
            }
            if inner.host_conn != Some(conn_id) {
                return (
                    close::REPLACED,
                    "a newer connection took the session".into(),
                );
            }
            if inner.to_host.len() > state.config.max_host_queue {
                return (close::STALLED, "host does not read its messages".into());
            }
            batch.extend(inner.to_host.drain(..));
        }
        if batch.is_empty() {
            tokio::select! {
                _ = notified => {}
                _ = ping.tick() => {
                    if let Err(closing) = conn::ping(sink, live, interval).await {
                        return closing;
                    }
                }
            }
            continue;
        }
        while let Some(bytes) = batch.pop_front() {
            state.metrics.bytes_out.inc_by(bytes.len() as u64);
            if let Err(closing) =
                conn::send(sink, WsMessage::Binary(bytes), state.config.send_timeout).await
            {
                return closing;
            }
        }
    }
}

/// The relay's check of viewer input before it reaches the host: only the control holder, and
/// pointer positions that can be on a screen (the host checks against its real screen size).
pub(super) fn plausible_input(event: &InputEvent) -> bool {
    match *event {
        InputEvent::PointerMove { x, y } => {
            let max = glimpse::MAX_DIMENSION as i32;
            (0..max).contains(&x) && (0..max).contains(&y)
        }
        _ => true,
    }
}
