//! Native test tool of the npm package: messages a misbehaving relay sends, encoded by the protocol
//! itself (the tests keep no copy of the message format).
//!
//! `relay_messages <out-dir>` writes, one message per file: `welcome.bin` (a welcome, viewer 7),
//! `host-hello.bin` (a message a relay may not send to a viewer), `count.bin` (3 viewers) and
//! `garbage.bin` (not a Glimpse message); and `tags.json`, the byte that tells message kinds apart
//! (`{ "header": 3, "stream": N }`: a message is a stream packet when its byte at `header` is
//! `stream`), for the tests' tampering proxy.

use glimpse::session::StreamKind;
use glimpse_connect::protocol::{Message, StreamPacket};

fn main() {
    let Some(out) = std::env::args().nth(1) else {
        eprintln!("usage: relay_messages <out-dir>");
        std::process::exit(2);
    };
    let out = std::path::Path::new(&out);
    let stream = Message::Stream(StreamPacket {
        kind: StreamKind::Update,
        seq: 1,
        captured_at_ms: 0,
        epoch: 0,
        counter: 1,
        payload: b"sealed",
    })
    .encode();
    // The header is 'G', 'C', version; postcard writes the variant index next (one byte for these).
    let tags = format!("{{\"header\": 3, \"stream\": {}}}\n", stream[3]);
    let messages: [(&str, Vec<u8>); 5] = [
        (
            "welcome.bin",
            Message::Welcome {
                viewer: 7,
                resume_token: [9; 16],
            }
            .encode(),
        ),
        (
            "host-hello.bin",
            Message::HostHello {
                lookup: None,
                secret: [1; 32],
            }
            .encode(),
        ),
        ("count.bin", Message::ViewerCount(3).encode()),
        (
            "garbage.bin",
            b"\x01\x02\x03 not a Glimpse message".to_vec(),
        ),
        ("tags.json", tags.into_bytes()),
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
