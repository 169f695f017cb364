//! The X11 source and injector against a real X server (Xvfb).
//!
//! Each test starts its own `Xvfb -displayfd` (a free display number) and kills it when done. When
//! Xvfb is not installed the tests are skipped with a message, unless `CI` is set: then they fail.
#![cfg(target_os = "linux")]

use glimpse::Rect;
use glimpse_capture::{CapturedFrame, InputInjector, ScreenSource, X11Source};
use glimpse_testkit::skip;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{self, ConnectionExt as _};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

const WIDTH: u16 = 1280;
const HEIGHT: u16 = 720;

/// A running Xvfb, killed on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Xvfb on a free display, or returns `None` (test skipped) when it is not installed and
/// `CI` is unset.
fn xvfb() -> Option<Xvfb> {
    let spawned = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0"])
        .arg(format!("{WIDTH}x{HEIGHT}x24"))
        .args(["-nolisten", "tcp", "-noreset"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var_os("CI").is_some() {
                panic!("Xvfb is not installed and CI is set: run capture/ci.sh");
            }
            eprintln!(
                "SKIPPED: Xvfb is not installed (apt-get install xvfb, or run capture/ci.sh)"
            );
            return None;
        }
        Err(e) => panic!("cannot start Xvfb: {e}"),
    };
    // Xvfb prints the display number it picked once it accepts connections.
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut guard = Xvfb {
        child,
        display: String::new(),
    };
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("Xvfb did not report its display within 20 s");
    let number: u32 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("Xvfb printed {line:?}, not a display number"));
    guard.display = format!(":{number}");
    Some(guard)
}

fn connect(x: &Xvfb) -> (RustConnection, xproto::Window) {
    let (conn, screen) = x11rb::connect(Some(&x.display)).expect("connect to Xvfb");
    let root = conn.setup().roots[screen].root;
    (conn, root)
}

/// Creates and maps an override-redirect window (no window manager needed) at (x, y).
fn window(
    conn: &RustConnection,
    root: xproto::Window,
    rect: (i16, i16, u16, u16),
    events: xproto::EventMask,
) -> xproto::Window {
    let win = conn.generate_id().unwrap();
    conn.create_window(
        24,
        win,
        root,
        rect.0,
        rect.1,
        rect.2,
        rect.3,
        0,
        xproto::WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &xproto::CreateWindowAux::new()
            .background_pixel(0x00_80_80_80)
            .override_redirect(1)
            .event_mask(events),
    )
    .unwrap();
    conn.map_window(win).unwrap();
    conn.sync().unwrap();
    win
}

fn fill(conn: &RustConnection, win: xproto::Window, colour: u32, rect: (i16, i16, u16, u16)) {
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, win, &xproto::CreateGCAux::new().foreground(colour))
        .unwrap();
    conn.poly_fill_rectangle(
        win,
        gc,
        &[xproto::Rectangle {
            x: rect.0,
            y: rect.1,
            width: rect.2,
            height: rect.3,
        }],
    )
    .unwrap();
    conn.free_gc(gc).unwrap();
    conn.sync().unwrap();
}

/// The BGRA pixel at (x, y) of a captured frame, as 0xAARRGGBB.
fn pixel(pixels: &[u8], stride: usize, x: u32, y: u32) -> u32 {
    let i = y as usize * stride + x as usize * 4;
    u32::from_le_bytes(pixels[i..i + 4].try_into().unwrap())
}

/// Asserts every pixel of `rect` (screen coordinates) is `colour` (0xRRGGBB).
fn assert_area(frame: &CapturedFrame<'_>, rect: Rect, colour: u32) {
    for y in rect.y..rect.bottom() {
        for x in rect.x..rect.right() {
            let got = pixel(frame.pixels, frame.stride, x, y);
            assert_eq!(
                got,
                0xff00_0000 | colour,
                "pixel {x},{y}: {got:#010x} instead of {colour:#08x}"
            );
        }
    }
}

fn covered(damage: &[Rect], rect: Rect) -> bool {
    // Every pixel of `rect` lies in some damage rectangle.
    (rect.y..rect.bottom()).all(|y| {
        (rect.x..rect.right()).all(|x| damage.iter().any(|d| d.contains(&Rect::new(x, y, 1, 1))))
    })
}

fn time_captures(source: &mut X11Source, frames: u32) -> Duration {
    source.capture().unwrap();
    let start = Instant::now();
    for _ in 0..frames {
        source.capture().unwrap();
    }
    start.elapsed() / frames
}

