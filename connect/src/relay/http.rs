//! The relay's HTTP routes: WebSockets for hosts and viewers, health, metrics and the viewer page,
//! with security headers on every response.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::Router;

use super::server::ConnectionGuard;
use super::{host, viewer, RelayConfig, RelayState};

/// The page's content security policy: its own scripts and WebAssembly only, its own relay for
/// WebSockets, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
connect-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub(super) fn router(state: Arc<RelayState>) -> Router {
    Router::new()
        .route("/ws/host", get(host_ws))
        .route("/ws/view", get(view_ws))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/", get(index))
        .route("/{*path}", get(file))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// What a WebSocket route takes from the request.
type Upgrade = (
    State<Arc<RelayState>>,
    ConnectInfo<SocketAddr>,
    Extension<Arc<ConnectionGuard>>,
    HeaderMap,
    WebSocketUpgrade,
);

async fn host_ws(upgrade: Upgrade) -> Response {
    websocket(upgrade, |config| config.max_host_message, host::connection)
}

async fn view_ws(upgrade: Upgrade) -> Response {
    websocket(
        upgrade,
        |config| config.max_viewer_message,
        viewer::connection,
    )
}

/// Refuses other sites' pages, then upgrades to a WebSocket taking messages of at most
/// `max(config)` bytes and runs `connection` on it, holding the connection's slot (`guard`)
/// until it ends.
fn websocket<F, Fut>(
    (State(state), ConnectInfo(peer), Extension(guard), headers, ws): Upgrade,
    max: fn(&RelayConfig) -> usize,
    connection: F,
) -> Response
where
    F: FnOnce(Arc<RelayState>, WebSocket, SocketAddr) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if let Err(refused) = check_origin(&state, &headers) {
        return *refused;
    }
    let peer = client_address(&state, peer, &headers);
    let max = max(&state.config);
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| async move {
            connection(state, socket, peer).await;
            drop(guard);
        })
}

/// Pages of other sites may not open the relay's WebSockets: an `Origin` must be in
/// [`RelayConfig::allowed_origins`](super::RelayConfig::allowed_origins), or, when that list is
/// empty, be the relay itself (its public URL, or the request's own host). Native clients send
/// no `Origin`.
fn check_origin(state: &RelayState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
    let allowed = if state.config.allowed_origins.is_empty() {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let own = origin.split_once("://").map(|(_, rest)| rest);
        origin == state.public_url || (!host.is_empty() && own == Some(host))
    } else {
        state
            .config
            .allowed_origins
            .iter()
            .any(|o| o.trim_end_matches('/') == origin)
    };
    if allowed {
        Ok(())
    } else {
        state.metrics.refused.inc();
        Err(Box::new(
            (StatusCode::FORBIDDEN, "this origin may not use the relay\n").into_response(),
        ))
    }
}

/// The client's address: the TCP peer, or — when the peer is a trusted proxy — the last address
/// in `X-Forwarded-For` that is not one of the trusted proxies.
fn client_address(state: &RelayState, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
    let trusted = |ip: std::net::IpAddr| {
        state
            .config
            .trusted_proxies
            .iter()
            .any(|(net, bits)| in_network(ip, *net, *bits))
    };
    if !trusted(peer.ip()) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted(*ip))
        .map_or(peer, |ip| SocketAddr::new(ip, 0))
}

/// True when `ip` lies in `net/bits`.
pub fn in_network(ip: std::net::IpAddr, net: std::net::IpAddr, bits: u8) -> bool {
    use std::net::IpAddr;
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let bits = u32::from(bits.min(32));
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let bits = u32::from(bits.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|a| in_network(IpAddr::V4(a), net, bits)),
        _ => false,
    }
}

async fn healthz(State(state): State<Arc<RelayState>>) -> Response {
    #[cfg(feature = "cluster")]
    if state.cluster.as_ref().is_some_and(|c| !c.is_connected()) {
        return (StatusCode::SERVICE_UNAVAILABLE, "NATS connection lost\n").into_response();
    }
    if state.is_stopping() {
        (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response()
    } else {
        (StatusCode::OK, "ok\n").into_response()
    }
}

async fn metrics(State(state): State<Arc<RelayState>>) -> Response {
    #[cfg(feature = "cluster")]
    if let Some(cluster) = &state.cluster {
        cluster.metrics.set_gauges(&cluster.stats());
    }
    let body = state.metrics.render(state.stats());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn index(State(state): State<Arc<RelayState>>) -> Response {
    state.web.serve("").await
}

async fn file(State(state): State<Arc<RelayState>>, Path(path): Path<String>) -> Response {
    state.web.serve(&path).await
}
