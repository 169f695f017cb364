//! Hostile and broken packets: every one is rejected with an error (never a panic) and leaves the
//! decoder exactly as it was; memory stays bounded by the decoder's configuration.

mod common;

use common::{encode_screen, fb, random_edit, snapshot, Lcg, Screen};
use glimpse::protocol::{peek_kind, read_framed, write_framed};
use glimpse::{
    Decoder, DecoderConfig, Encoder, EncoderConfig, Error, Frame, PacketKind, PixelFormat, Rect,
};

// ---- hand-made packets (layout: see the docs of `glimpse::protocol`) ----------------------------

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn rect(out: &mut Vec<u8>, r: [u64; 4]) {
    for v in r {
        varint(out, v);
    }
}

fn fill(r: [u64; 4], color: u32) -> Vec<u8> {
    let mut o = vec![2];
    rect(&mut o, r);
    o.extend_from_slice(&color.to_le_bytes());
    o
}

fn copy(src: [u64; 2], dst: [u64; 4]) -> Vec<u8> {
    let mut o = vec![1];
    varint(&mut o, src[0]);
    varint(&mut o, src[1]);
    rect(&mut o, dst);
    o
}

fn tile(index: u64, mode: u8, r: [u8; 4], store: bool) -> Vec<u8> {
    let mut o = vec![3 | if store { 0x80 } else { 0 }];
    varint(&mut o, index);
    o.push(mode);
    o.extend_from_slice(&r);
    o
}

fn cached(index: u64, id: u64, store: bool) -> Vec<u8> {
    let mut o = vec![4 | if store { 0x80 } else { 0 }];
    varint(&mut o, index);
    varint(&mut o, id);
    o
}

const STORE_SCREEN: u8 = 0;
const SAVE_REFERENCE: u8 = 7;

fn copy_reference(src: [u64; 2], dst: [u64; 4]) -> Vec<u8> {
    let mut o = vec![8];
    varint(&mut o, src[0]);
    varint(&mut o, src[1]);
    rect(&mut o, dst);
    o
}

/// Op list: count, ops, then a stored payload.
fn ops(count: u64, ops: &[Vec<u8>], payload: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    varint(&mut o, count);
    for op in ops {
        o.extend_from_slice(op);
    }
    o.push(0); // stored
    varint(&mut o, payload.len() as u64);
    o.extend_from_slice(payload);
    o
}

struct Session {
    width: u64,
    height: u64,
    tile: u64,
    cache: u64,
    seq: u64,
    next_id: u64,
}

const SMALL: Session = Session {
    width: 100,
    height: 70,
    tile: 64,
    cache: 8,
    seq: 10,
    next_id: 0,
};

fn checkpoint(s: &Session, body: &[u8]) -> Vec<u8> {
    let mut o = vec![b'G', 1, 1];
    for v in [s.width, s.height, 100, s.tile, s.cache, s.seq, s.next_id] {
        varint(&mut o, v);
    }
    o.push(0); // no cursor
    o.extend_from_slice(body);
    o
}

fn update(seq: u64, body: &[u8]) -> Vec<u8> {
    let mut o = vec![b'G', 1, 2];
    varint(&mut o, seq);
    o.extend_from_slice(body);
    o
}

/// A decoder holding the SMALL session: grey screen, seq 10, cache entries 0..=3 (tiles 0..=3 stored).
fn primed() -> Decoder {
    let mut d = Decoder::new(DecoderConfig::default());
    d.apply(&checkpoint(
        &SMALL,
        &ops(1, &[fill([0, 0, 100, 70], 0xff80_8080)], &[]),
    ))
    .unwrap();
    d.apply(&update(
        11,
        &ops(
            2,
            &[fill([0, 0, 10, 10], 0xff00_00ff), vec![STORE_SCREEN]],
            &[],
        ),
    ))
    .unwrap();
    assert_eq!(d.seq(), Some(11));
    d
}

fn malformed(e: &Error) -> bool {
    matches!(e, Error::Malformed(_))
}

