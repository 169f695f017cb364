//! The session protocol and the sans-IO host and viewer sessions: every message round-trips and
//! every truncation or lie is refused; hosts send nothing of the stream before a checkpoint, tell
//! join from restart checkpoints, restart after a gap; control decisions follow the policy;
//! viewers know when to reconnect and when to give up.

use glimpse::session::{ControlEvent, InputEvent, StreamKind};
use glimpse::{Encoder, EncoderConfig, Frame, PixelFormat};
use glimpse_connect::host_session::{ControlPolicy, HostEvent, HostSession};
use glimpse_connect::protocol::{close, Join, Message, SessionKey, StreamPacket, ViewerEntry};
use glimpse_connect::viewer_session::{ControlState, Reconnect, ViewerEvent, ViewerSession};
use glimpse_connect::ConnectError;

fn key(text: &str) -> SessionKey {
    SessionKey::parse(text).unwrap()
}

fn entry(viewer: u64) -> ViewerEntry {
    ViewerEntry {
        viewer,
        address: format!("127.0.0.1:{}", 40000 + viewer % 1000),
        name: format!("viewer {viewer}"),
    }
}

fn all_messages(payload: &[u8]) -> Vec<Message<'_>> {
    let events = [
        InputEvent::PointerMove { x: -5, y: i32::MAX },
        InputEvent::Button {
            button: 255,
            down: false,
        },
        InputEvent::Wheel { dx: -3, dy: 120 },
        InputEvent::Key {
            keysym: u32::MAX,
            down: true,
        },
    ];
    let mut all = vec![
        Message::HostHello {
            key: None,
            secret: [1; 32],
            name: "Ada".into(),
        },
        Message::HostHello {
            key: Some(key("999 999 999")),
            secret: [0xff; 32],
            name: String::new(),
        },
        Message::ViewerHello {
            join: Join::Key(key("000 000 001")),
            name: "Grace".into(),
        },
        Message::ViewerHello {
            join: Join::Resume([7; 16]),
            name: "é".into(),
        },
        Message::SessionReady {
            key: key("123 456 789"),
            resumed: true,
            viewers: vec![entry(1), entry(u64::MAX)],
        },
        Message::CheckpointRequest,
        Message::ViewerJoined(entry(3)),
        Message::ViewerLeft { viewer: 300 },
        Message::ControlRequested { viewer: 1 << 40 },
        Message::GrantControl { viewer: 7 },
        Message::RefuseControl { viewer: 8 },
        Message::RevokeControl,
        Message::RemoveViewer { viewer: 9 },
        Message::EndSession,
        Message::Welcome {
            viewer: 1,
            resume_token: [0xab; 16],
            host_name: "Ada".into(),
        },
        Message::ViewerCount(u32::MAX),
        Message::ControlGranted,
        Message::ControlRefused,
        Message::ControlRevoked,
        Message::HostStatus { connected: false },
        Message::Ack { seq: u64::MAX },
        Message::ControlRequest,
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
            payload,
        }));
    }
    for event in events {
        all.push(Message::Input(event));
        all.push(Message::InputFrom { viewer: 12, event });
    }
    all
}

