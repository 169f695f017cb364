//! A viewer's connection: the hello (a code's lookup and key exchange message, or a resume token),
//! the key exchange forwarded to and from the host, then — once the host admitted it — the sealed
//! screen stream paced by its acks, session messages, and its control requests and sealed input
//! toward the host. The relay reads none of the sealed parts.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::StreamExt;
use glimpse::session::ViewerId;
use tokio::sync::Notify;

use super::codes::{client_network, CodeRejection, ResumeRefusal};
use super::conn::{self, Closing, Liveness, ReadEnd, Sink, Stream};
use super::session::{Session, SessionInner, ViewerSlot, REMOVED_REASON};
use super::{random_bytes, RelayState};
use crate::crypto::PAKE_MESSAGE_LEN;
use crate::protocol::{close, Join, Message, ViewerEntry};

pub(super) async fn connection(state: Arc<RelayState>, socket: WebSocket, peer: SocketAddr) {
    let (mut sink, mut stream) = socket.split();
    let live = Liveness::new();
    let (session, viewer, notify) = match hello(&state, &mut stream, &live, peer).await {
        Ok(j) => j,
        Err((code, reason)) => {
            state.metrics.refused.inc();
            tracing::debug!(%peer, code, %reason, "viewer refused");
            conn::close_with(&mut sink, &mut stream, code, &reason).await;
            return;
        }
    };
    tracing::info!(session = session.id, viewer, "viewer connected");
    session.host_notify.notify_one();
    let outcome = tokio::select! {
        r = reader(&state, &session, viewer, &notify, &mut stream, &live) => r,
        r = writer(&state, &session, viewer, &notify, &mut sink, &live) => r,
    };
    leave(&state, &session, viewer);
    tracing::info!(session = session.id, viewer, "viewer left");
    if let Err((code, reason)) = outcome {
        conn::close_with(&mut sink, &mut stream, code, &reason).await;
    }
}

type Joined = (Arc<Session>, ViewerId, Arc<Notify>);

