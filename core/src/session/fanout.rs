//! Fan-out: one host stream to many viewers, each at its own pace, from one shared log.
//!
//! The log holds packets from the oldest one a viewer still needs to the newest. Every viewer is a
//! cursor into it, so memory does not grow with the number of viewers. The latest checkpoint and what
//! followed it (the catch-up log) stay while what followed is at most `max_log_bytes`, so joiners
//! start without bothering the host; past that bound, a fresh checkpoint is requested. A viewer with
//! more than `max_lag_bytes` to go (not counting the checkpoint it starts from) lets go of its
//! cursor and waits for the next checkpoint. So the log holds at most about
//! `max(max_log_bytes, max_lag_bytes)` plus a checkpoint, however many viewers and however slow.
//!
//! Two kinds of checkpoints reach the relay. A *join* checkpoint (same screen, same `seq` as the last
//! update: what [`crate::Encoder::checkpoint`] makes) continues the stream for viewers in step, so
//! they skip it; only joiners and skippers get it. A *restart* checkpoint (the first one, or a new
//! screen size: [`crate::Encoder::encode`] after a resize) starts a new stream that every viewer needs.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::protocol::{PacketHeader, PacketKind, SessionInfo};

/// A viewer's id inside one [`FanOut`] (ids are never reused).
pub type ViewerId = u64;

/// Memory and pacing bounds of a [`FanOut`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FanOutConfig {
    /// Bound of the catch-up log (the packets after the latest checkpoint), 32 MiB; past it a fresh
    /// checkpoint is requested and joiners wait for it.
    pub max_log_bytes: usize,
    /// A viewer with more than this many bytes left to send (after the checkpoint it starts from, if
    /// any) skips to the next checkpoint (8 MiB).
    pub max_lag_bytes: usize,
    /// Unacknowledged bytes in flight per viewer (4 MiB); 0 turns ack pacing off.
    pub window_bytes: usize,
}

impl Default for FanOutConfig {
    fn default() -> Self {
        FanOutConfig {
            max_log_bytes: 32 << 20,
            max_lag_bytes: 8 << 20,
            window_bytes: 4 << 20,
        }
    }
}

/// Something the relay must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FanOutEvent {
    /// Ask the host for a checkpoint ([`crate::Encoder::checkpoint`]). Coalesced: raised again only
    /// after a checkpoint arrived.
    NeedCheckpoint,
}

/// How one viewer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewerStats {
    /// Bytes handed out by [`FanOut::poll_send`].
    pub sent_bytes: u64,
    /// The last `seq` the viewer acknowledged.
    pub acked_seq: Option<u64>,
    /// How often it fell too far behind and skipped to a newer checkpoint.
    pub skips: u32,
    /// Bytes it still has to be sent to reach the newest packet.
    pub lag_bytes: usize,
    /// True once it received a checkpoint and follows the stream (false while it waits for one).
    pub in_sync: bool,
}

/// Where a packet goes in the stream, as the host declares it to [`FanOut::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// A checkpoint. `restart: false` (what [`crate::Encoder::checkpoint`] makes: same screen, same
    /// `seq` as the last update) continues the stream: viewers in step skip it. `restart: true` (the
    /// first one, a new screen size, or the first after the host reconnected) starts a new stream
    /// that every viewer needs.
    Checkpoint {
        /// Starts a new stream.
        restart: bool,
    },
    /// A frame update: `seq` one above the previous one.
    Update,
    /// A cursor shape or position; it belongs to the current `seq`.
    Cursor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Checkpoint { join: bool },
    Update,
    Cursor,
}

