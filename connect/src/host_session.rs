//! The host's side of a session, sans IO: what to send the relay and what to tell the program,
//! without sockets, threads or clocks. The Rust [`Host`](crate::Host), the C library and the npm
//! package's sharer all drive this one type.
//!
//! Drive it like this: on every new connection to the relay send [`HostSession::hello`]; feed each
//! message from the relay to [`HostSession::receive`]; wrap every packet the encoder makes with
//! [`HostSession::stream_message`] and send what it returns; after each call send what
//! [`HostSession::poll_outgoing`] returns and act on [`HostSession::poll_event`] (above all
//! [`HostEvent::CheckpointNeeded`]: answer with [`glimpse::Encoder::checkpoint`]).
//!
//! ```
//! use glimpse_connect::host_session::{ControlPolicy, HostEvent, HostSession};
//! use glimpse_connect::protocol::{Message, SessionKey};
//!
//! let mut session = HostSession::new(ControlPolicy::Ask, "Ada", [7; 32]);
//! let hello = session.hello(); // first message on a new connection
//! assert!(matches!(Message::decode(&hello)?, Message::HostHello { key: None, .. }));
//! assert_eq!(session.poll_event(), Some(HostEvent::CheckpointNeeded));
//! // The relay answers:
//! let key = SessionKey::parse("123 456 789")?;
//! let ready = Message::SessionReady { key, resumed: false, viewers: vec![] }.encode();
//! session.receive(&ready)?;
//! assert_eq!(session.poll_event(), Some(HostEvent::Ready { key, resumed: false }));
//! assert_eq!(session.key(), Some(key));
//! # Ok::<(), glimpse_connect::ConnectError>(())
//! ```

use std::collections::{BTreeMap, VecDeque};

use glimpse::protocol::PacketHeader;
use glimpse::session::{Control, ControlEvent, InputEvent, StreamKind, ViewerId};
use glimpse::{PacketKind, SessionInfo};

use crate::error::ConnectError;
use crate::protocol::{clean_name, Message, SessionKey, StreamPacket, ViewerEntry};

/// What the host does when a viewer asks for remote control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ControlPolicy {
    /// Ask the program ([`HostEvent::ControlRequested`]), which answers with
    /// [`HostSession::grant`] or [`HostSession::refuse`].
    #[default]
    Ask,
    /// Grant at once.
    AutoGrant,
    /// Refuse every request.
    ViewOnly,
}

/// Something the program must know or do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEvent {
    /// The session is live under `key` (again, after a reconnection: `resumed`).
    Ready {
        /// The key viewers type.
        key: SessionKey,
        /// An existing session continued (its viewers stayed).
        resumed: bool,
    },
    /// Send a checkpoint ([`glimpse::Encoder::checkpoint`]) through [`HostSession::stream_message`].
    CheckpointNeeded,
    /// A viewer joined.
    ViewerJoined(ViewerEntry),
    /// A viewer left.
    ViewerLeft {
        /// Who.
        viewer: ViewerId,
    },
    /// A viewer asks for remote control (only with [`ControlPolicy::Ask`]).
    ControlRequested {
        /// Who.
        viewer: ViewerId,
    },
    /// Remote control changed hands. After `Revoked`, release every key and button the viewer
    /// still holds down.
    Control(ControlEvent),
    /// Input from the viewer holding control, checked (on the screen, from the holder): inject it.
    Input {
        /// Who sent it.
        viewer: ViewerId,
        /// What to inject.
        event: InputEvent,
    },
    /// The link to the relay dropped; the driver reconnects (viewers see a frozen screen).
    Disconnected,
    /// The session is over (raised by drivers, not by [`HostSession`]): the relay closed it for
    /// good, the host could not reconnect in time, or the program ended it.
    Ended(ConnectError),
}

/// The host's session state (see the [module docs](self)).
#[derive(Debug)]
pub struct HostSession {
    policy: ControlPolicy,
    name: String,
    secret: [u8; 32],
    key: Option<SessionKey>,
    /// `SessionReady` arrived on this connection.
    ready: bool,
    /// A checkpoint went out on this connection: the stream may follow.
    synced: bool,
    /// Screen and `seq` of the last checkpoint or update sent on this connection.
    last: Option<(Option<SessionInfo>, u64)>,
    screen: (u32, u32),
    control: Control,
    viewers: BTreeMap<ViewerId, ViewerEntry>,
    outgoing: VecDeque<Vec<u8>>,
    events: VecDeque<HostEvent>,
}

