//! The wire protocol: versioned packets built on [`bytes`].
//!
//! Every packet starts with a 3-byte header: `'G'`, the protocol version ([`PROTOCOL_VERSION`]) and the
//! [`PacketKind`]. Integers are unsigned LEB128 varints unless noted; colours are 4 bytes B, G, R, A.
//! Packets are framed by the transport (a WebSocket message, a datagram, or [`write_framed`] for files).
//!
//! | kind | body |
//! |---|---|
//! | `Checkpoint` (1) | session info, `seq`, `next_cache_id`, cursor, ops |
//! | `FrameUpdate` (2) | `seq`, ops |
//! | `CursorShape` (3) | `id`, `width`, `height`, `hotspot_x`, `hotspot_y`, payload with one coded image |
//! | `CursorPosition` (4) | `x`, `y` (zig-zag), `visible` (u8), `shape id` |
//!
//! Session info: `width`, `height`, `scale_percent` (100 = 96 DPI), `tile_size`, `cache_tiles`.
//! Ops: a count, the ops, then one payload (`method u8`: 0 stored, 1 LZ4 block, 2 DEFLATE, 3 zstd, 4 zstd
//! with the payload history, 5 zstd with the longer payload history; `raw_len`, `[packed_len]`, bytes;
//! see [`crate::Entropy`]) holding the coded pixels of every `Tile` op in order. Op codes (bit 7 of
//! `Tile` and `Cached` means "store the whole tile into the tile cache afterwards"):
//!
//! | op | fields | effect |
//! |---|---|---|
//! | 0 `StoreScreen` | | store every tile of the screen into the cache, in raster order |
//! | 1 `Copy` | `src_x`, `src_y`, `x`, `y`, `w`, `h` | move pixels already on screen (scroll, window drag) |
//! | 2 `Fill` | `x`, `y`, `w`, `h`, colour | one-colour rectangle |
//! | 3 `Tile` | `tile`, mode u8 (bit 7: glyph references, bit 6: store glyphs), `dx` u8, `dy` u8, `w-1` u8, `h-1` u8 | coded pixels inside one tile |
//! | 4 `Cached` | `tile`, `cache id` | a tile seen before |
//! | 5 `Video` | `region`, `x`, `y`, `w`, `h`, flags u8 (1 = keyframe), `len`, bytes | one H.264 picture (Annex-B) of a video region |
//! | 6 `VideoEnd` | `region` | the region ended; its pixels follow losslessly |
//! | 7 `SaveReference` | | keep a copy of the screen as it is now: the reference image |
//! | 8 `CopyReference` | `src_x`, `src_y`, `x`, `y`, `w`, `h` | copy pixels from the reference image |
//! | 9 `RecolorMap` | | the next payload bytes hold a colour map for the `Tile` ops of mode 8 that follow |
//! | 10 `ResetHistory` | | forget the payload history before this update's payload |
//!
//! **Payload history.** Both sides keep the uncompressed payloads of the frame updates since the
//! last `ResetHistory` (or, for a decoder, since its checkpoint); payload method 4 is zstd with the
//! last 256 KiB of them as its dictionary, method 5 with the last 1 MiB. See the `codec` module.
//!
//! **Glyph cache.** Both sides keep the shapes (glyphs, digits, icons) of the rectangles of `Tile`
//! ops flagged "store glyphs", found the same way on both sides (8-connected pixels unlike the
//! rectangle's background, the most frequent of the colours at 16 spots; bounding boxes up to 32x32
//! and of 24 pixels or more, in raster order; see `tiles/glyphs.rs`), so storing costs no bytes; the
//! newest 2048 are kept. A `Tile` op flagged "glyph references" starts its payload with `count` and,
//! per glyph, `dx` u8, `dy` u8 (inside the rectangle) and how many entries back from the newest it
//! is; they are drawn over the decoded pixels. Checkpoints and `ResetHistory` empty the cache.
//!
//! **Reference image.** Content often comes back shifted after a transient change (an editor colours
//! everything below an opening quote as a string, then restores it a line lower once the quote is
//! closed). Before such a large change the encoder saves the screen as the reference image, and later
//! copies from it (`CopyReference`) what reappears. A checkpoint leaves the decoder without a
//! reference; the encoder forgets its own when it makes one, so it saves a new one before using it.
//!
//! **Video regions.** Where pixels move like video, the encoder sends an H.264 stream per region
//! instead of lossless tiles, and re-sends the region losslessly once it settles. Checkpoints never
//! carry video: they hold exact pixels, and the encoder makes the next picture of every region a
//! keyframe, so a late joiner decodes from there.
//!
//! **Checkpoints and fan-out.** A checkpoint holds the whole screen and the cursor, needs nothing before
//! it, and leaves the decoder's tile cache empty with the cache id counter at `next_cache_id`. The
//! encoder forgets its cache when it makes one and starts the next update with `StoreScreen`, which a
//! viewer that followed the stream and a viewer that just joined from the checkpoint apply alike. So one
//! encoded stream serves everybody: viewers in step get updates only, a late joiner gets the latest
//! checkpoint and then the same updates.
//!
//! **Tile cache.** Entries get ids `0, 1, 2, ...` in store order; entry `id` lives until `cache_tiles`
//! newer entries were stored. A `Cached` op with the store bit copies an old entry into a new one, which
//! keeps often-used tiles alive. Both sides derive everything from the packets, so they never disagree.

