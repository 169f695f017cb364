//! JavaScript errors: `Error` objects with `name = "GlimpseError"` and a stable numeric `code`.
//!
//! Codes 10 and above are the core's [`glimpse::Error::code`] (the same numbers as the C library's
//! `GLIMPSE_RESULT_*`). Conditions of the JavaScript interface itself reuse the C interface's numbers
//! where they mean the same: 4 (`INVALID_ARGUMENT`) and 8 (`NOT_AVAILABLE`); 2 (`PANIC`) is thrown by the
//! JavaScript layer when the engine traps (a bug in Glimpse). 99 (`UNKNOWN`) is an engine
//! error this binding has no name for. Numbers never change once released.

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
    let code = error.code();
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
        ];
        for e in &errors {
            assert_eq!(code_of(e), e.code(), "{e:?}");
        }
        let core: Vec<u32> = errors.iter().map(|e| e.code()).collect();
        for &(name, code) in CODES {
            assert_eq!((10..99).contains(&code), core.contains(&code), "{name}");
        }
        for (i, a) in CODES.iter().enumerate() {
            assert!(CODES[i + 1..].iter().all(|b| a.0 != b.0 && a.1 != b.1));
        }
    }
}