fn invalid_rect(e: &Error) -> bool {
    matches!(e, Error::InvalidRect { .. })
}

fn limit_exceeded(e: &Error) -> bool {
    matches!(e, Error::LimitExceeded { .. })
}

/// Applies `packet`, expects an error matching `expected`, and checks nothing changed.
#[track_caller]
fn rejected(d: &mut Decoder, packet: &[u8], expected: impl Fn(&Error) -> bool) {
    let before = snapshot(d);
    match d.apply(packet) {
        Err(e) => assert!(expected(&e), "unexpected error {e:?} for {packet:02x?}"),
        Ok(u) => panic!("hostile packet accepted: {u:?} for {packet:02x?}"),
    }
    assert!(
        snapshot(d) == before,
        "a rejected packet changed the decoder"
    );
}

#[test]
fn headers_and_kinds() {
    let mut d = primed();
    rejected(&mut d, &[], |e| matches!(e, Error::Truncated(_)));
    rejected(&mut d, b"G", |e| matches!(e, Error::Truncated(_)));
    rejected(&mut d, b"X\x01\x02\x0c", |e| {
        matches!(e, Error::Malformed(_))
    });
    rejected(&mut d, b"G\x02\x02\x0c", |e| {
        matches!(
            e,
            Error::UnsupportedVersion {
                found: 2,
                supported: 1
            }
        )
    });
    rejected(&mut d, b"G\x01\x00", malformed);
    rejected(&mut d, b"G\x01\x05", malformed);
    assert!(peek_kind(b"G\x01\x09").is_err());
    assert_eq!(
        peek_kind(b"G\x01\x02garbage").unwrap(),
        PacketKind::FrameUpdate
    );
    // Trailing bytes after a complete packet.
    let mut p = update(12, &ops(0, &[], &[]));
    p.push(0);
    rejected(&mut d, &p, malformed);
    // Overlong and oversized varints.
    rejected(&mut d, b"G\x01\x02\x8c\x00", |e| {
        matches!(e, Error::Malformed(_))
    });
    rejected(
        &mut d,
        b"G\x01\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
        malformed,
    );
}

#[test]
fn updates_and_cursor_need_a_session_first() {
    let mut d = Decoder::new(DecoderConfig::default());
    rejected(
        &mut d,
        &update(1, &ops(1, &[fill([0, 0, 1, 1], 0)], &[])),
        |e| matches!(e, Error::NoCheckpoint),
    );
    rejected(&mut d, &update(0, &ops(0, &[], &[])), |e| {
        matches!(e, Error::NoCheckpoint)
    });
    assert!(d.framebuffer().is_none() && d.seq().is_none());
}

#[test]
fn wrong_sequence_numbers() {
    let mut d = primed();
    let body = ops(1, &[fill([0, 0, 1, 1], 0xff00_ff00)], &[]);
    for seq in [0, 10, 11, 13, 1000, u64::MAX] {
        rejected(&mut d, &update(seq, &body), |e| {
            matches!(e, Error::OutOfSync { expected: 12, .. })
        });
    }
    d.apply(&update(12, &body)).unwrap();
    assert_eq!(d.seq(), Some(12));
}

