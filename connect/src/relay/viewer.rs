//! A viewer's connection: the hello (key or resume token), then the screen stream paced by its acks,
//! session messages, and its control requests and input toward the host.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::StreamExt;
use glimpse::session::ViewerId;
use tokio::sync::Notify;

use super::conn::{self, Closing, Liveness, ReadEnd, Sink, Stream};
use super::host::plausible_input;
use super::keys::KeyRejection;
use super::session::{Session, ViewerSlot};
use super::{random_bytes, RelayState};
use crate::protocol::{clean_name, close, Join, Message, ViewerEntry};

pub(super) async fn connection(state: Arc<RelayState>, socket: WebSocket, peer: SocketAddr) {
    let (mut sink, mut stream) = socket.split();
    let live = Liveness::new();
    let joined = match hello(&state, &mut stream, &live, peer).await {
        Ok(j) => j,
        Err((code, reason)) => {
            state.metrics.refused.inc();
            tracing::debug!(%peer, code, %reason, "viewer refused");
            conn::close_with(&mut sink, code, &reason).await;
            return;
        }
    };
    let (session, viewer, notify) = joined;
    state.metrics.joins.inc();
    tracing::info!(session = session.id, viewer, "viewer joined");
    session.host_notify.notify_one();
    let outcome = tokio::select! {
        r = reader(&state, &session, viewer, &notify, &mut stream, &live) => r,
        r = writer(&state, &session, viewer, &notify, &mut sink, &live) => r,
    };
    leave(&state, &session, viewer);
    tracing::info!(session = session.id, viewer, "viewer left");
    if let Err((code, reason)) = outcome {
        conn::close_with(&mut sink, code, &reason).await;
    }
}

type Joined = (Arc<Session>, ViewerId, Arc<Notify>);

/// Reads the hello, finds the session and adds the viewer to it.
async fn hello(
    state: &Arc<RelayState>,
    stream: &mut Stream,
    live: &Liveness,
    peer: SocketAddr,
) -> Result<Joined, Closing> {
    let hello_at = Instant::now();
    let bytes = conn::read_hello(stream, live, state.config.hello_timeout).await?;
    state.metrics.bytes_in.inc_by(bytes.len() as u64);
    let (join, name) = match Message::decode(&bytes) {
        Ok(Message::ViewerHello { join, name }) => (join, clean_name(&name)),
        Ok(other) => {
            return Err((
                close::POLICY,
                format!(
                    "the first message must be ViewerHello, not {}",
                    other.name()
                ),
            ))
        }
        Err(e) => return Err((close::POLICY, format!("bad hello: {e}"))),
    };
    if state.is_stopping() {
        return Err((close::RESTART, "the relay is restarting".into()));
    }
    let now = state.now_ms();
    let session = match join {
        Join::Resume(token) => state
            .keys
            .lock()
            .unwrap()
            .resume(&token, now)
            .map(|(session, _)| session)
            .ok_or((
                close::UNKNOWN_KEY,
                "unknown or expired resume token".to_string(),
            ))?,
        Join::Key(key) => {
            let client = peer.ip().to_string();
            let found = state.keys.lock().unwrap().lookup(key, &client, now);
            found.map_err(|rejection| match rejection {
                KeyRejection::Unknown => (close::UNKNOWN_KEY, "no session has this key".into()),
                KeyRejection::Expired => (close::EXPIRED, "this key expired".into()),
                KeyRejection::RateLimited { retry_after_ms } => (
                    close::RATE_LIMITED,
                    format!(
                        "too many wrong keys: retry in {} s",
                        retry_after_ms.div_ceil(1000)
                    ),
                ),
            })?
        }
    };
    if state.buffered_bytes() >= state.config.max_buffered_bytes {
        return Err((close::FULL, "relay full: memory budget spent".into()));
    }
    let entry = ViewerEntry {
        viewer: 0,
        address: peer.to_string(),
        name,
    };
    let (viewer, notify) = add_viewer(state, &session, entry, hello_at)?;
    state.keys.lock().unwrap().touch(session.key, now);
    Ok((session, viewer, notify))
}

fn add_viewer(
    state: &RelayState,
    session: &Session,
    mut entry: ViewerEntry,
    hello_at: Instant,
) -> Result<(ViewerId, Arc<Notify>), Closing> {
    let now = state.now_ms();
    let mut inner = session.inner.lock().unwrap();
    if inner.ended.is_some() {
        return Err((close::SESSION_ENDED, "the session ended".into()));
    }
    if inner.viewers.len() >= state.config.max_viewers_per_session {
        return Err((close::FULL, "too many viewers in this session".into()));
    }
    let viewer = inner.fanout.add_viewer(now);
    entry.viewer = viewer;
    let token = random_bytes::<16>();
    let notify = Arc::new(Notify::new());
    let mut outbox = VecDeque::new();
    let welcome = Message::Welcome {
        viewer,
        resume_token: token,
        host_name: inner.host_name.clone(),
    };
    outbox.push_back(Bytes::from(welcome.encode()));
    if !inner.host_connected() {
        outbox.push_back(Bytes::from(
            Message::HostStatus { connected: false }.encode(),
        ));
    }
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
            entry: entry.clone(),
            joining_since: Some(hello_at),
            skips_counted: 0,
        },
    );
    inner.counts_changed();
    inner.push_host(&Message::ViewerJoined(entry));
    inner.drain_events();
    Ok((viewer, notify))
}

