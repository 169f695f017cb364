//! The cluster's figures in `/metrics` (`glimpse_relay_cluster_*`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// A node's cluster figures at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStats {
    /// This node's number.
    pub node: u32,
    /// The NATS connection is up.
    pub nats_connected: bool,
    /// Nodes alive, this one included.
    pub live_nodes: usize,
    /// Sessions whose host this node holds.
    pub origins: usize,
    /// Sessions this node mirrors for its viewers.
    pub mirrors: usize,
    /// Stream bytes this node published to JetStream (origin role; payloads, chunks included).
    pub stream_published_bytes: u64,
    /// Stream bytes this node read from JetStream (mirror role).
    pub stream_received_bytes: u64,
    /// Bytes of node-to-node messages sent on core NATS.
    pub control_sent_bytes: u64,
    /// Bytes of node-to-node messages received on core NATS.
    pub control_received_bytes: u64,
    /// Bytes the NATS client sent and received in all (payloads, not protocol overhead).
    pub nats_out_bytes: u64,
    /// See [`ClusterStats::nats_out_bytes`].
    pub nats_in_bytes: u64,
    /// Hosts that took a session over from another node.
    pub takeovers: u64,
    /// Times a mirror found a gap or fell behind and restarted from a checkpoint.
    pub mirror_resyncs: u64,
    /// Times a mirror's JetStream consumer stalled or broke and was created again.
    pub mirror_consumer_restarts: u64,
    /// Of those, times it stalled: it delivered nothing while JetStream held more of the stream
    /// (as the origin said).
    pub mirror_consumer_stalls: u64,
    /// Stream messages over the NATS payload limit, published in chunks.
    pub chunked_messages: u64,
    /// Stream messages that could not be published (the stream restarted from a checkpoint).
    pub publish_failures: u64,
    /// Node-to-node messages dropped because NATS did not keep up.
    pub dropped_messages: u64,
    /// Nodes found dead (missed heartbeats or announced departure).
    pub dead_nodes: u64,
}

/// The counters behind [`ClusterStats`].
#[derive(Default)]
pub(in crate::relay) struct ClusterMetrics {
    pub stream_published_bytes: Counter,
    pub stream_received_bytes: Counter,
    pub control_sent_bytes: Counter,
    pub control_received_bytes: Counter,
    pub takeovers: Counter,
    pub mirror_resyncs: Counter,
    pub mirror_consumer_restarts: Counter,
    pub mirror_consumer_stalls: Counter,
    pub publish_failures: Counter,
    pub chunked_messages: Counter,
    pub dropped_messages: Counter,
    pub dead_nodes: Counter,
    pub nats_connected: Gauge,
    pub origins: Gauge,
    pub mirrors: Gauge,
    pub live_nodes: Gauge,
    pub nats_in_bytes: Gauge,
    pub nats_out_bytes: Gauge,
}

impl ClusterMetrics {
    /// Adds every figure to `registry` (under `cluster_`).
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("cluster");
        let counters: [(&str, &str, &Counter); 12] = [
            (
                "stream_published_bytes",
                "Stream bytes published to JetStream as origin",
                &self.stream_published_bytes,
            ),
            (
                "stream_received_bytes",
                "Stream bytes read from JetStream as mirror",
                &self.stream_received_bytes,
            ),
            (
                "control_sent_bytes",
                "Node-to-node message bytes sent",
                &self.control_sent_bytes,
            ),
            (
                "control_received_bytes",
                "Node-to-node message bytes received",
                &self.control_received_bytes,
            ),
            (
                "takeovers",
                "Sessions whose host moved to this node",
                &self.takeovers,
            ),
            (
                "mirror_resyncs",
                "Mirrors restarted from a checkpoint after a gap or lag",
                &self.mirror_resyncs,
            ),
            (
                "mirror_consumer_restarts",
                "Mirror consumers created again after they stalled or broke",
                &self.mirror_consumer_restarts,
            ),
            (
                "mirror_consumer_stalls",
                "Mirror consumers found stalled behind what JetStream stored",
                &self.mirror_consumer_stalls,
            ),
            (
                "publish_failures",
                "Stream messages JetStream did not take",
                &self.publish_failures,
            ),
            (
                "chunked_messages",
                "Stream messages over the NATS payload limit, sent in chunks",
                &self.chunked_messages,
            ),
            (
                "dropped_messages",
                "Node-to-node messages dropped (NATS did not keep up)",
                &self.dropped_messages,
            ),
            ("dead_nodes", "Nodes found dead or gone", &self.dead_nodes),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        let gauges: [(&str, &str, &Gauge); 6] = [
            (
                "nats_connected",
                "1 while the NATS connection is up",
                &self.nats_connected,
            ),
            (
                "origin_sessions",
                "Sessions whose host is here",
                &self.origins,
            ),
            (
                "mirror_sessions",
                "Sessions mirrored here for local viewers",
                &self.mirrors,
            ),
            (
                "live_nodes",
                "Relay nodes alive, this one included",
                &self.live_nodes,
            ),
            (
                "nats_received_bytes",
                "Bytes the NATS client received",
                &self.nats_in_bytes,
            ),
            (
                "nats_sent_bytes",
                "Bytes the NATS client sent",
                &self.nats_out_bytes,
            ),
        ];
        for (name, help, gauge) in gauges {
            r.register(name, help, gauge.clone());
        }
    }

    /// The counters now (gauges are filled by the caller).
    pub fn snapshot(&self) -> ClusterStats {
        ClusterStats {
            stream_published_bytes: self.stream_published_bytes.get(),
            stream_received_bytes: self.stream_received_bytes.get(),
            control_sent_bytes: self.control_sent_bytes.get(),
            control_received_bytes: self.control_received_bytes.get(),
            takeovers: self.takeovers.get(),
            mirror_resyncs: self.mirror_resyncs.get(),
            mirror_consumer_restarts: self.mirror_consumer_restarts.get(),
            mirror_consumer_stalls: self.mirror_consumer_stalls.get(),
            publish_failures: self.publish_failures.get(),
            chunked_messages: self.chunked_messages.get(),
            dropped_messages: self.dropped_messages.get(),
            dead_nodes: self.dead_nodes.get(),
            ..ClusterStats::default()
        }
    }

    /// Sets the gauges from `stats` (before `/metrics` renders).
    pub fn set_gauges(&self, stats: &ClusterStats) {
        self.nats_connected.set(i64::from(stats.nats_connected));
        self.origins.set(stats.origins as i64);
        self.mirrors.set(stats.mirrors as i64);
        self.live_nodes.set(stats.live_nodes as i64);
        self.nats_in_bytes.set(stats.nats_in_bytes as i64);
        self.nats_out_bytes.set(stats.nats_out_bytes as i64);
    }
}