#[test]
fn sessions_beyond_limits_are_rejected_before_allocating() {
    let mut config = DecoderConfig::default();
    config.max_width = 1920;
    config.max_height = 1080;
    config.max_cache_tiles = 64;
    let mut d = Decoder::new(config);
    let body = ops(1, &[fill([0, 0, 8192, 8192], 0)], &[]);
    // Too large for this decoder's limits: huge, too wide, a cache above its own.
    for s in [
        Session {
            width: 8192,
            height: 8192,
            ..SMALL
        },
        Session {
            width: 1921,
            height: 10,
            ..SMALL
        },
        Session { cache: 65, ..SMALL },
    ] {
        rejected(&mut d, &checkpoint(&s, &body), limit_exceeded);
    }
    let mut d = Decoder::new(DecoderConfig::default());
    for s in [
        Session {
            width: 8193,
            ..SMALL
        },
        Session {
            width: u64::MAX,
            ..SMALL
        },
        Session {
            cache: 1 << 40,
            ..SMALL
        },
        Session {
            tile: 1000,
            ..SMALL
        },
    ] {
        rejected(&mut d, &checkpoint(&s, &body), limit_exceeded);
    }
    rejected(
        &mut d,
        &checkpoint(&Session { width: 0, ..SMALL }, &body),
        |e| matches!(e, Error::InvalidDimensions { .. }),
    );
    rejected(
        &mut d,
        &checkpoint(&Session { tile: 8, ..SMALL }, &body),
        malformed,
    );
    // Payload and op counts larger than the screen allows are refused from their declared size.
    let mut p = checkpoint(&SMALL, &[]);
    varint(&mut p, 0);
    p.push(0);
    varint(&mut p, 1 << 40);
    rejected(&mut d, &p, limit_exceeded);
    let mut p = checkpoint(&SMALL, &[]);
    varint(&mut p, u64::MAX);
    rejected(&mut d, &p, limit_exceeded);
    assert!(d.framebuffer().is_none());
}

#[test]
fn lying_lengths_and_corrupt_payloads() {
    let mut d = primed();
    // Op count larger than the ops present.
    rejected(
        &mut d,
        &update(12, &ops(5, &[fill([0, 0, 1, 1], 0)], &[])),
        |e| matches!(e, Error::Truncated(_)),
    );
    // Stored payload shorter than declared.
    let mut p = update(12, &[]);
    varint(&mut p, 0);
    p.extend_from_slice(&[0, 100, 1, 2, 3]);
    rejected(&mut d, &p, |e| matches!(e, Error::Truncated(_)));
    // LZ4 and DEFLATE payloads that do not decode to their declared size, or lie about their length.
    for tail in [
        vec![1, 50, 4, 0xff, 0xff, 0xff, 0xff],
        vec![1, 50, 100, 1, 2],
        vec![2, 50, 4, 0xff, 0xff, 0xff, 0xff],
        vec![2, 1, 11, 0x63, 0x64, 0x60, 0x60, 0x60, 0x04, 0, 0, 0, 0, 0], // inflates to more than 1 byte
        vec![7, 0],
        // zstd with the payload history: garbage, and a frame header with a huge window.
        vec![4, 50, 4, 0xff, 0xff, 0xff, 0xff],
        vec![4, 50, 6, 0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8],
    ] {
        let mut p = update(12, &[]);
        varint(&mut p, 0);
        p.extend_from_slice(&tail);
        rejected(&mut d, &p, |e| {
            matches!(
                e,
                Error::CorruptPayload(_) | Error::Truncated(_) | Error::Malformed(_)
            )
        });
    }
    // A tile whose payload is missing, and a payload longer than its tiles.
    rejected(
        &mut d,
        &update(12, &ops(1, &[tile(0, 2, [0, 0, 3, 3], false)], &[1, 2, 3])),
        |e| matches!(e, Error::Truncated(_) | Error::CorruptPayload(_)),
    );
    rejected(&mut d, &update(12, &ops(0, &[], &[1])), |e| {
        matches!(e, Error::Malformed(_))
    });
    rejected(
        &mut d,
        &update(12, &ops(1, &[tile(0, 9, [0, 0, 0, 0], false)], &[0; 8])),
        malformed,
    );
}

