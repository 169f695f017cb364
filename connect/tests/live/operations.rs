//! What operators rely on: `/healthz`, `/metrics` (Prometheus text) with the right counts, the
//! security headers, and a relay that refuses plain ws off loopback.

use std::time::Duration;

use glimpse_connect::relay::{Relay, StartError};
use glimpse_connect::{ControlPolicy, Viewer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{relay_config, runtime, Stage};

/// A plain HTTP/1.1 GET; the whole response as text.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// The value of a metric line `name value` (no labels).
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn health_metrics_and_headers() {
    let stage = Stage::start("typing_terminal", 30, 10.0, ControlPolicy::ViewOnly);
    let (rt, addr) = (&stage.rt, stage.relay.local_addr());
    let viewers: Vec<Viewer> = (0..3).map(|_| stage.join()).collect();
    let health = rt.block_on(http_get(addr, "/healthz"));
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let metrics = rt.block_on(http_get(addr, "/metrics"));
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert_eq!(
        metric(&metrics, "glimpse_relay_viewers"),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "glimpse_relay_sessions"), Some(1.0));
    assert_eq!(metric(&metrics, "glimpse_relay_hosts_connected"), Some(1.0));
    assert!(metric(&metrics, "glimpse_relay_joins_total") >= Some(3.0));
    assert!(metric(&metrics, "glimpse_relay_sent_bytes_total") > Some(0.0));
    assert!(metrics.contains("glimpse_relay_join_latency_seconds_bucket"));
    // Every page carries the security headers.
    let page = rt.block_on(http_get(addr, "/")).to_ascii_lowercase();
    for header in [
        "content-security-policy: default-src 'self'; script-src 'self' 'wasm-unsafe-eval'",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "frame-ancestors 'none'",
    ] {
        assert!(page.contains(header), "missing {header}: {page}");
    }
    // Nothing outside the page's files is served.
    for path in ["/../Cargo.toml", "/.git/config", "/%2e%2e/Cargo.toml"] {
        let r = rt.block_on(http_get(addr, path));
        assert!(
            r.starts_with("HTTP/1.1 404") || r.starts_with("HTTP/1.1 400"),
            "{path}: {r}"
        );
    }
    drop(viewers);
    std::thread::sleep(Duration::from_millis(300));
    let metrics = rt.block_on(http_get(addr, "/metrics"));
    assert_eq!(metric(&metrics, "glimpse_relay_viewers"), Some(0.0));
    stage.end();
}

#[test]
fn plain_ws_off_loopback_needs_insecure() {
    let rt = runtime();
    let mut config = relay_config();
    config.listen = "0.0.0.0:0".parse().unwrap();
    let refused = rt
        .block_on(Relay::start(config.clone()))
        .err()
        .expect("refused");
    assert_eq!(
        refused,
        StartError::PlainOffLoopback("0.0.0.0:0".parse().unwrap())
    );
    config.insecure = true;
    let relay = rt
        .block_on(Relay::start(config))
        .expect("allowed with insecure");
    rt.block_on(relay.shutdown());
}
