//! [`RemoteInput`] on X11: an [`InputInjector`] with its [`LocalInputWatch`], in the coordinates
//! of the captured area.

use super::{InputInjector, LocalInputWatch};
use crate::remote_input::{check_button, check_keysym};
use crate::{CaptureError, LocalWatch, RemoteInput};
use glimpse::Rect;

/// Remote control on X11: XTest injection (an [`InputInjector`]) plus the watch on the local user
/// (its [`LocalInputWatch`]), with pointer positions relative to the captured area.
///
/// ```no_run
/// use glimpse_capture::{mouse_button, RemoteInput, X11Input};
/// let mut input = X11Input::open(None, None)?; // the whole screen of $DISPLAY
/// input.pointer_move(100, 200)?;
/// input.button(mouse_button::LEFT, true)?;
/// input.button(mouse_button::LEFT, false)?;
/// # Ok::<(), glimpse_capture::CaptureError>(())
/// ```
pub struct X11Input {
    injector: InputInjector,
    watch: Option<LocalInputWatch>,
    /// The captured area's top-left corner and size (`None`: the whole screen).
    area: Option<Rect>,
}

impl X11Input {
    /// Connects to `display` (`None`: `DISPLAY`) for the captured `area` (`None`: the whole
    /// screen; else the rectangle given to [`X11Source::open_area`](crate::X11Source::open_area)).
    /// Without XInput 2 or polling, the injector still works and
    /// [`local_activity`](RemoteInput::local_activity) is always false.
    pub fn open(display: Option<&str>, area: Option<Rect>) -> Result<Self, CaptureError> {
        let injector = InputInjector::open(display)?;
        let watch = injector.watch().ok();
        Ok(X11Input {
            injector,
            watch,
            area,
        })
    }

    /// The XTest injector itself (X11 button numbers, root-window coordinates).
    pub fn injector_mut(&mut self) -> &mut InputInjector {
        &mut self.injector
    }
}

/// X11 button number for a browser one: 1 left, 2 middle, 3 right, 8 back, 9 forward.
fn x11_button(button: u8) -> Result<u8, CaptureError> {
    Ok(match check_button(button)? {
        0..=2 => button + 1,
        3 => 8,
        _ => 9,
    })
}

impl RemoteInput for X11Input {
    fn pointer_move(&mut self, x: i32, y: i32) -> Result<(), CaptureError> {
        let (x, y) = match self.area {
            Some(a) => (
                a.x as i32 + x.clamp(0, a.width.saturating_sub(1) as i32),
                a.y as i32 + y.clamp(0, a.height.saturating_sub(1) as i32),
            ),
            None => (x, y),
        };
        self.injector.pointer_move(x, y)
    }

    fn button(&mut self, button: u8, down: bool) -> Result<(), CaptureError> {
        self.injector.button(x11_button(button)?, down)
    }

    fn wheel(&mut self, dx: i32, dy: i32) -> Result<(), CaptureError> {
        self.injector.wheel(dx, dy)
    }

    fn key(&mut self, keysym: u32, down: bool) -> Result<(), CaptureError> {
        self.injector.key(check_keysym(keysym)?, down)
    }

    fn release_all(&mut self) -> Result<(), CaptureError> {
        self.injector.release_all()
    }

    fn local_activity(&mut self) -> Result<bool, CaptureError> {
        match &mut self.watch {
            Some(watch) => watch.local_activity(),
            None => Ok(false),
        }
    }

    fn local_watch(&self) -> LocalWatch {
        if self.watch.is_some() {
            LocalWatch::PointerAndKeyboard
        } else {
            LocalWatch::Nothing
        }
    }

    fn sync(&mut self) -> Result<(), CaptureError> {
        self.injector.sync()
    }

    fn kind(&self) -> &'static str {
        "xtest"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_buttons_map_to_x11_buttons() {
        let mapped: Vec<u8> = (0..=4).map(|b| x11_button(b).unwrap()).collect();
        assert_eq!(mapped, [1, 2, 3, 8, 9]);
        assert!(matches!(x11_button(5), Err(CaptureError::InvalidInput(_))));
    }
}
