//! What a host hears: `glimpse_host_event` (one tagged, fixed-size struct for every kind) and
//! `glimpse_host_next_event`.

use std::ffi::c_char;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use connect::host_session::{HostEvent, ViewerInfo};
use engine::session::{ControlEvent, InputEvent};

use crate::boundary::{ffi_call, write_versioned, BoxHandle};
use crate::error::{glimpse_result, Failure};
use crate::host::glimpse_host;

/// Bytes of `glimpse_host_event.address`, NUL included.
pub const GLIMPSE_HOST_ADDRESS_SIZE: usize = 64;

/// Bytes of `glimpse_host_event.name`, NUL included (names are at most 64 bytes).
pub const GLIMPSE_HOST_NAME_SIZE: usize = 80;

/// Bytes of `glimpse_host_event.reason`, NUL included.
pub const GLIMPSE_HOST_REASON_SIZE: usize = 256;

/// Bytes of `glimpse_host_event.code`, NUL included: `"123 456 7890"` needs 13, the rest is room
/// for longer codes (and keeps the struct free of padding).
pub const GLIMPSE_HOST_CODE_SIZE: usize = 20;

/// What a `glimpse_host_event` reports (its `kind`). The fields each kind sets are listed; the
/// others are zero (strings empty).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum glimpse_host_event_kind {
    /// The session is live: the first event, once `glimpse_host_new` returned. `code`.
    Ready = 1,
    /// A viewer joined: `viewer`, `address` (as the relay sees it), `name` (may be empty).
    ViewerJoined = 2,
    /// A viewer left (or was removed): `viewer`.
    ViewerLeft = 3,
    /// A viewer asks for remote control (only with `GLIMPSE_CONTROL_POLICY_ASK`): answer with
    /// `glimpse_host_grant` or `glimpse_host_refuse`. `viewer`.
    ControlRequested = 4,
    /// A viewer now holds remote control: `viewer`.
    ControlGranted = 5,
    /// A viewer's request was refused: `viewer`.
    ControlRefused = 6,
    /// A viewer lost remote control: `viewer`. Release every key and button it still holds down.
    ControlRevoked = 7,
    /// Input from the viewer holding control (checked: from the holder, on the screen): move the
    /// pointer to `x`, `y` (screen pixels). `viewer`.
    PointerMove = 8,
    /// A mouse `button` (0 left, 1 middle, 2 right, ...) went down (`down` 1) or up (0). `viewer`.
    PointerButton = 9,
    /// Scrolling by `wheel_dx`, `wheel_dy` wheel steps. `viewer`.
    Wheel = 10,
    /// A key (`keysym`, an X11 keysym) went down (`down` 1) or up (0). `viewer`.
    Key = 11,
    /// The link to the relay dropped; the library reconnects by itself (viewers see a frozen
    /// screen meanwhile).
    Disconnected = 12,
    /// The link is back and the session continues with the same code and viewers. `code`.
    Reconnected = 13,
    /// The session is over: `end_code` (a `glimpse_result`, e.g. `GLIMPSE_RESULT_CONNECTION_LOST`
    /// when reconnecting failed for `reconnect_seconds`, `GLIMPSE_RESULT_SESSION_ENDED`) and
    /// `reason` say why. The last event: afterwards `glimpse_host_next_event` returns
    /// `GLIMPSE_RESULT_CLOSED`. Free the host.
    Ended = 14,
    /// Someone tried a wrong code (their key exchange did not confirm): `address`, `count` (wrong
    /// attempts on the current code so far). After three the code is burned.
    WrongCode = 15,
    /// The code was burned after three wrong attempts: show the new `code`. Viewers already in
    /// stay.
    CodeReplaced = 16,
    /// A viewer proved it has the code and waits to be let in (`approve_viewers` set): `viewer`,
    /// `address`, `name`. Answer with `glimpse_host_approve` or `glimpse_host_deny`.
    ApprovalNeeded = 17,
}

