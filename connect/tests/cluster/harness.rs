//! A relay cluster on 127.0.0.1 for tests and the webinar benchmark: `nats-server` processes (a
//! NATS cluster with JetStream, temporary store directories), `glimpse-relay --nats` processes,
//! a TCP load balancer that fails over to the next node, and `/metrics` readers. Everything is
//! stopped and removed on drop. Shared by `tests/cluster` and `examples/webinar.rs`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

/// The `nats-server` program, if installed (PATH, then /usr/sbin where Debian puts it).
pub fn nats_server() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push("/usr/sbin".into());
    dirs.push("/usr/local/sbin".into());
    dirs.into_iter()
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

/// `nats-server`, or `None` after printing why the caller skips (a panic when the environment
/// variable `GLIMPSE_REQUIRE_NATS` is set: CI must not skip silently).
pub fn nats_or_skip(what: &str) -> Option<PathBuf> {
    let found = nats_server();
    if found.is_none() {
        assert!(
            std::env::var_os("GLIMPSE_REQUIRE_NATS").is_none(),
            "{what}: nats-server is required (GLIMPSE_REQUIRE_NATS is set): bash scripts/setup.sh"
        );
        println!("{what}: skipped: nats-server is not installed (bash scripts/setup.sh)");
    }
    found
}

/// A free TCP port on 127.0.0.1 (free when asked; good enough for tests).
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A NATS cluster of `n` servers with JetStream, on free ports, stores in a temporary folder.
pub struct NatsCluster {
    servers: Vec<Option<Child>>,
    ports: Vec<u16>,
    dir: PathBuf,
}

impl NatsCluster {
    pub fn start(exe: &std::path::Path, n: usize) -> NatsCluster {
        NatsCluster::start_with(exe, n, None, &[])
    }

    /// With a payload limit of `max_payload` bytes (the server's default is 1 MB) and `extra`
    /// arguments for every server (authentication, TLS).
    pub fn start_with(
        exe: &std::path::Path,
        n: usize,
        max_payload: Option<usize>,
        extra: &[&str],
    ) -> NatsCluster {
        let dir = std::env::temp_dir().join(format!(
            "glimpse-nats-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let routes: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let route_urls: Vec<String> = routes
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect();
        let mut servers = Vec::new();
        for i in 0..n {
            let store = dir.join(format!("s{i}"));
            std::fs::create_dir_all(&store).expect("store dir");
            let log = std::fs::File::create(dir.join(format!("s{i}.log"))).expect("log file");
            let mut command = Command::new(exe);
            command.args([
                "-a",
                "127.0.0.1",
                "-p",
                &ports[i].to_string(),
                "-n",
                &format!("n{i}"),
                "-js",
                "-sd",
                &store.to_string_lossy(),
            ]);
            command.args(extra);
            if let Some(limit) = max_payload {
                let config = dir.join(format!("s{i}.conf"));
                std::fs::write(&config, format!("max_payload: {limit}\n")).expect("config");
                command.args(["-c", &config.to_string_lossy()]);
            }
            if n > 1 {
                command.args([
                    "--cluster",
                    &route_urls[i],
                    "--cluster_name",
                    "glimpse-test",
                    "--routes",
                    &route_urls.join(","),
                ]);
            }
            let child = command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("nats-server starts");
            servers.push(Some(child));
        }
        let cluster = NatsCluster {
            servers,
            ports,
            dir,
        };
        for port in &cluster.ports {
            wait_port(*port, Duration::from_secs(10));
        }
        cluster
    }

    /// `nats://...` of every server, comma-separated.
    pub fn urls(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills server `i` (SIGKILL: no goodbye to its peers or clients).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.servers[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.kill(i);
        }
        if std::env::var_os("GLIMPSE_KEEP_NATS").is_some() {
            println!("NATS stores and logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn wait_port(port: u16, limit: Duration) {
    let until = Instant::now() + limit;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "port {port} did not open");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `glimpse-relay --nats` process.
pub struct RelayNode {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub node: u32,
}

impl RelayNode {
    /// Starts a node (`extra`: more arguments) and waits until it joined the cluster.
    pub fn start(exe: &std::path::Path, nats: &str, extra: &[&str]) -> RelayNode {
        let mut child = Command::new(exe)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--nats",
                nats,
                "--log-format",
                "text",
                // 256 MiB for the stream: JetStream refuses more than its storage (75% of the free
                // disk by default) may hold.
                "--nats-max-bytes",
                "268435456",
            ])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("GLIMPSE_RELAY_LOG").unwrap_or("warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("glimpse-relay starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut addr, mut node) = (None, None);
        for line in lines.by_ref() {
            let line = line.expect("relay output");
            if let Some(a) = line.strip_prefix("relay listening on http://") {
                addr = a.parse().ok();
            }
            if let Some(n) = line.strip_prefix("cluster node ") {
                node = n.split_whitespace().next().and_then(|n| n.parse().ok());
                break;
            }
        }
        // Keep reading what it prints, so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        RelayNode {
            child: Some(child),
            addr: addr.expect("the relay printed its address"),
            node: node.expect("the relay joined the cluster"),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// SIGKILL: the node dies without a word to anyone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Its `/metrics`, as (name, value) pairs.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let (_, body) = http_get(self.addr, "/metrics");
        body.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(' ')?;
                Some((name.to_string(), value.parse().ok()?))
            })
            .collect()
    }

    /// One metric (`-1` when absent).
    pub fn metric(&self, name: &str) -> f64 {
        self.metrics()
            .into_iter()
            .find(|(n, _)| n == name)
            .map_or(-1.0, |(_, v)| v)
    }
}

impl Drop for RelayNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain HTTP GET on loopback: (status line, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return (String::new(), String::new());
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text.lines().next().unwrap_or_default().to_string();
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// A TCP load balancer: each connection goes to the first backend that accepts it (a dead node
/// refuses, so clients that reconnect land on the next one).
pub struct Balancer {
    pub addr: SocketAddr,
    backends: Arc<Mutex<Vec<SocketAddr>>>,
}

impl Balancer {
    pub async fn start(backends: Vec<SocketAddr>) -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("balancer binds");
        let addr = listener.local_addr().expect("address");
        let backends = Arc::new(Mutex::new(backends));
        let b = backends.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let list = b.lock().unwrap().clone();
                tokio::spawn(async move {
                    for backend in list {
                        if let Ok(Ok(mut server)) = tokio::time::timeout(
                            Duration::from_secs(2),
                            TcpStream::connect(backend),
                        )
                        .await
                        {
                            let _ = server.set_nodelay(true);
                            let _ = client.set_nodelay(true);
                            let mut client = client;
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            return;
                        }
                    }
                });
            }
        });
        Balancer { addr, backends }
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }
}
