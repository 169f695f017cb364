//! The quick-connect relay on its own: `cargo run --release --example relay -- [--listen ADDR:PORT]`.
//!
//! Hosts connect to `/ws/host` (the `share` command with `--relay ws://ADDR:PORT`), viewers open
//! `http://ADDR:PORT/` and type the key. Listens on 127.0.0.1:8080 by default; prints
//! `relay listening on http://ADDR` once ready (tests read that line). Stops on Ctrl-C, or by itself
//! after `--seconds N`.

#[path = "../quick/relay.rs"]
mod relay;
#[path = "../quick/wire.rs"]
mod wire;

use std::time::Duration;

const USAGE: &str = "usage: relay [--listen ADDR:PORT] [--pkg DIR] [--web DIR] [--seconds N]
  --listen ADDR:PORT  where to listen (default 127.0.0.1:8080; port 0 picks a free one)
  --pkg DIR           the built Web SDK package (default: this repository's wasm/)
  --web DIR           serve the viewer page from DIR instead of the built-in copy
  --seconds N         stop after N seconds";

fn main() {
    let mut config = relay::RelayConfig::default();
    let mut seconds = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next().unwrap_or_else(|| {
                eprintln!("relay: {name} needs a value\n{USAGE}");
                std::process::exit(2)
            })
        };
        match arg.as_str() {
            "--listen" => {
                config.listen = value("--listen").parse().unwrap_or_else(|e| {
                    eprintln!("relay: bad --listen address: {e}");
                    std::process::exit(2)
                })
            }
            "--pkg" => config.pkg_dir = value("--pkg").into(),
            "--web" => config.web_dir = Some(value("--web").into()),
            "--seconds" => {
                seconds = Some(value("--seconds").parse::<f64>().unwrap_or_else(|e| {
                    eprintln!("relay: bad --seconds: {e}");
                    std::process::exit(2)
                }))
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => {
                eprintln!("relay: unknown argument {other}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let handle = match relay::start(config).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("relay: cannot listen: {e}");
                std::process::exit(1);
            }
        };
        println!("relay listening on http://{}", handle.addr);
        if !handle.pkg_ready() {
            eprintln!("relay: warning: the Web SDK is not built (run `bash quick/build_web.sh`): the viewer page cannot load");
        }
        let limit = async {
            match seconds {
                Some(s) => tokio::time::sleep(Duration::from_secs_f64(s)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = limit => {}
        }
        let stats = handle.stats();
        println!(
            "relay stopping: {} sessions, {} viewers, {} bytes of catch-up logs",
            stats.sessions, stats.viewers, stats.log_bytes
        );
        handle.shutdown().await;
    });
}
