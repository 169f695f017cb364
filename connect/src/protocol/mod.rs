//! The quick-connect protocol: what host, relay and viewers say to each other over WebSocket.
//!
//! Every WebSocket message is binary: the 3 bytes `'G'`, `'C'`, [`VERSION`], then one [`Message`]
//! in the [postcard](https://postcard.jamesmunns.com/wire-format) wire format (variants and integers
//! as varints, strings and byte strings with a length). Text messages are never sent. One enum
//! serves every direction, so a screen packet the host sends ([`Message::Stream`]) is forwarded to
//! every viewer as the same bytes, encoded once.
//!
//! A connection starts with a hello, the only message that carries secrets: a host sends
//! [`Message::HostHello`] on `/ws/host`, a viewer [`Message::ViewerHello`] on `/ws/view`. Keys and
//! tokens never appear in a URL.
//!
//! | direction | messages |
//! |---|---|
//! | host -> relay | `HostHello`, `Stream`, `PakeReply`, `Admit`, `Rekey`, `Reject`, `NewCode`, `GrantControl`, `RefuseControl`, `RevokeControl`, `RemoveViewer`, `EndSession` |
//! | relay -> host | `SessionReady`, `CheckpointRequest`, `ViewerJoined`, `Confirm`, `ViewerLeft`, `ControlRequested`, `InputFrom` |
//! | viewer -> relay | `ViewerHello`, `Confirm`, `Ack`, `Resync`, `ControlRequest`, `Input` |
//! | relay -> viewer | `Welcome`, `PakeReply`, `Admit`, `Rekey`, `Stream`, `ViewerCount`, `ControlGranted`, `ControlRefused`, `ControlRevoked`, `HostStatus` |
//!
//! **End to end.** A viewer joins with the [`Lookup`] part of its [`JoinCode`] and a SPAKE2
//! message; the host answers through the relay (`PakeReply`, with its key confirmation), the viewer
//! confirms (`Confirm`, with its name sealed), and the host admits it (`Admit`, the content key
//! sealed for that viewer). Only then does the relay send it the stream, whose payloads are sealed
//! (see [`crate::crypto`]). The relay sees lookups, addresses, sizes and timing, never a pixel,
//! a key press or a name.
//!
//! A peer that sends a message its role may not send is closed with [`close::POLICY`]. Close codes
//! ([`close`]) tell a client whether to reconnect.
//!
//! ```
//! use glimpse_connect::protocol::{JoinCode, Join, Message};
//!
//! let lookup = JoinCode::parse("123 456 7890")?.lookup();
//! let bytes = Message::ViewerHello { join: Join::Resume([7; 16]) }.encode();
//! assert_eq!(&bytes[..3], b"GC\x02");
//! assert_eq!(Message::decode(&bytes)?, Message::ViewerHello { join: Join::Resume([7; 16]) });
//! assert_eq!(lookup.to_string(), "12345");
//! # Ok::<(), glimpse_connect::ConnectError>(())
//! ```

mod code;

use glimpse::session::{InputEvent, StreamKind, ViewerId};
use serde::{Deserialize, Serialize};

use crate::error::ConnectError;

pub use code::{JoinCode, Lookup};

/// The first two bytes of every message.
pub const MAGIC: [u8; 2] = *b"GC";
/// The protocol version this build speaks (third byte of every message).
pub const VERSION: u8 = 2;
/// Longest name (of a host or a viewer) a relay forwards, in bytes; longer ones are cut.
pub const MAX_NAME_BYTES: usize = 64;

