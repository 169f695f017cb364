//! NATS that requires a token and TLS, set up as README "Deploying" describes: relay nodes started
//! with `--nats-auth-file` and `--nats-ca` join it, and a viewer on node 2 ends pixel-exact with the
//! host on node 1. A node with a wrong token, or one that does not trust the server's certificate,
//! does not start and says why.

use std::path::PathBuf;
use std::time::Duration;

use glimpse_connect::relay::cluster::{ClusterConfig, ClusterError, NatsAuth};
use glimpse_connect::relay::{Relay, RelayConfig, StartError};

use crate::harness::{NatsCluster, RelayNode};
use crate::{nats_and_runtime, recording, relay_exe, viewer, wait_exact, LoopingHost};

const TOKEN: &str = "s3cret-token-of-the-cluster";

/// The files of a secured setup in a temporary folder (removed on drop): the server's self-signed
/// certificate for 127.0.0.1 (which the nodes trust, `--nats-ca`) and its key, and credentials files.
struct Secrets {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Secrets {
    fn new() -> Secrets {
        let dir = std::env::temp_dir().join(format!("glimpse-nats-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let pair = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("certificate");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, pair.cert.pem()).expect("cert file");
        std::fs::write(&key, pair.signing_key.serialize_pem()).expect("key file");
        Secrets { dir, cert, key }
    }

    /// A credentials file holding `line`.
    fn auth_file(&self, name: &str, line: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, format!("{line}\n")).expect("auth file");
        path
    }
}

impl Drop for Secrets {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn nodes_with_the_token_and_the_ca_serve_a_session_and_others_are_refused() {
    let Some((nats, rt)) = nats_and_runtime("secured NATS") else {
        return;
    };
    let _guard = rt.enter();
    let secrets = Secrets::new();
    let (cert, key) = (
        secrets.cert.to_string_lossy(),
        secrets.key.to_string_lossy(),
    );
    // One server that requires the token and TLS (`--tls`: clients must upgrade).
    let tls = [
        "--auth",
        TOKEN,
        "--tls",
        "--tlscert",
        &cert,
        "--tlskey",
        &key,
    ];
    let server = NatsCluster::start_with(&nats, 1, None, &tls);
    let token_file = secrets.auth_file("token", TOKEN);
    let auth = token_file.to_string_lossy();
    let args = [
        "--nats-auth-file",
        &auth,
        "--nats-ca",
        &cert,
        "--nats-replicas",
        "1",
    ];
    let nodes: Vec<RelayNode> = (0..2)
        .map(|_| RelayNode::start(&relay_exe(), &server.urls(), &args))
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
    let wrong = secrets.auth_file("wrong", "not-the-token");
    // (what, credentials file, CA file, what the error must name)
    let refusals = [
        (
            "a wrong token",
            &wrong,
            Some(&secrets.cert),
            "authorization",
        ),
        (
            "no CA for the server's certificate",
            &token_file,
            None,
            "certificate",
        ),
    ];
    for (what, auth_file, ca_file, cause) in refusals {
        let mut cluster = ClusterConfig::new(vec![server.urls()]);
        cluster.replicas = 1;
        cluster.connect_timeout = Duration::from_secs(2);
        cluster.auth = Some(NatsAuth::from_file(auth_file).expect("auth file"));
        cluster.ca_file = ca_file.cloned();
        let mut config = RelayConfig::default();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.cluster = Some(cluster);
        match rt.block_on(Relay::start(config)) {
            Err(e @ StartError::Cluster(ClusterError::Connect(_))) => {
                let why = e.to_string();
                assert!(why.contains("cannot reach NATS"), "{what}: {why}");
                assert!(why.contains(cause), "{what}: the cause is not named: {why}");
                println!("secured NATS: {what}: refused: {why}");
            }
            Err(other) => panic!("{what}: not the NATS error: {other:?}"),
            Ok(_) => panic!("{what}: the node started"),
        }
    }
}
