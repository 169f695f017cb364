//! Screen capture and input injection for Glimpse's share command.
//!
//! A [`ScreenSource`] hands out BGRA (or RGBA) frames ready for the encoder
//! ([`CapturedFrame::frame`]), with damage rectangles as hints, and the mouse cursor separately
//! (position every call, shape only when it changed). Three backends:
//!
//! - **Wayland** ([`PortalSource`], Linux, the default `wayland` feature): the xdg-desktop-portal
//!   ScreenCast portal (through `ashpd`) picks what to share in its dialog, asked once thanks to a
//!   restore token kept under `$XDG_STATE_HOME/glimpse`; frames come from PipeWire (shared-memory
//!   buffers, linear DMA-BUFs when offered) on a thread of their own; damage from the stream's
//!   `SPA_META_VideoDamage`, or computed while copying when the compositor sends none; the cursor
//!   from `SPA_META_Cursor`. A still screen (the compositor sends nothing) is the last frame again
//!   with empty damage. Remote control goes through the RemoteDesktop portal ([`PortalInput`]).
//! - **X11** ([`X11Source`], Linux): MIT-SHM `GetImage` into a shared segment when the server allows
//!   it (plain `GetImage` otherwise), XDamage for the changed rectangles, XFixes for the cursor; the
//!   whole screen or one RandR monitor. Depth 24 and 32 TrueColor screens only. Remote control with
//!   XTest ([`X11Input`], built on [`InputInjector`] and [`LocalInputWatch`]).
//! - **Demo** ([`DemoSource`]): no display at all; an animated, deterministic desktop-like scene
//!   whose damage rectangles are exact.
//!
//! [`open`] picks the backend ([`detect_backend`]: `WAYLAND_DISPLAY` and a ScreenCast portal on the
//! session bus, else `DISPLAY`, else the demo), applies the [`Selection`] (whole screen, monitor
//! `n` from [`list_monitors`], a window) and, when asked, opens remote control as one
//! [`RemoteInput`] whatever the backend: pointer, buttons in browser numbering, wheel, keysyms, and
//! [`RemoteInput::local_activity`] for host priority (the person at the host takes control back by
//! touching their mouse or keyboard). It says which backend it uses ([`Opened::backend`]).
//!
//! ```
//! use glimpse::{Encoder, EncoderConfig};
//! use glimpse_capture::{open, BackendChoice, CaptureOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut options = CaptureOptions::default(); // the desktop's backend, whole screen
//! options.backend = BackendChoice::Demo; // (here: the demo, to run anywhere)
//! options.remote_control = true; // Opened::injector, when the backend grants it
//! let mut opened = open(&options)?;
//! println!("sharing through {}", opened.backend);
//! let mut encoder = Encoder::new(EncoderConfig::default());
//! for _ in 0..3 {
//!     let shot = opened.source.capture()?;
//!     let frame = shot.frame()?;
//!     let _packet = match &shot.damage {
//!         Some(hints) => encoder.encode_with_hints(&frame, hints)?,
//!         None => encoder.encode(&frame)?, // unknown damage: compare everything
//!     };
//!     if let Some(cursor) = opened.source.cursor()? {
//!         let _ = (cursor.x, cursor.y, cursor.visible, cursor.shape.map(|s| s.serial));
//!     }
//! }
//! if let Some(input) = opened.injector.as_mut() {
//!     input.pointer_move(100, 100)?; // frame coordinates
//! }
//! # Ok(())
//! # }
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod demo;
mod error;
mod open;
mod remote_input;
#[cfg(all(target_os = "linux", feature = "wayland"))]
mod wayland;
#[cfg(target_os = "linux")]
mod x11;

pub use demo::DemoSource;
pub use error::CaptureError;
use glimpse::{Frame, PixelFormat, Rect};
pub use open::{
    detect_backend, list_monitors, open, Backend, BackendChoice, CaptureOptions, Monitor, Opened,
    Selection,
};
pub use remote_input::{mouse_button, LocalWatch, RemoteInput};
#[cfg(all(target_os = "linux", feature = "wayland"))]
pub use wayland::{PortalInput, PortalSource, StreamInfo};
#[cfg(target_os = "linux")]
pub use x11::{InputInjector, LocalInputWatch, X11Input, X11Source};

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
    /// Byte order of the pixels: [`PixelFormat::Bgra8`], or [`PixelFormat::Rgba8`] from a PipeWire
    /// stream in RGBx/RGBA.
    pub format: PixelFormat,
    /// What changed since the previous capture, as hints: every changed pixel lies inside one of the
    /// rectangles (they may cover unchanged pixels too). `None` means unknown: compare everything.
    /// `Some(vec![])` means nothing changed. The first frame and the first after a resize are `None`.
    pub damage: Option<Vec<Rect>>,
}

impl<'a> CapturedFrame<'a> {
    /// The pixels as the frame an encoder takes ([`glimpse::Frame::new`] of them: the core's checks of
    /// size, stride and length). Pass [`damage`](Self::damage) along as its hints.
    pub fn frame(&self) -> Result<Frame<'a>, glimpse::Error> {
        Frame::new(
            self.pixels,
            self.width,
            self.height,
            self.stride,
            self.format,
        )
    }
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
    /// A short name for logs: `"portal"`, `"x11"` or `"demo"`.
    fn kind(&self) -> &'static str;
    /// Waits up to `timeout` for the screen to change: true when a capture now may show something
    /// new. Sources that are told about changes (the Wayland portal: PipeWire delivers frames only
    /// then) block until one comes, so a capture loop needs no polling there; the others answer
    /// true at once.
    fn wait_for_change(&mut self, timeout: std::time::Duration) -> Result<bool, CaptureError> {
        let _ = timeout;
        Ok(true)
    }
}

/// Opens the desktop's screen with [`CaptureOptions::default()`]: the Wayland portal, X11 or the
/// demo scene (1280x720), as [`detect_backend`] picks. Use [`open`] to choose what to share, get
/// remote control and learn which backend is in use.
pub fn open_default() -> Result<Box<dyn ScreenSource>, CaptureError> {
    Ok(open(&CaptureOptions::default())?.source)
}
