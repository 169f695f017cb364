//! Quick connect end to end over real WebSockets on 127.0.0.1: relay + host (a corpus recording) +
//! Rust viewers that decode with `glimpse::Decoder`. A viewer from the start, a slow one, a late
//! joiner and one whose connection is cut and resumed all end on the host's last frame, pixel-exact.
//! Plus the safety basics: wrong keys, rate limiting, malformed and oversized messages, input
//! without a grant, and remote control with a grant.

#[path = "../../examples/quick/host.rs"]
mod host;
#[path = "../../examples/quick/relay.rs"]
mod relay;
#[path = "../../examples/quick/viewer.rs"]
mod viewer;
#[path = "../../examples/quick/wire.rs"]
mod wire;
mod xvfb;

use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use glimpse::session::{InputEvent, SessionKey, SessionMessage};
use glimpse::EncoderConfig;
use host::{ControlPolicy, EncodeConfig, EncodeStats, HostEvent, LinkCommand, Source};
use tokio::sync::mpsc;
use viewer::{Join, ViewerClient, ViewerOptions};

/// Records injected input instead of touching an X server.
struct Recorder(Arc<Mutex<Vec<InputEvent>>>);

impl host::InputSink for Recorder {
    fn inject(&mut self, event: &InputEvent) -> Result<(), String> {
        self.0.lock().unwrap().push(*event);
        Ok(())
    }
}

struct Host {
    key: SessionKey,
    stats: Arc<Mutex<EncodeStats>>,
    injected: Arc<Mutex<Vec<InputEvent>>>,
    encoder: std::thread::JoinHandle<()>,
    link: tokio::task::JoinHandle<host::LinkEnd>,
    events: mpsc::UnboundedReceiver<HostEvent>,
    commands: mpsc::UnboundedSender<LinkCommand>,
}

async fn start_host(
    base: &str,
    corpus: &str,
    fps: f64,
    frames: Option<u64>,
    policy: ControlPolicy,
) -> Host {
    let corpus = host::CorpusSource::open(corpus, false).expect("corpus");
    let stats = Arc::new(Mutex::new(EncodeStats::default()));
    let injected = Arc::new(Mutex::new(Vec::new()));
    let (packets_tx, mut packets_rx) = mpsc::channel(64);
    let (encoder_tx, encoder_rx) = std_mpsc::channel();
    let (local_tx, mut local_rx) = mpsc::unbounded_channel();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (commands, mut commands_rx) = mpsc::unbounded_channel();
    let config = EncodeConfig {
        fps,
        max_frames: frames,
        max_duration: Some(Duration::from_secs(60)),
        encoder: EncoderConfig::default(),
        keep_last_frame: true,
        last_frame_file: None,
    };
    let s = stats.clone();
    let sink: Box<dyn host::InputSink> = Box::new(Recorder(injected.clone()));
    let encoder = std::thread::spawn(move || {
        host::run_encoder(
            Source::Corpus(Box::new(corpus)),
            config,
            encoder_rx,
            packets_tx,
            Some(sink),
            Some(local_tx),
            s,
        )
        .expect("encoder");
    });
    let url = format!("{base}/ws/host");
    let link = tokio::spawn(async move {
        host::run_link(
            &url,
            &mut packets_rx,
            &encoder_tx,
            &mut commands_rx,
            &mut local_rx,
            &events_tx,
            policy,
        )
        .await
    });
    let key = loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Some(HostEvent::Ready { key })) => break key,
            Ok(Some(_)) => continue,
            other => panic!("no session key: {other:?}"),
        }
    };
    Host {
        key,
        stats,
        injected,
        encoder,
        link,
        events,
        commands,
    }
}

async fn start_relay(fanout: glimpse::session::FanOutConfig) -> (relay::RelayHandle, String) {
    let mut config = relay::RelayConfig::default();
    config.listen.set_port(0);
    config.fanout = fanout;
    config.max_lag_ms = 600;
    let handle = relay::start(config).await.expect("relay");
    let base = format!("ws://{}", handle.addr);
    (handle, base)
}

fn last_frame(host: &Host) -> (u32, u32, Vec<u8>) {
    host.stats
        .lock()
        .unwrap()
        .last_frame
        .clone()
        .expect("host encoded a frame")
}

fn last_seq(host: &Host) -> u64 {
    host.stats
        .lock()
        .unwrap()
        .timings
        .last()
        .expect("a packet")
        .0
}

