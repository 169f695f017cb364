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
use glimpse::session::{FanOut, ViewerId};
use sha2::{Digest, Sha256};

use super::codes::client_network;
use super::conn::{self, Closing, Liveness, PeerEnd, ReadEnd, Sink, Stream};
use super::session::{Session, SessionInner};
use super::skip_budget::SkipBudget;
use super::{random_bytes, RelayState};
use crate::protocol::{close, Lookup, Message};

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
    let client = client_network(peer.ip());
    let session = match hello(&state, &mut stream, &live, conn_id, &client).await {
        Ok(s) => s,
        Err((code, reason)) => {
            state.metrics.refused.inc();
            tracing::info!(%peer, code, %reason, "host refused");
            conn::close_with(&mut sink, &mut stream, code, &reason).await;
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
            conn::close_with(&mut sink, &mut stream, close::NORMAL, "session ended").await;
        }
        HostEnd::Dropped(closing) => {
            let still_ours = {
                let mut inner = session.inner.lock().unwrap();
                let ours = inner.host_conn == Some(conn_id);
                if ours && inner.ended.is_none() {
                    inner.host_conn = None;
                    inner.resync_requested = false;
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
                conn::close_with(&mut sink, &mut stream, code, &reason).await;
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
    client: &str,
) -> Result<Arc<Session>, Closing> {
    let bytes = conn::read_hello(stream, live, state.config.hello_timeout).await?;
    state.metrics.bytes_in.inc_by(bytes.len() as u64);
    let (lookup, secret) = match Message::decode(&bytes) {
        Ok(Message::HostHello { lookup, secret }) => (lookup, secret),
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
    if let Some(lookup) = lookup {
        let existing = state.codes.lock().unwrap().get(lookup);
        #[cfg(feature = "cluster")]
        let existing = existing.filter(|s| !s.inner.lock().unwrap().is_mirror());
        if let Some(session) = existing {
            if !session.secret_matches(&secret) {
                return Err((
                    close::KEY_IN_USE,
                    "this code belongs to another host".into(),
                ));
            }
            take_back(state, &session, conn_id);
            tracing::info!(session = session.id, "host came back");
            return Ok(session);
        }
        #[cfg(feature = "cluster")]
        if state.cluster.is_some() {
            let taken = super::cluster::sessions::take_over(state, lookup, &secret, client).await?;
            if let Some(session) = taken {
                take_back(state, &session, conn_id);
                tracing::info!(session = session.id, "host moved here from another node");
                return Ok(session);
            }
        }
    }
    #[cfg(feature = "cluster")]
    if state.cluster.is_some() {
        let session = super::cluster::sessions::create(state, lookup, &secret, client, now).await?;
        attach(&session, conn_id, false);
        tracing::info!(session = session.id, "session started");
        return Ok(session);
    }
    let session = create(state, lookup, &secret, client, now)?;
    attach(&session, conn_id, false);
    tracing::info!(
        session = session.id,
        recreated = lookup.is_some(),
        "session started"
    );
    Ok(session)
}

/// A new session under a fresh random lookup, or under `wanted` (a host re-creating its session
/// on a relay that restarted), if that lookup is free. Refused when the relay, its memory budget
/// or the client network's share of sessions is full.
fn create(
    state: &Arc<RelayState>,
    wanted: Option<Lookup>,
    secret: &[u8; 32],
    client: &str,
    now: u64,
) -> Result<Arc<Session>, Closing> {
    reserve(state, client)?;
    let lookup = match wanted {
        Some(lookup) => Some(lookup),
        None => new_lookup(state),
    };
    let registered = lookup.and_then(|lookup| {
        let hash = Sha256::digest(secret).into();
        let session = build(state, lookup, hash, Some(client.to_string()), 1, now);
        state
            .codes
            .lock()
            .unwrap()
            .insert(lookup, session.clone(), now)
            .then_some(session)
    });
    match registered {
        Some(session) => {
            state
                .sessions
                .lock()
                .unwrap()
                .insert(session.id, session.clone());
            Ok(session)
        }
        None => {
            state.release_host_slot(client);
            Err((close::KEY_IN_USE, "this code is taken".into()))
        }
    }
}

/// Room for one more host session from `client` (counted against its network's share), or why
/// not.
pub(super) fn reserve(state: &RelayState, client: &str) -> Result<(), Closing> {
    if state.sessions.lock().unwrap().len() >= state.config.max_sessions {
        return Err((close::FULL, "relay full: too many sessions".into()));
    }
    if state.buffered_bytes() >= state.config.max_buffered_bytes {
        return Err((close::FULL, "relay full: memory budget spent".into()));
    }
    if !state.take_host_slot(client) {
        return Err((close::FULL, "too many sessions from this network".into()));
    }
    Ok(())
}

/// A new session object (not registered anywhere yet).
pub(super) fn build(
    state: &RelayState,
    lookup: Lookup,
    secret_hash: [u8; 32],
    client: Option<String>,
    first_viewer: ViewerId,
    now: u64,
) -> Arc<Session> {
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let mut inner = SessionInner::new(lookup, FanOut::new(state.config.fanout), now, first_viewer);
    inner.skip_budget = SkipBudget::new(state.config.skip_checkpoint_share);
    Session::with_hash(id, secret_hash, client, inner)
}

/// A free lookup, drawn at random (a few draws at most while the relay is far from full).
pub(super) fn new_lookup(state: &RelayState) -> Option<Lookup> {
    let codes = state.codes.lock().unwrap();
    (0..64)
        .map(|_| Lookup::from_random(u64::from_le_bytes(random_bytes())))
        .find(|l| codes.get(*l).is_none())
}

/// The host takes its session back on `conn_id` (a reconnection, counted).
fn take_back(state: &RelayState, session: &Session, conn_id: u64) {
    attach(session, conn_id, true);
    state.metrics.host_reconnects.inc();
}

/// Makes `conn_id` the session's host connection (an older one, if any, closes with
/// [`close::REPLACED`]) and tells the host it is live.
fn attach(session: &Session, conn_id: u64, resumed: bool) {
    let mut inner = session.inner.lock().unwrap();
    let was_away = inner.host_away_since.take().is_some();
    let replaced = inner.host_conn.replace(conn_id).is_some();
    inner.to_host.clear();
    let ready = Message::SessionReady {
        lookup: inner.lookup,
        resumed,
        viewers: inner.viewer_entries(),
    };
    inner.push_host(&ready);
    // Viewers in the middle of their key exchange start over with the host that is back.
    inner.restart_midway_joins();
    #[cfg(feature = "cluster")]
    inner.forget_remote_pending();
    if was_away || replaced {
        inner.broadcast(&Message::HostStatus { connected: true });
    }
    // The host answers with a restart checkpoint; viewers waiting to skip ahead take it.
    inner.resync_requested = false;
    drop(inner);
    session.host_notify.notify_one();
}

async fn reader(
    state: &Arc<RelayState>,
    session: &Arc<Session>,
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
fn handle(state: &Arc<RelayState>, session: &Arc<Session>, bytes: Bytes) -> Result<bool, Closing> {
    let now = state.now_ms();
    let message =
        Message::decode(&bytes).map_err(|e| (close::POLICY, format!("bad message: {e}")))?;
    let mut guard = session.inner.lock().unwrap();
    let inner = &mut *guard;
    match message {
        Message::Stream(packet) => {
            inner
                .stream_packet(bytes.clone(), packet.kind, packet.seq, now)
                .map_err(|e| (close::POLICY, format!("bad stream packet: {e}")))?;
            #[cfg(feature = "cluster")]
            inner.publish_stream(
                &bytes,
                matches!(packet.kind, glimpse::session::StreamKind::Checkpoint { .. }),
            );
            if inner.drain_events() {
                session.host_notify.notify_one();
            }
        }
        Message::PakeReply { viewer, .. }
        | Message::Admit { viewer, .. }
        | Message::Rekey { viewer, .. }
        | Message::Reject { viewer, .. }
        | Message::RemoveViewer { viewer } => {
            if let Message::Reject {
                wrong_code: true, ..
            } = message
            {
                inner.code_failures += 1;
            }
            to_viewer(inner, viewer, &message, bytes.clone(), now);
        }
        Message::NewCode => {
            drop(guard);
            #[cfg(feature = "cluster")]
            if state.cluster.is_some() {
                super::cluster::sessions::new_code(state, session.clone());
                return Ok(true);
            }
            new_code(state, session, now);
            return Ok(true);
        }
        Message::GrantControl { viewer } => {
            if admitted_anywhere(inner, viewer) {
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

/// What the host says to one viewer: applied here when the viewer is on this node, else (a
/// cluster origin) sent to the node holding it.
#[cfg_attr(not(feature = "cluster"), allow(clippy::needless_return))]
fn to_viewer(
    inner: &mut SessionInner,
    viewer: ViewerId,
    message: &Message<'_>,
    bytes: Bytes,
    now: u64,
) {
    if inner.viewers.contains_key(&viewer) {
        inner.deliver_to_viewer(viewer, message, bytes, now);
        return;
    }
    #[cfg(feature = "cluster")]
    super::cluster::sessions::to_remote_viewer(inner, viewer, message, bytes);
}

/// The viewer is in (on this node, or on another node of a cluster).
fn admitted_anywhere(inner: &SessionInner, viewer: ViewerId) -> bool {
    if let Some(slot) = inner.viewers.get(&viewer) {
        return slot.admitted();
    }
    #[cfg(feature = "cluster")]
    if let Some(remote) = inner.remote(viewer) {
        return remote.admitted;
    }
    false
}

/// The host burned its code: the session gets a new lookup (the old one stops working; viewers
/// already in stay) and the host is told.
fn new_code(state: &RelayState, session: &Session, now: u64) {
    let old = session.inner.lock().unwrap().lookup;
    let Some(fresh) = new_lookup(state) else {
        return; // the relay is full of lookups: the old one stays
    };
    {
        let mut codes = state.codes.lock().unwrap();
        let Some(arc) = codes.get(old) else { return };
        if !codes.insert(fresh, arc, now) {
            return;
        }
        codes.remove(old);
    }
    let mut inner = session.inner.lock().unwrap();
    inner.set_lookup(fresh);
    drop(inner);
    session.host_notify.notify_one();
    tracing::info!(session = session.id, "code burned: new lookup");
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
