//! Session messages: the small binary messages that travel next to screen packets on the same
//! connections (welcome, acks, viewer counts, remote control, input).
//!
//! Each starts with the packet header (`'G'`, [`PROTOCOL_VERSION`], kind) with kinds from 16 on, so a
//! connection can carry both and [`is_session_message`] tells them apart. Integers are LEB128 varints,
//! signed ones zig-zag, booleans one byte (0 or 1), as in [`crate::protocol`].

use crate::error::{Error, Result};
use crate::protocol::wire::{put_signed, put_varint, Reader};
use crate::protocol::PROTOCOL_VERSION;

use super::control::InputEvent;
use super::fanout::ViewerId;
use super::keys::SessionKey;

const MAGIC: u8 = b'G';
/// The first kind number used by session messages; screen packets use the kinds below it.
pub const FIRST_SESSION_KIND: u8 = 16;

const WELCOME: u8 = 16;
const VIEWER_COUNT: u8 = 17;
const CONTROL_GRANTED: u8 = 18;
const CONTROL_REFUSED: u8 = 19;
const CONTROL_REVOKED: u8 = 20;
const ACK: u8 = 21;
const CONTROL_REQUEST: u8 = 22;
const INPUT: u8 = 23;
const CHECKPOINT_REQUEST: u8 = 24;
const VIEWER_JOINED: u8 = 25;
const VIEWER_LEFT: u8 = 26;
const CONTROL_REQUESTED: u8 = 27;
const INPUT_FROM: u8 = 28;
const GRANT_CONTROL: u8 = 29;
const REFUSE_CONTROL: u8 = 30;
const REVOKE_CONTROL: u8 = 31;
const REMOVE_VIEWER: u8 = 32;
const SESSION_CREATED: u8 = 33;

const INPUT_POINTER_MOVE: u8 = 0;
const INPUT_BUTTON: u8 = 1;
const INPUT_WHEEL: u8 = 2;
const INPUT_KEY: u8 = 3;

/// A message between relay, host and viewers (see the module docs for the wire format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMessage {
    /// Relay to viewer, first: its id and the token that lets it [resume](super::KeyRegistry::resume).
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
    /// Viewer to relay: every packet up to frame update or checkpoint `seq` was applied.
    Ack {
        /// Sequence number of the last applied update or checkpoint.
        seq: u64,
    },
    /// Viewer to relay (to host): please let me control.
    ControlRequest,
    /// Viewer to relay (to host): an input event.
    Input(InputEvent),
    /// Relay to host: send a checkpoint ([`crate::Encoder::checkpoint`]).
    CheckpointRequest,
    /// Relay to host: a viewer joined.
    ViewerJoined {
        /// Who.
        viewer: ViewerId,
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
    /// Relay to host: input from a viewer (the relay only forwards the control holder's input).
    InputFrom {
        /// Who.
        viewer: ViewerId,
        /// What.
        event: InputEvent,
    },
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
    /// Host to relay: disconnect `viewer`.
    RemoveViewer {
        /// Who.
        viewer: ViewerId,
    },
    /// Relay to host, once at start: the key viewers type to join.
    SessionCreated {
        /// The session key.
        key: SessionKey,
    },
}

/// True if `bytes` starts with a session message header (kind 16 or above) rather than a screen packet.
pub fn is_session_message(bytes: &[u8]) -> bool {
    matches!(bytes, [MAGIC, PROTOCOL_VERSION, kind, ..] if *kind >= FIRST_SESSION_KIND)
}

