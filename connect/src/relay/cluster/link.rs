//! A session's place in the cluster (origin or mirror) and how messages leave this node: what a
//! mirror's viewers say goes to the origin, what the host says to a viewer of a mirror goes to
//! that mirror.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use glimpse::session::ViewerId;

use super::feed::MirrorFeed;
use super::stream::Publisher;
use super::wire::{Body, NodeId, SessionRecord, Sid};
use super::Cluster;
use crate::protocol::{close, Message, ViewerEntry};
use crate::relay::session::SessionInner;

/// A viewer of this session held by another node (origin side).
pub(in crate::relay) struct RemoteViewer {
    pub node: NodeId,
    pub entry: ViewerEntry,
    pub admitted: bool,
    pub confirmed: bool,
}

/// Origin: this node holds the host.
pub(in crate::relay) struct OriginState {
    /// Viewers held by mirrors.
    pub remote: HashMap<ViewerId, RemoteViewer>,
    /// The directory record, and its revision this node wrote last.
    pub record: SessionRecord,
    pub revision: u64,
    /// When the record was refreshed last (ms, relay clock).
    pub refreshed_at: u64,
    /// Publishes the host's stream to JetStream.
    pub publisher: Publisher,
    /// The viewer count changed since the mirrors heard it.
    pub count_dirty: bool,
    /// Nodes found dead whose viewers were dropped: if they come back, their viewers of this
    /// session are closed (they rejoin).
    pub dropped_nodes: HashSet<NodeId>,
    /// The stream sequence the mirrors were told JetStream stored last, and when (ms, relay
    /// clock).
    pub stored_told: (u64, u64),
}

/// Mirror: this node holds viewers only; the stream comes from JetStream.
pub(in crate::relay) struct MirrorState {
    pub origin: NodeId,
    /// The host is connected to the origin (as the origin last said).
    pub host_connected: bool,
    /// Viewers admitted in the whole session (as the origin last said).
    pub total: u32,
    /// The origin missed its heartbeats.
    pub origin_dead: bool,
    /// The JetStream consumer feeding this node's fan-out (stops when dropped).
    pub feed: Option<MirrorFeed>,
}

pub(in crate::relay) enum Role {
    Origin(Box<OriginState>),
    Mirror(MirrorState),
}

/// What a session on a cluster node knows about the cluster.
pub(in crate::relay) struct SessionLink {
    pub cluster: Arc<Cluster>,
    pub sid: Sid,
    pub role: Role,
}

impl SessionLink {
    pub fn origin(&self) -> Option<&OriginState> {
        match &self.role {
            Role::Origin(o) => Some(o),
            Role::Mirror(_) => None,
        }
    }

    pub fn origin_mut(&mut self) -> Option<&mut OriginState> {
        match &mut self.role {
            Role::Origin(o) => Some(o),
            Role::Mirror(_) => None,
        }
    }

    pub fn mirror(&self) -> Option<&MirrorState> {
        match &self.role {
            Role::Mirror(m) => Some(m),
            Role::Origin(_) => None,
        }
    }

    pub fn mirror_mut(&mut self) -> Option<&mut MirrorState> {
        match &mut self.role {
            Role::Mirror(m) => Some(m),
            Role::Origin(_) => None,
        }
    }

    /// Mirror: sends `body` to the origin.
    pub fn to_origin(&self, body: Body) {
        if let Some(m) = self.mirror() {
            self.cluster.send(m.origin, self.sid, body);
        }
    }

    /// Origin: the nodes holding viewers of this session.
    pub fn mirror_nodes(&self) -> Vec<NodeId> {
        let Some(o) = self.origin() else {
            return Vec::new();
        };
        let nodes: HashSet<NodeId> = o.remote.values().map(|r| r.node).collect();
        nodes.into_iter().collect()
    }

    /// Origin: sends `body` to every node holding viewers of this session.
    pub fn to_mirrors(&self, body: &Body) {
        for node in self.mirror_nodes() {
            self.cluster.send(node, self.sid, body.clone());
        }
    }
}

impl SessionInner {
    pub(in crate::relay) fn link(&self) -> Option<&SessionLink> {
        self.cluster.as_ref()
    }

    /// This node mirrors the session (its host is elsewhere).
    pub(in crate::relay) fn is_mirror(&self) -> bool {
        self.link().is_some_and(|l| l.mirror().is_some())
    }

