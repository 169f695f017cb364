//! Sessions on a cluster node: created as origin (a host, with a lookup claimed in the
//! directory), created as mirror (a viewer joined a session whose host is elsewhere), taken over
//! (a host came back here), given a new code, and forgotten.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use glimpse::session::ViewerId;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::feed::{start_consumer, Start};
use super::link::{MirrorState, OriginState, RemoteViewer, Role, SessionLink};
use super::stream::Publisher;
use super::wire::{first_viewer_id, hex, Body, NodeId, SessionRecord, Sid};
use super::{epoch_ms, Cluster};
use crate::protocol::{close, Lookup, Message, ViewerEntry};
use crate::relay::conn::Closing;
use crate::relay::host::{build, new_lookup, reserve};
use crate::relay::session::{Session, SessionInner};
use crate::relay::{random_u64, RelayState};

fn cluster_of(state: &RelayState) -> Result<Arc<Cluster>, Closing> {
    state
        .cluster
        .clone()
        .ok_or((close::POLICY, "not a cluster node".into()))
}

fn unavailable(e: impl std::fmt::Display) -> Closing {
    tracing::warn!(error = %e, "session directory unavailable");
    (
        close::RESTART,
        "the relay cluster is unavailable: retry".into(),
    )
}

/// Makes `session` (already registered on this node) the origin of `sid`.
fn install_origin(
    cluster: &Arc<Cluster>,
    session: &Arc<Session>,
    sid: Sid,
    record: SessionRecord,
    revision: u64,
    now: u64,
) {
    let publisher = Publisher::start(cluster, sid, Arc::downgrade(session));
    let origin = OriginState {
        remote: HashMap::new(),
        record,
        revision,
        refreshed_at: now,
        publisher,
        count_dirty: false,
        dropped_nodes: HashSet::new(),
        stored_told: (0, now),
    };
    let mut inner = session.inner.lock().unwrap();
    inner.cluster = Some(SessionLink {
        cluster: cluster.clone(),
        sid,
        role: Role::Origin(Box::new(origin)),
    });
}

/// Registers a session object on this node: in the relay's tables and the cluster's.
fn register(state: &RelayState, cluster: &Cluster, session: &Arc<Session>, sid: Sid, now: u64) {
    // A new session's sid is its own: nothing is held under it that could be kept.
    let _ = publish(state, cluster, session, sid, now, true);
}

/// Puts `session` in the cluster's table under `sid` and in the codes under its lookup, under one
/// lock of the cluster's table, so a joiner that finds the session by its sid finds its code as
/// well; then in the relay's table. Without `replace`, a session already held under `sid` stays
/// and is returned, and nothing changes.
fn publish(
    state: &RelayState,
    cluster: &Cluster,
    session: &Arc<Session>,
    sid: Sid,
    now: u64,
    replace: bool,
) -> Result<(), Arc<Session>> {
    let lookup = session.inner.lock().unwrap().lookup;
    {
        let mut sessions = cluster.sessions.lock().unwrap();
        if let Some(held) = sessions
            .get(&sid)
            .filter(|held| !replace && !Arc::ptr_eq(held, session))
        {
            return Err(held.clone());
        }
        sessions.insert(sid, session.clone());
        let mut codes = state.codes.lock().unwrap();
        if !codes.insert(lookup, session.clone(), now) {
            // A session this node held under the same lookup ended elsewhere and is not swept yet.
            codes.remove(lookup);
            codes.insert(lookup, session.clone(), now);
        }
    }
    state
        .sessions
        .lock()
        .unwrap()
        .insert(session.id, session.clone());
    Ok(())
}