/// Reads the hello, finds the session and adds the viewer to it (admitted later, by the host).
async fn hello(
    state: &Arc<RelayState>,
    stream: &mut Stream,
    live: &Liveness,
    peer: SocketAddr,
) -> Result<Joined, Closing> {
    let hello_at = Instant::now();
    let bytes = conn::read_hello(stream, live, state.config.hello_timeout).await?;
    state.metrics.bytes_in.inc_by(bytes.len() as u64);
    let join = match Message::decode(&bytes) {
        Ok(Message::ViewerHello { join }) => join,
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
    let (session, pake, resumed_id) = match join {
        Join::Resume(token) => {
            let resumed = state.codes.lock().unwrap().resume(&token, now);
            let (session, viewer) = resumed.map_err(|refusal| match refusal {
                ResumeRefusal::Unknown => (
                    close::UNKNOWN_KEY,
                    "unknown or expired resume token".to_string(),
                ),
                ResumeRefusal::Removed => (close::REMOVED, REMOVED_REASON.to_string()),
            })?;
            (session, None, Some(viewer))
        }
        Join::Code { lookup, pake } => {
            if pake.len() != PAKE_MESSAGE_LEN {
                return Err((close::POLICY, "malformed key exchange message".into()));
            }
            let client = client_network(peer.ip());
            #[cfg(feature = "cluster")]
            super::cluster::sessions::ensure_mirror(state, lookup, now).await?;
            let found = state.codes.lock().unwrap().lookup(lookup, &client, now);
            let session = found.map_err(|rejection| match rejection {
                CodeRejection::Unknown => (close::UNKNOWN_KEY, "no session has this code".into()),
                CodeRejection::Expired => (close::EXPIRED, "this code expired".into()),
                CodeRejection::RateLimited { retry_after_ms } => (
                    close::RATE_LIMITED,
                    close::reason_with_retry("too many failed attempts", retry_after_ms),
                ),
            })?;
            (session, Some(pake), None)
        }
    };
    wait_for_turn(&session, state.now_ms()).await?;
    if state.buffered_bytes() >= state.config.max_buffered_bytes {
        return Err((close::FULL, "relay full: memory budget spent".into()));
    }
    let address = peer.to_string();
    let (viewer, notify) = add_viewer(state, &session, address, pake, resumed_id, hello_at)?;
    let lookup = session.inner.lock().unwrap().lookup;
    state.codes.lock().unwrap().touch(lookup, now);
    Ok((session, viewer, notify))
}

/// Waits for this joiner's turn: a session lets joiners through to its host at a bounded rate, so
/// a crowd arriving at once (a webinar's first minute) is let in in order instead of refused.
/// Only a joiner whose turn is more than the queue's length away is refused, told when to retry.
async fn wait_for_turn(session: &Session, now: u64) -> Result<(), Closing> {
    let turn = session.inner.lock().unwrap().joins.reserve(now);
    match turn {
        Ok(0) => Ok(()),
        Ok(wait_ms) => {
            tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
            Ok(())
        }
        Err(retry_after_ms) => Err((
            close::BUSY,
            close::reason_with_retry("too many joins at once", retry_after_ms),
        )),
    }
}

/// Why a session cannot take a joiner now, if it cannot.
fn refuse_join(state: &RelayState, inner: &SessionInner, fresh: bool) -> Option<Closing> {
    if inner.ended.is_some() {
        return Some((close::SESSION_ENDED, "the session ended".into()));
    }
    if !inner.host_connected() {
        // The host's link dropped: it cannot run the key exchange. Retry shortly.
        return Some((close::RESTART, "the host is reconnecting: try again".into()));
    }
    if inner.viewers.len() >= state.config.max_viewers_per_session {
        return Some((close::FULL, "too many viewers in this session".into()));
    }
    if fresh && inner.code_failures >= state.config.max_code_failures {
        return Some((
            close::RATE_LIMITED,
            "too many wrong codes for this session".into(),
        ));
    }
    None
}

fn add_viewer(
    state: &RelayState,
    session: &Session,
    address: String,
    pake: Option<Vec<u8>>,
    resumed_id: Option<ViewerId>,
    hello_at: Instant,
) -> Result<(ViewerId, Arc<Notify>), Closing> {
    let now = state.now_ms();
    let mut inner = session.inner.lock().unwrap();
    if let Some(refusal) = refuse_join(state, &inner, pake.is_some()) {
        return Err(refusal);
    }
    let viewer = match resumed_id.filter(|id| !inner.viewers.contains_key(id)) {
        Some(id) => id,
        None => {
            let id = inner.next_viewer;
            inner.next_viewer += 1;
            id
        }
    };
    let token = random_bytes::<16>();
    let notify = Arc::new(Notify::new());
    let mut outbox = VecDeque::new();
    outbox.push_back(Bytes::from(
        Message::Welcome {
            viewer,
            resume_token: token,
        }
        .encode(),
    ));
    let entry = ViewerEntry { viewer, address };
    let rate = f64::from(state.config.max_input_per_second);
    inner.viewers.insert(
        viewer,
        ViewerSlot {
            fan_id: None,
            confirmed: false,
            resync: false,
            resync_floor: 0,
            unacked: VecDeque::new(),
            notify: notify.clone(),
            outbox,
            count_dirty: false,
            count_sent_at: None,
            kick: None,
            token,
            entry: entry.clone(),
            joining_since: Some(hello_at),
            skips_counted: 0,
            input_tokens: 2.0 * rate,
            input_tokens_at: now,
            flushed: false,
        },
    );
    inner.push_host(&Message::ViewerJoined { entry, pake });
    Ok((viewer, notify))
}

/// Frees the viewer's slot, tells the host, and lets the viewer come back with its token (when it
/// was in, and was not removed). A viewer that leaves in the middle of its key exchange counts
/// against the code.
fn leave(state: &RelayState, session: &Arc<Session>, viewer: ViewerId) {
    let now = state.now_ms();
    let resume = {
        let mut inner = session.inner.lock().unwrap();
        let slot = inner.viewers.remove(&viewer);
        let admitted = slot.as_ref().is_some_and(|s| s.admitted());
        if let Some(id) = slot.as_ref().and_then(|s| s.fan_id) {
            inner.fanout.remove_viewer(id);
        }
        // Left in the middle of its key exchange: counted against the code.
        let abandoned = slot
            .as_ref()
            .is_some_and(|s| !s.admitted() && s.kick.is_none());
        inner.drain_events();
        if let Some(event) = inner.control.viewer_left(viewer) {
            inner.control_events([event]);
        }
        inner.viewer_left(viewer, abandoned);
        if admitted {
            inner.counts_changed();
        }
        if inner.nobody_admitted() {
            inner.idle_since = now;
        }
        slot.filter(|_| admitted && inner.ended.is_none())
            .and_then(|s| match &s.kick {
                None => Some(Resume::Allowed(s.token)),
                Some((close::REMOVED, _)) => Some(Resume::Refused(s.token)),
                Some(_) => None,
            })
    };
    session.host_notify.notify_one();
    let mut codes = state.codes.lock().unwrap();
    match resume {
        Some(Resume::Allowed(token)) => codes.issue_resume(session.clone(), viewer, token, now),
        Some(Resume::Refused(token)) => codes.refuse_resume(token, now),
        None => {}
    }
}

/// What a viewer that left may do with its resume token.
enum Resume {
    /// Come back as itself (it was in and was not closed by the relay or the host).
    Allowed([u8; 16]),
    /// Be told it was removed, should it come back (its close frame may have been lost).
    Refused([u8; 16]),
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
        let wakes_host = handle(state, session, viewer, message)?;
        if wakes_host {
            session.host_notify.notify_one();
        }
        notify.notify_one();
    }
}

