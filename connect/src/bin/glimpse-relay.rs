//! `glimpse-relay`: the quick-connect relay on its own.
//!
//! Hosts connect to `/ws/host` (`glimpse-share --relay ws(s)://HOST:PORT`), viewers open the page
//! at the public URL and type the key. Prints `relay listening on http(s)://ADDR` once ready (tests
//! read that line). SIGTERM and SIGINT close every connection with code 1012 (clients reconnect)
//! and stop.
//!
//! With `--nats nats://HOST:PORT[,...]` the relay is one node of a cluster (hosts and viewers may
//! connect to any node; see `glimpse_connect::relay::cluster`); it prints
//! `cluster node N joined` once it is in (a build without the `cluster` feature refuses
//! `--nats`). Without it, no NATS is needed.

#[path = "common/logs.rs"]
mod logs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
#[cfg(feature = "cluster")]
use glimpse_connect::relay::cluster::{ClusterConfig, NatsAuth};
use glimpse_connect::relay::{web_build_hint, Relay, RelayConfig, TlsFiles};

/// The Glimpse quick-connect relay.
#[derive(Parser, Debug)]
#[command(name = "glimpse-relay", version, about)]
struct Args {
    /// Where to listen (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// PEM certificate chain: serve https and wss (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain http/ws on a non-loopback address (behind a TLS-terminating proxy).
    #[arg(long)]
    insecure: bool,
    /// The URL viewers open (for the links printed), e.g. https://share.example.com.
    #[arg(long)]
    public_url: Option<String>,
    /// Serve the viewer page from DIR instead of the files built into this program.
    #[arg(long, value_name = "DIR")]
    web: Option<PathBuf>,
    /// Live sessions at most.
    #[arg(long, default_value_t = 1000)]
    max_sessions: usize,
    /// Viewers per session at most.
    #[arg(long, default_value_t = 1000)]
    max_viewers: usize,
    /// Largest message from a host, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    max_host_message: usize,
    /// Largest message from a viewer, in bytes.
    #[arg(long, default_value_t = 4 << 10)]
    max_viewer_message: usize,
    /// Bytes all sessions may buffer together; past it new sessions and viewers are refused.
    #[arg(long, default_value_t = 4 << 30)]
    max_buffered_bytes: usize,
    /// Seconds a session waits for its host to come back after a drop.
    #[arg(long, default_value_t = 30)]
    host_grace: u64,
    /// Host sessions one client network (a /24, or a /64 for IPv6) may hold.
    #[arg(long, default_value_t = 10)]
    max_sessions_per_client: usize,
    /// Connections at once, in all.
    #[arg(long, default_value_t = 20_000)]
    max_connections: usize,
    /// Connections at once from one address.
    #[arg(long, default_value_t = 256)]
    max_connections_per_ip: usize,
    /// A web origin whose pages may use the relay (repeat for more); default: the relay's own page.
    #[arg(long = "allow-origin", value_name = "URL")]
    allow_origins: Vec<String>,
    /// Believe X-Forwarded-For from proxies in this network (ADDR/BITS; repeat for more).
    #[arg(long = "trust-proxy", value_name = "CIDR", value_parser = parse_cidr)]
    trust_proxies: Vec<(std::net::IpAddr, u8)>,
    /// Log format: text or json.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Stop by itself after this many seconds.
    #[arg(long)]
    seconds: Option<f64>,
    /// Join a relay cluster through these NATS servers (comma-separated nats://HOST:PORT).
    #[arg(long, value_name = "URLS", value_delimiter = ',')]
    nats: Vec<String>,
    /// Name of the cluster's subjects, buckets and stream (several clusters may share NATS).
    #[arg(long, default_value = "glimpse", requires = "nats")]
    nats_prefix: String,
    /// Replicas of the cluster's JetStream buckets and stream (at most the NATS servers known).
    #[arg(long, default_value_t = 3, requires = "nats")]
    nats_replicas: usize,
    /// Keep the cluster's stream in memory instead of files.
    #[arg(long, requires = "nats")]
    nats_memory: bool,
    /// Bytes the cluster's stream keeps at most, for all sessions (the oldest go first; JetStream
    /// refuses a stream larger than its storage).
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 30, requires = "nats",
          value_parser = clap::value_parser!(i64).range(1 << 20..))]
    nats_max_bytes: i64,
    /// A file with the NATS token, or user:password, on its first line.
    #[arg(long, value_name = "FILE", requires = "nats")]
    nats_auth_file: Option<PathBuf>,
    /// Trust this PEM certificate (CA) for NATS, and require TLS.
    #[arg(long, value_name = "PEM", requires = "nats")]
    nats_ca: Option<PathBuf>,
}

