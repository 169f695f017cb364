//! What the relay and the host do with clients that misbehave: wrong keys (rate limited), no
//! hello, keys in URLs, malformed, oversized and text messages, messages of the wrong role, input
//! without a grant, a second host claiming a key, a removed viewer coming back.

use std::time::Duration;

use glimpse::session::InputEvent;
use glimpse_connect::protocol::{close, Join, Message};
use glimpse_connect::{
    ConnectError, ControlPolicy, HostEvent, SessionKey, Viewer, ViewerConfig, ViewerEvent,
};

use crate::common::{recording, relay_config, runtime, start_relay, PlayingHost, RawClient};

fn hello(key: SessionKey) -> Vec<u8> {
    Message::ViewerHello {
        join: Join::Key(key),
        name: "raw".into(),
    }
    .encode()
}

#[test]
fn misbehaving_viewers_are_closed_with_a_reason() {
    let rt = runtime();
    let relay = start_relay(&rt, relay_config());
    let addr = relay.local_addr();
    let host = PlayingHost::start(
        &relay.ws_url(),
        recording("typing_terminal", 30),
        20.0,
        ControlPolicy::Ask,
    );
    let key = host.host.key();
    rt.block_on(async {
        // No hello in time (a key in the URL means nothing: keys travel in the hello only).
        let mut c = RawClient::connect(addr, &format!("/ws/view?key={}", key.digits())).await;
        assert_eq!(c.close_code().await, close::STALLED);
        // A first message that is not a hello.
        let mut c = RawClient::connect(addr, "/ws/view").await;
        c.send(Message::Ack { seq: 1 }.encode()).await;
        assert_eq!(c.close_code().await, close::POLICY);
        // Text, garbage, oversized, and a host's message from a viewer.
        for (what, expected) in [
            ("text", close::POLICY),
            ("garbage", close::POLICY),
            ("big", close::TOO_BIG),
            ("role", close::POLICY),
        ] {
            let mut c = RawClient::connect(addr, "/ws/view").await;
            c.send(hello(key)).await;
            assert!(matches!(
                Message::decode(&c.next().await.expect("welcome")),
                Ok(Message::Welcome { .. })
            ));
            match what {
                "text" => c.send_text("hello").await,
                "garbage" => c.send(b"GC\x01\xff\xff".to_vec()).await,
                "big" => c.send(vec![0u8; 8 << 10]).await,
                _ => c.send(Message::GrantControl { viewer: 1 }.encode()).await,
            }
            assert_eq!(c.close_code().await, expected, "{what}");
        }
        // A host hello on the viewer endpoint, a viewer hello on the host endpoint.
        let mut c = RawClient::connect(addr, "/ws/view").await;
        c.send(
            Message::HostHello {
                key: None,
                secret: [0; 32],
                name: String::new(),
            }
            .encode(),
        )
        .await;
        assert_eq!(c.close_code().await, close::POLICY);
        let mut c = RawClient::connect(addr, "/ws/host").await;
        c.send(hello(key)).await;
        assert_eq!(c.close_code().await, close::POLICY);
        // A second host claiming the key without its secret.
        let mut c = RawClient::connect(addr, "/ws/host").await;
        c.send(
            Message::HostHello {
                key: Some(key),
                secret: [0; 32],
                name: String::new(),
            }
            .encode(),
        )
        .await;
        assert_eq!(c.close_code().await, close::KEY_IN_USE);
    });
    assert!(
        relay.stats().sessions == 1 && relay.stats().hosts == 1,
        "the real host is untouched"
    );
    drop(host);
    rt.block_on(relay.shutdown());
}

#[test]
fn wrong_keys_are_refused_then_rate_limited() {
    let rt = runtime();
    let relay = start_relay(&rt, relay_config());
    let url = relay.ws_url();
    let host = PlayingHost::start(
        &url,
        recording("typing_terminal", 20),
        20.0,
        ControlPolicy::Ask,
    );
    let key = host.host.key();
    let wrong = SessionKey::from_value((key.value() + 1) % 1_000_000_000).unwrap();
    for _ in 0..5 {
        let e = Viewer::join(ViewerConfig::new(&url, wrong))
            .err()
            .expect("wrong key refused");
        assert_eq!(e, ConnectError::UnknownSession);
    }
    // Five wrong keys from this address: even the right key waits now.
    let e = Viewer::join(ViewerConfig::new(&url, key))
        .err()
        .expect("rate limited");
    assert_eq!(e.code(), 35, "{e}");
    drop(host);
    rt.block_on(relay.shutdown());
}

#[test]
fn control_needs_a_grant_and_removed_viewers_stay_out() {
    let rt = runtime();
    let relay = start_relay(&rt, relay_config());
    let url = relay.ws_url();
    let host = PlayingHost::start(
        &url,
        recording("typing_terminal", 40),
        20.0,
        ControlPolicy::Ask,
    );
    let v = Viewer::join(ViewerConfig::new(&url, host.host.key())).unwrap();
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
            assert_eq!(
                state,
                glimpse_connect::viewer_session::ControlState::Granted
            );
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
    // Removed: the viewer's session ends, and it does not come back by itself.
    host.host.remove(viewer).unwrap();
    let ended = loop {
        match v.next_event(Duration::from_secs(5)).expect("an end") {
            ViewerEvent::Ended(e) => break e,
            _ => continue,
        }
    };
    assert_eq!(ended, ConnectError::Removed);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(relay.stats().viewers, 0);
    drop(host);
    rt.block_on(relay.shutdown());
}

#[test]
fn unused_keys_expire_and_the_host_is_told() {
    let rt = runtime();
    let mut config = relay_config();
    let mut keys = glimpse_connect::relay::KeyPolicy::default();
    keys.unused_ttl_ms = 1500;
    config.keys = keys;
    let relay = start_relay(&rt, config);
    let url = relay.ws_url();
    let host = PlayingHost::start(&url, recording("idle_clock", 10), 10.0, ControlPolicy::Ask);
    let key = host.host.key();
    let ended = loop {
        match host
            .host
            .next_event(Duration::from_secs(10))
            .expect("the key expires")
        {
            HostEvent::Ended(e) => break e,
            _ => continue,
        }
    };
    assert_eq!(ended, ConnectError::KeyExpired);
    let e = Viewer::join(ViewerConfig::new(&url, key))
        .err()
        .expect("expired key refused");
    assert_eq!(e, ConnectError::UnknownSession);
    drop(host);
    rt.block_on(relay.shutdown());
}
