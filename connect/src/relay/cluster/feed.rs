//! The stream between nodes, mirror side: each mirror reads the session's stream from JetStream
//! with one ordered consumer and feeds its own fan-out. A consumer that stalls (its NATS server
//! died, or its link did) is recreated after the last message it delivered: the origin tells its
//! mirrors how far JetStream stored the stream, and a consumer that stays behind that without
//! delivering is taken as stalled.

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::push, consumer::DeliverPolicy};
use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
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

/// After a consumer failed, the next one waits this long.
const CONSUMER_RETRY: Duration = Duration::from_millis(500);

/// While a consumer is being created, another attempt starts this often, up to
/// [`CREATES_IN_FLIGHT`] at once; the first that JetStream answers is used. nats-server 2.9 places
/// a new consumer on any of the stream's servers, a dead one too (until it is known offline), and
/// never answers an attempt placed there; requests sent while JetStream elects a leader get no
/// answer either. Each attempt waits the cluster's request timeout (5 s).
const CREATE_EVERY: Duration = Duration::from_secs(1);
const CREATES_IN_FLIGHT: usize = 4;

/// How long deleting a consumer this node no longer reads may take.
const DELETE_TIMEOUT: Duration = Duration::from_secs(2);

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
        let Some((name, mut messages)) =
            create_consumer(&cluster, sid, feed.last_stream_seq, &session).await
        else {
            return;
        };
        feed.started_ms = epoch_ms();
        // A new connection to NATS restarts the consumer after the last message it delivered:
        // the old one may have stalled on a flow control reply lost with the link.
        let mut connections = cluster.connections.clone();
        connections.borrow_and_update();
        // A consumer is judged by what the origin reports in its lifetime: a report it can never
        // catch up with (a stream created anew, a bogus peer) costs one restart, not one every
        // STALL_LIMIT.
        stored.borrow_and_update();
        let mut watch = StallWatch::default();
        loop {
            let item = tokio::select! {
                // What has arrived is read first: a deadline that passed while the node was
                // busy must not throw it away.
                biased;
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
                    cluster.metrics.mirror_consumer_stalls.inc();
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
                // async-nats would create the consumer again by itself, but its attempts back
                // off to 10 s apart and wait 10 s for an answer: this loop's are closer.
                Err(e) => {
                    tracing::debug!(error = %e, sid, "mirror consumer interrupted: it restarts");
                    cluster.metrics.mirror_consumer_restarts.inc();
                    pause_first = true;
                    break;
                }
            }
        }
        drop(messages);
        delete_consumer(&cluster, name);
    }
}

type OrderedMessages = async_nats::jetstream::consumer::push::Ordered;

/// Creates the session's ordered consumer after stream sequence `after`: its name and
/// messages (`None`: the session is gone). Attempts overlap (see [`CREATE_EVERY`]) until one
/// succeeds.
async fn create_consumer(
    cluster: &Cluster,
    sid: Sid,
    after: u64,
    session: &Weak<Session>,
) -> Option<(String, OrderedMessages)> {
    let pace = Pace {
        every: CREATE_EVERY,
        in_flight: CREATES_IN_FLIGHT,
        retry: CONSUMER_RETRY,
    };
    overlapping(
        || async move {
            create_once(cluster, sid, after).await.map_err(|e| {
                tracing::debug!(error = %e, sid, "mirror consumer not created: retrying");
            })
        },
        pace,
        || session.strong_count() == 0,
    )
    .await
}

/// How [`overlapping`] paces its attempts.
#[derive(Debug, Clone, Copy)]
struct Pace {
    /// A new attempt starts this often...
    every: Duration,
    /// ...while fewer than this many are unanswered.
    in_flight: usize,
    /// A failed attempt makes room for the next after this at most.
    retry: Duration,
}

/// Runs `attempt()` as `pace` says until one succeeds; `None` once `gone()` (asked after each
/// answer or start).
async fn overlapping<T, Fut>(
    mut attempt: impl FnMut() -> Fut,
    pace: Pace,
    gone: impl Fn() -> bool,
) -> Option<T>
where
    Fut: std::future::Future<Output = Result<T, ()>>,
{
    let mut attempts = FuturesUnordered::new();
    let mut next_at = Instant::now();
    loop {
        if attempts.len() < pace.in_flight && Instant::now() >= next_at {
            attempts.push(attempt());
            next_at = Instant::now() + pace.every;
        }
        // With every attempt in flight, only an answer (or a timeout) makes room for the next.
        let room = attempts.len() < pace.in_flight;
        tokio::select! {
            Some(result) = attempts.next() => match result {
                Ok(created) => return Some(created),
                Err(()) => next_at = next_at.min(Instant::now() + pace.retry),
            },
            _ = sleep_until(room.then_some(next_at)) => {}
        }
        if gone() {
            return None;
        }
    }
}

