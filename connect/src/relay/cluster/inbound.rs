//! Envelopes from other nodes: to the origin (what a mirror's viewers say to the host), to a
//! mirror (what the host says to its viewers, session events), and to all (heartbeats,
//! departures, takeovers).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use glimpse::session::ViewerId;

use super::feed::{start_consumer, Start};
use super::link::{MirrorState, RemoteViewer, Role};
use super::maintenance;
use super::wire::{Body, Envelope, NodeId, Sid};
use super::{Cluster, ClusterError};
use crate::protocol::{close, Lookup, Message, ViewerEntry};
use crate::relay::session::{Session, SessionInner};
use crate::relay::RelayState;

/// Subscribes to this node's inbox and the all-nodes subject and handles what arrives until the
/// relay stops.
pub(super) async fn start(
    state: &Arc<RelayState>,
    cluster: &Arc<Cluster>,
) -> Result<(), ClusterError> {
    let subscribe_error =
        |e: async_nats::SubscribeError| ClusterError::Connect(format!("NATS subscribe: {e}"));
    let mut direct = cluster
        .client
        .subscribe(cluster.names.node(cluster.node))
        .await
        .map_err(subscribe_error)?;
    let mut all = cluster
        .client
        .subscribe(cluster.names.all())
        .await
        .map_err(subscribe_error)?;
    let (state, cluster) = (state.clone(), cluster.clone());
    tokio::spawn(async move {
        let mut stop = state.stop.subscribe();
        loop {
            let message = tokio::select! {
                m = direct.next() => m,
                m = all.next() => m,
                _ = stop.changed() => return,
            };
            let Some(message) = message else {
                tracing::warn!("NATS subscription closed");
                return;
            };
            cluster
                .metrics
                .control_received_bytes
                .inc_by(message.payload.len() as u64);
            match Envelope::decode(&message.payload) {
                Ok(e) if e.from != cluster.node => dispatch(&state, &cluster, e),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "bad envelope from NATS"),
            }
        }
    });
    Ok(())
}

fn dispatch(state: &Arc<RelayState>, cluster: &Arc<Cluster>, envelope: Envelope) {
    let Envelope { from, sid, body } = envelope;
    if matches!(body, Body::Leaving) {
        if cluster.mark_gone(from) {
            maintenance::node_gone(state, cluster, from);
        }
        return;
    }
    if cluster.heard(from) {
        maintenance::node_back(cluster, from);
    }
    match body {
        Body::Heartbeat | Body::Leaving => {}
        Body::Takeover { lookup } => takeover_notice(state, cluster, from, sid, lookup),
        Body::Roster(entries) => {
            if let Some(tx) = cluster.rosters.lock().unwrap().get(&sid) {
                let _ = tx.send((from, entries));
            }
        }
        body => {
            let Some(session) = cluster.session(sid) else {
                return;
            };
            session_message(state, &session, from, body);
        }
    }
}

/// What follows a message once the session's lock is released.
enum After {
    Nothing,
    WakeHost,
    End(u16, String),
    NewLookup(Lookup),
}

fn session_message(state: &Arc<RelayState>, session: &Arc<Session>, from: NodeId, body: Body) {
    let after = {
        let mut inner = session.inner.lock().unwrap();
        match inner.cluster.as_ref().map(|l| &l.role) {
            Some(Role::Origin(_)) => {
                if origin_receive(state, &mut inner, from, body) {
                    After::WakeHost
                } else {
                    After::Nothing
                }
            }
            Some(Role::Mirror(m)) if m.origin == from => mirror_receive(state, &mut inner, body),
            _ => After::Nothing,
        }
    };
    match after {
        After::Nothing => {}
        After::WakeHost => session.host_notify.notify_one(),
        After::End(code, reason) => {
            session.end_with(code, &reason);
            state.remove_session(session);
        }
        After::NewLookup(fresh) => {
            let now = state.now_ms();
            let mut codes = state.codes.lock().unwrap();
            let mut inner = session.inner.lock().unwrap();
            let old = inner.lookup;
            if codes.get(old).is_some_and(|s| Arc::ptr_eq(&s, session)) {
                codes.remove(old);
            }
            codes.insert(fresh, session.clone(), now);
            inner.lookup = fresh;
        }
    }
}

/// Queues bytes for the host as they came (when it is connected). True when queued.
fn push_host_bytes(inner: &mut SessionInner, bytes: Vec<u8>) -> bool {
    if inner.host_conn.is_none() {
        return false;
    }
    inner.to_host.push_back(Bytes::from(bytes));
    true
}

