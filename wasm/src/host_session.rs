//! A host's session with a relay (`GlimpseSharer.share`'s engine): the hello, the stream wrapped
//! for the relay, viewers, remote control. Translation only: the logic is
//! [`glimpse_connect::host_session::HostSession`], shared with the Rust host and the C library.

use glimpse::session::{ControlEvent, InputEvent};
use glimpse_connect::host_session::{ControlPolicy, HostEvent, HostSession as Session};
use glimpse_connect::protocol::ViewerEntry;
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

fn entry(v: &ViewerEntry) -> Object {
    object(&[
        ("viewer", (v.viewer as f64).into()),
        ("address", v.address.as_str().into()),
        ("name", v.name.as_str().into()),
    ])
}

fn input(event: &InputEvent) -> Object {
    match *event {
        InputEvent::PointerMove { x, y } => object(&[
            ("type", "pointer-move".into()),
            ("x", x.into()),
            ("y", y.into()),
        ]),
        InputEvent::Button { button, down } => object(&[
            ("type", "button".into()),
            ("button", button.into()),
            ("down", down.into()),
        ]),
        InputEvent::Wheel { dx, dy } => object(&[
            ("type", "wheel".into()),
            ("dx", dx.into()),
            ("dy", dy.into()),
        ]),
        InputEvent::Key { keysym, down } => object(&[
            ("type", "key".into()),
            ("keysym", keysym.into()),
            ("down", down.into()),
        ]),
    }
}

fn event(event: HostEvent) -> Object {
    let kind = |name: &str| ("type", JsValue::from(name));
    let id = |v: u64| JsValue::from(v as f64);
    match event {
        HostEvent::Ready { key, resumed } => object(&[
            kind("ready"),
            ("key", key.to_string().into()),
            ("keyDigits", key.digits().into()),
            ("resumed", resumed.into()),
        ]),
        HostEvent::CheckpointNeeded => object(&[kind("checkpoint-needed")]),
        HostEvent::ViewerJoined(v) => {
            let o = entry(&v);
            // Setting a property on a fresh plain object cannot fail.
            let _ = js_sys::Reflect::set(&o, &"type".into(), &"viewer-joined".into());
            o
        }
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
    /// A session without a key yet. `policy`: `"ask"` (control requests are events),
    /// `"auto-grant"` or `"view-only"`. `secret`: 32 random bytes (`crypto.getRandomValues`), kept
    /// for the session's life: it lets this host, and only it, take the session back after a drop.
    #[wasm_bindgen(constructor)]
    pub fn new(policy: &str, name: &str, secret: &[u8]) -> Result<HostSession, JsValue> {
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
        Ok(HostSession {
            inner: Session::new(policy, name, secret),
        })
    }

    /// The key (`"123 456 789"`) once the relay gave one, else `undefined`.
    #[wasm_bindgen(getter)]
    pub fn key(&self) -> Option<String> {
        self.inner.key().map(|k| k.to_string())
    }

    /// The key as digits only (`"123456789"`), for links; `undefined` before the relay gave one.
    #[wasm_bindgen(getter, js_name = keyDigits)]
    pub fn key_digits(&self) -> Option<String> {
        self.inner.key().map(|k| k.digits())
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

    /// Viewers connected, as last announced: `[{ viewer, address, name }]`.
    pub fn viewers(&self) -> RawViewerEntryArray {
        let out = Array::new();
        for v in self.inner.viewers() {
            out.push(&entry(v));
        }
        out.unchecked_into()
    }

    /// The first message of every new connection (after a drop it asks to resume the same key).
    /// A `checkpoint-needed` event follows: nothing of the stream goes out before a checkpoint.
    pub fn hello(&mut self) -> Vec<u8> {
        self.inner.hello()
    }

    /// The connection dropped (reconnect, then send `hello()` again).
    pub fn disconnected(&mut self) {
        self.inner.disconnected()
    }

    /// A message from the relay; then read `pollEvent()` and `pollOutgoing()`. Throws
    /// `PROTOCOL_ERROR` (43) for a message a relay may not send: close the connection (and
    /// reconnect).
    pub fn receive(&mut self, message: &[u8]) -> Result<(), JsValue> {
        self.inner.receive(message).map_err(|e| from_connect(&e))
    }

    /// Wraps an encoder packet for the relay; `undefined` when it must not go out (before the
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

    /// Disconnects `viewer`; it cannot come back with its resume token.
    pub fn remove(&mut self, viewer: f64) -> Result<(), JsValue> {
        self.inner.remove(viewer_id(viewer)?);
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
