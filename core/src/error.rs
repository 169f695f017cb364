//! Errors returned by every fallible Glimpse call.
//!
//! One enum for the whole crate so that the C and JavaScript layers can map each variant to a stable
//! numeric code with one exhaustive `match` (see [`Error::code`]).

use thiserror::Error;

use crate::result_code as code;

/// Everything that can go wrong in Glimpse. Variants carry the expected and the received values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
#[allow(missing_docs)] // variant fields are the expected and received values the variant names
pub enum Error {
    /// Width or height is zero or above [`crate::MAX_DIMENSION`].
    #[error("invalid dimensions {width}x{height}: each side must be 1..={max}")]
    InvalidDimensions { width: u32, height: u32, max: u32 },

    /// A row stride smaller than `width * 4` bytes.
    #[error("stride {stride} bytes is smaller than a row of {min} bytes")]
    InvalidStride { stride: usize, min: usize },

    /// The pixel buffer ends before the last row of the frame.
    #[error("pixel buffer holds {actual} bytes, the frame needs {needed}")]
    FrameDataTooShort { needed: usize, actual: usize },

    /// A pixel format number that Glimpse does not know (from C or JS callers).
    #[error("unknown pixel format {0}")]
    UnknownPixelFormat(u32),

    /// A rectangle that is empty or lies (partly) outside the screen.
    #[error("rectangle {x},{y} {width}x{height} is empty or outside the {screen_width}x{screen_height} screen")]
    InvalidRect {
        x: u32,
        y: u32,
        width: u32,
        height: u32,
        screen_width: u32,
        screen_height: u32,
    },

    /// A packet ended before a field it announced.
    #[error("packet truncated while reading {0}")]
    Truncated(&'static str),

    /// A packet that is structurally wrong (bad magic, bad field value, trailing bytes, ...).
    #[error("malformed packet: {0}")]
    Malformed(&'static str),

    /// A packet of a protocol version this decoder does not speak.
    #[error("unsupported protocol version {found} (this build speaks {supported})")]
    UnsupportedVersion { found: u8, supported: u8 },

    /// A packet whose declared sizes exceed what the decoder accepts.
    #[error("{what} is {value}, above the limit of {limit}")]
    LimitExceeded {
        what: &'static str,
        value: u64,
        limit: u64,
    },

    /// A cached-tile reference to an entry the decoder does not hold.
    #[error("tile cache has no entry {id}")]
    MissingCacheEntry { id: u64 },

    /// A frame update that does not follow the previous one: the viewer needs a checkpoint.
    #[error("frame update {got} does not follow {expected}: a checkpoint is needed")]
    OutOfSync { expected: u64, got: u64 },

    /// A frame update or cursor packet before any checkpoint.
    #[error("no checkpoint received yet")]
    NoCheckpoint,

    /// Compressed tile data that does not decompress to its declared size.
    #[error("corrupt compressed payload: {0}")]
    CorruptPayload(&'static str),

    /// Input from a viewer that does not hold remote control.
    #[error("viewer {viewer} does not hold remote control")]
    ControlNotGranted { viewer: u64 },

    /// A pointer event outside the shared screen.
    #[error("pointer at {x},{y} is outside the {width}x{height} screen")]
    PointerOutsideScreen {
        x: i32,
        y: i32,
        width: u32,
        height: u32,
    },
}

impl Error {
    /// The stable numeric code of this error (see [`crate::result_code`]), shared by the C library
    /// (`GLIMPSE_RESULT_*`) and the JavaScript package (`error.code`).
    pub fn code(&self) -> u32 {
        match self {
            Error::InvalidDimensions { .. } => code::INVALID_DIMENSIONS,
            Error::InvalidStride { .. } => code::INVALID_STRIDE,
            Error::FrameDataTooShort { .. } => code::FRAME_DATA_TOO_SHORT,
            Error::UnknownPixelFormat(_) => code::UNKNOWN_PIXEL_FORMAT,
            Error::InvalidRect { .. } => code::INVALID_RECT,
            Error::Truncated(_) => code::TRUNCATED,
            Error::Malformed(_) => code::MALFORMED,
            Error::UnsupportedVersion { .. } => code::UNSUPPORTED_VERSION,
            Error::LimitExceeded { .. } => code::LIMIT_EXCEEDED,
            Error::MissingCacheEntry { .. } => code::MISSING_CACHE_ENTRY,
            Error::OutOfSync { .. } => code::OUT_OF_SYNC,
            Error::NoCheckpoint => code::NO_CHECKPOINT,
            Error::CorruptPayload(_) => code::CORRUPT_PAYLOAD,
            Error::ControlNotGranted { .. } => code::CONTROL_NOT_GRANTED,
            Error::PointerOutsideScreen { .. } => code::POINTER_OUTSIDE_SCREEN,
        }
    }

    /// `Err(LimitExceeded)` naming `what` when `value` is above `limit`.
    pub(crate) fn check_limit(what: &'static str, value: u64, limit: u64) -> Result<()> {
        if value > limit {
            return Err(Error::LimitExceeded { what, value, limit });
        }
        Ok(())
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
