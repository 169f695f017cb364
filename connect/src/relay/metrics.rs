//! `/metrics`: the relay's counters in the Prometheus text format (through `prometheus-client`).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::RelayStats;

/// Every metric the relay exports. Gauges are set from the relay's state when scraped.
pub(super) struct Metrics {
    registry: Registry,
    sessions: Gauge,
    hosts: Gauge,
    viewers: Gauge,
    buffered_bytes: Gauge,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub checkpoint_skips: Counter,
    pub joins: Counter,
    pub refused: Counter,
    pub host_reconnects: Counter,
    /// Seconds from a viewer's hello to the first screen packet sent to it.
    pub join_latency: Histogram,
}

impl Metrics {
    pub fn new(
        #[cfg(feature = "cluster")] cluster: Option<&super::cluster::ClusterMetrics>,
    ) -> Self {
        let mut registry = Registry::with_prefix("glimpse_relay");
        #[cfg(feature = "cluster")]
        if let Some(cluster) = cluster {
            cluster.register(&mut registry);
        }
        let metrics = Metrics {
            sessions: Gauge::default(),
            hosts: Gauge::default(),
            viewers: Gauge::default(),
            buffered_bytes: Gauge::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            checkpoint_skips: Counter::default(),
            joins: Counter::default(),
            refused: Counter::default(),
            host_reconnects: Counter::default(),
            join_latency: Histogram::new(exponential_buckets(0.002, 2.0, 14)),
            registry: Registry::default(),
        };
        registry.register("sessions", "Live sessions", metrics.sessions.clone());
        registry.register(
            "hosts_connected",
            "Sessions whose host is connected",
            metrics.hosts.clone(),
        );
        registry.register("viewers", "Viewers connected", metrics.viewers.clone());
        registry.register(
            "buffered_bytes",
            "Bytes held by the sessions' catch-up logs",
            metrics.buffered_bytes.clone(),
        );
        registry.register(
            "received_bytes",
            "Bytes received from hosts and viewers",
            metrics.bytes_in.clone(),
        );
        registry.register(
            "sent_bytes",
            "Bytes sent to hosts and viewers",
            metrics.bytes_out.clone(),
        );
        registry.register(
            "checkpoint_skips",
            "Times a slow viewer skipped ahead to a fresh checkpoint",
            metrics.checkpoint_skips.clone(),
        );
        registry.register("joins", "Viewers admitted", metrics.joins.clone());
        registry.register(
            "refused_connections",
            "Hosts and viewers refused (unknown key, rate limits, full, bad hello)",
            metrics.refused.clone(),
        );
        registry.register(
            "host_reconnects",
            "Hosts that took their session back after a drop",
            metrics.host_reconnects.clone(),
        );
        registry.register(
            "join_latency_seconds",
            "Time from a viewer's hello to the first screen packet sent to it",
            metrics.join_latency.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// The text exposition, with the gauges set from `stats`.
    pub fn render(&self, stats: RelayStats) -> String {
        self.sessions.set(stats.sessions as i64);
        self.hosts.set(stats.hosts as i64);
        self.viewers.set(stats.viewers as i64);
        self.buffered_bytes.set(stats.log_bytes as i64);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
