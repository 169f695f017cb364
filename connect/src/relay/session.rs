//! One shared screen on the relay: its fan-out, its viewers, the queue to its host, and what
//! happens while the host is away.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use glimpse::session::{Control, ControlEvent, FanOut, FanOutEvent, StreamKind, ViewerId};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::join_queue::JoinQueue;
use super::skip_budget::SkipBudget;
use super::RelayState;
use crate::protocol::{close, Lookup, Message, ViewerEntry};

/// The reason a removed viewer's connection is closed with (and its resume refused).
pub(super) const REMOVED_REASON: &str = "removed by the host";

/// Session messages queued for one viewer at most; a viewer that lets more pile up is closed.
const VIEWER_OUTBOX: usize = 64;

pub(super) struct Session {
    /// Internal id, for logs (never a code).
    pub id: u64,
    /// The client network of its host (for the per-network cap); `None` on a node that only
    /// mirrors the session for its viewers.
    pub client: std::sync::Mutex<Option<String>>,
    pub secret_hash: [u8; 32],
    pub inner: std::sync::Mutex<SessionInner>,
    /// Wakes the host's writer.
    pub host_notify: Notify,
}

pub(super) struct SessionInner {
    /// The lookup part of the session's code (a new one after the host burned its code).
    pub lookup: Lookup,
    pub fanout: FanOut,
    /// The relay's copy of who holds control (the host's is authoritative; it re-syncs this one).
    pub control: Control,
    pub viewers: HashMap<ViewerId, ViewerSlot>,
    pub to_host: VecDeque<Bytes>,
    /// Set when the session is over: everybody closes with this.
    pub ended: Option<(u16, String)>,
    /// When the last viewer left (or the session started).
    pub idle_since: u64,
    /// `(seq, arrival ms)` of recent updates and checkpoints, to tell how far behind a viewer is.
    pub arrivals: VecDeque<(u64, u64)>,
    /// A checkpoint was asked for viewers that lag too far behind.
    pub resync_requested: bool,
    /// What checkpoints for lagging viewers may still cost the host.
    pub skip_budget: SkipBudget,
    /// The host connection that owns the session; `None` while the host is away.
    pub host_conn: Option<u64>,
    /// Since when the host is away (ms).
    pub host_away_since: Option<u64>,
    /// The next viewer id to hand out (ids are not reused; resumed viewers keep theirs).
    pub next_viewer: ViewerId,
    /// Failed joins against the current lookup (wrong codes, abandoned key exchanges); past the
    /// relay's per-code budget new joins are refused until the host burns the code.
    pub code_failures: u32,
    /// Joiners' turns to reach the host (a crowd waits its turn, a flood cannot swamp it).
    pub joins: JoinQueue,
    /// The session's place in a relay cluster (`None` on a single relay).
    #[cfg(feature = "cluster")]
    pub cluster: Option<super::cluster::link::SessionLink>,
}

pub(super) struct ViewerSlot {
    /// This viewer's id inside the fan-out once the host admitted it (a new one after each skip to
    /// a fresh checkpoint); `None` while its key exchange runs.
    pub fan_id: Option<ViewerId>,
    /// It sent its key confirmation (forwarded once).
    pub confirmed: bool,
    /// Waiting for the next checkpoint to skip to.
    pub resync: bool,
    /// Not checked for lag again until it acknowledged this seq (the checkpoint it skipped to).
    pub resync_floor: u64,
    /// Sequence numbers sent and not acknowledged, oldest first.
    pub unacked: VecDeque<u64>,
    pub notify: Arc<Notify>,
    /// Session messages for this viewer; bounded, small.
    pub outbox: VecDeque<Bytes>,
    /// Viewer count changed since last sent.
    pub count_dirty: bool,
    /// When the count was last sent: at most one a second (a crowd joining must not flood).
    pub count_sent_at: Option<u64>,
    /// Close this viewer with this reason.
    pub kick: Option<(u16, String)>,
    pub token: [u8; 16],
    pub entry: ViewerEntry,
    /// When its hello was accepted, until its first screen packet went out (join latency).
    pub joining_since: Option<Instant>,
    /// Fan-out skips already counted in the metrics.
    pub skips_counted: u32,
    /// Input rate: tokens left and when they were counted.
    pub input_tokens: f64,
    pub input_tokens_at: u64,
    /// What the fan-out held for it at the session's end went out.
    pub flushed: bool,
}

impl ViewerSlot {
    pub fn admitted(&self) -> bool {
        self.fan_id.is_some()
    }
}

