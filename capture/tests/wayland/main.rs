//! The Wayland backend against a real compositor: GNOME mutter (headless, no GPU), xdg-desktop-portal
//! with its GNOME backend, PipeWire, as `capture/wayland/headless-session.sh` starts them
//! (`bash capture/wayland-ci.sh` runs these tests inside it).
//!
//! Outside such a session every test prints SKIPPED and passes, unless `GLIMPSE_REQUIRE_WAYLAND=1`
//! is set: then they fail. The tests take turns (one portal session at a time).
#![cfg(all(target_os = "linux", feature = "wayland"))]

use glimpse::internals::damage;
use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Rect};
use glimpse_capture::{
    detect_backend, open, Backend, BackendChoice, CaptureOptions, PortalSource, RemoteInput,
    ScreenSource,
};
use glimpse_testkit::{
    answer_dialog, artifacts, bbox, centre, skip, terminal_area, wait_for_shot, DialogAnswer,
    HeadlessSession, LocalUser, PipeWireGrab, Shot, ACCENT, TERMINAL,
};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The running headless session, ours alone while a test runs.
struct Session {
    headless: HeadlessSession,
    _turn: MutexGuard<'static, ()>,
}

/// The session, or `None` (test skipped) outside one unless `GLIMPSE_REQUIRE_WAYLAND=1`.
fn session() -> Option<Session> {
    static TURN: Mutex<()> = Mutex::new(());
    let headless = HeadlessSession::from_env("capture/wayland-ci.sh", "portal-restore-tokens")?;
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    Some(Session {
        headless,
        _turn: turn,
    })
}

impl Session {
    fn options(&self) -> CaptureOptions {
        let mut options = CaptureOptions::default();
        options.backend = BackendChoice::Portal;
        options.restore_token_file = Some(self.headless.token_file.clone());
        options.dialog_timeout = Duration::from_secs(30);
        options
    }

    /// A screen-cast session that the restore token lets through without a dialog.
    fn screencast(&self) -> PortalSource {
        let (source, input) = PortalSource::open(&self.options()).expect("portal screen cast");
        assert!(input.is_none());
        source
    }
}

/// A copy of a captured frame (mutter streams BGRx).
fn shot(frame: &glimpse_capture::CapturedFrame<'_>) -> Shot {
    assert_eq!(
        frame.format,
        glimpse::PixelFormat::Bgra8,
        "mutter streams BGRx"
    );
    Shot::of_rows(frame.pixels, frame.width, frame.height, frame.stride)
}

/// Captures until the compositor has sent nothing for `quiet`; returns the last frame.
fn settle(source: &mut PortalSource, quiet: Duration) -> Shot {
    while source.wait_for_frame(quiet).expect("stream alive") {
        source.capture().expect("capture");
    }
    shot(&source.capture().expect("capture"))
}

/// The newest frame of `source` (waiting briefly for a new one).
fn latest(source: &mut PortalSource) -> Shot {
    source
        .wait_for_frame(Duration::from_millis(200))
        .expect("stream alive");
    shot(&source.capture().expect("capture"))
}

#[test]
fn backend_is_detected_and_the_dialog_is_asked_once() {
    let Some(session) = session() else { return };
    let (backend, notes) = detect_backend(&CaptureOptions::default());
    assert_eq!(backend, Backend::Portal, "notes: {notes:?}");
    let mut options = session.options();
    options.backend = BackendChoice::Auto;
    // No dialog may show: every session restores the remembered choice.
    options.dialog_timeout = Duration::from_secs(15);
    for round in 0..2 {
        let mut opened = open(&options).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(opened.backend, Backend::Portal);
        assert_eq!(opened.source.kind(), "portal");
        let size = opened.source.size();
        assert!(size.0 > 0 && size.1 > 0, "{size:?}");
        let frame = opened.source.capture().expect("capture");
        assert_eq!((frame.width, frame.height), size);
    }
    let tokens = std::fs::read_to_string(&session.headless.token_file).expect("token file");
    assert!(
        tokens.lines().any(|l| l.starts_with("monitor ")),
        "{tokens}"
    );
    assert!(matches!(
        glimpse_capture::list_monitors(&options),
        Err(glimpse_capture::CaptureError::Unsupported(_))
    ));
}

