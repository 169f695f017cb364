//! `glimpse-share` prints the join link as a QR code; a QR decoder reads it back as that link.

use std::process::Command;
use std::time::Duration;

use crate::common::Program;

/// The printed QR code as a greyscale bitmap: each half-block character is two modules (light on
/// dark: a block is a light module), each module `scale` pixels square.
fn bitmap(lines: &[String], scale: usize) -> (usize, usize, Vec<u8>) {
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let height = lines.len() * 2;
    let mut modules = vec![0u8; width * height];
    for (row, line) in lines.iter().enumerate() {
        for (col, c) in line.chars().enumerate() {
            let (top, bottom) = match c {
                '█' => (255, 255),
                '▀' => (255, 0),
                '▄' => (0, 255),
                _ => (0, 0),
            };
            modules[(2 * row) * width + col] = top;
            modules[(2 * row + 1) * width + col] = bottom;
        }
    }
    let (w, h) = (width * scale, height * scale);
    let pixels = (0..w * h)
        .map(|i| modules[(i / w / scale) * width + (i % w) / scale])
        .collect();
    (w, h, pixels)
}

#[test]
fn the_printed_qr_code_reads_back_as_the_join_link() {
    let mut share = Command::new(env!("CARGO_BIN_EXE_glimpse-share"));
    share.args(["--demo", "--listen", "127.0.0.1:0", "--seconds", "3"]);
    let mut share = Program::spawn(share);
    let link = share.wait_line("share: viewers open ", Duration::from_secs(30));
    let link = link.rsplit(" or open ").next().unwrap().to_string();
    share.wait_line("share: or scan this with a phone:", Duration::from_secs(5));
    assert_eq!(share.wait(Duration::from_secs(30)), Some(0));
    let lines = share.lines_after("share: or scan this with a phone:");
    let qr: Vec<String> = lines
        .into_iter()
        .take_while(|l| l.chars().all(|c| matches!(c, '█' | '▀' | '▄' | ' ')) && !l.is_empty())
        .collect();
    assert!(qr.len() > 10, "a QR code was printed: {qr:?}");
    let (w, h, pixels) = bitmap(&qr, 4);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code found");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    assert_eq!(content, link);
    assert!(content.contains("/#code="), "{content}");
    println!("qr: {} lines decode to {content}", qr.len());
}