/// One event of a host, filled by `glimpse_host_next_event`. A tagged struct: `kind` (a
/// `glimpse_host_event_kind`) says which fields mean something; the others are zero. Fixed size,
/// no pointers: strings are copied in, NUL-terminated, cut (at a UTF-8 character boundary) to fit.
///
/// Versioned by size like `glimpse_host_stats`: set `struct_size` to `sizeof(glimpse_host_event)`
/// before the call; the library fills that many bytes at most and sets `struct_size` to the number
/// filled. Later versions only append fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct glimpse_host_event {
    /// `sizeof(glimpse_host_event)` as the caller knows it, set by the caller.
    pub struct_size: u32,
    /// A `glimpse_host_event_kind`.
    pub kind: u32,
    /// The viewer concerned (viewer, control and input events); ids are unique in a session.
    pub viewer: u64,
    /// `GLIMPSE_HOST_EVENT_KIND_POINTER_MOVE`: the column.
    pub x: i32,
    /// `GLIMPSE_HOST_EVENT_KIND_POINTER_MOVE`: the row.
    pub y: i32,
    /// `GLIMPSE_HOST_EVENT_KIND_WHEEL`: horizontal steps.
    pub wheel_dx: i32,
    /// `GLIMPSE_HOST_EVENT_KIND_WHEEL`: vertical steps.
    pub wheel_dy: i32,
    /// `GLIMPSE_HOST_EVENT_KIND_POINTER_BUTTON`: the button (0 left, 1 middle, 2 right, ...).
    pub button: u32,
    /// `GLIMPSE_HOST_EVENT_KIND_KEY`: the X11 keysym.
    pub keysym: u32,
    /// `GLIMPSE_HOST_EVENT_KIND_POINTER_BUTTON` and `GLIMPSE_HOST_EVENT_KIND_KEY`: 1 pressed, 0
    /// released.
    pub down: u32,
    /// `GLIMPSE_HOST_EVENT_KIND_ENDED`: why, as a `glimpse_result`.
    pub end_code: u32,
    /// `GLIMPSE_HOST_EVENT_KIND_WRONG_CODE`: wrong attempts on the current code so far.
    pub count: u32,
    /// `GLIMPSE_HOST_EVENT_KIND_VIEWER_JOINED`: the viewer's network address (`IP:port`).
    pub address: [c_char; GLIMPSE_HOST_ADDRESS_SIZE],
    /// `GLIMPSE_HOST_EVENT_KIND_VIEWER_JOINED`: the name the viewer typed (UTF-8, may be empty).
    pub name: [c_char; GLIMPSE_HOST_NAME_SIZE],
    /// `GLIMPSE_HOST_EVENT_KIND_ENDED`: the detail, in English.
    pub reason: [c_char; GLIMPSE_HOST_REASON_SIZE],
    /// `READY`, `RECONNECTED` and `CODE_REPLACED`: the code viewers type, `"123 456 7890"`.
    pub code: [c_char; GLIMPSE_HOST_CODE_SIZE],
}

/// The first (smallest) version of the event struct.
const EVENT_V1_SIZE: usize = size_of::<glimpse_host_event>();

impl glimpse_host_event {
    fn new(kind: glimpse_host_event_kind, viewer: u64) -> Self {
        glimpse_host_event {
            struct_size: size_of::<Self>() as u32,
            kind: kind as u32,
            viewer,
            x: 0,
            y: 0,
            wheel_dx: 0,
            wheel_dy: 0,
            button: 0,
            keysym: 0,
            down: 0,
            end_code: 0,
            count: 0,
            address: [0; GLIMPSE_HOST_ADDRESS_SIZE],
            name: [0; GLIMPSE_HOST_NAME_SIZE],
            reason: [0; GLIMPSE_HOST_REASON_SIZE],
            code: [0; GLIMPSE_HOST_CODE_SIZE],
        }
    }

