//! The ops of an update and their wire form (see the table in the [module docs](super)).

use super::Limits;
use crate::codec::{self, TileMode};
use crate::error::{Error, Result};
use crate::frame::{Rect, MAX_DIMENSION};
use crate::wire::{put_varint, Reader};

/// What a `Tile` op does with the glyph cache (see `tiles/glyphs.rs`): draw cached glyphs
/// listed in the payload before its pixels, and store the shapes of its rectangle afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TileGlyphs {
    pub refs: bool,
    pub store: bool,
}

/// Bits of a `Tile` op's mode byte: glyph references in the payload, glyphs stored afterwards.
const MODE_GLYPH_REFS: u8 = 0x80;
const MODE_GLYPH_STORE: u8 = 0x40;

/// One drawing operation of an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    StoreScreen,
    Copy {
        src_x: u32,
        src_y: u32,
        dst: Rect,
    },
    Fill {
        rect: Rect,
        color: u32,
    },
    Tile(TileOp),
    Cached {
        tile: u32,
        id: u64,
        store: bool,
    },
    /// One H.264 picture for video region `region`, covering `rect`; its Annex-B bytes are
    /// `video[start..start + len]` of the op list.
    Video {
        region: u32,
        rect: Rect,
        keyframe: bool,
        start: u32,
        len: u32,
    },
    /// Video region `region` ended (its pixels follow losslessly).
    VideoEnd {
        region: u32,
    },
    /// The screen as it is at this point becomes the reference image.
    SaveReference,
    /// Pixels copied from the reference image.
    CopyReference {
        src_x: u32,
        src_y: u32,
        dst: Rect,
    },
    /// A colour map (in the payload) for the shared-recolour tiles that follow.
    RecolorMap,
    /// The payload history starts again with this update's payload.
    ResetHistory,
}

/// A coded tile: `rect` (relative to tile `tile`) in `mode`, its pixels (and glyph references) in
/// the payload; the decoder stores the whole tile into its cache after it when `store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TileOp {
    pub tile: u32,
    pub rect: Rect,
    pub mode: TileMode,
    pub store: bool,
    pub glyphs: TileGlyphs,
}

const OP_STORE_SCREEN: u8 = 0;
const OP_COPY: u8 = 1;
const OP_FILL: u8 = 2;
const OP_TILE: u8 = 3;
const OP_CACHED: u8 = 4;
const OP_VIDEO: u8 = 5;
const OP_VIDEO_END: u8 = 6;
const OP_SAVE_REFERENCE: u8 = 7;
const OP_COPY_REFERENCE: u8 = 8;
const OP_RECOLOR_MAP: u8 = 9;
const OP_RESET_HISTORY: u8 = 10;
const STORE_BIT: u8 = 0x80;

/// The ops of an update plus their decompressed pixel payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpList {
    pub ops: Vec<Op>,
    pub payload: Vec<u8>,
    /// Annex-B bytes of the `Video` ops, back to back.
    pub video: Vec<u8>,
}

fn read_rect(r: &mut Reader<'_>) -> Result<Rect> {
    let x = r.varint_u32("rect x", MAX_DIMENSION)?;
    let y = r.varint_u32("rect y", MAX_DIMENSION)?;
    let width = r.varint_u32("rect width", MAX_DIMENSION)?;
    let height = r.varint_u32("rect height", MAX_DIMENSION)?;
    Ok(Rect::new(x, y, width, height))
}

fn write_rect(out: &mut Vec<u8>, rect: &Rect) {
    for v in [rect.x, rect.y, rect.width, rect.height] {
        put_varint(out, u64::from(v));
    }
}

/// The fields of `Copy` and `CopyReference`: source corner, then the destination rectangle.
fn read_copy(r: &mut Reader<'_>) -> Result<(u32, u32, Rect)> {
    let src_x = r.varint_u32("copy src x", MAX_DIMENSION)?;
    let src_y = r.varint_u32("copy src y", MAX_DIMENSION)?;
    Ok((src_x, src_y, read_rect(r)?))
}

fn write_copy(out: &mut Vec<u8>, code: u8, src_x: u32, src_y: u32, dst: &Rect) {
    out.push(code);
    put_varint(out, u64::from(src_x));
    put_varint(out, u64::from(src_y));
    write_rect(out, dst);
}

