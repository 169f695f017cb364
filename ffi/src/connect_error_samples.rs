// One quick-connect error per variant but `Engine` (tested with the core's errors): an expression,
// `include!`d by the tests of both bindings (this library's `error.rs` and the wasm package's
// `src/error.rs`) with `ConnectError` in scope, so a new variant is listed once. Not a module.
vec![
    ConnectError::InvalidCode("x"),
    ConnectError::UnknownSession,
    ConnectError::CodeExpired,
    ConnectError::RateLimited { retry_after_ms: 1 },
    ConnectError::SessionBusy { retry_after_ms: 1 },
    ConnectError::WrongCode,
    ConnectError::NotAdmitted,
    ConnectError::Unreachable("x".into()),
    ConnectError::Tls("x".into()),
    ConnectError::InvalidUrl {
        url: "x".into(),
        reason: "x",
    },
    ConnectError::Protocol("x".into()),
    ConnectError::SessionEnded("x".into()),
    ConnectError::Removed,
    ConnectError::RelayFull("x".into()),
    ConnectError::ConnectionLost("x".into()),
    ConnectError::Closed,
    ConnectError::Timeout("x"),
    ConnectError::CodeInUse,
    ConnectError::ControlNotGranted,
    ConnectError::InvalidRequest("x".into()),
]
