//! What the relay and the host do with clients that misbehave: no hello, codes in URLs, malformed,
//! oversized and text messages, messages of the wrong role or before admission, wrong codes (the
//! third burns the code), guessing from one network, input without a grant, a second host claiming
//! a code, a removed viewer coming back.

use std::time::{Duration, Instant};

use glimpse::session::{InputEvent, ViewerId};
use glimpse_connect::protocol::{close, Join, Message};
use glimpse_connect::viewer_session::{ControlState, ViewerSession};
use glimpse_connect::{
    ConnectError, ControlPolicy, HostEvent, JoinCode, Lookup, Viewer, ViewerConfig, ViewerEvent,
};

use crate::common::{host_hello, recording, relay_config, wait_exact, RawClient, Stage};

/// A real hello for `code` (a valid key exchange message).
fn hello(code: JoinCode) -> Vec<u8> {
    ViewerSession::new(code, "raw").hello()
}

/// A raw client that went through the key exchange and was let in, with the viewer id and resume
/// token the relay welcomed it with.
async fn admitted(addr: std::net::SocketAddr, code: JoinCode) -> (RawClient, ViewerId, [u8; 16]) {
    let mut c = RawClient::connect(addr, "/ws/view").await;
    let mut session = ViewerSession::new(code, "raw");
    c.send(session.hello()).await;
    let mut welcome = None;
    while !session.is_admitted() {
        let bytes = c.next().await.expect("the exchange goes on");
        if let Ok(Message::Welcome {
            viewer,
            resume_token,
        }) = Message::decode(&bytes)
        {
            welcome = Some((viewer, resume_token));
        }
        session.receive(&bytes, 0).expect("a valid message");
        while let Some(out) = session.poll_outgoing() {
            c.send(out).await;
        }
    }
    let (viewer, token) = welcome.expect("the relay welcomes a viewer first");
    (c, viewer, token)
}

#[test]
fn misbehaving_viewers_are_closed_with_a_reason() {
    let stage = Stage::start("typing_terminal", 30, 20.0, ControlPolicy::Ask);
    let addr = stage.relay.local_addr();
    let code = stage.code();
    stage.rt.block_on(async {
        // No hello in time (a code in the URL means nothing: codes travel in the hello only).
        let mut c = RawClient::connect(addr, &format!("/ws/view?code={}", code.digits())).await;
        assert_eq!(c.close_code().await, close::STALLED);
        // A first message that is not a hello.
        let mut c = RawClient::connect(addr, "/ws/view").await;
        c.send(Message::Ack { seq: 1 }.encode()).await;
        assert_eq!(c.close_code().await, close::POLICY);
        // A key exchange message of the wrong size.
        let mut c = RawClient::connect(addr, "/ws/view").await;
        c.send(
            Message::ViewerHello {
                join: Join::Code {
                    lookup: code.lookup(),
                    pake: vec![1; 5],
                },
            }
            .encode(),
        )
        .await;
        assert_eq!(c.close_code().await, close::POLICY);
        // Text, garbage, oversized, a host's message, an ack before admission.
        for (what, expected) in [
            ("text", close::POLICY),
            ("garbage", close::POLICY),
            ("big", close::TOO_BIG),
            ("role", close::POLICY),
        ] {
            let (mut c, ..) = admitted(addr, code).await;
            match what {
                "text" => c.send_text("hello").await,
                "garbage" => c.send(b"GC\x02\xff\xff".to_vec()).await,
                "big" => c.send(vec![0u8; 8 << 10]).await,
                _ => c.send(Message::GrantControl { viewer: 1 }.encode()).await,
            }
            assert_eq!(c.close_code().await, expected, "{what}");
        }
        // An ack before admission (one abandoned exchange: counted against the code, once).
        let mut c = RawClient::connect(addr, "/ws/view").await;
        c.send(hello(code)).await;
        assert!(matches!(
            Message::decode(&c.next().await.expect("welcome")),
            Ok(Message::Welcome { .. })
        ));
        c.send(Message::Ack { seq: 0 }.encode()).await;
        assert_eq!(c.close_code().await, close::POLICY, "early ack");
        // A host hello on the viewer endpoint, a viewer hello on the host endpoint.
        let mut c = RawClient::connect(addr, "/ws/view").await;
        c.send(host_hello(None, 0)).await;
        assert_eq!(c.close_code().await, close::POLICY);
        let mut c = RawClient::connect(addr, "/ws/host").await;
        c.send(hello(code)).await;
        assert_eq!(c.close_code().await, close::POLICY);
        // A second host claiming the code without its secret.
        let mut c = RawClient::connect(addr, "/ws/host").await;
        c.send(host_hello(Some(code.lookup()), 0)).await;
        assert_eq!(c.close_code().await, close::KEY_IN_USE);
    });
    assert!(
        stage.relay.stats().sessions == 1 && stage.relay.stats().hosts == 1,
        "the real host is untouched"
    );
    stage.end();
}

