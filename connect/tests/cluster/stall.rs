//! A mirror's JetStream consumer that vanishes without a word (its server lost it, as when a NATS
//! server dies): the origin's reports of what JetStream stored show the mirror it is behind, and
//! the mirror creates its consumer again. Host on node 1, a viewer on node 2, one NATS server.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::harness::{NatsCluster, RelayNode};
use crate::{nats_and_runtime, recording, relay_exe, viewer, wait_exact, wait_for, LoopingHost};

#[test]
fn a_mirror_whose_consumer_vanished_gets_the_stream_again() {
    let Some((nats, rt)) = nats_and_runtime("cluster consumer stall") else {
        return;
    };
    let _guard = rt.enter();
    let servers = NatsCluster::start(&nats, 1);
    let nodes: Vec<RelayNode> = (0..2)
        .map(|_| RelayNode::start(&relay_exe(), &servers.urls(), &[]))
        .collect();
    let mut host = LoopingHost::start(&nodes[0].url(), recording("typing_editor", 100), 10.0);
    let on_2 = viewer(&nodes[1].url(), &host.host, "viewer on node 2");
    assert!(
        wait_for(Duration::from_secs(20), || on_2
            .stats()
            .last_seq
            .unwrap_or(0)
            > 5),
        "the viewer on node 2 got no stream"
    );

    let deleted = rt.block_on(delete_every_consumer(&servers.urls()));
    assert!(deleted >= 1, "node 2's consumer was found and deleted");
    let gone = Instant::now();
    let seq = on_2.stats().last_seq.unwrap_or(0);
    // Updates written meanwhile may still be in flight: the stream must go on well past them.
    assert!(
        wait_for(Duration::from_secs(30), || on_2
            .stats()
            .last_seq
            .unwrap_or(0)
            > seq + 10),
        "the stream never came back to node 2"
    );
    let stalls = nodes[1].metric("glimpse_relay_cluster_mirror_consumer_stalls_total");
    let restarts = nodes[1].metric("glimpse_relay_cluster_mirror_consumer_restarts_total");
    println!(
        "stall: node 2's consumer deleted; the stream went on after {} ms; consumer stalls {stalls}, restarts {restarts}",
        gone.elapsed().as_millis()
    );
    // The NATS client notices a vanished consumer by itself too (10 s without heartbeats): only
    // the stall count says the origin's reports did it.
    assert!(stalls >= 1.0, "node 2 found its consumer stalled");
    assert!(restarts >= stalls, "every stall restarted the consumer");

    let last = host.finish(41);
    assert!(
        wait_exact(&on_2, &last, Duration::from_secs(20)),
        "the viewer on node 2: not the host's last frame"
    );
    assert_eq!(on_2.stats().decode_errors, 0);
}

/// Deletes every consumer of the relays' stream: how many there were.
async fn delete_every_consumer(urls: &str) -> usize {
    let client = async_nats::connect(urls)
        .await
        .expect("the test reaches NATS");
    let js = async_nats::jetstream::new(client);
    let stream = js
        .get_stream("glimpse_screens")
        .await
        .expect("the relays' stream");
    let names: Vec<String> = stream
        .consumer_names()
        .filter_map(|name| async move { name.ok() })
        .collect()
        .await;
    for name in &names {
        stream
            .delete_consumer(name)
            .await
            .expect("the consumer is deleted");
    }
    names.len()
}
