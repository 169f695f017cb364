//! Sessions over real WebSockets on 127.0.0.1, in one process: a relay, a host playing a
//! recording through the Rust API, and Rust viewers that decode. A viewer from the start, a slow
//! one, a late joiner and one whose connection is cut all end on the host's last frame,
//! pixel-exact; the host's link drops and comes back, and the relay restarts, without anyone
//! typing the key again.

use std::time::{Duration, Instant};

use glimpse::session::FanOutConfig;
use glimpse_connect::{ControlPolicy, HostEvent, Viewer, ViewerConfig, ViewerEvent};

use crate::common::{
    recording, relay_config, runtime, start_relay, wait_exact, PlayingHost, Stage, StallProxy,
};

fn viewer(relay_url: &str, host: &PlayingHost, name: &str) -> Viewer {
    let mut config = ViewerConfig::new(relay_url, host.host.code());
    config.name = name.into();
    Viewer::join(config).unwrap_or_else(|e| panic!("{name} joins: {e}"))
}

#[test]
fn late_slow_and_cut_viewers_end_pixel_exact() {
    let mut config = relay_config();
    let mut fanout = FanOutConfig::default();
    // Small windows so that the slow viewer really falls behind and skips.
    fanout.window_bytes = 256 << 10;
    fanout.max_lag_bytes = 1 << 20;
    config.fanout = fanout;
    // Every skip is paid for at once (the default budget would make the slow viewer wait).
    config.skip_checkpoint_share = 1000.0;
    let stage = Stage::with(
        config,
        recording("scroll_terminal", 100),
        30.0,
        ControlPolicy::ViewOnly,
    );
    let (url, host) = (&stage.url, &stage.host);
    let from_start = viewer(url, host, "from the start");
    let mut slow_config = ViewerConfig::new(url, stage.code());
    slow_config.read_delay = Duration::from_millis(100);
    let slow = Viewer::join(slow_config).expect("slow viewer joins");
    let cut = viewer(url, host, "cut");
    std::thread::sleep(Duration::from_millis(1200));
    cut.cut_connection().unwrap();
    let joined = Instant::now();
    let late = viewer(url, host, "late");
    let late_first = joined.elapsed();
    host.wait_done(Duration::from_secs(30));
    for (who, v) in [
        ("from the start", &from_start),
        ("slow", &slow),
        ("late", &late),
        ("cut", &cut),
    ] {
        assert!(
            wait_exact(v, &host.last, Duration::from_secs(20)),
            "{who}: not the host's last frame"
        );
    }
    let (a, b, c, d) = (from_start.stats(), slow.stats(), late.stats(), cut.stats());
    println!(
        "late joiner: first screen in {:.0} ms; slow viewer: {} packets, {} checkpoints; in step: {} packets, {} checkpoints; cut viewer: {} reconnects",
        late_first.as_secs_f64() * 1000.0, b.packets, b.checkpoints, a.packets, a.checkpoints, d.reconnects
    );
    assert_eq!(
        a.checkpoints, 1,
        "a viewer in step gets no extra checkpoint"
    );
    assert!(
        b.checkpoints >= 2,
        "the slow viewer skipped to a newer checkpoint"
    );
    assert_eq!(d.reconnects, 1, "the cut viewer came back by itself");
    assert_eq!(
        a.decode_errors + b.decode_errors + c.decode_errors + d.decode_errors,
        0
    );
    stage.end();
}

/// 120 viewers join at the same moment, more than a session lets through to its host at once:
/// the later ones wait their turn at the relay (or retry when told it is busy), and every one of
/// them gets in. None is refused.
#[test]
fn a_crowd_joining_at_once_waits_its_turn_and_all_get_in() {
    let stage = Stage::start("typing_editor", 400, 10.0, ControlPolicy::ViewOnly);
    let code = stage.code();
    let crowd: Vec<Viewer> = std::thread::scope(|scope| {
        let joins: Vec<_> = (0..120)
            .map(|i| {
                let (url, handle) = (&stage.url, stage.rt.handle().clone());
                scope.spawn(move || {
                    let mut config = ViewerConfig::new(url, code);
                    config.decode = false;
                    config.runtime = Some(handle);
                    Viewer::join(config).unwrap_or_else(|e| panic!("viewer {i} joins: {e}"))
                })
            })
            .collect();
        joins.into_iter().map(|j| j.join().unwrap()).collect()
    });
    assert_eq!(crowd.len(), 120);
    for (i, v) in crowd.iter().enumerate() {
        assert_eq!(
            v.stats().reconnects,
            0,
            "viewer {i}: waiting is not reconnecting"
        );
    }
    drop(crowd);
    stage.end();
}