mod ops;

use bytes::Bytes;

use crate::codec;
use crate::error::{Error, Result};
use crate::frame::{check_dimensions, MAX_DIMENSION};
use crate::wire::{put_signed, put_varint, Reader};
use ops::{read_ops, write_ops};
pub(crate) use ops::{Op, OpList, TileGlyphs, TileOp};

/// Protocol version spoken by this build.
pub const PROTOCOL_VERSION: u8 = 1;
const MAGIC: u8 = b'G';

/// Largest `next_cache_id` a checkpoint may announce. Far above any id a real stream reaches, far enough
/// below `u64::MAX` that cache id arithmetic (`id + capacity`, one id per stored tile) cannot overflow.
const MAX_CACHE_ID: u64 = 1 << 62;

/// Largest cursor image, in pixels per side.
pub const MAX_CURSOR_SIZE: u32 = 256;

/// What a packet carries; tells a relay how to route it without parsing the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketKind {
    /// Self-contained full screen: where a viewer starts.
    Checkpoint = 1,
    /// Changes since the previous update or checkpoint.
    FrameUpdate = 2,
    /// A new cursor image.
    CursorShape = 3,
    /// Where the cursor is, and which image it shows.
    CursorPosition = 4,
}

impl PacketKind {
    fn from_u8(v: u8) -> Result<Self> {
        Ok(match v {
            1 => PacketKind::Checkpoint,
            2 => PacketKind::FrameUpdate,
            3 => PacketKind::CursorShape,
            4 => PacketKind::CursorPosition,
            _ => return Err(Error::Malformed("unknown packet kind")),
        })
    }
}

/// One encoded packet. Cheap to clone (reference-counted), so one packet can go to many viewers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    kind: PacketKind,
    bytes: Bytes,
}

impl Packet {
    fn new(kind: PacketKind, body: Vec<u8>) -> Self {
        Packet {
            kind,
            bytes: Bytes::from(body),
        }
    }

    /// What this packet carries.
    pub fn kind(&self) -> PacketKind {
        self.kind
    }

    /// The bytes to send.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Bytes on the wire.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Never true for a packet made by the encoder.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The shared buffer, for zero-copy sending.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
}

/// Reads the header of a packet: its kind, after checking magic and version.
pub fn peek_kind(packet: &[u8]) -> Result<PacketKind> {
    let mut r = Reader::new(packet);
    read_header(&mut r)
}

/// What a transport needs to know about a packet, read from its first bytes without decoding the
/// body: its kind, its place in the stream and, for a checkpoint, the screen it starts.
///
/// Relays and session layers route with this instead of parsing packets themselves.
///
/// ```
/// use glimpse::protocol::PacketHeader;
/// use glimpse::{Encoder, EncoderConfig, Frame, PacketKind, PixelFormat};
///
/// let pixels = vec![0u8; 32 * 16 * 4];
/// let frame = Frame::new(&pixels, 32, 16, 32 * 4, PixelFormat::Bgra8)?;
/// let packet = Encoder::new(EncoderConfig::default()).encode(&frame)?.unwrap();
/// let header = PacketHeader::read(packet.as_bytes())?;
/// assert_eq!(header.kind, PacketKind::Checkpoint);
/// assert_eq!(header.seq, Some(0));
/// assert_eq!(header.session.map(|s| (s.width, s.height)), Some((32, 16)));
/// # Ok::<(), glimpse::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    /// What the packet carries.
    pub kind: PacketKind,
    /// The stream position after applying it: the `seq` of a checkpoint or frame update (what a
    /// viewer acknowledges); `None` for cursor packets.
    pub seq: Option<u64>,
    /// The screen a checkpoint starts; `None` for other kinds.
    pub session: Option<SessionInfo>,
}