#[test]
fn out_of_bounds_drawing() {
    let mut d = primed();
    for op in [
        copy([0, 0], [90, 0, 11, 10]),
        copy([95, 0], [0, 0, 10, 10]),
        copy([0, 65], [0, 0, 10, 10]),
        copy([0, 0], [0, 0, 0, 10]),
        copy([8192, 8192], [0, 0, 8192, 8192]),
        fill([0, 0, 101, 1], 0),
        fill([99, 69, 2, 1], 0),
        fill([8192, 0, 8192, 1], 0),
        fill([5, 5, 0, 0], 0),
    ] {
        rejected(&mut d, &update(12, &ops(1, &[op], &[])), invalid_rect);
    }
    // Tile 1 is the 36-pixel wide edge tile: a rectangle past its right edge.
    rejected(
        &mut d,
        &update(12, &ops(1, &[tile(1, 0, [30, 0, 9, 0], false)], &[])),
        invalid_rect,
    );
    rejected(
        &mut d,
        &update(12, &ops(1, &[tile(4, 0, [0, 0, 0, 0], false)], &[])),
        malformed,
    );
    rejected(
        &mut d,
        &update(
            12,
            &ops(1, &[tile(u32::MAX as u64, 0, [0, 0, 0, 0], false)], &[]),
        ),
        malformed,
    );
    rejected(
        &mut d,
        &update(12, &ops(1, &[tile(1 << 33, 0, [0, 0, 0, 0], false)], &[])),
        limit_exceeded,
    );
    // Valid ops first, a bad one last: nothing of the packet is applied.
    rejected(
        &mut d,
        &update(
            12,
            &ops(
                3,
                &[
                    fill([0, 0, 100, 70], 0),
                    vec![STORE_SCREEN],
                    copy([0, 0], [50, 50, 60, 1]),
                ],
                &[],
            ),
        ),
        invalid_rect,
    );
}

#[test]
fn reference_image() {
    let mut d = primed(); // grey, with a red 10x10 square at 0,0
    let at = |d: &Decoder, x: usize, y: usize| {
        u32::from_le_bytes(fb(d)[(y * 100 + x) * 4..][..4].try_into().unwrap())
    };
    // Nothing saved yet; a save takes effect at the end of its packet.
    rejected(
        &mut d,
        &update(12, &ops(1, &[copy_reference([0, 0], [0, 0, 10, 10])], &[])),
        malformed,
    );
    rejected(
        &mut d,
        &update(
            12,
            &ops(
                2,
                &[vec![SAVE_REFERENCE], copy_reference([0, 0], [0, 0, 10, 10])],
                &[],
            ),
        ),
        malformed,
    );
    rejected(
        &mut d,
        &update(
            12,
            &ops(2, &[vec![SAVE_REFERENCE], vec![SAVE_REFERENCE]], &[]),
        ),
        malformed,
    );
    rejected(
        &mut d,
        &checkpoint(&SMALL, &ops(1, &[vec![SAVE_REFERENCE]], &[])),
        malformed,
    );
    d.apply(&update(12, &ops(1, &[vec![SAVE_REFERENCE]], &[])))
        .unwrap();
    for op in [
        copy_reference([95, 0], [0, 0, 10, 10]),
        copy_reference([0, 0], [95, 0, 10, 10]),
        copy_reference([0, 0], [0, 0, 0, 1]),
        copy_reference([8192, 8192], [0, 0, 8192, 8192]),
    ] {
        rejected(&mut d, &update(13, &ops(1, &[op], &[])), invalid_rect);
    }
    // Paint the square green, then save again while copying from the first reference (red).
    d.apply(&update(
        13,
        &ops(1, &[fill([0, 0, 10, 10], 0xff00_ff00)], &[]),
    ))
    .unwrap();
    d.apply(&update(
        14,
        &ops(
            2,
            &[
                vec![SAVE_REFERENCE],
                copy_reference([0, 0], [50, 50, 10, 10]),
            ],
            &[],
        ),
    ))
    .unwrap();
    assert_eq!(
        at(&d, 55, 55),
        0xff00_00ff,
        "copied from the first reference"
    );
    d.apply(&update(
        15,
        &ops(1, &[copy_reference([0, 0], [50, 50, 10, 10])], &[]),
    ))
    .unwrap();
    assert_eq!(
        at(&d, 55, 55),
        0xff00_ff00,
        "the second reference holds green"
    );
    // A checkpoint leaves no reference.
    d.apply(&checkpoint(
        &Session { seq: 20, ..SMALL },
        &ops(1, &[fill([0, 0, 100, 70], 0xff80_8080)], &[]),
    ))
    .unwrap();
    rejected(
        &mut d,
        &update(21, &ops(1, &[copy_reference([0, 0], [0, 0, 10, 10])], &[])),
        malformed,
    );
}

