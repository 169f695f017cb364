//! WebSocket connections to a relay: URL checks, TLS, timeouts, message size limits.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::tls::ClientTls;
use crate::error::ConnectError;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The relay's base URL in WebSocket form (`ws://HOST:PORT` or `wss://HOST[:PORT]`), from what a
/// user gives: `ws`, `wss`, `http` or `https`, with or without a trailing slash or path.
pub fn ws_base(url: &str) -> Result<String, ConnectError> {
    let bad = |reason| ConnectError::InvalidUrl {
        url: url.to_string(),
        reason,
    };
    let trimmed = url.trim();
    let (scheme, rest) = trimmed
        .split_once("://")
        .ok_or_else(|| bad("it needs a scheme: ws://, wss://, http:// or https://"))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        _ => return Err(bad("the scheme must be ws, wss, http or https")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err(bad("it needs a host (and no user name)"));
    }
    Ok(format!("{scheme}://{authority}"))
}

/// The page URL viewers open for a relay (`http(s)://HOST:PORT`).
pub fn page_base(url: &str) -> Result<String, ConnectError> {
    let base = ws_base(url)?;
    Ok(base
        .replacen("wss://", "https://", 1)
        .replacen("ws://", "http://", 1))
}

/// Opens `path` (`/ws/host` or `/ws/view`) on the relay at `base` (a [`ws_base`] URL).
pub(crate) async fn connect(
    base: &str,
    path: &str,
    tls: &ClientTls,
    max_message: usize,
    timeout: Duration,
) -> Result<Ws, ConnectError> {
    let url = format!("{base}{path}");
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    let connector = if base.starts_with("wss://") {
        Some(Connector::Rustls(tls.client_config()?))
    } else {
        Some(Connector::Plain)
    };
    let connect =
        tokio_tungstenite::connect_async_tls_with_config(&url, Some(config), true, connector);
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok((ws, _response))) => Ok(ws),
        Ok(Err(e)) => Err(classify(&url, e)),
        Err(_) => Err(ConnectError::Unreachable(format!("{url}: timed out"))),
    }
}

fn classify(url: &str, e: tokio_tungstenite::tungstenite::Error) -> ConnectError {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Tls(e) => ConnectError::Tls(format!("{url}: {e}")),
        E::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            ConnectError::Tls(format!("{url}: {e}"))
        }
        other => ConnectError::Unreachable(format!("{url}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::{page_base, ws_base};

    #[test]
    fn relay_urls_are_normalised() {
        assert_eq!(
            ws_base("ws://127.0.0.1:8080").unwrap(),
            "ws://127.0.0.1:8080"
        );
        assert_eq!(
            ws_base("http://127.0.0.1:8080/").unwrap(),
            "ws://127.0.0.1:8080"
        );
        assert_eq!(
            ws_base("HTTPS://relay.example/#x").unwrap(),
            "wss://relay.example"
        );
        assert_eq!(ws_base(" wss://[::1]:9/ws/host ").unwrap(), "wss://[::1]:9");
        assert_eq!(
            page_base("wss://relay.example:8443").unwrap(),
            "https://relay.example:8443"
        );
        for bad in [
            "",
            "127.0.0.1:8080",
            "ftp://x",
            "ws://",
            "ws://user@host",
            "ws:///path",
        ] {
            assert_eq!(ws_base(bad).unwrap_err().code(), 42, "{bad}");
        }
    }
}