impl SessionMessage {
    /// The message's bytes, header included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![MAGIC, PROTOCOL_VERSION, self.kind()];
        match *self {
            SessionMessage::Welcome {
                viewer,
                resume_token,
            } => {
                put_varint(&mut out, viewer);
                out.extend_from_slice(&resume_token);
            }
            SessionMessage::ViewerCount(n) => put_varint(&mut out, u64::from(n)),
            SessionMessage::Ack { seq } => put_varint(&mut out, seq),
            SessionMessage::Input(event) => put_input(&mut out, &event),
            SessionMessage::ViewerJoined { viewer }
            | SessionMessage::ViewerLeft { viewer }
            | SessionMessage::ControlRequested { viewer }
            | SessionMessage::GrantControl { viewer }
            | SessionMessage::RefuseControl { viewer }
            | SessionMessage::RemoveViewer { viewer } => put_varint(&mut out, viewer),
            SessionMessage::InputFrom { viewer, event } => {
                put_varint(&mut out, viewer);
                put_input(&mut out, &event);
            }
            SessionMessage::SessionCreated { key } => put_varint(&mut out, u64::from(key.value())),
            SessionMessage::ControlGranted
            | SessionMessage::ControlRefused
            | SessionMessage::ControlRevoked
            | SessionMessage::ControlRequest
            | SessionMessage::CheckpointRequest
            | SessionMessage::RevokeControl => {}
        }
        out
    }

    /// Parses one whole message. Anything truncated, trailing, of an unknown kind, or with a value out
    /// of range is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        if r.u8("message magic")? != MAGIC {
            return Err(Error::Malformed("not a Glimpse message (bad magic)"));
        }
        let version = r.u8("protocol version")?;
        if version != PROTOCOL_VERSION {
            return Err(Error::UnsupportedVersion {
                found: version,
                supported: PROTOCOL_VERSION,
            });
        }
        let viewer = |r: &mut Reader<'_>| r.varint("viewer id");
        let msg = match r.u8("message kind")? {
            WELCOME => {
                let viewer = viewer(&mut r)?;
                let mut resume_token = [0u8; 16];
                resume_token.copy_from_slice(r.bytes(16, "resume token")?);
                SessionMessage::Welcome {
                    viewer,
                    resume_token,
                }
            }
            VIEWER_COUNT => SessionMessage::ViewerCount(r.varint_u32("viewer count", u32::MAX)?),
            CONTROL_GRANTED => SessionMessage::ControlGranted,
            CONTROL_REFUSED => SessionMessage::ControlRefused,
            CONTROL_REVOKED => SessionMessage::ControlRevoked,
            ACK => SessionMessage::Ack {
                seq: r.varint("ack seq")?,
            },
            CONTROL_REQUEST => SessionMessage::ControlRequest,
            INPUT => SessionMessage::Input(read_input(&mut r)?),
            CHECKPOINT_REQUEST => SessionMessage::CheckpointRequest,
            VIEWER_JOINED => SessionMessage::ViewerJoined {
                viewer: viewer(&mut r)?,
            },
            VIEWER_LEFT => SessionMessage::ViewerLeft {
                viewer: viewer(&mut r)?,
            },
            CONTROL_REQUESTED => SessionMessage::ControlRequested {
                viewer: viewer(&mut r)?,
            },
            INPUT_FROM => SessionMessage::InputFrom {
                viewer: viewer(&mut r)?,
                event: read_input(&mut r)?,
            },
            GRANT_CONTROL => SessionMessage::GrantControl {
                viewer: viewer(&mut r)?,
            },
            REFUSE_CONTROL => SessionMessage::RefuseControl {
                viewer: viewer(&mut r)?,
            },
            REVOKE_CONTROL => SessionMessage::RevokeControl,
            REMOVE_VIEWER => SessionMessage::RemoveViewer {
                viewer: viewer(&mut r)?,
            },
            SESSION_CREATED => {
                let value = r.varint_u32("session key", SessionKey::MAX)?;
                SessionMessage::SessionCreated {
                    key: SessionKey::from_value(value)?,
                }
            }
            kind if kind < FIRST_SESSION_KIND => {
                return Err(Error::Malformed("a screen packet, not a session message"))
            }
            _ => return Err(Error::Malformed("unknown session message kind")),
        };
        r.finish()?;
        Ok(msg)
    }

    fn kind(&self) -> u8 {
        match self {
            SessionMessage::Welcome { .. } => WELCOME,
            SessionMessage::ViewerCount(_) => VIEWER_COUNT,
            SessionMessage::ControlGranted => CONTROL_GRANTED,
            SessionMessage::ControlRefused => CONTROL_REFUSED,
            SessionMessage::ControlRevoked => CONTROL_REVOKED,
            SessionMessage::Ack { .. } => ACK,
            SessionMessage::ControlRequest => CONTROL_REQUEST,
            SessionMessage::Input(_) => INPUT,
            SessionMessage::CheckpointRequest => CHECKPOINT_REQUEST,
            SessionMessage::ViewerJoined { .. } => VIEWER_JOINED,
            SessionMessage::ViewerLeft { .. } => VIEWER_LEFT,
            SessionMessage::ControlRequested { .. } => CONTROL_REQUESTED,
            SessionMessage::InputFrom { .. } => INPUT_FROM,
            SessionMessage::GrantControl { .. } => GRANT_CONTROL,
            SessionMessage::RefuseControl { .. } => REFUSE_CONTROL,
            SessionMessage::RevokeControl => REVOKE_CONTROL,
            SessionMessage::RemoveViewer { .. } => REMOVE_VIEWER,
            SessionMessage::SessionCreated { .. } => SESSION_CREATED,
        }
    }
}

fn put_input(out: &mut Vec<u8>, event: &InputEvent) {
    match *event {
        InputEvent::PointerMove { x, y } => {
            out.push(INPUT_POINTER_MOVE);
            put_signed(out, i64::from(x));
            put_signed(out, i64::from(y));
        }
        InputEvent::Button { button, down } => {
            out.push(INPUT_BUTTON);
            out.push(button);
            out.push(u8::from(down));
        }
        InputEvent::Wheel { dx, dy } => {
            out.push(INPUT_WHEEL);
            put_signed(out, i64::from(dx));
            put_signed(out, i64::from(dy));
        }
        InputEvent::Key { keysym, down } => {
            out.push(INPUT_KEY);
            put_varint(out, u64::from(keysym));
            out.push(u8::from(down));
        }
    }
}

fn read_i32(r: &mut Reader<'_>, what: &'static str) -> Result<i32> {
    i32::try_from(r.signed(what)?).map_err(|_| Error::Malformed("input coordinate out of range"))
}

fn read_bool(r: &mut Reader<'_>, what: &'static str) -> Result<bool> {
    match r.u8(what)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(Error::Malformed("boolean is not 0 or 1")),
    }
}

fn read_input(r: &mut Reader<'_>) -> Result<InputEvent> {
    Ok(match r.u8("input kind")? {
        INPUT_POINTER_MOVE => InputEvent::PointerMove {
            x: read_i32(r, "pointer x")?,
            y: read_i32(r, "pointer y")?,
        },
        INPUT_BUTTON => InputEvent::Button {
            button: r.u8("button")?,
            down: read_bool(r, "button state")?,
        },
        INPUT_WHEEL => InputEvent::Wheel {
            dx: read_i32(r, "wheel dx")?,
            dy: read_i32(r, "wheel dy")?,
        },
        INPUT_KEY => InputEvent::Key {
            keysym: r.varint_u32("keysym", u32::MAX)?,
            down: read_bool(r, "key state")?,
        },
        _ => return Err(Error::Malformed("unknown input event kind")),
    })
}