/// Reads until the viewer is at `seq` and its screen equals `frame`.
async fn settle(v: &mut ViewerClient, seq: u64, frame: &(u32, u32, Vec<u8>), who: &str) {
    assert!(
        v.run_until_seq(seq, Duration::from_secs(20)).await.unwrap(),
        "{who}: did not reach seq {seq} (at {:?}, closed {:?})",
        v.last_seq,
        v.closed
    );
    let screen = v.screen().expect("a screen");
    assert_eq!((screen.0, screen.1), (frame.0, frame.1), "{who}: size");
    assert!(
        screen.2 == frame.2,
        "{who}: pixels differ from the host's last frame"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_slow_and_resumed_viewers_end_pixel_exact() {
    let mut fanout = glimpse::session::FanOutConfig::default();
    // Small windows so that the slow viewer really falls behind and skips.
    fanout.window_bytes = 256 << 10;
    fanout.max_lag_bytes = 1 << 20;
    let (relay, base) = start_relay(fanout).await;
    let host = start_host(
        &base,
        "scroll_terminal@1280x720",
        30.0,
        Some(200),
        ControlPolicy::Refuse,
    )
    .await;
    let key = host.key.to_string();
    let fast = ViewerOptions::default();
    let slow = ViewerOptions {
        decode: true,
        read_delay: Duration::from_millis(100),
    };
    let mut a = ViewerClient::join(&base, Join::Key(key.clone()), fast)
        .await
        .unwrap();
    let mut b = ViewerClient::join(&base, Join::Key(key.clone()), slow)
        .await
        .unwrap();
    let mut d = ViewerClient::join(&base, Join::Key(key.clone()), fast)
        .await
        .unwrap();
    // Everyone reads for a while; halfway a late joiner arrives; d's connection is cut and resumed.
    let (ra, rb, rd) = tokio::join!(
        a.run_for(Duration::from_millis(1500)),
        b.run_for(Duration::from_millis(1500)),
        d.run_for(Duration::from_millis(700)),
    );
    assert!(ra.unwrap() && rb.unwrap() && rd.unwrap());
    assert!(d.first_screen.is_some(), "d saw a screen before the cut");
    d.cut();
    let joined = Instant::now();
    let mut c = ViewerClient::join(&base, Join::Key(key.replace(' ', "-")), fast)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    d.resume().await.expect("resume without the key");
    let (ra, rb, rc, rd) = tokio::join!(
        a.run_for(Duration::from_secs(1)),
        b.run_for(Duration::from_secs(1)),
        c.run_for(Duration::from_secs(1)),
        d.run_for(Duration::from_secs(1)),
    );
    assert!(ra.unwrap() && rb.unwrap() && rc.unwrap() && rd.unwrap());
    let first = c.first_screen.expect("late joiner saw a screen");
    assert!(
        first < Duration::from_secs(1),
        "late joiner's first screen took {first:?}"
    );
    println!(
        "late joiner: first full screen {:.0} ms after connecting ({:?} since the join started)",
        first.as_secs_f64() * 1000.0,
        joined.elapsed()
    );
    // The host finishes its 200 frames (the recording holds 100: its last frame stays).
    let deadline = Instant::now() + Duration::from_secs(30);
    while host.stats.lock().unwrap().frames < 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let frame = last_frame(&host);
    let seq = last_seq(&host);
    let ((), (), (), ()) = tokio::join!(
        settle(&mut a, seq, &frame, "from the start"),
        settle(&mut b, seq, &frame, "slow"),
        settle(&mut c, seq, &frame, "late joiner"),
        settle(&mut d, seq, &frame, "resumed"),
    );
    println!(
        "slow viewer: {} packets, {} checkpoints; fast viewer: {} packets, {} checkpoints; host checkpoints {}",
        b.packets,
        b.checkpoints,
        a.packets,
        a.checkpoints,
        host.stats.lock().unwrap().checkpoints
    );
    assert_eq!(
        a.checkpoints, 1,
        "a viewer in step gets no extra checkpoint"
    );
    assert!(
        b.checkpoints >= 2,
        "the slow viewer skipped to a newer checkpoint"
    );
    assert_eq!(
        a.decode_errors + b.decode_errors + c.decode_errors + d.decode_errors,
        0
    );
    drop(host.commands);
    host.link.abort();
    let _ = host.encoder.join();
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_messages_and_control_are_safe() {
    let (relay, base) = start_relay(Default::default()).await;
    let mut host = start_host(
        &base,
        "typing_terminal@1280x720",
        20.0,
        None,
        ControlPolicy::Ask,
    )
    .await;
    let key = host.key.to_string();
    let fast = ViewerOptions::default();

    // A wrong key is refused with a reason.
    let wrong = if host.key.value() == 1 {
        "000000002"
    } else {
        "000000001"
    };
    let err = ViewerClient::join(&base, Join::Key(wrong.into()), fast)
        .await
        .err()
        .expect("wrong key refused");
    assert!(err.contains("4004"), "{err}");

    // Viewer v watches; a malformed message closes only the sender.
    let mut v = ViewerClient::join(&base, Join::Key(key.clone()), fast)
        .await
        .unwrap();
    let mut bad = ViewerClient::join(&base, Join::Key(key.clone()), fast)
        .await
        .unwrap();
    bad.send_raw(vec![b'G', 1, 99, 1, 2, 3]).await.unwrap();
    assert!(!bad.run_for(Duration::from_secs(3)).await.unwrap());
    let (code, reason) = bad.closed.clone().expect("closed with a reason");
    assert_eq!(code, relay::close::POLICY, "{reason}");
    // Oversized message: closed too.
    let mut big = ViewerClient::join(&base, Join::Key(key.clone()), fast)
        .await
        .unwrap();
    let _ = big.send_raw(vec![0u8; 64 << 10]).await;
    assert!(!big.run_for(Duration::from_secs(3)).await.unwrap());
    assert!(big.closed.is_some());
    // A viewer may not pretend to be the host.
    let mut liar = ViewerClient::join(&base, Join::Key(key.clone()), fast)
        .await
        .unwrap();
    liar.send(&SessionMessage::GrantControl { viewer: liar.id })
        .await
        .unwrap();
    assert!(!liar.run_for(Duration::from_secs(3)).await.unwrap());
    assert!(
        v.run_for(Duration::from_millis(500)).await.unwrap(),
        "v still watching"
    );
    assert!(v.last_seq.is_some());

    // Input without a grant never reaches the host.
    v.input(InputEvent::PointerMove { x: 10, y: 10 })
        .await
        .unwrap();
    v.run_for(Duration::from_millis(300)).await.unwrap();
    assert!(host.injected.lock().unwrap().is_empty());

    // Ask, the host grants, input flows; the host revokes, input stops.
    v.request_control().await.unwrap();
    let requested = loop {
        tokio::select! {
            e = host.events.recv() => match e {
                Some(HostEvent::ControlRequested { viewer }) => break viewer,
                Some(_) => continue,
                None => panic!("link ended"),
            },
            _ = tokio::time::sleep(Duration::from_secs(5)) => panic!("no control request"),
        }
    };
    assert_eq!(requested, v.id);
    host.commands.send(LinkCommand::Grant(requested)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !v.granted && Instant::now() < deadline {
        v.run_for(Duration::from_millis(50)).await.unwrap();
    }
    assert!(v.granted, "control granted");
    v.input(InputEvent::PointerMove { x: 100, y: 200 })
        .await
        .unwrap();
    v.input(InputEvent::Key {
        keysym: 0x61,
        down: true,
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while host.injected.lock().unwrap().len() < 2 && Instant::now() < deadline {
        v.run_for(Duration::from_millis(50)).await.unwrap();
    }
    assert_eq!(
        host.injected.lock().unwrap().as_slice(),
        &[
            InputEvent::PointerMove { x: 100, y: 200 },
            InputEvent::Key {
                keysym: 0x61,
                down: true
            }
        ]
    );
    host.commands.send(LinkCommand::Revoke).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !v.revoked && Instant::now() < deadline {
        v.run_for(Duration::from_millis(50)).await.unwrap();
    }
    assert!(v.revoked, "control revoked");
    v.input(InputEvent::PointerMove { x: 5, y: 5 })
        .await
        .unwrap();
    v.run_for(Duration::from_millis(300)).await.unwrap();
    assert_eq!(
        host.injected.lock().unwrap().len(),
        2,
        "no input after revoke"
    );

    // The host removes the viewer: closed with a reason, and no resume.
    host.commands.send(LinkCommand::Remove(v.id)).unwrap();
    assert!(!v.run_for(Duration::from_secs(3)).await.unwrap());
    assert_eq!(v.closed.as_ref().map(|c| c.0), Some(relay::close::REMOVED));
    assert!(v.resume().await.is_err(), "a removed viewer cannot resume");

    // Wrong keys are rate-limited per address: after the limit even the right key is refused.
    let mut limited = false;
    for _ in 0..10 {
        let r = ViewerClient::join(&base, Join::Key(wrong.into()), fast).await;
        if r.err().is_some_and(|e| e.contains("4029")) {
            limited = true;
            break;
        }
    }
    assert!(limited, "wrong keys are rate-limited");
    let err = ViewerClient::join(&base, Join::Key(key.clone()), fast)
        .await
        .err()
        .expect("rate-limited even with the right key");
    assert!(err.contains("4029"), "{err}");

    host.link.abort();
    drop(host.commands);
    relay.shutdown().await;
    let _ = host.encoder.join();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_keys_expire_and_the_host_is_told() {
    let mut config = relay::RelayConfig::default();
    config.listen.set_port(0);
    config.keys.unused_ttl_ms = 1000;
    let relay = relay::start(config).await.expect("relay");
    let base = format!("ws://{}", relay.addr);
    let host = start_host(
        &base,
        "idle_clock@1280x720",
        10.0,
        None,
        ControlPolicy::Refuse,
    )
    .await;
    let key = host.key.to_string();
    // Nobody joins: after the TTL the relay ends the session with a reason the host can act on.
    let end = tokio::time::timeout(Duration::from_secs(10), host.link)
        .await
        .expect("the session ends by itself")
        .expect("link task");
    match end {
        host::LinkEnd::Closed { code, reason } => {
            assert_eq!(code, relay::close::EXPIRED, "{reason}");
        }
        other => panic!("expected an expiry close, got {other:?}"),
    }
    let err = ViewerClient::join(&base, Join::Key(key), ViewerOptions::default())
        .await
        .err()
        .expect("an expired key is refused");
    assert!(err.contains("4004") || err.contains("4010"), "{err}");
    drop(host.commands);
    relay.shutdown().await;
    let _ = host.encoder.join();
}
