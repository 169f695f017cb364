//! The result codes every binding shares: one table of numbers, names and messages.
//!
//! This file is the only place a code is defined. The C library's `glimpse_result` enum and its
//! messages (`ffi/src/result_code.rs`, then `include/glimpse.h`) and the npm package's `ErrorCode`
//! (`wasm/ts/codes.ts`) are generated from [`ALL`] by `cargo run -p glimpse-codegen`; CI runs it
//! with `--check` and fails on any difference. [`crate::Error::code`] and quick connect's
//! `ConnectError::code` return these constants, so a number is written once.
//!
//! Numbers never change once released: 1..9 are conditions of the bindings' own interfaces, 10..29
//! the engine's errors, 30..59 quick connect's (30 "control not granted" is both the engine's and
//! quick connect's), 99 an error the binding has no code for. Adding a code is one entry here, then
//! a regeneration.
//!
//! ```
//! use glimpse::result_code::{self, ALL};
//!
//! let error = glimpse::Error::NoCheckpoint;
//! assert_eq!(error.code(), result_code::NO_CHECKPOINT);
//! let entry = ALL.iter().find(|c| c.number == error.code()).unwrap();
//! assert_eq!(entry.name, "NO_CHECKPOINT");
//! assert!(entry.c && entry.js);
//! ```

/// One result code: what the C library calls `GLIMPSE_RESULT_<name>` and the npm package
/// `ErrorCode.<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultCode {
    /// The stable number.
    pub number: u32,
    /// The name in upper snake case, without a prefix.
    pub name: &'static str,
    /// A short static description (`glimpse_result_message`).
    pub message: &'static str,
    /// What the code means, for the bindings' documentation (one or more lines).
    pub doc: &'static str,
    /// The C library can return it.
    pub c: bool,
    /// The npm package can throw or report it.
    pub js: bool,
}

macro_rules! result_codes {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident = $number:literal, $message:literal, c: $c:literal, js: $js:literal;
    )+) => {
        $(
            $(#[doc = $doc])+
            pub const $name: u32 = $number;
        )+

        /// Every code, in ascending order of number.
        pub const ALL: &[ResultCode] = &[$(
            ResultCode {
                number: $number,
                name: stringify!($name),
                message: $message,
                doc: concat!($($doc, "\n"),+),
                c: $c,
                js: $js,
            },
        )+];
    };
}

