//! `glimpse-share` on a real Wayland desktop: GNOME mutter (headless, no GPU), xdg-desktop-portal
//! with its GNOME backend and PipeWire, as `capture/wayland/headless-session.sh` starts them, with
//! the real `glimpse-relay` and `glimpse-share` and a Rust [`Viewer`]. `bash connect/wayland-ci.sh`
//! runs it inside that session.
//!
//! Ignored by default. Run with `--ignored` outside such a session it prints SKIPPED and passes,
//! unless `GLIMPSE_REQUIRE_WAYLAND=1` is set (the CI script sets it): then it fails.
#![cfg(target_os = "linux")]

#[path = "../support/program.rs"]
mod program;

use glimpse::internals::damage;
use glimpse::session::InputEvent;
use glimpse::Rect;
use glimpse_capture::{BackendChoice, CaptureOptions, PortalSource, ScreenSource};
use glimpse_connect::viewer_session::ControlState;
use glimpse_connect::{JoinCode, Viewer, ViewerConfig, ViewerEvent};
use glimpse_testkit::{
    answer_dialog, artifacts, centre, terminal_area, wait_for_shot, DialogAnswer, HeadlessSession,
    LocalUser, PipeWireGrab, Shot, TERMINAL,
};
use program::Program;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const RELAY: &str = env!("CARGO_BIN_EXE_glimpse-relay");
const SHARE: &str = env!("CARGO_BIN_EXE_glimpse-share");

/// The session, or `None` (test skipped) outside one unless `GLIMPSE_REQUIRE_WAYLAND=1`.
fn session() -> Option<HeadlessSession> {
    HeadlessSession::from_env("connect/wayland-ci.sh", "watch-restore-tokens")
}

/// Our own screen cast of the desktop (the restore token lets it through without a dialog): the
/// test's eyes before glimpse-share has a screen, and the node the independent grab reads.
fn watch(session: &HeadlessSession) -> PortalSource {
    let mut options = CaptureOptions::default();
    options.backend = BackendChoice::Portal;
    options.restore_token_file = Some(session.token_file.clone());
    options.dialog_timeout = Duration::from_secs(30);
    let (source, input) = PortalSource::open(&options).expect("portal screen cast");
    assert!(input.is_none());
    source
}

/// The newest frame of our watch (waiting briefly for a new one).
fn watched(source: &mut PortalSource) -> Shot {
    source
        .wait_for_frame(Duration::from_millis(200))
        .expect("stream alive");
    let frame = source.capture().expect("capture");
    assert_eq!(
        frame.format,
        glimpse::PixelFormat::Bgra8,
        "mutter streams BGRx"
    );
    Shot::of_rows(frame.pixels, frame.width, frame.height, frame.stride)
}

/// The viewer's screen as it is now.
fn viewer_screen(viewer: &Viewer) -> Shot {
    let screen = viewer.screen().expect("a screen");
    Shot {
        pixels: screen.pixels,
        width: screen.width,
        height: screen.height,
    }
}

/// The viewer's screen once it has stopped changing: no update applied for `quiet` (30 s at
/// most). Top-offs of lossy regions come within a few frames of a still screen, so after this the
/// screen is exact.
fn settled(viewer: &Viewer, quiet: Duration) -> Shot {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seq = viewer.seq();
    let mut since = Instant::now();
    while since.elapsed() < quiet {
        assert!(
            Instant::now() < deadline,
            "the viewer's screen never settled"
        );
        std::thread::sleep(Duration::from_millis(50));
        let now = viewer.seq();
        if now != seq {
            (seq, since) = (now, Instant::now());
        }
    }
    viewer_screen(viewer)
}

/// Waits until the viewer's screen satisfies `accept`, for 30 s at most (then it is saved as
/// `name` and the test fails).
fn view_until(viewer: &Viewer, name: &str, accept: impl Fn(&Shot) -> bool) -> Shot {
    let mut first = true;
    let next = || {
        if !std::mem::take(&mut first) {
            std::thread::sleep(Duration::from_millis(50));
        }
        viewer_screen(viewer)
    };
    wait_for_shot(name, next, accept)
}

