//! The host's side of a session, sans IO: what to send the relay and what to tell the program,
//! without sockets, threads or clocks. The Rust [`Host`](crate::Host), the C library and the npm
//! package's sharer all drive this one type.
//!
//! Drive it like this: on every new connection to the relay send [`HostSession::hello`]; feed each
//! message from the relay to [`HostSession::receive`]; seal every packet the encoder makes with
//! [`HostSession::stream_message`] and send what it returns; call [`HostSession::tick`] every
//! second or so; after each call send what [`HostSession::poll_outgoing`] returns and act on
//! [`HostSession::poll_event`] (above all [`HostEvent::CheckpointNeeded`]: answer with
//! [`glimpse::Encoder::checkpoint`]).
//!
//! The host holds the code's secret part, runs the key exchange with every joining viewer
//! (through the relay, which only forwards), counts failed confirmations and burns the code after
//! [`MAX_WRONG_CODES`] of them, seals every packet with the content key, rotates that key when a
//! viewer is removed, and opens each viewer's input with that viewer's own key.
//!
//! ```
//! use glimpse_connect::host_session::{HostEvent, HostOptions, HostSession};
//! use glimpse_connect::protocol::{Lookup, Message};
//!
//! let mut session = HostSession::new(HostOptions::default(), [7; 32])?;
//! let hello = session.hello(); // first message on a new connection
//! assert!(matches!(Message::decode(&hello)?, Message::HostHello { lookup: None, .. }));
//! assert_eq!(session.poll_event(), Some(HostEvent::CheckpointNeeded));
//! // The relay answers with the session's lookup; the host draws the secret part.
//! let ready = Message::SessionReady { lookup: Lookup::new(12345)?, resumed: false, viewers: vec![] };
//! session.receive(&ready.encode(), 0)?;
//! let code = session.code().unwrap();
//! assert_eq!(session.poll_event(), Some(HostEvent::Ready { code, resumed: false }));
//! assert!(code.to_string().starts_with("123 45"));
//! # Ok::<(), glimpse_connect::ConnectError>(())
//! ```

mod admission;

use std::collections::VecDeque;

use glimpse::protocol::PacketHeader;
use glimpse::session::{Control, ControlEvent, InputEvent, StreamKind, ViewerId};
use glimpse::{PacketKind, SessionInfo};

use crate::crypto::{self, ContentKey};
use crate::error::ConnectError;
use crate::protocol::{clean_name, JoinCode, Lookup, Message, StreamPacket, ViewerEntry};

use admission::{Admissions, Left};

/// Failed key confirmations after which the code is burned (a new one replaces it).
pub const MAX_WRONG_CODES: u32 = 3;
/// After the person at the host took control back, automatic grants wait this long.
pub const REGRANT_COOLDOWN_MS: u64 = 30_000;
/// Input events one viewer may send per second (bursts of twice that).
pub const MAX_INPUT_PER_SECOND: u32 = 1000;

/// What the host does when a viewer asks for remote control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ControlPolicy {
    /// Ask the program ([`HostEvent::ControlRequested`]), which answers with
    /// [`HostSession::grant`] or [`HostSession::refuse`].
    #[default]
    Ask,
    /// Grant at once (but not within [`REGRANT_COOLDOWN_MS`] of a local take-back).
    AutoGrant,
    /// Refuse every request.
    ViewOnly,
}

/// How a host session behaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostOptions {
    /// Remote control requests.
    pub policy: ControlPolicy,
    /// A name viewers see (sealed: the relay does not).
    pub name: String,
    /// Ask the program before letting each viewer in ([`HostEvent::ApprovalNeeded`]).
    pub approve_viewers: bool,
}

/// A viewer as the host knows it once its key exchange succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerInfo {
    /// Its id in the session.
    pub viewer: ViewerId,
    /// Its network address as the relay reports it.
    pub address: String,
    /// The name it typed (may be empty).
    pub name: String,
}