/// Close codes of the relay's WebSocket connections (4000-4999 are the application's own). Codes
/// for which [`is_final`] is true end a session for good; after the others a client reconnects.
pub mod close {
    /// The peer ended the connection on purpose (a viewer leaving, a host ending its session).
    pub const NORMAL: u16 = 1000;
    /// The peer is going away (a browser tab closing).
    pub const GOING_AWAY: u16 = 1001;
    /// A message that is not valid here (malformed, wrong role, text).
    pub const POLICY: u16 = 1008;
    /// A message over the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The relay is restarting: reconnect (with backoff).
    pub const RESTART: u16 = 1012;
    /// The host ended the session.
    pub const SESSION_ENDED: u16 = 4000;
    /// The viewer's code was wrong (its key confirmation failed).
    pub const WRONG_CODE: u16 = 4001;
    /// The host did not let this viewer in.
    pub const NOT_ADMITTED: u16 = 4002;
    /// The host removed this viewer.
    pub const REMOVED: u16 = 4003;
    /// No session has this key (or the resume token is unknown or used).
    pub const UNKNOWN_KEY: u16 = 4004;
    /// The peer stopped reading for too long, or sent no hello in time.
    pub const STALLED: u16 = 4008;
    /// A host tried to resume a session another host holds.
    pub const KEY_IN_USE: u16 = 4009;
    /// The key expired unused.
    pub const EXPIRED: u16 = 4010;
    /// A newer connection of the same host took the session over.
    pub const REPLACED: u16 = 4011;
    /// The relay is full (sessions, viewers, or its memory budget).
    pub const FULL: u16 = 4013;
    /// Too many wrong keys from this address: retry later (the reason says when:
    /// [`retry_after_ms`]).
    pub const RATE_LIMITED: u16 = 4029;
    /// The session is letting many viewers in at once and this one's turn is too far off: retry
    /// after the delay the reason gives ([`retry_after_ms`]). Not final: clients retry by
    /// themselves.
    pub const BUSY: u16 = 4030;

    /// A close reason that tells the client when to try again: `"{text}: retry in {ms} ms"`.
    pub fn reason_with_retry(text: &str, retry_after_ms: u64) -> String {
        format!("{text}: retry in {retry_after_ms} ms")
    }

    /// The delay a reason made by [`reason_with_retry`] asks for.
    ///
    /// ```
    /// use glimpse_connect::protocol::close;
    ///
    /// let reason = close::reason_with_retry("too many joins at once", 250);
    /// assert_eq!(close::retry_after_ms(&reason), Some(250));
    /// assert_eq!(close::retry_after_ms("the session ended"), None);
    /// ```
    pub fn retry_after_ms(reason: &str) -> Option<u64> {
        let (_, tail) = reason.rsplit_once(": retry in ")?;
        tail.strip_suffix(" ms")?.parse().ok()
    }

    /// True when a client must not reconnect after this code.
    pub fn is_final(code: u16) -> bool {
        matches!(
            code,
            NORMAL
                | POLICY
                | TOO_BIG
                | SESSION_ENDED
                | WRONG_CODE
                | NOT_ADMITTED
                | REMOVED
                | KEY_IN_USE
                | EXPIRED
                | REPLACED
                | FULL
                | RATE_LIMITED
        )
    }
}

/// The error a close code and its reason stand for.
pub fn close_error(code: u16, reason: &str) -> ConnectError {
    let reason = if reason.is_empty() {
        format!("connection closed ({code})")
    } else {
        reason.to_string()
    };
    match code {
        close::SESSION_ENDED | close::NORMAL => ConnectError::SessionEnded(reason),
        close::REMOVED => ConnectError::Removed,
        close::WRONG_CODE => ConnectError::WrongCode,
        close::NOT_ADMITTED => ConnectError::NotAdmitted,
        close::UNKNOWN_KEY => ConnectError::UnknownSession,
        close::EXPIRED => ConnectError::CodeExpired,
        close::KEY_IN_USE => ConnectError::CodeInUse,
        close::FULL => ConnectError::RelayFull(reason),
        close::RATE_LIMITED => ConnectError::RateLimited {
            retry_after_ms: close::retry_after_ms(&reason).unwrap_or(60_000),
        },
        close::BUSY => ConnectError::SessionBusy {
            retry_after_ms: close::retry_after_ms(&reason).unwrap_or(1_000),
        },
        close::POLICY | close::TOO_BIG => ConnectError::Protocol(reason),
        _ => ConnectError::ConnectionLost(reason),
    }
}

