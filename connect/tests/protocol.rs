//! The session protocol and the sans-IO host and viewer sessions, wired together in memory with a
//! router that plays the relay (and, where asked, a hostile one): every message round-trips and
//! every truncation is refused; viewers get in only with the right code, and three wrong codes
//! burn it; the stream opens only unchanged, once, in order; removing a viewer rotates the key;
//! input is the holder's own and cannot be forged or replayed; viewers know when to reconnect.

use std::collections::BTreeMap;

use glimpse::session::{ControlEvent, InputEvent, StreamKind};
use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PixelFormat};
use glimpse_connect::host_session::{HostEvent, HostOptions, HostSession, ViewerInfo};
use glimpse_connect::protocol::{
    close, Join, JoinCode, Lookup, Message, StreamPacket, ViewerEntry,
};
use glimpse_connect::viewer_session::{ControlState, Reconnect, ViewerEvent, ViewerSession};
use glimpse_connect::{ConnectError, ControlPolicy};

fn all_messages(payload: &[u8]) -> Vec<Message<'_>> {
    let lookup = Lookup::new(99_999).unwrap();
    let entry = ViewerEntry {
        viewer: u64::MAX,
        address: "[::1]:9".into(),
    };
    let mut all = vec![
        Message::HostHello {
            lookup: None,
            secret: [1; 32],
        },
        Message::HostHello {
            lookup: Some(lookup),
            secret: [0xff; 32],
        },
        Message::ViewerHello {
            join: Join::Code {
                lookup,
                pake: vec![7; 33],
            },
        },
        Message::ViewerHello {
            join: Join::Resume([7; 16]),
        },
        Message::SessionReady {
            lookup,
            resumed: true,
            viewers: vec![entry.clone()],
        },
        Message::CheckpointRequest,
        Message::ViewerJoined {
            entry: entry.clone(),
            pake: Some(vec![1; 33]),
        },
        Message::ViewerJoined { entry, pake: None },
        Message::ViewerLeft { viewer: 300 },
        Message::ControlRequested { viewer: 1 << 40 },
        Message::InputFrom {
            viewer: 12,
            sealed: vec![9; 60],
        },
        Message::GrantControl { viewer: 7 },
        Message::RefuseControl { viewer: 8 },
        Message::RevokeControl,
        Message::RemoveViewer { viewer: 9 },
        Message::EndSession,
        Message::PakeReply {
            viewer: 3,
            pake: vec![2; 33],
            confirmation: [3; 32],
        },
        Message::Confirm {
            viewer: 0,
            confirmation: [4; 32],
            sealed_name: vec![5; 45],
        },
        Message::Admit {
            viewer: 3,
            sealed_key: vec![6; 90],
        },
        Message::Rekey {
            viewer: 3,
            sealed_key: vec![6; 90],
        },
        Message::Reject {
            viewer: 3,
            wrong_code: true,
        },
        Message::NewCode,
        Message::Welcome {
            viewer: 1,
            resume_token: [0xab; 16],
        },
        Message::ViewerCount(u32::MAX),
        Message::ControlGranted,
        Message::ControlRefused,
        Message::ControlRevoked,
        Message::HostStatus { connected: false },
        Message::Ack { seq: u64::MAX },
        Message::Resync,
        Message::ControlRequest,
        Message::Input(vec![8; 60]),
    ];
    for kind in [
        StreamKind::Checkpoint { restart: true },
        StreamKind::Checkpoint { restart: false },
        StreamKind::Update,
        StreamKind::Cursor,
    ] {
        all.push(Message::Stream(StreamPacket {
            kind,
            seq: 42,
            captured_at_ms: 1_790_000_000_000,
            epoch: 7,
            counter: 99,
            payload,
        }));
    }
    all
}

