//! A viewer's session with a relay (`GlimpseViewer.join`'s engine): the hello, what the relay's
//! messages mean, acks, control requests, input, and whether to reconnect. Translation only: the
//! logic is [`glimpse_connect::viewer_session::ViewerSession`], shared with the Rust viewer.

use glimpse::session::{InputEvent, StreamKind};
use glimpse_connect::protocol::SessionKey;
use glimpse_connect::viewer_session::{
    ControlState, Reconnect, ViewerEvent, ViewerSession as Session,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{from_connect, invalid};
use crate::{object, MaybeRawViewerEvent, RawReconnect};

/// The viewer's side of a session, sans IO: JavaScript owns the WebSocket, this decides what to
/// send and what a message means. Every message from and to the relay goes through it.
#[wasm_bindgen]
pub struct ViewerSession {
    inner: Session,
}

/// `"none"`, `"asked"` or `"granted"`.
fn control_name(state: ControlState) -> &'static str {
    match state {
        ControlState::None => "none",
        ControlState::Asked => "asked",
        ControlState::Granted => "granted",
    }
}

/// A sequence number or time from JavaScript: a non-negative integer below 2^53.
pub(crate) fn to_u64(what: &str, value: f64) -> Result<u64, JsValue> {
    if value.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&value) {
        Ok(value as u64)
    } else {
        Err(invalid(&format!(
            "{what} must be a non-negative integer, not {value}"
        )))
    }
}

#[wasm_bindgen]
impl ViewerSession {
    /// A session to join with `key` (9 digits, optionally grouped by spaces or dashes); `name` is
    /// shown to the host. Throws `INVALID_SESSION_KEY` (32) for a key that is not 9 digits.
    #[wasm_bindgen(constructor)]
    pub fn new(key: &str, name: &str) -> Result<ViewerSession, JsValue> {
        let key = SessionKey::parse(key).map_err(|e| from_connect(&e))?;
        Ok(ViewerSession {
            inner: Session::new(key, name),
        })
    }

    /// The key, as people read it: `"123 456 789"`.
    #[wasm_bindgen(getter)]
    pub fn key(&self) -> String {
        self.inner.key().to_string()
    }

    /// The key as digits only (`"123456789"`), for links.
    #[wasm_bindgen(getter, js_name = keyDigits)]
    pub fn key_digits(&self) -> String {
        self.inner.key().digits()
    }

    /// This viewer's id while connected (after the welcome), else `undefined`.
    #[wasm_bindgen(getter)]
    pub fn viewer(&self) -> Option<f64> {
        self.inner.viewer().map(|v| v as f64)
    }

    /// Where remote control stands: `"none"`, `"asked"` or `"granted"`.
    #[wasm_bindgen(getter)]
    pub fn control(&self) -> String {
        control_name(self.inner.control()).into()
    }

    /// The first message of every new connection (the resume token when there is one, else the
    /// key).
    pub fn hello(&mut self) -> Vec<u8> {
        self.inner.hello()
    }

