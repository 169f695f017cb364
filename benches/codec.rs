//! The lossless tile codec against zstd level 1 and LZ4 on the same changed tiles.
//!
//! `cargo bench --bench codec`. The tiles are every changed 64x64 tile of the text-heavy recordings
//! (typing, terminals, scrolling, slides), so the mix is what a screen share actually encodes.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glimpse::internals::{damage, TileCoder};
use glimpse::{Entropy, Frame, PixelFormat, Rect};
mod common;

const PER_ROW: u32 = 32;
const MAX_TILES: usize = 4096;

/// Changed tiles copied into one image (32 tiles per row, at most 4096 tiles), and their rectangles.
fn changed_tiles() -> (Vec<u8>, u32, Vec<Rect>) {
    let (corpus, width) = common::widest_corpus();
    let mut tiles: Vec<Vec<u8>> = Vec::new();
    for s in corpus
        .scenarios
        .iter()
        .filter(|s| s.width == width && s.name != "video_region")
    {
        let frames = s.load_all().expect("frames");
        let grid = damage::TileGrid::new(s.width, s.height, 64);
        for pair in frames.windows(2).step_by(3) {
            let stride = s.width as usize * 4;
            let prev = Frame::new(&pair[0], s.width, s.height, stride, PixelFormat::Bgra8).unwrap();
            let cur = Frame::new(&pair[1], s.width, s.height, stride, PixelFormat::Bgra8).unwrap();
            for d in damage::detect(&prev, &cur, None, 64) {
                let t = grid.tile_rect(d.index);
                if t.width != 64 || t.height != 64 {
                    continue;
                }
                let mut tile = Vec::with_capacity(64 * 256);
                for row in t.y..t.bottom() {
                    let start = row as usize * stride + t.x as usize * 4;
                    tile.extend_from_slice(&pair[1][start..start + 256]);
                }
                tiles.push(tile);
            }
        }
    }
    tiles.truncate(MAX_TILES);
    let rows = (tiles.len() as u32).div_ceil(PER_ROW);
    let (width, height) = (PER_ROW * 64, rows * 64);
    let mut image = vec![0u8; width as usize * height as usize * 4];
    let mut rects = Vec::new();
    for (k, tile) in tiles.iter().enumerate() {
        let (x, y) = ((k as u32 % PER_ROW) * 64, (k as u32 / PER_ROW) * 64);
        for (r, line) in tile.chunks_exact(256).enumerate() {
            let start = ((y as usize + r) * width as usize + x as usize) * 4;
            image[start..start + 256].copy_from_slice(line);
        }
        rects.push(Rect::new(x, y, 64, 64));
    }
    (image, height, rects)
}

fn bench(c: &mut Criterion) {
    let (image, height, rects) = changed_tiles();
    let width = PER_ROW * 64;
    let frame = Frame::new(
        &image,
        width,
        height,
        width as usize * 4,
        PixelFormat::Bgra8,
    )
    .unwrap();
    let pixels = rects.len() as u64 * 64 * 64;
    let mut g = c.benchmark_group(format!("codec_{}_tiles", rects.len()));
    g.throughput(Throughput::Elements(pixels));
    g.sample_size(20);
    for (name, entropy) in [
        ("glimpse_lz4", Entropy::Lz4),
        ("glimpse_adaptive", Entropy::Adaptive),
        ("glimpse_deflate1", Entropy::Deflate(1)),
    ] {
        let mut coder = TileCoder::new(entropy);
        let size = coder.encode(&frame, &rects).unwrap().len();
        eprintln!(
            "{name}: {size} bytes for {} bytes of tiles ({:.2}%)",
            image.len(),
            size as f64 * 100.0 / image.len() as f64
        );
        g.bench_function(name, |b| {
            b.iter(|| coder.encode(&frame, &rects).unwrap().len())
        });
    }
    // The baselines get the same tiles, each tile's rows contiguous.
    let tiles: Vec<u8> = rects
        .iter()
        .flat_map(|r| {
            (r.y..r.bottom()).flat_map(move |y| {
                let start = (y as usize * width as usize + r.x as usize) * 4;
                start..start + 256
            })
        })
        .map(|i| image[i])
        .collect();
    let image = tiles;
    let zstd_size = zstd::bulk::compress(&image, 1).unwrap().len();
    let lz4_size = lz4_flex::block::compress(&image).len();
    eprintln!("baseline_zstd1: {zstd_size} bytes; baseline_lz4: {lz4_size} bytes");
    g.bench_function("baseline_zstd1", |b| {
        b.iter(|| zstd::bulk::compress(&image, 1).unwrap())
    });
    g.bench_function("baseline_lz4", |b| {
        b.iter(|| lz4_flex::block::compress(&image))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
