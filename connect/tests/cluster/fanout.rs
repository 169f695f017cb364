//! Host on node 1, Rust viewers on nodes 2 and 3, a Chromium page on node 3 (when installed) and a
//! late joiner on node 3: every viewer ends pixel-exact, and each mirror node reads the session's stream from NATS once (however many
//! viewers it holds). The NATS servers take 64 KiB messages at most and the recording's first frame
//! carries a block of noise, so that frame crosses NATS in chunks.

use std::time::{Duration, Instant};

use crate::harness::{NatsCluster, RelayNode};
use crate::page::{web_args, PageViewer};
use crate::{nats_and_runtime, recording, relay_exe, viewer, wait_exact, LoopingHost, WIDTH};

#[test]
fn viewers_on_every_node_end_pixel_exact() {
    let Some((nats, rt)) = nats_and_runtime("cluster fan-out") else {
        return;
    };
    let _guard = rt.enter();
    let servers = NatsCluster::start_with(&nats, 3, Some(64 << 10), &[]);
    let web = web_args();
    let web: Vec<&str> = web.iter().map(String::as_str).collect();
    let nodes: Vec<RelayNode> = (0..3)
        .map(|_| RelayNode::start(&relay_exe(), &servers.urls(), &web))
        .collect();
    let mut frames = recording("scroll_terminal", 100);
    add_noise(&mut frames[0]);
    let mut host = LoopingHost::start(&nodes[0].url(), frames, 15.0);
    let on_2: Vec<_> = (0..2)
        .map(|i| viewer(&nodes[1].url(), &host.host, &format!("node 2 viewer {i}")))
        .collect();
    let on_3 = viewer(&nodes[2].url(), &host.host, "node 3 viewer");
    let link = format!(
        "http://{}/#code={}",
        nodes[2].addr,
        host.host.code().digits()
    );
    let page = PageViewer::open(&link, "cluster-page");
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
    assert!(chunked > 0.0, "stream messages over 64 KiB went in chunks");
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
    // The host ends the session: the page stops and hands over its last canvas.
    host.host.close();
    if let Some(page) = page {
        let (canvas, errors) = page.finish();
        println!("cluster: browser page on node 3: errors {errors:?}");
        assert!(
            canvas == last.pixels,
            "the browser page on node 3 is not the host's last frame"
        );
    }
}

/// Opaque noise in a 512x512 block of `frame` (no codec shrinks it): a stream message far over
/// the NATS servers' 64 KiB limit.
fn add_noise(frame: &mut [u8]) {
    let mut x: u32 = 0x9e37_79b9;
    for row in 0..512 {
        let start = row * WIDTH as usize * 4;
        for pixel in frame[start..start + 512 * 4].chunks_exact_mut(4) {
            for b in &mut pixel[..3] {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            pixel[3] = 255;
        }
    }
}
