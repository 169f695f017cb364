//! The programs as a user runs them: `glimpse-relay`, `glimpse-share`, `glimpse-view`, a Rust
//! viewer and a Chromium page on the npm API. The relay restarts (SIGTERM, then started again on
//! the same port) or the host's link stalls for 5 s mid-stream; everybody resumes without a person
//! and ends pixel-exact. Over TLS, the share and the page connect over wss with the test's
//! certificate, and plain ws to the TLS port fails. A relay that cannot start says what it could
//! not reach (not run with `--ignored`: it needs no browser).
//!
//! Run by `connect/ci.sh` (`--ignored`): they need the programs built and, for the browser
//! viewer, Node.js, Chromium and `connect/e2e` installed (`GLIMPSE_REQUIRE_BROWSER=1` makes a
//! missing browser a failure instead of a skip).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use glimpse_connect::{ClientTls, JoinCode, Screen, Viewer, ViewerConfig};

use crate::browser::{page_viewer_dir, web_dir};
use crate::common::{percentile, runtime, screen, wait_exact, Program, StallProxy, HEIGHT, WIDTH};

const RELAY: &str = env!("CARGO_BIN_EXE_glimpse-relay");
const SHARE: &str = env!("CARGO_BIN_EXE_glimpse-share");
const VIEW: &str = env!("CARGO_BIN_EXE_glimpse-view");

fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("glimpse-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// `node connect/e2e/page_viewer.mjs ...` when Node, Chromium and the e2e packages are there.
fn page_viewer(url: &str, seconds: u64, dir: &Path, extra: &[String]) -> Option<Program> {
    let e2e = page_viewer_dir("programs")?;
    let mut args = vec![
        e2e.join("page_viewer.mjs").display().to_string(),
        "--url".into(),
        url.into(),
        "--seconds".into(),
        seconds.to_string(),
        "--out".into(),
        dir.join("page.json").display().to_string(),
        "--screen-out".into(),
        dir.join("page.bgra").display().to_string(),
    ];
    args.extend_from_slice(extra);
    let page = Program::start("node", &args);
    page.wait_line("page_viewer: ready", Duration::from_secs(30));
    Some(page)
}

/// The host's last frame, once it wrote it to `dir/last.bgra`: the screen everybody ends on.
fn last_screen(dir: &Path) -> Screen {
    loop {
        if let Ok(pixels) = std::fs::read(dir.join("last.bgra")) {
            return screen(pixels);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start_relay(listen: &str, extra: &[String]) -> (Program, String) {
    let mut args = strings(&["--listen", listen]);
    if let Some(web) = web_dir() {
        args.extend(["--web".into(), web.display().to_string()]);
    }
    args.extend_from_slice(extra);
    let relay = Program::start(RELAY, &args);
    let url = relay.wait_line("relay listening on ", Duration::from_secs(20));
    (relay, url)
}

fn start_share(relay_ws: &str, dir: &Path, extra: &[String]) -> (Program, JoinCode) {
    let mut args = strings(&[
        "--relay",
        relay_ws,
        "--corpus",
        "typing_editor@1280x720",
        "--corpus-dir",
        "../testdata/corpus",
        "--fps",
        "10",
        "--seconds",
        "40",
        "--view-only",
    ]);
    args.extend([
        "--last-frame".into(),
        dir.join("last.bgra").display().to_string(),
    ]);
    args.extend_from_slice(extra);
    let share = Program::start(SHARE, &args);
    let key = share.wait_line("share: code: ", Duration::from_secs(30));
    (share, JoinCode::parse(&key).expect("a code"))
}

fn first_after(applied: &[(u64, f64)], after_ms: f64) -> Option<f64> {
    applied
        .iter()
        .find(|(_, at)| *at >= after_ms)
        .map(|(_, at)| at - after_ms)
}

/// Reads the `applied`/`paints` pairs `[seq, ms]` of a JSON report.
fn pairs(json: &serde_json::Value, field: &str) -> Vec<(u64, f64)> {
    json[field]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p[0].as_f64()? as u64, p[1].as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}

enum Disruption {
    RelayRestart,
    HostStall,
}

fn resume_after(disruption: Disruption) {
    let dir = temp_dir(match disruption {
        Disruption::RelayRestart => "restart",
        Disruption::HostStall => "stall",
    });
    let rt = runtime();
    let (mut relay, http) = start_relay("127.0.0.1:0", &[]);
    let addr = http.trim_start_matches("http://").to_string();
    let ws = format!("ws://{addr}");
    let proxy = rt.block_on(StallProxy::start(addr.parse().unwrap()));
    let host_ws = match disruption {
        Disruption::RelayRestart => ws.clone(),
        Disruption::HostStall => format!("ws://{}", proxy.addr),
    };
    let (mut share, key) = start_share(&host_ws, &dir, &[]);
    let rust = Viewer::join(ViewerConfig::new(&ws, key)).expect("the Rust viewer joins");
    let view_json = dir.join("view.json");
    let mut view = Program::start(
        VIEW,
        &[
            "--relay".into(),
            ws.clone(),
            "--code".into(),
            key.to_string(),
            "--seconds".into(),
            "30".into(),
            "--stats".into(),
            view_json.display().to_string(),
            "--snapshot".into(),
            dir.join("view.png").display().to_string(),
            "--expect".into(),
            dir.join("last.bgra").display().to_string(),
            "--expect-size".into(),
            format!("{WIDTH}x{HEIGHT}"),
        ],
    );
    view.wait_line("glimpse-view: joined", Duration::from_secs(20));
    let mut page = page_viewer(&format!("{http}/#code={}", key.digits()), 30, &dir, &[]);
    std::thread::sleep(Duration::from_secs(3));
    let (back_ms, what) = match disruption {
        Disruption::RelayRestart => {
            relay.terminate();
            assert_eq!(
                relay.wait(Duration::from_secs(10)),
                Some(0),
                "the relay stops cleanly"
            );
            let (new_relay, _) = start_relay(&addr, &[]);
            relay = new_relay;
            (epoch_ms(), "relay restart")
        }
        Disruption::HostStall => {
            proxy.stall(true);
            std::thread::sleep(Duration::from_secs(5));
            proxy.stall(false);
            (epoch_ms(), "host link stalled 5 s")
        }
    };
    // The recording (100 frames at 10 fps) ends; everybody settles on its last frame.
    let last = last_screen(&dir);
    assert!(
        wait_exact(&rust, &last, Duration::from_secs(20)),
        "Rust viewer pixel-exact"
    );
    let mut firsts =
        vec![first_after(&rust.stats().applied, back_ms).expect("Rust viewer: a frame after")];
    rust.close();
    assert_eq!(
        view.wait(Duration::from_secs(40)),
        Some(0),
        "glimpse-view ends pixel-exact"
    );
    let view_stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&view_json).unwrap()).unwrap();
    assert_eq!(view_stats["pixel_exact"], serde_json::Value::Bool(true));
    firsts.push(
        first_after(&pairs(&view_stats, "applied"), back_ms).expect("glimpse-view: a frame after"),
    );
    if let Some(page) = page.as_mut() {
        assert_eq!(
            page.wait(Duration::from_secs(60)),
            Some(0),
            "the page viewer ran"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("page.json")).unwrap()).unwrap();
        let canvas = std::fs::read(dir.join("page.bgra")).expect("page canvas");
        assert!(
            canvas == last.pixels,
            "the browser's canvas equals the host's last frame"
        );
        firsts.push(first_after(&pairs(&json, "paints"), back_ms).expect("browser: a paint after"));
    }
    share.stop();
    relay.stop();
    println!(
        "{what}: first new frame painted after {:?} ms (Rust viewer, glimpse-view, browser); p50 {:.0} ms",
        firsts.iter().map(|f| f.round()).collect::<Vec<_>>(),
        percentile(&firsts, 50.0)
    );
}

#[test]
#[ignore = "needs the programs built and a browser: connect/ci.sh runs it"]
fn every_viewer_resumes_after_a_relay_restart() {
    resume_after(Disruption::RelayRestart);
}

#[test]
#[ignore = "needs the programs built and a browser: connect/ci.sh runs it"]
fn every_viewer_resumes_after_the_host_link_stalls() {
    resume_after(Disruption::HostStall);
}

/// A self-signed certificate for 127.0.0.1 and localhost: (cert PEM, key PEM, SPKI SHA-256 in
/// base64 for Chromium's --ignore-certificate-errors-spki-list).
fn certificate(dir: &Path) -> (PathBuf, PathBuf, String) {
    use base64::Engine;
    use rcgen::PublicKeyData;
    use sha2::Digest;
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("certificate");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let spki = sha2::Sha256::digest(cert.signing_key.subject_public_key_info());
    (
        cert_path,
        key_path,
        base64::engine::general_purpose::STANDARD.encode(spki),
    )
}

#[test]
#[ignore = "needs the programs built and a browser: connect/ci.sh runs it"]
fn tls_relay_serves_wss_and_refuses_plain_ws() {
    let dir = temp_dir("tls");
    let (cert, key, spki) = certificate(&dir);
    let tls = strings(&[
        "--tls-cert",
        &cert.display().to_string(),
        "--tls-key",
        &key.display().to_string(),
    ]);
    let (mut relay, https) = start_relay("127.0.0.1:0", &tls);
    assert!(https.starts_with("https://"), "{https}");
    let addr = https.trim_start_matches("https://").to_string();
    let wss = format!("wss://{addr}");
    let ca = strings(&["--ca-cert", &cert.display().to_string()]);
    let (mut share, session) = start_share(&wss, &dir, &ca);
    // A Rust viewer that trusts the certificate joins; one that does not is refused (TLS error).
    let mut config = ViewerConfig::new(&wss, session);
    config.tls = ClientTls {
        ca_cert: Some(cert.clone()),
        only_ca_cert: true,
    };
    let viewer = Viewer::join(config).expect("wss viewer joins");
    let mut untrusting = ViewerConfig::new(&wss, session);
    untrusting.tls = ClientTls::default();
    let e = Viewer::join(untrusting)
        .err()
        .expect("an unknown certificate is refused");
    assert_eq!(e.code(), 41, "{e}");
    // Plain ws to the TLS port fails.
    let e = Viewer::join(ViewerConfig::new(&format!("ws://{addr}"), session))
        .err()
        .expect("plain ws refused");
    assert!(matches!(e.code(), 40 | 47), "{e}");
    let page = page_viewer(
        &format!("{https}/#code={}", session.digits()),
        15,
        &dir,
        &strings(&["--spki", &spki]),
    );
    let last = last_screen(&dir);
    assert!(
        wait_exact(&viewer, &last, Duration::from_secs(20)),
        "wss viewer pixel-exact"
    );
    if let Some(mut page) = page {
        assert_eq!(page.wait(Duration::from_secs(60)), Some(0));
        let canvas = std::fs::read(dir.join("page.bgra")).expect("page canvas");
        assert!(
            canvas == last.pixels,
            "the browser over wss equals the host's last frame"
        );
        println!("tls: browser joined over wss with the test certificate");
    }
    drop(viewer);
    let started = Instant::now();
    share.stop();
    relay.stop();
    println!(
        "tls: share, Rust viewer and browser over wss; stopped in {:?}",
        started.elapsed()
    );
}

#[test]
fn relay_that_cannot_listen_says_what_it_could_not_reach() {
    // The address is taken by this test, so the relay cannot bind it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address").to_string();
    let mut command = std::process::Command::new(RELAY);
    command
        .args(["--listen", &addr])
        .stderr(std::process::Stdio::piped());
    let mut relay = Program::spawn(command);
    let status = relay.wait(Duration::from_secs(20));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut relay.child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "glimpse-relay: cannot start: cannot listen on {addr}"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot reach the relay"), "{stderr}");
}
