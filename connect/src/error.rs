//! Errors of quick connect, with stable numeric codes shared with the C library (`GLIMPSE_RESULT_*`)
//! and the npm package (`error.code`).

use thiserror::Error;

/// Everything that can go wrong joining, hosting or relaying a session.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// An engine error (a packet that does not decode, a frame with a bad size...).
    #[error(transparent)]
    Engine(#[from] glimpse::Error),

    /// Text that is not a join code (10 digits, optionally grouped by spaces or dashes).
    #[error("invalid code: {0}")]
    InvalidCode(&'static str),

    /// No session has this code (a typo, a code that was replaced, or the host ended the session).
    #[error("no session has this code")]
    UnknownSession,

    /// The code's session was unused for too long.
    #[error("the code expired")]
    CodeExpired,

    /// The code was wrong: the key exchange with the host did not confirm.
    #[error("wrong code: check the digits the host gave")]
    WrongCode,

    /// The host did not let this viewer in.
    #[error("the host did not let you in")]
    NotAdmitted,

    /// Too many failed attempts (from this network, or at this relay): try again later.
    #[error("too many failed attempts: retry after {retry_after_ms} ms")]
    RateLimited {
        /// Milliseconds until the client may try again.
        retry_after_ms: u64,
    },

    /// The session is letting many viewers in at once and this one's turn did not come within
    /// the join's time: try again shortly. (Joins retry by themselves while they wait.)
    #[error("the session is letting many viewers in: retry after {retry_after_ms} ms")]
    SessionBusy {
        /// Milliseconds until the client may try again.
        retry_after_ms: u64,
    },

    /// The relay could not be reached (refused, unreachable, timed out).
    #[error("cannot reach the relay: {0}")]
    Unreachable(String),

    /// TLS failed: an untrusted or invalid certificate, or a TLS setting that cannot be used.
    #[error("TLS: {0}")]
    Tls(String),

    /// A relay URL that cannot be used (`ws://HOST:PORT`, `wss://HOST[:PORT]` or http(s) alike).
    #[error("invalid relay URL {url:?}: {reason}")]
    InvalidUrl {
        /// What was given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A peer sent something this protocol does not allow (malformed, wrong role, out of order).
    #[error("protocol error: {0}")]
    Protocol(String),

    /// The session is over: the host ended it, or the relay closed it for good.
    #[error("the session ended: {0}")]
    SessionEnded(String),

    /// The host removed this viewer.
    #[error("removed by the host")]
    Removed,

    /// The relay refused: too many sessions or viewers, or its memory budget is spent.
    #[error("the relay is full: {0}")]
    RelayFull(String),

    /// The connection was lost and could not be restored in time.
    #[error("connection lost: {0}")]
    ConnectionLost(String),

    /// The handle was closed or its network thread is gone.
    #[error("closed")]
    Closed,

    /// Something did not happen in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),

    /// A host tried to take over a session that another host holds (wrong host secret).
    #[error("the code is in use by another host")]
    CodeInUse,

    /// Input from a viewer that does not hold remote control, or control asked of a view-only host.
    #[error("remote control is not granted")]
    ControlNotGranted,

    /// A request that does not fit the current state (a viewer id that is not connected...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl ConnectError {
    /// The stable numeric code of this error (see [`glimpse::result_code`]): engine errors keep the
    /// engine's number ([`glimpse::Error::code`]); session errors use 30-39, connection errors 40-59.
    pub fn code(&self) -> u32 {
        use glimpse::result_code as code;
        match self {
            ConnectError::Engine(e) => e.code(),
            ConnectError::ControlNotGranted => code::CONTROL_NOT_GRANTED,
            ConnectError::InvalidCode(_) => code::INVALID_CODE,
            ConnectError::UnknownSession => code::UNKNOWN_SESSION,
            ConnectError::CodeExpired => code::CODE_EXPIRED,
            ConnectError::RateLimited { .. } => code::RATE_LIMITED,
            ConnectError::SessionBusy { .. } => code::SESSION_BUSY,
            ConnectError::WrongCode => code::WRONG_CODE,
            ConnectError::NotAdmitted => code::NOT_ADMITTED,
            ConnectError::Unreachable(_) => code::RELAY_UNREACHABLE,
            ConnectError::Tls(_) => code::TLS,
            ConnectError::InvalidUrl { .. } => code::INVALID_RELAY_URL,
            ConnectError::Protocol(_) => code::PROTOCOL_ERROR,
            ConnectError::SessionEnded(_) => code::SESSION_ENDED,
            ConnectError::Removed => code::REMOVED,
            ConnectError::RelayFull(_) => code::RELAY_FULL,
            ConnectError::ConnectionLost(_) => code::CONNECTION_LOST,
            ConnectError::Closed => code::CLOSED,
            ConnectError::Timeout(_) => code::TIMEOUT,
            ConnectError::CodeInUse => code::CODE_IN_USE,
            ConnectError::InvalidRequest(_) => code::INVALID_REQUEST,
        }
    }
}

impl From<postcard::Error> for ConnectError {
    fn from(e: postcard::Error) -> Self {
        ConnectError::Protocol(format!("malformed message: {e}"))
    }
}