#[test]
fn still_screen_gives_the_last_frame_with_empty_damage() {
    let Some(session) = session() else { return };
    session.headless.set_paused(true);
    let mut source = session.screencast();
    let last = settle(&mut source, Duration::from_millis(600));
    let received = source.stats().frames_received;
    for _ in 0..5 {
        let frame = source.capture().expect("a still screen is no error");
        assert_eq!(frame.damage, Some(vec![]));
        assert_eq!(shot(&frame), last);
    }
    assert_eq!(
        source.stats().frames_received,
        received,
        "the compositor sent nothing"
    );
    let changed = source.wait_for_change(Duration::from_millis(300)).unwrap();
    assert!(!changed, "a still screen is no change");
    let stats = source.stats();
    assert_eq!(stats.buffer_kind, Some("memfd"), "{stats:?}");
}

#[test]
fn damage_hints_cover_every_change_and_little_else() {
    let Some(session) = session() else { return };
    let mut source = session.screencast();
    let first = source.capture().expect("capture");
    let mut prev = shot(&first);
    let (mut hinted, mut whole, mut changed_frames) = (0u64, 0u64, 0);
    for _ in 0..10 {
        assert!(
            source.wait_for_frame(Duration::from_secs(5)).unwrap(),
            "the clock ticks"
        );
        let frame = source.capture().expect("capture");
        let hints = frame.damage.clone().expect("hints after the first frame");
        let cur = shot(&frame);
        let exact = damage::detect(&prev.frame(), &cur.frame(), None, 64);
        let with_hints = damage::detect(&prev.frame(), &cur.frame(), Some(&hints), 64);
        assert_eq!(with_hints, exact, "the hints {hints:?} miss a change");
        changed_frames += usize::from(!exact.is_empty());
        hinted += hints.iter().map(Rect::area).sum::<u64>();
        whole += u64::from(cur.width) * u64::from(cur.height);
        prev = cur;
    }
    assert!(changed_frames > 0, "the clock changed nothing");
    assert!(
        hinted * 20 < whole,
        "hints cover {hinted} of {whole} pixels compared"
    );
    println!(
        "hints: {hinted} of {whole} pixels ({:.2}%)",
        hinted as f64 * 100.0 / whole as f64
    );
}

#[test]
fn viewer_screen_equals_an_independent_pipewire_grab() {
    let Some(session) = session() else { return };
    session.headless.set_paused(true);
    let mut source = session.screencast();
    let node = source.info().node_id;
    let mut encoder = Encoder::new(EncoderConfig::default());
    let mut viewer = Decoder::new(DecoderConfig::default());
    let mut encode = |frame: &glimpse_capture::CapturedFrame<'_>| {
        let f = frame.frame().unwrap();
        let packet = match &frame.damage {
            Some(hints) => encoder.encode_with_hints(&f, hints),
            None => encoder.encode(&f),
        };
        if let Some(packet) = packet.expect("encode") {
            viewer.apply(packet.as_bytes()).expect("decode");
        }
    };
    encode(&source.capture().unwrap());
    settle(&mut source, Duration::from_millis(600));
    encode(&source.capture().unwrap());
    // The grab waits for the next buffer; the clock ticks once at a time until it has one, and
    // every tick's frame is kept: the grab must equal one of them exactly, the viewer the last.
    let mut gst = PipeWireGrab::start(node, artifacts().join("gstreamer-grab.bgrx"));
    let mut ours = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = gst.finished() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "gst-launch grabbed nothing in 30 s"
        );
        session.headless.step();
        assert!(
            source.wait_for_frame(Duration::from_secs(5)).unwrap(),
            "a tick makes a frame"
        );
        let frame = source.capture().unwrap();
        encode(&frame);
        ours.push(shot(&frame));
        let waited = Instant::now();
        while gst.finished().is_none() && waited.elapsed() < Duration::from_millis(700) {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert!(status.success(), "gst-launch failed: {status}");
    let last = ours.last().expect("a frame").clone();
    let grabbed = gst.shot(last.width, last.height);
    let index = ours.iter().position(|s| *s == grabbed);
    if index.is_none() {
        grabbed.write_ppm("gstreamer-grab.ppm");
        last.write_ppm("ours-last.ppm");
    }
    assert!(
        index.is_some(),
        "the independent grab equals none of our {} frames",
        ours.len()
    );
    let screen = viewer.framebuffer().expect("viewer screen");
    assert_eq!(
        screen.pixels,
        &last.pixels[..],
        "the viewer's screen is not the captured one"
    );
    println!(
        "grab equals our frame {} of {}",
        index.unwrap() + 1,
        ours.len()
    );
}

