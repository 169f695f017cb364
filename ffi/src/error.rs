//! Result codes, their messages, and the thread-local last-error detail.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

/// What a Glimpse call did. `GLIMPSE_RESULT_OK` (0) is success; every other value is a failure and
/// nothing was written to the call's outputs (except the needed size on `GLIMPSE_RESULT_BUFFER_TOO_SMALL`).
///
/// Numbers never change once released. 1..9 are conditions of the C interface itself; 10..31 are
/// the engine's errors and equal the core's `glimpse::Error::code()`; 30..39 (session) and 40..59
/// (connection) are quick connect's errors (`glimpse_host_*`) and equal `ConnectError::code()` of
/// glimpse-connect (30 is both the engine's and quick connect's "control not granted"). Functions
/// return this type; functions that take a code (`glimpse_result_message`) take a plain `uint32_t`,
/// so unknown values from newer libraries are safe to pass.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum glimpse_result {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullParameter = 1,
    /// Glimpse panicked inside the call (a bug in Glimpse). The object the call was given may be in an
    /// inconsistent state: free it and start over.
    Panic = 2,
    /// The caller's output buffer is too small; the needed size was written to the size output.
    BufferTooSmall = 3,
    /// An integer argument or settings field is out of its documented range (e.g. a bool that is not
    /// 0 or 1, an unknown entropy mode, a count too large to address).
    InvalidArgument = 4,
    /// A settings struct whose `struct_size` is smaller than the first version, or larger than this
    /// library knows with non-zero bytes in the part it does not know.
    SettingsSize = 5,
    /// The encoder's packet queue is full: drain it with `glimpse_encoder_next_packet` first. The call
    /// did nothing.
    QueueFull = 6,
    /// `glimpse_encoder_next_packet`: no packet is waiting.
    NoPacket = 7,
    /// The object has no such state yet (no framebuffer before the first checkpoint, no cursor before
    /// the first cursor packet, no session before the first frame).
    NotAvailable = 8,
    /// The object is in use by a call further up this thread's stack (a call from inside a packet
    /// callback that would need the encoder while it works). The call did nothing.
    Busy = 9,
    /// Width or height is zero or above 8192.
    InvalidDimensions = 10,
    /// A row stride smaller than `width * 4` bytes.
    InvalidStride = 11,
    /// The pixel buffer ends before the last row of the frame (`len` too small for width, height, stride).
    FrameDataTooShort = 12,
    /// A pixel format value that Glimpse does not know (see `glimpse_pixel_format`).
    UnknownPixelFormat = 13,
    /// A rectangle that is empty or lies (partly) outside the screen.
    InvalidRect = 14,
    /// A packet ended before a field it announced.
    Truncated = 20,
    /// A packet that is structurally wrong (bad magic, bad field value, trailing bytes, ...).
    Malformed = 21,
    /// A packet of a protocol version this decoder does not speak.
    UnsupportedVersion = 22,
    /// A packet or argument whose sizes exceed what Glimpse accepts.
    LimitExceeded = 23,
    /// A cached-tile reference to an entry the decoder does not hold.
    MissingCacheEntry = 24,
    /// A frame update that does not follow the previous one: the viewer needs a checkpoint.
    OutOfSync = 25,
    /// A frame update or cursor packet before any checkpoint.
    NoCheckpoint = 26,
    /// Compressed data that does not decompress to its declared size.
    CorruptPayload = 27,
    /// Input from a viewer that does not hold remote control.
    ControlNotGranted = 30,
    /// A pointer event outside the shared screen.
    PointerOutsideScreen = 31,
    /// Text that is not a join code (10 digits, optionally grouped by spaces or dashes).
    InvalidCode = 32,
    /// A code that names no session (a typo, a code that was replaced, or a session that ended).
    UnknownSession = 33,
    /// A code whose session was unused for too long.
    CodeExpired = 34,
    /// Too many failed attempts from this network, or at this relay: try again later (the
    /// last-error detail says when).
    RateLimited = 35,
    /// The code was wrong: the key exchange with the host did not confirm.
    WrongCode = 36,
    /// The host did not let this viewer in.
    NotAdmitted = 37,
    /// The relay could not be reached (connection refused, host unreachable, timed out, DNS).
    RelayUnreachable = 40,
    /// TLS failed: an untrusted or invalid certificate, or an unusable CA file.
    Tls = 41,
    /// A relay URL that cannot be used (it must be `ws://HOST:PORT`, `wss://HOST[:PORT]`, or the
    /// `http(s)://` page URL).
    InvalidRelayUrl = 42,
    /// A peer sent something the quick-connect protocol does not allow.
    ProtocolError = 43,
    /// The session is over: ended by the host, or closed for good by the relay.
    SessionEnded = 44,
    /// The host removed this viewer from the session.
    Removed = 45,
    /// The relay refused: too many sessions or viewers, or its memory budget is spent.
    RelayFull = 46,
    /// The connection to the relay was lost and could not be restored in time.
    ConnectionLost = 47,
    /// The session's network thread is gone (the session ended): nothing more will come.
    Closed = 48,
    /// Nothing happened in time (`glimpse_host_next_event`: no event within the timeout).
    Timeout = 49,
    /// The code is held by another host.
    CodeInUse = 50,
    /// A request that does not fit the current state of the session.
    InvalidRequest = 51,
    /// An engine error this version of the C library has no code for (the core is newer than the
    /// binding). The last-error detail says what it was.
    Unknown = 99,
}