/// A new session whose host connects here: a lookup claimed in the directory (or `wanted`, a
/// host re-creating its session after the record expired).
pub(in crate::relay) async fn create(
    state: &Arc<RelayState>,
    wanted: Option<Lookup>,
    secret: &[u8; 32],
    client: &str,
    now: u64,
) -> Result<Arc<Session>, Closing> {
    let cluster = cluster_of(state)?;
    reserve(state, client)?;
    let hash: [u8; 32] = Sha256::digest(secret).into();
    let sid = random_u64();
    let record = SessionRecord {
        sid: format!("{sid:x}"),
        origin: cluster.node,
        secret_sha256: hex(&hash),
        created_ms: epoch_ms(),
    };
    let mut claimed = None;
    for _ in 0..16 {
        let Some(lookup) = wanted.or_else(|| new_lookup(state)) else {
            break;
        };
        match cluster.directory.create(lookup, &record).await {
            Ok(Some(revision)) => {
                claimed = Some((lookup, revision));
                break;
            }
            Ok(None) if wanted.is_some() => break,
            Ok(None) => continue,
            Err(e) => {
                state.release_host_slot(client);
                return Err(unavailable(e));
            }
        }
    }
    let Some((lookup, revision)) = claimed else {
        state.release_host_slot(client);
        return Err((close::KEY_IN_USE, "this code is taken".into()));
    };
    let session = build(
        state,
        lookup,
        hash,
        Some(client.to_string()),
        first_viewer_id(cluster.node),
        now,
    );
    install_origin(&cluster, &session, sid, record, revision, now);
    register(state, &cluster, &session, sid, now);
    Ok(session)
}

/// A host came back with `lookup` to this node, which does not hold its session: if the
/// directory has it and the secret fits, this node becomes its origin (the old origin, if alive,
/// closes its stale host connection and mirrors the session). `None` when no session has the
/// lookup (the caller creates one).
pub(in crate::relay) async fn take_over(
    state: &Arc<RelayState>,
    lookup: Lookup,
    secret: &[u8; 32],
    client: &str,
) -> Result<Option<Arc<Session>>, Closing> {
    let cluster = cluster_of(state)?;
    let hash: [u8; 32] = Sha256::digest(secret).into();
    for _ in 0..3 {
        let Some((record, revision)) = cluster.directory.get(lookup).await.map_err(unavailable)?
        else {
            return Ok(None);
        };
        if record.secret_hash() != Some(hash) {
            return Err((
                close::KEY_IN_USE,
                "this code belongs to another host".into(),
            ));
        }
        let Some(sid) = record.sid() else {
            return Ok(None);
        };
        let updated = SessionRecord {
            origin: cluster.node,
            ..record
        };
        match cluster.directory.update(lookup, &updated, revision).await {
            Ok(Some(revision)) => {
                let now = state.now_ms();
                let session =
                    become_origin(state, &cluster, lookup, sid, updated, revision, client, now)?;
                collect_rosters(&cluster, &session, sid, lookup).await;
                cluster.metrics.takeovers.inc();
                return Ok(Some(session));
            }
            Ok(None) => continue, // changed meanwhile: read again
            Err(e) => return Err(unavailable(e)),
        }
    }
    Err((close::RESTART, "the session is moving: retry".into()))
}

/// This node's session object for `sid` becomes the origin: the mirror it was, or a new one.
#[allow(clippy::too_many_arguments)]
fn become_origin(
    state: &Arc<RelayState>,
    cluster: &Arc<Cluster>,
    lookup: Lookup,
    sid: Sid,
    record: SessionRecord,
    revision: u64,
    client: &str,
    now: u64,
) -> Result<Arc<Session>, Closing> {
    if let Some(session) = cluster.session(sid) {
        if !state.take_host_slot(client) {
            return Err((close::FULL, "too many sessions from this network".into()));
        }
        *session.client.lock().unwrap() = Some(client.to_string());
        let was_away = {
            let inner = session.inner.lock().unwrap();
            !inner.host_connected()
        };
        install_origin(cluster, &session, sid, record, revision, now);
        let mut inner = session.inner.lock().unwrap();
        inner.lookup = lookup;
        if was_away {
            // Its viewers saw the host go: `attach` tells them it is back.
            inner.host_away_since.get_or_insert(now);
        }
        drop(inner);
        return Ok(session);
    }
    reserve(state, client)?;
    let hash = record.secret_hash().unwrap_or_default();
    let session = build(
        state,
        lookup,
        hash,
        Some(client.to_string()),
        first_viewer_id(cluster.node),
        now,
    );
    install_origin(cluster, &session, sid, record, revision, now);
    register(state, cluster, &session, sid, now);
    Ok(session)
}

