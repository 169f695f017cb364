//! The programs of this package as child processes, stdout read line by line: shared by the live
//! tests (`tests/live`) and the Wayland test (`tests/wayland`), which include this file.
#![allow(dead_code)] // each test uses part of it

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A program of this package, started with `args`; stdout is read line by line.
pub struct Program {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Program {
    /// Starts `exe` with `args`, in this environment.
    pub fn start(exe: &str, args: &[impl AsRef<OsStr>]) -> Program {
        let mut command = Command::new(exe);
        command.args(args);
        Program::spawn(command)
    }

    /// Starts a prepared command (environment, arguments) with its stdout read line by line; its
    /// stderr goes where the command says (this process's stderr unless set).
    pub fn spawn(mut command: Command) -> Program {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("  | {line}");
                l.lock().unwrap().push(line);
            }
        });
        Program { child, lines }
    }

    /// Waits for a line starting with `prefix`; the rest of it.
    pub fn wait_line(&self, prefix: &str, limit: Duration) -> String {
        let until = Instant::now() + limit;
        loop {
            if let Some(rest) = self.lines_starting(prefix).into_iter().next() {
                return rest;
            }
            assert!(Instant::now() < until, "no line {prefix:?} in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The rest of every line so far that starts with `prefix`.
    pub fn lines_starting(&self, prefix: &str) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| l.strip_prefix(prefix).map(str::to_string))
            .collect()
    }

    /// The lines printed after the first line equal to `marker`.
    pub fn lines_after(&self, marker: &str) -> Vec<String> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .skip_while(|l| l.as_str() != marker)
            .skip(1)
            .cloned()
            .collect()
    }

    /// Sends SIGTERM (what a service manager does to stop it).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Stops it as a service manager would: SIGTERM, then up to 10 s to exit (killed after that).
    pub fn stop(&mut self) {
        self.terminate();
        let _ = self.wait(Duration::from_secs(10));
    }

    /// Waits for the exit code (killing the program after `limit`).
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let until = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() >= until {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
