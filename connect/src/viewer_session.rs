//! A viewer's side of a session, sans IO: the hello and key exchange, admission, opening the sealed
//! stream (refusing anything forged, replayed or reordered), acks, control requests and sealed
//! input, and whether to reconnect after a drop. The Rust [`Viewer`](crate::Viewer) and the npm
//! package's `GlimpseViewer.join` both drive this one type, so they behave alike.
//!
//! On every new connection send [`ViewerSession::hello`]; pass each message to
//! [`ViewerSession::receive`], then send everything [`ViewerSession::poll_outgoing`] returns;
//! apply every [`ViewerEvent::Packet`]'s data to a [`glimpse::Decoder`] and send
//! [`ViewerSession::ack`] for its `seq` once painted (or [`ViewerSession::resync`] if the decoder
//! refused it); when the connection closes ask [`ViewerSession::closed`] what to do.
//!
//! ```
//! use glimpse_connect::viewer_session::{Reconnect, ViewerSession};
//! use glimpse_connect::protocol::{close, JoinCode, Join, Message};
//!
//! let code = JoinCode::parse("123 456 7890")?;
//! let mut session = ViewerSession::new(code, "Grace");
//! match Message::decode(&session.hello())? {
//!     // The relay sees the lookup part and a key exchange message, never the secret part.
//!     Message::ViewerHello { join: Join::Code { lookup, pake } } => {
//!         assert_eq!(lookup, code.lookup());
//!         assert_eq!(pake.len(), 33);
//!     }
//!     other => panic!("{other:?}"),
//! }
//! // The relay does not know this code: give up at once with a clear reason.
//! assert!(matches!(session.closed(close::UNKNOWN_KEY, "", 0, 0), Reconnect::GiveUp(_)));
//! # Ok::<(), glimpse_connect::ConnectError>(())
//! ```

use std::collections::VecDeque;

use glimpse::session::{InputEvent, StreamKind, ViewerId};

use crate::crypto::{self, ContentKey, Key, ViewerPake};
use crate::error::ConnectError;
use crate::protocol::{
    clean_name, close, close_error, decode_inner, encode_inner, InputPayload, Join, JoinCode,
    KeyPayload, Message, StreamPacket,
};

/// How long a viewer keeps trying to get back into a session after its connection dropped (a relay
/// restart, a network cut): longer than the relay keeps a session whose host dropped.
pub const RECONNECT_GRACE_MS: u64 = 60_000;

/// Where remote control stands for this viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ControlState {
    /// View only.
    #[default]
    None,
    /// Asked, no answer yet.
    Asked,
    /// This viewer controls the host's screen.
    Granted,
}

/// What a message from the relay means to the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewerEvent {
    /// Connected; the key exchange with the host runs.
    Welcome {
        /// This viewer's id in the session.
        viewer: ViewerId,
    },
    /// The host let this viewer in (its code was right); the screen follows.
    Admitted {
        /// The host's name (may be empty).
        host_name: String,
    },
    /// A screen packet, opened: apply `data`, then acknowledge checkpoints and updates with
    /// [`ViewerSession::ack`] (cursor packets need no ack).
    Packet {
        /// Checkpoint, update or cursor.
        kind: StreamKind,
        /// The stream position.
        seq: u64,
        /// When the host captured it (ms since the Unix epoch; 0 if unknown).
        captured_at_ms: u64,
        /// The Glimpse packet.
        data: Vec<u8>,
    },
    /// A packet was refused: it did not authenticate (changed on the way), was a replay, or came
    /// under a key this viewer does not have. Nothing of it was shown; a resync was asked for
    /// when the stream had a hole.
    Refused {
        /// Why.
        reason: &'static str,
    },
    /// How many viewers watch.
    ViewerCount(u32),
    /// Remote control changed ([`ViewerSession::control`] tells the new state); `refused` when the
    /// host said no.
    Control {
        /// The new state.
        state: ControlState,
        /// The request was refused.
        refused: bool,
    },
    /// The host's link dropped (`false`) or came back (`true`).
    HostStatus {
        /// The host is connected.
        connected: bool,
    },
}

/// What to do after the connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconnect {
    /// Open a new connection after `delay_ms` and send [`ViewerSession::hello`] again.
    After {
        /// Milliseconds to wait.
        delay_ms: u64,
    },
    /// Stop: the session is over for this viewer, for this reason.
    GiveUp(ConnectError),
}