/// Tells every node this one is the session's origin now, and learns from their answers which
/// admitted viewers they hold (waiting until every live node answered, or
/// [`ClusterConfig::roster_wait`](super::ClusterConfig::roster_wait)).
pub(super) async fn collect_rosters(
    cluster: &Arc<Cluster>,
    session: &Arc<Session>,
    sid: Sid,
    lookup: Lookup,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    cluster.rosters.lock().unwrap().insert(sid, tx);
    let mut waiting: HashSet<NodeId> = cluster.live_nodes().into_iter().collect();
    cluster.send_all(sid, Body::Takeover { lookup });
    let until = Instant::now() + cluster.config.roster_wait;
    let mut rosters: Vec<(NodeId, Vec<ViewerEntry>)> = Vec::new();
    while !waiting.is_empty() {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some((node, entries))) => {
                waiting.remove(&node);
                rosters.push((node, entries));
            }
            _ => break,
        }
    }
    cluster.rosters.lock().unwrap().remove(&sid);
    if !waiting.is_empty() {
        tracing::info!(
            sid,
            missing = waiting.len(),
            "takeover: some nodes did not answer"
        );
    }
    let mut inner = session.inner.lock().unwrap();
    let Some(origin) = inner.cluster.as_mut().and_then(|l| l.origin_mut()) else {
        return;
    };
    let known: HashMap<ViewerId, RemoteViewer> = std::mem::take(&mut origin.remote);
    for (node, entries) in rosters {
        for entry in entries {
            origin.remote.insert(
                entry.viewer,
                RemoteViewer {
                    node,
                    entry,
                    admitted: true,
                    confirmed: true,
                },
            );
        }
    }
    // Viewers this node thought another node held, which no node claims any more, are gone.
    let gone: Vec<ViewerId> = known
        .into_iter()
        .filter(|(id, r)| r.admitted && !origin.remote.contains_key(id))
        .map(|(id, _)| id)
        .collect();
    origin.count_dirty = true;
    for viewer in gone {
        if let Some(event) = inner.control.viewer_left(viewer) {
            inner.control_events([event]);
        }
        inner.push_host(&Message::ViewerLeft { viewer });
    }
}

/// A viewer joins with `lookup`, which this node does not hold: if the directory has it, this
/// node starts mirroring the session (one consumer of its stream) and the join goes on as on a
/// single relay.
pub(in crate::relay) async fn ensure_mirror(
    state: &Arc<RelayState>,
    lookup: Lookup,
    now: u64,
) -> Result<(), Closing> {
    let Some(cluster) = state.cluster.clone() else {
        return Ok(());
    };
    {
        let codes = state.codes.lock().unwrap();
        if codes.get(lookup).is_some() || codes.relay_limited(now).is_some() {
            return Ok(()); // held here, or every join is refused anyway
        }
    }
    let Some((record, _)) = cluster.directory.get(lookup).await.map_err(unavailable)? else {
        return Ok(()); // unknown: counted as a failure by the lookup
    };
    let Some(sid) = record.sid().filter(|_| record.origin != cluster.node) else {
        return Ok(());
    };
    if state.sessions.lock().unwrap().len() >= state.config.max_sessions {
        return Err((close::FULL, "relay full: too many sessions".into()));
    }
    let now = state.now_ms();
    if let Some(existing) = cluster.session(sid) {
        serve_lookup(state, lookup, existing, now);
        return Ok(());
    }
    let hash = record.secret_hash().unwrap_or_default();
    let session = build(
        state,
        lookup,
        hash,
        None,
        first_viewer_id(cluster.node),
        now,
    );
    let dead = cluster.is_dead(record.origin);
    let consumer = start_consumer(state, sid, &session, Start::All, None);
    session.inner.lock().unwrap().cluster = Some(SessionLink {
        cluster: cluster.clone(),
        sid,
        role: Role::Mirror(MirrorState {
            origin: record.origin,
            host_connected: !dead,
            total: 0,
            origin_dead: dead,
            feed: consumer,
        }),
    });
    // Published only now, whole (its link set, its code with it): a concurrent joiner that set
    // the same session up first keeps it, and this one goes, its consumer with it.
    if let Err(held) = publish(state, &cluster, &session, sid, now, false) {
        session.inner.lock().unwrap().cluster = None;
        serve_lookup(state, lookup, held, now);
        return Ok(());
    }
    tracing::info!(
        session = session.id,
        sid,
        origin = record.origin,
        "mirroring a session"
    );
    Ok(())
}