/// A code with the same lookup and another secret.
fn wrong_secret(code: JoinCode) -> JoinCode {
    let secret: u32 = code.digits()[5..].parse().unwrap();
    JoinCode::new(code.lookup(), (secret + 1) % 100_000).unwrap()
}

#[test]
fn wrong_codes_fail_fast_and_the_third_burns_the_code() {
    let stage = Stage::start("typing_terminal", 30, 20.0, ControlPolicy::Ask);
    let (url, host) = (&stage.url, &stage.host);
    let right = stage.code();
    let inside = Viewer::join(ViewerConfig::new(url, right)).expect("the right code gets in");
    let mut waits = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let e = Viewer::join(ViewerConfig::new(url, wrong_secret(right)))
            .err()
            .expect("a wrong code is refused");
        waits.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(e, ConnectError::WrongCode);
    }
    println!("wrong code: refused after {waits:?} ms");
    let mut attempts = Vec::new();
    let mut replaced = None;
    while replaced.is_none() {
        match host
            .host
            .next_event(Duration::from_secs(5))
            .expect("events")
        {
            HostEvent::WrongCode { attempts: n, .. } => attempts.push(n),
            HostEvent::CodeReplaced { code } => replaced = Some(code),
            _ => {}
        }
    }
    let new_code = replaced.unwrap();
    assert_eq!(attempts, vec![1, 2, 3]);
    assert_ne!(new_code, right);
    assert_eq!(host.host.code(), new_code);
    // The burned code leads nowhere; the new one gets in; the viewer already in stayed.
    let e = Viewer::join(ViewerConfig::new(url, right))
        .err()
        .expect("the burned code is gone");
    assert_eq!(e, ConnectError::UnknownSession);
    let late = Viewer::join(ViewerConfig::new(url, new_code)).expect("the new code gets in");
    host.wait_done(Duration::from_secs(30));
    assert!(wait_exact(&inside, &host.last, Duration::from_secs(15)));
    assert!(wait_exact(&late, &host.last, Duration::from_secs(15)));
    stage.end();
}

#[test]
fn guessing_lookups_from_one_network_is_limited_but_a_right_code_gets_through() {
    let stage = Stage::start("typing_terminal", 20, 20.0, ControlPolicy::Ask);
    let (url, code) = (&stage.url, stage.code());
    let unknown = |i: u32| {
        JoinCode::new(
            Lookup::new((code.lookup().value() + 1 + i) % 100_000).unwrap(),
            0,
        )
        .unwrap()
    };
    for i in 0..5 {
        let e = Viewer::join(ViewerConfig::new(url, unknown(i)))
            .err()
            .expect("unknown");
        assert_eq!(e, ConnectError::UnknownSession);
    }
    let e = Viewer::join(ViewerConfig::new(url, unknown(9)))
        .err()
        .expect("limited");
    assert_eq!(e.code(), 35, "{e}");
    // Somebody on the same network with the right code is not locked out.
    Viewer::join(ViewerConfig::new(url, code)).expect("the right code still gets in");
    stage.end();
}