struct Entry {
    bytes: Bytes,
    kind: Kind,
    /// The stream `seq` a viewer is at after applying this packet (what its ack names).
    seq: u64,
    /// Stream bytes before this entry (join checkpoints are not part of the stream).
    stream_at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pos {
    /// Needs a checkpoint and none is available: waits for the next one.
    Waiting,
    /// The next packet is log entry `next` (absolute index). `synced` is false while the viewer sits
    /// on a checkpoint it has not been sent yet; in-step viewers (`synced`) skip join checkpoints.
    At { next: u64, synced: bool },
}

struct Viewer {
    pos: Pos,
    /// Sent and not yet acknowledged: (seq tag, bytes).
    in_flight: VecDeque<(u64, usize)>,
    in_flight_bytes: usize,
    sent_bytes: u64,
    acked_seq: Option<u64>,
    skips: u32,
}

/// The relay's state for one shared screen (see the [module docs](super)).
pub struct FanOut {
    config: FanOutConfig,
    log: VecDeque<Entry>,
    /// Absolute index of `log[0]`.
    base: u64,
    /// Stream bytes up to the end of the log.
    stream_end: u64,
    /// Bytes held by `log`.
    held: usize,
    /// Absolute index of the latest checkpoint while the catch-up log is kept.
    catch_up: Option<u64>,
    /// The last `seq` of the stream, once a checkpoint arrived.
    stream_seq: Option<u64>,
    /// The screen of the latest checkpoint read by [`FanOut::host_packet`].
    screen: Option<SessionInfo>,
    viewers: BTreeMap<ViewerId, Viewer>,
    next_id: ViewerId,
    events: VecDeque<FanOutEvent>,
    checkpoint_requested: bool,
}

impl FanOut {
    /// An empty fan-out: no packets, no viewers.
    pub fn new(config: FanOutConfig) -> Self {
        FanOut {
            config,
            log: VecDeque::new(),
            base: 0,
            stream_end: 0,
            held: 0,
            catch_up: None,
            stream_seq: None,
            screen: None,
            viewers: BTreeMap::new(),
            next_id: 1,
            events: VecDeque::new(),
            checkpoint_requested: false,
        }
    }

    /// A Glimpse packet from the host: checkpoint, frame update, cursor shape or position, read with
    /// [`PacketHeader`] (a checkpoint with the screen and `seq` of the stream so far is a join
    /// checkpoint, any other a restart). A malformed header, a frame update before any checkpoint or
    /// one that does not follow the previous update is an error (close the host connection). Cursor
    /// packets before the first checkpoint are dropped: checkpoints carry the cursor. Bodies are not
    /// parsed: viewers' decoders check them.
    pub fn host_packet(&mut self, packet: Bytes, now_ms: u64) -> Result<()> {
        let header = PacketHeader::read(&packet)?;
        let kind = match header.kind {
            PacketKind::Checkpoint => {
                let seq = header.seq.unwrap_or(0);
                let join = self.screen.is_some()
                    && self.screen == header.session
                    && self.stream_seq == Some(seq);
                self.screen = header.session;
                StreamKind::Checkpoint { restart: !join }
            }
            PacketKind::FrameUpdate => StreamKind::Update,
            PacketKind::CursorShape | PacketKind::CursorPosition => StreamKind::Cursor,
        };
        let seq = header.seq.or(self.stream_seq).unwrap_or(0);
        self.push(packet, kind, seq, now_ms)
    }

    /// A packet whose place in the stream the host declares (`kind` and `seq`), for relays that cannot
    /// read the packets themselves (end-to-end encrypted payloads). A frame update must follow the
    /// previous one (`seq` one higher) after a checkpoint; a join checkpoint must repeat the stream's
    /// current `seq`; a restart checkpoint starts a new stream at any `seq`. Cursor packets ignore
    /// `seq` and are dropped before the first checkpoint.
    pub fn push(&mut self, packet: Bytes, kind: StreamKind, seq: u64, _now_ms: u64) -> Result<()> {
        match kind {
            StreamKind::Checkpoint { restart } => {
                let join = !restart && self.stream_seq.is_some();
                if join && self.stream_seq != Some(seq) {
                    let expected = self.stream_seq.unwrap_or(0);
                    return Err(Error::OutOfSync { expected, got: seq });
                }
                self.stream_seq = Some(seq);
                self.push_checkpoint(packet, seq, join);
            }
            StreamKind::Update => {
                let last = self.stream_seq.ok_or(Error::NoCheckpoint)?;
                let expected = last.wrapping_add(1);
                if seq != expected {
                    return Err(Error::OutOfSync { expected, got: seq });
                }
                self.stream_seq = Some(seq);
                self.push_entry(packet, Kind::Update, seq);
            }
            StreamKind::Cursor => {
                let Some(seq) = self.stream_seq else {
                    return Ok(());
                };
                self.push_entry(packet, Kind::Cursor, seq);
            }
        }
        self.enforce_bounds();
        Ok(())
    }

