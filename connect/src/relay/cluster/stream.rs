//! The stream between nodes: the origin publishes the host's stream messages to JetStream (one
//! copy, chunked over the server's payload limit, a rollup at each checkpoint); each mirror reads
//! them with one ordered consumer per session and feeds its own fan-out.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::push, consumer::DeliverPolicy};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::stream::FuturesOrdered;
use futures_util::StreamExt;
use glimpse::session::StreamKind;
use tokio::sync::mpsc;

use super::directory::retry;
use super::wire::{self, Names, Sid};
use super::{epoch_ms, AbortOnDrop, Cluster, ClusterConfig, ClusterError};
use crate::protocol::Message;
use crate::relay::session::{Session, SessionInner};
use crate::relay::RelayState;

/// Publishes awaiting JetStream's acknowledgement at most, per session.
const MAX_ACKS_IN_FLIGHT: usize = 256;

/// Creates the stream of every session's latest checkpoint and catch-up log (or opens it).
pub(super) async fn setup(
    js: &jetstream::Context,
    names: &Names,
    config: &ClusterConfig,
    replicas: usize,
) -> Result<(), ClusterError> {
    let storage = if config.memory_storage {
        jetstream::stream::StorageType::Memory
    } else {
        jetstream::stream::StorageType::File
    };
    let stream = jetstream::stream::Config {
        name: names.stream(),
        description: Some("Glimpse sessions: latest checkpoint and catch-up log".into()),
        subjects: vec![names.stream_subjects()],
        storage,
        num_replicas: replicas,
        allow_rollup: true,
        max_bytes: config.stream_max_bytes,
        // A session's subject holds its latest checkpoint and what followed; a screen that did
        // not change for longer than this is fetched from its host again.
        max_age: config.session_ttl * 6,
        discard: jetstream::stream::DiscardPolicy::Old,
        ..Default::default()
    };
    retry(config.connect_timeout, "stream", || {
        let stream = stream.clone();
        async move { js.get_or_create_stream(stream).await }
    })
    .await?;
    Ok(())
}

impl Cluster {
    /// Drops a session's subject (it ended).
    pub(super) async fn purge_stream(&self, sid: Sid) {
        let subject = self.names.stream_subject(sid);
        match self.js.get_stream_no_info(self.names.stream()).await {
            Ok(stream) => {
                if let Err(e) = stream.purge().filter(subject).await {
                    tracing::debug!(error = %e, "stream subject not purged");
                }
            }
            Err(e) => tracing::debug!(error = %e, "stream not found for purging"),
        }
    }
}

struct PublisherShared {
    queued: AtomicUsize,
    overflow: AtomicBool,
    /// The stream sequence of the last message JetStream took.
    last_sequence: AtomicU64,
}

/// Origin side: the host's stream messages on their way to JetStream, in order, bounded in bytes.
pub(in crate::relay) struct Publisher {
    tx: mpsc::UnboundedSender<(Bytes, bool)>,
    shared: Arc<PublisherShared>,
    limit: usize,
    _task: AbortOnDrop,
}

impl Publisher {
    pub fn start(cluster: &Arc<Cluster>, sid: Sid, session: Weak<Session>) -> Publisher {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(PublisherShared {
            queued: AtomicUsize::new(0),
            overflow: AtomicBool::new(false),
            last_sequence: AtomicU64::new(0),
        });
        let task = tokio::spawn(publish_loop(
            cluster.clone(),
            sid,
            rx,
            shared.clone(),
            session,
        ));
        Publisher {
            tx,
            shared,
            limit: cluster.config.publish_queue_bytes,
            _task: AbortOnDrop(task),
        }
    }

    /// Queues a stream message. Over the byte bound, updates are dropped (the stream restarts at
    /// the next checkpoint, which is asked for); checkpoints always go.
    pub fn offer(&self, bytes: Bytes, checkpoint: bool) {
        let queued = self.shared.queued.load(Ordering::Relaxed);
        if !checkpoint && queued + bytes.len() > self.limit {
            self.shared.overflow.store(true, Ordering::Relaxed);
            return;
        }
        self.shared.queued.fetch_add(bytes.len(), Ordering::Relaxed);
        let _ = self.tx.send((bytes, checkpoint));
    }

    /// The stream sequence of the last message JetStream took (0: none yet).
    pub fn last_sequence(&self) -> u64 {
        self.shared.last_sequence.load(Ordering::Relaxed)
    }
}

type AckFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
            > + Send,
    >,
>;

