//! Hostile streams for the browser viewer's limits, made from real encoder output (`packets make`
//! writes them; `hostile` in the manifest):
//!
//! - `hostile_video5.glp`: a checkpoint, then one update carrying 5 video pictures (5 regions at
//!   once; an honest encoder never sends more than 4). The browser viewer must refuse the update.
//! - `hostile_regions.glp`: a checkpoint, then 8 updates each starting a new video region (and never
//!   ending one). The browser viewer must keep at most 4 decoders, closing the least recently used.
//! - `hostile_huge.glp`: a checkpoint announcing an 8192x8192 screen (a 200x200 checkpoint with its
//!   size changed). The browser viewer (limit 4096x4096 unless raised) must refuse it clearly.
//!
//! The video updates reuse an H.264 keyframe of the synthetic video stream (so browsers can decode
//! each picture) in ops written in the packet format; the native decoder checks every stream.

use glimpse::protocol::{write_framed, PacketHeader};
use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Entropy, Frame, PixelFormat};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const OP_STORE_SCREEN: u8 = 0;
const OP_VIDEO: u8 = 5;
const OP_SAVE_REFERENCE: u8 = 7;
const OP_RESET_HISTORY: u8 = 10;

/// One `Video` op as read from an update.
#[derive(Clone)]
struct VideoOp {
    rect: [u32; 4],
    keyframe: bool,
    data: Vec<u8>,
}

/// An update whose ops are video pictures only (and one-byte ops: `StoreScreen`, `SaveReference`,
/// `ResetHistory`): its pictures and the
/// bytes after its ops (the payload section).
struct Template {
    video: VideoOp,
    tail: Vec<u8>,
}

fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an update (header, seq, ops) when its ops are pictures only, one of them a keyframe.
fn template(update: &[u8]) -> Option<Template> {
    let mut at = 3; // 'G', version, kind
    varint(update, &mut at)?; // seq
    let count = varint(update, &mut at)?;
    let mut keyframe = None;
    for _ in 0..count {
        match *update.get(at)? {
            // One-byte ops the copies leave out (the stored payload needs no history).
            OP_STORE_SCREEN | OP_SAVE_REFERENCE | OP_RESET_HISTORY => at += 1,
            OP_VIDEO => {
                at += 1;
                varint(update, &mut at)?; // region
                let mut rect = [0u32; 4];
                for v in &mut rect {
                    *v = u32::try_from(varint(update, &mut at)?).ok()?;
                }
                let key = *update.get(at)? & 1 == 1;
                at += 1;
                let len = usize::try_from(varint(update, &mut at)?).ok()?;
                let data = update.get(at..at + len)?.to_vec();
                at += len;
                if key {
                    keyframe = Some(VideoOp {
                        rect,
                        keyframe: true,
                        data,
                    });
                }
            }
            _ => return None,
        }
    }
    Some(Template {
        video: keyframe?,
        tail: update[at..].to_vec(),
    })
}

/// An update `seq` carrying `pictures` as `(region, x, y)` copies of the template's keyframe.
fn update(seq: u64, t: &Template, pictures: &[(u32, u32, u32)], header: &[u8]) -> Vec<u8> {
    let mut out = header[..3].to_vec();
    put_varint(&mut out, seq);
    put_varint(&mut out, pictures.len() as u64);
    for &(region, x, y) in pictures {
        out.push(OP_VIDEO);
        put_varint(&mut out, u64::from(region));
        for v in [x, y, t.video.rect[2], t.video.rect[3]] {
            put_varint(&mut out, u64::from(v));
        }
        out.push(u8::from(t.video.keyframe));
        put_varint(&mut out, t.video.data.len() as u64);
        out.extend_from_slice(&t.video.data);
    }
    out.extend_from_slice(&t.tail);
    out
}

/// Applies `packets` with a native decoder that returns pictures; the count of pictures per update.
fn check(packets: &[Vec<u8>], max: (u32, u32)) -> Res<Vec<usize>> {
    let mut config = DecoderConfig::default();
    config.decode_video = false;
    config.max_width = max.0;
    config.max_height = max.1;
    let mut decoder = Decoder::new(config);
    let mut pictures = Vec::new();
    for p in packets {
        pictures.push(decoder.apply(p)?.video.len());
    }
    Ok(pictures)
}