impl Session {
    /// A session whose host secret is known by its hash (the relay never keeps the secret).
    pub fn with_hash(
        id: u64,
        secret_hash: [u8; 32],
        client: Option<String>,
        inner: SessionInner,
    ) -> Arc<Session> {
        Arc::new(Session {
            id,
            client: std::sync::Mutex::new(client),
            secret_hash,
            inner: std::sync::Mutex::new(inner),
            host_notify: Notify::new(),
        })
    }

    /// True when `secret` is the one the session was created with (compared as hashes, in
    /// constant time).
    pub fn secret_matches(&self, secret: &[u8; 32]) -> bool {
        let hash: [u8; 32] = Sha256::digest(secret).into();
        hash.iter()
            .zip(self.secret_hash.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// Marks viewers whose oldest unacknowledged update is older than `max_lag_ms` for a skip to
    /// the next checkpoint, and asks the host for one (at most one outstanding) once the skip
    /// budget pays for it. Returns how many viewers were marked.
    pub fn check_lag(&self, now: u64, max_lag_ms: u64) -> u64 {
        let mut guard = self.inner.lock().unwrap();
        let inner = &mut *guard;
        for slot in inner.viewers.values().filter(|s| s.count_dirty) {
            slot.notify.notify_one(); // a viewer count held back by the rate limit
        }
        let mut marked = 0;
        for slot in inner.viewers.values_mut().filter(|s| !s.resync) {
            let Some(acked) = slot
                .fan_id
                .and_then(|id| inner.fanout.viewer_stats(id))
                .and_then(|s| s.acked_seq)
            else {
                continue; // not started yet: the fan-out handles joiners
            };
            if acked < slot.resync_floor {
                continue; // still reading its way to the checkpoint it skipped to
            }
            let oldest = inner.arrivals.iter().find(|(seq, _)| *seq > acked);
            if oldest.is_some_and(|(_, at)| now.saturating_sub(*at) > max_lag_ms) {
                slot.resync = true;
                marked += 1;
            }
        }
        let request = inner.request_skip_checkpoint(false);
        drop(guard);
        if request {
            self.host_notify.notify_one();
        }
        marked
    }

    /// Ends the session: every connection closes with `code` and `reason`.
    pub fn end_with(&self, code: u16, reason: &str) {
        let mut inner = self.inner.lock().unwrap();
        if inner.ended.is_none() {
            inner.ended = Some((code, reason.to_string()));
            #[cfg(feature = "cluster")]
            inner.ended_to_mirrors(code, reason);
        }
        for slot in inner.viewers.values() {
            slot.notify.notify_one();
        }
        drop(inner);
        self.host_notify.notify_one();
    }
}

impl SessionInner {
    /// A session; viewers get ids from `first_viewer` on (cluster nodes give out ids of their
    /// own range).
    pub fn new(lookup: Lookup, fanout: FanOut, now: u64, first_viewer: ViewerId) -> Self {
        SessionInner {
            lookup,
            fanout,
            control: Control::new(),
            viewers: HashMap::new(),
            to_host: VecDeque::new(),
            ended: None,
            idle_since: now,
            arrivals: VecDeque::new(),
            resync_requested: false,
            skip_budget: SkipBudget::new(0.1),
            host_conn: None,
            host_away_since: None,
            next_viewer: first_viewer,
            code_failures: 0,
            joins: JoinQueue::new(now),
            #[cfg(feature = "cluster")]
            cluster: None,
        }
    }

    /// The host is connected (to this node, or — on a cluster node mirroring the session — to
    /// the session's origin).
    pub fn host_connected(&self) -> bool {
        #[cfg(feature = "cluster")]
        if let Some(connected) = self.mirror_host_connected() {
            return connected;
        }
        self.host_conn.is_some()
    }

    /// Messages for the host go somewhere now (its connection, or the origin node).
    pub fn host_reachable(&self) -> bool {
        self.host_connected()
    }

    /// Queues a message for the host (dropped while the host is away: it re-syncs on return). On
    /// a cluster node mirroring the session it goes to the origin node.
    pub fn push_host(&mut self, message: &Message<'_>) {
        #[cfg(feature = "cluster")]
        if self.mirror_push_host(message) {
            return;
        }
        if self.host_conn.is_some() {
            self.to_host.push_back(Bytes::from(message.encode()));
        }
    }

    pub fn push_viewer(&mut self, viewer: ViewerId, message: &Message<'_>) {
        self.push_viewer_bytes(viewer, Bytes::from(message.encode()));
    }

    /// Queues an encoded message for a viewer of this node, or (origin of a cluster session)
    /// sends it to the node holding the viewer.
    #[cfg_attr(not(feature = "cluster"), allow(clippy::needless_return))]
    pub fn push_viewer_bytes(&mut self, viewer: ViewerId, bytes: Bytes) {
        if let Some(slot) = self.viewers.get_mut(&viewer) {
            if slot.outbox.len() < VIEWER_OUTBOX {
                slot.outbox.push_back(bytes);
            } else {
                slot.kick = Some((close::STALLED, "viewer does not read its messages".into()));
            }
            slot.notify.notify_one();
            return;
        }
        #[cfg(feature = "cluster")]
        self.forward_to_remote(viewer, &bytes);
    }

    /// Queues `message` for every viewer of this node (and, for the host status on a cluster
    /// origin, every node holding viewers).
    pub fn broadcast(&mut self, message: &Message<'_>) {
        #[cfg(feature = "cluster")]
        if let Message::HostStatus { connected } = message {
            self.host_status_to_mirrors(*connected);
        }
        let bytes = Bytes::from(message.encode());
        let ids: Vec<ViewerId> = self.viewers.keys().copied().collect();
        for id in ids {
            self.push_viewer_bytes(id, bytes.clone());
        }
    }

    /// Closes a viewer of this node with `code`.
    pub fn kick(&mut self, viewer: ViewerId, code: u16, reason: &str) {
        if let Some(slot) = self.viewers.get_mut(&viewer) {
            slot.kick = Some((code, reason.to_string()));
            slot.notify.notify_one();
        }
    }

    /// Closes the viewers of this node still in their key exchange: they start over with the
    /// host that came back.
    pub fn restart_midway_joins(&mut self) {
        let midway: Vec<ViewerId> = self
            .viewers
            .iter()
            .filter(|(_, s)| !s.admitted())
            .map(|(id, _)| *id)
            .collect();
        for id in midway {
            self.kick(id, close::RESTART, "the host reconnected: join again");
        }
    }

    /// The session answers to `fresh` from now on (the codes table already says so); the host
    /// is told, with the viewers it has.
    pub fn set_lookup(&mut self, fresh: Lookup) {
        self.lookup = fresh;
        self.code_failures = 0;
        let ready = Message::SessionReady {
            lookup: fresh,
            resumed: true,
            viewers: self.viewer_entries(),
        };
        self.push_host(&ready);
    }

    /// What the host says to one viewer, applied here: the viewer is on this node. The relay's
    /// part of admission (the viewer's stream starts), refusal and removal (the viewer is
    /// closed) and control (the relay's copy of who holds it) happens on the node holding the
    /// viewer; `bytes` is `message` encoded, passed on as it is.
    pub fn deliver_to_viewer(
        &mut self,
        viewer: ViewerId,
        message: &Message<'_>,
        bytes: Bytes,
        now: u64,
    ) {
        let Some(slot) = self.viewers.get(&viewer) else {
            return;
        };
        let admitted = slot.admitted();
        match message {
            Message::PakeReply { .. } if !admitted => self.push_viewer_bytes(viewer, bytes),
            Message::Admit { .. } => self.admit(viewer, bytes, now),
            Message::Rekey { .. } if admitted => self.push_viewer_bytes(viewer, bytes),
            Message::Reject { wrong_code, .. } => {
                if *wrong_code {
                    self.kick(viewer, close::WRONG_CODE, "wrong code");
                } else {
                    self.kick(viewer, close::NOT_ADMITTED, "the host did not let you in");
                }
            }
            Message::RemoveViewer { .. } => self.kick(viewer, close::REMOVED, REMOVED_REASON),
            // A control answer the origin decided (this node mirrors the session): keep the
            // relay's copy of who holds control in step, for the input filter.
            Message::ControlGranted => {
                self.control.grant(viewer);
                self.push_viewer_bytes(viewer, bytes);
            }
            Message::ControlRefused => {
                self.control.refuse(viewer);
                self.push_viewer_bytes(viewer, bytes);
            }
            Message::ControlRevoked => {
                if self.control.holder() == Some(viewer) {
                    self.control.revoke();
                }
                self.push_viewer_bytes(viewer, bytes);
            }
            _ => {}
        }
    }

    /// The host let `viewer` in: it gets its sealed content key and, from now on, the stream.
    pub fn admit(&mut self, viewer: ViewerId, bytes: Bytes, now: u64) {
        let Some(slot) = self.viewers.get_mut(&viewer) else {
            return;
        };
        if slot.admitted() {
            self.push_viewer_bytes(viewer, bytes); // a re-admission after a key change: pass it on
            return;
        }
        slot.fan_id = Some(self.fanout.add_viewer(now));
        self.push_viewer_bytes(viewer, bytes);
        self.counts_changed();
        self.drain_events();
    }

    /// Asks the host for a checkpoint for the viewers waiting to skip ahead, if any, none is
    /// outstanding and the skip budget pays for it; true when one was queued.
    /// `now`: a viewer could not apply the stream (a decode error or a tampered packet): its
    /// checkpoint is not a matter of pacing and skips the budget.
    pub fn request_skip_checkpoint(&mut self, now: bool) -> bool {
        let waiting = self.viewers.values().any(|s| s.resync);
        let request = waiting
            && !self.resync_requested
            && self.host_reachable()
            && (now || self.skip_budget.allows_checkpoint());
        if request {
            self.resync_requested = true;
            self.push_host(&Message::CheckpointRequest);
        }
        request
    }

    /// A screen packet into the fan-out; viewers waiting to skip ahead restart from a checkpoint.
    pub fn stream_packet(
        &mut self,
        bytes: Bytes,
        kind: StreamKind,
        seq: u64,
        now: u64,
    ) -> Result<(), glimpse::Error> {
        let len = bytes.len();
        self.fanout.push(bytes, kind, seq, now)?;
        match kind {
            StreamKind::Checkpoint { restart } => self.skip_budget.checkpoint(len, restart),
            StreamKind::Update | StreamKind::Cursor => self.skip_budget.stream(len),
        }
        if kind != StreamKind::Cursor && self.arrivals.back().is_none_or(|(last, _)| *last != seq) {
            self.arrivals.push_back((seq, now));
            if self.arrivals.len() > 8192 {
                self.arrivals.pop_front();
            }
        }
        if let StreamKind::Checkpoint { .. } = kind {
            self.resync_requested = false;
            for slot in self.viewers.values_mut().filter(|s| s.resync) {
                if let Some(old) = slot.fan_id.take() {
                    self.fanout.remove_viewer(old);
                }
                slot.fan_id = Some(self.fanout.add_viewer(now));
                slot.resync = false;
                slot.resync_floor = seq;
                slot.skips_counted = 0;
            }
        }
        for slot in self.viewers.values() {
            slot.notify.notify_one();
        }
        Ok(())
    }

    /// The host hears that `viewer` (of this node) left; `abandoned` when it left in the middle
    /// of its key exchange (counted against the code where the host is).
    pub fn viewer_left(&mut self, viewer: ViewerId, abandoned: bool) {
        #[cfg(feature = "cluster")]
        if let Some(link) = self.link().filter(|l| l.mirror().is_some()) {
            link.to_origin(super::cluster::wire::Body::Left { viewer, abandoned });
            return;
        }
        if abandoned {
            self.code_failures += 1;
        }
        self.push_host(&Message::ViewerLeft { viewer });
    }

    pub fn control_events(&mut self, events: impl IntoIterator<Item = ControlEvent>) {
        for event in events {
            match event {
                ControlEvent::Granted(v) => self.push_viewer(v, &Message::ControlGranted),
                ControlEvent::Refused(v) => self.push_viewer(v, &Message::ControlRefused),
                ControlEvent::Revoked(v) => self.push_viewer(v, &Message::ControlRevoked),
                ControlEvent::Requested(_) => {}
            }
        }
    }

    /// Forwards the fan-out's checkpoint requests to the host; true when one was queued.
    pub fn drain_events(&mut self) -> bool {
        let mut need = false;
        while let Some(event) = self.fanout.poll_event() {
            need |= matches!(event, FanOutEvent::NeedCheckpoint);
        }
        if need && self.host_reachable() {
            self.push_host(&Message::CheckpointRequest);
            return true;
        }
        false
    }

    /// Admitted viewers of this node.
    pub fn admitted_count(&self) -> usize {
        self.viewers.values().filter(|s| s.admitted()).count()
    }

    /// Admitted viewers of the whole session (all nodes of a cluster), for the count viewers see.
    pub fn viewer_total(&self) -> usize {
        let local = self.admitted_count();
        #[cfg(feature = "cluster")]
        {
            match self.mirror_total() {
                Some(total) => local.max(total as usize),
                None => local + self.remote_admitted(),
            }
        }
        #[cfg(not(feature = "cluster"))]
        local
    }

    /// No viewer is admitted, on this node or (cluster origin) any other.
    pub fn nobody_admitted(&self) -> bool {
        #[cfg(feature = "cluster")]
        if self.remote_admitted() > 0 {
            return false;
        }
        self.admitted_count() == 0
    }

    /// Someone watches (or is joining) on this node, or — on a cluster origin — on any node.
    pub fn watched(&self) -> bool {
        #[cfg(feature = "cluster")]
        if self.remote_count() > 0 {
            return true;
        }
        !self.viewers.is_empty()
    }

    pub fn counts_changed(&mut self) {
        for slot in self.viewers.values_mut() {
            slot.count_dirty = true;
            slot.notify.notify_one();
        }
        #[cfg(feature = "cluster")]
        self.mark_count_dirty();
    }

    /// The admitted viewers, as the host knows them.
    pub fn viewer_entries(&self) -> Vec<ViewerEntry> {
        let mut entries: Vec<ViewerEntry> = self
            .viewers
            .values()
            .filter(|s| s.admitted())
            .map(|s| s.entry.clone())
            .collect();
        #[cfg(feature = "cluster")]
        entries.extend(self.remote_entries());
        entries.sort_by_key(|e| e.viewer);
        entries
    }
}

/// Ends sessions nobody joined in time and sessions whose host did not come back; asks for
/// checkpoints for lagging viewers; drops expired lookups, tokens and failure records.
pub(super) async fn expiry_loop(state: Arc<RelayState>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut stop = state.stop.subscribe();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = state.now_ms();
        let sessions: Vec<Arc<Session>> =
            state.sessions.lock().unwrap().values().cloned().collect();
        let ttl = state.config.codes.unused_ttl_ms;
        let grace = state.config.host_grace.as_millis() as u64;
        for s in sessions {
            let (watched, idle_since, away_since, mirror) = {
                let inner = s.inner.lock().unwrap();
                (
                    inner.watched(),
                    inner.idle_since,
                    inner.host_away_since,
                    mirror_linger(&state, &inner),
                )
            };
            if away_since.is_some_and(|t| now.saturating_sub(t) > grace) {
                tracing::info!(session = s.id, "host did not come back: session ended");
                s.end_with(close::SESSION_ENDED, "the host did not come back");
                state.remove_session(&s);
            } else if watched {
                let skipped = s.check_lag(now, state.config.max_lag_ms);
                state.metrics.checkpoint_skips.inc_by(skipped);
                let lookup = s.inner.lock().unwrap().lookup;
                state.codes.lock().unwrap().touch(lookup, now);
            } else if let Some(linger) = mirror {
                if now.saturating_sub(idle_since) > linger {
                    // A cluster node mirroring a session nobody here watches any more.
                    tracing::debug!(session = s.id, "mirror without viewers: dropped");
                    state.remove_session(&s);
                }
            } else if now.saturating_sub(idle_since) > ttl {
                tracing::info!(session = s.id, "key expired unused: session ended");
                s.end_with(close::EXPIRED, "session key expired unused");
                state.remove_session(&s);
            }
        }
        state.codes.lock().unwrap().expire(now);
    }
}

/// How long a session this node only mirrors stays without viewers (`None`: not a mirror).
fn mirror_linger(state: &RelayState, inner: &SessionInner) -> Option<u64> {
    #[cfg(feature = "cluster")]
    if inner.is_mirror() {
        return state
            .cluster
            .as_ref()
            .map(|c| c.config.mirror_linger.as_millis() as u64);
    }
    let _ = (state, inner);
    None
}

impl RelayState {
    /// Counts a session against its client network's cap; false when the network has its share.
    pub(super) fn take_host_slot(&self, client: &str) -> bool {
        let mut slots = self.host_slots.lock().unwrap();
        let n = slots.entry(client.to_string()).or_insert(0);
        if *n >= self.config.max_sessions_per_client {
            return false;
        }
        *n += 1;
        true
    }

    pub(super) fn release_host_slot(&self, client: &str) {
        let mut slots = self.host_slots.lock().unwrap();
        if let Some(n) = slots.get_mut(client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                slots.remove(client);
            }
        }
    }

    /// Forgets a session that ended (its key may be drawn again).
    pub(super) fn remove_session(&self, session: &Arc<Session>) {
        if self.sessions.lock().unwrap().remove(&session.id).is_some() {
            if let Some(client) = session.client.lock().unwrap().take() {
                self.release_host_slot(&client);
            }
        }
        #[cfg(feature = "cluster")]
        if let Some(cluster) = &self.cluster {
            cluster.forget(session);
        }
        let lookup = session.inner.lock().unwrap().lookup;
        let mut codes = self.codes.lock().unwrap();
        if codes.get(lookup).is_some_and(|s| Arc::ptr_eq(&s, session)) {
            codes.remove(lookup);
        }
        codes.forget_resumes(|s| Arc::ptr_eq(s, session));
    }
}
