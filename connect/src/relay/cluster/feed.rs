//! The stream between nodes, mirror side: each mirror reads the session's stream from JetStream
//! with one ordered consumer and feeds its own fan-out. A consumer that stalls (its NATS server
//! died, or its link did) is recreated after the last message it delivered: the origin tells its
//! mirrors how far JetStream stored the stream, and a consumer that stays behind that without
//! delivering is taken as stalled.

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::push, consumer::DeliverPolicy};
use bytes::Bytes;
use futures_util::StreamExt;
use glimpse::session::StreamKind;
use tokio::sync::watch;
use tokio::time::Instant;

use super::stream::sleep_until;
use super::wire::{self, Sid};
use super::{epoch_ms, AbortOnDrop, Cluster};
use crate::protocol::Message;
use crate::relay::session::{Session, SessionInner};
use crate::relay::RelayState;

/// A mirror's consumer that delivers nothing for this long while JetStream holds more of the
/// stream (as the origin says) is taken as stalled and recreated.
const STALL_LIMIT: Duration = Duration::from_secs(2);

/// Between two attempts to create a mirror's consumer.
const CONSUMER_RETRY: Duration = Duration::from_millis(500);

/// How long the first [`QUICK_CREATE_ATTEMPTS`] attempts to create a consumer wait for
/// JetStream's answer. A request that reaches JetStream while it elects a leader (a NATS server
/// died) is never answered: a short wait tries again soon after the new leader is there. Later
/// attempts wait as long as any other request, so a cluster that is merely slow still answers.
const QUICK_CREATE_TIMEOUT: Duration = Duration::from_secs(2);
const QUICK_CREATE_ATTEMPTS: u32 = 4;

/// Where a mirror's consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::relay) enum Start {
    /// The subject's first message: the latest checkpoint.
    All,
    /// After this stream sequence (an origin that became a mirror: what it published itself).
    After(u64),
}

/// Mirror side: the session's JetStream consumer, feeding the node's fan-out until dropped.
pub(in crate::relay) struct MirrorFeed {
    /// The last stream sequence JetStream stored for the session, as its origin says.
    stored: watch::Sender<u64>,
    _task: AbortOnDrop,
}

impl MirrorFeed {
    /// The origin says JetStream stored the session's stream up to `sequence`: a consumer that
    /// stays behind it without delivering anything for [`STALL_LIMIT`] is recreated.
    pub fn origin_stored(&self, sequence: u64) {
        self.stored.send_if_modified(|stored| {
            let newer = sequence > *stored;
            *stored = (*stored).max(sequence);
            newer
        });
    }
}

/// Mirror side: starts the session's consumer. `last_seq`: the stream position the fan-out is
/// at (a former origin), if any.
pub(in crate::relay) fn start_consumer(
    state: &Arc<RelayState>,
    sid: Sid,
    session: &Arc<Session>,
    start: Start,
    last_seq: Option<u64>,
) -> Option<MirrorFeed> {
    let cluster = state.cluster.clone()?;
    let (stored, stored_rx) = watch::channel(0);
    let task = tokio::spawn(consume(
        state.clone(),
        cluster,
        sid,
        Arc::downgrade(session),
        (start, last_seq),
        stored_rx,
    ));
    Some(MirrorFeed {
        stored,
        _task: AbortOnDrop(task),
    })
}

