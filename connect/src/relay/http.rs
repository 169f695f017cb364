//! The relay's HTTP routes: WebSockets for hosts and viewers, health, metrics and the viewer page,
//! with security headers on every response.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{host, viewer, RelayState};

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

async fn host_ws(
    State(state): State<Arc<RelayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    let max = state.config.max_host_message;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| host::connection(state, socket, peer))
}

async fn view_ws(
    State(state): State<Arc<RelayState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    let max = state.config.max_viewer_message;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| viewer::connection(state, socket, peer))
}

async fn healthz(State(state): State<Arc<RelayState>>) -> Response {
    if state.is_stopping() {
        (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response()
    } else {
        (StatusCode::OK, "ok\n").into_response()
    }
}

async fn metrics(State(state): State<Arc<RelayState>>) -> Response {
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