#[test]
fn payload_history() {
    let mut d = primed();
    const RESET_HISTORY: u8 = 10;
    rejected(
        &mut d,
        &checkpoint(&SMALL, &ops(1, &[vec![RESET_HISTORY]], &[])),
        malformed,
    );
    // A checkpoint has no history to refer to.
    let mut p = checkpoint(&SMALL, &[]);
    varint(&mut p, 0);
    p.extend_from_slice(&[4, 1, 1, 0]);
    rejected(&mut d, &p, malformed);
    // A real stream: the history grows with every update; a lost update is out of sync at once
    // (before its payload, which needs the missing history, is even decoded).
    let mut rng = Lcg(5);
    let mut screen = Screen::new(200, 150, 0xffff_ffff);
    let mut encoder = Encoder::new(EncoderConfig::default());
    let mut packets = Vec::new();
    while packets.len() < 8 {
        random_edit(&mut screen, &mut rng);
        if let Some(p) = encode_screen(&mut encoder, &screen) {
            packets.push(p);
        }
    }
    let mut viewer = Decoder::new(DecoderConfig::default());
    for p in &packets[..4] {
        viewer.apply(p.as_bytes()).unwrap();
    }
    rejected(&mut viewer, packets[5].as_bytes(), |e| {
        matches!(e, Error::OutOfSync { .. })
    });
    for p in &packets[4..] {
        viewer.apply(p.as_bytes()).unwrap();
    }
    assert_eq!(fb(&viewer), &screen.bgra()[..]);
}

#[test]
fn shared_colour_maps() {
    let mut d = primed();
    const RECOLOR_MAP: u8 = 9;
    const SHARED: u8 = 8;
    // A shared-recolour tile without a map before it.
    rejected(
        &mut d,
        &update(12, &ops(1, &[tile(0, SHARED, [0, 0, 9, 9], false)], &[])),
        malformed,
    );
    // Unknown flags, a count past the limit, a truncated map.
    for map in [
        vec![2, 1, 1, 2, 3, 4, 5, 6],
        vec![0, 0x81, 0x40],
        vec![0, 2, 1, 2, 3, 4, 5, 6],
        vec![1, 1, 1, 2, 3, 4, 5, 6],
    ] {
        rejected(
            &mut d,
            &update(
                12,
                &ops(
                    2,
                    &[vec![RECOLOR_MAP], tile(0, SHARED, [0, 0, 9, 9], false)],
                    &map,
                ),
            ),
            |e| {
                matches!(
                    e,
                    Error::Malformed(_) | Error::Truncated(_) | Error::LimitExceeded { .. }
                )
            },
        );
    }
    rejected(
        &mut d,
        &checkpoint(&SMALL, &ops(1, &[vec![RECOLOR_MAP]], &[0, 0])),
        malformed,
    );
    // The primed square (bytes ff 00 00 ff) becomes 00 ff 00 ff through the map; grey stays.
    d.apply(&update(
        12,
        &ops(
            2,
            &[vec![RECOLOR_MAP], tile(0, SHARED, [0, 0, 19, 19], false)],
            &[0, 1, 0xff, 0, 0, 0, 0xff, 0],
        ),
    ))
    .unwrap();
    assert_eq!(&fb(&d)[..4], &[0, 0xff, 0, 0xff]);
    assert_eq!(
        &fb(&d)[(15 * 100 + 15) * 4..][..4],
        &[0x80, 0x80, 0x80, 0xff]
    );
}