    /// The C form of an event; `None` for events the library handles itself.
    fn from_event(event: HostEvent) -> Option<Self> {
        use glimpse_host_event_kind as K;
        Some(match event {
            HostEvent::Ready { code, resumed } => {
                let kind = if resumed { K::Reconnected } else { K::Ready };
                let mut e = Self::new(kind, 0);
                copy_text(&code.to_string(), &mut e.code);
                e
            }
            HostEvent::CodeReplaced { code } => {
                let mut e = Self::new(K::CodeReplaced, 0);
                copy_text(&code.to_string(), &mut e.code);
                e
            }
            HostEvent::WrongCode { address, attempts } => {
                let mut e = Self::new(K::WrongCode, 0);
                e.count = attempts;
                copy_text(&address, &mut e.address);
                e
            }
            HostEvent::CheckpointNeeded => return None,
            HostEvent::ViewerJoined(info) => Self::viewer(K::ViewerJoined, &info),
            HostEvent::ApprovalNeeded(info) => Self::viewer(K::ApprovalNeeded, &info),
            HostEvent::ViewerLeft { viewer } => Self::new(K::ViewerLeft, viewer),
            HostEvent::ControlRequested { viewer } => Self::new(K::ControlRequested, viewer),
            HostEvent::Control(control) => match control {
                ControlEvent::Requested(v) => Self::new(K::ControlRequested, v),
                ControlEvent::Granted(v) => Self::new(K::ControlGranted, v),
                ControlEvent::Refused(v) => Self::new(K::ControlRefused, v),
                ControlEvent::Revoked(v) => Self::new(K::ControlRevoked, v),
            },
            HostEvent::Input { viewer, event } => Self::input(viewer, event),
            HostEvent::Disconnected => Self::new(K::Disconnected, 0),
            HostEvent::Ended(error) => {
                let mut e = Self::new(K::Ended, 0);
                e.end_code = glimpse_result::from_connect(&error) as u32;
                copy_text(&error.to_string(), &mut e.reason);
                e
            }
        })
    }

    fn viewer(kind: glimpse_host_event_kind, info: &ViewerInfo) -> Self {
        let mut e = Self::new(kind, info.viewer);
        copy_text(&info.address, &mut e.address);
        copy_text(&info.name, &mut e.name);
        e
    }

    fn input(viewer: u64, event: InputEvent) -> Self {
        use glimpse_host_event_kind as K;
        match event {
            InputEvent::PointerMove { x, y } => Self {
                x,
                y,
                ..Self::new(K::PointerMove, viewer)
            },
            InputEvent::Button { button, down } => Self {
                button: u32::from(button),
                down: u32::from(down),
                ..Self::new(K::PointerButton, viewer)
            },
            InputEvent::Wheel { dx, dy } => Self {
                wheel_dx: dx,
                wheel_dy: dy,
                ..Self::new(K::Wheel, viewer)
            },
            InputEvent::Key { keysym, down } => Self {
                keysym,
                down: u32::from(down),
                ..Self::new(K::Key, viewer)
            },
        }
    }
}

/// Copies `text` into a fixed C string: cut at a character boundary (and at a NUL) to leave room
/// for the terminating NUL; the rest is zeroed.
fn copy_text(text: &str, dest: &mut [c_char]) {
    let text = text.split('\0').next().unwrap_or("");
    let mut end = text.len().min(dest.len().saturating_sub(1));
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = text.as_bytes()[..end].iter().map(|b| *b as c_char);
    for (d, b) in dest.iter_mut().zip(bytes.chain(std::iter::repeat(0))) {
        *d = b;
    }
}