/// Waits for the viewer to be told that control is now `state`.
fn wait_control(viewer: &Viewer, state: ControlState) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(ViewerEvent::Control { state: s, .. }) =
            viewer.next_event(Duration::from_millis(100))
        {
            if s == state {
                return;
            }
        }
    }
    panic!("control never became {state:?}");
}

/// glimpse-share and its relay, started while the test answers the share dialog.
struct Shared {
    _relay: Program,
    /// The person at the host stays: with their session gone, mutter at times reported the
    /// pointer hidden and a viewer's first click was lost.
    _user: LocalUser,
    share: Program,
    viewer: Viewer,
    stats_file: PathBuf,
}

/// Starts glimpse-relay and `glimpse-share --relay ... --allow-control`, answers the RemoteDesktop
/// dialog share opens (through mutter, as the person at the host), checks that share says it
/// shares through the portal, and joins with a viewer.
fn start_sharing(watch: &mut PortalSource) -> Shared {
    let relay = Program::start(RELAY, &["--listen", "127.0.0.1:0"]);
    let relay_url = relay.wait_line("relay listening on http://", Duration::from_secs(30));
    let relay_ws = format!("ws://{}", relay_url.trim_end_matches('/'));
    let stats_file = artifacts().join("share-stats.json");
    let _ = std::fs::remove_file(&stats_file);
    let stats_arg = stats_file.display().to_string();
    let user = LocalUser::start("Meta-0");
    let share = Program::start(
        SHARE,
        &[
            "--relay",
            &relay_ws,
            "--allow-control",
            "--fps",
            "15",
            "--seconds",
            "300",
            "--stats",
            &stats_arg,
        ],
    );
    answer_dialog(|| watched(watch), &user, DialogAnswer::ShareWithInput);
    let what = share.wait_line("share: sharing the ", Duration::from_secs(60));
    assert!(
        what.starts_with("portal screen 1280x720 through Wayland (xdg-desktop-portal"),
        "{what}"
    );
    let notes = share.lines_starting("share: note: ");
    assert!(
        !notes.iter().any(|n| n.contains("not allowed")),
        "remote control was granted in the dialog: {notes:?}"
    );
    let code = share.wait_line("share: code: ", Duration::from_secs(30));
    let code = JoinCode::parse(&code).expect("a code");
    let viewer = Viewer::join(ViewerConfig::new(&relay_ws, code)).expect("the viewer joins");
    Shared {
        _relay: relay,
        _user: user,
        share,
        viewer,
        stats_file,
    }
}

