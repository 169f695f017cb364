//! Native test tool of the npm package: messages a misbehaving relay sends, encoded by the protocol
//! itself (the tests keep no copy of the message format).
//!
//! `relay_messages <out-dir>` writes, one message per file: `welcome.bin` (a welcome, viewer 7),
//! `stream-bad-payload.bin` (a checkpoint whose payload is not a Glimpse packet),
//! `host-hello.bin` (a message a relay may not send to a viewer), `count.bin` (3 viewers) and
//! `garbage.bin` (not a Glimpse message).

use glimpse::session::StreamKind;
use glimpse_connect::protocol::{Message, StreamPacket};

fn main() {
    let Some(out) = std::env::args().nth(1) else {
        eprintln!("usage: relay_messages <out-dir>");
        std::process::exit(2);
    };
    let out = std::path::Path::new(&out);
    let messages: [(&str, Vec<u8>); 5] = [
        (
            "welcome.bin",
            Message::Welcome {
                viewer: 7,
                resume_token: [9; 16],
                host_name: "hostile".into(),
            }
            .encode(),
        ),
        (
            "stream-bad-payload.bin",
            Message::Stream(StreamPacket {
                kind: StreamKind::Checkpoint { restart: true },
                seq: 1,
                captured_at_ms: 0,
                payload: b"not a packet",
            })
            .encode(),
        ),
        (
            "host-hello.bin",
            Message::HostHello {
                key: None,
                secret: [1; 32],
                name: String::new(),
            }
            .encode(),
        ),
        ("count.bin", Message::ViewerCount(3).encode()),
        (
            "garbage.bin",
            b"\x01\x02\x03 not a Glimpse message".to_vec(),
        ),
    ];
    let written = std::fs::create_dir_all(out).and_then(|()| {
        messages
            .iter()
            .try_for_each(|(name, bytes)| std::fs::write(out.join(name), bytes))
    });
    if let Err(e) = written {
        eprintln!("relay_messages: {e}");
        std::process::exit(1);
    }
}
