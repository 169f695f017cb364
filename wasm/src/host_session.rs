//! A host's session with a relay (`GlimpseSharer.share`'s engine): the hello, the key exchange with
//! every joining viewer, the stream sealed for the relay, viewers, approval, remote control.
//! Translation only: the logic is [`glimpse_connect::host_session::HostSession`], shared with the
//! Rust host and the C library.

use glimpse::session::{ControlEvent, InputEvent};
use glimpse_connect::host_session::{
    ControlPolicy, HostEvent, HostOptions, HostSession as Session, ViewerInfo,
};
use glimpse_connect::protocol::JoinCode;
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{from_connect, invalid};
use crate::viewer_session::to_u64;
use crate::{object, MaybeRawHostEvent, RawViewerEntryArray};

/// The host's side of a session, sans IO: JavaScript owns the WebSocket and the encoder, this
/// decides what to send the relay and what its messages mean.
#[wasm_bindgen]
pub struct HostSession {
    inner: Session,
}

fn entry(v: &ViewerInfo) -> Object {
    object(&[
        ("viewer", (v.viewer as f64).into()),
        ("address", v.address.as_str().into()),
        ("name", v.name.as_str().into()),
    ])
}

/// An input event as JavaScript gets it: its `type` and its two fields.
fn input(event: &InputEvent) -> Object {
    let typed =
        |kind: &str, a: (&str, JsValue), b: (&str, JsValue)| object(&[("type", kind.into()), a, b]);
    match *event {
        InputEvent::PointerMove { x, y } => typed("pointer-move", ("x", x.into()), ("y", y.into())),
        InputEvent::Button { button, down } => {
            typed("button", ("button", button.into()), ("down", down.into()))
        }
        InputEvent::Wheel { dx, dy } => typed("wheel", ("dx", dx.into()), ("dy", dy.into())),
        InputEvent::Key { keysym, down } => {
            typed("key", ("keysym", keysym.into()), ("down", down.into()))
        }
    }
}

/// A viewer's entry with its event type.
fn viewer_event(kind: &str, v: &ViewerInfo) -> Object {
    let o = entry(v);
    // Setting a property on a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(&o, &"type".into(), &kind.into());
    o
}

