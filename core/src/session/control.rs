//! Remote control: who may send input. View-only until the host grants control to one viewer; the
//! host (or its local user touching mouse or keyboard) takes it back at any time. The host keeps the
//! authoritative [`Control`]; the relay keeps a copy (fed with the same grant/revoke messages) to
//! drop input from viewers without a grant before it reaches the host.

use crate::error::{Error, Result};

use super::fanout::ViewerId;

/// One input event from a viewer, in screen pixels of the shared screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEvent {
    /// The pointer moved to `x, y`.
    PointerMove {
        /// Column.
        x: i32,
        /// Row.
        y: i32,
    },
    /// A mouse button (0 left, 1 middle, 2 right, ...) went down or up.
    Button {
        /// Which button.
        button: u8,
        /// Pressed (true) or released.
        down: bool,
    },
    /// Scrolling, in wheel steps.
    Wheel {
        /// Horizontal steps.
        dx: i32,
        /// Vertical steps.
        dy: i32,
    },
    /// A key (X11 keysym) went down or up.
    Key {
        /// The keysym.
        keysym: u32,
        /// Pressed (true) or released.
        down: bool,
    },
}

/// What changed about remote control; the caller tells the viewers concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlEvent {
    /// A viewer asks for control (the host decides).
    Requested(ViewerId),
    /// A viewer now holds control.
    Granted(ViewerId),
    /// A viewer's request was refused.
    Refused(ViewerId),
    /// A viewer lost control.
    Revoked(ViewerId),
}

/// Who holds remote control: nobody (view-only) by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Control {
    holder: Option<ViewerId>,
    /// Viewers whose request the host has not answered yet (each at most once).
    pending: Vec<ViewerId>,
}

impl Control {
    /// View-only: nobody holds control.
    pub fn new() -> Self {
        Control::default()
    }

    /// `viewer` asks for control; the host decides with [`grant`](Self::grant) or
    /// [`refuse`](Self::refuse). `None` when the viewer already holds control or already asked and
    /// has no answer yet: a viewer repeating its request cannot flood the host.
    pub fn request(&mut self, viewer: ViewerId) -> Option<ControlEvent> {
        if self.holder == Some(viewer) || self.pending.contains(&viewer) {
            return None;
        }
        self.pending.push(viewer);
        Some(ControlEvent::Requested(viewer))
    }

    /// Forgets `viewer`'s unanswered request (it was never delivered, or the host will not answer):
    /// the viewer may ask again.
    pub fn forget_request(&mut self, viewer: ViewerId) {
        self.pending.retain(|&v| v != viewer);
    }

    /// Gives control to `viewer`: `[Revoked(previous holder)]` if another viewer held it, then
    /// `Granted(viewer)`.
    pub fn grant(&mut self, viewer: ViewerId) -> Vec<ControlEvent> {
        self.forget_request(viewer);
        let mut events = Vec::with_capacity(2);
        if let Some(previous) = self.holder.filter(|&h| h != viewer) {
            events.push(ControlEvent::Revoked(previous));
        }
        self.holder = Some(viewer);
        events.push(ControlEvent::Granted(viewer));
        events
    }

    /// Refuses `viewer`'s request (a holder that is refused loses control).
    pub fn refuse(&mut self, viewer: ViewerId) -> ControlEvent {
        self.forget_request(viewer);
        if self.holder == Some(viewer) {
            self.holder = None;
        }
        ControlEvent::Refused(viewer)
    }

    /// The host takes control back. `None` if nobody held it.
    pub fn revoke(&mut self) -> Option<ControlEvent> {
        self.holder.take().map(ControlEvent::Revoked)
    }

    /// The local user moved the mouse or typed: control goes back to them at once.
    pub fn local_input(&mut self, _now_ms: u64) -> Option<ControlEvent> {
        self.revoke()
    }

    /// `viewer` disconnected: if it held control, nobody holds it now.
    pub fn viewer_left(&mut self, viewer: ViewerId) -> Option<ControlEvent> {
        self.forget_request(viewer);
        if self.holder == Some(viewer) {
            self.revoke()
        } else {
            None
        }
    }

    /// The viewer holding control, if any.
    pub fn holder(&self) -> Option<ViewerId> {
        self.holder
    }

    /// Checks input from `viewer`: only the holder's input passes, and pointer positions must lie on
    /// the `screen` (width, height). Returns the event to inject.
    pub fn accept_input(
        &self,
        viewer: ViewerId,
        event: &InputEvent,
        screen: (u32, u32),
    ) -> Result<InputEvent> {
        if self.holder != Some(viewer) {
            return Err(Error::ControlNotGranted { viewer });
        }
        if let InputEvent::PointerMove { x, y } = *event {
            let (width, height) = screen;
            let inside = |v: i32, size: u32| u32::try_from(v).is_ok_and(|v| v < size);
            if !inside(x, width) || !inside(y, height) {
                return Err(Error::PointerOutsideScreen {
                    x,
                    y,
                    width,
                    height,
                });
            }
        }
        Ok(*event)
    }
}