/// How a viewer joins: with the lookup part of its code and its SPAKE2 message, or with the
/// resume token of its last connection (same viewer, no new key exchange).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Join {
    /// A new join.
    Code {
        /// The session.
        lookup: Lookup,
        /// The viewer's SPAKE2 message ([`crate::crypto::PAKE_MESSAGE_LEN`] bytes).
        pake: Vec<u8>,
    },
    /// A token from [`Message::Welcome`], valid once, for a short time.
    Resume([u8; 16]),
}

/// A viewer as the relay announces it to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerEntry {
    /// The viewer's id in this session.
    pub viewer: ViewerId,
    /// Its network address as the relay sees it (`IP:port`, or the forwarded address).
    pub address: String,
}

/// One screen packet in the stream: where it goes (for the relay's fan-out, which cannot read the
/// payload) and the payload, sealed with the session's content key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPacket<'a> {
    /// Checkpoint (join or restart), frame update or cursor packet.
    #[serde(with = "StreamKindDef")]
    pub kind: StreamKind,
    /// The stream position after this packet (a checkpoint's or update's `seq`; the current one
    /// for cursor packets).
    pub seq: u64,
    /// When the host captured the frame, in milliseconds since the Unix epoch (0 when unknown).
    pub captured_at_ms: u64,
    /// The content key's epoch the payload is sealed with.
    pub epoch: u32,
    /// The host's packet counter: strictly increasing, bound into the seal (replays fail).
    pub counter: u64,
    /// The sealed Glimpse packet.
    #[serde(borrow)]
    pub payload: &'a [u8],
}

