//! The headless session as `capture/wayland/headless-session.sh` describes it in the environment,
//! and the controls of the terminal its `screen-app.py` draws.

use std::path::PathBuf;

/// The running headless session.
pub struct HeadlessSession {
    /// screen-app.py's control files and logs.
    pub dir: PathBuf,
    /// A restore-token file of the test's own, seeded with the script's pre-seeded token: a
    /// screen cast opened with it gets its stream without the portal's dialog.
    pub token_file: PathBuf,
}

impl HeadlessSession {
    /// The session, with the terminal's clock running, or `None` (the caller skips its test)
    /// outside one, unless `GLIMPSE_REQUIRE_WAYLAND=1`: then it panics. `ci_script` is the script
    /// that runs the test inside the session (for the messages); `token_file_name` names the
    /// test's restore-token file in the session's folder.
    pub fn from_env(ci_script: &str, token_file_name: &str) -> Option<HeadlessSession> {
        let env = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (Some(dir), Some(token), Some(_)) = (
            env("GLIMPSE_SESSION_DIR"),
            env("PORTAL_RESTORE_TOKEN"),
            env("WAYLAND_DISPLAY"),
        ) else {
            if env("GLIMPSE_REQUIRE_WAYLAND").as_deref() == Some("1") {
                panic!("GLIMPSE_REQUIRE_WAYLAND=1 but no headless session: run {ci_script}");
            }
            skip(&format!(
                "not inside the headless Wayland session (bash {ci_script} runs it)"
            ));
            return None;
        };
        let dir = PathBuf::from(dir);
        let token_file = dir.join(token_file_name);
        if !token_file.exists() {
            std::fs::write(&token_file, format!("monitor {token}\n")).expect("token file");
        }
        let session = HeadlessSession { dir, token_file };
        session.set_paused(false);
        Some(session)
    }

    /// Stops (or restarts) the terminal's clock: then nothing on the screen changes.
    pub fn set_paused(&self, paused: bool) {
        let pause = self.dir.join("pause");
        if paused {
            std::fs::write(pause, b"").expect("pause file");
        } else {
            let _ = std::fs::remove_file(pause);
        }
    }

    /// With the clock paused, makes it tick once.
    pub fn step(&self) {
        std::fs::write(self.dir.join("step"), b"").expect("step file");
    }

    /// Asks screen-app.py to judge the next line typed into the terminal against `line`.
    pub fn expect_line(&self, line: &str) {
        std::fs::write(self.dir.join("expect"), line).expect("expect file");
    }

    /// One of screen-app.py's logs (`clicks.txt`, `typed.txt`, `wheel.txt`); empty until written.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

/// Prints a skip reason past the test harness's output capture, so it shows in a normal run.
pub fn skip(reason: &str) {
    use std::io::Write;
    let message = format!("SKIPPED: {reason}");
    match std::fs::OpenOptions::new().write(true).open("/dev/stderr") {
        Ok(mut tty) => {
            let _ = writeln!(tty, "{message}");
        }
        Err(_) => eprintln!("{message}"),
    }
}

/// Where tests leave pictures and files for people to look at: `GLIMPSE_ARTIFACTS` (the CI
/// scripts set it), else a folder in the temporary directory.
pub fn artifacts() -> PathBuf {
    let dir = std::env::var_os("GLIMPSE_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("glimpse-wayland-tests"));
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}
