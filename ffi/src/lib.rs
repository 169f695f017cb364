//! # libglimpse: the C interface of the Glimpse screen-share engine
//!
//! A thin translation over the core crate (`glimpse`, here called `engine`): no engine logic lives
//! here. The header `include/glimpse.h` is generated from this crate by a pinned cbindgen
//! (`ffi/gen-header.sh`); the C documentation is these doc comments.
//!
//! Conventions (model: rustls-ffi):
//! - Opaque handles (`glimpse_encoder`, `glimpse_decoder`) made by `_new`, freed by `_free` (which
//!   accepts NULL); one ownership rule in [`boundary::BoxHandle`].
//! - Every export runs inside one panic boundary ([`boundary::ffi_call`]) and returns a
//!   `glimpse_result`; a panic becomes `GLIMPSE_RESULT_PANIC`, never an abort.
//! - Every pointer is checked (NULL gives `GLIMPSE_RESULT_NULL_PARAMETER`); values from C arrive as
//!   integers and are validated; outputs are written only when the call succeeds.
//!
//! `glimpse_host` (quick connect, [`host`] and [`host_event`]) wraps glimpse-connect's `Host`: a
//! screen shared through a relay, with the network on the library's own thread.
#![deny(unsafe_op_in_unsafe_fn)]

mod boundary;
pub mod decoder;
pub mod encoder;
pub mod error;
pub mod host;
pub mod host_event;
pub mod types;

use std::ffi::c_char;

use boundary::{ffi_call, out, slice};
use error::{glimpse_result, last_error_ptr, Failure};

/// The library version ("MAJOR.MINOR.PATCH", from Cargo.toml), NUL-terminated, static. Compare with
/// `GLIMPSE_VERSION_STRING` to detect a header/library mismatch. Thread-safe.
#[no_mangle]
pub extern "C" fn glimpse_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// A static, NUL-terminated English description of a result code; "unknown result code" for a
/// number that is not one. Never NULL; never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn glimpse_result_message(code: u32) -> *const c_char {
    glimpse_result::from_u32(code)
        .map_or("unknown result code\0", glimpse_result::message)
        .as_ptr()
        .cast()
}

/// Detail of the last failed Glimpse call on the calling thread (e.g. the expected and received
/// sizes), or "" if none failed yet. Successful calls leave it unchanged. Never NULL; the string
/// belongs to the library and is valid until the next failing Glimpse call on this thread: copy it
/// to keep it. Thread-safe (each thread has its own).
#[no_mangle]
pub extern "C" fn glimpse_last_error() -> *const c_char {
    last_error_ptr()
}

/// Reads the `glimpse_packet_kind` of a packet without decoding it (for relays). Writes `*out_kind`
/// on success.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` (`out_kind` NULL, or `data` NULL with a non-zero `len`),
/// `GLIMPSE_RESULT_TRUNCATED`, `GLIMPSE_RESULT_MALFORMED`, `GLIMPSE_RESULT_UNSUPPORTED_VERSION`.
/// Thread-safe.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes; `out_kind` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_packet_peek_kind(
    data: *const u8,
    len: usize,
    out_kind: *mut u32,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let data = unsafe { slice(data, len, "data") }?;
        // SAFETY: forwarded from the caller.
        let out_kind = unsafe { out(out_kind, "out_kind") }?;
        let kind = engine::protocol::peek_kind(data).map_err(Failure::from)?;
        *out_kind = types::kind_number(kind);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn version_is_cargo_version() {
        // SAFETY: static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(glimpse_version()) }
            .to_str()
            .unwrap();
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn messages_for_all_codes() {
        for code in 0..200 {
            // SAFETY: static NUL-terminated strings.
            let m = unsafe { CStr::from_ptr(glimpse_result_message(code)) };
            assert!(!m.to_bytes().is_empty());
        }
    }
}
