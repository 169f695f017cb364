//! Remote control on X11: XTest injection of the viewer's input, and a watch on local input so the
//! host can take control back at once.

use super::keymap::Keymap;
use super::{connect, protocol_error};
use crate::CaptureError;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::xinput::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{self, ConnectionExt as _};
use x11rb::protocol::{xtest, Event};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// How long an injected event is remembered, to recognise its echo in [`LocalInputWatch`].
const ECHO_WINDOW: Duration = Duration::from_millis(1000);
/// Wheel notches injected by one `wheel` call at most, per axis.
const MAX_WHEEL_STEPS: i32 = 32;

/// One event this process injected, as the server will echo it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Injected {
    Motion,
    Button(u8),
    Key(u8),
}

/// Events injected recently, shared by an injector and its watches.
#[derive(Debug, Default)]
struct InjectLog {
    events: VecDeque<(Instant, Injected)>,
}

impl InjectLog {
    fn push(&mut self, event: Injected) {
        let now = Instant::now();
        self.expire(now);
        self.events.push_back((now, event));
    }

    fn expire(&mut self, now: Instant) {
        while self
            .events
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > ECHO_WINDOW)
        {
            self.events.pop_front();
        }
    }

    /// Removes the oldest matching injected event; false when there is none (so it is not ours).
    fn consume(&mut self, event: Injected) -> bool {
        self.expire(Instant::now());
        match self.events.iter().position(|(_, e)| *e == event) {
            Some(i) => {
                self.events.remove(i);
                true
            }
            None => false,
        }
    }
}

/// Injects the viewer's pointer, wheel and keyboard into the X server with XTest.
///
/// Coordinates are clamped to the screen; unknown buttons and unmappable keysyms are refused. Keys
/// whose keysym has no keycode are given one of a few spare keycodes, at a bounded rate (restored
/// when the injector drops, or by the next injector if this process died).
/// [`release_all`](Self::release_all) lets go of everything still held, for when the host takes
/// control back.
///
/// ```no_run
/// use glimpse_capture::InputInjector;
/// let mut input = InputInjector::open(None)?;
/// let mut watch = input.watch()?;
/// input.pointer_move(100, 200)?;
/// input.button(1, true)?;
/// input.button(1, false)?;
/// input.key(0x61 /* XK_a */, true)?;
/// input.key(0x61, false)?;
/// if watch.local_activity()? {
///     input.release_all()?; // the person at the host moved: stop remote control
/// }
/// # Ok::<(), glimpse_capture::CaptureError>(())
/// ```
pub struct InputInjector {
    conn: RustConnection,
    display: Option<String>,
    root: xproto::Window,
    width: u32,
    height: u32,
    keymap: Keymap,
    pressed_keys: HashSet<u8>,
    pressed_buttons: HashSet<u8>,
    log: Arc<Mutex<InjectLog>>,
}

impl InputInjector {
    /// Connects to `display` (`None`: the `DISPLAY` variable); needs the XTEST extension.
    pub fn open(display: Option<&str>) -> Result<Self, CaptureError> {
        let (conn, screen_num) = connect(display)?;
        let screen = &conn.setup().roots[screen_num];
        let (root, width, height) = (
            screen.root,
            u32::from(screen.width_in_pixels),
            u32::from(screen.height_in_pixels),
        );
        if conn
            .extension_information(xtest::X11_EXTENSION_NAME)
            .map_err(protocol_error)?
            .is_none()
        {
            return Err(CaptureError::MissingExtension("XTEST"));
        }
        xtest::get_version(&conn, 2, 2)
            .map_err(protocol_error)?
            .reply()
            .map_err(protocol_error)?;
        let keymap = Keymap::open(&conn, root)?;
        Ok(InputInjector {
            conn,
            display: display.map(str::to_owned),
            root,
            width,
            height,
            keymap,
            pressed_keys: HashSet::new(),
            pressed_buttons: HashSet::new(),
            log: Arc::default(),
        })
    }

    /// A watch on local input that ignores what this injector injects.
    pub fn watch(&self) -> Result<LocalInputWatch, CaptureError> {
        LocalInputWatch::open_with_log(self.display.as_deref(), Arc::clone(&self.log))
    }