/// Waits until the stream's cursor metadata puts the pointer at (x, y).
fn wait_cursor_at(source: &mut PortalSource, x: i32, y: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cursor = source.cursor().expect("cursor").expect("cursor metadata");
        if cursor.visible && (cursor.x, cursor.y) == (x, y) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "cursor at {},{}, not {x},{y}",
            cursor.x,
            cursor.y
        );
        source
            .wait_for_frame(Duration::from_millis(50))
            .expect("stream alive");
    }
}

#[test]
fn refused_dialog_is_a_clear_error() {
    let Some(session) = session() else { return };
    let mut watch = session.screencast();
    let user = LocalUser::start("Meta-0");
    let mut options = session.options();
    options.remote_control = true;
    let opener = std::thread::spawn(move || PortalSource::open(&options).map(|_| ()));
    answer_dialog(|| latest(&mut watch), &user, DialogAnswer::Cancel);
    let result = opener.join().expect("no panic");
    assert!(
        matches!(result, Err(glimpse_capture::CaptureError::Refused)),
        "{result:?}"
    );
}

#[test]
fn remote_input_reaches_the_terminal_and_local_motion_takes_priority() {
    let Some(session) = session() else { return };
    session.headless.set_paused(true);
    let mut watch = session.screencast();
    let user = LocalUser::start("Meta-0");
    let mut options = session.options();
    options.remote_control = true;
    let opener = std::thread::spawn(move || PortalSource::open(&options));
    answer_dialog(|| latest(&mut watch), &user, DialogAnswer::ShareWithInput);
    let (mut source, input) = opener
        .join()
        .expect("no panic")
        .expect("remote desktop session");
    drop(watch);
    let mut input = input.expect("the dialog granted input");
    assert_eq!(input.granted(), (true, true));
    assert!(source.info().cursor_as_metadata);

    // A click in the middle of the terminal: screen-app paints a green block under it.
    let screen = wait_for_shot(
        "dialog-gone",
        || latest(&mut source),
        |s| bbox(s, Rect::new(0, 0, s.width, s.height), |c| c == ACCENT).is_none(),
    );
    let (x, y) = centre(terminal_area(&screen));
    let first_shape = source.cursor().unwrap().and_then(|c| c.shape);
    input.pointer_move(x as i32, y as i32).unwrap();
    input
        .button(glimpse_capture::mouse_button::LEFT, true)
        .unwrap();
    input
        .button(glimpse_capture::mouse_button::LEFT, false)
        .unwrap();
    input.sync().expect("the portal took the click");
    wait_for_shot(
        "click-painted",
        || latest(&mut source),
        |s| s.rgb(x, y) == 0x00ff00,
    );
    let clicks = session.headless.log("clicks.txt");
    assert_eq!(clicks.lines().count(), 1, "{clicks}");
    // The cursor came as metadata: where we put it, with its image.
    wait_cursor_at(&mut source, x as i32, y as i32);
    let shape = first_shape
        .or_else(|| {
            (0..100).find_map(|_| {
                source.wait_for_frame(Duration::from_millis(20)).unwrap();
                source.cursor().unwrap().and_then(|c| c.shape)
            })
        })
        .expect("a cursor image");
    assert!(shape.width > 0 && shape.height > 0 && shape.hotspot_x < shape.width);
    assert_eq!(
        shape.pixels.len(),
        (shape.width * shape.height * 4) as usize
    );
    assert!(shape.pixels.chunks_exact(4).any(|p| p[3] == 255));

    // Two wheel notches down: screen-app logs what the terminal reports.
    input.wheel(0, 2).unwrap();
    input.sync().expect("the portal took the wheel");
    let deadline = Instant::now() + Duration::from_secs(10);
    let wheel = loop {
        let log = session.headless.log("wheel.txt");
        if !log.is_empty() || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        !wheel.is_empty() && wheel.lines().all(|l| l == "down"),
        "wheel.txt: {wheel:?}"
    );

    // Typed text: screen-app echoes it on its "typed:" row (above the click), and on Return turns
    // the terminal magenta when the line is right.
    let before = settle(&mut source, Duration::from_millis(400));
    let text = "glimpse 42";
    session.headless.expect_line(text);
    for c in text.chars() {
        input.key(c as u32, true).unwrap();
        input.key(c as u32, false).unwrap();
    }
    input.sync().expect("the portal took the keys");
    let terminal = terminal_area(&before);
    let above_click = Rect::new(terminal.x, terminal.y, terminal.width, y - terminal.y);
    let changed_above_click = |s: &Shot| {
        let changed = damage::detect(&before.frame(), &s.frame(), None, 16);
        !changed.is_empty() && changed.iter().all(|t| above_click.contains(&t.rect))
    };
    wait_for_shot("text-echoed", || latest(&mut source), changed_above_click);
    let echoed = settle(&mut source, Duration::from_millis(400));
    assert!(
        changed_above_click(&echoed),
        "the echo changed more than its row"
    );
    echoed.write_ppm("typed-text.ppm");
    input.key(0xff0d, true).unwrap();
    input.key(0xff0d, false).unwrap();
    input.sync().expect("the portal took the keys");
    let (tx, ty) = (x, y + 40);
    let shot = wait_for_shot(
        "text-accepted",
        || latest(&mut source),
        |s| s.rgb(tx, ty) != TERMINAL && s.rgb(tx, ty) != 0x00ff00,
    );
    let typed = session.headless.log("typed.txt");
    assert_eq!(typed.lines().last(), Some(text), "typed.txt: {typed:?}");
    assert_eq!(
        shot.rgb(tx, ty),
        0xff00ff,
        "screen-app judged the line wrong"
    );
    shot.write_ppm("remote-input.ppm");

    // Host priority: our own motion is not local activity; mutter's (the person at the host) is.
    input.pointer_move(200, 150).unwrap();
    input.sync().unwrap();
    wait_cursor_at(&mut source, 200, 150);
    assert!(
        !input.local_activity().unwrap(),
        "our own motion counted as local"
    );
    user.move_to(600.0, 500.0);
    wait_cursor_at(&mut source, 600, 500);
    assert!(
        input.local_activity().unwrap(),
        "the local motion went unnoticed"
    );
    assert!(!input.local_activity().unwrap(), "reported twice");
    input.release_all().unwrap();
}

