//! Screen capture and input injection for Glimpse's `share` command.
//!
//! A [`ScreenSource`] hands out BGRA frames ready for [`glimpse::Frame::new`], with damage rectangles
//! as hints, and the mouse cursor separately (position every call, shape only when it changed):
//!
//! - [`X11Source`] (Linux) reads the real X11 screen: MIT-SHM `GetImage` into a shared segment when
//!   the server allows it (plain `GetImage` otherwise), XDamage for the changed rectangles, XFixes for
//!   the cursor. Depth 24 and 32 TrueColor screens only.
//! - [`DemoSource`] needs no X server: an animated, deterministic desktop-like scene whose damage
//!   rectangles are exact.
//!
//! [`open_default`] picks the X11 screen when `DISPLAY` is set and reachable, the demo otherwise.
//! For remote control, [`InputInjector`] replays the viewer's pointer, wheel and keys with XTest and
//! [`LocalInputWatch`] tells when the person at the host touched the mouse or keyboard, so that the
//! host takes control back at once.
//!
//! ```
//! use glimpse::{Encoder, EncoderConfig, Frame};
//! use glimpse_capture::{DemoSource, ScreenSource};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut source = DemoSource::new(640, 360); // or glimpse_capture::open_default()?
//! let mut encoder = Encoder::new(EncoderConfig::default());
//! for _ in 0..3 {
//!     let shot = source.capture()?;
//!     let frame = Frame::new(shot.pixels, shot.width, shot.height, shot.stride, shot.format)?;
//!     let _packet = encoder.encode(&frame)?; // damage: `shot.damage` (None = compare everything)
//!     if let Some(cursor) = source.cursor()? {
//!         let _ = (cursor.x, cursor.y, cursor.visible, cursor.shape.map(|s| s.serial));
//!     }
//! }
//! # Ok(())
//! # }
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod demo;
#[cfg(target_os = "linux")]
mod x11;

pub use demo::DemoSource;
use glimpse::{PixelFormat, Rect};
#[cfg(target_os = "linux")]
pub use x11::{InputInjector, LocalInputWatch, X11Source};

/// One captured screen image, borrowed from its source until the next call.
#[derive(Debug)]
pub struct CapturedFrame<'a> {
    /// Rows of pixels, `stride` bytes apart; alpha is 255 everywhere.
    pub pixels: &'a [u8],
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Bytes from one row to the next.
    pub stride: usize,
    /// Byte order of the pixels (always [`PixelFormat::Bgra8`] today).
    pub format: PixelFormat,
    /// What changed since the previous capture, as hints: every changed pixel lies inside one of the
    /// rectangles (they may cover unchanged pixels too). `None` means unknown: compare everything.
    /// `Some(vec![])` means nothing changed. The first frame and the first after a resize are `None`.
    pub damage: Option<Vec<Rect>>,
}

/// A cursor image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorShape {
    /// `width * height` pixels, bytes B, G, R, A, straight (not premultiplied) alpha.
    pub pixels: Vec<u8>,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Column of the pointer's hot spot inside the image.
    pub hotspot_x: u32,
    /// Row of the hot spot.
    pub hotspot_y: u32,
    /// Changes whenever the shape changes (the X server's cursor serial, or a counter).
    pub serial: u64,
}

/// Where the cursor is and, when it changed, what it looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorState {
    /// Column of the hot spot on the screen (may lie outside it on multi-head setups).
    pub x: i32,
    /// Row of the hot spot.
    pub y: i32,
    /// False when the cursor is hidden (an empty or fully transparent image).
    pub visible: bool,
    /// The new shape, only on the first call and when it changed since the previous call.
    pub shape: Option<CursorShape>,
}

/// Something that produces screen frames: the real screen or the demo scene.
pub trait ScreenSource {
    /// Current screen size in pixels (it may change between captures).
    fn size(&self) -> (u32, u32);
    /// Takes one frame. Its pixels are valid until the next call.
    fn capture(&mut self) -> Result<CapturedFrame<'_>, CaptureError>;
    /// The cursor's position and visibility, plus its shape when it changed. `None` when this
    /// source knows nothing about a cursor.
    fn cursor(&mut self) -> Result<Option<CursorState>, CaptureError>;
    /// A short name for logs: `"x11"` or `"demo"`.
    fn kind(&self) -> &'static str;
}

/// Why capturing or injecting failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// No X server could be reached (`DISPLAY` unset, wrong, or refused).
    #[error("cannot connect to the X server: {0}")]
    Connect(String),
    /// The connection broke or a request failed.
    #[error("X11 request failed: {0}")]
    Protocol(String),
    /// The server lacks an extension this needs.
    #[error("the X server lacks the {0} extension")]
    MissingExtension(&'static str),
    /// The screen's pixels are not 32-bit little-endian BGRX (depth 24 or 32, TrueColor).
    #[error("unsupported screen format: depth {depth}, {bits_per_pixel} bits per pixel, {detail}")]
    UnsupportedFormat {
        /// Screen depth.
        depth: u8,
        /// Bits per pixel of that depth's image format (0 when the server lists none).
        bits_per_pixel: u8,
        /// What else is wrong (byte order, colour masks).
        detail: String,
    },
    /// A size the source cannot produce (zero, or over [`glimpse::MAX_DIMENSION`]).
    #[error("invalid screen size {width}x{height}")]
    InvalidSize {
        /// Requested columns.
        width: u32,
        /// Requested rows.
        height: u32,
    },
    /// An injected input event was refused (unknown button, keysym that cannot be mapped...).
    #[error("invalid input event: {0}")]
    InvalidInput(String),
    /// An operating-system call failed (shared memory).
    #[error("system call failed: {0}")]
    Os(#[from] std::io::Error),
}

/// Opens the real X11 screen when `DISPLAY` is set and the server can be reached, or the animated
/// [`DemoSource`] (1280x720) otherwise. A reachable server that cannot be captured (say depth 16)
/// is an error, not a silent fallback.
pub fn open_default() -> Result<Box<dyn ScreenSource>, CaptureError> {
    #[cfg(target_os = "linux")]
    if std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()) {
        match X11Source::open(None) {
            Ok(source) => return Ok(Box::new(source)),
            // Unreachable server: fall back to the demo. A reachable but unusable one is an error.
            Err(CaptureError::Connect(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(Box::new(DemoSource::new(1280, 720)))
}