#[test]
fn capture_equals_what_was_drawn_and_damage_covers_changes() {
    let Some(x) = xvfb() else { return };
    let (conn, root) = connect(&x);
    let win = window(&conn, root, (50, 60, 200, 100), xproto::EventMask::NO_EVENT);
    fill(&conn, win, 0xff0000, (0, 0, 100, 50));
    fill(&conn, win, 0x00ff00, (100, 0, 100, 50));
    fill(&conn, win, 0x0000ff, (0, 50, 200, 50));

    let mut source = X11Source::open(Some(&x.display)).expect("open the X11 source");
    assert_eq!(source.size(), (u32::from(WIDTH), u32::from(HEIGHT)));
    assert!(source.uses_shm(), "Xvfb supports MIT-SHM with fd passing");
    assert!(source.has_damage());
    {
        let frame = source.capture().unwrap();
        assert_eq!(
            (frame.width, frame.height, frame.stride),
            (1280, 720, 1280 * 4)
        );
        assert!(frame.damage.is_none(), "the first frame has unknown damage");
        assert!(frame.pixels.chunks_exact(4).all(|p| p[3] == 255));
        assert_area(&frame, Rect::new(50, 60, 100, 50), 0xff0000);
        assert_area(&frame, Rect::new(150, 60, 100, 50), 0x00ff00);
        assert_area(&frame, Rect::new(50, 110, 200, 50), 0x0000ff);
    }
    let idle = source.capture().unwrap().damage.expect("known damage");
    assert!(idle.is_empty(), "nothing drawn, nothing damaged: {idle:?}");

    // A change: its damage must cover it, and the pixels show it.
    let drawn_at = Instant::now();
    fill(&conn, win, 0xffff00, (10, 10, 30, 20));
    let changed = Rect::new(60, 70, 30, 20);
    let latency = loop {
        let frame = source.capture().unwrap();
        let damage = frame.damage.clone().expect("known damage");
        if covered(&damage, changed) {
            assert_area(&frame, changed, 0xffff00);
            assert!(
                damage.iter().all(|d| d.area() < 200 * 100),
                "damage is local: {damage:?}"
            );
            break drawn_at.elapsed();
        }
        assert!(
            drawn_at.elapsed() < Duration::from_secs(5),
            "no damage for the change"
        );
    };

    // Cursor: position and a shape on first call, no shape when unchanged.
    let cursor = source.cursor().unwrap().expect("XFixes cursor");
    let shape = cursor.shape.expect("the first call gives the shape");
    assert!(shape.width > 0 && shape.height > 0);
    assert_eq!(
        shape.pixels.len(),
        (shape.width * shape.height * 4) as usize
    );
    assert!(cursor.visible);
    let again = source.cursor().unwrap().unwrap();
    assert!(again.shape.is_none(), "unchanged shape is not sent again");
    assert_eq!((again.x, again.y), (cursor.x, cursor.y));

    let with_shm = time_captures(&mut source, 30);
    source.disable_shm();
    assert!(!source.uses_shm());
    let without_shm = time_captures(&mut source, 30);
    {
        let frame = source.capture().unwrap();
        assert_area(&frame, Rect::new(50, 110, 200, 50), 0x0000ff);
        assert_area(&frame, changed, 0xffff00);
    }
    eprintln!(
        "1280x720 capture: {with_shm:.2?} with MIT-SHM, {without_shm:.2?} with plain GetImage; \
         damage seen {latency:.2?} after the drawing request returned"
    );
}