/// Origin: a mirror's message for the host. True when the host has something new to read.
fn origin_receive(state: &RelayState, inner: &mut SessionInner, from: NodeId, body: Body) -> bool {
    let now = state.now_ms();
    match body {
        Body::ToHost(bytes) => {
            let Ok(message) = Message::decode(&bytes) else {
                return false;
            };
            let from_there = |inner: &SessionInner, viewer: ViewerId| {
                inner.remote(viewer).is_some_and(|r| r.node == from)
            };
            match message {
                Message::ViewerJoined { entry, pake } => {
                    let fresh = pake.is_some();
                    remote_join(state, inner, from, entry, fresh, bytes, now)
                }
                Message::Confirm { viewer, .. } => {
                    match inner.remote_mut(viewer).filter(|r| r.node == from) {
                        Some(r) if !r.admitted && !r.confirmed => r.confirmed = true,
                        _ => return false,
                    }
                    push_host_bytes(inner, bytes)
                }
                Message::CheckpointRequest => {
                    if inner.resync_requested {
                        return false;
                    }
                    inner.resync_requested = true;
                    push_host_bytes(inner, bytes)
                }
                Message::ControlRequested { viewer } => {
                    let admitted = inner
                        .remote(viewer)
                        .is_some_and(|r| r.node == from && r.admitted);
                    if !admitted || inner.control.request(viewer).is_none() {
                        return false;
                    }
                    if inner.to_host.len() >= state.config.max_host_queue || !inner.host_connected()
                    {
                        inner.control.forget_request(viewer);
                        return false;
                    }
                    push_host_bytes(inner, bytes)
                }
                Message::InputFrom { viewer, .. } => {
                    let allowed = from_there(inner, viewer)
                        && inner.control.holder() == Some(viewer)
                        && inner.to_host.len() < state.config.max_host_queue;
                    allowed && push_host_bytes(inner, bytes)
                }
                _ => false,
            }
        }
        Body::Left { viewer, abandoned } => {
            if inner.remote(viewer).is_none_or(|r| r.node != from) {
                return false;
            }
            remove_remote(inner, viewer, abandoned, now);
            true
        }
        Body::Sync => {
            if let Some(link) = inner.link() {
                let connected = inner.host_connected();
                let total = inner.viewer_total() as u32;
                link.cluster
                    .send(from, link.sid, Body::HostStatus { connected });
                link.cluster.send(from, link.sid, Body::Count(total));
            }
            false
        }
        _ => false,
    }
}

/// Origin: a viewer of another node wants in; the session-wide limits apply here.
fn remote_join(
    state: &RelayState,
    inner: &mut SessionInner,
    from: NodeId,
    entry: ViewerEntry,
    fresh: bool,
    bytes: Vec<u8>,
    now: u64,
) -> bool {
    let viewer = entry.viewer;
    let refusal = if inner.ended.is_some() {
        Some((close::SESSION_ENDED, "the session ended"))
    } else if !inner.host_connected() {
        Some((close::RESTART, "the host is reconnecting: try again"))
    } else if inner.viewers.len() + inner.remote_count() >= state.config.max_viewers_per_session {
        Some((close::FULL, "too many viewers in this session"))
    } else if fresh && inner.code_failures >= state.config.max_code_failures {
        Some((close::RATE_LIMITED, "too many wrong codes for this session"))
    } else {
        None
    };
    let Some(link) = inner.cluster.as_mut() else {
        return false;
    };
    if let Some((code, reason)) = refusal {
        let kick = Body::Kick {
            viewer,
            code,
            reason: reason.into(),
        };
        link.cluster.send(from, link.sid, kick);
        if code == close::RESTART {
            link.cluster
                .send(from, link.sid, Body::HostStatus { connected: false });
        }
        return false;
    }
    let Some(origin) = link.origin_mut() else {
        return false;
    };
    origin.remote.insert(
        viewer,
        RemoteViewer {
            node: from,
            entry,
            admitted: false,
            confirmed: false,
        },
    );
    let _ = now;
    push_host_bytes(inner, bytes)
}

/// Origin: a viewer another node held is gone (it left, or its node died).
pub(super) fn remove_remote(inner: &mut SessionInner, viewer: ViewerId, abandoned: bool, now: u64) {
    let Some(origin) = inner.cluster.as_mut().and_then(|l| l.origin_mut()) else {
        return;
    };
    let Some(remote) = origin.remote.remove(&viewer) else {
        return;
    };
    if abandoned {
        inner.code_failures += 1;
    }
    if let Some(event) = inner.control.viewer_left(viewer) {
        inner.control_events([event]);
    }
    inner.push_host(&Message::ViewerLeft { viewer });
    if remote.admitted {
        inner.counts_changed();
    }
    if inner.nobody_admitted() {
        inner.idle_since = now;
    }
}

