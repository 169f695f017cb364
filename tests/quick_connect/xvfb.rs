//! The `share` command against a real X server (Xvfb): it captures what is on the screen, a viewer
//! sees it, input without a grant does nothing, and once control is granted a viewer's pointer move
//! reaches the X server (XTest). Skipped with a printed reason when Xvfb or the `share` binary is
//! missing, unless `GLIMPSE_REQUIRE_XVFB` is set (quick/ci.sh sets it).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use glimpse::session::InputEvent;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ChangeWindowAttributesAux, ConnectionExt};
use x11rb::wrapper::ConnectionExt as _;

use crate::viewer::{Join, ViewerClient, ViewerOptions};

/// Kills the child on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn skip_or_fail(reason: &str) {
    if std::env::var_os("GLIMPSE_REQUIRE_XVFB").is_some() {
        panic!("{reason} (GLIMPSE_REQUIRE_XVFB is set)");
    }
    eprintln!("SKIPPED: {reason}");
}

/// Reads the child's stdout lines on a thread.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            println!("{line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn share_binary() -> Option<std::path::PathBuf> {
    // target/<profile>/deps/quick_connect-* -> target/<profile>/examples/share
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("examples/share");
    path.exists().then_some(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_captures_xvfb_and_injects_granted_input() {
    let Some(share) = share_binary() else {
        skip_or_fail("the share example is not built (cargo build --example share)");
        return;
    };
    let spawned = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1024x768x24",
            "-nolisten",
            "tcp",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut xvfb = match spawned {
        Ok(child) => Guard(child),
        Err(e) => {
            skip_or_fail(&format!("cannot start Xvfb: {e}"));
            return;
        }
    };
    let number = lines(&mut xvfb.0)
        .recv_timeout(Duration::from_secs(20))
        .expect("Xvfb reports its display");
    let display = format!(":{}", number.trim());

    // Something known on the screen: an orange root window.
    let (conn, screen_num) = x11rb::connect(Some(&display)).expect("connect to Xvfb");
    let root = conn.setup().roots[screen_num].root;
    conn.change_window_attributes(
        root,
        &ChangeWindowAttributesAux::new().background_pixel(0x00ff_8000),
    )
    .unwrap();
    conn.clear_area(false, root, 0, 0, 0, 0).unwrap();
    conn.sync().unwrap();

    let mut child = Command::new(share)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--allow-control",
            "--seconds",
            "30",
            "--fps",
            "15",
        ])
        .env("DISPLAY", &display)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start share");
    let out = lines(&mut child);
    let _share = Guard(child);
    let (mut key, mut base) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while key.is_none() || base.is_none() {
        let line = out
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("share prints its key and URL");
        if line.contains("sharing the demo") {
            panic!("share fell back to the demo scene: {line}");
        }
        if let Some(k) = line.split("session key: ").nth(1) {
            key = Some(k.trim().to_string());
        }
        if let Some(rest) = line.split("viewers open http://").nth(1) {
            base = Some(format!("ws://{}", rest.split('/').next().unwrap()));
        }
    }
    let (key, base) = (key.unwrap(), base.unwrap());

    let mut v = ViewerClient::join(&base, Join::Key(key), ViewerOptions::default())
        .await
        .expect("viewer joins");
    let deadline = Instant::now() + Duration::from_secs(10);
    while v.screen().is_none() && Instant::now() < deadline {
        v.run_for(Duration::from_millis(100)).await.unwrap();
    }
    let (w, h, pixels) = v.screen().expect("the viewer sees the screen");
    assert_eq!((w, h), (1024, 768));
    let at = |x: usize, y: usize| {
        let i = (y * w as usize + x) * 4;
        [pixels[i], pixels[i + 1], pixels[i + 2]]
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
    v.input(InputEvent::PointerMove { x: 50, y: 60 })
        .await
        .unwrap();
    v.run_for(Duration::from_millis(500)).await.unwrap();
    assert_eq!(
        pointer(),
        before,
        "input without a grant must not reach the X server"
    );
    assert_ne!(before, (50, 60));

    // Ask (auto-granted by --allow-control), then move.
    v.request_control().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !v.granted && Instant::now() < deadline {
        v.run_for(Duration::from_millis(50)).await.unwrap();
    }
    assert!(v.granted, "control granted");
    v.input(InputEvent::PointerMove { x: 321, y: 123 })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pointer() != (321, 123) && Instant::now() < deadline {
        v.run_for(Duration::from_millis(50)).await.unwrap();
    }
    assert_eq!(
        pointer(),
        (321, 123),
        "the viewer's pointer move reached the X server"
    );

    // The person at the host moves the mouse (another XTest client counts as local input): the host
    // takes control back at once and the viewer is told.
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
    let deadline = Instant::now() + Duration::from_secs(10);
    while !v.revoked && Instant::now() < deadline {
        v.run_for(Duration::from_millis(50)).await.unwrap();
    }
    assert!(v.revoked, "local input took control back");
    v.input(InputEvent::PointerMove { x: 10, y: 10 })
        .await
        .unwrap();
    v.run_for(Duration::from_millis(500)).await.unwrap();
    assert_eq!(
        pointer(),
        (700, 500),
        "no viewer input after the host took control back"
    );
    println!("xvfb: share captured the X screen; a granted viewer moved the X pointer; local input took control back");
    v.close().await;
}
