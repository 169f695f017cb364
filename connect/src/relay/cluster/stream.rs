//! The stream between nodes, origin side: the origin publishes the host's stream messages to
//! JetStream (one copy, chunked over the server's payload limit, a rollup at each checkpoint).
//! Mirrors read them back in [`super::feed`].

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::stream::FuturesOrdered;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::directory::retry;
use super::wire::{self, Names, Sid};
use super::{AbortOnDrop, Cluster, ClusterConfig, ClusterError};
use crate::protocol::Message;
use crate::relay::session::Session;

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

pub(super) async fn sleep_until(at: Option<tokio::time::Instant>) {
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