/// Reads an op list and its payload; `history` is the payload history (`None` in checkpoints).
pub(super) fn read_ops(
    r: &mut Reader<'_>,
    limits: &Limits,
    history: Option<&[u8]>,
) -> Result<OpList> {
    let count = r.varint_usize("op count", limits.max_ops)?;
    let mut ops = Vec::with_capacity(count.min(4096));
    let mut video = Vec::new();
    for _ in 0..count {
        let code = r.u8("op code")?;
        let store = code & STORE_BIT != 0;
        let op = match code & !STORE_BIT {
            OP_STORE_SCREEN if !store => Op::StoreScreen,
            OP_COPY if !store => {
                let (src_x, src_y, dst) = read_copy(r)?;
                Op::Copy { src_x, src_y, dst }
            }
            OP_FILL if !store => {
                let rect = read_rect(r)?;
                Op::Fill {
                    rect,
                    color: r.u32_le("fill colour")?,
                }
            }
            OP_TILE => {
                let tile = r.varint_u32("tile index", u32::MAX)?;
                let mode_byte = r.u8("tile mode")?;
                let mode = TileMode::from_u8(mode_byte & !(MODE_GLYPH_REFS | MODE_GLYPH_STORE))?;
                let glyphs = TileGlyphs {
                    refs: mode_byte & MODE_GLYPH_REFS != 0,
                    store: mode_byte & MODE_GLYPH_STORE != 0,
                };
                let b = r.bytes(4, "tile rect")?;
                let rect = Rect::new(
                    u32::from(b[0]),
                    u32::from(b[1]),
                    u32::from(b[2]) + 1,
                    u32::from(b[3]) + 1,
                );
                Op::Tile(TileOp {
                    tile,
                    rect,
                    mode,
                    store,
                    glyphs,
                })
            }
            OP_CACHED => {
                let tile = r.varint_u32("tile index", u32::MAX)?;
                Op::Cached {
                    tile,
                    id: r.varint("cache id")?,
                    store,
                }
            }
            OP_VIDEO if !store => {
                let region = r.varint_u32("video region", u32::MAX)?;
                let rect = read_rect(r)?;
                let flags = r.u8("video flags")?;
                if flags > 1 {
                    return Err(Error::Malformed("unknown video flags"));
                }
                let left = limits.max_payload - video.len();
                let len = r.varint_usize("video picture size", left)?;
                let start = video.len() as u32;
                video.extend_from_slice(r.bytes(len, "video picture")?);
                Op::Video {
                    region,
                    rect,
                    keyframe: flags == 1,
                    start,
                    len: len as u32,
                }
            }
            OP_VIDEO_END if !store => Op::VideoEnd {
                region: r.varint_u32("video region", u32::MAX)?,
            },
            OP_SAVE_REFERENCE if !store => Op::SaveReference,
            OP_RECOLOR_MAP if !store => Op::RecolorMap,
            OP_RESET_HISTORY if !store => Op::ResetHistory,
            OP_COPY_REFERENCE if !store => {
                let (src_x, src_y, dst) = read_copy(r)?;
                Op::CopyReference { src_x, src_y, dst }
            }
            _ => return Err(Error::Malformed("unknown op code")),
        };
        ops.push(op);
    }
    let history = match history {
        Some(_) if ops.contains(&Op::ResetHistory) => Some(&[][..]),
        other => other,
    };
    let payload = codec::decompress(r, limits.max_payload, history)?;
    Ok(OpList {
        ops,
        payload,
        video,
    })
}

/// Writes ops whose `Tile` rects are relative to their tile (as produced by the encoder).
pub(super) fn write_ops(
    out: &mut Vec<u8>,
    ops: &[Op],
    payload: &[u8],
    video: &[u8],
    entropy: codec::Entropy,
    compressor: &mut codec::Compressor,
    update: bool,
) {
    put_varint(out, ops.len() as u64);
    for op in ops {
        match *op {
            Op::StoreScreen => out.push(OP_STORE_SCREEN),
            Op::Copy { src_x, src_y, dst } => write_copy(out, OP_COPY, src_x, src_y, &dst),
            Op::SaveReference => out.push(OP_SAVE_REFERENCE),
            Op::RecolorMap => out.push(OP_RECOLOR_MAP),
            Op::ResetHistory => out.push(OP_RESET_HISTORY),
            Op::CopyReference { src_x, src_y, dst } => {
                write_copy(out, OP_COPY_REFERENCE, src_x, src_y, &dst)
            }
            Op::Fill { rect, color } => {
                out.push(OP_FILL);
                write_rect(out, &rect);
                out.extend_from_slice(&color.to_le_bytes());
            }
            Op::Tile(t) => {
                out.push(OP_TILE | if t.store { STORE_BIT } else { 0 });
                put_varint(out, u64::from(t.tile));
                out.push(
                    t.mode as u8
                        | if t.glyphs.refs { MODE_GLYPH_REFS } else { 0 }
                        | if t.glyphs.store { MODE_GLYPH_STORE } else { 0 },
                );
                out.extend_from_slice(&[
                    t.rect.x as u8,
                    t.rect.y as u8,
                    (t.rect.width - 1) as u8,
                    (t.rect.height - 1) as u8,
                ]);
            }
            Op::Cached { tile, id, store } => {
                out.push(OP_CACHED | if store { STORE_BIT } else { 0 });
                put_varint(out, u64::from(tile));
                put_varint(out, id);
            }
            Op::Video {
                region,
                rect,
                keyframe,
                start,
                len,
            } => {
                out.push(OP_VIDEO);
                put_varint(out, u64::from(region));
                write_rect(out, &rect);
                out.push(u8::from(keyframe));
                put_varint(out, u64::from(len));
                out.extend_from_slice(&video[start as usize..(start + len) as usize]);
            }
            Op::VideoEnd { region } => {
                out.push(OP_VIDEO_END);
                put_varint(out, u64::from(region));
            }
        }
    }
    if update {
        compressor.compress_update(entropy, payload, out);
    } else {
        compressor.compress(entropy, payload, out);
    }
}