/// `code` and `codeDigits` of a code.
fn code_fields(code: &JoinCode) -> [(&'static str, JsValue); 2] {
    [
        ("code", code.to_string().into()),
        ("codeDigits", code.digits().into()),
    ]
}

fn event(event: HostEvent) -> Object {
    let kind = |name: &str| ("type", JsValue::from(name));
    let id = |v: u64| JsValue::from(v as f64);
    match event {
        HostEvent::Ready { code, resumed } => {
            let [c, d] = code_fields(&code);
            object(&[kind("ready"), c, d, ("resumed", resumed.into())])
        }
        HostEvent::WrongCode { address, attempts } => object(&[
            kind("wrong-code"),
            ("address", address.into()),
            ("attempts", attempts.into()),
        ]),
        HostEvent::CodeReplaced { code } => {
            let [c, d] = code_fields(&code);
            object(&[kind("code-replaced"), c, d])
        }
        HostEvent::CheckpointNeeded => object(&[kind("checkpoint-needed")]),
        HostEvent::ApprovalNeeded(v) => viewer_event("approval-needed", &v),
        HostEvent::ViewerJoined(v) => viewer_event("viewer-joined", &v),
        HostEvent::ViewerLeft { viewer } => object(&[kind("viewer-left"), ("viewer", id(viewer))]),
        HostEvent::ControlRequested { viewer } => {
            object(&[kind("control-requested"), ("viewer", id(viewer))])
        }
        HostEvent::Control(c) => {
            let (change, viewer) = match c {
                ControlEvent::Requested(v) => ("requested", v),
                ControlEvent::Granted(v) => ("granted", v),
                ControlEvent::Refused(v) => ("refused", v),
                ControlEvent::Revoked(v) => ("revoked", v),
            };
            object(&[
                kind("control"),
                ("change", change.into()),
                ("viewer", id(viewer)),
            ])
        }
        HostEvent::Input { viewer, event } => object(&[
            kind("input"),
            ("viewer", id(viewer)),
            ("event", input(&event).into()),
        ]),
        HostEvent::Disconnected => object(&[kind("disconnected")]),
        HostEvent::Ended(error) => object(&[kind("ended"), ("error", from_connect(&error))]),
    }
}

/// A viewer id from JavaScript.
fn viewer_id(viewer: f64) -> Result<u64, JsValue> {
    to_u64("viewer", viewer)
}

#[wasm_bindgen]
impl HostSession {
    /// A session without a code yet. `policy`: `"ask"` (control requests are events),
    /// `"auto-grant"` or `"view-only"`; `name`: what viewers see (sealed); `approveViewers`: ask
    /// (`approval-needed` events) before letting each viewer in. `secret`: 32 random bytes
    /// (`crypto.getRandomValues`), kept for the session's life: it lets this host, and only it,
    /// take the session back after a drop.
    #[wasm_bindgen(constructor)]
    pub fn new(
        policy: &str,
        name: &str,
        approve_viewers: bool,
        secret: &[u8],
    ) -> Result<HostSession, JsValue> {
        let policy = match policy {
            "ask" => ControlPolicy::Ask,
            "auto-grant" => ControlPolicy::AutoGrant,
            "view-only" => ControlPolicy::ViewOnly,
            _ => {
                return Err(invalid(
                    "control policy must be \"ask\", \"auto-grant\" or \"view-only\"",
                ))
            }
        };
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| invalid("the host secret must be 32 random bytes"))?;
        let options = HostOptions {
            policy,
            name: name.to_string(),
            approve_viewers,
        };
        let inner = Session::new(options, secret).map_err(|e| from_connect(&e))?;
        Ok(HostSession { inner })
    }

    /// The code (`"123 456 7890"`) once the relay gave the session its lookup, else `undefined`.
    /// It changes when a code is burned after wrong attempts (`code-replaced`).
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> Option<String> {
        self.inner.code().map(|c| c.to_string())
    }

    /// The code as digits only (`"1234567890"`), for links; `undefined` before the relay answered.
    #[wasm_bindgen(getter, js_name = codeDigits)]
    pub fn code_digits(&self) -> Option<String> {
        self.inner.code().map(|c| c.digits())
    }

    /// True once the relay confirmed the session on the current connection.
    #[wasm_bindgen(getter)]
    pub fn ready(&self) -> bool {
        self.inner.is_ready()
    }

    /// The viewer holding remote control, or `undefined`.
    #[wasm_bindgen(getter, js_name = controlHolder)]
    pub fn control_holder(&self) -> Option<f64> {
        self.inner.control_holder().map(|v| v as f64)
    }

    /// Viewers let in: `[{ viewer, address, name }]`.
    pub fn viewers(&self) -> RawViewerEntryArray {
        let out = Array::new();
        for v in self.inner.viewers() {
            out.push(&entry(v));
        }
        out.unchecked_into()
    }

    /// The first message of every new connection (after a drop it asks to resume the same code).
    /// A `checkpoint-needed` event follows: nothing of the stream goes out before a checkpoint.
    pub fn hello(&mut self) -> Vec<u8> {
        self.inner.hello()
    }

    /// The connection dropped (reconnect, then send `hello()` again).
    pub fn disconnected(&mut self) {
        self.inner.disconnected()
    }

    /// A message from the relay at `nowMs` (ms since the Unix epoch); then read `pollEvent()` and
    /// `pollOutgoing()`. Throws a `GlimpseError` (`PROTOCOL_ERROR` (43) for a message a relay may
    /// not send): close the connection (and reconnect).
    pub fn receive(&mut self, message: &[u8], now_ms: f64) -> Result<(), JsValue> {
        let now = to_u64("nowMs", now_ms)?;
        self.inner
            .receive(message, now)
            .map_err(|e| from_connect(&e))
    }

    /// Time passes (call about every second): key exchanges left unconfirmed count as wrong codes.
    pub fn tick(&mut self, now_ms: f64) -> Result<(), JsValue> {
        self.inner.tick(to_u64("nowMs", now_ms)?);
        Ok(())
    }

    /// Seals an encoder packet for the relay; `undefined` when it must not go out (before the
    /// first checkpoint on this connection, or after a gap: then a checkpoint is asked for).
    /// `capturedAtMs`: when the frame was captured (ms since the Unix epoch, 0 if unknown). Throws
    /// for bytes that are not a Glimpse packet.
    #[wasm_bindgen(js_name = streamMessage)]
    pub fn stream_message(
        &mut self,
        packet: &[u8],
        captured_at_ms: f64,
    ) -> Result<Option<Vec<u8>>, JsValue> {
        let captured = to_u64("capturedAtMs", captured_at_ms)?;
        self.inner
            .stream_message(packet, captured)
            .map_err(|e| from_connect(&e))
    }

    /// Gives remote control to `viewer`. Throws `INVALID_REQUEST` (51) when it is not connected.
    pub fn grant(&mut self, viewer: f64) -> Result<(), JsValue> {
        let viewer = viewer_id(viewer)?;
        self.inner.grant(viewer).map_err(|e| from_connect(&e))
    }

    /// Refuses `viewer`'s request (or takes control from it).
    pub fn refuse(&mut self, viewer: f64) -> Result<(), JsValue> {
        self.inner.refuse(viewer_id(viewer)?);
        Ok(())
    }

    /// Takes remote control back.
    pub fn revoke(&mut self) {
        self.inner.revoke()
    }

    /// The person at the host used mouse or keyboard at `nowMs`: control comes back at once.
    #[wasm_bindgen(js_name = localInput)]
    pub fn local_input(&mut self, now_ms: f64) -> Result<(), JsValue> {
        self.inner.local_input(to_u64("nowMs", now_ms)?);
        Ok(())
    }

    /// Disconnects `viewer`; it cannot come back with its resume token, and the stream's key
    /// changes so that it cannot read what follows.
    pub fn remove(&mut self, viewer: f64) -> Result<(), JsValue> {
        self.inner
            .remove(viewer_id(viewer)?)
            .map_err(|e| from_connect(&e))
    }

    /// Lets in a viewer that waits for approval. Throws `INVALID_REQUEST` (51) when it does not
    /// wait.
    pub fn approve(&mut self, viewer: f64) -> Result<(), JsValue> {
        self.inner
            .approve(viewer_id(viewer)?)
            .map_err(|e| from_connect(&e))
    }

    /// Turns away a viewer that waits for approval (nothing when it does not wait).
    pub fn deny(&mut self, viewer: f64) -> Result<(), JsValue> {
        self.inner.deny(viewer_id(viewer)?);
        Ok(())
    }

    /// The message that ends the session for everybody (send it, then close the connection).
    pub fn end(&mut self) -> Vec<u8> {
        self.inner.end()
    }

    /// The next message to send to the relay, or `undefined`.
    #[wasm_bindgen(js_name = pollOutgoing)]
    pub fn poll_outgoing(&mut self) -> Option<Vec<u8>> {
        self.inner.poll_outgoing()
    }

    /// The next thing the program must know or do, or `undefined`. Answer `checkpoint-needed` with
    /// the encoder's checkpoint, through `streamMessage`.
    #[wasm_bindgen(js_name = pollEvent)]
    pub fn poll_event(&mut self) -> MaybeRawHostEvent {
        match self.inner.poll_event() {
            Some(e) => event(e).unchecked_into(),
            None => JsValue::UNDEFINED.unchecked_into(),
        }
    }
}