/// Waits at most `timeout_ms` milliseconds (0: do not wait) for the host's next event and writes it
/// to `*out_event` (set `out_event->struct_size` first). Events come in the order they happened;
/// the first is `GLIMPSE_HOST_EVENT_KIND_READY`, the last `GLIMPSE_HOST_EVENT_KIND_ENDED`. They
/// wait in a bounded queue: read them regularly (a capture loop can poll with 0 between frames), or
/// input events are dropped first (`glimpse_host_stats.dropped_events`).
///
/// Returns `GLIMPSE_RESULT_OK` with an event, `GLIMPSE_RESULT_TIMEOUT` when none came in time,
/// `GLIMPSE_RESULT_CLOSED` when the session is over and every event was read;
/// `GLIMPSE_RESULT_NULL_PARAMETER` (`host` or `out_event` NULL), `GLIMPSE_RESULT_SETTINGS_SIZE`
/// (`struct_size` smaller than the first version), `GLIMPSE_RESULT_INVALID_ARGUMENT` (`out_event`
/// misaligned). Only `GLIMPSE_RESULT_OK` writes `*out_event` and takes an event.
///
/// Thread-safe (each event goes to one caller), but meant for one thread: the one that acts on the
/// events. It must return before `glimpse_host_free` is called.
///
/// # Safety
/// `host` is NULL or a live host; `out_event` is NULL or points to `out_event->struct_size`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_next_event(
    host: *const glimpse_host,
    timeout_ms: u32,
    out_event: *mut glimpse_host_event,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let host = unsafe { glimpse_host::from_ptr(host, "host") }?;
        // SAFETY: forwarded from the caller.
        unsafe {
            write_versioned(out_event, EVENT_V1_SIZE, "out_event", || {
                next(host, timeout_ms)
            })
        }
    })
}

/// The next event for C, skipping the ones the library handles itself.
fn next(host: &glimpse_host, timeout_ms: u32) -> Result<glimpse_host_event, Failure> {
    let deadline = Instant::now() + Duration::from_millis(u64::from(timeout_ms));
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match host.host.next_event(left) {
            Some(event) => {
                let Some(event) = glimpse_host_event::from_event(event) else {
                    continue;
                };
                if event.kind == glimpse_host_event_kind::Ended as u32 {
                    host.ended.store(true, Ordering::Release);
                }
                return Ok(event);
            }
            // The queue answers `None` before the deadline only once it is closed (the network
            // thread is gone).
            None if host.ended.load(Ordering::Acquire) || Instant::now() < deadline => {
                return Err(Failure::new(
                    glimpse_result::Closed,
                    "the session is over and every event was read",
                ))
            }
            None => {
                return Err(Failure::new(
                    glimpse_result::Timeout,
                    format!("no event within {timeout_ms} ms"),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    /// The struct is copied byte for byte to C: it must have no padding (uninitialised bytes).
    #[test]
    fn event_has_no_padding() {
        type E = glimpse_host_event;
        assert_eq!(offset_of!(E, viewer), 8);
        assert_eq!(offset_of!(E, address), 52);
        assert_eq!(offset_of!(E, code) + GLIMPSE_HOST_CODE_SIZE, size_of::<E>());
    }

    #[test]
    fn text_is_cut_at_a_character_and_terminated() {
        let mut dest = [7 as c_char; 6];
        copy_text("abcdé", &mut dest); // 'é' is 2 bytes: only "abcd" fits before the NUL
        assert_eq!(dest, [97, 98, 99, 100, 0, 0]);
        copy_text("a\0b", &mut dest);
        assert_eq!(dest, [97, 0, 0, 0, 0, 0]);
        copy_text("", &mut dest[..0]);
    }

    #[test]
    fn events_map_to_kinds_and_fields() {
        let joined = HostEvent::ViewerJoined(ViewerInfo {
            viewer: 7,
            address: "127.0.0.1:5".into(),
            name: "Ada".into(),
        });
        let e = glimpse_host_event::from_event(joined).unwrap();
        assert_eq!((e.kind, e.viewer), (2, 7));
        assert_eq!(e.name[..4], [65, 100, 97, 0]);
        let key = HostEvent::Input {
            viewer: 3,
            event: InputEvent::Key {
                keysym: 0xff0d,
                down: true,
            },
        };
        let e = glimpse_host_event::from_event(key).unwrap();
        assert_eq!((e.kind, e.keysym, e.down, e.x), (11, 0xff0d, 1, 0));
        let ended = HostEvent::Ended(connect::ConnectError::ConnectionLost("gone".into()));
        let e = glimpse_host_event::from_event(ended).unwrap();
        assert_eq!((e.kind, e.end_code), (14, 47));
        assert!(glimpse_host_event::from_event(HostEvent::CheckpointNeeded).is_none());
    }
}