    /// Also refreshes the screen size, which may have changed since `open`.
    fn refresh_size(&mut self) -> Result<(), CaptureError> {
        let geometry = self
            .conn
            .get_geometry(self.root)
            .map_err(protocol_error)?
            .reply()
            .map_err(protocol_error)?;
        self.width = u32::from(geometry.width);
        self.height = u32::from(geometry.height);
        Ok(())
    }

    fn fake(&mut self, kind: u8, detail: u8, x: i16, y: i16) -> Result<(), CaptureError> {
        xtest::fake_input(&self.conn, kind, detail, 0, self.root, x, y, 0)
            .map_err(protocol_error)?;
        Ok(())
    }

    fn flush(&self) -> Result<(), CaptureError> {
        self.conn.flush().map_err(protocol_error)
    }

    fn log(&self, event: Injected) {
        if let Ok(mut log) = self.log.lock() {
            log.push(event);
        }
    }

    /// Waits until the server has processed everything injected so far.
    pub fn sync(&self) -> Result<(), CaptureError> {
        self.conn.sync().map_err(protocol_error)
    }

    /// Moves the pointer to (`x`, `y`) in screen pixels, clamped to the screen.
    pub fn pointer_move(&mut self, x: i32, y: i32) -> Result<(), CaptureError> {
        if x < 0 || y < 0 || x as u32 >= self.width || y as u32 >= self.height {
            // Outside the size we know: the screen may have grown.
            self.refresh_size()?;
        }
        let x = x.clamp(0, self.width.saturating_sub(1) as i32) as i16;
        let y = y.clamp(0, self.height.saturating_sub(1) as i32) as i16;
        self.log(Injected::Motion);
        self.fake(xproto::MOTION_NOTIFY_EVENT, 0, x, y)?;
        self.flush()
    }

    /// Presses or releases a mouse button: 1 left, 2 middle, 3 right, 8 back, 9 forward (4 to 7
    /// are the wheel: use [`wheel`](Self::wheel)).
    pub fn button(&mut self, button: u8, down: bool) -> Result<(), CaptureError> {
        if !matches!(button, 1..=3 | 8 | 9) {
            return Err(CaptureError::InvalidInput(format!(
                "unknown mouse button {button} (1-3, 8, 9; the wheel is 4-7)"
            )));
        }
        self.press_button(button, down)?;
        self.flush()
    }

    fn press_button(&mut self, button: u8, down: bool) -> Result<(), CaptureError> {
        if down {
            self.log(Injected::Button(button));
            self.pressed_buttons.insert(button);
        } else {
            self.pressed_buttons.remove(&button);
        }
        let kind = if down {
            xproto::BUTTON_PRESS_EVENT
        } else {
            xproto::BUTTON_RELEASE_EVENT
        };
        self.fake(kind, button, 0, 0)
    }

    /// Scrolls by wheel notches: `dy` < 0 up (button 4), > 0 down (5); `dx` < 0 left (6), > 0
    /// right (7). At most 32 notches per axis per call.
    pub fn wheel(&mut self, dx: i32, dy: i32) -> Result<(), CaptureError> {
        for (amount, negative, positive) in [(dy, 4, 5), (dx, 6, 7)] {
            let button = if amount < 0 { negative } else { positive };
            for _ in 0..amount.unsigned_abs().min(MAX_WHEEL_STEPS as u32) {
                self.press_button(button, true)?;
                self.press_button(button, false)?;
            }
        }
        self.flush()
    }

    /// Presses or releases the key producing `keysym` (X11 keysym: `0x61` is `a`, `0xff0d` Return,
    /// `0xffe1` Shift_L, Unicode `U+xxxx` is `0x0100_0000 + xxxx`). Modifiers are the caller's: to
    /// type `A`, press Shift_L, then `a` or `A`. A keysym with no key on this keyboard gets a spare
    /// keycode; when there is none left, the call fails.
    pub fn key(&mut self, keysym: u32, down: bool) -> Result<(), CaptureError> {
        if keysym == 0 || keysym > 0x1ff_ffff {
            return Err(CaptureError::InvalidInput(format!(
                "invalid keysym {keysym:#x}"
            )));
        }
        let keycode = self.keycode_for(keysym)?;
        if down {
            self.log(Injected::Key(keycode));
            self.pressed_keys.insert(keycode);
        } else {
            self.pressed_keys.remove(&keycode);
        }
        let kind = if down {
            xproto::KEY_PRESS_EVENT
        } else {
            xproto::KEY_RELEASE_EVENT
        };
        self.fake(kind, keycode, 0, 0)?;
        self.flush()
    }