impl PacketHeader {
    /// Reads the header; checks magic, version and the fields it reads (the body is not looked at).
    pub fn read(packet: &[u8]) -> Result<Self> {
        let mut r = Reader::new(packet);
        let kind = read_header(&mut r)?;
        let (seq, session) = match kind {
            PacketKind::Checkpoint => {
                let limits = SessionLimits {
                    max_width: MAX_DIMENSION,
                    max_height: MAX_DIMENSION,
                    max_cache_tiles: u32::MAX,
                };
                let session = read_session(&mut r, &limits)?;
                (Some(r.varint("checkpoint seq")?), Some(session))
            }
            PacketKind::FrameUpdate => (Some(r.varint("update seq")?), None),
            PacketKind::CursorShape | PacketKind::CursorPosition => (None, None),
        };
        Ok(PacketHeader { kind, seq, session })
    }
}

/// The sequence number of a frame update (`None` for other kinds), read without the rest.
pub(crate) fn peek_update_seq(packet: &[u8]) -> Result<Option<u64>> {
    let mut r = Reader::new(packet);
    match read_header(&mut r)? {
        PacketKind::FrameUpdate => Ok(Some(r.varint("update seq")?)),
        _ => Ok(None),
    }
}

fn read_header(r: &mut Reader<'_>) -> Result<PacketKind> {
    if r.u8("packet magic")? != MAGIC {
        return Err(Error::Malformed("not a Glimpse packet (bad magic)"));
    }
    let version = r.u8("protocol version")?;
    if version != PROTOCOL_VERSION {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: PROTOCOL_VERSION,
        });
    }
    PacketKind::from_u8(r.u8("packet kind")?)
}

fn header(kind: PacketKind) -> Vec<u8> {
    vec![MAGIC, PROTOCOL_VERSION, kind as u8]
}

/// The screen a stream shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// Screen width in pixels.
    pub width: u32,
    /// Screen height in pixels.
    pub height: u32,
    /// Display scale in percent (100 = 96 DPI, 200 = a 2x "Retina" screen).
    pub scale_percent: u16,
    /// Tile edge length of the stream.
    pub tile_size: u32,
    /// Tile cache capacity, in tiles.
    pub cache_tiles: u32,
}

/// A cursor image: canonical BGRA pixels, `width * height * 4` bytes, with its hotspot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorImage {
    /// Identifier the position messages refer to.
    pub id: u32,
    /// Width in pixels (at most 256).
    pub width: u32,
    /// Height in pixels (at most 256).
    pub height: u32,
    /// Column of the pointer's tip inside the image.
    pub hotspot_x: u32,
    /// Row of the pointer's tip inside the image.
    pub hotspot_y: u32,
    /// Pixels, BGRA (or the decoder's output format once decoded).
    pub pixels: Vec<u8>,
}

/// Where the pointer is on the shared screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorPosition {
    /// Hotspot column in screen pixels (may be off-screen).
    pub x: i32,
    /// Hotspot row in screen pixels (may be off-screen).
    pub y: i32,
    /// False when the cursor is hidden.
    pub visible: bool,
    /// The [`CursorImage::id`] shown.
    pub shape_id: u32,
}

/// Bounds a decoder puts on what one packet may make it do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_ops: usize,
    pub max_payload: usize,
}

impl Limits {
    pub fn for_screen(width: u32, height: u32, tile_size: u32) -> Self {
        let tiles = width.div_ceil(tile_size) as usize * height.div_ceil(tile_size) as usize;
        Limits {
            max_ops: tiles * 4 + 1024,
            max_payload: width as usize * height as usize * 4 + tiles * 1100 + 4096,
        }
    }
}

/// A parsed packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    Checkpoint(Checkpoint),
    FrameUpdate { seq: u64, ops: OpList },
    CursorShape(CursorImage),
    CursorPosition(CursorPosition),
}

/// A parsed checkpoint: the session, where the stream stands, the cursor and the screen's ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub session: SessionInfo,
    pub seq: u64,
    pub next_cache_id: u64,
    pub cursor: CursorState,
    pub ops: OpList,
}

/// Cursor state carried by a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CursorState {
    pub image: Option<CursorImage>,
    pub position: Option<CursorPosition>,
}