/// One attempt to create the session's ordered consumer after stream sequence `after`.
async fn create_once(
    cluster: &Cluster,
    sid: Sid,
    after: u64,
) -> Result<(String, OrderedMessages), String> {
    let deliver_policy = match after {
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
    let consumer = cluster
        .js
        .create_consumer_on_stream(config, cluster.names.stream())
        .await
        .map_err(|e| e.to_string())?;
    let name = consumer.cached_info().name.clone();
    let messages = consumer.messages().await.map_err(|e| e.to_string())?;
    Ok((name, messages))
}

/// Deletes a consumer this node no longer reads (in the background; JetStream would drop it
/// after 30 s without interest anyway).
fn delete_consumer(cluster: &Arc<Cluster>, name: String) {
    let cluster = cluster.clone();
    tokio::spawn(async move {
        let mut js = cluster.js.clone();
        js.set_timeout(DELETE_TIMEOUT);
        if let Err(e) = js
            .delete_consumer_from_stream(&name, cluster.names.stream())
            .await
        {
            tracing::debug!(error = %e, name, "old mirror consumer not deleted");
        }
    });
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
    fn a_consumer_that_delivered_nothing_yet_is_judged_by_the_first_report() {
        let t0 = Instant::now();
        let mut watch = StallWatch::default();
        watch.stored(20, 0, t0);
        assert_eq!(watch.deadline, Some(t0 + STALL_LIMIT));
        watch.delivered(25, t0);
        assert_eq!(watch.deadline, None, "delivered past the report");
    }

    /// Counts the polls of the future it wraps.
    struct Polls<F> {
        inner: std::pin::Pin<Box<F>>,
        count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl<F: std::future::Future> std::future::Future for Polls<F> {
        type Output = F::Output;
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<F::Output> {
            self.count
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.inner.as_mut().poll(cx)
        }
    }

    fn timer_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    fn pace(every_ms: u64) -> Pace {
        Pace {
            every: Duration::from_millis(every_ms),
            in_flight: 3,
            retry: Duration::from_millis(1),
        }
    }

    #[test]
    fn overlapping_attempts_wait_quietly_when_all_are_in_flight() {
        let runtime = timer_runtime();
        let started = std::sync::atomic::AtomicUsize::new(0);
        let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // No attempt is ever answered: the slots fill up, then the loop must sleep, not spin.
        let run = overlapping(
            || {
                started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                std::future::pending::<Result<(), ()>>()
            },
            pace(5),
            || false,
        );
        let run = Polls {
            inner: Box::pin(run),
            count: polls.clone(),
        };
        let out =
            runtime.block_on(async { tokio::time::timeout(Duration::from_millis(300), run).await });
        assert!(out.is_err(), "nothing was ever answered");
        assert_eq!(started.load(std::sync::atomic::Ordering::Relaxed), 3);
        let polls = polls.load(std::sync::atomic::Ordering::Relaxed);
        assert!(polls < 50, "polled {polls} times in 300 ms: it spins");
    }

    #[test]
    fn overlapping_attempts_take_the_first_answer_and_retry_failures() {
        let runtime = timer_runtime();
        let started = std::sync::atomic::AtomicUsize::new(0);
        // The first two fail at once, the third is never answered, the fourth succeeds.
        let out = runtime.block_on(overlapping(
            || {
                let n = started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                async move {
                    match n {
                        0 | 1 => Err(()),
                        2 => std::future::pending().await,
                        _ => Ok(n),
                    }
                }
            },
            pace(5),
            || false,
        ));
        assert_eq!(out, Some(3));
        // Nobody needs it any more: it stops after the first answer.
        let out = runtime.block_on(overlapping(
            || async { Err::<(), ()>(()) },
            pace(5),
            || true,
        ));
        assert_eq!(out, None);
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