    /// What a message from the relay means, or `undefined` when it needs nothing. A packet event
    /// gives the payload's place inside `message` (`payloadOffset`, `payloadLength`): apply it,
    /// then send `ack(seq)` for checkpoints and updates. Throws `PROTOCOL_ERROR` (43) for a
    /// message a relay may not send: close the connection (and reconnect).
    pub fn receive(&mut self, message: &[u8], now_ms: f64) -> Result<MaybeRawViewerEvent, JsValue> {
        let now = to_u64("nowMs", now_ms)?;
        let event = self
            .inner
            .receive(message, now)
            .map_err(|e| from_connect(&e))?;
        let Some(event) = event else {
            return Ok(JsValue::UNDEFINED.unchecked_into());
        };
        let o = match event {
            ViewerEvent::Welcome { viewer, host_name } => object(&[
                ("type", "welcome".into()),
                ("viewer", (viewer as f64).into()),
                ("hostName", host_name.into()),
            ]),
            ViewerEvent::Packet(p) => {
                let (kind, restart) = match p.kind {
                    StreamKind::Checkpoint { restart } => ("checkpoint", restart),
                    StreamKind::Update => ("update", false),
                    StreamKind::Cursor => ("cursor", false),
                };
                // The payload is a slice of `message`: say where, JavaScript takes a subarray.
                let offset = p.payload.as_ptr() as usize - message.as_ptr() as usize;
                object(&[
                    ("type", "packet".into()),
                    ("kind", kind.into()),
                    ("restart", restart.into()),
                    ("seq", (p.seq as f64).into()),
                    ("capturedAtMs", (p.captured_at_ms as f64).into()),
                    ("payloadOffset", (offset as f64).into()),
                    ("payloadLength", (p.payload.len() as f64).into()),
                ])
            }
            ViewerEvent::ViewerCount(count) => {
                object(&[("type", "viewer-count".into()), ("count", count.into())])
            }
            ViewerEvent::Control { state, refused } => object(&[
                ("type", "control".into()),
                ("state", control_name(state).into()),
                ("refused", refused.into()),
            ]),
            ViewerEvent::HostStatus { connected } => object(&[
                ("type", "host-status".into()),
                ("connected", connected.into()),
            ]),
        };
        Ok(o.unchecked_into())
    }

    /// The acknowledgement of a painted checkpoint or update `seq` (the relay paces this viewer by
    /// it).
    pub fn ack(&self, seq: f64) -> Result<Vec<u8>, JsValue> {
        Ok(self.inner.ack(to_u64("seq", seq)?))
    }

    /// The request for remote control, or `undefined` when there is nothing to ask (asked or
    /// granted already, or not connected).
    #[wasm_bindgen(js_name = requestControl)]
    pub fn request_control(&mut self) -> Option<Vec<u8>> {
        self.inner.request_control()
    }

    /// Pointer moved to `x, y` (screen pixels); `undefined` unless this viewer holds control.
    #[wasm_bindgen(js_name = pointerMove)]
    pub fn pointer_move(&self, x: i32, y: i32) -> Option<Vec<u8>> {
        self.inner.input(InputEvent::PointerMove { x, y })
    }

    /// Mouse button (0 left, 1 middle, 2 right, 3 back, 4 forward) down or up; `undefined` unless
    /// this viewer holds control.
    pub fn button(&self, button: u8, down: bool) -> Option<Vec<u8>> {
        self.inner.input(InputEvent::Button { button, down })
    }

    /// Wheel steps (`dy > 0`: down); `undefined` unless this viewer holds control.
    pub fn wheel(&self, dx: i32, dy: i32) -> Option<Vec<u8>> {
        self.inner.input(InputEvent::Wheel { dx, dy })
    }

    /// A key (X11 keysym) down or up; `undefined` unless this viewer holds control.
    #[wasm_bindgen(js_name = keyEvent)]
    pub fn key_event(&self, keysym: u32, down: bool) -> Option<Vec<u8>> {
        self.inner.input(InputEvent::Key { keysym, down })
    }

    /// The connection closed with WebSocket close `code` (1006 when it dropped without one) at
    /// `nowMs` (ms since the Unix epoch). `random` (a random u32) spreads the reconnections of many
    /// viewers. `{ reconnect: true, delayMs }`: open a new connection after `delayMs` and send
    /// `hello()`; `{ reconnect: false, error }`: the session is over for this viewer.
    pub fn closed(
        &mut self,
        code: u16,
        reason: &str,
        now_ms: f64,
        random: u32,
    ) -> Result<RawReconnect, JsValue> {
        let now = to_u64("nowMs", now_ms)?;
        let o = match self.inner.closed(code, reason, now, random) {
            Reconnect::After { delay_ms } => object(&[
                ("reconnect", true.into()),
                ("delayMs", (delay_ms as f64).into()),
            ]),
            Reconnect::GiveUp(error) => {
                object(&[("reconnect", false.into()), ("error", from_connect(&error))])
            }
        };
        Ok(o.unchecked_into())
    }
}