    /// The keycode that produces `keysym`, giving it one of a few (8) spare keycodes if the
    /// keyboard lacks it; at most 20 such remaps a second (each makes every X client reload its
    /// keymap).
    pub fn keycode_for(&mut self, keysym: u32) -> Result<u8, CaptureError> {
        self.keymap
            .keycode_for(&self.conn, keysym, &self.pressed_keys)
    }

    /// Releases every key and button this injector holds down.
    pub fn release_all(&mut self) -> Result<(), CaptureError> {
        let keys: Vec<u8> = self.pressed_keys.drain().collect();
        for keycode in keys {
            self.fake(xproto::KEY_RELEASE_EVENT, keycode, 0, 0)?;
        }
        let buttons: Vec<u8> = self.pressed_buttons.drain().collect();
        for button in buttons {
            self.fake(xproto::BUTTON_RELEASE_EVENT, button, 0, 0)?;
        }
        self.flush()
    }
}

impl Drop for InputInjector {
    fn drop(&mut self) {
        let _ = self.release_all();
        // Give the borrowed keycodes back.
        self.keymap.restore(&self.conn);
    }
}

/// Notices input from the person at the host (mouse, wheel, keyboard), so that remote control can
/// give way at once. Events injected by the [`InputInjector`] this watch came from are ignored;
/// anything else counts, including other XTest clients such as `xdotool`.
///
/// Uses XInput 2 raw events (they arrive whatever window has the focus or a grab); without XInput 2
/// it polls the pointer position and the keyboard state instead.
pub struct LocalInputWatch {
    conn: RustConnection,
    root: xproto::Window,
    log: Arc<Mutex<InjectLog>>,
    mode: WatchMode,
}

enum WatchMode {
    /// XInput 2: the XTEST slave devices, whose events may be ours.
    Raw { xtest_devices: HashSet<u16> },
    /// Polling: the last pointer position and pressed keys seen.
    Poll {
        pointer: Option<(i16, i16)>,
        keys: [u8; 32],
    },
}

impl LocalInputWatch {
    /// A watch on `display` that counts every input event (it knows of no injector). Use
    /// [`InputInjector::watch`] to ignore an injector's own events.
    pub fn open(display: Option<&str>) -> Result<Self, CaptureError> {
        Self::open_with_log(display, Arc::default())
    }

    fn open_with_log(
        display: Option<&str>,
        log: Arc<Mutex<InjectLog>>,
    ) -> Result<Self, CaptureError> {
        let (conn, screen_num) = connect(display)?;
        let root = conn.setup().roots[screen_num].root;
        let xi2 = conn
            .extension_information(xinput::X11_EXTENSION_NAME)
            .map_err(protocol_error)?
            .is_some()
            && conn
                .xinput_xi_query_version(2, 0)
                .map_err(protocol_error)?
                .reply()
                .is_ok_and(|v| v.major_version >= 2);
        let mode = if xi2 {
            let raw = xinput::XIEventMask::RAW_MOTION
                | xinput::XIEventMask::RAW_BUTTON_PRESS
                | xinput::XIEventMask::RAW_KEY_PRESS;
            conn.xinput_xi_select_events(
                root,
                &[
                    // Raw events through the master devices: `sourceid` names the slave (XTEST?).
                    xinput::EventMask {
                        deviceid: xinput::Device::ALL_MASTER.into(),
                        mask: vec![raw],
                    },
                    // Device hot-plug, to keep the XTEST device list current (XIAllDevices only).
                    xinput::EventMask {
                        deviceid: xinput::Device::ALL.into(),
                        mask: vec![xinput::XIEventMask::HIERARCHY],
                    },
                ],
            )
            .map_err(protocol_error)?
            .check()
            .map_err(protocol_error)?;
            WatchMode::Raw {
                xtest_devices: xtest_devices_of(&conn)?,
            }
        } else {
            WatchMode::Poll {
                pointer: None,
                keys: [0; 32],
            }
        };
        let mut watch = LocalInputWatch {
            conn,
            root,
            log,
            mode,
        };
        // Start from "nothing happened".
        watch.local_activity()?;
        Ok(watch)
    }