/// The viewer's keys once the exchange with the host confirmed.
#[derive(Debug, Clone)]
struct Keys {
    wrap: Key,
    input: Key,
}

/// A viewer's session state (see the [module docs](self)).
#[derive(Debug)]
pub struct ViewerSession {
    code: JoinCode,
    name: String,
    token: Option<[u8; 16]>,
    viewer: Option<ViewerId>,
    pake: Option<ViewerPake>,
    keys: Option<Keys>,
    /// The current content key and the one before (packets in flight during a rotation).
    content: Vec<ContentKey>,
    admitted: bool,
    /// The host's key confirmation failed: nothing from this connection is trusted.
    wrong_code: bool,
    last_counter: Option<u64>,
    input_counter: u64,
    /// Admitted at least once: drops are reconnected, an unknown code may be a restarting relay.
    joined_once: bool,
    /// The current connection's hello used the resume token.
    resuming: bool,
    control: ControlState,
    /// When the connection first dropped (ms), while reconnecting.
    dropped_at: Option<u64>,
    attempts: u32,
    outgoing: VecDeque<Vec<u8>>,
}

impl ViewerSession {
    /// A session to join with `code`; `name` is shown to the host (sealed: the relay does not see
    /// it; may be empty).
    pub fn new(code: JoinCode, name: &str) -> Self {
        ViewerSession {
            code,
            name: clean_name(name),
            token: None,
            viewer: None,
            pake: None,
            keys: None,
            content: Vec::new(),
            admitted: false,
            wrong_code: false,
            last_counter: None,
            input_counter: 0,
            joined_once: false,
            resuming: false,
            control: ControlState::None,
            dropped_at: None,
            attempts: 0,
            outgoing: VecDeque::new(),
        }
    }

    /// The code this session joins with.
    pub fn code(&self) -> JoinCode {
        self.code
    }

    /// This viewer's id, while connected.
    pub fn viewer(&self) -> Option<ViewerId> {
        self.viewer
    }

    /// True once the host let this viewer in on the current connection.
    pub fn is_admitted(&self) -> bool {
        self.admitted
    }

    /// Where remote control stands.
    pub fn control(&self) -> ControlState {
        self.control
    }

    /// The first message on a new connection: the resume token when this viewer was in before,
    /// else the code's lookup and a fresh key exchange.
    pub fn hello(&mut self) -> Vec<u8> {
        self.viewer = None;
        self.admitted = false;
        self.wrong_code = false;
        self.control = ControlState::None;
        self.outgoing.clear();
        // Replay protection holds within a connection: a rejoining viewer starts again from
        // whatever checkpoint the relay has.
        self.last_counter = None;
        self.resuming = self.token.is_some() && self.keys.is_some();
        let join = match self.token.filter(|_| self.resuming) {
            Some(token) => Join::Resume(token),
            None => {
                let (pake, message) = crypto::viewer_pake(&self.code);
                self.pake = Some(pake);
                self.keys = None;
                Join::Code {
                    lookup: self.code.lookup(),
                    pake: message,
                }
            }
        };
        Message::ViewerHello { join }.encode()
    }

    /// A message from the relay. `Ok(None)` for messages that need nothing from the program; an
    /// error for a malformed message or one a relay may not send to a viewer (close and reconnect).
    /// Send what [`poll_outgoing`](Self::poll_outgoing) returns afterwards.
    pub fn receive(
        &mut self,
        bytes: &[u8],
        _now_ms: u64,
    ) -> Result<Option<ViewerEvent>, ConnectError> {
        Ok(match Message::decode(bytes)? {
            Message::Welcome {
                viewer,
                resume_token,
            } if self.viewer.is_none() => {
                self.viewer = Some(viewer);
                self.token = Some(resume_token);
                Some(ViewerEvent::Welcome { viewer })
            }
            Message::PakeReply {
                pake, confirmation, ..
            } if self.viewer.is_some() => {
                self.on_pake_reply(&pake, &confirmation)?;
                None
            }
            Message::Admit { sealed_key, .. } | Message::Rekey { sealed_key, .. } => {
                self.on_key(&sealed_key)?
            }
            Message::Stream(packet) if self.admitted => Some(self.open(&packet)),
            Message::Stream(_) => None, // before admission (or after a wrong code): ignored
            Message::ViewerCount(n) => Some(ViewerEvent::ViewerCount(n)),
            Message::ControlGranted => Some(self.set_control(ControlState::Granted, false)),
            Message::ControlRefused => Some(self.set_control(ControlState::None, true)),
            Message::ControlRevoked => Some(self.set_control(ControlState::None, false)),
            Message::HostStatus { connected } => Some(ViewerEvent::HostStatus { connected }),
            other => {
                return Err(ConnectError::Protocol(format!(
                    "a relay may not send {} to a viewer here",
                    other.name()
                )))
            }
        })
    }

