//! NATS that requires a token and TLS, set up as README "Deploying" describes: relay nodes started
//! with `--nats-auth-file` and `--nats-ca` join it, and a viewer on node 2 ends pixel-exact with the
//! host on node 1. A node with a wrong token, or one that does not trust the server's certificate,
//! does not start and says why.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use glimpse_connect::relay::cluster::{ClusterConfig, NatsAuth};
use glimpse_connect::relay::{Relay, RelayConfig};
use glimpse_connect::ConnectError;

use crate::harness::{free_port, wait_port, RelayNode};
use crate::{nats_and_runtime, recording, relay_exe, viewer, wait_exact, LoopingHost};

const TOKEN: &str = "s3cret-token-of-the-cluster";

/// One `nats-server` with JetStream that requires [`TOKEN`] and TLS (a self-signed certificate for
/// 127.0.0.1), in a temporary folder; stopped and removed on drop.
struct SecuredNats {
    child: Child,
    port: u16,
    dir: PathBuf,
    /// The server's certificate, which the nodes trust (`--nats-ca`).
    cert: PathBuf,
}

impl SecuredNats {
    fn start(exe: &Path) -> SecuredNats {
        let dir = std::env::temp_dir().join(format!("glimpse-nats-secured-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("store")).expect("temp dir");
        let pair = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("certificate");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, pair.cert.pem()).expect("cert file");
        std::fs::write(&key, pair.signing_key.serialize_pem()).expect("key file");
        let port = free_port();
        let log = std::fs::File::create(dir.join("nats.log")).expect("log file");
        let child = Command::new(exe)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js"])
            .args(["-sd", &dir.join("store").to_string_lossy()])
            .args(["--auth", TOKEN, "--tls"])
            .args(["--tlscert", &cert.to_string_lossy()])
            .args(["--tlskey", &key.to_string_lossy()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        wait_port(port, Duration::from_secs(10));
        SecuredNats {
            child,
            port,
            dir,
            cert,
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// A credentials file holding `line`.
    fn auth_file(&self, name: &str, line: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, format!("{line}\n")).expect("auth file");
        path
    }
}

impl Drop for SecuredNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn nodes_with_the_token_and_the_ca_serve_a_session_and_others_are_refused() {
    let Some((nats, rt)) = nats_and_runtime("secured NATS") else {
        return;
    };
    let _guard = rt.enter();
    let server = SecuredNats::start(&nats);
    let token_file = server.auth_file("token", TOKEN);
    let (auth, ca) = (token_file.to_string_lossy(), server.cert.to_string_lossy());
    let args = [
        "--nats-auth-file",
        &auth,
        "--nats-ca",
        &ca,
        "--nats-replicas",
        "1",
    ];
    let nodes: Vec<RelayNode> = (0..2)
        .map(|_| RelayNode::start(&relay_exe(), &server.url(), &args))
        .collect();
    let mut host = LoopingHost::start(&nodes[0].url(), recording("scroll_terminal", 40), 15.0);
    let on_2 = viewer(&nodes[1].url(), &host.host, "viewer on node 2");
    std::thread::sleep(Duration::from_secs(2));
    let last = host.finish(23);
    assert!(
        wait_exact(&on_2, &last, Duration::from_secs(20)),
        "the viewer on node 2 does not show the host's last frame"
    );
    println!("secured NATS: token and TLS; a viewer on node 2 ended pixel-exact");

    // The same server refuses a wrong token, and a node that does not trust its certificate.
    let wrong = server.auth_file("wrong", "not-the-token");
    // (what, credentials file, CA file, what the error must name)
    let refusals = [
        ("a wrong token", &wrong, Some(&server.cert), "authorization"),
        (
            "no CA for the server's certificate",
            &token_file,
            None,
            "certificate",
        ),
    ];
    for (what, auth_file, ca_file, cause) in refusals {
        let mut cluster = ClusterConfig::new(vec![server.url()]);
        cluster.replicas = 1;
        cluster.connect_timeout = Duration::from_secs(2);
        cluster.auth = Some(NatsAuth::from_file(auth_file).expect("auth file"));
        cluster.ca_file = ca_file.cloned();
        let mut config = RelayConfig::default();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.cluster = Some(cluster);
        match rt.block_on(Relay::start(config)) {
            Err(ConnectError::Unreachable(why)) => {
                assert!(why.contains("cannot reach NATS"), "{what}: {why}");
                assert!(why.contains(cause), "{what}: the cause is not named: {why}");
                println!("secured NATS: {what}: refused: {why}");
            }
            Err(other) => panic!("{what}: not the NATS error: {other:?}"),
            Ok(_) => panic!("{what}: the node started"),
        }
    }
}
