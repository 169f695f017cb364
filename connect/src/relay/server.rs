//! The relay's accept loop: TCP, optional TLS (rustls), HTTP/1.1 with a header-read timeout and
//! WebSocket upgrades, handed to the axum router of [`super::http`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::{http, RelayState, StartError, TlsFiles};

/// A TLS acceptor for the certificate chain and key in `files` (PEM).
pub(super) fn tls_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, StartError> {
    let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        StartError::Tls(format!("{what} {}: {e}", path.display()))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| bad("cannot read the certificate", &files.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("bad certificate PEM in", &files.cert, &e))?;
    if certs.is_empty() {
        return Err(bad("no certificate in", &files.cert, &"empty"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| bad("cannot read the private key", &files.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartError::Tls(format!("certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// One open connection, counted against the relay's caps until the last holder (the HTTP
/// connection, then the WebSocket task it was upgraded to) lets go.
pub(super) struct ConnectionGuard {
    ip: IpAddr,
    state: Arc<RelayState>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut open = self.state.connections.lock().unwrap();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Connections open now.
#[derive(Default)]
pub(super) struct OpenConnections {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Counts a new connection from `ip`; `None` when a cap is reached.
fn admit(state: &Arc<RelayState>, ip: IpAddr) -> Option<Arc<ConnectionGuard>> {
    let mut open = state.connections.lock().unwrap();
    let from_ip = open.per_ip.get(&ip).copied().unwrap_or(0);
    if open.total >= state.config.max_connections || from_ip >= state.config.max_connections_per_ip
    {
        return None;
    }
    open.total += 1;
    *open.per_ip.entry(ip).or_insert(0) += 1;
    Some(Arc::new(ConnectionGuard {
        ip,
        state: state.clone(),
    }))
}

/// Accepts until the relay stops.
pub(super) async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, state: Arc<RelayState>) {
    let app = http::router(state.clone());
    let mut stop = state.stop.subscribe();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(guard) = admit(&state, peer.ip()) else {
                    state.metrics.refused.inc();
                    drop(stream); // over a connection cap: closed at once
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (app, tls, stop) = (app.clone(), tls.clone(), state.stop.subscribe());
                let limit = state.config.header_timeout;
                tokio::spawn(serve_connection(stream, peer, tls, app, stop, guard, limit));
            }
            _ = stop.changed() => break,
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    app: axum::Router,
    stop: watch::Receiver<bool>,
    guard: Arc<ConnectionGuard>,
    limit: Duration,
) {
    match tls {
        None => serve_http(stream, peer, app, stop, guard, limit).await,
        Some(acceptor) => match tokio::time::timeout(limit, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => serve_http(stream, peer, app, stop, guard, limit).await,
            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
        },
    }
}

async fn serve_http<S>(
    stream: S,
    peer: SocketAddr,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
    guard: Arc<ConnectionGuard>,
    limit: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(guard.clone());
        app.clone().oneshot(request)
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limit)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "http connection ended with an error");
            }
        }
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), connection).await;
        }
    }
}