    fn on_pake_reply(&mut self, pake: &[u8], confirmation: &[u8; 32]) -> Result<(), ConnectError> {
        let state = self.pake.take().ok_or_else(|| {
            ConnectError::Protocol("a key exchange reply nobody asked for".into())
        })?;
        let keys = state.finish(pake)?;
        if !keys.check_host(confirmation) {
            // A wrong code (or someone in the middle). The confirmation still goes out, so the
            // host counts the attempt at once; nothing from this connection is trusted.
            self.wrong_code = true;
        }
        let sealed_name = crypto::seal(&keys.wrap, crypto::NAME_AAD, self.name.as_bytes())?;
        self.outgoing.push_back(
            Message::Confirm {
                viewer: 0,
                confirmation: keys.viewer_confirmation(),
                sealed_name,
            }
            .encode(),
        );
        self.keys = Some(Keys {
            wrap: keys.wrap,
            input: keys.input,
        });
        Ok(())
    }

    fn on_key(&mut self, sealed_key: &[u8]) -> Result<Option<ViewerEvent>, ConnectError> {
        let (Some(keys), Some(viewer)) = (&self.keys, self.viewer) else {
            return Err(ConnectError::Protocol(
                "a key before the key exchange".into(),
            ));
        };
        if self.wrong_code {
            return Ok(None);
        }
        let plain = crypto::open(&keys.wrap, &crypto::key_aad(viewer), sealed_key)?;
        let payload: KeyPayload = decode_inner(&plain)?;
        self.content.retain(|k| k.epoch != payload.epoch);
        self.content.push(ContentKey {
            epoch: payload.epoch,
            key: Key::from_bytes(payload.key),
        });
        if self.content.len() > 2 {
            self.content.remove(0);
        }
        if self.admitted {
            return Ok(None); // a rotation
        }
        self.admitted = true;
        self.joined_once = true;
        self.dropped_at = None;
        self.attempts = 0;
        Ok(Some(ViewerEvent::Admitted {
            host_name: clean_name(&payload.host_name),
        }))
    }

    /// Opens a stream packet: its data, or why it was refused (a resync is queued when the
    /// stream now has a hole).
    fn open(&mut self, packet: &StreamPacket<'_>) -> ViewerEvent {
        if self.last_counter.is_some_and(|last| packet.counter <= last) {
            // A replay or reordering: the genuine stream has no hole, nothing to repair.
            return ViewerEvent::Refused {
                reason: "replayed or out of order",
            };
        }
        let Some(key) = self.content.iter().find(|k| k.epoch == packet.epoch) else {
            self.outgoing.push_back(Message::Resync.encode());
            return ViewerEvent::Refused {
                reason: "sealed under a key this viewer does not have",
            };
        };
        let aad = crypto::stream_aad(
            packet.epoch,
            packet.counter,
            crypto::kind_tag(packet.kind),
            packet.seq,
        );
        match crypto::open(&key.key, &aad, packet.payload) {
            Ok(data) => {
                self.last_counter = Some(packet.counter);
                ViewerEvent::Packet {
                    kind: packet.kind,
                    seq: packet.seq,
                    captured_at_ms: packet.captured_at_ms,
                    data,
                }
            }
            Err(_) => {
                self.outgoing.push_back(Message::Resync.encode());
                ViewerEvent::Refused {
                    reason: "did not authenticate",
                }
            }
        }
    }

    /// The next message to send to the relay.
    pub fn poll_outgoing(&mut self) -> Option<Vec<u8>> {
        self.outgoing.pop_front()
    }

