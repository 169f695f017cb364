//! A node's upkeep: heartbeats, finding dead nodes, refreshing the directory, telling mirrors the
//! viewer count, and putting things right after this node's own NATS connection was down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use glimpse::session::ViewerId;

use super::directory::NODE_RECORD_TTL;
use super::inbound::{remove_remote, takeover_notice};
use super::link::Role;
use super::sessions::collect_rosters;
use super::wire::{Body, NodeId};
use super::Cluster;
use crate::protocol::{close, Message};
use crate::relay::session::Session;
use crate::relay::RelayState;

impl Cluster {
    /// `node` sent something: it is alive. True when it was thought dead.
    pub(super) fn heard(&self, node: NodeId) -> bool {
        let mut peers = self.peers.lock().unwrap();
        peers.seen.insert(node, Instant::now());
        peers.dead.remove(&node)
    }

    /// `node` said it stops. True when it was thought alive.
    pub(super) fn mark_gone(&self, node: NodeId) -> bool {
        let mut peers = self.peers.lock().unwrap();
        peers.seen.remove(&node);
        peers.dead.insert(node)
    }

    /// Nodes silent for longer than the node timeout, now marked dead.
    fn newly_dead(&self) -> Vec<NodeId> {
        let timeout = self.config.node_timeout;
        let mut peers = self.peers.lock().unwrap();
        let silent: Vec<NodeId> = peers
            .seen
            .iter()
            .filter(|(_, at)| at.elapsed() > timeout)
            .map(|(n, _)| *n)
            .collect();
        for node in &silent {
            peers.seen.remove(node);
            peers.dead.insert(*node);
        }
        silent
    }

    /// After this node's own outage: nobody is judged on the silence it caused.
    fn forgive_silence(&self) {
        let mut peers = self.peers.lock().unwrap();
        let now = Instant::now();
        for at in peers.seen.values_mut() {
            *at = now;
        }
    }

    fn all_sessions(&self) -> Vec<Arc<Session>> {
        self.sessions.lock().unwrap().values().cloned().collect()
    }
}

/// An origin tells its mirrors how far JetStream stored the stream at most this often (ms), while
/// it grows (on the upkeep's 250 ms ticks: every 500 to 750 ms).
const STORED_EVERY_MS: u64 = 500;

/// Runs until the relay stops.
pub(super) async fn run(state: Arc<RelayState>) {
    let Some(cluster) = state.cluster.clone() else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut stop = state.stop.subscribe();
    let heartbeat_every = (cluster.config.node_timeout / 6).max(Duration::from_millis(100));
    let mut last_heartbeat: Option<Instant> = None;
    let mut last_node_refresh = Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if !cluster.is_connected() {
            continue;
        }
        let outage = cluster.down_since.lock().unwrap().take();
        if let Some(since) = outage {
            reconnected(&state, &cluster, since.elapsed());
        }
        if last_heartbeat.is_none_or(|t| t.elapsed() >= heartbeat_every) {
            cluster.send_all(0, Body::Heartbeat);
            last_heartbeat = Some(Instant::now());
        }
        if last_node_refresh.elapsed() >= NODE_RECORD_TTL / 3 {
            last_node_refresh = Instant::now();
            let c = cluster.clone();
            tokio::spawn(async move { c.directory.refresh_node(c.node).await });
        }
        for node in cluster.newly_dead() {
            tracing::warn!(node, "relay node silent: taken as dead");
            node_gone(&state, &cluster, node);
        }
        for session in cluster.all_sessions() {
            upkeep(&state, &cluster, &session);
        }
    }
}

/// Per session: the viewer count and how far JetStream stored the stream to the mirrors, the
/// directory record kept alive (origin); the host taken as away when the origin died (mirror).
fn upkeep(state: &RelayState, cluster: &Arc<Cluster>, session: &Arc<Session>) {
    let now = state.now_ms();
    let refresh_every = (cluster.config.session_ttl / 4).as_millis() as u64;
    let mut inner = session.inner.lock().unwrap();
    let total = inner.viewer_total() as u32;
    let lookup = inner.lookup;
    let mut refresh = None;
    let mut origin_died = false;
    if let Some(link) = inner.cluster.as_mut() {
        // What the mirrors hear from this origin now.
        let mut tell = Vec::new();
        match &mut link.role {
            Role::Origin(origin) => {
                if std::mem::take(&mut origin.count_dirty) {
                    tell.push(Body::Count(total));
                }
                let stored = origin.publisher.last_sequence();
                let (told, told_at) = origin.stored_told;
                if stored > told && now.saturating_sub(told_at) >= STORED_EVERY_MS {
                    origin.stored_told = (stored, now);
                    tell.push(Body::Stored(stored));
                }
                if now.saturating_sub(origin.refreshed_at) >= refresh_every {
                    origin.refreshed_at = now;
                    refresh = Some((origin.record.clone(), origin.revision));
                }
            }
            Role::Mirror(m) => {
                if !m.origin_dead && cluster.is_dead(m.origin) {
                    m.origin_dead = true;
                    origin_died = m.host_connected;
                    m.host_connected = false;
                }
            }
        }
        for body in &tell {
            link.to_mirrors(body);
        }
    }
    if origin_died {
        inner.broadcast(&Message::HostStatus { connected: false });
        inner.host_away_since.get_or_insert(now);
    }
    drop(inner);
    if let Some((record, revision)) = refresh {
        let (cluster, session) = (cluster.clone(), session.clone());
        tokio::spawn(async move {
            let revision = match cluster.directory.update(lookup, &record, revision).await {
                Ok(Some(revision)) => Some(revision),
                // Expired (a long outage) or taken over: claim it again if nobody else has.
                Ok(None) => cluster
                    .directory
                    .create(lookup, &record)
                    .await
                    .ok()
                    .flatten(),
                Err(e) => {
                    tracing::warn!(error = %e, "directory record not refreshed");
                    None
                }
            };
            if let Some(revision) = revision {
                let mut inner = session.inner.lock().unwrap();
                if let Some(origin) = inner.cluster.as_mut().and_then(|l| l.origin_mut()) {
                    origin.revision = revision;
                }
            }
        });
    }
}