/// The host's link stalls for 5 s (a proxy stops forwarding): the host notices, reconnects with
/// its secret and keeps its key; the viewers, connected straight to the relay, see the host away
/// and back, and end pixel-exact.
#[test]
fn a_stalled_host_link_comes_back_with_the_same_code() {
    let rt = runtime();
    let relay = start_relay(&rt, relay_config());
    let proxy = rt.block_on(StallProxy::start(relay.local_addr()));
    let host = PlayingHost::start(
        &format!("ws://{}", proxy.addr),
        recording("typing_editor", 100),
        10.0,
        ControlPolicy::ViewOnly,
    );
    let key = host.host.code();
    let v = viewer(&relay.ws_url(), &host, "direct");
    std::thread::sleep(Duration::from_millis(1500));
    proxy.stall(true);
    std::thread::sleep(Duration::from_secs(5));
    let mut saw_away = false;
    while let Some(e) = v.next_event(Duration::ZERO) {
        saw_away |= e == ViewerEvent::HostStatus { connected: false };
    }
    let seq_before = v.seq().unwrap_or(0);
    proxy.stall(false);
    let back = Instant::now();
    let mut first_after = None;
    while first_after.is_none() && back.elapsed() < Duration::from_secs(15) {
        match v.next_event(Duration::from_millis(100)) {
            Some(ViewerEvent::HostStatus { connected: false }) => saw_away = true,
            Some(ViewerEvent::Screen { seq }) if seq > seq_before => {
                first_after = Some(back.elapsed())
            }
            _ => {}
        }
    }
    let first_after = first_after.expect("frames flow again after the stall");
    host.wait_done(Duration::from_secs(30));
    assert!(
        wait_exact(&v, &host.last, Duration::from_secs(15)),
        "viewer ends pixel-exact"
    );
    let mut resumed = false;
    while let Some(e) = host.host.next_event(Duration::from_millis(10)) {
        resumed |= matches!(e, HostEvent::Ready { code: k, resumed: true } if k == key);
    }
    println!("host stall 5 s: first new frame {:.0} ms after the link came back; host away seen: {saw_away}", first_after.as_secs_f64() * 1000.0);
    assert!(resumed, "the host took its session back with the same code");
    assert_eq!(host.host.code(), key);
    assert!(saw_away, "viewers were told the host was away");
    assert_eq!(host.host.stats().reconnects, 1);
    drop(host);
    rt.block_on(relay.shutdown());
}

/// The relay stops (every connection closed with 1012) and starts again on the same port: the host
/// re-creates its session under the same key, viewers rejoin with it, all without a person.
#[test]
fn a_relay_restart_loses_no_session() {
    let mut stage = Stage::start("typing_terminal", 100, 10.0, ControlPolicy::ViewOnly);
    let addr = stage.relay.local_addr();
    let key = stage.code();
    let viewers: Vec<Viewer> = (0..2)
        .map(|i| viewer(&stage.url, &stage.host, &format!("viewer {i}")))
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    stage.rt.block_on(stage.relay.shutdown());
    std::thread::sleep(Duration::from_millis(500));
    let mut config = relay_config();
    config.listen = addr;
    stage.relay = start_relay(&stage.rt, config);
    let restarted = Instant::now();
    for v in &viewers {
        while v.next_event(Duration::ZERO).is_some() {} // what happened before the restart
    }
    let seqs: Vec<u64> = viewers.iter().map(|v| v.seq().unwrap_or(0)).collect();
    let mut firsts = Vec::new();
    for (v, before) in viewers.iter().zip(seqs) {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < until, "no frame after the restart");
            if let Some(ViewerEvent::Screen { seq }) = v.next_event(Duration::from_millis(100)) {
                if seq > before {
                    firsts.push(restarted.elapsed().as_secs_f64() * 1000.0);
                    break;
                }
            }
        }
    }
    stage.host.wait_done(Duration::from_secs(30));
    for v in &viewers {
        assert!(
            wait_exact(v, &stage.host.last, Duration::from_secs(15)),
            "pixel-exact after the restart"
        );
        assert!(v.stats().reconnects >= 1);
    }
    assert_eq!(stage.code(), key, "same code after the restart");
    assert_eq!(stage.relay.stats().sessions, 1);
    println!("relay restart: first new frame per viewer {firsts:?} ms after the relay was back");
    stage.end();
}

/// The host ends its session right after its last frame: that frame still reaches every viewer
/// before the session closes (nothing queued is dropped at the end).
#[test]
fn the_last_frame_reaches_viewers_when_the_host_ends() {
    let stage = Stage::start("scroll_terminal", 40, 40.0, ControlPolicy::ViewOnly);
    let host = &stage.host;
    let v = viewer(&stage.url, host, "to the end");
    host.wait_done(Duration::from_secs(30));
    host.host.close();
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < until, "the session did not end");
        if let Some(ViewerEvent::Ended(_)) = v.next_event(Duration::from_millis(100)) {
            break;
        }
    }
    assert_eq!(
        v.screen().map(|s| s.pixels),
        Some(host.last.pixels.clone()),
        "the last frame arrived before the end"
    );
    stage.end();
}