    /// True when XInput 2 raw events are used (false: polling).
    pub fn uses_raw_events(&self) -> bool {
        matches!(self.mode, WatchMode::Raw { .. })
    }

    /// True when the local user moved the pointer, pressed a button, scrolled or pressed a key
    /// since the previous call (events injected by this watch's injector excluded).
    pub fn local_activity(&mut self) -> Result<bool, CaptureError> {
        // A round trip, so that every event the server produced before now is in our queue.
        self.conn.sync().map_err(protocol_error)?;
        let mut activity = false;
        match &mut self.mode {
            WatchMode::Raw { xtest_devices } => {
                let mut hierarchy_changed = false;
                while let Some(event) = self.conn.poll_for_event().map_err(protocol_error)? {
                    let (source, injected) = match event {
                        Event::XinputRawMotion(e) => (e.sourceid, Injected::Motion),
                        Event::XinputRawButtonPress(e) => {
                            (e.sourceid, Injected::Button(e.detail as u8))
                        }
                        Event::XinputRawKeyPress(e) => (e.sourceid, Injected::Key(e.detail as u8)),
                        Event::XinputHierarchy(_) => {
                            hierarchy_changed = true;
                            continue;
                        }
                        _ => continue,
                    };
                    let ours = xtest_devices.contains(&source)
                        && self.log.lock().is_ok_and(|mut log| log.consume(injected));
                    activity |= !ours;
                }
                if hierarchy_changed {
                    *xtest_devices = xtest_devices_of(&self.conn)?;
                }
            }
            WatchMode::Poll { pointer, keys } => {
                while self
                    .conn
                    .poll_for_event()
                    .map_err(protocol_error)?
                    .is_some()
                {}
                let now = self
                    .conn
                    .query_pointer(self.root)
                    .map_err(protocol_error)?
                    .reply()
                    .map_err(protocol_error)?;
                let position = (now.root_x, now.root_y);
                if pointer.is_some_and(|p| p != position) {
                    // Moved: ours if we injected a motion recently.
                    activity |= !self
                        .log
                        .lock()
                        .is_ok_and(|mut log| log.consume(Injected::Motion));
                }
                *pointer = Some(position);
                let state = self
                    .conn
                    .query_keymap()
                    .map_err(protocol_error)?
                    .reply()
                    .map_err(protocol_error)?
                    .keys;
                for (byte, (&new, &old)) in state.iter().zip(keys.iter()).enumerate() {
                    let pressed = new & !old;
                    for bit in 0..8 {
                        if pressed & (1 << bit) != 0 {
                            let keycode = (byte * 8 + bit) as u8;
                            activity |= !self
                                .log
                                .lock()
                                .is_ok_and(|mut log| log.consume(Injected::Key(keycode)));
                        }
                    }
                }
                *keys = state;
            }
        }
        Ok(activity)
    }
}

/// The slave devices the server uses for XTest input ("Virtual core XTEST pointer/keyboard").
fn xtest_devices_of(conn: &RustConnection) -> Result<HashSet<u16>, CaptureError> {
    let devices = conn
        .xinput_xi_query_device(xinput::Device::ALL)
        .map_err(protocol_error)?
        .reply()
        .map_err(protocol_error)?
        .infos;
    Ok(devices
        .iter()
        .filter(|d| String::from_utf8_lossy(&d.name).contains("XTEST"))
        .map(|d| d.deviceid)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inject_log_consumes_each_echo_once() {
        let mut log = InjectLog::default();
        log.push(Injected::Key(38));
        log.push(Injected::Motion);
        assert!(log.consume(Injected::Motion));
        assert!(!log.consume(Injected::Motion));
        assert!(!log.consume(Injected::Key(39)));
        assert!(log.consume(Injected::Key(38)));
        assert!(!log.consume(Injected::Key(38)));
    }
}
