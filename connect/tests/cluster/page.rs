//! A Chromium page viewing through one relay node: `node connect/e2e/page_viewer.mjs` (the helper
//! the single-relay program tests use), when Node, Chromium, the e2e packages and the built viewer
//! page (`web/dist`) are there. Skipped with a printed reason otherwise, unless
//! `GLIMPSE_REQUIRE_BROWSER` is set (then a missing browser fails the test).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::browser::{page_viewer_dir, web_dir};

/// `--web DIR` for relay nodes when the page is built (else nothing: the embedded page, if any).
pub fn web_args() -> Vec<String> {
    web_dir()
        .map(|d| vec!["--web".to_string(), d.display().to_string()])
        .unwrap_or_default()
}

/// A running page viewer; it writes its canvas when the session ends.
pub struct PageViewer {
    child: Child,
    dir: PathBuf,
}

impl PageViewer {
    /// Opens `url` (a join link, `http://NODE/#code=DIGITS`) and waits until the page painted its
    /// first screen; `None` (after printing why) when the browser is not installed.
    pub fn open(url: &str, name: &str) -> Option<PageViewer> {
        let e2e = page_viewer_dir("cluster")?;
        let dir = std::env::temp_dir().join(format!("glimpse-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("page folder");
        let mut child = Command::new("node")
            .arg(e2e.join("page_viewer.mjs"))
            .args(["--url", url, "--seconds", "120", "--out"])
            .arg(dir.join("page.json"))
            .arg("--screen-out")
            .arg(dir.join("page.bgra"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("  | {line}");
                if line == "page_viewer: ready" {
                    let _ = tx.send(());
                }
            }
        });
        let page = PageViewer { child, dir };
        assert!(
            rx.recv_timeout(Duration::from_secs(60)).is_ok(),
            "the browser page painted no screen"
        );
        Some(page)
    }

    /// Waits for the page to end (the host ended the session) and returns its last canvas (BGRA
    /// rows packed) and its reported errors.
    pub fn finish(mut self) -> (Vec<u8>, Vec<String>) {
        let until = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("page status") {
                break status;
            }
            assert!(Instant::now() < until, "the page viewer did not end");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(status.success(), "the page viewer failed: {status}");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.dir.join("page.json")).expect("page.json"))
                .expect("page.json is JSON");
        let errors = json["errors"]
            .as_array()
            .map(|a| a.iter().map(|e| e.to_string()).collect())
            .unwrap_or_default();
        let canvas = std::fs::read(self.dir.join("page.bgra")).expect("page canvas");
        (canvas, errors)
    }
}

impl Drop for PageViewer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