#[test]
fn control_needs_a_grant_and_removed_viewers_stay_out() {
    let stage = Stage::start("typing_terminal", 40, 20.0, ControlPolicy::Ask);
    let host = &stage.host;
    let v = stage.join();
    let other = stage.join();
    let key_a = InputEvent::Key {
        keysym: 0x61,
        down: true,
    };
    // Without a grant nothing reaches the host.
    v.send_input(key_a).unwrap();
    v.request_control().unwrap();
    let viewer = loop {
        match host
            .host
            .next_event(Duration::from_secs(5))
            .expect("a request")
        {
            HostEvent::ControlRequested { viewer } => break viewer,
            HostEvent::Input { .. } => panic!("input without a grant reached the host"),
            _ => {}
        }
    };
    host.host.grant(viewer).unwrap();
    loop {
        if let ViewerEvent::Control { state, .. } =
            v.next_event(Duration::from_secs(5)).expect("granted")
        {
            assert_eq!(state, ControlState::Granted);
            break;
        }
    }
    v.send_input(InputEvent::PointerMove { x: 10, y: 20 })
        .unwrap();
    v.send_input(key_a).unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        if let HostEvent::Input { event, .. } =
            host.host.next_event(Duration::from_secs(5)).expect("input")
        {
            got.push(event);
        }
    }
    assert_eq!(got, vec![InputEvent::PointerMove { x: 10, y: 20 }, key_a]);
    // Removed: the viewer's session ends, it does not come back by itself, and the stream moves
    // to a new key that the viewer who stays gets.
    host.host.remove(viewer).unwrap();
    let ended = loop {
        match v.next_event(Duration::from_secs(5)).expect("an end") {
            ViewerEvent::Ended(e) => break e,
            _ => continue,
        }
    };
    assert_eq!(ended, ConnectError::Removed);
    host.wait_done(Duration::from_secs(30));
    assert!(
        wait_exact(&other, &host.last, Duration::from_secs(15)),
        "the other viewer follows the new key"
    );
    assert_eq!(other.stats().refused_packets, 0);
    assert_eq!(stage.relay.stats().viewers, 1);
    stage.end();
}

/// A removed viewer that never got its close frame (a reset connection, a network cut) and comes
/// back with its resume token is told it was removed, each time, instead of being sent to join
/// with the code again (which, without approval, would let it straight back in).
#[test]
fn a_removed_viewer_coming_back_with_its_token_is_told_it_was_removed() {
    let stage = Stage::start("typing_terminal", 40, 20.0, ControlPolicy::Ask);
    let addr = stage.relay.local_addr();
    let code = stage.code();
    stage.rt.block_on(async {
        let (mut removed, viewer, token) = admitted(addr, code).await;
        stage.host.host.remove(viewer).unwrap();
        assert_eq!(removed.close_code().await, close::REMOVED);
        for attempt in 0..2 {
            let mut back = RawClient::connect(addr, "/ws/view").await;
            let resume = Message::ViewerHello {
                join: Join::Resume(token),
            };
            back.send(resume.encode()).await;
            assert_eq!(back.close_code().await, close::REMOVED, "attempt {attempt}");
        }
    });
    stage.end();
}

#[test]
fn unused_codes_expire_and_the_host_is_told() {
    let mut config = relay_config();
    let mut codes = glimpse_connect::relay::CodePolicy::default();
    codes.unused_ttl_ms = 1500;
    config.codes = codes;
    let stage = Stage::with(
        config,
        recording("idle_clock", 10),
        10.0,
        ControlPolicy::Ask,
    );
    let code = stage.code();
    let ended = loop {
        match stage
            .host
            .host
            .next_event(Duration::from_secs(10))
            .expect("the code expires")
        {
            HostEvent::Ended(e) => break e,
            _ => continue,
        }
    };
    assert_eq!(ended, ConnectError::CodeExpired);
    let e = Viewer::join(ViewerConfig::new(&stage.url, code))
        .err()
        .expect("expired code refused");
    assert_eq!(e, ConnectError::UnknownSession);
    stage.end();
}
