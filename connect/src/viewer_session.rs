//! A viewer's side of a session, sans IO: the hello, what the relay's messages mean, acks, control
//! requests and input, and whether to reconnect after a drop. The Rust [`Viewer`](crate::Viewer) and
//! the npm package's `GlimpseViewer.join` both drive this one type, so they behave alike.
//!
//! On every new connection send [`ViewerSession::hello`]; pass each message to
//! [`ViewerSession::receive`]; apply every [`ViewerEvent::Packet`]'s payload to a
//! [`glimpse::Decoder`] and send [`ViewerSession::ack`] for its `seq` once painted; when the
//! connection closes ask [`ViewerSession::closed`] what to do.
//!
//! ```
//! use glimpse_connect::viewer_session::{Reconnect, ViewerEvent, ViewerSession};
//! use glimpse_connect::protocol::{close, Message, SessionKey};
//!
//! let key = SessionKey::parse("123 456 789")?;
//! let mut session = ViewerSession::new(key, "Grace");
//! let _hello = session.hello();
//! let welcome = Message::Welcome { viewer: 3, resume_token: [1; 16], host_name: "Ada".into() }.encode();
//! assert!(matches!(session.receive(&welcome, 0)?, Some(ViewerEvent::Welcome { viewer: 3, .. })));
//! // The relay restarts: reconnect, first with the resume token.
//! assert!(matches!(session.closed(close::RESTART, "", 10, 0), Reconnect::After { .. }));
//! # Ok::<(), glimpse_connect::ConnectError>(())
//! ```

use glimpse::session::{InputEvent, ViewerId};

use crate::error::ConnectError;
use crate::protocol::{clean_name, close, close_error, Join, Message, SessionKey, StreamPacket};

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
pub enum ViewerEvent<'a> {
    /// Joined (or rejoined after a drop).
    Welcome {
        /// This viewer's id in the session.
        viewer: ViewerId,
        /// The host's name (may be empty).
        host_name: String,
    },
    /// A screen packet: apply `payload`, then acknowledge checkpoints and updates with
    /// [`ViewerSession::ack`] (cursor packets need no ack).
    Packet(StreamPacket<'a>),
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

/// A viewer's session state (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct ViewerSession {
    key: SessionKey,
    name: String,
    token: Option<[u8; 16]>,
    viewer: Option<ViewerId>,
    /// Welcomed at least once: drops are reconnected, an unknown key may be a restarting relay.
    joined_once: bool,
    /// The current connection's hello used the resume token.
    resuming: bool,
    control: ControlState,
    /// When the connection first dropped (ms), while reconnecting.
    dropped_at: Option<u64>,
    attempts: u32,
}

impl ViewerSession {
    /// A session to join with `key`; `name` is shown to the host (may be empty).
    pub fn new(key: SessionKey, name: &str) -> Self {
        ViewerSession {
            key,
            name: clean_name(name),
            token: None,
            viewer: None,
            joined_once: false,
            resuming: false,
            control: ControlState::None,
            dropped_at: None,
            attempts: 0,
        }
    }

    /// The key this session joins with.
    pub fn key(&self) -> SessionKey {
        self.key
    }

    /// This viewer's id, while connected.
    pub fn viewer(&self) -> Option<ViewerId> {
        self.viewer
    }

    /// Where remote control stands.
    pub fn control(&self) -> ControlState {
        self.control
    }

    /// The first message on a new connection: the resume token when there is one, else the key.
    pub fn hello(&mut self) -> Vec<u8> {
        self.viewer = None;
        self.control = ControlState::None;
        self.resuming = self.token.is_some();
        let join = match self.token {
            Some(token) => Join::Resume(token),
            None => Join::Key(self.key),
        };
        Message::ViewerHello {
            join,
            name: self.name.clone(),
        }
        .encode()
    }