fn write(out: &std::path::Path, name: &str, packets: &[Vec<u8>]) -> Res<()> {
    let mut file = Vec::new();
    for p in packets {
        write_framed(&mut file, p);
    }
    std::fs::write(out.join(name), file)?;
    Ok(())
}

/// Writes the hostile streams from `frames` (BGRA screens of `w` x `h` where a video region plays);
/// the manifest entry.
pub fn make(out: &std::path::Path, (w, h): (u32, u32), frames: Vec<Vec<u8>>) -> Res<String> {
    let mut config = EncoderConfig::default();
    config.entropy = Entropy::Stored; // payload sections that need no history
    let mut encoder = Encoder::new(config);
    let mut checkpoint = None;
    let mut found = None;
    for pixels in &frames {
        let frame = Frame::new(pixels, w, h, w as usize * 4, PixelFormat::Bgra8)?;
        let Some(p) = encoder.encode(&frame)? else {
            continue;
        };
        if checkpoint.is_none() {
            checkpoint = Some(p.as_bytes().to_vec());
        } else if let Some(t) = template(p.as_bytes()) {
            found = Some((t, p.as_bytes()[..3].to_vec()));
            break;
        }
    }
    let checkpoint = checkpoint.ok_or("no checkpoint")?;
    let (t, header) = found.ok_or("no update with only a video keyframe")?;
    let seq = PacketHeader::read(&checkpoint)?
        .seq
        .ok_or("checkpoint without seq")?;
    let (rw, rh) = (t.video.rect[2], t.video.rect[3]);
    let (span_x, span_y) = (w.saturating_sub(rw), h.saturating_sub(rh));

    let five: Vec<(u32, u32, u32)> = (0..5u32)
        .map(|k| (100 + k, span_x * k / 4, span_y / 2))
        .collect();
    let video5 = vec![checkpoint.clone(), update(seq + 1, &t, &five, &header)];
    if check(&video5, (w, h))? != [0, 5] {
        return Err("hostile_video5: the native decoder does not see 5 pictures".into());
    }
    write(out, "hostile_video5.glp", &video5)?;

    let mut regions = vec![checkpoint];
    for k in 0..8u32 {
        let at = (200 + k, span_x * k / 7, span_y * (k % 3) / 2);
        regions.push(update(seq + 1 + u64::from(k), &t, &[at], &header));
    }
    if check(&regions, (w, h))?.iter().skip(1).any(|&n| n != 1) {
        return Err(
            "hostile_regions: the native decoder does not see one picture per update".into(),
        );
    }
    write(out, "hostile_regions.glp", &regions)?;

    let huge = huge_checkpoint()?;
    if check(std::slice::from_ref(&huge), (4096, 4096)).is_ok() {
        return Err("hostile_huge: a 4096x4096 decoder accepted an 8192x8192 checkpoint".into());
    }
    write(out, "hostile_huge.glp", &[huge])?;
    Ok(format!(
        "{{\"width\": {w}, \"height\": {h}, \"video5\": \"hostile_video5.glp\", \"regions\": \"hostile_regions.glp\", \"regionCount\": 8, \"huge\": \"hostile_huge.glp\", \"hugeSize\": [8192, 8192]}}"
    ))
}

/// A 200x200 checkpoint whose session says 8192x8192 (both sizes are 2-byte varints).
fn huge_checkpoint() -> Res<Vec<u8>> {
    let pixels = vec![0x80u8; 200 * 200 * 4];
    let frame = Frame::new(&pixels, 200, 200, 800, PixelFormat::Bgra8)?;
    let mut packet = Encoder::new(EncoderConfig::default())
        .encode(&frame)?
        .ok_or("no checkpoint")?
        .as_bytes()
        .to_vec();
    // Header (3 bytes), then the session's width and height: 200 is 0xc8 0x01, 8192 is 0x80 0x40.
    if packet.get(3..7) != Some(&[0xc8, 0x01, 0xc8, 0x01][..]) {
        return Err("unexpected checkpoint header".into());
    }
    packet[3..7].copy_from_slice(&[0x80, 0x40, 0x80, 0x40]);
    let session = PacketHeader::read(&packet)?.session.ok_or("no session")?;
    if (session.width, session.height) != (8192, 8192) {
        return Err("the patched checkpoint does not say 8192x8192".into());
    }
    Ok(packet)
}