/// Something the program must know or do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEvent {
    /// The session is live: show `code` to the people who should watch (again, after a
    /// reconnection: `resumed`).
    Ready {
        /// The code viewers type.
        code: JoinCode,
        /// An existing session continued (its viewers stayed).
        resumed: bool,
    },
    /// Someone tried a wrong code (their key exchange did not confirm).
    WrongCode {
        /// Where from, as the relay reports it.
        address: String,
        /// Wrong attempts on the current code so far.
        attempts: u32,
    },
    /// The code was burned after [`MAX_WRONG_CODES`] wrong attempts: show this new one. Viewers
    /// already in stay.
    CodeReplaced {
        /// The new code.
        code: JoinCode,
    },
    /// Send a checkpoint ([`glimpse::Encoder::checkpoint`]) through [`HostSession::stream_message`].
    CheckpointNeeded,
    /// A viewer proved it has the code and waits to be let in ([`HostOptions::approve_viewers`]):
    /// answer with [`HostSession::approve`] or [`HostSession::deny`].
    ApprovalNeeded(ViewerInfo),
    /// A viewer is in: it receives the screen.
    ViewerJoined(ViewerInfo),
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
    /// Input from the viewer holding control, opened with its key and checked (on the screen,
    /// from the holder, within its rate): inject it.
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
    options: HostOptions,
    secret: [u8; 32],
    code: Option<JoinCode>,
    /// The relay is giving the session a new lookup (the code was burned).
    burning: bool,
    wrong_codes: u32,
    /// `SessionReady` arrived on this connection.
    ready: bool,
    /// A checkpoint went out on this connection: the stream may follow.
    synced: bool,
    /// Screen and `seq` of the last checkpoint or update sent on this connection.
    last: Option<(Option<SessionInfo>, u64)>,
    screen: (u32, u32),
    content: ContentKey,
    /// Packets sealed so far (the counter bound into each seal).
    counter: u64,
    control: Control,
    /// No automatic grant before this time (ms).
    cooldown_until: u64,
    admissions: Admissions,
    outgoing: VecDeque<Vec<u8>>,
    events: VecDeque<HostEvent>,
}

