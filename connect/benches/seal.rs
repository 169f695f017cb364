//! What end-to-end encryption costs: sealing every packet of a recording (host) and opening it
//! (viewer), against encoding and decoding the same frames, measured in the same run. Target: at
//! most 3% of encode plus decode time at 1920x1080.
//!
//! `cargo bench -p glimpse-connect --bench seal` (reads `../shared/corpus` at 1920x1080 when present,
//! else the bundled 1280x720 recordings). Prints one JSON object.

use std::time::Instant;

use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Frame, PixelFormat};
use glimpse_connect::crypto::{open, seal, stream_aad, Key};

/// Median of `values` (sorted in place).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    let corpus = glimpse_corpus::Corpus::shared_or_bundled().expect("a corpus");
    let (w, h) = corpus
        .scenarios
        .iter()
        .map(|s| (s.width, s.height))
        .max_by_key(|(w, h)| w * h)
        .expect("recordings");
    let key = Key::random().expect("random key");
    let mut report = Vec::new();
    let (mut total_codec, mut total_crypto) = (0.0, 0.0);
    for scenario in corpus.at(w, h).filter(|s| !s.name.contains("video")) {
        let frames = scenario.load_all().expect("frames");
        let (mut encode, mut decode, mut sealing, mut opening) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut bytes = 0usize;
        for _pass in 0..3 {
            let mut encoder = Encoder::new(EncoderConfig::default());
            let mut decoder = Decoder::new(DecoderConfig::default());
            for (i, pixels) in frames.iter().enumerate() {
                let frame =
                    Frame::new(pixels, w, h, w as usize * 4, PixelFormat::Bgra8).expect("frame");
                let t = Instant::now();
                let packet = encoder.encode(&frame).expect("encode");
                encode.push(t.elapsed().as_secs_f64() * 1e3);
                let Some(packet) = packet else { continue };
                let aad = stream_aad(0, i as u64, 3, i as u64);
                let t = Instant::now();
                let sealed = seal(&key, &aad, packet.as_bytes()).expect("seal");
                sealing.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                let opened = open(&key, &aad, &sealed).expect("open");
                opening.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                decoder.apply(&opened).expect("decode");
                decode.push(t.elapsed().as_secs_f64() * 1e3);
                bytes += sealed.len();
            }
        }
        let sum = |v: &[f64]| v.iter().sum::<f64>();
        let codec = sum(&encode) + sum(&decode);
        let crypto = sum(&sealing) + sum(&opening);
        total_codec += codec;
        total_crypto += crypto;
        report.push(serde_json::json!({
            "scenario": scenario.name,
            "encode_ms_median": median(&mut encode),
            "decode_ms_median": median(&mut decode),
            "seal_ms_median": median(&mut sealing),
            "open_ms_median": median(&mut opening),
            "sealed_bytes": bytes / 3,
            "crypto_percent_of_codec": 100.0 * crypto / codec.max(1e-9),
        }));
    }
    let json = serde_json::json!({
        "resolution": format!("{w}x{h}"),
        "scenarios": report,
        "crypto_percent_of_codec_total": 100.0 * total_crypto / total_codec.max(1e-9),
    });
    println!("{json:#}");
}
