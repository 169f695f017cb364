//! What relay nodes say to each other over core NATS, the records they keep in JetStream
//! key-value buckets, and the subjects and headers they use.
//!
//! Node to node messages are one [`Envelope`] in postcard, like the client protocol. Protocol
//! messages that only pass through (a viewer's key confirmation on its way to the host, the host's
//! admission on its way to a viewer) travel as their exact bytes, never re-encoded.

use glimpse::session::ViewerId;
use serde::{Deserialize, Serialize};

use crate::error::ConnectError;
use crate::protocol::{Lookup, ViewerEntry};

/// A relay node's number in its cluster: unique among live nodes (claimed in the nodes bucket),
/// below 2^20, so that `node << 32 | n` viewer ids stay below 2^53 (exact in JavaScript).
pub type NodeId = u32;

/// A session's id in the cluster (random, for subjects; a burned code gives the session a new
/// lookup but keeps its id).
pub type Sid = u64;

/// Node numbers are drawn from `1..NODE_IDS`.
pub const NODE_IDS: u32 = 1 << 20;

/// The first viewer id a node hands out in a session: ids of different nodes never meet.
pub fn first_viewer_id(node: NodeId) -> ViewerId {
    (u64::from(node) << 32) | 1
}

/// One message between nodes: who sends it, about which session, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The sending node.
    pub from: NodeId,
    /// The session (0 for node-wide messages).
    pub sid: Sid,
    /// What it says.
    pub body: Body,
}

/// What one node tells another (or all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// Mirror to origin: a protocol message for the host (`ViewerJoined`, `Confirm`,
    /// `ControlRequested`, `InputFrom`, `CheckpointRequest`), as the bytes the host gets.
    ToHost(Vec<u8>),
    /// Mirror to origin: a viewer of the mirror left; `abandoned` when it left in the middle of
    /// its key exchange (counted against the code).
    Left {
        /// Who.
        viewer: ViewerId,
        /// It never finished its key exchange.
        abandoned: bool,
    },
    /// Mirror to origin: send me the session's state again (`HostStatus`, `Count`); after the
    /// origin's heartbeats came back.
    Sync,
    /// Origin to mirror: a host message for one viewer of the mirror (`PakeReply`, `Admit`,
    /// `Rekey`, `Reject`, `RemoveViewer`) or a control answer (`ControlGranted`,
    /// `ControlRefused`, `ControlRevoked`), as the bytes the viewer gets.
    ToViewer {
        /// Who.
        viewer: ViewerId,
        /// The protocol message.
        message: Vec<u8>,
    },
    /// Origin to mirror: close this viewer.
    Kick {
        /// Who.
        viewer: ViewerId,
        /// Close code.
        code: u16,
        /// Reason.
        reason: String,
    },
    /// Origin to mirror: close every viewer of the session the mirror holds (the origin lost
    /// track of them: they rejoin).
    KickAll {
        /// Close code.
        code: u16,
        /// Reason.
        reason: String,
    },
    /// Origin to mirror: the host's link dropped or came back.
    HostStatus {
        /// The host is connected.
        connected: bool,
    },
    /// Origin to mirror: viewers admitted in the whole session.
    Count(u32),
    /// Origin to mirror: the session ended (close everybody with this).
    Ended {
        /// Close code.
        code: u16,
        /// Reason.
        reason: String,
    },
    /// Origin to mirror: the session's code was burned; this is its new lookup.
    NewLookup(Lookup),
    /// To all: this node took the session's host (it is the origin now). Every node answers with
    /// a [`Body::Roster`] of the session's viewers it holds (empty when it holds none).
    Takeover {
        /// The session's lookup.
        lookup: Lookup,
    },
    /// Answer to [`Body::Takeover`]: the admitted viewers this node holds.
    Roster(Vec<ViewerEntry>),
    /// To all: this node is alive (node-wide, `sid` 0).
    Heartbeat,
    /// To all: this node is stopping (node-wide, `sid` 0).
    Leaving,
    /// Origin to mirror: JetStream stored the session's stream up to this stream sequence (the
    /// last message it acknowledged). A mirror whose consumer stays behind it restarts that
    /// consumer. Last, so that the variants before it keep their numbers on the wire.
    Stored(u64),
}

impl Envelope {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing into a Vec cannot fail for these types.
        postcard::to_allocvec(self).expect("envelopes always serialize")
    }

    /// Parses one whole envelope.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, ConnectError> {
        let (envelope, rest) = postcard::take_from_bytes::<Envelope>(bytes)?;
        if !rest.is_empty() {
            return Err(ConnectError::Protocol(
                "trailing bytes after an envelope".into(),
            ));
        }
        Ok(envelope)
    }
}

/// A session in the directory bucket, under its lookup (JSON, so operators can read it with
/// `nats kv get`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session's id (hex).
    pub sid: String,
    /// The node holding the host connection.
    pub origin: NodeId,
    /// SHA-256 of the host's secret (hex): a host proves it is the same host with the secret.
    pub secret_sha256: String,
    /// When the session started (ms since the Unix epoch).
    pub created_ms: u64,
}

impl SessionRecord {
    /// The session id as a number.
    pub fn sid(&self) -> Option<Sid> {
        u64::from_str_radix(&self.sid, 16).ok()
    }

