//! One interface for remote control, whatever the backend: XTest on X11, the RemoteDesktop portal
//! on Wayland.

use crate::CaptureError;

/// Browser numbering of mouse buttons (`MouseEvent.button`), which [`RemoteInput::button`] takes.
pub mod mouse_button {
    /// The main (left) button.
    pub const LEFT: u8 = 0;
    /// The middle button (wheel click).
    pub const MIDDLE: u8 = 1;
    /// The secondary (right) button.
    pub const RIGHT: u8 = 2;
    /// The "back" side button.
    pub const BACK: u8 = 3;
    /// The "forward" side button.
    pub const FORWARD: u8 = 4;
}

/// What [`RemoteInput::local_activity`] can notice of the person at the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalWatch {
    /// Pointer motion, buttons, wheel and keys (X11 with XInput 2, or polling).
    PointerAndKeyboard,
    /// Pointer motion only (the ScreenCast portal's cursor position): local typing, clicks and
    /// wheel turns without a motion go unnoticed.
    PointerMotion,
    /// Nothing: the host cannot take control back by touching its mouse or keyboard.
    Nothing,
}

/// Replays a viewer's input on this desktop and tells when the person at the host touched their
/// mouse or keyboard (host priority: the share command then gives control back at once).
///
/// Coordinates are pixels of the captured frames: `(0, 0)` is the top-left corner of what is shared
/// (the chosen monitor, not the whole desktop); positions outside are clamped to it. Implemented by
/// [`X11Input`](crate::X11Input) and, with the `wayland` feature, by the portal's
/// `PortalInput`; [`open`](crate::open) gives the right one as `Opened::injector`.
///
/// ```
/// use glimpse_capture::{mouse_button, CaptureError, RemoteInput};
///
/// /// Clicks at (x, y) and types `text` (ASCII letters, digits and spaces).
/// fn click_and_type(input: &mut dyn RemoteInput, x: i32, y: i32, text: &str) -> Result<(), CaptureError> {
///     input.pointer_move(x, y)?;
///     input.button(mouse_button::LEFT, true)?;
///     input.button(mouse_button::LEFT, false)?;
///     for c in text.chars() {
///         input.key(c as u32, true)?; // Latin-1 keysyms equal the code point
///         input.key(c as u32, false)?;
///     }
///     if input.local_activity()? {
///         input.release_all()?; // the person at the host moved: stop remote control
///     }
///     Ok(())
/// }
/// ```
pub trait RemoteInput: Send {
    /// Moves the pointer to (`x`, `y`) in captured-frame pixels.
    fn pointer_move(&mut self, x: i32, y: i32) -> Result<(), CaptureError>;
    /// Presses or releases a mouse button, numbered as browsers do: 0 left, 1 middle, 2 right,
    /// 3 back, 4 forward (see [`mouse_button`]); other numbers are [`CaptureError::InvalidInput`].
    fn button(&mut self, button: u8, down: bool) -> Result<(), CaptureError>;
    /// Scrolls by wheel notches: `dy` > 0 down, < 0 up; `dx` > 0 right, < 0 left.
    fn wheel(&mut self, dx: i32, dy: i32) -> Result<(), CaptureError>;
    /// Presses or releases the key producing the X11 `keysym` (`0x61` a, `0xff0d` Return,
    /// `0xffe1` Shift_L; Unicode `U+xxxx` is `0x0100_0000 + xxxx`). Modifiers are the caller's.
    fn key(&mut self, keysym: u32, down: bool) -> Result<(), CaptureError>;
    /// Releases every key and button still held down by this injector.
    fn release_all(&mut self) -> Result<(), CaptureError>;
    /// True when the person at the host used their mouse or keyboard since the previous call (what
    /// this injector injected does not count). See [`local_watch`](Self::local_watch) for what can
    /// be noticed.
    fn local_activity(&mut self) -> Result<bool, CaptureError>;
    /// What [`local_activity`](Self::local_activity) can notice on this backend.
    fn local_watch(&self) -> LocalWatch;
    /// Waits until everything injected so far has been handed to the display server.
    fn sync(&mut self) -> Result<(), CaptureError> {
        Ok(())
    }
    /// A short name for logs: `"xtest"` or `"portal"`.
    fn kind(&self) -> &'static str;
}

/// Checks a browser button number; the error says what is accepted.
pub(crate) fn check_button(button: u8) -> Result<u8, CaptureError> {
    if button <= mouse_button::FORWARD {
        Ok(button)
    } else {
        Err(CaptureError::InvalidInput(format!(
            "unknown mouse button {button} (0 left, 1 middle, 2 right, 3 back, 4 forward)"
        )))
    }
}

/// Checks an X11 keysym's range.
pub(crate) fn check_keysym(keysym: u32) -> Result<u32, CaptureError> {
    if keysym == 0 || keysym > 0x1ff_ffff {
        Err(CaptureError::InvalidInput(format!(
            "invalid keysym {keysym:#x}"
        )))
    } else {
        Ok(keysym)
    }
}