/// `node` died or left: an origin drops the viewers it held (they come back through another
/// node); a mirror whose origin it was shows the host as away (the session ends after the host
/// grace unless the host takes it over elsewhere).
pub(super) fn node_gone(state: &RelayState, cluster: &Cluster, node: NodeId) {
    cluster.metrics.dead_nodes.inc();
    let now = state.now_ms();
    for session in cluster.all_sessions() {
        let mut inner = session.inner.lock().unwrap();
        let mut wake = false;
        let viewers: Vec<ViewerId> = inner
            .cluster
            .as_ref()
            .and_then(|l| l.origin())
            .map(|o| {
                o.remote
                    .iter()
                    .filter(|(_, r)| r.node == node)
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default();
        if !viewers.is_empty() {
            for viewer in viewers {
                remove_remote(&mut inner, viewer, false, now);
            }
            if let Some(origin) = inner.cluster.as_mut().and_then(|l| l.origin_mut()) {
                origin.dropped_nodes.insert(node);
            }
            wake = true;
        }
        let mirror_of_it = inner
            .cluster
            .as_ref()
            .and_then(|l| l.mirror())
            .is_some_and(|m| m.origin == node && !m.origin_dead);
        if mirror_of_it {
            if let Some(m) = inner.cluster.as_mut().and_then(|l| l.mirror_mut()) {
                m.origin_dead = true;
                m.host_connected = false;
            }
            inner.broadcast(&Message::HostStatus { connected: false });
            inner.host_away_since.get_or_insert(now);
        }
        drop(inner);
        if wake {
            session.host_notify.notify_one();
        }
    }
}

/// `node` was taken as dead and is heard again (a network split healed): viewers this node's
/// sessions dropped are closed there (they rejoin), and mirrors ask their origin how things stand.
pub(super) fn node_back(cluster: &Cluster, node: NodeId) {
    tracing::info!(node, "relay node heard again");
    for session in cluster.all_sessions() {
        let mut inner = session.inner.lock().unwrap();
        let Some(link) = inner.cluster.as_mut() else {
            continue;
        };
        let sid = link.sid;
        match &mut link.role {
            Role::Origin(origin) => {
                if origin.dropped_nodes.remove(&node) {
                    let reason = "the relay lost track of this viewer: join again".to_string();
                    let body = Body::KickAll {
                        code: close::RESTART,
                        reason,
                    };
                    cluster.send(node, sid, body);
                }
            }
            Role::Mirror(m) => {
                if m.origin == node && m.origin_dead {
                    cluster.send(node, sid, Body::Sync);
                }
            }
        }
    }
}

/// This node's NATS connection is back after `outage`. Shorter than the node timeout: nobody
/// noticed. Longer: the other nodes took this one as dead, so its mirrored viewers rejoin, and
/// for the sessions whose host it holds it announces itself again (or, when the host moved
/// meanwhile, closes it: the directory says who holds it).
fn reconnected(state: &Arc<RelayState>, cluster: &Arc<Cluster>, outage: Duration) {
    cluster.forgive_silence();
    if outage <= cluster.config.node_timeout {
        return;
    }
    tracing::warn!(
        ms = outage.as_millis() as u64,
        "NATS was down: re-syncing with the cluster"
    );
    for session in cluster.all_sessions() {
        let (mirror, lookup, sid) = {
            let inner = session.inner.lock().unwrap();
            let Some(link) = inner.link() else { continue };
            (link.mirror().is_some(), inner.lookup, link.sid)
        };
        if mirror {
            let mut inner = session.inner.lock().unwrap();
            let ids: Vec<ViewerId> = inner.viewers.keys().copied().collect();
            for id in ids {
                inner.kick(
                    id,
                    close::RESTART,
                    "the relay lost its cluster link: join again",
                );
            }
            continue;
        }
        let (state, cluster) = (state.clone(), cluster.clone());
        tokio::spawn(async move {
            match cluster.directory.get(lookup).await {
                Ok(Some((record, _))) if record.origin != cluster.node => {
                    // The host moved while this node was cut off: mirror it like after a takeover.
                    takeover_notice(&state, &cluster, record.origin, sid, lookup);
                }
                _ => {
                    collect_rosters(&cluster, &session, sid, lookup).await;
                    session.host_notify.notify_one();
                }
            }
        });
    }
}
