//! Host on node 1, viewers on nodes 2 and 3 and a late joiner on node 3: every viewer ends
//! pixel-exact, and each mirror node reads the session's stream from NATS once (however many
//! viewers it holds). The NATS servers take 64 KiB messages at most, so checkpoints cross NATS in
//! chunks.

use std::time::{Duration, Instant};

use crate::harness::{nats_or_skip, NatsCluster, RelayNode};
use crate::{recording, relay_exe, runtime, viewer, wait_exact, LoopingHost};

#[test]
fn viewers_on_every_node_end_pixel_exact() {
    let Some(nats) = nats_or_skip("cluster fan-out") else {
        return;
    };
    let rt = runtime();
    let _guard = rt.enter();
    let servers = NatsCluster::start_with(&nats, 3, Some(64 << 10));
    let nodes: Vec<RelayNode> = (0..3)
        .map(|_| RelayNode::start(&relay_exe(), &servers.urls(), &[]))
        .collect();
    let mut host = LoopingHost::start(&nodes[0].url(), recording("scroll_terminal", 100), 15.0);
    let on_2: Vec<_> = (0..2)
        .map(|i| viewer(&nodes[1].url(), &host.host, &format!("node 2 viewer {i}")))
        .collect();
    let on_3 = viewer(&nodes[2].url(), &host.host, "node 3 viewer");
    std::thread::sleep(Duration::from_secs(3));
    let joined = Instant::now();
    let late = viewer(&nodes[2].url(), &host.host, "late joiner on node 3");
    let waited = joined.elapsed();
    let first_screen = late.stats().first_screen_ms;
    println!(
        "cluster: late joiner on node 3: first screen after {:.0} ms (join call {:.0} ms)",
        first_screen.unwrap_or(-1.0),
        waited.as_secs_f64() * 1000.0
    );
    std::thread::sleep(Duration::from_secs(4));
    let last = host.finish(57);
    for (who, v) in on_2
        .iter()
        .map(|v| ("node 2", v))
        .chain([("node 3", &on_3), ("late on node 3", &late)])
    {
        assert!(
            wait_exact(v, &last, Duration::from_secs(20)),
            "{who}: not the host's last frame"
        );
        assert_eq!(v.stats().decode_errors, 0, "{who}: decode errors");
    }
    let published = nodes[0].metric("glimpse_relay_cluster_stream_published_bytes_total");
    assert!(published > 0.0, "the origin published the stream");
    let chunked = nodes[0].metric("glimpse_relay_cluster_chunked_messages_total");
    println!("cluster: {chunked} stream messages crossed NATS in chunks");
    assert!(chunked > 0.0, "checkpoints over 64 KiB went in chunks");
    assert_eq!(
        nodes[0].metric("glimpse_relay_cluster_origin_sessions"),
        1.0
    );
    for (i, node) in nodes.iter().enumerate().skip(1) {
        let received = node.metric("glimpse_relay_cluster_stream_received_bytes_total");
        println!(
            "cluster: node {} read {received} stream bytes from NATS (origin published {published})",
            i + 1
        );
        assert!(received > 0.0, "node {} read the stream", i + 1);
        assert!(
            received <= published,
            "node {} read the stream more than once",
            i + 1
        );
        assert_eq!(
            node.metric("glimpse_relay_cluster_mirror_sessions"),
            1.0,
            "node {}: one subscription for the session",
            i + 1
        );
    }
}
