//! One shared screen on the relay: its fan-out, its viewers, the queue to its host, and what
//! happens while the host is away.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use glimpse::session::{Control, ControlEvent, FanOut, FanOutEvent, ViewerId};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::RelayState;
use crate::protocol::{close, Lookup, Message, ViewerEntry};

/// Session messages queued for one viewer at most; a viewer that lets more pile up is closed.
const VIEWER_OUTBOX: usize = 64;
/// Join attempts per second a session accepts (bursts of [`JOIN_BURST`]).
const JOINS_PER_SECOND: f64 = 10.0;
const JOIN_BURST: f64 = 30.0;

pub(super) struct Session {
    /// Internal id, for logs (never a code).
    pub id: u64,
    /// The client network that created it (for the per-network cap).
    pub client: String,
    secret_hash: [u8; 32],
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
    /// The host connection that owns the session; `None` while the host is away.
    pub host_conn: Option<u64>,
    /// Since when the host is away (ms).
    pub host_away_since: Option<u64>,
    /// The next viewer id to hand out (ids are not reused; resumed viewers keep theirs).
    pub next_viewer: ViewerId,
    /// Failed joins against the current lookup (wrong codes, abandoned key exchanges); past the
    /// relay's per-code budget new joins are refused until the host burns the code.
    pub code_failures: u32,
    /// Join attempts: tokens left and when they were counted (a flood of joins cannot swamp the
    /// host's queue).
    pub join_tokens: f64,
    pub join_tokens_at: u64,
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
    pub fn new(id: u64, secret: &[u8; 32], client: String, inner: SessionInner) -> Arc<Session> {
        Arc::new(Session {
            id,
            client,
            secret_hash: Sha256::digest(secret).into(),
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
    /// the next checkpoint, and asks the host for one (at most one outstanding). Returns how many
    /// viewers were marked.
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
        let request = marked > 0 && !inner.resync_requested && inner.host_conn.is_some();
        if request {
            inner.resync_requested = true;
            inner.push_host(&Message::CheckpointRequest);
        }
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
        }
        for slot in inner.viewers.values() {
            slot.notify.notify_one();
        }
        drop(inner);
        self.host_notify.notify_one();
    }
}

impl SessionInner {
    pub fn new(lookup: Lookup, fanout: FanOut, now: u64) -> Self {
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
            host_conn: None,
            host_away_since: None,
            next_viewer: 1,
            code_failures: 0,
            join_tokens: JOIN_BURST,
            join_tokens_at: now,
        }
    }

    pub fn host_connected(&self) -> bool {
        self.host_conn.is_some()
    }

    /// Queues a message for the host (dropped while the host is away: it re-syncs on return).
    pub fn push_host(&mut self, message: &Message<'_>) {
        if self.host_conn.is_some() {
            self.to_host.push_back(Bytes::from(message.encode()));
        }
    }

    pub fn push_viewer(&mut self, viewer: ViewerId, message: &Message<'_>) {
        if let Some(slot) = self.viewers.get_mut(&viewer) {
            if slot.outbox.len() < VIEWER_OUTBOX {
                slot.outbox.push_back(Bytes::from(message.encode()));
            } else {
                slot.kick = Some((close::STALLED, "viewer does not read its messages".into()));
            }
            slot.notify.notify_one();
        }
    }

    /// Queues `message` for every viewer.
    pub fn broadcast(&mut self, message: &Message<'_>) {
        let ids: Vec<ViewerId> = self.viewers.keys().copied().collect();
        for id in ids {
            self.push_viewer(id, message);
        }
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
        if need && self.host_conn.is_some() {
            self.push_host(&Message::CheckpointRequest);
            return true;
        }
        false
    }

    /// Admitted viewers.
    pub fn admitted_count(&self) -> usize {
        self.viewers.values().filter(|s| s.admitted()).count()
    }

    /// Takes one join attempt from the session's budget; false when joins come too fast.
    pub fn take_join_token(&mut self, now: u64) -> bool {
        let elapsed = now.saturating_sub(self.join_tokens_at) as f64 / 1000.0;
        self.join_tokens = (self.join_tokens + elapsed * JOINS_PER_SECOND).min(JOIN_BURST);
        self.join_tokens_at = now;
        if self.join_tokens < 1.0 {
            return false;
        }
        self.join_tokens -= 1.0;
        true
    }

    pub fn counts_changed(&mut self) {
        for slot in self.viewers.values_mut() {
            slot.count_dirty = true;
            slot.notify.notify_one();
        }
    }

    /// The admitted viewers, as the host knows them.
    pub fn viewer_entries(&self) -> Vec<ViewerEntry> {
        let mut entries: Vec<ViewerEntry> = self
            .viewers
            .values()
            .filter(|s| s.admitted())
            .map(|s| s.entry.clone())
            .collect();
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
            let (watched, idle_since, away_since) = {
                let inner = s.inner.lock().unwrap();
                (
                    !inner.viewers.is_empty(),
                    inner.idle_since,
                    inner.host_away_since,
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
            } else if now.saturating_sub(idle_since) > ttl {
                tracing::info!(session = s.id, "key expired unused: session ended");
                s.end_with(close::EXPIRED, "session key expired unused");
                state.remove_session(&s);
            }
        }
        state.codes.lock().unwrap().expire(now);
    }
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
            self.release_host_slot(&session.client);
        }
        let lookup = session.inner.lock().unwrap().lookup;
        let mut codes = self.codes.lock().unwrap();
        if codes.get(lookup).is_some_and(|s| Arc::ptr_eq(&s, session)) {
            codes.remove(lookup);
        }
        codes.forget_resumes(|s| Arc::ptr_eq(s, session));
    }
}