    /// A new viewer. It starts from the latest checkpoint plus the updates since (without bothering
    /// the host); when there is none, or catching up would take more than `max_lag_bytes`, it waits
    /// for the next checkpoint and [`FanOutEvent::NeedCheckpoint`] is raised.
    pub fn add_viewer(&mut self, _now_ms: u64) -> ViewerId {
        let id = self.next_id;
        self.next_id += 1;
        let mut pos = match self.catch_up {
            Some(cp) => Pos::At {
                next: cp,
                synced: false,
            },
            None => Pos::Waiting,
        };
        if self
            .lag(pos, false)
            .is_none_or(|lag| lag > self.config.max_lag_bytes)
        {
            pos = Pos::Waiting;
            self.request_checkpoint();
        }
        self.viewers.insert(
            id,
            Viewer {
                pos,
                in_flight: VecDeque::new(),
                in_flight_bytes: 0,
                sent_bytes: 0,
                acked_seq: None,
                skips: 0,
            },
        );
        id
    }

    /// Forgets a viewer (it disconnected or was removed).
    pub fn remove_viewer(&mut self, id: ViewerId) {
        if self.viewers.remove(&id).is_some() {
            self.trim();
        }
    }

    /// The next packet for `id` if its transport can take one now; call until `None`. `None` while
    /// the viewer has `window_bytes` or more unacknowledged, waits for a checkpoint, or is up to date.
    pub fn poll_send(&mut self, id: ViewerId, _now_ms: u64) -> Option<Bytes> {
        let viewer = self.viewers.get_mut(&id)?;
        let window = self.config.window_bytes;
        if window > 0 && viewer.in_flight_bytes >= window {
            return None;
        }
        loop {
            let Pos::At { next, synced } = viewer.pos else {
                return None;
            };
            let entry = self
                .log
                .get(usize::try_from(next.checked_sub(self.base)?).ok()?)?;
            viewer.pos = Pos::At {
                next: next + 1,
                synced: true,
            };
            if entry.kind == (Kind::Checkpoint { join: true }) && synced {
                continue; // the stream after it suits viewers in step
            }
            let len = entry.bytes.len();
            viewer.in_flight.push_back((entry.seq, len));
            viewer.in_flight_bytes += len;
            viewer.sent_bytes += len as u64;
            return Some(entry.bytes.clone());
        }
    }

    /// The viewer applied everything up to frame update or checkpoint `seq`: frees its window up to
    /// the last packet sent with that `seq` (cursor packets after an update count with it). Unknown
    /// viewers and acks of nothing in flight are ignored.
    pub fn ack(&mut self, id: ViewerId, seq: u64, _now_ms: u64) {
        let Some(viewer) = self.viewers.get_mut(&id) else {
            return;
        };
        let Some(last) = viewer.in_flight.iter().rposition(|&(s, _)| s == seq) else {
            return;
        };
        for (_, len) in viewer.in_flight.drain(..=last) {
            viewer.in_flight_bytes -= len;
        }
        viewer.acked_seq = Some(seq);
    }

    /// The next thing the relay must do, if any.
    pub fn poll_event(&mut self) -> Option<FanOutEvent> {
        self.events.pop_front()
    }

    /// How viewer `id` is doing; `None` for an unknown viewer.
    pub fn viewer_stats(&self, id: ViewerId) -> Option<ViewerStats> {
        let v = self.viewers.get(&id)?;
        Some(ViewerStats {
            sent_bytes: v.sent_bytes,
            acked_seq: v.acked_seq,
            skips: v.skips,
            lag_bytes: self.lag(v.pos, true).unwrap_or(0),
            in_sync: matches!(v.pos, Pos::At { synced: true, .. }),
        })
    }

    /// Viewers connected.
    pub fn viewer_count(&self) -> usize {
        self.viewers.len()
    }

    /// Bytes of packets held (the log shared by all viewers). At most about
    /// `max(max_log_bytes, max_lag_bytes)` plus one checkpoint.
    pub fn log_bytes(&self) -> usize {
        self.held
    }