impl glimpse_result {
    /// Every code, for tests and for `glimpse_result_message`.
    pub(crate) const ALL: [glimpse_result; 44] = [
        Self::Ok,
        Self::NullParameter,
        Self::Panic,
        Self::BufferTooSmall,
        Self::InvalidArgument,
        Self::SettingsSize,
        Self::QueueFull,
        Self::NoPacket,
        Self::NotAvailable,
        Self::Busy,
        Self::InvalidDimensions,
        Self::InvalidStride,
        Self::FrameDataTooShort,
        Self::UnknownPixelFormat,
        Self::InvalidRect,
        Self::Truncated,
        Self::Malformed,
        Self::UnsupportedVersion,
        Self::LimitExceeded,
        Self::MissingCacheEntry,
        Self::OutOfSync,
        Self::NoCheckpoint,
        Self::CorruptPayload,
        Self::ControlNotGranted,
        Self::PointerOutsideScreen,
        Self::InvalidCode,
        Self::UnknownSession,
        Self::CodeExpired,
        Self::RateLimited,
        Self::WrongCode,
        Self::NotAdmitted,
        Self::RelayUnreachable,
        Self::Tls,
        Self::InvalidRelayUrl,
        Self::ProtocolError,
        Self::SessionEnded,
        Self::Removed,
        Self::RelayFull,
        Self::ConnectionLost,
        Self::Closed,
        Self::Timeout,
        Self::CodeInUse,
        Self::InvalidRequest,
        Self::Unknown,
    ];

    /// The code for a number, if it is one.
    pub(crate) fn from_u32(code: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| *c as u32 == code)
    }

    /// The code of a core error: the core's own number (`Error::code`), so the two never drift.
    pub(crate) fn from_core(error: &engine::Error) -> Self {
        match Self::from_u32(error.code()) {
            Some(code) if code as u32 >= 10 && code != Self::Unknown => code,
            _ => Self::Unknown,
        }
    }

    /// The code of a quick-connect error: `ConnectError::code()`, the core's number for engine
    /// errors. This is the one mapping from `ConnectError` (by number, like [`Self::from_core`]:
    /// the enum is `non_exhaustive`, so the tests check every number `code()` returns instead).
    pub(crate) fn from_connect(error: &connect::ConnectError) -> Self {
        match error {
            connect::ConnectError::Engine(e) => Self::from_core(e),
            other => match Self::from_u32(other.code()) {
                Some(code) if Self::is_connect_code(code as u32) => code,
                _ => Self::Unknown,
            },
        }
    }

    /// The numbers quick connect owns (30 is shared with the engine).
    fn is_connect_code(code: u32) -> bool {
        (30..60).contains(&code) && code != Self::PointerOutsideScreen as u32
    }

    /// A short, static, NUL-terminated description.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Ok => "success\0",
            Self::NullParameter => "a required pointer argument was NULL\0",
            Self::Panic => "internal error: Glimpse panicked (please report a bug)\0",
            Self::BufferTooSmall => "output buffer too small (the needed size was returned)\0",
            Self::InvalidArgument => "an argument is out of its documented range\0",
            Self::SettingsSize => "settings struct_size is not one this library understands\0",
            Self::QueueFull => "packet queue full: drain it with glimpse_encoder_next_packet\0",
            Self::NoPacket => "no packet waiting\0",
            Self::NotAvailable => "not available yet\0",
            Self::Busy => "object busy: called again from inside one of its callbacks\0",
            Self::InvalidDimensions => "invalid dimensions: each side must be 1..=8192\0",
            Self::InvalidStride => "stride is smaller than a row (width * 4 bytes)\0",
            Self::FrameDataTooShort => "pixel buffer is too short for width, height and stride\0",
            Self::UnknownPixelFormat => "unknown pixel format\0",
            Self::InvalidRect => "rectangle is empty or outside the screen\0",
            Self::Truncated => "packet truncated\0",
            Self::Malformed => "malformed packet\0",
            Self::UnsupportedVersion => "unsupported protocol version\0",
            Self::LimitExceeded => "size above the accepted limit\0",
            Self::MissingCacheEntry => {
                "packet refers to a tile cache entry the decoder does not hold\0"
            }
            Self::OutOfSync => "frame update out of sequence: a checkpoint is needed\0",
            Self::NoCheckpoint => "no checkpoint received yet\0",
            Self::CorruptPayload => "corrupt compressed payload\0",
            Self::ControlNotGranted => "the viewer does not hold remote control\0",
            Self::PointerOutsideScreen => "pointer position outside the shared screen\0",
            Self::InvalidCode => "not a code (10 digits)\0",
            Self::UnknownSession => "no session has this code\0",
            Self::CodeExpired => "the code expired\0",
            Self::RateLimited => "too many failed attempts: retry later\0",
            Self::WrongCode => "wrong code: the key exchange did not confirm\0",
            Self::NotAdmitted => "the host did not let this viewer in\0",
            Self::RelayUnreachable => "cannot reach the relay\0",
            Self::Tls => "TLS failed (certificate or TLS settings)\0",
            Self::InvalidRelayUrl => "invalid relay URL (ws://HOST:PORT or wss://HOST[:PORT])\0",
            Self::ProtocolError => "quick-connect protocol error\0",
            Self::SessionEnded => "the session ended\0",
            Self::Removed => "removed from the session by the host\0",
            Self::RelayFull => "the relay is full\0",
            Self::ConnectionLost => "connection to the relay lost\0",
            Self::Closed => "the session is closed: nothing more will come\0",
            Self::Timeout => "timed out: nothing happened in time\0",
            Self::CodeInUse => "the code is in use by another host\0",
            Self::InvalidRequest => "invalid request for the session's current state\0",
            Self::Unknown => "unknown engine error (see glimpse_last_error)\0",
        }
    }
}

