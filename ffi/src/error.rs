//! Result codes, their messages, and the thread-local last-error detail.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

pub use crate::result_code::glimpse_result;

impl glimpse_result {
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
            engine::Error::FrameDataTooShort {
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
        assert_all_listed(
            include_str!("../../core/src/error.rs"),
            errors.iter().map(|e| e.code()),
            "core Error::code",
        );
    }

    /// One quick-connect error per variant (but `Engine`, tested above).
    fn connect_errors() -> Vec<connect::ConnectError> {
        use connect::ConnectError;
        include!("connect_error_samples.rs")
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
        assert_all_listed(
            include_str!("../../connect/src/error.rs"),
            errors.iter().map(|e| e.code()),
            "ConnectError::code",
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

    /// Checks that the codes of the errors listed in a test are exactly the numbers `fn code` of
    /// `source` returns (`what` names it).
    #[track_caller]
    fn assert_all_listed(source: &str, listed: impl Iterator<Item = u32>, what: &str) {
        let mut listed: Vec<u32> = listed.collect();
        listed.sort_unstable();
        assert_eq!(
            code_numbers(source),
            listed,
            "{what} numbers vs the variants listed here"
        );
    }

    /// The numbers a `pub fn code(&self)` returns, read from a source file (lines
    /// `... => code::NAME,`, looked up in the core's table), sorted.
    fn code_numbers(source: &str) -> Vec<u32> {
        let body = &source[source.find("pub fn code(&self)").expect("fn code")..];
        let body = &body[..body.find("\n    }\n").expect("end of fn code")];
        let mut numbers: Vec<u32> = body
            .lines()
            .filter_map(|l| {
                let name = l.split_once("=> code::")?.1.trim_end_matches(',');
                let entry = engine::result_code::ALL.iter().find(|c| c.name == name);
                Some(
                    entry
                        .unwrap_or_else(|| panic!("{name} is not in the table"))
                        .number,
                )
            })
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