    /// The acknowledgement of a painted checkpoint or update (the relay paces this viewer by it).
    pub fn ack(&self, seq: u64) -> Vec<u8> {
        Message::Ack { seq }.encode()
    }

    /// Asks the relay to restart this viewer from the next checkpoint (its decoder refused a
    /// packet).
    pub fn resync(&self) -> Vec<u8> {
        Message::Resync.encode()
    }

    /// Asks the host for remote control; `None` when there is nothing to ask (already asked or
    /// granted, or not in).
    pub fn request_control(&mut self) -> Option<Vec<u8>> {
        if !self.admitted || self.control != ControlState::None {
            return None;
        }
        self.control = ControlState::Asked;
        Some(Message::ControlRequest.encode())
    }

    /// An input event to send, sealed for the host; `None` unless this viewer holds control.
    pub fn input(&mut self, event: InputEvent) -> Option<Vec<u8>> {
        if self.control != ControlState::Granted || !self.admitted {
            return None;
        }
        let (keys, viewer) = (self.keys.as_ref()?, self.viewer?);
        self.input_counter += 1;
        let payload = encode_inner(&InputPayload {
            counter: self.input_counter,
            event,
        });
        let sealed = crypto::seal(&keys.input, &crypto::input_aad(viewer), &payload).ok()?;
        Some(Message::Input(sealed).encode())
    }

    /// The connection closed with WebSocket close `code` (1006 when it dropped without one) at
    /// `now_ms`. `random` (any value; from a random source) spreads reconnections of many viewers.
    pub fn closed(&mut self, code: u16, reason: &str, now_ms: u64, random: u32) -> Reconnect {
        let was_in = std::mem::take(&mut self.admitted);
        self.viewer = None;
        self.control = ControlState::None;
        if self.wrong_code && code != close::RESTART {
            return Reconnect::GiveUp(ConnectError::WrongCode);
        }
        if code == close::UNKNOWN_KEY && self.resuming {
            // The relay does not know the token (it restarted, or the token expired): the code.
            self.token = None;
            return self.retry(now_ms, 0);
        }
        if code == close::BUSY {
            // The session lets joiners in at a bounded rate and this one's turn was far off:
            // try again when the relay says (spread a little), for as long as a reconnection
            // may take.
            if self.past_grace(now_ms) {
                return Reconnect::GiveUp(close_error(code, reason));
            }
            let delay = close::retry_after_ms(reason)
                .unwrap_or(1_000)
                .clamp(100, 10_000);
            return self.retry(now_ms, delay + u64::from(random) % (delay / 4 + 1));
        }
        if !self.joined_once {
            // The first join failed: say why at once (a wrong code must not spin).
            return Reconnect::GiveUp(if code == 1006 {
                ConnectError::Unreachable(reason.to_string())
            } else {
                close_error(code, reason)
            });
        }
        if close::is_final(code) {
            return Reconnect::GiveUp(close_error(code, reason));
        }
        if was_in {
            self.attempts = 0;
        }
        if self.past_grace(now_ms) {
            return Reconnect::GiveUp(ConnectError::ConnectionLost(format!(
                "could not rejoin within {} s",
                RECONNECT_GRACE_MS / 1000
            )));
        }
        // An unknown code after a drop: the relay restarted and the host has not re-created the
        // session yet; keep trying within the grace period.
        let delay = (100u64 << self.attempts.min(5)).min(2000);
        self.retry(now_ms, delay + u64::from(random) % (delay / 2 + 1))
    }

    /// True once the connection has been down (or the join waiting) for longer than
    /// [`RECONNECT_GRACE_MS`]; starts counting at the first call after a drop.
    fn past_grace(&mut self, now_ms: u64) -> bool {
        let dropped_at = *self.dropped_at.get_or_insert(now_ms);
        now_ms.saturating_sub(dropped_at) > RECONNECT_GRACE_MS
    }

    fn retry(&mut self, now_ms: u64, delay_ms: u64) -> Reconnect {
        self.dropped_at.get_or_insert(now_ms);
        self.attempts = self.attempts.saturating_add(1);
        Reconnect::After { delay_ms }
    }

    fn set_control(&mut self, state: ControlState, refused: bool) -> ViewerEvent {
        self.control = state;
        ViewerEvent::Control { state, refused }
    }
}