/// With the clock paused, ticks it once at a time while `gst-launch pipewiresrc` grabs a frame of
/// the same monitor on its own; the viewer's final screen must equal that grab exactly (the screen
/// is still: no pixel may differ).
fn check_capture(session: &HeadlessSession, watch: &PortalSource, viewer: &Viewer) {
    let quiet = Duration::from_millis(1500);
    settled(viewer, quiet);
    let grab_file = artifacts().join("gstreamer-grab.bgrx");
    let mut gst = PipeWireGrab::start(watch.info().node_id, grab_file);
    // The grab takes the next frame the compositor sends; a tick before gst is connected is
    // missed, and the next tick makes another frame.
    std::thread::sleep(Duration::from_secs(1));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut shown = Vec::new();
    let status = loop {
        assert!(Instant::now() < deadline, "gst-launch grabbed nothing");
        let seq = viewer.seq();
        session.step();
        let ticked = Instant::now();
        while viewer.seq() == seq {
            assert!(
                ticked.elapsed() < Duration::from_secs(20),
                "a tick never reached the viewer"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        shown.push(settled(viewer, quiet));
        let waiting = Instant::now();
        while gst.finished().is_none() && waiting.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(status) = gst.finished() {
            break status;
        }
    };
    assert!(status.success(), "gst-launch failed: {status}");
    let last = shown.last().expect("a screen").clone();
    let grabbed = gst.shot(last.width, last.height);
    let final_screen = viewer_screen(viewer);
    if final_screen != grabbed {
        grabbed.write_ppm("gstreamer-grab.ppm");
        final_screen.write_ppm("viewer-final.ppm");
        let differing = damage::detect(&grabbed.frame(), &final_screen.frame(), None, 64);
        let earlier = shown.iter().position(|s| *s == grabbed);
        panic!(
            "the viewer's final screen is not the independent grab: {} tiles differ, first {:?}; \
             the grab equals the viewer's screen after tick {earlier:?} of {}",
            differing.len(),
            differing.first().map(|t| t.rect),
            shown.len()
        );
    }
    println!(
        "wayland share: the viewer's final screen equals the independent PipeWire grab exactly \
         ({} clock ticks)",
        shown.len()
    );
}

/// The granted viewer clicks in the terminal and types a line: the click is painted, the text is
/// echoed (its words drawn exactly as the same words of the terminal's title line), and Return
/// turns the terminal magenta (screen-app judged the line right), all on the viewer's screen.
fn check_input(session: &HeadlessSession, viewer: &Viewer) {
    viewer.request_control().expect("request control");
    wait_control(viewer, ControlState::Granted);
    let screen = settled(viewer, Duration::from_millis(500));
    let terminal = terminal_area(&screen);
    let (x, y) = centre(terminal);
    for event in [
        InputEvent::PointerMove {
            x: x as i32,
            y: y as i32,
        },
        InputEvent::Button {
            button: 0,
            down: true,
        },
        InputEvent::Button {
            button: 0,
            down: false,
        },
    ] {
        viewer.send_input(event).expect("send input");
    }
    view_until(viewer, "click-painted", |s| s.rgb(x, y) == 0x00ff00);
    assert_eq!(session.log("clicks.txt").lines().count(), 1, "one click");

    let before = settled(viewer, Duration::from_millis(1000));
    let text = "glimpse test";
    session.expect_line(text);
    for c in text.chars() {
        for down in [true, false] {
            let keysym = c as u32;
            viewer.send_input(InputEvent::Key { keysym, down }).unwrap();
        }
    }
    // The echo: "typed: glimpse test" on row 4, above the click, and nothing else changes.
    let above_click = Rect::new(terminal.x, terminal.y, terminal.width, y - terminal.y);
    let echoed = view_until(viewer, "text-echoed", |s| {
        echoes(&before, s, above_click, text)
    });
    echoed.write_ppm("share-typed-text.ppm");
    viewer
        .send_input(InputEvent::Key {
            keysym: 0xff0d,
            down: true,
        })
        .unwrap();
    viewer
        .send_input(InputEvent::Key {
            keysym: 0xff0d,
            down: false,
        })
        .unwrap();
    let judged = view_until(viewer, "line-judged", |s| {
        s.rgb(x, y) != TERMINAL && s.rgb(x, y) != 0x00ff00
    });
    judged.write_ppm("share-line-judged.ppm");
    assert_eq!(
        session.log("typed.txt").lines().last(),
        Some(text),
        "screen-app's log of typed lines"
    );
    assert_eq!(
        judged.rgb(x, y),
        0xff00ff,
        "screen-app judged the line wrong"
    );
    println!(
        "wayland share: a granted viewer clicked ({x},{y}) and typed {text:?} + Return; the viewer \
         saw the click, the echoed words drawn as the title's, and the magenta verdict"
    );
}

/// Does `after` show `text` typed after `before`, inside `area` only? Its words are found as the
/// pixels that changed, split at column gaps wider than a third of the text's height (letters of
/// a word are closer than that in a monospace font; a space is wider); each word must be drawn
/// pixel for pixel as somewhere in `before` inside `area` (the terminal's title line, " glimpse
/// headless test screen", holds the words of the typed line).
fn echoes(before: &Shot, after: &Shot, area: Rect, text: &str) -> bool {
    let changed = damage::detect(&before.frame(), &after.frame(), None, 16);
    if changed.is_empty() || !changed.iter().all(|t| area.contains(&t.rect)) {
        return false;
    }
    let all = changed
        .iter()
        .map(|t| t.rect)
        .reduce(|a, b| a.union(&b))
        .unwrap();
    let differs = |x: u32, y: u32| before.rgb(x, y) != after.rgb(x, y);
    let gap = (all.height / 3).max(2);
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for x in (all.x..all.right()).filter(|&x| (all.y..all.bottom()).any(|y| differs(x, y))) {
        match runs.last_mut() {
            Some((_, end)) if x - *end <= gap => *end = x,
            _ => runs.push((x, x)),
        }
    }
    let words: Vec<&str> = text.split(' ').collect();
    if runs.len() != words.len() {
        return false;
    }
    runs.iter().all(|&(x0, x1)| {
        let rows: Vec<u32> = (all.y..all.bottom())
            .filter(|&y| (x0..=x1).any(|x| differs(x, y)))
            .collect();
        let (top, bottom) = (rows[0], rows[rows.len() - 1]);
        let word = after.crop(Rect::new(x0, top, x1 - x0 + 1, bottom - top + 1));
        (area.y..area.bottom())
            .any(|ty| (area.x..area.right()).any(|tx| before.holds_at(&word, tx, ty)))
    })
}

/// Lets the clock run for a few seconds (a mostly still screen: a clock line changes, the rest
/// stays), ends glimpse-share and reads its stats: the frames that came with damage hints and
/// changed had the encoder compare a small part of them (the hints' area), not whole frames; and
/// many came with empty hints (nothing to compare at all).
fn check_damage_hints(session: &HeadlessSession, shared: &mut Shared) {
    session.set_paused(false);
    std::thread::sleep(Duration::from_secs(6));
    session.set_paused(true);
    shared.share.terminate();
    let code = shared.share.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "glimpse-share ends cleanly on SIGTERM");
    let text = std::fs::read_to_string(&shared.stats_file).expect("share's --stats file");
    let stats: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let field = |name: &str| {
        stats[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: {text}"))
    };
    let (frames, hinted, unchanged) = (
        field("frames"),
        field("hinted_frames"),
        field("unchanged_frames"),
    );
    let (inside, whole) = (field("hint_pixels"), field("changed_frame_pixels"));
    let changed = hinted - unchanged;
    // The clock ticked about 30 times; the click, the echo and the verdict changed more.
    assert!(changed >= 10 && unchanged > 0 && hinted <= frames, "{text}");
    assert!(
        inside * 10 < whole,
        "the hints of the {changed} changed frames cover {inside} of their {whole} pixels"
    );
    println!(
        "wayland share: {frames} frames pushed, {hinted} with damage hints: {unchanged} unchanged \
         (nothing compared), {changed} changed, where the encoder compared {inside} pixels, \
         {:.2}% of those frames' {whole}",
        inside as f64 * 100.0 / whole as f64
    );
}

/// glimpse-share on the Wayland desktop: it shares the virtual monitor through the portal, a
/// viewer's final screen equals an independent PipeWire grab exactly, a granted viewer's click and
/// typing reach the terminal and show on the viewer's screen, and the damage hints spare the
/// encoder most of its comparing.
#[test]
#[ignore = "needs the headless Wayland session: connect/wayland-ci.sh runs it"]
fn share_streams_the_wayland_screen_exactly_and_takes_remote_input() {
    let Some(session) = session() else { return };
    session.set_paused(true);
    let mut watch = watch(&session);
    let mut shared = start_sharing(&mut watch);
    check_capture(&session, &watch, &shared.viewer);
    drop(watch);
    check_input(&session, &shared.viewer);
    check_damage_hints(&session, &mut shared);
    session.set_paused(false);
}