#[test]
fn cache_references() {
    let mut d = primed(); // entries 0..=3 hold tiles 0..=3 (64x64, 36x64, 64x6, 36x6)
    let missing = |e: &Error| matches!(e, Error::MissingCacheEntry { .. });
    for op in [cached(0, 4, false), cached(0, u64::MAX, false)] {
        rejected(&mut d, &update(12, &ops(1, &[op], &[])), missing);
    }
    for op in [cached(0, 1, false), cached(9, 0, false)] {
        rejected(&mut d, &update(12, &ops(1, &[op], &[])), malformed);
    }
    // Cached ops and StoreScreen are not allowed in a checkpoint (its cache starts empty).
    let mut fresh = Decoder::new(DecoderConfig::default());
    rejected(
        &mut fresh,
        &checkpoint(&SMALL, &ops(1, &[vec![STORE_SCREEN]], &[])),
        malformed,
    );
    rejected(
        &mut fresh,
        &checkpoint(&SMALL, &ops(1, &[cached(0, 0, false)], &[])),
        malformed,
    );
    // Eviction: the cache holds 8 entries; two more StoreScreens (4 entries each) evict 0..=3.
    d.apply(&update(12, &ops(1, &[cached(0, 0, false)], &[])))
        .unwrap();
    d.apply(&update(
        13,
        &ops(2, &[vec![STORE_SCREEN], vec![STORE_SCREEN]], &[]),
    ))
    .unwrap();
    for op in [cached(0, 0, false), cached(0, 3, false)] {
        rejected(&mut d, &update(14, &ops(1, &[op], &[])), missing);
    }
    d.apply(&update(14, &ops(1, &[cached(0, 8, false)], &[])))
        .unwrap();
    // An entry stored earlier in the same packet may be used; one stored later may not.
    d.apply(&update(
        15,
        &ops(2, &[vec![STORE_SCREEN], cached(3, 15, false)], &[]),
    ))
    .unwrap();
    rejected(
        &mut d,
        &update(
            16,
            &ops(2, &[cached(0, 16, false), vec![STORE_SCREEN]], &[]),
        ),
        missing,
    );
}

/// A 16x16 two-colour palette tile's payload: white, with a 6x6 black square at (`x`, `y`).
fn square_payload(x: usize, y: usize) -> Vec<u8> {
    let mut p = vec![1, 255, 255, 255, 0, 0, 0];
    let mut bits = [0u8; 32];
    for yy in y..y + 6 {
        for xx in x..x + 6 {
            let i = yy * 16 + xx;
            bits[i / 8] |= 0x80 >> (i % 8);
        }
    }
    p.extend_from_slice(&bits);
    p
}

/// Glyph references (`dx`, `dy`, entries back) as they open a tile's payload.
fn glyph_refs(refs: &[(u8, u8, u64)]) -> Vec<u8> {
    let mut p = Vec::new();
    varint(&mut p, refs.len() as u64);
    for &(x, y, back) in refs {
        p.extend_from_slice(&[x, y]);
        varint(&mut p, back);
    }
    p
}