#[test]
fn every_message_round_trips_and_every_truncation_is_refused() {
    let payload = [1u8, 2, 3, 4, 5];
    let all = all_messages(&payload);
    let names: std::collections::BTreeSet<&str> = all.iter().map(|m| m.name()).collect();
    assert_eq!(names.len(), 30, "every variant covered: {names:?}");
    for m in &all {
        let bytes = m.encode();
        assert_eq!(&bytes[..3], b"GC\x02");
        assert_eq!(Message::decode(&bytes).as_ref(), Ok(m));
        for cut in 0..bytes.len() {
            assert!(
                Message::decode(&bytes[..cut]).is_err(),
                "{m:?} cut at {cut}"
            );
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(
            Message::decode(&trailing).is_err(),
            "{m:?} with a trailing byte"
        );
    }
}

#[test]
fn lies_and_foreign_bytes_are_refused() {
    let mut other_version = Message::Ack { seq: 5 }.encode();
    other_version[2] = 1;
    let bad: Vec<Vec<u8>> = vec![
        b"XC\x02\x00".to_vec(),
        other_version,
        b"GC\x02\x7f".to_vec(),                     // unknown variant
        b"GC\x02\x19\x02".to_vec(),                 // HostStatus with a boolean 2
        b"GC\x02\x02\xa0\x8d\x06\x00\x00".to_vec(), // SessionReady, lookup 100000
        b"GC\x02\x1a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02".to_vec(), // Ack seq > 64 bits
        b"G\x01\x02\x00".to_vec(),                  // a screen packet
        Vec::new(),
    ];
    for bytes in &bad {
        let e = Message::decode(bytes).unwrap_err();
        assert_eq!(e.code(), 43, "{bytes:?}: {e}");
    }
}

/// A screen that changes a little each frame, and the host's real encoder.
struct Screen {
    encoder: Encoder,
    pixels: Vec<u8>,
    step: usize,
}

impl Screen {
    fn new() -> Self {
        let mut config = EncoderConfig::default();
        config.video.enabled = false;
        Screen {
            encoder: Encoder::new(config),
            pixels: vec![0x30; 64 * 48 * 4],
            step: 0,
        }
    }

    fn next(&mut self) -> Vec<u8> {
        self.step += 1;
        let at = (self.step * 997 * 4) % self.pixels.len();
        self.pixels[at] = self.pixels[at].wrapping_add(77);
        let frame = Frame::new(&self.pixels, 64, 48, 64 * 4, PixelFormat::Bgra8).unwrap();
        self.encoder
            .encode(&frame)
            .unwrap()
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    fn checkpoint(&mut self) -> Vec<u8> {
        self.encoder.checkpoint().unwrap().as_bytes().to_vec()
    }
}

/// One viewer as the router sees it.
struct Seat {
    session: ViewerSession,
    decoder: Decoder,
    closed: Option<u16>,
    refused: Vec<&'static str>,
    resyncs: usize,
}

/// Plays the relay between one host session and its viewers, in memory. `stream` keeps every
/// stream message the host sent, as the relay's fan-out would.
struct Router {
    host: HostSession,
    seats: BTreeMap<u64, Seat>,
    next: u64,
    stream: Vec<Vec<u8>>,
    host_events: Vec<HostEvent>,
    lookup: Lookup,
}

impl Router {
    /// What viewer `v` shows now: its decoder's framebuffer.
    fn shown(&self, v: u64) -> &[u8] {
        self.seats[&v].decoder.framebuffer().unwrap().pixels
    }

    fn new(options: HostOptions) -> Router {
        let mut host = HostSession::new(options, [9; 32]).unwrap();
        assert!(matches!(
            Message::decode(&host.hello()).unwrap(),
            Message::HostHello { lookup: None, .. }
        ));
        let lookup = Lookup::new(12_345).unwrap();
        host.receive(
            &Message::SessionReady {
                lookup,
                resumed: false,
                viewers: vec![],
            }
            .encode(),
            0,
        )
        .unwrap();
        let mut r = Router {
            host,
            seats: BTreeMap::new(),
            next: 1,
            stream: Vec::new(),
            host_events: Vec::new(),
            lookup,
        };
        r.pump(0);
        r
    }

    fn code(&self) -> JoinCode {
        self.host.code().unwrap()
    }

    /// Moves every queued message to where the relay would send it.
    fn pump(&mut self, now: u64) {
        loop {
            let mut moved = false;
            while let Some(event) = self.host.poll_event() {
                self.host_events.push(event);
            }
            while let Some(bytes) = self.host.poll_outgoing() {
                moved = true;
                self.route_host_message(bytes, now);
            }
            let ids: Vec<u64> = self.seats.keys().copied().collect();
            for id in ids {
                while let Some(bytes) = self
                    .seats
                    .get_mut(&id)
                    .and_then(|s| s.session.poll_outgoing())
                {
                    moved = true;
                    self.route_viewer_message(id, bytes, now);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn route_host_message(&mut self, bytes: Vec<u8>, now: u64) {
        match Message::decode(&bytes).unwrap() {
            Message::PakeReply { viewer, .. }
            | Message::Admit { viewer, .. }
            | Message::Rekey { viewer, .. } => self.deliver(viewer, &bytes, now),
            Message::Reject { viewer, wrong_code } => {
                let code = if wrong_code {
                    close::WRONG_CODE
                } else {
                    close::NOT_ADMITTED
                };
                if let Some(seat) = self.seats.get_mut(&viewer) {
                    seat.closed = Some(code);
                }
            }
            Message::NewCode => {
                self.lookup = Lookup::new((self.lookup.value() + 1) % 100_000).unwrap();
                let ready = Message::SessionReady {
                    lookup: self.lookup,
                    resumed: true,
                    viewers: vec![],
                };
                self.host.receive(&ready.encode(), now).unwrap();
            }
            Message::RemoveViewer { viewer } => {
                if let Some(seat) = self.seats.get_mut(&viewer) {
                    seat.closed = Some(close::REMOVED);
                }
            }
            _ => {}
        }
    }

    fn route_viewer_message(&mut self, viewer: u64, bytes: Vec<u8>, now: u64) {
        match Message::decode(&bytes).unwrap() {
            Message::Confirm {
                confirmation,
                sealed_name,
                ..
            } => {
                let m = Message::Confirm {
                    viewer,
                    confirmation,
                    sealed_name,
                };
                self.host.receive(&m.encode(), now).unwrap();
            }
            Message::Input(sealed) => {
                self.host
                    .receive(&Message::InputFrom { viewer, sealed }.encode(), now)
                    .unwrap();
            }
            Message::Resync => self.seats.get_mut(&viewer).unwrap().resyncs += 1,
            _ => {}
        }
    }

    fn deliver(&mut self, viewer: u64, bytes: &[u8], now: u64) {
        let Some(seat) = self.seats.get_mut(&viewer) else {
            return;
        };
        if seat.closed.is_some() {
            return;
        }
        match seat.session.receive(bytes, now).expect("a valid message") {
            Some(ViewerEvent::Packet { data, .. }) => {
                seat.decoder.apply(&data).expect("an opened packet decodes");
            }
            Some(ViewerEvent::Refused { reason }) => seat.refused.push(reason),
            _ => {}
        }
    }

    /// A viewer joins with `code`; its id.
    fn join(&mut self, code: JoinCode, name: &str) -> u64 {
        let id = self.next;
        self.next += 1;
        let mut session = ViewerSession::new(code, name);
        let Message::ViewerHello {
            join: Join::Code { lookup, pake },
        } = Message::decode(&session.hello()).unwrap()
        else {
            panic!("a code hello")
        };
        session
            .receive(
                &Message::Welcome {
                    viewer: id,
                    resume_token: [id as u8; 16],
                }
                .encode(),
                0,
            )
            .unwrap();
        self.seats.insert(
            id,
            Seat {
                session,
                decoder: Decoder::new(DecoderConfig::default()),
                closed: None,
                refused: Vec::new(),
                resyncs: 0,
            },
        );
        if lookup == self.lookup {
            let entry = ViewerEntry {
                viewer: id,
                address: format!("10.0.0.{id}:5000"),
            };
            self.host
                .receive(
                    &Message::ViewerJoined {
                        entry,
                        pake: Some(pake),
                    }
                    .encode(),
                    0,
                )
                .unwrap();
        } else {
            self.seats.get_mut(&id).unwrap().closed = Some(close::UNKNOWN_KEY);
        }
        self.pump(0);
        id
    }

    /// The host streams `packet`; every admitted viewer gets it (as the fan-out would).
    fn send(&mut self, packet: &[u8]) -> Option<Vec<u8>> {
        let message = self.host.stream_message(packet, 1).unwrap()?;
        self.stream.push(message.clone());
        let ids: Vec<u64> = self.seats.keys().copied().collect();
        for id in ids {
            if self.seats[&id].session.is_admitted() {
                self.deliver(id, &message, 0);
            }
        }
        self.pump(0);
        Some(message)
    }
}

fn joined(router: &Router) -> Vec<ViewerInfo> {
    router
        .host_events
        .iter()
        .filter_map(|e| match e {
            HostEvent::ViewerJoined(info) => Some(info.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_right_code_gets_in_and_sees_the_screen_sealed() {
    let mut r = Router::new(HostOptions {
        name: "Ada".into(),
        ..HostOptions::default()
    });
    let mut screen = Screen::new();
    let first = screen.next();
    let v = r.join(r.code(), "Grace");
    assert!(r.seats[&v].session.is_admitted());
    assert_eq!(
        joined(&r),
        vec![ViewerInfo {
            viewer: v,
            address: "10.0.0.1:5000".into(),
            name: "Grace".into()
        }]
    );
    let sealed = r.send(&first).expect("a checkpoint goes out");
    // The relay's copy holds no Glimpse packet: the payload does not even start like one.
    let Message::Stream(p) = Message::decode(&sealed).unwrap() else {
        panic!()
    };
    assert!(glimpse::protocol::PacketHeader::read(p.payload).is_err());
    assert!(p
        .payload
        .windows(first.len().min(16))
        .all(|w| w != &first[..first.len().min(16)]));
    for _ in 0..5 {
        let update = screen.next();
        r.send(&update);
    }
    assert_eq!(r.shown(v), &screen.pixels[..]);
}

#[test]
fn three_wrong_codes_burn_the_code_and_the_right_one_still_gets_in() {
    let mut r = Router::new(HostOptions::default());
    let right = r.code();
    let wrong = JoinCode::new(
        right.lookup(),
        (right.digits()[5..].parse::<u32>().unwrap() + 1) % 100_000,
    )
    .unwrap();
    for attempt in 1..=3 {
        let v = r.join(wrong, "guess");
        assert_eq!(
            r.seats[&v].closed,
            Some(close::WRONG_CODE),
            "attempt {attempt}"
        );
        assert!(!r.seats[&v].session.is_admitted());
        // The viewer's own verdict: a wrong code, no reconnection.
        let seat = r.seats.get_mut(&v).unwrap();
        assert_eq!(
            seat.session.closed(close::WRONG_CODE, "", 0, 0),
            Reconnect::GiveUp(ConnectError::WrongCode)
        );
    }
    let wrongs = r
        .host_events
        .iter()
        .filter(|e| matches!(e, HostEvent::WrongCode { .. }))
        .count();
    assert_eq!(wrongs, 3);
    let new_code = r.host_events.iter().find_map(|e| match e {
        HostEvent::CodeReplaced { code } => Some(*code),
        _ => None,
    });
    let new_code = new_code.expect("the code was burned");
    assert_ne!(new_code, right);
    assert_eq!(r.code(), new_code);
    // The old code leads nowhere (its lookup is gone); the new one gets in.
    let old = r.join(right, "late");
    assert_eq!(r.seats[&old].closed, Some(close::UNKNOWN_KEY));
    let v = r.join(new_code, "friend");
    assert!(r.seats[&v].session.is_admitted());
}

#[test]
fn an_abandoned_key_exchange_counts_as_a_wrong_code() {
    let mut r = Router::new(HostOptions::default());
    let code = r.code();
    // A guesser learns from the host's confirmation that its guess was wrong and leaves without
    // confirming: the host still counts it.
    let mut guesser = ViewerSession::new(JoinCode::new(code.lookup(), 0).unwrap(), "");
    let Message::ViewerHello {
        join: Join::Code { pake, .. },
    } = Message::decode(&guesser.hello()).unwrap()
    else {
        panic!()
    };
    let entry = ViewerEntry {
        viewer: 77,
        address: "10.9.9.9:1".into(),
    };
    r.host
        .receive(
            &Message::ViewerJoined {
                entry,
                pake: Some(pake),
            }
            .encode(),
            0,
        )
        .unwrap();
    r.host
        .receive(&Message::ViewerLeft { viewer: 77 }.encode(), 0)
        .unwrap();
    r.pump(0);
    assert!(r
        .host_events
        .iter()
        .any(|e| matches!(e, HostEvent::WrongCode { attempts: 1, .. })));
    // One that never answers times out after 10 s.
    let entry = ViewerEntry {
        viewer: 78,
        address: "10.9.9.9:2".into(),
    };
    let Message::ViewerHello {
        join: Join::Code { pake, .. },
    } = Message::decode(&guesser.hello()).unwrap()
    else {
        panic!()
    };
    r.host
        .receive(
            &Message::ViewerJoined {
                entry,
                pake: Some(pake),
            }
            .encode(),
            1000,
        )
        .unwrap();
    r.host.tick(5000);
    r.pump(5000);
    assert!(!r
        .host_events
        .iter()
        .any(|e| matches!(e, HostEvent::WrongCode { attempts: 2, .. })));
    r.host.tick(11_001);
    r.pump(11_001);
    assert!(r
        .host_events
        .iter()
        .any(|e| matches!(e, HostEvent::WrongCode { attempts: 2, .. })));
}

#[test]
fn forged_replayed_and_foreign_packets_are_never_shown() {
    let mut r = Router::new(HostOptions::default());
    let mut screen = Screen::new();
    let first = screen.next();
    let v = r.join(r.code(), "");
    r.send(&first);
    let update = screen.next();
    let genuine = r.send(&update).unwrap();
    let painted = r.seats[&v].decoder.framebuffer().unwrap().pixels.to_vec();
    // Every single bit flipped in the sealed part is refused, and asks for a resync.
    let Message::Stream(p) = Message::decode(&genuine).unwrap() else {
        panic!()
    };
    let next = screen.next();
    let sealed_next = r.host.stream_message(&next, 1).unwrap().unwrap();
    let Message::Stream(n) = Message::decode(&sealed_next).unwrap() else {
        panic!()
    };
    for i in 0..n.payload.len() {
        let mut payload = n.payload.to_vec();
        payload[i] ^= 0x10;
        let forged = Message::Stream(StreamPacket {
            payload: &payload,
            ..n
        })
        .encode();
        r.deliver(v, &forged, 0);
    }
    // Lies about the routing fields are refused too (they are bound into the seal).
    for lie in [
        StreamPacket {
            seq: n.seq + 1,
            ..n
        },
        StreamPacket {
            kind: StreamKind::Checkpoint { restart: true },
            ..n
        },
    ] {
        r.deliver(v, &Message::Stream(lie).encode(), 0);
    }
    let seat = &r.seats[&v];
    assert_eq!(seat.refused.len(), n.payload.len() + 2);
    assert!(seat.refused.iter().all(|r| *r == "did not authenticate"));
    assert_eq!(
        seat.decoder.framebuffer().unwrap().pixels,
        &painted[..],
        "nothing forged was painted"
    );
    // A replay of a genuine packet is refused without a resync.
    let resyncs = r.seats[&v].resyncs;
    r.pump(0);
    let before = r.seats[&v].refused.len();
    r.deliver(v, &genuine, 0);
    assert_eq!(
        r.seats[&v].refused.last(),
        Some(&"replayed or out of order")
    );
    assert_eq!(r.seats[&v].refused.len(), before + 1);
    r.pump(0);
    assert!(
        r.seats[&v].resyncs > resyncs,
        "the forged packets asked for a resync"
    );
    assert_eq!(p.counter + 1, n.counter);
    // The genuine next packet still opens.
    r.deliver(v, &sealed_next, 0);
    assert_eq!(r.shown(v), &screen.pixels[..]);
}

#[test]
fn input_is_the_holders_own_and_cannot_be_forged_or_replayed() {
    let mut r = Router::new(HostOptions {
        policy: ControlPolicy::AutoGrant,
        ..HostOptions::default()
    });
    let mut screen = Screen::new();
    let first = screen.next();
    let a = r.join(r.code(), "a");
    let b = r.join(r.code(), "b");
    r.send(&first);
    let request = r
        .seats
        .get_mut(&a)
        .unwrap()
        .session
        .request_control()
        .unwrap();
    assert_eq!(Message::decode(&request).unwrap(), Message::ControlRequest);
    r.host
        .receive(&Message::ControlRequested { viewer: a }.encode(), 0)
        .unwrap();
    r.pump(0);
    r.deliver(a, &Message::ControlGranted.encode(), 0);
    assert_eq!(r.seats[&a].session.control(), ControlState::Granted);
    let key = InputEvent::Key {
        keysym: 0x61,
        down: true,
    };
    let sealed = r.seats.get_mut(&a).unwrap().session.input(key).unwrap();
    let Message::Input(a_sealed) = Message::decode(&sealed).unwrap() else {
        panic!()
    };
    // The input as sent; then replayed, forged by the relay, or re-labelled as another viewer's:
    // dropped.
    for (viewer, sealed) in [
        (a, a_sealed.clone()),
        (a, a_sealed.clone()),
        (a, vec![0; 60]),
        (b, a_sealed),
    ] {
        r.host
            .receive(&Message::InputFrom { viewer, sealed }.encode(), 0)
            .unwrap();
    }
    // Viewer b cannot even make input: it holds no grant.
    assert!(r.seats.get_mut(&b).unwrap().session.input(key).is_none());
    r.pump(0);
    let inputs: Vec<&HostEvent> = r
        .host_events
        .iter()
        .filter(|e| matches!(e, HostEvent::Input { .. }))
        .collect();
    assert_eq!(
        inputs,
        vec![&HostEvent::Input {
            viewer: a,
            event: key
        }]
    );
    // The person at the host takes control back: no automatic re-grant for 30 s.
    r.host.local_input(1000);
    r.host
        .receive(&Message::ControlRequested { viewer: a }.encode(), 2000)
        .unwrap();
    r.pump(2000);
    assert!(r
        .host_events
        .contains(&HostEvent::Control(ControlEvent::Refused(a))));
    r.host
        .receive(&Message::ControlRequested { viewer: a }.encode(), 31_001)
        .unwrap();
    r.pump(31_001);
    assert_eq!(
        r.host_events
            .iter()
            .filter(|e| **e == HostEvent::Control(ControlEvent::Granted(a)))
            .count(),
        2
    );
}

#[test]
fn removing_a_viewer_rotates_the_key() {
    let mut r = Router::new(HostOptions::default());
    let mut screen = Screen::new();
    let first = screen.next();
    let stays = r.join(r.code(), "stays");
    let goes = r.join(r.code(), "goes");
    r.send(&first);
    r.host.remove(goes).unwrap();
    r.pump(0);
    assert_eq!(r.seats[&goes].closed, Some(close::REMOVED));
    assert!(r.host_events.contains(&HostEvent::CheckpointNeeded));
    let left = HostEvent::ViewerLeft { viewer: goes };
    assert_eq!(r.host_events.iter().filter(|e| **e == left).count(), 1);
    // The next checkpoint restarts the stream under the new key: the viewer who stayed opens it,
    // a copy of the removed viewer's session cannot.
    let restart = screen.checkpoint();
    let sealed = r.send(&restart).unwrap();
    let Message::Stream(p) = Message::decode(&sealed).unwrap() else {
        panic!()
    };
    assert_eq!(p.epoch, 1);
    assert_eq!(p.kind, StreamKind::Checkpoint { restart: true });
    let gone = r.seats.get_mut(&goes).unwrap();
    gone.closed = None; // as if it kept listening to a copy of the stream
    let event = gone.session.receive(&sealed, 0).unwrap();
    assert_eq!(
        event,
        Some(ViewerEvent::Refused {
            reason: "sealed under a key this viewer does not have"
        })
    );
    for _ in 0..3 {
        let u = screen.next();
        r.send(&u);
    }
    assert_eq!(r.shown(stays), &screen.pixels[..]);
}

#[test]
fn approval_lets_in_only_whom_the_host_accepts() {
    let mut r = Router::new(HostOptions {
        approve_viewers: true,
        ..HostOptions::default()
    });
    let yes = r.join(r.code(), "Yes");
    let no = r.join(r.code(), "No");
    let asked: Vec<String> = r
        .host_events
        .iter()
        .filter_map(|e| match e {
            HostEvent::ApprovalNeeded(info) => Some(info.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(asked, vec!["Yes", "No"]);
    assert!(!r.seats[&yes].session.is_admitted());
    r.host.approve(yes).unwrap();
    r.host.deny(no);
    r.pump(0);
    assert!(r.seats[&yes].session.is_admitted());
    assert_eq!(r.seats[&no].closed, Some(close::NOT_ADMITTED));
    assert!(r.host.approve(no).is_err());
}

#[test]
fn host_sends_the_stream_only_from_a_checkpoint_and_restarts_after_gaps() {
    let mut screen = Screen::new();
    let mut host = HostSession::new(HostOptions::default(), [3; 32]).unwrap();
    let first = screen.next();
    let update = screen.next();
    host.hello();
    assert_eq!(host.poll_event(), Some(HostEvent::CheckpointNeeded));
    let kind = |m: &[u8]| match Message::decode(m).unwrap() {
        Message::Stream(p) => (p.kind, p.seq),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        host.stream_message(&update, 0).unwrap(),
        None,
        "no update before a checkpoint"
    );
    assert_eq!(
        kind(&host.stream_message(&first, 0).unwrap().unwrap()),
        (StreamKind::Checkpoint { restart: true }, 0)
    );
    assert_eq!(
        kind(&host.stream_message(&update, 5).unwrap().unwrap()),
        (StreamKind::Update, 1)
    );
    let join = screen.checkpoint();
    assert_eq!(
        kind(&host.stream_message(&join, 0).unwrap().unwrap()),
        (StreamKind::Checkpoint { restart: false }, 1)
    );
    let _lost = screen.next();
    let after_gap = screen.next();
    assert_eq!(host.stream_message(&after_gap, 0).unwrap(), None);
    assert_eq!(host.poll_event(), Some(HostEvent::CheckpointNeeded));
    let repair = screen.checkpoint();
    assert_eq!(
        kind(&host.stream_message(&repair, 0).unwrap().unwrap()),
        (StreamKind::Checkpoint { restart: true }, 3)
    );
    assert!(host.stream_message(b"not a packet", 0).is_err());
    // A relay may not send viewer messages to a host.
    assert!(host
        .receive(
            &Message::Welcome {
                viewer: 1,
                resume_token: [0; 16]
            }
            .encode(),
            0
        )
        .is_err());
}

#[test]
fn viewers_reconnect_after_drops_and_give_up_when_the_session_is_over() {
    let code = JoinCode::parse("123 456 7890").unwrap();
    let mut s = ViewerSession::new(code, "");
    s.hello();
    assert_eq!(
        s.closed(close::UNKNOWN_KEY, "", 0, 0),
        Reconnect::GiveUp(ConnectError::UnknownSession)
    );
    let mut s = ViewerSession::new(code, "");
    s.hello();
    assert!(matches!(
        s.closed(1006, "refused", 0, 0),
        Reconnect::GiveUp(ConnectError::Unreachable(_))
    ));
    // In through a router, then the relay restarts: the token first, then the code again.
    let mut r = Router::new(HostOptions::default());
    let v = r.join(r.code(), "");
    let seat = r.seats.get_mut(&v).unwrap();
    assert!(
        matches!(seat.session.closed(close::RESTART, "", 1000, 7), Reconnect::After { delay_ms } if delay_ms <= 150)
    );
    assert!(matches!(
        Message::decode(&seat.session.hello()).unwrap(),
        Message::ViewerHello {
            join: Join::Resume(_)
        }
    ));
    assert_eq!(
        seat.session.closed(close::UNKNOWN_KEY, "", 1100, 0),
        Reconnect::After { delay_ms: 0 }
    );
    assert!(matches!(
        Message::decode(&seat.session.hello()).unwrap(),
        Message::ViewerHello {
            join: Join::Code { .. }
        }
    ));
    let mut last = 0;
    for t in [1200, 1500, 2500, 5000] {
        seat.session.hello();
        match seat.session.closed(close::UNKNOWN_KEY, "", t, 0) {
            Reconnect::After { delay_ms } => {
                assert!(delay_ms >= last && delay_ms <= 3000, "{delay_ms}");
                last = delay_ms;
            }
            other => panic!("{other:?}"),
        }
    }
    seat.session.hello();
    assert!(matches!(
        seat.session.closed(1006, "", 70_000, 0),
        Reconnect::GiveUp(ConnectError::ConnectionLost(_))
    ));
}

#[test]
fn a_joiner_refused_as_busy_retries_when_told_and_gives_up_after_the_grace_period() {
    let code = JoinCode::parse("123 456 7890").unwrap();
    let mut s = ViewerSession::new(code, "");
    s.hello();
    // Not joined yet, and still not a failure: the relay said when its turn comes.
    let busy = close::reason_with_retry("too many joins at once", 300);
    match s.closed(close::BUSY, &busy, 1_000, 1_000_000) {
        Reconnect::After { delay_ms } => assert!((300..=375).contains(&delay_ms), "{delay_ms}"),
        other => panic!("{other:?}"),
    }
    // The retry is a fresh join with the code (no token was ever given).
    assert!(matches!(
        Message::decode(&s.hello()).unwrap(),
        Message::ViewerHello {
            join: Join::Code { .. }
        }
    ));
    // Without a hint: a second; a hostile hint is held to 10 s.
    assert!(matches!(
        s.closed(close::BUSY, "busy", 2_000, 0),
        Reconnect::After { delay_ms: 1_000 }
    ));
    let hostile = close::reason_with_retry("wait", u64::MAX);
    assert!(matches!(
        s.closed(close::BUSY, &hostile, 3_000, 0),
        Reconnect::After { delay_ms: 10_000 }
    ));
    assert_eq!(
        s.closed(close::BUSY, &busy, 62_000, 0),
        Reconnect::GiveUp(ConnectError::SessionBusy {
            retry_after_ms: 300
        })
    );
    // A relay's failure budget is not a queue: it ends the join, with the relay's delay.
    let mut s = ViewerSession::new(code, "");
    s.hello();
    let limited = close::reason_with_retry("too many failed attempts", 42_000);
    assert_eq!(
        s.closed(close::RATE_LIMITED, &limited, 0, 0),
        Reconnect::GiveUp(ConnectError::RateLimited {
            retry_after_ms: 42_000
        })
    );
}