/// Upper bounds for session fields a decoder accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionLimits {
    pub max_width: u32,
    pub max_height: u32,
    pub max_cache_tiles: u32,
}

/// Parses a packet. `screen` limits updates (from the session the decoder is in); `history` is the
/// decoder's payload history.
pub(crate) fn parse(
    packet: &[u8],
    session_limits: &SessionLimits,
    screen: Option<Limits>,
    history: &[u8],
) -> Result<Message> {
    let mut r = Reader::new(packet);
    let msg = match read_header(&mut r)? {
        PacketKind::Checkpoint => {
            let session = read_session(&mut r, session_limits)?;
            let seq = r.varint("checkpoint seq")?;
            let next_cache_id = r.varint_max("next cache id", MAX_CACHE_ID)?;
            let cursor = read_cursor_state(&mut r)?;
            let limits = Limits::for_screen(session.width, session.height, session.tile_size);
            let ops = read_ops(&mut r, &limits, None)?;
            Message::Checkpoint(Checkpoint {
                session,
                seq,
                next_cache_id,
                cursor,
                ops,
            })
        }
        PacketKind::FrameUpdate => {
            let limits = screen.ok_or(Error::NoCheckpoint)?;
            let seq = r.varint("update seq")?;
            let ops = read_ops(&mut r, &limits, Some(history))?;
            Message::FrameUpdate { seq, ops }
        }
        PacketKind::CursorShape => Message::CursorShape(read_cursor_image(&mut r)?),
        PacketKind::CursorPosition => Message::CursorPosition(read_cursor_position(&mut r)?),
    };
    r.finish()?;
    Ok(msg)
}

fn read_session(r: &mut Reader<'_>, limits: &SessionLimits) -> Result<SessionInfo> {
    let width = r.varint_u32("width", MAX_DIMENSION)?;
    let height = r.varint_u32("height", MAX_DIMENSION)?;
    check_dimensions(width, height)?;
    if width > limits.max_width || height > limits.max_height {
        return Err(Error::LimitExceeded {
            what: "screen size",
            value: u64::from(width) * u64::from(height),
            limit: u64::from(limits.max_width) * u64::from(limits.max_height),
        });
    }
    let scale_percent = r.varint_u32("scale", u32::from(u16::MAX))? as u16;
    let tile_size = r.varint_u32("tile size", 256)?;
    if tile_size < 16 {
        return Err(Error::Malformed("tile size below 16"));
    }
    let cache_tiles = r.varint_u32("cache size", limits.max_cache_tiles)?;
    Ok(SessionInfo {
        width,
        height,
        scale_percent,
        tile_size,
        cache_tiles,
    })
}

fn write_session(out: &mut Vec<u8>, s: &SessionInfo) {
    put_varint(out, u64::from(s.width));
    put_varint(out, u64::from(s.height));
    put_varint(out, u64::from(s.scale_percent));
    put_varint(out, u64::from(s.tile_size));
    put_varint(out, u64::from(s.cache_tiles));
}

fn read_cursor_image(r: &mut Reader<'_>) -> Result<CursorImage> {
    let id = r.varint_u32("cursor id", u32::MAX)?;
    let width = r.varint_u32("cursor width", MAX_CURSOR_SIZE)?;
    let height = r.varint_u32("cursor height", MAX_CURSOR_SIZE)?;
    if width == 0 || height == 0 {
        return Err(Error::Malformed("empty cursor image"));
    }
    let hotspot_x = r.varint_u32("cursor hotspot x", width - 1)?;
    let hotspot_y = r.varint_u32("cursor hotspot y", height - 1)?;
    let max = (MAX_CURSOR_SIZE * MAX_CURSOR_SIZE * 4 + 1100) as usize;
    let pixels = codec::cursor::decode(r, width, height, max)?;
    Ok(CursorImage {
        id,
        width,
        height,
        hotspot_x,
        hotspot_y,
        pixels,
    })
}

fn write_cursor_image(out: &mut Vec<u8>, image: &CursorImage, entropy: codec::Entropy) {
    put_varint(out, u64::from(image.id));
    put_varint(out, u64::from(image.width));
    put_varint(out, u64::from(image.height));
    put_varint(out, u64::from(image.hotspot_x));
    put_varint(out, u64::from(image.hotspot_y));
    codec::cursor::encode(&image.pixels, image.width, image.height, entropy, out);
}