#[test]
fn glyph_cache_references() {
    const REFS: u8 = 0x80;
    const STORE: u8 = 0x40;
    let mut d = primed();
    let white: Vec<u8> = [vec![0, 255, 255, 255], vec![0; 32]].concat();
    // Nothing stored yet: a reference is an error.
    rejected(
        &mut d,
        &update(
            12,
            &ops(
                1,
                &[tile(0, REFS, [0, 0, 15, 15], false)],
                &[glyph_refs(&[(0, 0, 0)]), white.clone()].concat(),
            ),
        ),
        malformed,
    );
    // Glyph flags in a checkpoint, or on a recolouring, are errors.
    let mut fresh = Decoder::new(DecoderConfig::default());
    rejected(
        &mut fresh,
        &checkpoint(
            &SMALL,
            &ops(
                1,
                &[tile(0, STORE, [0, 0, 15, 15], false)],
                &square_payload(2, 2),
            ),
        ),
        malformed,
    );
    // A tile flagged "store" keeps its square (both sides find the same shapes)...
    d.apply(&update(
        12,
        &ops(
            1,
            &[tile(0, STORE, [0, 0, 15, 15], false)],
            &square_payload(2, 2),
        ),
    ))
    .unwrap();
    // ...which a later tile draws anywhere inside its rectangle, over its own pixels.
    d.apply(&update(
        13,
        &ops(
            1,
            &[tile(1, REFS, [0, 0, 15, 15], false)],
            &[glyph_refs(&[(9, 3, 0)]), white.clone()].concat(),
        ),
    ))
    .unwrap();
    let px = |x: usize, y: usize| fb(&d)[(y * 100 + x) * 4];
    assert_eq!(
        (px(64 + 9, 3), px(64 + 14, 8), px(64 + 8, 3), px(64 + 15, 8)),
        (0, 0, 255, 255)
    );
    // Out of the rectangle, beyond the cache, or more references than pixels: errors.
    // A frame update whose one tile opens with the glyph references `refs`.
    let refs_update = |refs: Vec<u8>| {
        update(
            14,
            &ops(
                1,
                &[tile(1, REFS, [0, 0, 15, 15], false)],
                &[refs, white.clone()].concat(),
            ),
        )
    };
    for refs in [
        glyph_refs(&[(11, 0, 0)]),
        glyph_refs(&[(0, 0, 1)]),
        glyph_refs(&[(0, 0, u64::MAX)]),
    ] {
        rejected(&mut d, &refs_update(refs), |e| {
            matches!(e, Error::Malformed(_) | Error::InvalidRect { .. })
        });
    }
    let mut many = Vec::new();
    varint(&mut many, 257);
    rejected(&mut d, &refs_update(many), |e| {
        matches!(e, Error::LimitExceeded { .. } | Error::Malformed(_))
    });
    // ResetHistory empties the glyph cache: the same reference is now an error.
    rejected(
        &mut d,
        &update(
            14,
            &ops(
                2,
                &[vec![10], tile(1, REFS, [0, 0, 15, 15], false)],
                &[glyph_refs(&[(0, 0, 0)]), white].concat(),
            ),
        ),
        malformed,
    );
}

#[test]
fn cache_ids_near_the_top_of_the_range_do_not_overflow() {
    for next_id in [u64::MAX, u64::MAX - 1, u64::MAX - 5, 1 << 63] {
        let mut d = Decoder::new(DecoderConfig::default());
        let s = Session { next_id, ..SMALL };
        let cp = checkpoint(&s, &ops(1, &[fill([0, 0, 100, 70], 0xff80_8080)], &[]));
        if d.apply(&cp).is_err() {
            assert!(d.framebuffer().is_none());
            continue;
        }
        // Whatever the decoder accepted, storing and referencing entries must not panic.
        for (seq, body) in [
            (11, ops(1, &[vec![STORE_SCREEN]], &[])),
            (
                12,
                ops(
                    2,
                    &[vec![STORE_SCREEN], cached(0, next_id.wrapping_add(4), true)],
                    &[],
                ),
            ),
            (12, ops(1, &[cached(0, next_id, true)], &[])),
            (12, ops(1, &[cached(0, u64::MAX, true)], &[])),
        ] {
            let _ = d.apply(&update(seq, &body));
        }
    }
}

#[test]
fn area_amplification_is_bounded() {
    let mut d = primed();
    // Nine whole-screen copies draw 9x the screen: refused before any is applied.
    let many: Vec<Vec<u8>> = (0..9).map(|_| copy([0, 0], [0, 0, 100, 70])).collect();
    rejected(&mut d, &update(12, &ops(9, &many, &[])), limit_exceeded);
    let mut d = primed();
    d.apply(&update(12, &ops(8, &many[..8], &[]))).unwrap();
}

#[test]
fn framing_with_lying_lengths() {
    let mut buf = Vec::new();
    write_framed(&mut buf, b"one");
    write_framed(&mut buf, b"");
    write_framed(&mut buf, b"three");
    let items: Vec<_> = read_framed(&buf).collect();
    assert_eq!(
        items,
        vec![Ok(&b"one"[..]), Ok(&b""[..]), Ok(&b"three"[..])]
    );
    buf.extend_from_slice(&u32::MAX.to_le_bytes());
    buf.extend_from_slice(b"xy");
    let items: Vec<_> = read_framed(&buf).collect();
    assert_eq!(items.len(), 4);
    assert!(items[3].is_err());
    let items: Vec<_> = read_framed(&[1, 0]).collect();
    assert_eq!(items.len(), 1);
    assert!(items[0].is_err());
}

