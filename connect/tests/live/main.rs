//! Quick connect over real sockets on 127.0.0.1: relays, hosts and viewers in this process
//! (`sessions`, `hostile`, `operations`), and the programs as processes with a browser (`programs`,
//! run by `connect/ci.sh`).

#[path = "../../examples/bench/mod.rs"]
mod bench;
#[path = "../support/browser.rs"]
mod browser;
mod common;
mod hostile;
mod operations;
#[path = "../support/program.rs"]
mod program;
mod programs;
mod qr;
#[path = "../support/recording.rs"]
mod recording;
mod security;
mod sessions;
mod xvfb;