result_codes! {
    /// Success.
    OK = 0, "success", c: true, js: false;
    /// A required pointer argument was NULL.
    NULL_PARAMETER = 1, "a required pointer argument was NULL", c: true, js: false;
    /// Glimpse panicked inside the call, or its WebAssembly trapped (a bug in Glimpse). The object
    /// the call was given may be in an inconsistent state: free it and start over.
    PANIC = 2, "internal error: Glimpse panicked (please report a bug)", c: true, js: true;
    /// The caller's output buffer is too small; the needed size was written to the size output.
    BUFFER_TOO_SMALL = 3, "output buffer too small (the needed size was returned)", c: true, js: false;
    /// An integer argument or settings field is out of its documented range (e.g. a bool that is not
    /// 0 or 1, an unknown entropy mode, a count too large to address).
    INVALID_ARGUMENT = 4, "an argument is out of its documented range", c: true, js: true;
    /// A settings struct whose `struct_size` is smaller than the first version, or larger than this
    /// library knows with non-zero bytes in the part it does not know.
    SETTINGS_SIZE = 5, "settings struct_size is not one this library understands", c: true, js: false;
    /// The encoder's packet queue is full: drain it with `glimpse_encoder_next_packet` first. The call
    /// did nothing.
    QUEUE_FULL = 6, "packet queue full: drain it with glimpse_encoder_next_packet", c: true, js: false;
    /// `glimpse_encoder_next_packet`: no packet is waiting.
    NO_PACKET = 7, "no packet waiting", c: true, js: false;
    /// The object has no such state yet (no framebuffer before the first checkpoint, no cursor before
    /// the first cursor packet, no session before the first frame; in JavaScript: `init()` not awaited).
    NOT_AVAILABLE = 8, "not available yet", c: true, js: true;
    /// The object is in use by a call further up this thread's stack (a call from inside a packet
    /// callback that would need the encoder while it works). The call did nothing.
    BUSY = 9, "object busy: called again from inside one of its callbacks", c: true, js: false;
    /// Width or height is zero or above 8192.
    INVALID_DIMENSIONS = 10, "invalid dimensions: each side must be 1..=8192", c: true, js: true;
    /// A row stride smaller than `width * 4` bytes.
    INVALID_STRIDE = 11, "stride is smaller than a row (width * 4 bytes)", c: true, js: true;
    /// The pixel buffer ends before the last row of the frame (too short for width, height, stride).
    FRAME_DATA_TOO_SHORT = 12, "pixel buffer is too short for width, height and stride", c: true, js: true;
    /// A pixel format value that Glimpse does not know.
    UNKNOWN_PIXEL_FORMAT = 13, "unknown pixel format", c: true, js: true;
    /// A rectangle that is empty or lies (partly) outside the screen.
    INVALID_RECT = 14, "rectangle is empty or outside the screen", c: true, js: true;
    /// A packet ended before a field it announced.
    TRUNCATED = 20, "packet truncated", c: true, js: true;
    /// A packet that is structurally wrong (bad magic, bad field value, trailing bytes, ...).
    MALFORMED = 21, "malformed packet", c: true, js: true;
    /// A packet of a protocol version this decoder does not speak.
    UNSUPPORTED_VERSION = 22, "unsupported protocol version", c: true, js: true;
    /// A packet or argument whose sizes exceed what Glimpse accepts.
    LIMIT_EXCEEDED = 23, "size above the accepted limit", c: true, js: true;
    /// A cached-tile reference to an entry the decoder does not hold.
    MISSING_CACHE_ENTRY = 24, "packet refers to a tile cache entry the decoder does not hold", c: true, js: true;
    /// A frame update that does not follow the previous one: the viewer needs a checkpoint.
    OUT_OF_SYNC = 25, "frame update out of sequence: a checkpoint is needed", c: true, js: true;
    /// A frame update or cursor packet before any checkpoint.
    NO_CHECKPOINT = 26, "no checkpoint received yet", c: true, js: true;
    /// Compressed data that does not decompress to its declared size.
    CORRUPT_PAYLOAD = 27, "corrupt compressed payload", c: true, js: true;
    /// Input from a viewer that does not hold remote control.
    CONTROL_NOT_GRANTED = 30, "the viewer does not hold remote control", c: true, js: true;
    /// A pointer event outside the shared screen.
    POINTER_OUTSIDE_SCREEN = 31, "pointer position outside the shared screen", c: true, js: true;
    /// Text that is not a join code (10 digits, optionally grouped by spaces or dashes).
    INVALID_CODE = 32, "not a code (10 digits)", c: true, js: true;
    /// A code that names no session (a typo in its first five digits, a code that was replaced, or
    /// a session that ended).
    UNKNOWN_SESSION = 33, "no session has this code", c: true, js: true;
    /// A code whose session was unused for too long.
    CODE_EXPIRED = 34, "the code expired", c: true, js: true;
    /// Too many failed attempts from this network, or at this relay: try again later (the error's
    /// detail says when).
    RATE_LIMITED = 35, "too many failed attempts: retry later", c: true, js: true;
    /// The code was wrong: the key exchange with the host did not confirm (check its last five
    /// digits).
    WRONG_CODE = 36, "wrong code: the key exchange did not confirm", c: true, js: true;
    /// The host did not let this viewer in.
    NOT_ADMITTED = 37, "the host did not let this viewer in", c: true, js: true;
    /// The relay could not be reached (connection refused, host unreachable, timed out, DNS).
    RELAY_UNREACHABLE = 40, "cannot reach the relay", c: true, js: true;
    /// TLS failed: an untrusted or invalid certificate, or an unusable CA file (native clients only;
    /// a browser reports an unreachable relay).
    TLS = 41, "TLS failed (certificate or TLS settings)", c: true, js: true;
    /// A relay URL that cannot be used (it must be `ws://HOST:PORT`, `wss://HOST[:PORT]`, or the
    /// `http(s)://` page URL).
    INVALID_RELAY_URL = 42, "invalid relay URL (ws://HOST:PORT or wss://HOST[:PORT])", c: true, js: true;
    /// A peer sent something the quick-connect protocol does not allow.
    PROTOCOL_ERROR = 43, "quick-connect protocol error", c: true, js: true;
    /// The session is over: ended by the host, or closed for good by the relay.
    SESSION_ENDED = 44, "the session ended", c: true, js: true;
    /// The host removed this viewer from the session.
    REMOVED = 45, "removed from the session by the host", c: true, js: true;
    /// The relay refused: too many sessions or viewers, or its memory budget is spent.
    RELAY_FULL = 46, "the relay is full", c: true, js: true;
    /// The connection to the relay was lost and could not be restored in time.
    CONNECTION_LOST = 47, "connection to the relay lost", c: true, js: true;
    /// The session is closed by this side (its network thread is gone, or `leave()`, `end()`,
    /// `destroy()` was called): nothing more will come.
    CLOSED = 48, "the session is closed: nothing more will come", c: true, js: true;
    /// Nothing happened in time (no event within the timeout, no first screen, no code).
    TIMEOUT = 49, "timed out: nothing happened in time", c: true, js: true;
    /// The code is held by another host.
    CODE_IN_USE = 50, "the code is in use by another host", c: true, js: true;
    /// A request that does not fit the current state of the session (joining twice, a viewer that
    /// is not connected, ...).
    INVALID_REQUEST = 51, "invalid request for the session's current state", c: true, js: true;
    /// The session is letting many viewers in at once and this viewer's turn did not come in
    /// time: try again shortly (the error's detail says when). Joins retry by themselves first.
    SESSION_BUSY = 52, "the session is letting many viewers in: retry shortly", c: true, js: true;
    /// An error this version of the binding has no code for (the core is newer than the binding).
    /// The error's detail says what it was.
    UNKNOWN = 99, "unknown error (see the detail)", c: true, js: true;
}

/// The entry of a number, if it is a code.
#[must_use]
pub fn lookup(number: u32) -> Option<&'static ResultCode> {
    ALL.iter().find(|c| c.number == number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_ascend_and_names_are_unique() {
        for pair in ALL.windows(2) {
            assert!(pair[0].number < pair[1].number, "{pair:?}");
        }
        for (i, a) in ALL.iter().enumerate() {
            assert!(ALL[i + 1..].iter().all(|b| a.name != b.name), "{}", a.name);
            assert!(
                !a.message.is_empty() && !a.doc.trim().is_empty(),
                "{}",
                a.name
            );
            assert!(a.c || a.js, "{} reaches no binding", a.name);
        }
    }

    #[test]
    fn lookup_finds_table_entries_only() {
        assert_eq!(lookup(WRONG_CODE).map(|c| c.name), Some("WRONG_CODE"));
        assert_eq!(lookup(28), None);
    }
}
