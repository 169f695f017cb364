//! Whether a Chromium page can view a session here (`node connect/e2e/page_viewer.mjs`): shared
//! by the live tests (`tests/live`) and the cluster tests (`tests/cluster`), which include this
//! file.
#![allow(dead_code)] // each test uses part of it

use std::path::{Path, PathBuf};

/// The viewer page's files, when built (`scripts/build-web.sh`): relays serve them with `--web`.
pub fn web_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist");
    dir.join("index.html").exists().then_some(dir)
}

/// `connect/e2e`, which holds `page_viewer.mjs`, when Node's packages for it, Chromium and the
/// viewer page are there; `None` (after printing why, after `who`) when they are not, unless
/// `GLIMPSE_REQUIRE_BROWSER` is set: then a missing browser fails the test.
pub fn page_viewer_dir(who: &str) -> Option<PathBuf> {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e");
    let ready = e2e.join("page_viewer.mjs").exists()
        && e2e.join("node_modules/playwright-core").exists()
        && Path::new("/usr/bin/chromium").exists()
        && web_dir().is_some();
    if !ready {
        assert!(
            std::env::var_os("GLIMPSE_REQUIRE_BROWSER").is_none(),
            "the browser viewer is required (GLIMPSE_REQUIRE_BROWSER) but is not installed"
        );
        println!("{who}: browser viewer skipped: Node/Chromium/connect/e2e or web/dist missing");
        return None;
    }
    Some(e2e)
}
