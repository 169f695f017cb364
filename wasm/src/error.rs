//! JavaScript errors: `Error` objects with `name = "GlimpseError"` and a stable numeric `code`.
//!
//! Codes 10 to 31 are the core's [`glimpse::Error::code`], 30 to 59 quick connect's
//! [`ConnectError::code`] (the same numbers and names as the C library's `GLIMPSE_RESULT_*`). Conditions of the JavaScript interface itself reuse the C interface's numbers
//! where they mean the same: 4 (`INVALID_ARGUMENT`) and 8 (`NOT_AVAILABLE`); 2 (`PANIC`) is thrown by the
//! JavaScript layer when the engine traps (a bug in Glimpse). 99 (`UNKNOWN`) is an engine
//! error this binding has no name for. Numbers never change once released.

use glimpse_connect::ConnectError;
use wasm_bindgen::prelude::*;

/// Every code the package can throw, by its C name without the `GLIMPSE_RESULT_` prefix. The
/// hand-written `ErrorCode` object in `js/index.js` is tested against this table.
pub const CODES: &[(&str, u32)] = &[
    ("PANIC", 2),
    ("INVALID_ARGUMENT", 4),
    ("NOT_AVAILABLE", 8),
    ("INVALID_DIMENSIONS", 10),
    ("INVALID_STRIDE", 11),
    ("FRAME_DATA_TOO_SHORT", 12),
    ("UNKNOWN_PIXEL_FORMAT", 13),
    ("INVALID_RECT", 14),
    ("TRUNCATED", 20),
    ("MALFORMED", 21),
    ("UNSUPPORTED_VERSION", 22),
    ("LIMIT_EXCEEDED", 23),
    ("MISSING_CACHE_ENTRY", 24),
    ("OUT_OF_SYNC", 25),
    ("NO_CHECKPOINT", 26),
    ("CORRUPT_PAYLOAD", 27),
    ("CONTROL_NOT_GRANTED", 30),
    ("POINTER_OUTSIDE_SCREEN", 31),
    ("INVALID_SESSION_KEY", 32),
    ("UNKNOWN_SESSION_KEY", 33),
    ("SESSION_KEY_EXPIRED", 34),
    ("RATE_LIMITED", 35),
    ("RELAY_UNREACHABLE", 40),
    ("TLS", 41),
    ("INVALID_RELAY_URL", 42),
    ("PROTOCOL_ERROR", 43),
    ("SESSION_ENDED", 44),
    ("REMOVED", 45),
    ("RELAY_FULL", 46),
    ("CONNECTION_LOST", 47),
    ("CLOSED", 48),
    ("TIMEOUT", 49),
    ("SESSION_KEY_IN_USE", 50),
    ("INVALID_REQUEST", 51),
    ("UNKNOWN", 99),
];

/// An argument out of its documented range.
pub const INVALID_ARGUMENT: u32 = 4;
/// No such state yet (no framebuffer before the first checkpoint).
pub const NOT_AVAILABLE: u32 = 8;
/// An engine error this binding does not know.
pub const UNKNOWN: u32 = 99;

/// The code of a core error: the core's own number when this binding knows it, else [`UNKNOWN`].
pub fn code_of(error: &glimpse::Error) -> u32 {
    known(error.code())
}

/// The code of a quick-connect error (engine errors keep the engine's number), else [`UNKNOWN`].
pub fn connect_code_of(error: &ConnectError) -> u32 {
    known(error.code())
}

fn known(code: u32) -> u32 {
    if code >= 10 && CODES.iter().any(|&(_, c)| c == code) {
        code
    } else {
        UNKNOWN
    }
}

/// The table of codes as a JS object `{ NAME: code, ... }`.
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> crate::CodeTable {
    let table = js_sys::Object::new();
    for &(name, code) in CODES {
        // Setting a property on a fresh plain object cannot fail.
        let _ = js_sys::Reflect::set(&table, &name.into(), &code.into());
    }
    wasm_bindgen::JsCast::unchecked_into(table)
}

/// A `GlimpseError`: a JS `Error` with `name` and `code`.
pub fn js_error(code: u32, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("GlimpseError");
    // Setting a property on a fresh Error cannot fail.
    let _ = js_sys::Reflect::set(&error, &"code".into(), &code.into());
    error.into()
}

/// The JS error for a core error.
pub fn from_core(error: &glimpse::Error) -> JsValue {
    js_error(code_of(error), &error.to_string())
}

/// The JS error for a quick-connect error.
pub fn from_connect(error: &ConnectError) -> JsValue {
    js_error(connect_code_of(error), &error.to_string())
}

/// An invalid-argument error.
pub fn invalid(message: &str) -> JsValue {
    js_error(INVALID_ARGUMENT, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every core error, one per variant, has its own number in the table (never `UNKNOWN`).
    #[test]
    fn core_codes_are_known() {
        let errors = [
            glimpse::Error::InvalidDimensions {
                width: 0,
                height: 0,
                max: 1,
            },
            glimpse::Error::InvalidStride { stride: 0, min: 1 },
            glimpse::Error::BufferTooSmall {
                needed: 1,
                actual: 0,
            },
            glimpse::Error::UnknownPixelFormat(9),
            glimpse::Error::InvalidRect {
                x: 0,
                y: 0,
                width: 0,
                height: 0,
                screen_width: 1,
                screen_height: 1,
            },
            glimpse::Error::Truncated("x"),
            glimpse::Error::Malformed("x"),
            glimpse::Error::UnsupportedVersion {
                found: 9,
                supported: 1,
            },
            glimpse::Error::LimitExceeded {
                what: "x",
                value: 2,
                limit: 1,
            },
            glimpse::Error::MissingCacheEntry { id: 1 },
            glimpse::Error::OutOfSync {
                expected: 1,
                got: 2,
            },
            glimpse::Error::NoCheckpoint,
            glimpse::Error::CorruptPayload("x"),
            glimpse::Error::ControlNotGranted { viewer: 1 },
            glimpse::Error::PointerOutsideScreen {
                x: 0,
                y: 0,
                width: 1,
                height: 1,
            },
        ];
        for e in &errors {
            assert_eq!(code_of(e), e.code(), "{e:?}");
        }
        let core: Vec<u32> = errors.iter().map(|e| e.code()).collect();
        let connect: Vec<u32> = connect_errors().iter().map(|e| e.code()).collect();
        for &(name, code) in CODES {
            let known = core.contains(&code) || connect.contains(&code);
            assert_eq!((10..99).contains(&code), known, "{name}");
        }
        for (i, a) in CODES.iter().enumerate() {
            assert!(CODES[i + 1..].iter().all(|b| a.0 != b.0 && a.1 != b.1));
        }
    }

    /// One quick-connect error per variant (engine errors are covered above).
    fn connect_errors() -> Vec<ConnectError> {
        vec![
            ConnectError::ControlNotGranted,
            ConnectError::InvalidKey("x"),
            ConnectError::UnknownSession,
            ConnectError::KeyExpired,
            ConnectError::RateLimited { retry_after_ms: 1 },
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
            ConnectError::KeyInUse,
            ConnectError::InvalidRequest("x".into()),
        ]
    }

    /// Every quick-connect error has its own number in the table, the C library's.
    #[test]
    fn connect_codes_are_known() {
        for e in connect_errors() {
            assert_eq!(connect_code_of(&e), e.code(), "{e:?}");
            assert!((30..60).contains(&e.code()), "{e:?}");
        }
        let engine = ConnectError::Engine(glimpse::Error::NoCheckpoint);
        assert_eq!(connect_code_of(&engine), 26);
    }
}