/// One message from a viewer; true when the host has something new to read.
fn handle(
    state: &RelayState,
    session: &Session,
    viewer: ViewerId,
    message: Message<'_>,
) -> Result<bool, Closing> {
    let now = state.now_ms();
    let mut guard = session.inner.lock().unwrap();
    let inner = &mut *guard;
    let Some(slot) = inner.viewers.get_mut(&viewer) else {
        return Ok(false);
    };
    let admitted = slot.admitted();
    let not_yet = || (close::POLICY, "not admitted yet".to_string());
    match message {
        Message::Confirm {
            confirmation,
            sealed_name,
            ..
        } if !admitted && !slot.confirmed => {
            slot.confirmed = true;
            inner.push_host(&Message::Confirm {
                viewer,
                confirmation,
                sealed_name,
            });
            Ok(true)
        }
        Message::Ack { seq } => {
            let fan_id = slot.fan_id.ok_or_else(not_yet)?;
            while slot.unacked.front().is_some_and(|s| *s <= seq) {
                slot.unacked.pop_front();
            }
            inner.fanout.ack(fan_id, seq, now);
            Ok(inner.drain_events())
        }
        Message::Resync => {
            slot.fan_id.ok_or_else(not_yet)?;
            // It could not open or apply a packet: it skips to the next checkpoint.
            slot.resync = true;
            Ok(inner.request_skip_checkpoint(true))
        }
        Message::ControlRequest => {
            slot.fan_id.ok_or_else(not_yet)?;
            if inner.control.request(viewer).is_none() {
                return Ok(false); // asked already (or holds control): the host hears it once
            }
            if inner.to_host.len() >= state.config.max_host_queue || !inner.host_connected() {
                inner.control.forget_request(viewer);
                return Ok(false); // the host is flooded or away; the viewer may ask again
            }
            inner.push_host(&Message::ControlRequested { viewer });
            Ok(true)
        }
        Message::Input(sealed) => {
            // Only the holder of a grant gets through, within its rate; others' events are
            // dropped (a grant may have been revoked while their events were in flight).
            let rate = f64::from(state.config.max_input_per_second);
            let elapsed = now.saturating_sub(slot.input_tokens_at) as f64 / 1000.0;
            slot.input_tokens = (slot.input_tokens + elapsed * rate).min(2.0 * rate);
            slot.input_tokens_at = now;
            let within = slot.input_tokens >= 1.0;
            if within {
                slot.input_tokens -= 1.0;
            }
            let allowed = within
                && inner.control.holder() == Some(viewer)
                && inner.to_host.len() < state.config.max_host_queue;
            if allowed {
                inner.push_host(&Message::InputFrom { viewer, sealed });
            }
            Ok(allowed)
        }
        other => Err((
            close::POLICY,
            format!("a viewer may not send {} now", other.name()),
        )),
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
    if let Some(reason) = inner.ended.clone() {
        return final_batch(&mut inner, viewer, now, reason, batch);
    }
    let count = inner.viewer_total() as u32;
    let inner = &mut *inner;
    let Some(slot) = inner.viewers.get_mut(&viewer) else {
        return Ok(false);
    };
    // What the host said (its key exchange reply, an admission, a refusal) goes out before the
    // connection is closed for a kick.
    batch.extend(slot.outbox.drain(..));
    if let Some(reason) = &slot.kick {
        return if batch.is_empty() {
            Err(reason.clone())
        } else {
            Ok(true)
        };
    }
    let Some(fan_id) = slot.fan_id else {
        return Ok(true); // not admitted: no stream yet
    };
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
        let Some(packet) = inner.fanout.poll_send(fan_id, now) else {
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
            state.metrics.joins.inc();
        }
        bytes += packet.len();
        batch.push(packet);
    }
    if let Some(stats) = inner.fanout.viewer_stats(fan_id) {
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

/// The session ended: when the host ended it, an admitted viewer gets once what the fan-out still
/// holds for it (the last frames), then the close.
fn final_batch(
    inner: &mut SessionInner,
    viewer: ViewerId,
    now: u64,
    reason: Closing,
    batch: &mut Vec<Bytes>,
) -> Result<bool, Closing> {
    let Some(slot) = inner.viewers.get_mut(&viewer) else {
        return Err(reason);
    };
    let (Some(fan_id), false) = (slot.fan_id, slot.flushed) else {
        return Err(reason);
    };
    slot.flushed = true;
    if reason.0 != close::SESSION_ENDED {
        return Err(reason);
    }
    let mut bytes = 0;
    while bytes < 4 << 20 {
        let Some(packet) = inner.fanout.poll_send(fan_id, now) else {
            break;
        };
        bytes += packet.len();
        batch.push(packet);
    }
    if batch.is_empty() {
        Err(reason)
    } else {
        Ok(true)
    }
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