async fn consume(
    state: Arc<RelayState>,
    cluster: Arc<Cluster>,
    sid: Sid,
    session: Weak<Session>,
    (start, last_seq): (Start, Option<u64>),
    mut stored: watch::Receiver<u64>,
) {
    let mut feed = Feed::new(sid, last_seq, state.config.max_host_message);
    if let Start::After(n) = start {
        feed.last_stream_seq = n;
    }
    // After an error (or the end of its messages), the next consumer waits a little: a failure
    // that comes back at once must not turn into a storm of consumer creations.
    let mut pause_first = false;
    loop {
        if std::mem::take(&mut pause_first) {
            tokio::time::sleep(CONSUMER_RETRY).await;
        }
        let Some(mut messages) = create_consumer(&cluster, sid, &feed, &session).await else {
            return;
        };
        feed.started_ms = epoch_ms();
        // A new connection to NATS restarts the consumer after the last message it delivered:
        // the old one may have stalled on a flow control reply lost with the link.
        let mut connections = cluster.connections.clone();
        connections.borrow_and_update();
        let mut watch = StallWatch::default();
        watch.stored(
            *stored.borrow_and_update(),
            feed.last_stream_seq,
            Instant::now(),
        );
        loop {
            let item = tokio::select! {
                item = messages.next() => item,
                changed = connections.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    tracing::debug!(sid, "NATS reconnected: mirror consumer restarts");
                    break;
                }
                changed = stored.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let sequence = *stored.borrow_and_update();
                    watch.stored(sequence, feed.last_stream_seq, Instant::now());
                    continue;
                }
                _ = sleep_until(watch.deadline) => {
                    tracing::info!(
                        sid,
                        delivered = feed.last_stream_seq,
                        stored = watch.stored,
                        "mirror consumer stalled behind the stream: it restarts"
                    );
                    cluster.metrics.mirror_consumer_restarts.inc();
                    break;
                }
            };
            let Some(item) = item else {
                pause_first = true;
                break;
            };
            let Some(session) = session.upgrade() else {
                return;
            };
            match item {
                Ok(message) => {
                    feed.on_message(&state, &cluster, &session, &message);
                    watch.delivered(feed.last_stream_seq, Instant::now());
                }
                // The ordered consumer would recreate itself, but backs off to 10 s between
                // attempts: this loop retries sooner, from the last message delivered.
                Err(e) => {
                    tracing::debug!(error = %e, sid, "mirror consumer interrupted: it restarts");
                    cluster.metrics.mirror_consumer_restarts.inc();
                    pause_first = true;
                    break;
                }
            }
        }
    }
}

type OrderedMessages = async_nats::jetstream::consumer::push::Ordered;

