//! Damage detection against its baseline, a plain slice compare of the same two frames.
//!
//! `cargo bench --bench damage`. Uses the largest recordings available: `../shared/corpus` (1920x1080)
//! when present, else the bundled 1280x720 ones.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glimpse::internals::damage;
use glimpse::{Frame, PixelFormat};
mod common;

fn bench(c: &mut Criterion) {
    let (corpus, width) = common::widest_corpus();
    let scenario = corpus
        .scenarios
        .iter()
        .find(|s| s.width == width && s.name == "typing_editor")
        .expect("typing_editor");
    let frames = scenario.load_all().expect("frames");
    let (w, h) = (scenario.width, scenario.height);
    let pair = frames
        .windows(2)
        .find(|p| p[0] != p[1])
        .expect("a changed pair");
    let unchanged = frames[0].clone();
    let stride = w as usize * 4;
    let cases: [(&str, &Vec<u8>, &Vec<u8>); 2] = [
        ("unchanged", &frames[0], &unchanged),
        ("typing", &pair[0], &pair[1]),
    ];
    for (name, a, b) in cases {
        let mut g = c.benchmark_group(format!("damage_{name}_{w}x{h}"));
        g.throughput(Throughput::Bytes(a.len() as u64));
        let prev = Frame::new(a, w, h, stride, PixelFormat::Bgra8).unwrap();
        let cur = Frame::new(b, w, h, stride, PixelFormat::Bgra8).unwrap();
        g.bench_function("glimpse_detect", |bench| {
            bench.iter(|| damage::detect(&prev, &cur, None, 64))
        });
        g.bench_function("baseline_slice_eq", |bench| {
            bench.iter(|| std::hint::black_box(&a[..]) == std::hint::black_box(&b[..]))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
