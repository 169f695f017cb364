//! `glimpse-share` against a real X server (Xvfb): it captures what is on the screen, a viewer
//! sees it, input without a grant does nothing, a granted viewer's pointer move reaches the X
//! server (XTest), and the person at the host (another XTest client) takes control back at once.
//! Run by `connect/ci.sh` (`--ignored`, with Xvfb installed).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use glimpse::session::InputEvent;
use glimpse_connect::viewer_session::ControlState;
use glimpse_connect::{JoinCode, Viewer, ViewerConfig, ViewerEvent};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ChangeWindowAttributesAux, ConnectionExt};
use x11rb::wrapper::ConnectionExt as _;

use crate::common::Program;

/// Xvfb on a free display number; killed on drop.
pub struct Xvfb {
    child: std::process::Child,
    pub display: String,
}

impl Xvfb {
    pub fn start(size: &str) -> Xvfb {
        use std::io::BufRead;
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", size, "-nolisten", "tcp"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is installed (connect/ci.sh installs it)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("Xvfb reports its display");
        Xvfb {
            child,
            display: format!(":{}", line.trim()),
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for a control change of `v` to `state`.
fn wait_control(v: &Viewer, state: ControlState) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if let Some(ViewerEvent::Control { state: s, .. }) =
            v.next_event(Duration::from_millis(100))
        {
            if s == state {
                return true;
            }
        }
    }
    false
}

#[test]
#[ignore = "needs Xvfb: connect/ci.sh runs it"]
fn share_captures_xvfb_and_injects_granted_input() {
    let xvfb = Xvfb::start("1024x768x24");
    // Something known on the screen: an orange root window.
    let (conn, screen_num) = x11rb::connect(Some(&xvfb.display)).expect("connect to Xvfb");
    let root = conn.setup().roots[screen_num].root;
    conn.change_window_attributes(
        root,
        &ChangeWindowAttributesAux::new().background_pixel(0x00ff_8000),
    )
    .unwrap();
    conn.clear_area(false, root, 0, 0, 0, 0).unwrap();
    conn.sync().unwrap();
    let mut share = Command::new(env!("CARGO_BIN_EXE_glimpse-share"));
    share
        .args([
            "--listen",
            "127.0.0.1:0",
            "--allow-control",
            "--seconds",
            "40",
            "--fps",
            "15",
        ])
        .env("DISPLAY", &xvfb.display);
    let share = Program::spawn(share);
    let what = share.wait_line("share: sharing the ", Duration::from_secs(20));
    assert!(what.starts_with("x11 screen 1024x768"), "{what}");
    let key = JoinCode::parse(&share.wait_line("share: code: ", Duration::from_secs(20))).unwrap();
    let page = share.wait_line("share: viewers open ", Duration::from_secs(5));
    let relay = page.split('/').nth(2).expect("an address").to_string();
    let v = Viewer::join(ViewerConfig::new(&format!("ws://{relay}"), key)).expect("viewer joins");
    let screen = v.screen().expect("a screen");
    assert_eq!((screen.width, screen.height), (1024, 768));
    let at = |x: usize, y: usize| {
        let i = (y * 1024 + x) * 4;
        [screen.pixels[i], screen.pixels[i + 1], screen.pixels[i + 2]]
    };
    assert_eq!(
        at(5, 5),
        [0x00, 0x80, 0xff],
        "orange (BGRA) as drawn on the X server"
    );
    assert_eq!(at(1000, 700), [0x00, 0x80, 0xff]);

    let pointer = || {
        let p = conn.query_pointer(root).unwrap().reply().unwrap();
        (i32::from(p.root_x), i32::from(p.root_y))
    };
    // Without a grant: nothing moves.
    let before = pointer();
    v.send_input(InputEvent::PointerMove { x: 50, y: 60 })
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        pointer(),
        before,
        "input without a grant must not reach the X server"
    );
    assert_ne!(before, (50, 60));
    // Ask (auto-granted by --allow-control), then move.
    v.request_control().unwrap();
    assert!(wait_control(&v, ControlState::Granted), "control granted");
    v.send_input(InputEvent::PointerMove { x: 321, y: 123 })
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while pointer() != (321, 123) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        pointer(),
        (321, 123),
        "the viewer's pointer move reached the X server"
    );
    // The person at the host moves the mouse (another XTest client counts as local input): the
    // host takes control back at once and the viewer is told.
    x11rb::protocol::xtest::fake_input(
        &conn,
        x11rb::protocol::xproto::MOTION_NOTIFY_EVENT,
        0,
        0,
        root,
        700,
        500,
        0,
    )
    .unwrap();
    conn.sync().unwrap();
    assert!(
        wait_control(&v, ControlState::None),
        "local input took control back"
    );
    v.send_input(InputEvent::PointerMove { x: 10, y: 10 })
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        pointer(),
        (700, 500),
        "no viewer input after the host took control back"
    );
    println!("xvfb: glimpse-share captured the X screen; a granted viewer moved the X pointer; local input took control back");
    v.close();
    share.terminate();
}