fn wait_event(conn: &RustConnection, what: &str, mut accept: impl FnMut(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        while let Some(event) = conn.poll_for_event().unwrap() {
            if accept(&event) {
                return event;
            }
        }
        assert!(Instant::now() < deadline, "no {what} within 5 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn xtest_input_reaches_windows_and_local_input_is_noticed() {
    let Some(x) = xvfb() else { return };
    let (conn, root) = connect(&x);
    let events = xproto::EventMask::BUTTON_PRESS
        | xproto::EventMask::BUTTON_RELEASE
        | xproto::EventMask::KEY_PRESS
        | xproto::EventMask::KEY_RELEASE;
    let win = window(&conn, root, (100, 100, 300, 200), events);
    conn.set_input_focus(xproto::InputFocus::POINTER_ROOT, win, x11rb::CURRENT_TIME)
        .unwrap();
    conn.sync().unwrap();

    let mut input = InputInjector::open(Some(&x.display)).unwrap();
    let mut watch = input.watch().unwrap();
    assert!(watch.uses_raw_events());

    // Pointer: the server's pointer moves; clamping keeps it on the screen.
    input.pointer_move(150, 160).unwrap();
    input.sync().unwrap();
    let p = conn.query_pointer(root).unwrap().reply().unwrap();
    assert_eq!((p.root_x, p.root_y), (150, 160));
    assert_eq!(p.child, win);

    // Buttons reach the window under the pointer.
    input.button(1, true).unwrap();
    input.button(1, false).unwrap();
    let press = wait_event(&conn, "ButtonPress", |e| matches!(e, Event::ButtonPress(_)));
    let Event::ButtonPress(press) = press else {
        unreachable!()
    };
    assert_eq!(
        (press.detail, press.event, press.event_x, press.event_y),
        (1, win, 50, 60)
    );
    wait_event(
        &conn,
        "ButtonRelease",
        |e| matches!(e, Event::ButtonRelease(b) if b.detail == 1),
    );
    assert!(
        input.button(4, true).is_err(),
        "the wheel goes through wheel()"
    );
    assert!(input.button(0, true).is_err());
    assert!(input.button(12, true).is_err());

    // Wheel: two notches down are two presses of button 5.
    input.wheel(0, 2).unwrap();
    for _ in 0..2 {
        wait_event(
            &conn,
            "wheel press",
            |e| matches!(e, Event::ButtonPress(b) if b.detail == 5),
        );
    }

    // Keys: a mapped keysym, then one the keyboard lacks (a spare keycode is remapped).
    for keysym in [
        0x61u32,     /* a */
        0x0100_03b1, /* U+03B1 greek alpha */
    ] {
        let keycode = input.keycode_for(keysym).unwrap();
        input.key(keysym, true).unwrap();
        input.key(keysym, false).unwrap();
        let event = wait_event(&conn, "KeyPress", |e| matches!(e, Event::KeyPress(_)));
        let Event::KeyPress(key) = event else {
            unreachable!()
        };
        assert_eq!(key.detail, keycode, "keysym {keysym:#x}");
        wait_event(&conn, "KeyRelease", |e| matches!(e, Event::KeyRelease(_)));
        let map = conn
            .get_keyboard_mapping(keycode, 1)
            .unwrap()
            .reply()
            .unwrap();
        assert!(
            map.keysyms.contains(&keysym),
            "keycode {keycode} maps {keysym:#x}"
        );
    }
    assert!(input.key(0, true).is_err());

    // Everything so far was ours: no local activity.
    assert!(
        !watch.local_activity().unwrap(),
        "our own injections are not local input"
    );

    input.pointer_move(-50, 99_999).unwrap();
    input.sync().unwrap();
    let p = conn.query_pointer(root).unwrap().reply().unwrap();
    assert_eq!((p.root_x, p.root_y), (0, HEIGHT as i16 - 1));
    assert!(!watch.local_activity().unwrap());

    // Someone else presses a key (xdotool, also XTest but not us): that is local activity.
    // (`xdotool mousemove` would warp the pointer, which is no input event.)
    match Command::new("xdotool")
        .args(["key", "Shift_L"])
        .env("DISPLAY", &x.display)
        .status()
    {
        Ok(status) => {
            assert!(status.success());
            assert!(
                watch.local_activity().unwrap(),
                "xdotool's key counts as local"
            );
            assert!(!watch.local_activity().unwrap(), "reported once");
        }
        Err(_) if std::env::var_os("CI").is_none() => {
            skip("local-activity check: xdotool is not installed");
        }
        Err(e) => panic!("xdotool is needed with CI set: {e}"),
    }
    input.release_all().unwrap();
}

/// Keycodes whose keysyms include `keysym`.
fn keycodes_of(conn: &RustConnection, keysym: u32) -> Vec<u8> {
    let setup = conn.setup();
    let (min, max) = (setup.min_keycode, setup.max_keycode);
    let map = conn
        .get_keyboard_mapping(min, max - min + 1)
        .unwrap()
        .reply()
        .unwrap();
    let per = usize::from(map.keysyms_per_keycode.max(1));
    map.keysyms
        .chunks(per)
        .enumerate()
        .filter(|(_, syms)| syms.contains(&keysym))
        .map(|(i, _)| min + i as u8)
        .collect()
}

/// A flood of keysyms the keyboard lacks uses a few spare keycodes at a bounded rate, never the
/// whole keymap; a keymap left changed by a process that died is put back by the next injector.
#[test]
fn unknown_keysyms_use_a_small_pool_and_a_crash_is_repaired() {
    let Some(x) = xvfb() else { return };
    let (conn, _) = x11rb::connect(Some(&x.display)).unwrap();
    let mut input = InputInjector::open(Some(&x.display)).unwrap();
    // 40 distinct Greek letters as fast as possible: some fail (the remap budget of the second),
    // and all that succeed share at most 8 keycodes.
    let greek: Vec<u32> = (0..40).map(|i| 0x0100_03b1 + i).collect();
    let mut used = std::collections::HashSet::new();
    let mut refused = 0;
    for &keysym in &greek {
        match input.keycode_for(keysym) {
            Ok(keycode) => {
                used.insert(keycode);
            }
            Err(_) => refused += 1,
        }
    }
    assert!(used.len() <= 8, "{} spare keycodes used", used.len());
    assert!(
        refused >= 40 - 20,
        "at most 20 remaps a second ({refused} refused)"
    );
    // The process "dies" without restoring: the keymap keeps our keysyms.
    let last = *greek
        .iter()
        .rev()
        .find(|&&k| !keycodes_of(&conn, k).is_empty())
        .unwrap();
    std::mem::forget(input);
    assert!(!keycodes_of(&conn, last).is_empty(), "left changed");
    // The next injector puts it back.
    let fresh = InputInjector::open(Some(&x.display)).unwrap();
    for &keysym in &greek {
        assert!(
            keycodes_of(&conn, keysym).is_empty(),
            "{keysym:#x} still mapped"
        );
    }
    drop(fresh);
}

#[test]
fn monitor_selection_crops_to_a_randr_monitor() {
    use glimpse_capture::{list_monitors, open, Backend, BackendChoice, CaptureOptions, Selection};
    use x11rb::protocol::randr::{self, ConnectionExt as _};
    let Some(x) = xvfb() else { return };
    let (conn, root) = connect(&x);
    // Two monitors side by side, as `xrandr --setmonitor` defines them.
    for (name, left) in [("LEFT", 0), ("RIGHT", 640)] {
        let atom = conn
            .intern_atom(false, name.as_bytes())
            .unwrap()
            .reply()
            .unwrap()
            .atom;
        let monitor = randr::MonitorInfo {
            name: atom,
            primary: left == 0,
            automatic: false,
            x: left,
            y: 0,
            width: 640,
            height: 720,
            width_in_millimeters: 170,
            height_in_millimeters: 190,
            outputs: vec![],
        };
        conn.randr_set_monitor(root, monitor)
            .unwrap()
            .check()
            .expect("RandR 1.5 SetMonitor");
    }
    let mut options = CaptureOptions::default();
    options.backend = BackendChoice::X11;
    options.x11_display = Some(x.display.clone());
    let monitors = list_monitors(&options).unwrap();
    let geometry: Vec<_> = monitors
        .iter()
        .map(|m| {
            (
                m.index,
                m.name.as_str(),
                m.x,
                m.y,
                m.width,
                m.height,
                m.primary,
            )
        })
        .collect();
    // Xvfb keeps the automatic monitor of its one output after ours.
    assert_eq!(
        geometry,
        [
            (0, "LEFT", 0, 0, 640, 720, true),
            (1, "RIGHT", 640, 0, 640, 720, false),
            (2, "screen", 0, 0, 1280, 720, false)
        ]
    );

    // A window across the boundary: its right part is in monitor 1, from column 0.
    let win = window(
        &conn,
        root,
        (600, 100, 200, 100),
        xproto::EventMask::NO_EVENT,
    );
    options.selection = Selection::Monitor(1);
    options.remote_control = true;
    let mut opened = open(&options).expect("monitor 1");
    assert_eq!(opened.backend, Backend::X11);
    assert_eq!(opened.source.size(), (640, 720));
    {
        let frame = opened.source.capture().unwrap();
        assert_eq!((frame.width, frame.height), (640, 720));
        assert_area(&frame, Rect::new(0, 100, 160, 100), 0x808080);
        assert_area(&frame, Rect::new(160, 100, 10, 10), 0x000000);
    }
    fill(&conn, win, 0xff00ff, (100, 10, 30, 20));
    let changed = Rect::new(60, 110, 30, 20);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let frame = opened.source.capture().unwrap();
        let damage = frame.damage.clone().expect("known damage");
        assert!(damage.iter().all(|d| d.right() <= 640 && d.bottom() <= 720));
        if covered(&damage, changed) {
            assert_area(&frame, changed, 0xff00ff);
            break;
        }
        assert!(Instant::now() < deadline, "no damage for the change");
    }

    // Pointer positions are the monitor's too, both ways.
    let mut input = opened.injector.take().expect("XTest remote control");
    input.pointer_move(5, 6).unwrap();
    input.sync().unwrap();
    let pointer = conn.query_pointer(root).unwrap().reply().unwrap();
    assert_eq!((pointer.root_x, pointer.root_y), (645, 6));
    let cursor = opened.source.cursor().unwrap().expect("cursor");
    assert_eq!((cursor.x, cursor.y), (5, 6));

    options.selection = Selection::Monitor(3);
    assert!(matches!(
        open(&options),
        Err(glimpse_capture::CaptureError::NoSuchMonitor { index: 3, count: 3 })
    ));
    options.selection = Selection::Window;
    assert!(matches!(
        open(&options),
        Err(glimpse_capture::CaptureError::Unsupported(_))
    ));
}