async fn publish_loop(
    cluster: Arc<Cluster>,
    sid: Sid,
    mut rx: mpsc::UnboundedReceiver<(Bytes, bool)>,
    shared: Arc<PublisherShared>,
    session: Weak<Session>,
) {
    let subject = cluster.names.stream_subject(sid);
    let mut acks: FuturesOrdered<AckFuture> = FuturesOrdered::new();
    // After a failure, updates are dropped until a checkpoint went out (mirrors restart there).
    let mut broken = false;
    // When to ask the host for that checkpoint: at most once a second while NATS fails.
    let mut ask_at: Option<tokio::time::Instant> = None;
    let mut asked_at: Option<tokio::time::Instant> = None;
    let mut message_id = 0u64;
    loop {
        let failed = tokio::select! {
            item = rx.recv() => {
                let Some((bytes, checkpoint)) = item else { return };
                shared.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
                let mut failed = shared.overflow.swap(false, Ordering::Relaxed);
                if (broken || failed) && !checkpoint {
                    failed
                } else {
                    while acks.len() >= MAX_ACKS_IN_FLIGHT {
                        if let Some(result) = acks.next().await {
                            failed |= !acked(&shared, result);
                        }
                    }
                    message_id += 1;
                    let sent =
                        publish_chunks(&cluster, &subject, bytes, checkpoint, message_id, &mut acks)
                            .await;
                    if sent && checkpoint && !failed {
                        broken = false;
                    }
                    failed || !sent
                }
            }
            Some(result) = acks.next(), if !acks.is_empty() => !acked(&shared, result),
            _ = sleep_until(ask_at), if ask_at.is_some() => {
                ask_at = None;
                asked_at = Some(tokio::time::Instant::now());
                request_checkpoint(&session);
                false
            }
        };
        if failed {
            if !broken {
                tracing::warn!(
                    sid,
                    "the stream did not reach JetStream: restarting from a checkpoint"
                );
            }
            broken = true;
            cluster.metrics.publish_failures.inc();
            if ask_at.is_none() {
                let soonest =
                    asked_at.map_or_else(tokio::time::Instant::now, |t| t + Duration::from_secs(1));
                ask_at = Some(soonest);
            }
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn acked(
    shared: &PublisherShared,
    result: Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
) -> bool {
    match result {
        Ok(ack) => {
            shared
                .last_sequence
                .fetch_max(ack.sequence, Ordering::Relaxed);
            true
        }
        Err(e) => {
            tracing::debug!(error = %e, "stream message not stored");
            false
        }
    }
}

/// Publishes one stream message, in chunks when it is over the payload limit. False when NATS
/// refused it.
async fn publish_chunks(
    cluster: &Cluster,
    subject: &str,
    bytes: Bytes,
    checkpoint: bool,
    message_id: u64,
    acks: &mut FuturesOrdered<AckFuture>,
) -> bool {
    let chunk = cluster.max_payload.saturating_sub(4096).max(1024);
    let count = bytes.len().div_ceil(chunk).max(1);
    if count > 1 {
        cluster.metrics.chunked_messages.inc();
    }
    for index in 0..count {
        let part = bytes.slice(index * chunk..((index + 1) * chunk).min(bytes.len()));
        let mut headers = HeaderMap::new();
        if count > 1 {
            headers.insert(wire::CHUNK_HEADER, format!("{index}/{count}"));
            headers.insert(wire::MESSAGE_HEADER, message_id.to_string());
        }
        if checkpoint && index == 0 {
            headers.insert(wire::ROLLUP_HEADER, "sub");
        }
        let len = part.len() as u64;
        match cluster
            .js
            .publish_with_headers(subject.to_string(), headers, part)
            .await
        {
            Ok(ack) => {
                acks.push_back(Box::pin(std::future::IntoFuture::into_future(ack)));
                cluster.metrics.stream_published_bytes.inc_by(len);
            }
            Err(e) => {
                tracing::debug!(error = %e, "stream message not published");
                return false;
            }
        }
    }
    true
}

/// Asks the session's host (origin) for a checkpoint, or the origin (mirror), once until one
/// arrives.
fn request_checkpoint(session: &Weak<Session>) {
    let Some(session) = session.upgrade() else {
        return;
    };
    let mut inner = session.inner.lock().unwrap();
    if !inner.resync_requested {
        inner.resync_requested = true;
        inner.push_host(&Message::CheckpointRequest);
    }
    drop(inner);
    session.host_notify.notify_one();
}

/// Where a mirror's consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::relay) enum Start {
    /// The subject's first message: the latest checkpoint.
    All,
    /// After this stream sequence (an origin that became a mirror: what it published itself).
    After(u64),
}

/// Mirror side: starts the session's consumer, which feeds its fan-out until the returned handle
/// is dropped. `last_seq`: the stream position the fan-out is at (a former origin), if any.
pub(in crate::relay) fn start_consumer(
    state: &Arc<RelayState>,
    sid: Sid,
    session: &Arc<Session>,
    start: Start,
    last_seq: Option<u64>,
) -> Option<AbortOnDrop> {
    let cluster = state.cluster.clone()?;
    let task = tokio::spawn(consume(
        state.clone(),
        cluster,
        sid,
        Arc::downgrade(session),
        start,
        last_seq,
    ));
    Some(AbortOnDrop(task))
}

async fn consume(
    state: Arc<RelayState>,
    cluster: Arc<Cluster>,
    sid: Sid,
    session: Weak<Session>,
    start: Start,
    last_seq: Option<u64>,
) {
    let mut feed = Feed::new(sid, last_seq, state.config.max_host_message);
    if let Start::After(n) = start {
        feed.last_stream_seq = n;
    }
    loop {
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
        let created = cluster
            .js
            .create_consumer_on_stream(config, cluster.names.stream())
            .await;
        let messages = match created {
            Ok(consumer) => consumer.messages().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let mut messages = match messages {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, sid, "mirror consumer not created: retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                if session.strong_count() == 0 {
                    return;
                }
                continue;
            }
        };
        feed.started_ms = epoch_ms();
        // A new connection to NATS restarts the consumer after the last message it delivered:
        // the old one may have stalled on a flow control reply lost with the link.
        let mut connections = cluster.connections.clone();
        connections.borrow_and_update();
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
            };
            let Some(item) = item else { break };
            let Some(session) = session.upgrade() else {
                return;
            };
            match item {
                Ok(message) => feed.on_message(&state, &cluster, &session, &message),
                // The ordered consumer recreates itself from the last message it delivered.
                Err(e) => tracing::debug!(error = %e, sid, "mirror consumer interrupted"),
            }
        }
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