#[test]
fn every_message_round_trips_and_every_truncation_is_refused() {
    let payload = [1u8, 2, 3, 4, 5];
    let all = all_messages(&payload);
    let names: std::collections::BTreeSet<&str> = all.iter().map(|m| m.name()).collect();
    assert_eq!(names.len(), 23, "every variant covered: {names:?}");
    for m in &all {
        let bytes = m.encode();
        assert_eq!(&bytes[..3], b"GC\x01");
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
    let ok = Message::Ack { seq: 5 }.encode();
    let mut other_version = ok.clone();
    other_version[2] = 2;
    let bad: Vec<Vec<u8>> = vec![
        b"XC\x01\x00".to_vec(),
        other_version,
        b"GC\x01\x7f".to_vec(),                             // unknown variant
        b"GC\x01\x13\x02".to_vec(),                         // HostStatus with a boolean 2
        b"GC\x01\x02\x80\x94\xeb\xdc\x03\x00\x00".to_vec(), // SessionReady, key 10^9
        b"GC\x01\x14\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02".to_vec(), // Ack seq > 64 bits
        b"GC\x01\x16\x09".to_vec(),                         // Input of an unknown kind
        b"G\x01\x02\x00".to_vec(),                          // a screen packet
        Vec::new(),
    ];
    for bytes in &bad {
        let e = Message::decode(bytes).unwrap_err();
        assert_eq!(e.code(), 43, "{bytes:?}: {e}");
    }
}

#[test]
fn session_keys_parse_format_and_stay_in_range() {
    assert_eq!(key("123-456 789").to_string(), "123 456 789");
    assert_eq!(key("000 000 042").digits(), "000000042");
    for bad in [
        "",
        "12345678",
        "1234567890",
        "12a456789",
        "１２３４５６７８９",
    ] {
        assert_eq!(SessionKey::parse(bad).unwrap_err().code(), 32, "{bad:?}");
    }
    assert!(SessionKey::from_value(1_000_000_000).is_err());
}

/// A real encoder's packets, for the host session.
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

fn stream_kind(message: &[u8]) -> (StreamKind, u64) {
    match Message::decode(message).unwrap() {
        Message::Stream(p) => (p.kind, p.seq),
        other => panic!("not a stream packet: {other:?}"),
    }
}

fn events(session: &mut HostSession) -> Vec<HostEvent> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

#[test]
fn host_sends_the_stream_only_from_a_checkpoint_and_restarts_after_gaps() {
    let mut screen = Screen::new();
    let mut host = HostSession::new(ControlPolicy::Ask, "Ada", [3; 32]);
    let first = screen.next(); // the encoder's first packet is a checkpoint
    let update = screen.next();
    assert!(matches!(
        Message::decode(&host.hello()).unwrap(),
        Message::HostHello { key: None, .. }
    ));
    assert_eq!(events(&mut host), vec![HostEvent::CheckpointNeeded]);
    assert_eq!(
        host.stream_message(&update, 0).unwrap(),
        None,
        "no update before a checkpoint"
    );
    let m = host.stream_message(&first, 0).unwrap().unwrap();
    assert_eq!(
        stream_kind(&m),
        (StreamKind::Checkpoint { restart: true }, 0)
    );
    let m = host.stream_message(&update, 5).unwrap().unwrap();
    assert_eq!(stream_kind(&m), (StreamKind::Update, 1));
    // The encoder's join checkpoint continues the stream.
    let join = screen.checkpoint();
    assert_eq!(
        stream_kind(&host.stream_message(&join, 0).unwrap().unwrap()),
        (StreamKind::Checkpoint { restart: false }, 1)
    );
    // An update lost on the way (2 skipped): nothing goes out, a checkpoint is asked for.
    let _lost = screen.next();
    let after_gap = screen.next();
    assert_eq!(host.stream_message(&after_gap, 0).unwrap(), None);
    assert_eq!(events(&mut host), vec![HostEvent::CheckpointNeeded]);
    let repair = screen.checkpoint();
    assert_eq!(
        stream_kind(&host.stream_message(&repair, 0).unwrap().unwrap()),
        (StreamKind::Checkpoint { restart: true }, 3)
    );
    // After a reconnection the next checkpoint is a restart, even at the same seq.
    host.disconnected();
    let hello = host.hello();
    assert!(matches!(
        Message::decode(&hello).unwrap(),
        Message::HostHello { .. }
    ));
    let again = screen.checkpoint();
    assert_eq!(
        stream_kind(&host.stream_message(&again, 0).unwrap().unwrap()),
        (StreamKind::Checkpoint { restart: true }, 3)
    );
    assert!(host.stream_message(b"not a packet", 0).is_err());
}

fn ready(host: &mut HostSession, resumed: bool, viewers: Vec<ViewerEntry>) {
    let message = Message::SessionReady {
        key: key("111 222 333"),
        resumed,
        viewers,
    }
    .encode();
    host.receive(&message).unwrap();
}

fn outgoing(host: &mut HostSession) -> Vec<String> {
    std::iter::from_fn(|| host.poll_outgoing())
        .map(|m| format!("{:?}", Message::decode(&m).unwrap()))
        .collect()
}

#[test]
fn host_control_follows_policy_and_survives_a_reconnection() {
    let mut host = HostSession::new(ControlPolicy::Ask, "", [3; 32]);
    host.hello();
    ready(&mut host, false, vec![]);
    host.receive(&Message::ViewerJoined(entry(1)).encode())
        .unwrap();
    host.receive(&Message::ViewerJoined(entry(2)).encode())
        .unwrap();
    events(&mut host);
    // Ask: the program hears the request once, however often the viewer repeats it.
    for _ in 0..3 {
        host.receive(&Message::ControlRequested { viewer: 1 }.encode())
            .unwrap();
    }
    assert_eq!(
        events(&mut host),
        vec![HostEvent::ControlRequested { viewer: 1 }]
    );
    host.grant(1).unwrap();
    assert_eq!(outgoing(&mut host), vec!["GrantControl { viewer: 1 }"]);
    assert!(host.grant(9).is_err(), "not connected");
    // Input: only the holder's, and only on the screen (no checkpoint yet: 0x0 screen).
    let press = InputEvent::Key {
        keysym: 0x61,
        down: true,
    };
    host.receive(
        &Message::InputFrom {
            viewer: 2,
            event: press,
        }
        .encode(),
    )
    .unwrap();
    host.receive(
        &Message::InputFrom {
            viewer: 1,
            event: press,
        }
        .encode(),
    )
    .unwrap();
    host.receive(
        &Message::InputFrom {
            viewer: 1,
            event: InputEvent::PointerMove { x: 5, y: 5 },
        }
        .encode(),
    )
    .unwrap();
    let evs = events(&mut host);
    assert!(evs.contains(&HostEvent::Input {
        viewer: 1,
        event: press
    }));
    assert_eq!(
        evs.iter()
            .filter(|e| matches!(e, HostEvent::Input { .. }))
            .count(),
        1,
        "{evs:?}"
    );
    // The link drops; the relay kept viewer 1 only: 2 left meanwhile.
    host.disconnected();
    assert_eq!(events(&mut host), vec![HostEvent::Disconnected]);
    host.hello();
    ready(&mut host, true, vec![entry(1)]);
    let evs = events(&mut host);
    assert!(
        evs.contains(&HostEvent::ViewerLeft { viewer: 2 }),
        "{evs:?}"
    );
    assert!(evs.contains(&HostEvent::Ready {
        key: key("111 222 333"),
        resumed: true
    }));
    // The relay's copy of control is re-synced with the host's.
    assert_eq!(outgoing(&mut host), vec!["GrantControl { viewer: 1 }"]);
    // Local input takes control back at once.
    host.local_input(0);
    assert_eq!(
        events(&mut host),
        vec![HostEvent::Control(ControlEvent::Revoked(1))]
    );
    assert_eq!(outgoing(&mut host), vec!["RevokeControl"]);
    // A relay may not send viewer messages to a host.
    assert!(host
        .receive(
            &Message::Welcome {
                viewer: 1,
                resume_token: [0; 16],
                host_name: String::new()
            }
            .encode()
        )
        .is_err());
}

#[test]
fn view_only_and_auto_grant_answer_by_themselves() {
    for (policy, answer) in [
        (ControlPolicy::ViewOnly, "RefuseControl { viewer: 4 }"),
        (ControlPolicy::AutoGrant, "GrantControl { viewer: 4 }"),
    ] {
        let mut host = HostSession::new(policy, "", [0; 32]);
        host.hello();
        ready(&mut host, false, vec![entry(4)]);
        host.receive(&Message::ControlRequested { viewer: 4 }.encode())
            .unwrap();
        assert_eq!(outgoing(&mut host), vec![answer]);
        assert!(!events(&mut host)
            .iter()
            .any(|e| matches!(e, HostEvent::ControlRequested { .. })));
    }
}

fn welcome(session: &mut ViewerSession) {
    let m = Message::Welcome {
        viewer: 5,
        resume_token: [9; 16],
        host_name: "Ada\u{7}".into(),
    }
    .encode();
    match session.receive(&m, 0).unwrap() {
        Some(ViewerEvent::Welcome {
            viewer: 5,
            host_name,
        }) => assert_eq!(host_name, "Ada", "control characters dropped"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn viewers_reconnect_after_drops_and_give_up_when_the_session_is_over() {
    // A wrong key gives up at once; so does an unreachable relay on the first join.
    let mut s = ViewerSession::new(key("123 456 789"), "Grace");
    s.hello();
    assert_eq!(
        s.closed(close::UNKNOWN_KEY, "no session has this key", 0, 0),
        Reconnect::GiveUp(ConnectError::UnknownSession)
    );
    let mut s = ViewerSession::new(key("123 456 789"), "");
    s.hello();
    assert!(matches!(
        s.closed(1006, "refused", 0, 0),
        Reconnect::GiveUp(ConnectError::Unreachable(_))
    ));

    let mut s = ViewerSession::new(key("123 456 789"), "");
    s.hello();
    // Nothing of the stream before the welcome.
    let packet = Message::Stream(StreamPacket {
        kind: StreamKind::Update,
        seq: 1,
        captured_at_ms: 0,
        payload: b"x",
    })
    .encode();
    assert!(s.receive(&packet, 0).is_err());
    welcome(&mut s);
    assert!(matches!(
        s.receive(&packet, 0).unwrap(),
        Some(ViewerEvent::Packet(_))
    ));
    // Control: input only once granted.
    assert_eq!(s.input(InputEvent::Wheel { dx: 0, dy: 1 }), None);
    assert!(s.request_control().is_some());
    assert_eq!(s.request_control(), None, "asked already");
    s.receive(&Message::ControlGranted.encode(), 0).unwrap();
    assert_eq!(s.control(), ControlState::Granted);
    assert!(s.input(InputEvent::Wheel { dx: 0, dy: 1 }).is_some());
    // The relay restarts: reconnect with the token; it is unknown there: the key, at once.
    assert!(
        matches!(s.closed(close::RESTART, "", 1000, 7), Reconnect::After { delay_ms } if delay_ms <= 150)
    );
    assert!(
        matches!(Message::decode(&s.hello()).unwrap(), Message::ViewerHello { join: Join::Resume(t), .. } if t == [9; 16])
    );
    assert_eq!(
        s.closed(close::UNKNOWN_KEY, "unknown token", 1100, 0),
        Reconnect::After { delay_ms: 0 }
    );
    assert!(matches!(
        Message::decode(&s.hello()).unwrap(),
        Message::ViewerHello {
            join: Join::Key(_),
            ..
        }
    ));
    // The host has not re-created the session yet: keep trying, with growing delays, within
    // the grace period; then give up.
    let mut last = 0;
    for t in [1200, 1500, 2500, 5000] {
        s.hello();
        match s.closed(close::UNKNOWN_KEY, "", t, 0) {
            Reconnect::After { delay_ms } => {
                assert!(delay_ms >= last && delay_ms <= 3000, "{delay_ms}");
                last = delay_ms;
            }
            other => panic!("{other:?}"),
        }
    }
    s.hello();
    assert!(matches!(
        s.closed(1006, "", 70_000, 0),
        Reconnect::GiveUp(ConnectError::ConnectionLost(_))
    ));
    // Final codes end it at once.
    for (code, error) in [
        (close::SESSION_ENDED, 44),
        (close::REMOVED, 45),
        (close::EXPIRED, 34),
    ] {
        let mut s = ViewerSession::new(key("123 456 789"), "");
        s.hello();
        welcome(&mut s);
        match s.closed(code, "bye", 0, 0) {
            Reconnect::GiveUp(e) => assert_eq!(e.code(), error),
            other => panic!("{code}: {other:?}"),
        }
    }
}