    /// The secret hash as bytes.
    pub fn secret_hash(&self) -> Option<[u8; 32]> {
        let text = self.secret_sha256.as_bytes();
        if text.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in text.chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).ok()?;
            out[i] = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(out)
    }
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A live node in the nodes bucket (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The URL viewers open on this node.
    pub public_url: String,
    /// When it started (ms since the Unix epoch).
    pub started_ms: u64,
}

/// Subjects and bucket names under one prefix (several clusters may share a NATS system).
#[derive(Debug, Clone)]
pub struct Names {
    prefix: String,
}

impl Names {
    /// Names under `prefix` (letters, digits, `-` and `_`).
    pub fn new(prefix: &str) -> Result<Names, ConnectError> {
        let ok = !prefix.is_empty()
            && prefix.len() <= 32
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(ConnectError::InvalidRequest(format!(
                "cluster prefix {prefix:?}: use 1-32 letters, digits, '-' or '_'"
            )));
        }
        Ok(Names {
            prefix: prefix.to_string(),
        })
    }

    /// One node's inbox (direct messages to it).
    pub fn node(&self, node: NodeId) -> String {
        format!("{}.node.{node}", self.prefix)
    }

    /// Every node listens here.
    pub fn all(&self) -> String {
        format!("{}.all", self.prefix)
    }

    /// A session's stream subject (in the stream [`Names::stream`]).
    pub fn stream_subject(&self, sid: Sid) -> String {
        format!("{}.st.{sid:016x}", self.prefix)
    }

    /// The JetStream stream holding every session's latest checkpoint and catch-up log.
    pub fn stream(&self) -> String {
        format!("{}_screens", self.prefix)
    }

    /// The stream's subjects.
    pub fn stream_subjects(&self) -> String {
        format!("{}.st.*", self.prefix)
    }

    /// The session directory bucket (key: the lookup).
    pub fn sessions_bucket(&self) -> String {
        format!("{}_sessions", self.prefix)
    }

    /// The live nodes bucket (key: `n` and the node number).
    pub fn nodes_bucket(&self) -> String {
        format!("{}_nodes", self.prefix)
    }
}

/// The key of a lookup in the sessions bucket.
pub fn lookup_key(lookup: Lookup) -> String {
    format!("l{:05}", lookup.value())
}

/// The key of a node in the nodes bucket.
pub fn node_key(node: NodeId) -> String {
    format!("n{node}")
}

/// Header: `index/count` of a chunk of a message larger than the server's payload limit.
pub const CHUNK_HEADER: &str = "Glimpse-Chunk";
/// Header: the publisher's number for a chunked message (chunks of one message share it).
pub const MESSAGE_HEADER: &str = "Glimpse-Msg";
/// Header on the first chunk of a checkpoint: the subject keeps only what follows.
pub const ROLLUP_HEADER: &str = "Nats-Rollup";

/// Reads a chunk header (`index/count`).
pub fn parse_chunk(value: &str) -> Option<(u32, u32)> {
    let (index, count) = value.split_once('/')?;
    let (index, count) = (index.parse().ok()?, count.parse().ok()?);
    (index < count && count > 0).then_some((index, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        let e = Envelope {
            from: 7,
            sid: 0xdead_beef,
            body: Body::ToViewer {
                viewer: first_viewer_id(7),
                message: vec![1, 2, 3],
            },
        };
        assert_eq!(Envelope::decode(&e.encode()).unwrap(), e);
        let mut bytes = e.encode();
        bytes.push(0);
        assert!(Envelope::decode(&bytes).is_err());
    }

    #[test]
    fn variants_keep_their_numbers_on_the_wire() {
        // Nodes of different versions meet in a cluster being upgraded: a new variant goes last.
        let bytes = |body| {
            Envelope {
                from: 1,
                sid: 2,
                body,
            }
            .encode()
        };
        assert_eq!(bytes(Body::Sync), [1, 2, 2]);
        assert_eq!(bytes(Body::Heartbeat), [1, 2, 12]);
        assert_eq!(bytes(Body::Leaving), [1, 2, 13]);
        assert_eq!(bytes(Body::Stored(5)), [1, 2, 14, 5]);
    }

    #[test]
    fn viewer_ids_of_nodes_are_apart_and_exact_in_javascript() {
        let last = first_viewer_id(NODE_IDS - 1) + u64::from(u32::MAX - 1);
        assert!(last < 1 << 53);
        assert!(first_viewer_id(1) + u64::from(u32::MAX) <= first_viewer_id(2));
    }

    #[test]
    fn records_and_chunks() {
        let hash = [0xab; 32];
        let record = SessionRecord {
            sid: format!("{:x}", 42u64),
            origin: 3,
            secret_sha256: hex(&hash),
            created_ms: 1,
        };
        assert_eq!(record.sid(), Some(42));
        assert_eq!(record.secret_hash(), Some(hash));
        assert_eq!(parse_chunk("2/3"), Some((2, 3)));
        assert_eq!(parse_chunk("3/3"), None);
        assert_eq!(parse_chunk("x"), None);
        assert!(Names::new("a.b").is_err());
        assert_eq!(lookup_key(Lookup::new(42).unwrap()), "l00042");
    }
}