fn read_cursor_position(r: &mut Reader<'_>) -> Result<CursorPosition> {
    let x = r.signed("cursor x")?;
    let y = r.signed("cursor y")?;
    let visible = r.u8("cursor visible")?;
    let shape_id = r.varint_u32("cursor shape", u32::MAX)?;
    let coord =
        |v: i64| i32::try_from(v).map_err(|_| Error::Malformed("cursor position out of range"));
    if visible > 1 {
        return Err(Error::Malformed("cursor visibility is not 0 or 1"));
    }
    Ok(CursorPosition {
        x: coord(x)?,
        y: coord(y)?,
        visible: visible == 1,
        shape_id,
    })
}

fn write_cursor_position(out: &mut Vec<u8>, p: &CursorPosition) {
    put_signed(out, i64::from(p.x));
    put_signed(out, i64::from(p.y));
    out.push(u8::from(p.visible));
    put_varint(out, u64::from(p.shape_id));
}

fn read_cursor_state(r: &mut Reader<'_>) -> Result<CursorState> {
    let flags = r.u8("cursor flags")?;
    if flags > 3 {
        return Err(Error::Malformed("unknown cursor flags"));
    }
    let image = if flags & 1 != 0 {
        Some(read_cursor_image(r)?)
    } else {
        None
    };
    let position = if flags & 2 != 0 {
        Some(read_cursor_position(r)?)
    } else {
        None
    };
    Ok(CursorState { image, position })
}

/// Builds a checkpoint packet.
#[allow(clippy::too_many_arguments)] // each is one field of the packet, plus the entropy stage
pub(crate) fn checkpoint_packet(
    session: &SessionInfo,
    seq: u64,
    next_cache_id: u64,
    cursor: &CursorState,
    ops: &[Op],
    payload: &[u8],
    entropy: codec::Entropy,
    compressor: &mut codec::Compressor,
) -> Packet {
    let mut out = header(PacketKind::Checkpoint);
    write_session(&mut out, session);
    put_varint(&mut out, seq);
    put_varint(&mut out, next_cache_id);
    out.push(u8::from(cursor.image.is_some()) | u8::from(cursor.position.is_some()) << 1);
    if let Some(image) = &cursor.image {
        write_cursor_image(&mut out, image, entropy);
    }
    if let Some(p) = &cursor.position {
        write_cursor_position(&mut out, p);
    }
    write_ops(&mut out, ops, payload, &[], entropy, compressor, false);
    Packet::new(PacketKind::Checkpoint, out)
}

/// Builds a frame update packet.
pub(crate) fn update_packet(
    seq: u64,
    ops: &[Op],
    payload: &[u8],
    video: &[u8],
    entropy: codec::Entropy,
    compressor: &mut codec::Compressor,
) -> Packet {
    let mut out = header(PacketKind::FrameUpdate);
    put_varint(&mut out, seq);
    write_ops(&mut out, ops, payload, video, entropy, compressor, true);
    Packet::new(PacketKind::FrameUpdate, out)
}

/// Builds a cursor shape packet.
pub(crate) fn cursor_shape_packet(image: &CursorImage, entropy: codec::Entropy) -> Packet {
    let mut out = header(PacketKind::CursorShape);
    write_cursor_image(&mut out, image, entropy);
    Packet::new(PacketKind::CursorShape, out)
}

/// Builds a cursor position packet.
pub(crate) fn cursor_position_packet(p: &CursorPosition) -> Packet {
    let mut out = header(PacketKind::CursorPosition);
    write_cursor_position(&mut out, p);
    Packet::new(PacketKind::CursorPosition, out)
}

/// Appends `packet` to `out` with a 4-byte little-endian length prefix (for files and byte streams).
pub fn write_framed(out: &mut Vec<u8>, packet: &[u8]) {
    out.extend_from_slice(&(packet.len() as u32).to_le_bytes());
    out.extend_from_slice(packet);
}

/// Splits a buffer written with [`write_framed`] into packets. A length running past the end is an
/// error for that item; iteration stops after it.
pub fn read_framed(mut data: &[u8]) -> impl Iterator<Item = Result<&[u8]>> {
    std::iter::from_fn(move || {
        if data.is_empty() {
            return None;
        }
        let mut r = Reader::new(data);
        let item = r
            .u32_le("frame length")
            .and_then(|n| r.bytes(n as usize, "framed packet"));
        match item {
            Ok(p) => {
                data = &data[4 + p.len()..];
                Some(Ok(p))
            }
            Err(e) => {
                data = &[];
                Some(Err(e))
            }
        }
    })
}