/// Mirror: a message from the session's origin.
fn mirror_receive(state: &RelayState, inner: &mut SessionInner, body: Body) -> After {
    let now = state.now_ms();
    match body {
        Body::ToViewer { viewer, message } => {
            let bytes = Bytes::from(message);
            if let Ok(message) = Message::decode(&bytes) {
                inner.deliver_to_viewer(viewer, &message, bytes.clone(), now);
            }
        }
        Body::Kick {
            viewer,
            code,
            reason,
        } => inner.kick(viewer, code, &reason),
        Body::KickAll { code, reason } => {
            let ids: Vec<ViewerId> = inner.viewers.keys().copied().collect();
            for id in ids {
                inner.kick(id, code, &reason);
            }
        }
        Body::HostStatus { connected } => mirror_host_status(inner, connected, false, now),
        Body::Count(total) => {
            if let Some(m) = inner.cluster.as_mut().and_then(|l| l.mirror_mut()) {
                m.total = total;
            }
            inner.counts_changed();
        }
        Body::Ended { code, reason } => return After::End(code, reason),
        Body::NewLookup(fresh) => return After::NewLookup(fresh),
        Body::Stored(sequence) => {
            if let Some(feed) = inner.link().and_then(|l| l.mirror()?.feed.as_ref()) {
                feed.origin_stored(sequence);
            }
        }
        _ => {}
    }
    After::Nothing
}

/// Mirror: the host is connected to the origin, or not. When it comes back (or moved to another
/// node: `takeover`), viewers in the middle of their key exchange start over, as on a single
/// relay.
pub(super) fn mirror_host_status(
    inner: &mut SessionInner,
    connected: bool,
    takeover: bool,
    now: u64,
) {
    let Some(m) = inner.cluster.as_mut().and_then(|l| l.mirror_mut()) else {
        return;
    };
    let was = m.host_connected;
    m.host_connected = connected;
    m.origin_dead = false;
    if connected {
        inner.host_away_since = None;
    }
    if was != connected {
        inner.broadcast(&Message::HostStatus { connected });
    }
    if connected && (!was || takeover) {
        inner.restart_midway_joins();
    }
    let _ = now;
}

/// Any node: `from` took the session's host. A mirror follows it; an origin (its host
/// connection is stale) closes that connection and mirrors the session. Every node answers with
/// the admitted viewers it holds.
pub(super) fn takeover_notice(
    state: &Arc<RelayState>,
    cluster: &Arc<Cluster>,
    from: NodeId,
    sid: Sid,
    lookup: Lookup,
) {
    let mut roster = Vec::new();
    if let Some(session) = cluster.session(sid) {
        let now = state.now_ms();
        let mut inner = session.inner.lock().unwrap();
        roster = inner
            .viewers
            .values()
            .filter(|s| s.admitted())
            .map(|s| s.entry.clone())
            .collect();
        let was_origin = inner.link().is_some_and(|l| l.origin().is_some());
        if was_origin {
            demote(state, &session, &mut inner, from);
        } else if let Some(m) = inner.cluster.as_mut().and_then(|l| l.mirror_mut()) {
            m.origin = from;
        }
        if inner.lookup != lookup {
            tracing::debug!(sid, "takeover under another lookup");
        }
        mirror_host_status(&mut inner, true, true, now);
        drop(inner);
        if was_origin {
            session.host_notify.notify_one(); // its writer closes the stale host: REPLACED
            if let Some(client) = session.client.lock().unwrap().take() {
                state.release_host_slot(&client);
            }
        }
    }
    cluster.send(from, sid, Body::Roster(roster));
}

/// This node was the origin; `new_origin` holds the host now: this node mirrors the session,
/// reading the stream after what it published itself.
fn demote(
    state: &Arc<RelayState>,
    session: &Arc<Session>,
    inner: &mut SessionInner,
    new_origin: NodeId,
) {
    let Some(link) = inner.cluster.as_ref() else {
        return;
    };
    let (sid, published) = (
        link.sid,
        link.origin().map_or(0, |o| o.publisher.last_sequence()),
    );
    let last_seq = inner.arrivals.back().map(|(seq, _)| *seq);
    let start = if published == 0 {
        Start::All
    } else {
        Start::After(published)
    };
    let consumer = start_consumer(state, sid, session, start, last_seq);
    let total = inner.viewer_total() as u32;
    inner.host_conn = None;
    inner.to_host.clear();
    if let Some(link) = inner.cluster.as_mut() {
        link.role = Role::Mirror(MirrorState {
            origin: new_origin,
            host_connected: true,
            total,
            origin_dead: false,
            feed: consumer,
        });
    }
    tracing::info!(
        session = session.id,
        new_origin,
        "the host moved to another node: mirroring"
    );
}