// ---- real packets, damaged ----------------------------------------------------------------------

/// A real stream on a small screen: checkpoint, updates with copies, fills, tiles and cache hits,
/// a cursor shape and positions.
fn real_stream() -> Vec<Vec<u8>> {
    let mut config = EncoderConfig::default();
    config.cache_tiles = 6;
    let mut encoder = Encoder::new(config);
    let mut rng = Lcg(77);
    let mut screen = Screen::new(150, 90, 0xff20_4060);
    screen.noise(Rect::new(0, 0, 150, 45), 1, 4);
    screen.noise(Rect::new(0, 45, 70, 45), 2, 0);
    let mut out = vec![encode_screen(&mut encoder, &screen)
        .unwrap()
        .as_bytes()
        .to_vec()];
    let cursor: Vec<u8> = (0..12 * 12 * 4).map(|i| (i * 37 % 251) as u8).collect();
    let shape = encoder
        .set_cursor_shape(
            &Frame::new(&cursor, 12, 12, 48, PixelFormat::Bgra8).unwrap(),
            3,
            4,
        )
        .unwrap();
    out.push(shape.unwrap().as_bytes().to_vec());
    out.push(
        encoder
            .move_cursor(40, -3, true)
            .unwrap()
            .as_bytes()
            .to_vec(),
    );
    while out.len() < 14 {
        random_edit(&mut screen, &mut rng);
        if let Some(p) = encode_screen(&mut encoder, &screen) {
            out.push(p.as_bytes().to_vec());
        }
    }
    out.push(encoder.checkpoint().unwrap().as_bytes().to_vec());
    out
}

fn decoder_after(stream: &[Vec<u8>]) -> Decoder {
    let mut d = Decoder::new(DecoderConfig::default());
    for p in stream {
        d.apply(p).unwrap();
    }
    d
}

#[test]
fn every_truncation_of_real_packets_is_rejected() {
    let stream = real_stream();
    let mut d = Decoder::new(DecoderConfig::default());
    let mut tried = 0;
    for p in &stream {
        for len in 0..p.len() {
            rejected(&mut d, &p[..len], |_| true);
            tried += 1;
        }
        d.apply(p).unwrap();
    }
    assert!(tried > 1000, "only {tried} truncations");
    assert_eq!(fb(&d), fb(&decoder_after(&stream)));
}

#[test]
fn bit_flips_in_real_packets_never_panic_and_errors_change_nothing() {
    let stream = real_stream();
    let (mut errors, mut accepted) = (0, 0);
    for (k, p) in stream.iter().enumerate() {
        let mut d = decoder_after(&stream[..k]);
        // Long packets: flip every bit of the first 300 bytes, and one bit per byte after that.
        for pos in 0..p.len() {
            let bits: &[u8] = if pos < 300 {
                &[0, 1, 2, 3, 4, 5, 6, 7]
            } else {
                &[(pos % 8) as u8]
            };
            for &bit in bits {
                let mut q = p.clone();
                q[pos] ^= 1 << bit;
                let before = snapshot(&d);
                match d.apply(&q) {
                    Err(_) => {
                        errors += 1;
                        assert!(
                            snapshot(&d) == before,
                            "packet {k}, byte {pos}, bit {bit}: error changed the decoder"
                        );
                    }
                    Ok(_) => {
                        accepted += 1;
                        let view = d.framebuffer().unwrap();
                        assert_eq!(
                            view.pixels.len(),
                            view.width as usize * view.height as usize * 4
                        );
                        d = decoder_after(&stream[..k]);
                    }
                }
            }
        }
    }
    assert!(errors > 1000, "{errors} errors, {accepted} accepted");
}