/// Stops mutter under a running capture: `capture` must then fail with a clear error (no panic, no
/// hang). Destructive, so it runs alone in a session of its own (`GLIMPSE_WAYLAND_DESTRUCTIVE=1`,
/// set by capture/wayland-ci.sh for that second session).
#[test]
fn vanished_compositor_is_a_clear_error() {
    let Some(session) = session() else { return };
    if std::env::var("GLIMPSE_WAYLAND_DESTRUCTIVE").as_deref() != Ok("1") {
        skip("stops the compositor: runs in a session of its own (capture/wayland-ci.sh)");
        return;
    }
    let pid = std::env::var("GLIMPSE_COMPOSITOR_PID").expect("GLIMPSE_COMPOSITOR_PID");
    let mut source = session.screencast();
    source.capture().expect("capture while mutter runs");
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let error = loop {
        match source.capture() {
            Err(e) => break e,
            Ok(_) => assert!(
                Instant::now() < deadline,
                "still capturing 20 s after mutter stopped"
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    println!("after mutter stopped: {error}");
    assert!(
        matches!(
            error,
            glimpse_capture::CaptureError::SessionClosed(_)
                | glimpse_capture::CaptureError::PipeWire(_)
                | glimpse_capture::CaptureError::Portal(_)
        ),
        "{error:?}"
    );
    assert!(source.wait_for_frame(Duration::from_millis(10)).is_err());
}