    /// A message from the relay. `Ok(None)` for messages that need nothing from the program; an
    /// error for a malformed message or one a relay may not send to a viewer (close and reconnect).
    pub fn receive<'a>(
        &mut self,
        bytes: &'a [u8],
        _now_ms: u64,
    ) -> Result<Option<ViewerEvent<'a>>, ConnectError> {
        Ok(Some(match Message::decode(bytes)? {
            Message::Welcome {
                viewer,
                resume_token,
                host_name,
            } => {
                self.viewer = Some(viewer);
                self.token = Some(resume_token);
                self.joined_once = true;
                self.dropped_at = None;
                self.attempts = 0;
                ViewerEvent::Welcome {
                    viewer,
                    host_name: clean_name(&host_name),
                }
            }
            Message::Stream(packet) if self.viewer.is_some() => ViewerEvent::Packet(packet),
            Message::ViewerCount(n) => ViewerEvent::ViewerCount(n),
            Message::ControlGranted => self.set_control(ControlState::Granted, false),
            Message::ControlRefused => self.set_control(ControlState::None, true),
            Message::ControlRevoked => self.set_control(ControlState::None, false),
            Message::HostStatus { connected } => ViewerEvent::HostStatus { connected },
            other => {
                return Err(ConnectError::Protocol(format!(
                    "a relay may not send {} to a viewer{}",
                    other.name(),
                    if self.viewer.is_none() {
                        " before its welcome"
                    } else {
                        ""
                    }
                )))
            }
        }))
    }

    /// The acknowledgement of a painted checkpoint or update (the relay paces this viewer by it).
    pub fn ack(&self, seq: u64) -> Vec<u8> {
        Message::Ack { seq }.encode()
    }

    /// Asks the host for remote control; `None` when connected with nothing to ask (already asked
    /// or granted, or not connected).
    pub fn request_control(&mut self) -> Option<Vec<u8>> {
        if self.viewer.is_none() || self.control != ControlState::None {
            return None;
        }
        self.control = ControlState::Asked;
        Some(Message::ControlRequest.encode())
    }

    /// An input event to send; `None` unless this viewer holds control.
    pub fn input(&self, event: InputEvent) -> Option<Vec<u8>> {
        (self.control == ControlState::Granted && self.viewer.is_some())
            .then(|| Message::Input(event).encode())
    }

    /// The connection closed with WebSocket close `code` (1006 when it dropped without one) at
    /// `now_ms`. `random` (any value; from a random source) spreads reconnections of many viewers.
    pub fn closed(&mut self, code: u16, reason: &str, now_ms: u64, random: u32) -> Reconnect {
        let was_connected = self.viewer.take().is_some();
        self.control = ControlState::None;
        if code == close::UNKNOWN_KEY && self.resuming {
            // The relay does not know the token (it restarted, or the token expired): the key.
            self.token = None;
            return self.retry(now_ms, 0);
        }
        if !self.joined_once {
            // The first join failed: say why at once (a wrong key must not spin).
            return Reconnect::GiveUp(if code == 1006 {
                ConnectError::Unreachable(reason.to_string())
            } else {
                close_error(code, reason)
            });
        }
        if close::is_final(code) {
            return Reconnect::GiveUp(close_error(code, reason));
        }
        if was_connected {
            self.attempts = 0;
        }
        let dropped_at = *self.dropped_at.get_or_insert(now_ms);
        if now_ms.saturating_sub(dropped_at) > RECONNECT_GRACE_MS {
            return Reconnect::GiveUp(ConnectError::ConnectionLost(format!(
                "could not rejoin within {} s",
                RECONNECT_GRACE_MS / 1000
            )));
        }
        // Unknown key after a drop: the relay restarted and the host has not re-created the
        // session yet; keep trying within the grace period.
        let base = 100u64 << self.attempts.min(5);
        let delay = base.min(2000);
        self.retry(now_ms, delay + u64::from(random) % (delay / 2 + 1))
    }

    fn retry(&mut self, now_ms: u64, delay_ms: u64) -> Reconnect {
        self.dropped_at.get_or_insert(now_ms);
        self.attempts = self.attempts.saturating_add(1);
        Reconnect::After { delay_ms }
    }

    fn set_control(&mut self, state: ControlState, refused: bool) -> ViewerEvent<'static> {
        self.control = state;
        ViewerEvent::Control { state, refused }
    }
}
