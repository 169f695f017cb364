//! The programs' logs (one file, included by each program with `#[path]`).

/// Logs to stderr, coloured on a terminal, filtered by `RUST_LOG` or else by `default_filter`;
/// one JSON object a line when `json`.
pub fn init(default_filter: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
