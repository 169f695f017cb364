//! [`RemoteInput`] through the RemoteDesktop portal, with host priority from the ScreenCast
//! stream's cursor position.

use super::frame::SharedStream;
use super::session::{Command, PortalEvent, SessionHandle};
use crate::remote_input::{check_button, check_keysym};
use crate::{CaptureError, LocalWatch, RemoteInput};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Linux evdev codes of the browser-numbered buttons: `BTN_LEFT`, `BTN_MIDDLE`, `BTN_RIGHT`,
/// `BTN_SIDE` (back), `BTN_EXTRA` (forward).
const EVDEV_BUTTONS: [i32; 5] = [0x110, 0x112, 0x111, 0x113, 0x114];
/// Wheel notches injected by one `wheel` call at most, per axis.
const MAX_WHEEL_STEPS: i32 = 32;
/// How long an injected position is remembered, to recognise it in the cursor metadata.
const ECHO_WINDOW: Duration = Duration::from_millis(1500);
/// How long [`RemoteInput::sync`] waits for the portal.
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);

/// Remote control on Wayland: the viewer's input goes to the RemoteDesktop portal
/// (`NotifyPointerMotionAbsolute` on the shared stream, `NotifyPointerButton` with evdev codes,
/// `NotifyPointerAxisDiscrete`, `NotifyKeyboardKeysym`), in order, from the portal thread; calls
/// return at once and a failure shows at the next call or [`sync`](RemoteInput::sync).
///
/// Host priority: the portal does not tell about local input. The ScreenCast stream's cursor
/// metadata does show where the pointer is, so a pointer position that this injector did not put
/// there means the person at the host moved the mouse ([`LocalWatch::PointerMotion`]). Local keys,
/// clicks and wheel turns without a motion are not noticed. Made by
/// [`PortalSource::open`](crate::PortalSource::open) with `remote_control` set.
pub struct PortalInput {
    session: Arc<SessionHandle>,
    stream: Arc<SharedStream>,
    keyboard: bool,
    pointer: bool,
    pressed_keys: HashSet<u32>,
    pressed_buttons: HashSet<u8>,
    /// Positions injected recently, newest last, and the last one (kept: the pointer stays there).
    injected: VecDeque<(Instant, (i32, i32))>,
    last_injected: Option<(i32, i32)>,
    /// The stream's cursor move counter at the previous `local_activity`.
    seen_moves: u64,
}

impl PortalInput {
    pub(crate) fn new(
        session: Arc<SessionHandle>,
        stream: Arc<SharedStream>,
        keyboard: bool,
        pointer: bool,
    ) -> Self {
        let seen_moves = stream.lock().cursor.moves;
        PortalInput {
            session,
            stream,
            keyboard,
            pointer,
            pressed_keys: HashSet::new(),
            pressed_buttons: HashSet::new(),
            injected: VecDeque::new(),
            last_injected: None,
            seen_moves,
        }
    }

    /// Whether the person at the host granted the keyboard and the pointer in the dialog.
    pub fn granted(&self) -> (bool, bool) {
        (self.keyboard, self.pointer)
    }

    fn send(&self, event: PortalEvent) -> Result<(), CaptureError> {
        self.session.send(Command::Input(event))
    }

    fn need_pointer(&self) -> Result<(), CaptureError> {
        if self.pointer {
            Ok(())
        } else {
            Err(CaptureError::Unsupported(
                "the portal granted no pointer".into(),
            ))
        }
    }

    /// True when `position` is one this injector put the pointer at (within a pixel).
    fn is_ours(&mut self, position: (i32, i32)) -> bool {
        let now = Instant::now();
        while self
            .injected
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > ECHO_WINDOW)
        {
            self.injected.pop_front();
        }
        let near = |p: &(i32, i32)| (p.0 - position.0).abs() <= 1 && (p.1 - position.1).abs() <= 1;
        self.last_injected.as_ref().is_some_and(near) || self.injected.iter().any(|(_, p)| near(p))
    }
}

impl RemoteInput for PortalInput {
    fn pointer_move(&mut self, x: i32, y: i32) -> Result<(), CaptureError> {
        self.need_pointer()?;
        let (width, height) = self.stream.lock().size.unwrap_or((1, 1));
        let x = x.clamp(0, width.saturating_sub(1) as i32);
        let y = y.clamp(0, height.saturating_sub(1) as i32);
        self.injected.push_back((Instant::now(), (x, y)));
        self.last_injected = Some((x, y));
        self.send(PortalEvent::Motion {
            x: f64::from(x),
            y: f64::from(y),
        })
    }

    fn button(&mut self, button: u8, down: bool) -> Result<(), CaptureError> {
        self.need_pointer()?;
        let code = EVDEV_BUTTONS[usize::from(check_button(button)?)];
        if down {
            self.pressed_buttons.insert(button);
        } else {
            self.pressed_buttons.remove(&button);
        }
        self.send(PortalEvent::Button { code, down })
    }

    fn wheel(&mut self, dx: i32, dy: i32) -> Result<(), CaptureError> {
        self.need_pointer()?;
        for (horizontal, steps) in [(false, dy), (true, dx)] {
            if steps != 0 {
                let steps = steps.clamp(-MAX_WHEEL_STEPS, MAX_WHEEL_STEPS);
                self.send(PortalEvent::Wheel { horizontal, steps })?;
            }
        }
        Ok(())
    }

    fn key(&mut self, keysym: u32, down: bool) -> Result<(), CaptureError> {
        if !self.keyboard {
            return Err(CaptureError::Unsupported(
                "the portal granted no keyboard".into(),
            ));
        }
        let keysym = check_keysym(keysym)?;
        if down {
            self.pressed_keys.insert(keysym);
        } else {
            self.pressed_keys.remove(&keysym);
        }
        self.send(PortalEvent::Keysym {
            keysym: keysym as i32,
            down,
        })
    }

    fn release_all(&mut self) -> Result<(), CaptureError> {
        for keysym in std::mem::take(&mut self.pressed_keys) {
            self.send(PortalEvent::Keysym {
                keysym: keysym as i32,
                down: false,
            })?;
        }
        for button in std::mem::take(&mut self.pressed_buttons) {
            let code = EVDEV_BUTTONS[usize::from(button)];
            self.send(PortalEvent::Button { code, down: false })?;
        }
        Ok(())
    }

    fn local_activity(&mut self) -> Result<bool, CaptureError> {
        self.session.check()?;
        let (moves, position) = {
            let state = self.stream.lock();
            (state.cursor.moves, state.cursor.position)
        };
        if moves == self.seen_moves {
            return Ok(false);
        }
        self.seen_moves = moves;
        Ok(match position {
            Some(p) => !self.is_ours(p),
            // The pointer left the shared monitor: not where this injector puts it.
            None => true,
        })
    }

    fn local_watch(&self) -> LocalWatch {
        LocalWatch::PointerMotion
    }

    fn sync(&mut self) -> Result<(), CaptureError> {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        self.session.send(Command::Sync(answer))?;
        match answered.recv_timeout(SYNC_TIMEOUT) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CaptureError::Portal(format!("injecting input: {e}"))),
            Err(_) => Err(CaptureError::Timeout {
                waiting_for: "the RemoteDesktop portal to take the input",
                seconds: SYNC_TIMEOUT.as_secs(),
            }),
        }
    }

    fn kind(&self) -> &'static str {
        "portal"
    }
}

impl Drop for PortalInput {
    fn drop(&mut self) {
        let _ = self.release_all();
    }
}