/// Creates the session's ordered consumer after the last message `feed` took, retrying every
/// [`CONSUMER_RETRY`] until it exists (`None`: the session is gone). The first
/// [`QUICK_CREATE_ATTEMPTS`] wait [`QUICK_CREATE_TIMEOUT`] for JetStream's answer, later ones as
/// long as any other request.
async fn create_consumer(
    cluster: &Cluster,
    sid: Sid,
    feed: &Feed,
    session: &Weak<Session>,
) -> Option<OrderedMessages> {
    for attempt in 0u32.. {
        let mut js = cluster.js.clone();
        if attempt < QUICK_CREATE_ATTEMPTS {
            js.set_timeout(QUICK_CREATE_TIMEOUT);
        }
        let deliver_policy = match feed.last_stream_seq {
            0 => DeliverPolicy::All,
            n => DeliverPolicy::ByStartSequence {
                start_sequence: n + 1,
            },
        };
        let config = push::OrderedConfig {
            deliver_subject: cluster.client.new_inbox(),
            filter_subject: cluster.names.stream_subject(sid),
            deliver_policy,
            ..Default::default()
        };
        let created = js
            .create_consumer_on_stream(config, cluster.names.stream())
            .await;
        let messages = match created {
            Ok(consumer) => consumer.messages().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match messages {
            Ok(messages) => return Some(messages),
            Err(e) => {
                tracing::debug!(error = %e, sid, "mirror consumer not created: retrying");
                tokio::time::sleep(CONSUMER_RETRY).await;
                if session.strong_count() == 0 {
                    return None;
                }
            }
        }
    }
    None
}

/// Notices a mirror's consumer that stopped delivering while JetStream holds more of the stream:
/// its server died, or its link did, and the consumer has not noticed yet.
#[derive(Debug, Default)]
struct StallWatch {
    /// The last stream sequence stored for the session, as the origin said.
    stored: u64,
    /// When the consumer is taken as stalled, unless it delivers before.
    deadline: Option<Instant>,
}

impl StallWatch {
    /// The origin said JetStream stored the stream up to `stored`; the consumer delivered up to
    /// `delivered`. Behind it, the consumer has [`STALL_LIMIT`] to deliver something (a deadline
    /// already running stays: the origin's reports must not keep pushing it back).
    fn stored(&mut self, stored: u64, delivered: u64, now: Instant) {
        self.stored = self.stored.max(stored);
        if delivered >= self.stored {
            self.deadline = None;
        } else if self.deadline.is_none() {
            self.deadline = Some(now + STALL_LIMIT);
        }
    }

    /// The consumer delivered up to `delivered`: it lives; still behind, it gets
    /// [`STALL_LIMIT`] again.
    fn delivered(&mut self, delivered: u64, now: Instant) {
        self.deadline = (delivered < self.stored).then(|| now + STALL_LIMIT);
    }
}

struct Partial {
    id: String,
    next: u32,
    count: u32,
    buf: Vec<u8>,
}

/// A mirror's view of the stream: chunk reassembly, duplicates, gaps and lag.
struct Feed {
    sid: Sid,
    last_stream_seq: u64,
    /// The `seq` of the last update or checkpoint pushed into the fan-out.
    last_seq: Option<u64>,
    /// Updates are dropped until the next checkpoint (a gap, or this node fell behind).
    broken: bool,
    partial: Option<Partial>,
    max_message: usize,
    /// When the current consumer started (ms since the Unix epoch): older messages are the
    /// catch-up log, not lag.
    started_ms: u64,
}

impl Feed {
    fn new(sid: Sid, last_seq: Option<u64>, max_message: usize) -> Feed {
        Feed {
            sid,
            last_stream_seq: 0,
            last_seq,
            broken: false,
            partial: None,
            max_message,
            started_ms: 0,
        }
    }

    fn on_message(
        &mut self,
        state: &RelayState,
        cluster: &Cluster,
        session: &Session,
        message: &jetstream::Message,
    ) {
        let Ok(info) = message.info() else { return };
        if info.stream_sequence <= self.last_stream_seq {
            return; // delivered before this consumer was recreated
        }
        self.last_stream_seq = info.stream_sequence;
        let published_ms = (info.published.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
        cluster
            .metrics
            .stream_received_bytes
            .inc_by(message.payload.len() as u64);
        let Some(bytes) = self.reassemble(message) else {
            return;
        };
        let mut inner = session.inner.lock().unwrap();
        let behind = published_ms >= self.started_ms
            && epoch_ms().saturating_sub(published_ms) > state.config.max_lag_ms;
        if behind && !self.broken {
            tracing::info!(
                sid = self.sid,
                "mirror fell behind: skipping to a checkpoint"
            );
            self.resync(cluster, &mut inner);
        }
        self.push(state, cluster, &mut inner, bytes);
        inner.drain_events();
    }

    fn reassemble(&mut self, message: &jetstream::Message) -> Option<Bytes> {
        let headers = message.headers.as_ref();
        let chunk = headers
            .and_then(|h| h.get(wire::CHUNK_HEADER))
            .and_then(|v| wire::parse_chunk(v.as_str()));
        let Some((index, count)) = chunk else {
            self.partial = None;
            return Some(message.payload.clone());
        };
        let id = headers
            .and_then(|h| h.get(wire::MESSAGE_HEADER))
            .map_or(String::new(), |v| v.as_str().to_string());
        if index == 0 {
            self.partial = Some(Partial {
                id: id.clone(),
                next: 0,
                count,
                buf: Vec::new(),
            });
        }
        let fits = self.partial.as_ref().is_some_and(|p| {
            p.id == id
                && p.next == index
                && p.count == count
                && p.buf.len() + message.payload.len() <= self.max_message
        });
        if !fits {
            // A chunk is missing (we started in the middle, or NATS lost one).
            self.partial = None;
            self.broken |= index == 0 || self.last_seq.is_some();
            return None;
        }
        let partial = self.partial.as_mut()?;
        partial.buf.extend_from_slice(&message.payload);
        partial.next += 1;
        if partial.next < count {
            return None;
        }
        self.partial.take().map(|p| Bytes::from(p.buf))
    }

    /// Drops updates until the next checkpoint, and asks for one.
    fn resync(&mut self, cluster: &Cluster, inner: &mut SessionInner) {
        self.broken = true;
        cluster.metrics.mirror_resyncs.inc();
        if !inner.resync_requested {
            inner.resync_requested = true;
            inner.push_host(&Message::CheckpointRequest);
        }
    }

    fn push(
        &mut self,
        state: &RelayState,
        cluster: &Cluster,
        inner: &mut SessionInner,
        bytes: Bytes,
    ) {
        let Ok(Message::Stream(packet)) = Message::decode(&bytes) else {
            return;
        };
        let (kind, seq) = (packet.kind, packet.seq);
        let now = state.now_ms();
        match kind {
            StreamKind::Checkpoint { .. } => {
                // A join checkpoint continues the stream only if this node saw all of it.
                let joined = !self.broken
                    && self.last_seq.is_some()
                    && inner.stream_packet(bytes.clone(), kind, seq, now).is_ok();
                if !joined {
                    let restart = StreamKind::Checkpoint { restart: true };
                    if inner.stream_packet(bytes, restart, seq, now).is_err() {
                        return;
                    }
                }
                self.broken = false;
                self.last_seq = Some(seq);
            }
            StreamKind::Update | StreamKind::Cursor => {
                if self.broken {
                    return;
                }
                if kind == StreamKind::Update && self.last_seq.is_some_and(|last| seq <= last) {
                    return; // had it already
                }
                if inner.stream_packet(bytes, kind, seq, now).is_err() {
                    self.resync(cluster, inner);
                } else if kind == StreamKind::Update {
                    self.last_seq = Some(seq);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumer_behind_what_was_stored_has_the_stall_limit_to_deliver() {
        let t0 = Instant::now();
        let mut watch = StallWatch::default();
        watch.stored(10, 10, t0);
        assert_eq!(watch.deadline, None, "caught up: nothing to wait for");
        watch.stored(12, 10, t0);
        assert_eq!(watch.deadline, Some(t0 + STALL_LIMIT));
        // The origin's later reports do not push the deadline back.
        watch.stored(14, 10, t0 + Duration::from_secs(1));
        assert_eq!(watch.deadline, Some(t0 + STALL_LIMIT));
        // An older report changes nothing either.
        watch.stored(3, 10, t0 + Duration::from_secs(1));
        assert_eq!(watch.stored, 14);
        // Delivering, still behind: alive, the limit starts again.
        let t1 = t0 + Duration::from_millis(1500);
        watch.delivered(12, t1);
        assert_eq!(watch.deadline, Some(t1 + STALL_LIMIT));
        // Caught up: no deadline.
        watch.delivered(14, t1);
        assert_eq!(watch.deadline, None);
    }

    #[test]
    fn a_new_consumer_starts_its_watch_from_what_was_stored() {
        let t0 = Instant::now();
        let mut watch = StallWatch::default();
        watch.stored(20, 0, t0);
        assert_eq!(watch.deadline, Some(t0 + STALL_LIMIT));
        watch.delivered(25, t0);
        assert_eq!(watch.deadline, None, "delivered past the report");
    }

    #[test]
    fn the_feed_keeps_the_highest_report_and_wakes_only_on_news() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (stored, mut rx) = watch::channel(0);
        let feed = MirrorFeed {
            stored,
            _task: AbortOnDrop(runtime.spawn(async {})),
        };
        feed.origin_stored(7);
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), 7);
        feed.origin_stored(5);
        assert!(!rx.has_changed().unwrap(), "an older report is no news");
        assert_eq!(*rx.borrow(), 7);
    }
}
