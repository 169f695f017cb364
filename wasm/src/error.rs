//! JavaScript errors: `Error` objects with `name = "GlimpseError"` and a stable numeric `code`.
//!
//! The codes are the core's table ([`glimpse::result_code`]), the entries marked for JavaScript: the
//! engine's (10-31), quick connect's (30-59), this interface's own 4 (`INVALID_ARGUMENT`) and 8
//! (`NOT_AVAILABLE`), 2 (`PANIC`, thrown by the JavaScript layer when the engine traps) and 99
//! (`UNKNOWN`, an error this binding has no name for).

use glimpse::result_code::{self, ResultCode};
use glimpse_connect::ConnectError;
use wasm_bindgen::prelude::*;

/// Every code the package can throw: the core's table ([`glimpse::result_code`]), the entries
/// marked for JavaScript. `ErrorCode` in `ts/codes.ts` is generated from the same table.
pub fn codes() -> impl Iterator<Item = &'static ResultCode> {
    result_code::ALL.iter().filter(|c| c.js)
}

/// An argument out of its documented range.
pub const INVALID_ARGUMENT: u32 = result_code::INVALID_ARGUMENT;
/// No such state yet (no framebuffer before the first checkpoint).
pub const NOT_AVAILABLE: u32 = result_code::NOT_AVAILABLE;
/// An engine error this binding does not know.
pub const UNKNOWN: u32 = result_code::UNKNOWN;

/// The code of a core error: the core's own number when this binding knows it, else [`UNKNOWN`].
pub fn code_of(error: &glimpse::Error) -> u32 {
    known(error.code())
}

/// The code of a quick-connect error (engine errors keep the engine's number), else [`UNKNOWN`].
pub fn connect_code_of(error: &ConnectError) -> u32 {
    known(error.code())
}

fn known(code: u32) -> u32 {
    if code >= 10 && codes().any(|c| c.number == code) {
        code
    } else {
        UNKNOWN
    }
}

/// The table of codes as a JS object `{ NAME: code, ... }`.
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> crate::CodeTable {
    let table = js_sys::Object::new();
    for code in codes() {
        let (name, code) = (code.name, code.number);
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

    /// Every number the core's errors use is one this binding throws as itself.
    #[test]
    fn engine_codes_are_known() {
        for code in result_code::ALL
            .iter()
            .filter(|c| (10..32).contains(&c.number))
        {
            assert!(code.js, "{}", code.name);
            assert_eq!(known(code.number), code.number, "{}", code.name);
        }
        assert_eq!(
            code_of(&glimpse::Error::NoCheckpoint),
            result_code::NO_CHECKPOINT
        );
        assert_eq!(known(28), UNKNOWN);
    }

    /// One quick-connect error per variant (engine errors are covered above): the C library's
    /// test list.
    fn connect_errors() -> Vec<ConnectError> {
        include!("../../ffi/src/connect_error_samples.rs")
    }

    /// Every name and number this binding throws is the C header's `GLIMPSE_RESULT_*` too.
    #[test]
    fn codes_are_the_c_headers() {
        let header = include_str!("../../include/glimpse.h");
        for code in codes() {
            let line = format!("GLIMPSE_RESULT_{} = {},", code.name, code.number);
            assert!(header.contains(&line), "{line} is not in include/glimpse.h");
        }
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