/// Frees the viewer's slot, tells the host, and lets the viewer come back with its token (unless
/// it was removed or the session ended).
fn leave(state: &RelayState, session: &Arc<Session>, viewer: ViewerId) {
    let now = state.now_ms();
    let resume = {
        let mut inner = session.inner.lock().unwrap();
        let slot = inner.viewers.remove(&viewer);
        if let Some(slot) = &slot {
            inner.fanout.remove_viewer(slot.fan_id);
        }
        inner.drain_events();
        if let Some(event) = inner.control.viewer_left(viewer) {
            inner.control_events([event]);
        }
        inner.push_host(&Message::ViewerLeft { viewer });
        inner.counts_changed();
        if inner.viewers.is_empty() {
            inner.idle_since = now;
        }
        slot.filter(|s| s.kick.is_none() && inner.ended.is_none())
            .map(|s| s.token)
    };
    session.host_notify.notify_one();
    if let Some(token) = resume {
        state
            .keys
            .lock()
            .unwrap()
            .issue_resume(session.clone(), viewer, token, now);
    }
}

async fn reader(
    state: &RelayState,
    session: &Session,
    viewer: ViewerId,
    notify: &Notify,
    stream: &mut Stream,
    live: &Liveness,
) -> Result<(), Closing> {
    loop {
        let bytes = match conn::next_binary(stream, live).await {
            Ok(b) => b,
            Err(ReadEnd::End(_)) => return Ok(()),
            Err(ReadEnd::Error(closing)) => return Err(closing),
        };
        state.metrics.bytes_in.inc_by(bytes.len() as u64);
        let message =
            Message::decode(&bytes).map_err(|e| (close::POLICY, format!("bad message: {e}")))?;
        let now = state.now_ms();
        let mut guard = session.inner.lock().unwrap();
        let inner = &mut *guard;
        match message {
            Message::Ack { seq } => {
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
            Message::ControlRequest => {
                if inner.control.request(viewer).is_none() {
                    continue; // asked already (or holds control): the host hears it once
                }
                if inner.to_host.len() >= state.config.max_host_queue || !inner.host_connected() {
                    inner.control.forget_request(viewer);
                    continue; // the host is flooded or away; the viewer may ask again
                }
                inner.push_host(&Message::ControlRequested { viewer });
                session.host_notify.notify_one();
            }
            Message::Input(event) => {
                // Only the holder of a grant gets through; others' events are dropped (a grant may
                // have been revoked while their events were in flight).
                if inner.control.holder() == Some(viewer)
                    && plausible_input(&event)
                    && inner.to_host.len() < state.config.max_host_queue
                {
                    inner.push_host(&Message::InputFrom { viewer, event });
                    session.host_notify.notify_one();
                }
            }
            other => {
                return Err((
                    close::POLICY,
                    format!("a viewer may not send {}", other.name()),
                ))
            }
        }
    }
}

/// What the writer takes from the session at once: queued messages and stream packets.
fn next_batch(
    state: &RelayState,
    session: &Session,
    viewer: ViewerId,
    batch: &mut Vec<Bytes>,
) -> Result<bool, Closing> {
    let now = state.now_ms();
    let mut inner = session.inner.lock().unwrap();
    if let Some(reason) = &inner.ended {
        return Err(reason.clone());
    }
    let count = inner.viewers.len() as u32;
    let inner = &mut *inner;
    let Some(slot) = inner.viewers.get_mut(&viewer) else {
        return Ok(false);
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
        batch.push(Bytes::from(Message::ViewerCount(count).encode()));
    }
    // Pull what the transport may take now; the fan-out's window bounds it.
    let mut bytes = 0;
    while bytes < 1 << 20 && slot.unacked.len() < state.config.max_updates_in_flight {
        let Some(packet) = inner.fanout.poll_send(slot.fan_id, now) else {
            break;
        };
        if let Ok(Message::Stream(p)) = Message::decode(&packet) {
            if p.kind != glimpse::session::StreamKind::Cursor {
                slot.unacked.push_back(p.seq);
            }
        }
        if let Some(since) = slot.joining_since.take() {
            state
                .metrics
                .join_latency
                .observe(since.elapsed().as_secs_f64());
        }
        bytes += packet.len();
        batch.push(packet);
    }
    if let Some(stats) = inner.fanout.viewer_stats(slot.fan_id) {
        if stats.skips > slot.skips_counted {
            state
                .metrics
                .checkpoint_skips
                .inc_by(u64::from(stats.skips - slot.skips_counted));
            slot.skips_counted = stats.skips;
        }
    }
    if inner.drain_events() {
        session.host_notify.notify_one();
    }
    Ok(true)
}

async fn writer(
    state: &RelayState,
    session: &Session,
    viewer: ViewerId,
    notify: &Notify,
    sink: &mut Sink,
    live: &Liveness,
) -> Result<(), Closing> {
    let interval = state.config.ping_interval;
    let mut ping = tokio::time::interval(interval);
    ping.tick().await;
    let mut batch = Vec::new();
    loop {
        let notified = notify.notified();
        if !next_batch(state, session, viewer, &mut batch)? {
            return Ok(());
        }
        if batch.is_empty() {
            tokio::select! {
                _ = notified => {}
                _ = ping.tick() => conn::ping(sink, live, interval).await?,
            }
            continue;
        }
        for bytes in batch.drain(..) {
            state.metrics.bytes_out.inc_by(bytes.len() as u64);
            conn::send(sink, WsMessage::Binary(bytes), state.config.send_timeout).await?;
        }
    }
}