/// A failed call: its code and a detail message for `glimpse_last_error`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub code: glimpse_result,
    pub detail: String,
}

impl Failure {
    pub(crate) fn new(code: glimpse_result, detail: impl Into<String>) -> Self {
        Failure {
            code,
            detail: detail.into(),
        }
    }

    pub(crate) fn null(name: &str) -> Self {
        Failure::new(glimpse_result::NullParameter, format!("{name} is NULL"))
    }

    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Failure::new(glimpse_result::InvalidArgument, detail)
    }
}

impl From<engine::Error> for Failure {
    fn from(error: engine::Error) -> Self {
        Failure::new(glimpse_result::from_core(&error), error.to_string())
    }
}

impl From<connect::ConnectError> for Failure {
    fn from(error: connect::ConnectError) -> Self {
        Failure::new(glimpse_result::from_connect(&error), error.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Records the detail of a failed call on this thread.
pub(crate) fn set_last_error(detail: &str) {
    let text = CString::new(detail.replace('\0', " ")).unwrap_or_default();
    // A thread being torn down has no slot any more: the detail is simply lost then.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(text);
        }
    });
}

/// The detail of the last failed call on this thread, or "" when there was none.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| {
            slot.try_borrow()
                .ok()
                .and_then(|s| s.as_ref().map(|c| c.as_ptr()))
        })
        .ok()
        .flatten()
        .unwrap_or(c"".as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every core error, one per variant: its C code must be the core's number, never `Unknown`.
    #[test]
    fn core_codes_match() {
        let errors = [
            engine::Error::InvalidDimensions {
                width: 0,
                height: 0,
                max: 1,
            },
            engine::Error::InvalidStride { stride: 0, min: 1 },
            engine::Error::BufferTooSmall {
                needed: 1,
                actual: 0,
            },
            engine::Error::UnknownPixelFormat(9),
            engine::Error::InvalidRect {
                x: 0,
                y: 0,
                width: 0,
                height: 0,
                screen_width: 1,
                screen_height: 1,
            },
            engine::Error::Truncated("x"),
            engine::Error::Malformed("x"),
            engine::Error::UnsupportedVersion {
                found: 9,
                supported: 1,
            },
            engine::Error::LimitExceeded {
                what: "x",
                value: 2,
                limit: 1,
            },
            engine::Error::MissingCacheEntry { id: 1 },
            engine::Error::OutOfSync {
                expected: 1,
                got: 2,
            },
            engine::Error::NoCheckpoint,
            engine::Error::CorruptPayload("x"),
            engine::Error::ControlNotGranted { viewer: 1 },
            engine::Error::PointerOutsideScreen {
                x: -1,
                y: 0,
                width: 1,
                height: 1,
            },
        ];
        for e in &errors {
            let c = glimpse_result::from_core(e);
            assert_ne!(c, glimpse_result::Unknown, "{e:?} has no C code");
            assert_eq!(c as u32, e.code(), "{e:?}");
            // Through quick connect an engine error keeps its engine code.
            let wrapped = connect::ConnectError::Engine(e.clone());
            assert_eq!(glimpse_result::from_connect(&wrapped), c, "{e:?}");
        }
        // The core's enum is non_exhaustive, so no match here can notice a new variant: read the
        // numbers of `Error::code` from its source instead. A core code without a C code (or a list
        // above missing a variant) fails here.
        let mut listed: Vec<u32> = errors.iter().map(|e| e.code()).collect();
        listed.sort_unstable();
        assert_eq!(
            code_numbers(include_str!("../../core/src/error.rs")),
            listed,
            "core Error::code numbers vs the variants listed here"
        );
    }

    /// One quick-connect error per variant (but `Engine`, tested above).
    fn connect_errors() -> Vec<connect::ConnectError> {
        use connect::ConnectError as E;
        vec![
            E::InvalidCode("x"),
            E::UnknownSession,
            E::CodeExpired,
            E::RateLimited { retry_after_ms: 1 },
            E::WrongCode,
            E::NotAdmitted,
            E::Unreachable("x".into()),
            E::Tls("x".into()),
            E::InvalidUrl {
                url: "x".into(),
                reason: "x",
            },
            E::Protocol("x".into()),
            E::SessionEnded("x".into()),
            E::Removed,
            E::RelayFull("x".into()),
            E::ConnectionLost("x".into()),
            E::Closed,
            E::Timeout("x"),
            E::CodeInUse,
            E::ControlNotGranted,
            E::InvalidRequest("x".into()),
        ]
    }

    /// Every quick-connect error has the C code of its own number, never `Unknown`.
    #[test]
    fn connect_codes_match() {
        let errors = connect_errors();
        for e in &errors {
            let c = glimpse_result::from_connect(e);
            assert_ne!(c, glimpse_result::Unknown, "{e:?} has no C code");
            assert_eq!(c as u32, e.code(), "{e:?}");
            assert_eq!(Failure::from(e.clone()).code, c);
        }
        // `ConnectError` is non_exhaustive too: its numbers come from the source of `code()`.
        let mut listed: Vec<u32> = errors.iter().map(|e| e.code()).collect();
        listed.sort_unstable();
        assert_eq!(
            code_numbers(include_str!("../../connect/src/error.rs")),
            listed,
            "ConnectError::code numbers vs the variants listed here"
        );
    }

    /// The C codes from 10 up are exactly the core's and quick connect's numbers (and `Unknown`):
    /// no code without an error behind it, no error without a code.
    #[test]
    fn c_codes_are_core_and_connect_codes() {
        let mut numbers = code_numbers(include_str!("../../core/src/error.rs"));
        numbers.extend(code_numbers(include_str!("../../connect/src/error.rs")));
        numbers.sort_unstable();
        numbers.dedup();
        let mut c: Vec<u32> = glimpse_result::ALL
            .iter()
            .map(|c| *c as u32)
            .filter(|n| *n >= 10 && *n != glimpse_result::Unknown as u32)
            .collect();
        c.sort_unstable();
        assert_eq!(c, numbers);
    }

    /// The numbers a `pub fn code(&self)` returns, read from a source file (lines `... => N,`), sorted.
    fn code_numbers(source: &str) -> Vec<u32> {
        let body = &source[source.find("pub fn code(&self)").expect("fn code")..];
        let body = &body[..body.find("\n    }\n").expect("end of fn code")];
        let mut numbers: Vec<u32> = body
            .lines()
            .filter_map(|l| l.split_once("=> ")?.1.trim_end_matches(',').parse().ok())
            .collect();
        numbers.sort_unstable();
        numbers
    }

    #[test]
    fn codes_are_unique_and_messages_terminated() {
        for (i, a) in glimpse_result::ALL.iter().enumerate() {
            assert!(
                a.message().ends_with('\0') && !a.message()[..a.message().len() - 1].contains('\0')
            );
            for b in &glimpse_result::ALL[i + 1..] {
                assert_ne!(*a as u32, *b as u32);
            }
        }
    }
}