/// `println!` that never fails: a relay whose stdout nobody reads any more (a supervisor that read
/// the first line and closed the pipe) keeps serving.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `ADDR/BITS` (or a bare address: the whole address).
fn parse_cidr(text: &str) -> Result<(std::net::IpAddr, u8), String> {
    let (addr, bits) = text.split_once('/').unwrap_or((text, ""));
    let ip: std::net::IpAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = if bits.is_empty() {
        max
    } else {
        bits.parse()
            .map_err(|_| format!("bad prefix length {bits}"))?
    };
    if bits > max {
        return Err(format!("prefix length {bits} is over {max}"));
    }
    Ok((ip, bits))
}

fn main() {
    let args = Args::parse();
    logs::init("info", args.log_format == "json");
    let mut config = RelayConfig::default();
    config.listen = args.listen;
    config.tls = args
        .tls_cert
        .clone()
        .zip(args.tls_key.clone())
        .map(|(cert, key)| TlsFiles { cert, key });
    config.insecure = args.insecure;
    config.public_url = args.public_url.clone();
    config.web_dir = args.web.clone();
    config.max_sessions = args.max_sessions;
    config.max_viewers_per_session = args.max_viewers;
    config.max_host_message = args.max_host_message;
    config.max_viewer_message = args.max_viewer_message;
    config.max_buffered_bytes = args.max_buffered_bytes;
    config.host_grace = Duration::from_secs(args.host_grace);
    config.max_sessions_per_client = args.max_sessions_per_client;
    config.max_connections = args.max_connections;
    config.max_connections_per_ip = args.max_connections_per_ip;
    config.allowed_origins = args.allow_origins.clone();
    config.trusted_proxies = args.trust_proxies.clone();
    if !args.nats.is_empty() {
        join_cluster(&args, &mut config);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("glimpse-relay: cannot start: {e}");
            std::process::exit(1)
        });
    let code = runtime.block_on(run(config, args.seconds));
    std::process::exit(code);
}

/// `--nats` and its options into `config` (exits with status 2 on a bad credentials file).
#[cfg(feature = "cluster")]
fn join_cluster(args: &Args, config: &mut RelayConfig) {
    let mut cluster = ClusterConfig::new(args.nats.clone());
    cluster.prefix = args.nats_prefix.clone();
    cluster.replicas = args.nats_replicas;
    cluster.memory_storage = args.nats_memory;
    cluster.stream_max_bytes = args.nats_max_bytes;
    cluster.ca_file = args.nats_ca.clone();
    if let Some(path) = &args.nats_auth_file {
        match NatsAuth::from_file(path) {
            Ok(auth) => cluster.auth = Some(auth),
            Err(e) => {
                eprintln!("glimpse-relay: {e}");
                std::process::exit(2);
            }
        }
    }
    config.cluster = Some(cluster);
}

/// A build without the `cluster` feature cannot join a cluster: says so and exits (status 2).
#[cfg(not(feature = "cluster"))]
fn join_cluster(_: &Args, _: &mut RelayConfig) {
    eprintln!(
        "glimpse-relay: this build has no cluster support (--nats): \
         cargo build --release -p glimpse-connect --features cluster --bin glimpse-relay"
    );
    std::process::exit(2);
}

async fn run(config: RelayConfig, seconds: Option<f64>) -> i32 {
    let tls = config.tls.is_some();
    let relay = match Relay::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("glimpse-relay: cannot start: {e}");
            return 1;
        }
    };
    let scheme = if tls { "https" } else { "http" };
    say!("relay listening on {scheme}://{}", relay.local_addr());
    say!("viewers open {}/", relay.public_url());
    #[cfg(feature = "cluster")]
    if let Some(cluster) = relay.cluster_stats() {
        say!("cluster node {} joined", cluster.node);
    }
    if !relay.web_ready() {
        eprintln!("glimpse-relay: warning: {}", web_build_hint());
    }
    let limit = async {
        match seconds {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s)).await,
            None => std::future::pending().await,
        }
    };
    let signal = wait_for_signal();
    tokio::select! {
        _ = signal => say!("glimpse-relay: stopping (signal)"),
        _ = limit => say!("glimpse-relay: stopping (time limit)"),
    }
    let stats = relay.stats();
    say!(
        "glimpse-relay: {} sessions, {} viewers at stop",
        stats.sessions,
        stats.viewers
    );
    relay.shutdown().await;
    0
}

/// SIGTERM or SIGINT (Ctrl-C).
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