/// A message between host, relay and viewers (see the [module docs](self) for who sends what).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message<'a> {
    /// Host to relay, first: start a session, or take over `lookup`'s session (after a dropped
    /// connection or a relay restart). `secret` (random, kept by the host for the session's life)
    /// proves it is the same host; the relay keeps only its hash.
    HostHello {
        /// The session to resume; `None` for a new session.
        lookup: Option<Lookup>,
        /// The host's secret.
        secret: [u8; 32],
    },
    /// Viewer to relay, first.
    ViewerHello {
        /// Code or resume token.
        join: Join,
    },
    /// Relay to host: the session is live under `lookup` (a new one after [`Message::NewCode`]).
    SessionReady {
        /// The lookup part of the code.
        lookup: Lookup,
        /// An existing session continues (its viewers stayed).
        resumed: bool,
        /// Viewers connected and admitted now.
        viewers: Vec<ViewerEntry>,
    },
    /// Relay to host: send a checkpoint ([`glimpse::Encoder::checkpoint`]).
    CheckpointRequest,
    /// Relay to host: a viewer wants in: its SPAKE2 message, or `None` when it came back with its
    /// resume token (its keys from before still hold).
    ViewerJoined {
        /// Who and from where.
        entry: ViewerEntry,
        /// Its SPAKE2 message.
        pake: Option<Vec<u8>>,
    },
    /// Relay to host: a viewer left.
    ViewerLeft {
        /// Who.
        viewer: ViewerId,
    },
    /// Relay to host: a viewer asks for remote control.
    ControlRequested {
        /// Who.
        viewer: ViewerId,
    },
    /// Relay to host: input from the viewer holding control, sealed with that viewer's key.
    InputFrom {
        /// Who.
        viewer: ViewerId,
        /// The sealed event.
        sealed: Vec<u8>,
    },
    /// Host to relay to viewers: a screen packet.
    Stream(#[serde(borrow)] StreamPacket<'a>),
    /// Host to relay: give remote control to `viewer`.
    GrantControl {
        /// Who.
        viewer: ViewerId,
    },
    /// Host to relay: refuse `viewer`'s request.
    RefuseControl {
        /// Who.
        viewer: ViewerId,
    },
    /// Host to relay: take remote control back.
    RevokeControl,
    /// Host to relay: disconnect `viewer` (it may not come back with its resume token).
    RemoveViewer {
        /// Who.
        viewer: ViewerId,
    },
    /// Host to relay: the session is over (viewers are closed with [`close::SESSION_ENDED`]).
    EndSession,
    /// Host to relay to one viewer: the host's SPAKE2 message and its key confirmation.
    PakeReply {
        /// Who (the relay forwards it to that viewer only).
        viewer: ViewerId,
        /// The host's SPAKE2 message.
        pake: Vec<u8>,
        /// Proof the host holds the same key.
        confirmation: [u8; 32],
    },
    /// Viewer to relay to host: the viewer's key confirmation and its name, sealed.
    Confirm {
        /// Who (set by the relay; viewers send 0).
        viewer: ViewerId,
        /// Proof the viewer holds the same key.
        confirmation: [u8; 32],
        /// The viewer's name, sealed for the host.
        sealed_name: Vec<u8>,
    },
    /// Host to relay to one viewer: let in, with the content key (and the host's name) sealed for
    /// it. The relay starts its stream.
    Admit {
        /// Who.
        viewer: ViewerId,
        /// The sealed content key.
        sealed_key: Vec<u8>,
    },
    /// Host to relay to one viewer: a new content key (after a viewer was removed).
    Rekey {
        /// Who.
        viewer: ViewerId,
        /// The sealed content key.
        sealed_key: Vec<u8>,
    },
    /// Host to relay: do not let this viewer in (wrong code, or the host said no).
    Reject {
        /// Who.
        viewer: ViewerId,
        /// Its key confirmation failed (counted against the code).
        wrong_code: bool,
    },
    /// Host to relay: the code was burned; give the session a new lookup.
    NewCode,
    /// Relay to viewer, first: its id and a token to resume with.
    Welcome {
        /// The viewer's id in this session.
        viewer: ViewerId,
        /// One-use secret for reconnecting as the same viewer.
        resume_token: [u8; 16],
    },
    /// Relay to viewer: how many viewers watch.
    ViewerCount(u32),
    /// Relay to viewer: the host granted remote control.
    ControlGranted,
    /// Relay to viewer: the host refused remote control.
    ControlRefused,
    /// Relay to viewer: remote control was taken back.
    ControlRevoked,
    /// Relay to viewer: the host's link dropped (`false`: the screen is frozen until it is back) or
    /// came back (`true`).
    HostStatus {
        /// The host is connected.
        connected: bool,
    },
    /// Viewer to relay: every packet up to `seq` was applied.
    Ack {
        /// Sequence number of the last applied update or checkpoint.
        seq: u64,
    },
    /// Viewer to relay: a packet did not open or apply; skip to the next checkpoint.
    Resync,
    /// Viewer to relay (to host): please let me control.
    ControlRequest,
    /// Viewer to relay (to host): an input event, sealed for the host.
    Input(Vec<u8>),
}

