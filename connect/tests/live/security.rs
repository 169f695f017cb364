//! End to end, as an attacker at the relay would see it: what the relay forwards is ciphertext;
//! a relay that flips a bit, replays a packet or injects input is caught without a pixel of it
//! shown; one network cannot take all the sessions; slow and silent connections are closed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use glimpse::protocol::PacketHeader;
use glimpse::{Encoder, EncoderConfig};
use glimpse_connect::protocol::{close, Message};
use glimpse_connect::{ControlPolicy, HostEvent, Viewer, ViewerConfig, ViewerEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{
    bgra_frame, entropy, host_hello, recording, relay_config, runtime, start_relay, wait_exact,
    RawClient, Stage, Tamper, WsTap,
};

#[test]
fn what_the_relay_forwards_is_ciphertext() {
    let frames = recording("typing_editor", 100);
    let stage = Stage::with(
        relay_config(),
        frames.clone(),
        20.0,
        ControlPolicy::ViewOnly,
    );
    let host = &stage.host;
    let tap = stage.rt.block_on(WsTap::start(stage.relay.local_addr()));
    let mut config = ViewerConfig::new(&format!("ws://{}", tap.addr), host.host.code());
    config.name = "Grace Hopper".into();
    let viewer = Viewer::join(config).expect("joins through the tap");
    host.wait_done(Duration::from_secs(30));
    assert!(
        wait_exact(&viewer, &host.last, Duration::from_secs(15)),
        "the viewer still sees the screen"
    );
    let recorded = tap.recorded.lock().unwrap().clone();
    let mut sealed = Vec::new();
    for message in &recorded {
        assert!(
            PacketHeader::read(message).is_err(),
            "a message parses as a Glimpse packet"
        );
        if let Ok(Message::Stream(p)) = Message::decode(message) {
            assert!(
                PacketHeader::read(p.payload).is_err(),
                "a payload parses as a Glimpse packet"
            );
            sealed.extend_from_slice(p.payload);
        }
        assert!(
            !message.windows(12).any(|w| w == b"Grace Hopper"),
            "the viewer's name is visible"
        );
    }
    // The same frames without sealing, for comparison: they parse, so the check above can fail.
    let mut encoder_config = EncoderConfig::default();
    encoder_config.video.enabled = false;
    let mut encoder = Encoder::new(encoder_config);
    let mut plain = Vec::new();
    for pixels in &frames {
        if let Some(packet) = encoder.encode(&bgra_frame(pixels)).unwrap() {
            assert!(PacketHeader::read(packet.as_bytes()).is_ok());
            plain.extend_from_slice(packet.as_bytes());
        }
    }
    let (e_sealed, e_plain) = (entropy(&sealed), entropy(&plain));
    println!(
        "relay's view: {} messages, {} sealed bytes at {e_sealed:.4} bits/byte (the same frames unsealed: {e_plain:.4}); none parses as a packet",
        recorded.len(),
        sealed.len()
    );
    assert!(sealed.len() > 10_000);
    assert!(e_sealed > 7.9, "{e_sealed}");
    drop(viewer);
    stage.end();
}

#[test]
fn a_tampering_relay_is_caught_and_the_viewer_recovers() {
    let stage = Stage::start("scroll_terminal", 100, 20.0, ControlPolicy::AutoGrant);
    let host = &stage.host;
    let tap = stage.rt.block_on(WsTap::start(stage.relay.local_addr()));
    let viewer = Viewer::join(ViewerConfig::new(
        &format!("ws://{}", tap.addr),
        stage.code(),
    ))
    .unwrap();
    viewer.request_control().unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while !matches!(
        viewer.next_event(Duration::from_millis(100)),
        Some(ViewerEvent::Control { .. })
    ) {
        assert!(Instant::now() < until, "control granted");
    }
    std::thread::sleep(Duration::from_millis(500));
    tap.tamper(Tamper::FlipNextPacket);
    std::thread::sleep(Duration::from_millis(500));
    tap.tamper(Tamper::ReplayNextPacket);
    std::thread::sleep(Duration::from_millis(500));
    // Input the viewer never sent, forged by the relay (it cannot seal for the viewer).
    tap.inject(Message::Input(vec![0x42; 64]).encode());
    host.wait_done(Duration::from_secs(30));
    assert!(
        wait_exact(&viewer, &host.last, Duration::from_secs(20)),
        "recovered, pixel-exact"
    );
    let stats = viewer.stats();
    println!(
        "tampering relay: {} packets refused, {} decode errors, {} checkpoints",
        stats.refused_packets, stats.decode_errors, stats.checkpoints
    );
    assert!(
        stats.refused_packets >= 2,
        "the flipped and the replayed packet were refused"
    );
    assert_eq!(stats.decode_errors, 0, "nothing forged reached the decoder");
    assert!(stats.checkpoints >= 2, "it recovered at a new checkpoint");
    while let Some(event) = host.host.next_event(Duration::from_millis(10)) {
        assert!(
            !matches!(event, HostEvent::Input { .. }),
            "forged input reached the host: {event:?}"
        );
    }
    drop(viewer);
    stage.end();
}

/// A raw host connection from a given local address (any 127/8 address is ours on Linux).
async fn host_from(local: &str, relay: SocketAddr) -> RawClient {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    let stream = socket.connect(relay).await.expect("connect");
    RawClient::over(stream, relay, "/ws/host").await
}

#[test]
fn one_network_cannot_take_every_session() {
    let rt = runtime();
    let mut config = relay_config();
    config.max_sessions_per_client = 3;
    let relay = start_relay(&rt, config);
    let addr = relay.local_addr();
    rt.block_on(async {
        let mut hosts = Vec::new();
        for i in 0..3 {
            let mut c = host_from("127.0.0.1", addr).await;
            c.send(host_hello(None, i)).await;
            assert!(matches!(
                Message::decode(&c.next().await.unwrap()),
                Ok(Message::SessionReady { .. })
            ));
            hosts.push(c);
        }
        let mut over = host_from("127.0.0.9", addr).await; // same /24
        over.send(host_hello(None, 9)).await;
        assert_eq!(over.close_code().await, close::FULL);
        let mut other = host_from("127.1.0.1", addr).await;
        other.send(host_hello(None, 8)).await;
        assert!(
            matches!(
                Message::decode(&other.next().await.unwrap()),
                Ok(Message::SessionReady { .. })
            ),
            "another network still gets a code"
        );
    });
    rt.block_on(relay.shutdown());
}

#[test]
fn slow_and_silent_connections_are_closed() {
    let rt = runtime();
    let mut config = relay_config();
    config.header_timeout = Duration::from_secs(2);
    let relay = start_relay(&rt, config);
    let addr = relay.local_addr();
    let closed_after = rt.block_on(async {
        let mut sockets = Vec::new();
        for i in 0..20 {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            if i % 2 == 0 {
                s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap(); // never finished
            }
            sockets.push(s);
        }
        let started = Instant::now();
        let mut times = Vec::new();
        for mut s in sockets {
            let mut buf = [0u8; 256];
            loop {
                match tokio::time::timeout(Duration::from_secs(15), s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(_)) => continue, // an error response before the close
                    Err(_) => panic!("a slow or silent connection is still open after 15 s"),
                }
            }
            times.push(started.elapsed().as_secs_f64());
        }
        times
    });
    println!(
        "20 slow/silent connections closed after {:.1}..{:.1} s",
        closed_after[0], closed_after[19]
    );
    rt.block_on(relay.shutdown());
}