    /// Mirror: the host as the origin reports it; `None` on an origin or a single relay.
    pub(in crate::relay) fn mirror_host_connected(&self) -> Option<bool> {
        self.link()
            .and_then(|l| l.mirror())
            .map(|m| m.host_connected)
    }

    /// Mirror: a message for the host goes to the origin. True when it was taken (this node is
    /// a mirror).
    pub(in crate::relay) fn mirror_push_host(&mut self, message: &Message<'_>) -> bool {
        match self.link() {
            Some(link) if link.mirror().is_some() => {
                if link.mirror().is_some_and(|m| m.host_connected) {
                    link.to_origin(Body::ToHost(message.encode()));
                }
                true
            }
            _ => false,
        }
    }

    /// Origin: `message` (already encoded as `bytes`) for a viewer another node holds. True when
    /// it went there.
    pub(in crate::relay) fn forward_to_remote(&mut self, viewer: ViewerId, bytes: &Bytes) -> bool {
        let Some(link) = self.cluster.as_ref() else {
            return false;
        };
        let Some(remote) = link.origin().and_then(|o| o.remote.get(&viewer)) else {
            return false;
        };
        link.cluster.send(
            remote.node,
            link.sid,
            Body::ToViewer {
                viewer,
                message: bytes.to_vec(),
            },
        );
        true
    }

    /// Origin: the remote viewer `viewer`, if another node holds it.
    pub(in crate::relay) fn remote(&self, viewer: ViewerId) -> Option<&RemoteViewer> {
        self.link()?.origin()?.remote.get(&viewer)
    }

    pub(in crate::relay) fn remote_mut(&mut self, viewer: ViewerId) -> Option<&mut RemoteViewer> {
        self.cluster.as_mut()?.origin_mut()?.remote.get_mut(&viewer)
    }

    /// Origin: admitted viewers other nodes hold.
    pub(in crate::relay) fn remote_admitted(&self) -> usize {
        self.link()
            .and_then(|l| l.origin())
            .map_or(0, |o| o.remote.values().filter(|r| r.admitted).count())
    }

    /// Origin: viewers other nodes hold (admitted or joining).
    pub(in crate::relay) fn remote_count(&self) -> usize {
        self.link()
            .and_then(|l| l.origin())
            .map_or(0, |o| o.remote.len())
    }

    /// Origin: the admitted viewers other nodes hold, as the host knows them.
    pub(in crate::relay) fn remote_entries(&self) -> Vec<ViewerEntry> {
        self.link()
            .and_then(|l| l.origin())
            .map(|o| {
                o.remote
                    .values()
                    .filter(|r| r.admitted)
                    .map(|r| r.entry.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Mirror: viewers admitted in the whole session as the origin said.
    pub(in crate::relay) fn mirror_total(&self) -> Option<u32> {
        self.link().and_then(|l| l.mirror()).map(|m| m.total)
    }

    /// Origin: the mirrors must hear the new viewer count.
    pub(in crate::relay) fn mark_count_dirty(&mut self) {
        if let Some(o) = self.cluster.as_mut().and_then(|l| l.origin_mut()) {
            o.count_dirty = true;
        }
    }

    /// Origin: the host status goes to the mirrors too.
    pub(in crate::relay) fn host_status_to_mirrors(&self, connected: bool) {
        if let Some(link) = self.link() {
            link.to_mirrors(&Body::HostStatus { connected });
        }
    }

    /// Origin: the session ended for good: every mirror closes its viewers with this.
    pub(in crate::relay) fn ended_to_mirrors(&self, code: u16, reason: &str) {
        if code == close::RESTART {
            return; // this node stops: the session goes on elsewhere
        }
        if let Some(link) = self.link() {
            link.to_mirrors(&Body::Ended {
                code,
                reason: reason.to_string(),
            });
        }
    }

    /// Origin: a stream message also goes to JetStream for the mirrors (the same bytes).
    pub(in crate::relay) fn publish_stream(&self, bytes: &Bytes, checkpoint: bool) {
        if let Some(o) = self.link().and_then(|l| l.origin()) {
            o.publisher.offer(bytes.clone(), checkpoint);
        }
    }

    /// Origin: forgets remote viewers still in their key exchange (the host reconnected: they
    /// start over, like local ones).
    pub(in crate::relay) fn forget_remote_pending(&mut self) {
        if let Some(o) = self.cluster.as_mut().and_then(|l| l.origin_mut()) {
            o.remote.retain(|_, r| r.admitted);
        }
    }
}