impl Message<'_> {
    /// The message's bytes, header included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_size_hint());
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        // Serializing into a Vec cannot fail for these types (no maps, no unknown lengths).
        postcard::to_extend(self, out).expect("session messages always serialize")
    }

    /// Parses one whole message. Anything truncated, trailing, of another version or an unknown
    /// variant is an error; values are range-checked (keys, booleans).
    pub fn decode(bytes: &[u8]) -> Result<Message<'_>, ConnectError> {
        let body = match bytes {
            [b'G', b'C', VERSION, body @ ..] => body,
            [b'G', b'C', version, ..] => {
                return Err(ConnectError::Protocol(format!(
                    "protocol version {version}, this build speaks {VERSION}"
                )))
            }
            _ => return Err(ConnectError::Protocol("not a Glimpse message".into())),
        };
        let (message, rest) = postcard::take_from_bytes::<Message<'_>>(body)?;
        if !rest.is_empty() {
            return Err(ConnectError::Protocol(
                "trailing bytes after a message".into(),
            ));
        }
        Ok(message)
    }

    /// A short name for logs and errors (never the content).
    pub fn name(&self) -> &'static str {
        match self {
            Message::HostHello { .. } => "HostHello",
            Message::ViewerHello { .. } => "ViewerHello",
            Message::SessionReady { .. } => "SessionReady",
            Message::CheckpointRequest => "CheckpointRequest",
            Message::ViewerJoined { .. } => "ViewerJoined",
            Message::ViewerLeft { .. } => "ViewerLeft",
            Message::ControlRequested { .. } => "ControlRequested",
            Message::InputFrom { .. } => "InputFrom",
            Message::Stream(_) => "Stream",
            Message::GrantControl { .. } => "GrantControl",
            Message::RefuseControl { .. } => "RefuseControl",
            Message::RevokeControl => "RevokeControl",
            Message::RemoveViewer { .. } => "RemoveViewer",
            Message::EndSession => "EndSession",
            Message::PakeReply { .. } => "PakeReply",
            Message::Confirm { .. } => "Confirm",
            Message::Admit { .. } => "Admit",
            Message::Rekey { .. } => "Rekey",
            Message::Reject { .. } => "Reject",
            Message::NewCode => "NewCode",
            Message::Welcome { .. } => "Welcome",
            Message::ViewerCount(_) => "ViewerCount",
            Message::ControlGranted => "ControlGranted",
            Message::ControlRefused => "ControlRefused",
            Message::ControlRevoked => "ControlRevoked",
            Message::HostStatus { .. } => "HostStatus",
            Message::Ack { .. } => "Ack",
            Message::Resync => "Resync",
            Message::ControlRequest => "ControlRequest",
            Message::Input(_) => "Input",
        }
    }

    fn encoded_size_hint(&self) -> usize {
        match self {
            Message::Stream(p) => p.payload.len() + 32,
            _ => 64,
        }
    }
}

/// Cuts a name to [`MAX_NAME_BYTES`] (on a character boundary) and drops control characters, so
/// what a peer typed cannot break a terminal or a log line.
pub fn clean_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        out.push(c);
    }
    out.trim().to_string()
}

/// What a viewer seals into [`Message::Input`]: the event and its counter (strictly increasing per
/// viewer: the host refuses replays).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputPayload {
    /// The viewer's input counter.
    pub counter: u64,
    /// The event.
    #[serde(with = "InputEventDef")]
    pub event: InputEvent,
}

/// What the host seals into [`Message::Admit`] and [`Message::Rekey`] for one viewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPayload {
    /// The content key's epoch.
    pub epoch: u32,
    /// The content key.
    pub key: [u8; 32],
    /// The host's name (may be empty).
    pub host_name: String,
}

/// Encodes a payload that goes inside a seal.
pub(crate) fn encode_inner<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("sealed payloads always serialize")
}

/// Decodes a payload that came out of a seal (all of it, nothing after).
pub(crate) fn decode_inner<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ConnectError> {
    let (value, rest) = postcard::take_from_bytes(bytes)?;
    if !rest.is_empty() {
        return Err(ConnectError::Protocol(
            "trailing bytes in a sealed payload".into(),
        ));
    }
    Ok(value)
}

/// The wire form of [`glimpse::session::InputEvent`] (serde's remote derive: the engine has no
/// serde dependency).
#[derive(Serialize, Deserialize)]
#[serde(remote = "InputEvent")]
enum InputEventDef {
    PointerMove { x: i32, y: i32 },
    Button { button: u8, down: bool },
    Wheel { dx: i32, dy: i32 },
    Key { keysym: u32, down: bool },
}

/// The wire form of [`glimpse::session::StreamKind`].
#[derive(Serialize, Deserialize)]
#[serde(remote = "StreamKind")]
enum StreamKindDef {
    Checkpoint { restart: bool },
    Update,
    Cursor,
}