impl HostSession {
    /// A session that has no code yet. `secret` must be 32 bytes from a CSPRNG, kept for the
    /// session's life: it lets this host (and only it) take the session back after a drop.
    pub fn new(mut options: HostOptions, secret: [u8; 32]) -> Result<Self, ConnectError> {
        options.name = clean_name(&options.name);
        Ok(HostSession {
            options,
            secret,
            code: None,
            burning: false,
            wrong_codes: 0,
            ready: false,
            synced: false,
            last: None,
            screen: (0, 0),
            content: ContentKey::random(0)?,
            counter: 0,
            control: Control::new(),
            cooldown_until: 0,
            admissions: Admissions::default(),
            outgoing: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// The code viewers type, once the relay gave the session a lookup.
    pub fn code(&self) -> Option<JoinCode> {
        self.code
    }

    /// True once the relay confirmed the session on the current connection.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Viewers that are in.
    pub fn viewers(&self) -> impl Iterator<Item = &ViewerInfo> {
        self.admissions.admitted_info()
    }

    /// The viewer holding remote control.
    pub fn control_holder(&self) -> Option<ViewerId> {
        self.control.holder()
    }

    /// The first message on a new connection (the first one, or after a drop: then it asks to
    /// resume the same lookup). Nothing of the stream goes out until the next checkpoint, which
    /// [`HostEvent::CheckpointNeeded`] asks for.
    pub fn hello(&mut self) -> Vec<u8> {
        self.ready = false;
        self.synced = false;
        self.last = None;
        self.outgoing.clear();
        self.events.push_back(HostEvent::CheckpointNeeded);
        Message::HostHello {
            lookup: self.code.map(|c| c.lookup()),
            secret: self.secret,
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

    /// A message from the relay at `now_ms`. A malformed one, or one a relay may not send, is an
    /// error: close the connection (and reconnect).
    pub fn receive(&mut self, bytes: &[u8], now_ms: u64) -> Result<(), ConnectError> {
        match Message::decode(bytes)? {
            Message::SessionReady {
                lookup,
                resumed,
                viewers,
            } => self.on_ready(lookup, resumed, viewers)?,
            Message::CheckpointRequest => self.events.push_back(HostEvent::CheckpointNeeded),
            Message::ViewerJoined { entry, pake } => self.on_join(entry, pake, now_ms)?,
            Message::Confirm {
                viewer,
                confirmation,
                sealed_name,
            } => self.on_confirm(viewer, &confirmation, &sealed_name)?,
            Message::ViewerLeft { viewer } => self.on_viewer_left(viewer, now_ms),
            Message::ControlRequested { viewer } => self.on_control_request(viewer, now_ms),
            Message::InputFrom { viewer, sealed } => self.on_input(viewer, &sealed, now_ms),
            other => {
                return Err(ConnectError::Protocol(format!(
                    "a relay may not send {} to a host",
                    other.name()
                )))
            }
        }
        Ok(())
    }

    /// Time passes: viewers that started a key exchange and never confirmed count as wrong
    /// codes after 10 s; old resume records are dropped. Call every second or so.
    pub fn tick(&mut self, now_ms: u64) {
        for (viewer, address) in self.admissions.expire(now_ms) {
            self.wrong_code(viewer, address);
        }
    }

    /// Seals a packet from the encoder for the relay; `None` when it must not go out (before the
    /// first checkpoint on this connection, or after a gap: then a checkpoint is asked for).
    /// `captured_at_ms` is when the frame was captured (ms since the Unix epoch, 0 if unknown).
    pub fn stream_message(
        &mut self,
        packet: &[u8],
        captured_at_ms: u64,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        let header = PacketHeader::read(packet)?;
        let Some((kind, seq)) = self.place(&header) else {
            return Ok(None);
        };
        self.counter += 1;
        let aad = crypto::stream_aad(
            self.content.epoch,
            self.counter,
            crypto::kind_tag(kind),
            seq,
        );
        let sealed = crypto::seal(&self.content.key, &aad, packet)?;
        Ok(Some(
            Message::Stream(StreamPacket {
                kind,
                seq,
                captured_at_ms,
                epoch: self.content.epoch,
                counter: self.counter,
                payload: &sealed,
            })
            .encode(),
        ))
    }

    /// Where a packet goes in the stream, or `None` when it must not go out.
    fn place(&mut self, header: &PacketHeader) -> Option<(StreamKind, u64)> {
        match header.kind {
            PacketKind::Checkpoint => {
                let seq = header.seq.unwrap_or(0);
                let join = self.synced && self.last == Some((header.session, seq));
                if let Some(s) = header.session {
                    self.screen = (s.width, s.height);
                }
                self.synced = true;
                self.last = Some((header.session, seq));
                Some((StreamKind::Checkpoint { restart: !join }, seq))
            }
            PacketKind::FrameUpdate => {
                let seq = header.seq.unwrap_or(0);
                match self.last {
                    Some((screen, last)) if self.synced && seq == last.wrapping_add(1) => {
                        self.last = Some((screen, seq));
                        Some((StreamKind::Update, seq))
                    }
                    Some(_) if self.synced => {
                        // A packet was lost on the way to us: restart from a checkpoint.
                        self.synced = false;
                        self.events.push_back(HostEvent::CheckpointNeeded);
                        None
                    }
                    _ => None,
                }
            }
            PacketKind::CursorShape | PacketKind::CursorPosition => match self.last {
                Some((_, seq)) if self.synced => Some((StreamKind::Cursor, seq)),
                _ => None,
            },
        }
    }

    /// Gives remote control to `viewer` (another holder loses it).
    pub fn grant(&mut self, viewer: ViewerId) -> Result<(), ConnectError> {
        if !self.admissions.is_admitted(viewer) {
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

    /// The person at the host touched mouse or keyboard at `now_ms`: control goes back to them at
    /// once, and automatic grants wait [`REGRANT_COOLDOWN_MS`].
    pub fn local_input(&mut self, now_ms: u64) {
        if let Some(event) = self.control.local_input(now_ms) {
            self.cooldown_until = now_ms.saturating_add(REGRANT_COOLDOWN_MS);
            self.events.push_back(HostEvent::Control(event));
            self.send(Message::RevokeControl);
        }
    }

    /// Disconnects `viewer` (it cannot come back with its resume token) and rotates the content
    /// key, so that it cannot read what follows even from a copy of the stream. A removed viewer
    /// that was in gives one [`HostEvent::ViewerLeft`].
    pub fn remove(&mut self, viewer: ViewerId) -> Result<(), ConnectError> {
        self.send(Message::RemoveViewer { viewer });
        let was_in = self.admissions.forget(viewer);
        if let Some(event) = self.control.viewer_left(viewer) {
            self.events.push_back(HostEvent::Control(event));
        }
        if was_in {
            // The relay's ViewerLeft that follows finds it forgotten: the event is told here, once.
            self.events.push_back(HostEvent::ViewerLeft { viewer });
            self.rotate()?;
        }
        Ok(())
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
        // Messages only mean something on a live connection; a reconnection re-syncs the relay
        // (see `on_ready`).
        if self.ready {
            self.outgoing.push_back(message.encode());
        }
    }

    fn on_ready(
        &mut self,
        lookup: Lookup,
        resumed: bool,
        viewers: Vec<ViewerEntry>,
    ) -> Result<(), ConnectError> {
        let replaced = self.burning || self.code.is_some_and(|c| c.lookup() != lookup);
        if self.code.is_none() || replaced {
            self.code = Some(JoinCode::with_random_secret(lookup, crypto::random_u64()?));
            self.wrong_codes = 0;
        }
        self.ready = true;
        let code = self.code.expect("set above");
        if std::mem::take(&mut self.burning) {
            self.events.push_back(HostEvent::CodeReplaced { code });
            return Ok(());
        }
        // Viewers the relay no longer has (all of them after a relay restart) are gone.
        let still: Vec<ViewerId> = viewers.iter().map(|v| v.viewer).collect();
        for viewer in self.admissions.admitted_ids() {
            if !resumed || !still.contains(&viewer) {
                self.on_viewer_left(viewer, 0);
            }
        }
        self.events.push_back(HostEvent::Ready { code, resumed });
        // The relay's copy of who holds control follows the host's.
        match self.control.holder() {
            Some(viewer) => self.send(Message::GrantControl { viewer }),
            None if resumed => self.send(Message::RevokeControl),
            None => {}
        }
        Ok(())
    }

    fn on_viewer_left(&mut self, viewer: ViewerId, now_ms: u64) {
        let left = self.admissions.left(viewer, now_ms);
        if let Some(event) = self.control.viewer_left(viewer) {
            self.events.push_back(HostEvent::Control(event));
        }
        match left {
            Left::Admitted => self.events.push_back(HostEvent::ViewerLeft { viewer }),
            Left::Abandoned(address) => self.count_wrong_code(address),
            Left::Nothing => {}
        }
    }

    fn on_control_request(&mut self, viewer: ViewerId, now_ms: u64) {
        if !self.admissions.is_admitted(viewer) || self.control.request(viewer).is_none() {
            return; // not in, asked already, or holds control
        }
        match self.options.policy {
            ControlPolicy::AutoGrant if now_ms >= self.cooldown_until => {
                let _ = self.grant(viewer);
            }
            ControlPolicy::AutoGrant | ControlPolicy::ViewOnly => self.refuse(viewer),
            ControlPolicy::Ask => self
                .events
                .push_back(HostEvent::ControlRequested { viewer }),
        }
    }

    fn on_input(&mut self, viewer: ViewerId, sealed: &[u8], now_ms: u64) {
        // Input that does not open (forged by the relay or another viewer), replays, input over
        // the rate, and input from viewers without control are dropped here.
        let Some(event) = self.admissions.open_input(viewer, sealed, now_ms) else {
            return;
        };
        if let Ok(event) = self.control.accept_input(viewer, &event, self.screen) {
            self.events.push_back(HostEvent::Input { viewer, event });
        }
    }
}