/// A joiner's `lookup` finds `session`, which another joiner set up here (the session may have got
/// this lookup after a new code, which its own registration did not cover).
fn serve_lookup(state: &RelayState, lookup: Lookup, session: Arc<Session>, now: u64) {
    let mut codes = state.codes.lock().unwrap();
    if codes.get(lookup).is_none() {
        codes.insert(lookup, session, now);
    }
}

/// Origin: what the host says to a viewer another node holds goes to that node.
pub(in crate::relay) fn to_remote_viewer(
    inner: &mut SessionInner,
    viewer: ViewerId,
    message: &Message<'_>,
    bytes: Bytes,
) {
    let Some(remote) = inner.remote_mut(viewer) else {
        return;
    };
    let pass = match message {
        Message::PakeReply { .. } => !remote.admitted,
        Message::Rekey { .. } => remote.admitted,
        Message::Admit { .. } => {
            let first = !remote.admitted;
            remote.admitted = true;
            if first {
                inner.counts_changed();
            }
            true
        }
        _ => true,
    };
    if pass {
        inner.forward_to_remote(viewer, &bytes);
    }
}

/// The host burned its code: the session gets a new lookup, claimed in the directory; the old
/// one stops working; viewers already in stay.
pub(in crate::relay) fn new_code(state: &Arc<RelayState>, session: Arc<Session>) {
    let state = state.clone();
    tokio::spawn(async move {
        let Some(cluster) = state.cluster.clone() else {
            return;
        };
        let (old, sid) = {
            let inner = session.inner.lock().unwrap();
            let Some(link) = inner.link() else { return };
            (inner.lookup, link.sid)
        };
        let record = SessionRecord {
            sid: format!("{sid:x}"),
            origin: cluster.node,
            secret_sha256: hex(&session.secret_hash),
            created_ms: epoch_ms(),
        };
        for _ in 0..16 {
            let Some(fresh) = new_lookup(&state) else {
                return;
            };
            match cluster.directory.create(fresh, &record).await {
                Ok(Some(revision)) => {
                    let old_revision = switch_lookup(&state, &session, old, fresh, revision);
                    cluster.directory.delete(old, old_revision).await;
                    tracing::info!(session = session.id, "code burned: new lookup");
                    return;
                }
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "no new code: the old one stays");
                    return;
                }
            }
        }
    });
}

/// Moves the session from `old` to `fresh` on this node and tells the host and the mirrors;
/// the old record's revision (to delete it).
fn switch_lookup(
    state: &RelayState,
    session: &Arc<Session>,
    old: Lookup,
    fresh: Lookup,
    revision: u64,
) -> Option<u64> {
    let now = state.now_ms();
    {
        let mut codes = state.codes.lock().unwrap();
        codes.remove(old);
        codes.insert(fresh, session.clone(), now);
    }
    let mut inner = session.inner.lock().unwrap();
    inner.set_lookup(fresh);
    let link = inner.cluster.as_mut()?;
    link.to_mirrors(&Body::NewLookup(fresh));
    let origin = link.origin_mut()?;
    let old_revision = origin.revision;
    origin.revision = revision;
    drop(inner);
    session.host_notify.notify_one();
    Some(old_revision)
}

impl Cluster {
    /// A session left this node: forgotten here; an origin whose session ended for good frees
    /// its lookup in the directory and its stream subject.
    pub(in crate::relay) fn forget(self: &Arc<Self>, session: &Arc<Session>) {
        let mut inner = session.inner.lock().unwrap();
        let Some(link) = inner.cluster.take() else {
            return;
        };
        let lookup = inner.lookup;
        let for_good = inner
            .ended
            .as_ref()
            .is_none_or(|(code, _)| *code != close::RESTART);
        drop(inner);
        {
            let mut sessions = self.sessions.lock().unwrap();
            if sessions
                .get(&link.sid)
                .is_some_and(|s| Arc::ptr_eq(s, session))
            {
                sessions.remove(&link.sid);
            }
        }
        if let (Some(origin), true) = (link.origin(), for_good) {
            let (cluster, sid, revision) = (self.clone(), link.sid, origin.revision);
            tokio::spawn(async move {
                cluster.directory.delete(lookup, Some(revision)).await;
                cluster.purge_stream(sid).await;
            });
        }
    }
}
