//! The session directory and the node registry: two JetStream key-value buckets.
//!
//! `PREFIX_sessions`: key `lNNNNN` (the lookup), value a [`SessionRecord`] (JSON). Created with
//! create-if-absent (a lookup is unique in the cluster), changed with compare-and-set on the
//! revision (a takeover), refreshed by the origin while the session lives; the bucket's age limit
//! ([`ClusterConfig::session_ttl`]) removes records nobody refreshes.
//!
//! `PREFIX_nodes`: key `nN`, value a [`NodeRecord`]: a node claims the first free random number at
//! start (create-if-absent) and refreshes it; records of dead nodes expire within
//! [`NODE_RECORD_TTL`].

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use bytes::Bytes;

use super::wire::{self, Names, NodeId, NodeRecord, SessionRecord};
use super::{epoch_ms, ClusterConfig, ClusterError};
use crate::protocol::Lookup;

/// How long a node's record outlives its last refresh.
pub const NODE_RECORD_TTL: Duration = Duration::from_secs(30);

pub(super) struct Directory {
    sessions: kv::Store,
    nodes: kv::Store,
    public_url: std::sync::Mutex<String>,
}

/// Runs `make` until it succeeds or `limit` passes (JetStream elects its leaders for a few seconds
/// after a NATS cluster starts).
pub(super) async fn retry<T, E: std::fmt::Display, F, Fut>(
    limit: Duration,
    what: &str,
    mut make: F,
) -> Result<T, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let until = Instant::now() + limit;
    loop {
        match make().await {
            Ok(value) => return Ok(value),
            Err(e) if Instant::now() >= until => {
                return Err(ClusterError::JetStream(format!("{what}: {e}")))
            }
            Err(e) => {
                tracing::debug!(error = %e, what, "JetStream not ready: retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

async fn bucket(
    js: &jetstream::Context,
    config: kv::Config,
    limit: Duration,
) -> Result<kv::Store, ClusterError> {
    // The bucket's stream is made here rather than by `create_key_value`, which reads account
    // fields NATS 2.9 does not send. Same settings as the client's own.
    let stream = jetstream::stream::Config {
        name: format!("KV_{}", config.bucket),
        description: Some(config.description.clone()),
        subjects: vec![format!("$KV.{}.>", config.bucket)],
        max_messages_per_subject: config.history,
        max_age: config.max_age,
        max_message_size: config.max_value_size,
        storage: config.storage,
        num_replicas: config.num_replicas,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    };
    let name = config.bucket.clone();
    retry(limit, &format!("bucket {name}"), || {
        let stream = stream.clone();
        let name = name.clone();
        async move {
            js.get_or_create_stream(stream)
                .await
                .map_err(|e| e.to_string())?;
            js.get_key_value(name).await.map_err(|e| e.to_string())
        }
    })
    .await
}

impl Directory {
    /// Opens (or creates) both buckets.
    pub async fn setup(
        js: &jetstream::Context,
        names: &Names,
        config: &ClusterConfig,
        replicas: usize,
    ) -> Result<Directory, ClusterError> {
        let storage = if config.memory_storage {
            jetstream::stream::StorageType::Memory
        } else {
            jetstream::stream::StorageType::File
        };
        // One value a key (its latest), replicated, of at most 4 KiB.
        let settings = |bucket: String, description: &str, max_age: Duration| kv::Config {
            bucket,
            description: description.into(),
            history: 1,
            max_age,
            storage,
            num_replicas: replicas,
            max_value_size: 4096,
            ..Default::default()
        };
        let sessions = bucket(
            js,
            settings(
                names.sessions_bucket(),
                "Glimpse relay sessions by lookup",
                config.session_ttl,
            ),
            config.connect_timeout,
        )
        .await?;
        let nodes = bucket(
            js,
            settings(names.nodes_bucket(), "Glimpse relay nodes", NODE_RECORD_TTL),
            config.connect_timeout,
        )
        .await?;
        Ok(Directory {
            sessions,
            nodes,
            public_url: std::sync::Mutex::new(String::new()),
        })
    }

    /// Claims a free node number.
    pub async fn claim_node(&self, public_url: &str) -> Result<NodeId, ClusterError> {
        *self.public_url.lock().unwrap() = public_url.to_string();
        for _ in 0..64 {
            let node = 1 + (crate::relay::random_u64() % u64::from(wire::NODE_IDS - 1)) as NodeId;
            match self
                .nodes
                .create(wire::node_key(node), self.node_value())
                .await
            {
                Ok(_) => return Ok(node),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(ClusterError::Directory(format!(
                        "claiming a node number: {e}"
                    )))
                }
            }
        }
        Err(ClusterError::Directory("no free node number".into()))
    }

    fn node_value(&self) -> Bytes {
        let record = NodeRecord {
            public_url: self.public_url.lock().unwrap().clone(),
            started_ms: epoch_ms(),
        };
        Bytes::from(serde_json::to_vec(&record).unwrap_or_default())
    }

    /// Keeps this node's record alive.
    pub async fn refresh_node(&self, node: NodeId) {
        if let Err(e) = self
            .nodes
            .put(wire::node_key(node), self.node_value())
            .await
        {
            tracing::debug!(error = %e, "refreshing the node record failed");
        }
    }

    /// Frees this node's number (it stops).
    pub async fn release_node(&self, node: NodeId) {
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.nodes.delete(wire::node_key(node)),
        )
        .await;
    }

    /// The record of `lookup` and its revision, if a session has it.
    ///
    /// The bucket answers reads from any replica (direct get), and a replica can be a moment behind
    /// its leader: a session created just now on another node would read as absent, and its first
    /// joiners here would be told "no session has this code" (seen in the 300-viewer webinar). So
    /// an absent record is asked again of the stream's leader, which has the last word.
    pub async fn get(&self, lookup: Lookup) -> Result<Option<(SessionRecord, u64)>, ClusterError> {
        let key = wire::lookup_key(lookup);
        let entry = self
            .sessions
            .entry(key.as_str())
            .await
            .map_err(|e| ClusterError::Directory(e.to_string()))?;
        if let Some(entry) = entry {
            let put = entry.operation == kv::Operation::Put;
            return Ok(put
                .then(|| parse_record(&entry.value, entry.revision))
                .flatten());
        }
        let subject = format!("{}{key}", self.sessions.prefix);
        match self
            .sessions
            .stream
            .get_last_raw_message_by_subject(&subject)
            .await
        {
            // A delete or purge marker carries its operation in this header; a put has none.
            Ok(message) if message.headers.get("KV-Operation").is_none() => {
                Ok(parse_record(&message.payload, message.sequence))
            }
            Ok(_) => Ok(None),
            Err(e) if e.kind() == jetstream::stream::LastRawMessageErrorKind::NoMessageFound => {
                Ok(None)
            }
            Err(e) => Err(ClusterError::Directory(e.to_string())),
        }
    }

    /// Registers `record` under `lookup` unless a session has it: its revision, or `None` when
    /// the lookup is taken.
    pub async fn create(
        &self,
        lookup: Lookup,
        record: &SessionRecord,
    ) -> Result<Option<u64>, ClusterError> {
        let value = Bytes::from(serde_json::to_vec(record).unwrap_or_default());
        match self.sessions.create(wire::lookup_key(lookup), value).await {
            Ok(revision) => Ok(Some(revision)),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(ClusterError::Directory(e.to_string())),
        }
    }

    /// Replaces the record of `lookup` if it is still at `revision`: the new revision, or `None`
    /// when someone changed it meanwhile.
    pub async fn update(
        &self,
        lookup: Lookup,
        record: &SessionRecord,
        revision: u64,
    ) -> Result<Option<u64>, ClusterError> {
        let value = Bytes::from(serde_json::to_vec(record).unwrap_or_default());
        match self
            .sessions
            .update(wire::lookup_key(lookup), value, revision)
            .await
        {
            Ok(revision) => Ok(Some(revision)),
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(None),
            Err(e) => Err(ClusterError::Directory(e.to_string())),
        }
    }

    /// Removes the record of `lookup` if it is still at `revision` (the session ended, or its
    /// code was burned).
    pub async fn delete(&self, lookup: Lookup, revision: Option<u64>) {
        let key = wire::lookup_key(lookup);
        if let Err(e) = self.sessions.delete_expect_revision(key, revision).await {
            tracing::debug!(error = %e, "directory record not deleted");
        }
    }
}

/// A session record as stored (JSON) with its revision; `None` when it does not parse.
fn parse_record(value: &[u8], revision: u64) -> Option<(SessionRecord, u64)> {
    let record = serde_json::from_slice::<SessionRecord>(value).ok()?;
    Some((record, revision))
}