    fn end(&self) -> u64 {
        self.base + self.log.len() as u64
    }

    fn entry(&self, index: u64) -> Option<&Entry> {
        self.log
            .get(usize::try_from(index.checked_sub(self.base)?).ok()?)
    }

    /// Bytes left to send to a viewer at `pos`; `None` while it waits. Without `checkpoint`, a viewer
    /// sitting on a checkpoint counts only what follows it (the bound decisions: a checkpoint larger
    /// than a bound must not make viewers skip or request checkpoints forever).
    fn lag(&self, pos: Pos, checkpoint: bool) -> Option<usize> {
        let Pos::At { next, synced } = pos else {
            return None;
        };
        let Some(entry) = self.entry(next) else {
            return Some(0);
        };
        let len = entry.bytes.len() as u64;
        let mut lag = self.stream_end - entry.stream_at;
        match entry.kind {
            Kind::Checkpoint { join: true } if !synced && checkpoint => lag += len,
            Kind::Checkpoint { join: false } if !synced && !checkpoint => lag -= len,
            _ => {}
        }
        Some(usize::try_from(lag).unwrap_or(usize::MAX))
    }

    fn push_entry(&mut self, bytes: Bytes, kind: Kind, seq: u64) {
        let len = bytes.len();
        let stream_at = self.stream_end;
        if kind != (Kind::Checkpoint { join: true }) {
            self.stream_end += len as u64;
        }
        self.held += len;
        self.log.push_back(Entry {
            bytes,
            kind,
            seq,
            stream_at,
        });
    }

    fn push_checkpoint(&mut self, bytes: Bytes, seq: u64, join: bool) {
        let index = self.end();
        for viewer in self.viewers.values_mut() {
            // Joiners and skippers start here; so does everybody at a restart (what came before is of
            // no use any more). Viewers in step follow on past a join checkpoint.
            let moves = match viewer.pos {
                Pos::Waiting => true,
                Pos::At { synced, .. } => !join || !synced,
            };
            if moves {
                viewer.pos = Pos::At {
                    next: index,
                    synced: false,
                };
            }
        }
        self.push_entry(bytes, Kind::Checkpoint { join }, seq);
        self.catch_up = Some(index);
        self.checkpoint_requested = false;
    }

    /// Drops the catch-up log past `max_log_bytes`, lets viewers past `max_lag_bytes` go, trims.
    fn enforce_bounds(&mut self) {
        if let Some(cp) = self.catch_up {
            let catch_up = self.lag(
                Pos::At {
                    next: cp,
                    synced: false,
                },
                false,
            );
            if catch_up.unwrap_or(0) > self.config.max_log_bytes {
                self.catch_up = None;
                self.request_checkpoint();
                for viewer in self.viewers.values_mut() {
                    if viewer.pos
                        == (Pos::At {
                            next: cp,
                            synced: false,
                        })
                    {
                        viewer.pos = Pos::Waiting;
                    }
                }
            }
        }
        let mut skipped = false;
        let lags: Vec<(ViewerId, Option<usize>)> = self
            .viewers
            .iter()
            .map(|(&id, v)| (id, self.lag(v.pos, false)))
            .collect();
        for (id, lag) in lags {
            if lag.is_some_and(|lag| lag > self.config.max_lag_bytes) {
                if let Some(viewer) = self.viewers.get_mut(&id) {
                    viewer.pos = Pos::Waiting;
                    viewer.skips += 1;
                    skipped = true;
                }
            }
        }
        if skipped {
            self.request_checkpoint();
        }
        self.trim();
    }

    /// Drops log entries no viewer and no joiner can need.
    fn trim(&mut self) {
        let mut keep_from = self.catch_up.unwrap_or(self.end());
        for viewer in self.viewers.values() {
            if let Pos::At { next, .. } = viewer.pos {
                keep_from = keep_from.min(next);
            }
        }
        while self.base < keep_from {
            let Some(entry) = self.log.pop_front() else {
                break;
            };
            self.held -= entry.bytes.len();
            self.base += 1;
        }
    }

    fn request_checkpoint(&mut self) {
        if !self.checkpoint_requested {
            self.checkpoint_requested = true;
            self.events.push_back(FanOutEvent::NeedCheckpoint);
        }
    }
}