impl HostSession {
    /// A session that has no key yet. `secret` must be 32 bytes from a CSPRNG, kept for the
    /// session's life: it lets this host (and only it) take the session back after a drop.
    pub fn new(policy: ControlPolicy, name: &str, secret: [u8; 32]) -> Self {
        HostSession {
            policy,
            name: clean_name(name),
            secret,
            key: None,
            ready: false,
            synced: false,
            last: None,
            screen: (0, 0),
            control: Control::new(),
            viewers: BTreeMap::new(),
            outgoing: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The key, once the relay gave one.
    pub fn key(&self) -> Option<SessionKey> {
        self.key
    }

    /// True once the relay confirmed the session on the current connection.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Viewers connected, as last announced by the relay.
    pub fn viewers(&self) -> impl Iterator<Item = &ViewerEntry> {
        self.viewers.values()
    }

    /// The viewer holding remote control.
    pub fn control_holder(&self) -> Option<ViewerId> {
        self.control.holder()
    }

    /// The first message on a new connection (the first one, or after a drop: then it asks to
    /// resume the same key). Nothing of the stream goes out until the next checkpoint, which
    /// [`HostEvent::CheckpointNeeded`] asks for.
    pub fn hello(&mut self) -> Vec<u8> {
        self.ready = false;
        self.synced = false;
        self.last = None;
        self.outgoing.clear();
        self.events.push_back(HostEvent::CheckpointNeeded);
        Message::HostHello {
            key: self.key,
            secret: self.secret,
            name: self.name.clone(),
        }
        .encode()
    }

    /// The connection dropped (the driver reconnects and calls [`hello`](Self::hello) again).
    pub fn disconnected(&mut self) {
        if self.ready {
            self.events.push_back(HostEvent::Disconnected);
        }
        self.ready = false;
        self.synced = false;
    }

    /// A message from the relay. A malformed one, or one a relay may not send, is an error: close
    /// the connection (and reconnect).
    pub fn receive(&mut self, bytes: &[u8]) -> Result<(), ConnectError> {
        match Message::decode(bytes)? {
            Message::SessionReady {
                key,
                resumed,
                viewers,
            } => self.on_ready(key, resumed, viewers),
            Message::CheckpointRequest => self.events.push_back(HostEvent::CheckpointNeeded),
            Message::ViewerJoined(entry) => {
                self.viewers.insert(entry.viewer, entry.clone());
                self.events.push_back(HostEvent::ViewerJoined(entry));
            }
            Message::ViewerLeft { viewer } => self.on_viewer_left(viewer),
            Message::ControlRequested { viewer } => self.on_control_request(viewer),
            Message::InputFrom { viewer, event } => {
                // The host's own check: only the holder, pointer on the screen.
                if let Ok(event) = self.control.accept_input(viewer, &event, self.screen) {
                    self.events.push_back(HostEvent::Input { viewer, event });
                }
            }
            other => {
                return Err(ConnectError::Protocol(format!(
                    "a relay may not send {} to a host",
                    other.name()
                )))
            }
        }
        Ok(())
    }

    /// Wraps a packet from the encoder for the relay; `None` when it must not go out (before the
    /// first checkpoint on this connection, or after a gap: then a checkpoint is asked for).
    /// `captured_at_ms` is when the frame was captured (ms since the Unix epoch, 0 if unknown).
    pub fn stream_message(
        &mut self,
        packet: &[u8],
        captured_at_ms: u64,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        let header = PacketHeader::read(packet)?;
        let (kind, seq) = match header.kind {
            PacketKind::Checkpoint => {
                let seq = header.seq.unwrap_or(0);
                let join = self.synced && self.last == Some((header.session, seq));
                if let Some(s) = header.session {
                    self.screen = (s.width, s.height);
                }
                self.synced = true;
                self.last = Some((header.session, seq));
                (StreamKind::Checkpoint { restart: !join }, seq)
            }
            PacketKind::FrameUpdate => {
                let seq = header.seq.unwrap_or(0);
                match self.last {
                    Some((screen, last)) if self.synced && seq == last.wrapping_add(1) => {
                        self.last = Some((screen, seq));
                        (StreamKind::Update, seq)
                    }
                    Some(_) if self.synced => {
                        // A packet was lost on the way to us: restart from a checkpoint.
                        self.synced = false;
                        self.events.push_back(HostEvent::CheckpointNeeded);
                        return Ok(None);
                    }
                    _ => return Ok(None),
                }
            }
            PacketKind::CursorShape | PacketKind::CursorPosition => match self.last {
                Some((_, seq)) if self.synced => (StreamKind::Cursor, seq),
                _ => return Ok(None),
            },
        };
        Ok(Some(
            Message::Stream(StreamPacket {
                kind,
                seq,
                captured_at_ms,
                payload: packet,
            })
            .encode(),
        ))
    }

    /// Gives remote control to `viewer` (another holder loses it).
    pub fn grant(&mut self, viewer: ViewerId) -> Result<(), ConnectError> {
        if !self.viewers.contains_key(&viewer) {
            return Err(ConnectError::InvalidRequest(format!(
                "viewer {viewer} is not connected"
            )));
        }
        for event in self.control.grant(viewer) {
            self.events.push_back(HostEvent::Control(event));
        }
        self.send(Message::GrantControl { viewer });
        Ok(())
    }

    /// Refuses `viewer`'s request (or takes control from it).
    pub fn refuse(&mut self, viewer: ViewerId) {
        let event = self.control.refuse(viewer);
        self.events.push_back(HostEvent::Control(event));
        self.send(Message::RefuseControl { viewer });
    }

    /// Takes remote control back.
    pub fn revoke(&mut self) {
        if let Some(event) = self.control.revoke() {
            self.events.push_back(HostEvent::Control(event));
        }
        self.send(Message::RevokeControl);
    }

    /// The person at the host touched mouse or keyboard: control goes back to them at once.
    pub fn local_input(&mut self, now_ms: u64) {
        if let Some(event) = self.control.local_input(now_ms) {
            self.events.push_back(HostEvent::Control(event));
            self.send(Message::RevokeControl);
        }
    }

    /// Disconnects `viewer`; it cannot come back with its resume token.
    pub fn remove(&mut self, viewer: ViewerId) {
        self.send(Message::RemoveViewer { viewer });
    }

    /// The message that ends the session for everybody (send it, then close the connection).
    pub fn end(&mut self) -> Vec<u8> {
        Message::EndSession.encode()
    }

    /// The next message to send to the relay.
    pub fn poll_outgoing(&mut self) -> Option<Vec<u8>> {
        self.outgoing.pop_front()
    }

    /// The next thing the program must know or do.
    pub fn poll_event(&mut self) -> Option<HostEvent> {
        self.events.pop_front()
    }

    fn send(&mut self, message: Message<'_>) {
        // Control messages only mean something on a live connection; a reconnection re-syncs the
        // relay (see `on_ready`).
        if self.ready {
            self.outgoing.push_back(message.encode());
        }
    }

    fn on_ready(&mut self, key: SessionKey, resumed: bool, viewers: Vec<ViewerEntry>) {
        self.key = Some(key);
        self.ready = true;
        let now: BTreeMap<ViewerId, ViewerEntry> =
            viewers.into_iter().map(|v| (v.viewer, v)).collect();
        let gone: Vec<ViewerId> = self
            .viewers
            .keys()
            .filter(|v| !now.contains_key(v))
            .copied()
            .collect();
        for viewer in gone {
            self.on_viewer_left(viewer);
        }
        for (id, entry) in &now {
            if !self.viewers.contains_key(id) {
                self.events
                    .push_back(HostEvent::ViewerJoined(entry.clone()));
            }
        }
        self.viewers = now;
        self.events.push_back(HostEvent::Ready { key, resumed });
        // The relay's copy of who holds control follows the host's.
        match self.control.holder() {
            Some(viewer) => self.send(Message::GrantControl { viewer }),
            None if resumed => self.send(Message::RevokeControl),
            None => {}
        }
    }

    fn on_viewer_left(&mut self, viewer: ViewerId) {
        self.viewers.remove(&viewer);
        if let Some(event) = self.control.viewer_left(viewer) {
            self.events.push_back(HostEvent::Control(event));
        }
        self.events.push_back(HostEvent::ViewerLeft { viewer });
    }

    fn on_control_request(&mut self, viewer: ViewerId) {
        if self.control.request(viewer).is_none() {
            return; // asked already, or holds control
        }
        match self.policy {
            ControlPolicy::AutoGrant => {
                let _ = self.grant(viewer);
            }
            ControlPolicy::ViewOnly => self.refuse(viewer),
            ControlPolicy::Ask => self
                .events
                .push_back(HostEvent::ControlRequested { viewer }),
        }
    }
}
