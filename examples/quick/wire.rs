//! Small readers of Glimpse packet headers shared by the relay, the share command and the test
//! clients: the sequence number and screen size a packet carries, without decoding it.
#![allow(dead_code)] // each program that includes this module uses a different part of it

use glimpse::PacketKind;

/// Reads one unsigned LEB128 varint at `*pos`.
fn varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// `(width, height, seq)` of a checkpoint, `None` for anything else or a short packet.
pub fn checkpoint_header(packet: &[u8]) -> Option<(u32, u32, u64)> {
    if glimpse::protocol::peek_kind(packet).ok()? != PacketKind::Checkpoint {
        return None;
    }
    let mut pos = 3;
    let width = varint(packet, &mut pos)?;
    let height = varint(packet, &mut pos)?;
    for _ in 0..3 {
        varint(packet, &mut pos)?; // scale_percent, tile_size, cache_tiles
    }
    let seq = varint(packet, &mut pos)?;
    Some((u32::try_from(width).ok()?, u32::try_from(height).ok()?, seq))
}

/// The sequence number of a checkpoint or frame update (what a viewer acknowledges), else `None`.
pub fn packet_seq(packet: &[u8]) -> Option<u64> {
    match glimpse::protocol::peek_kind(packet).ok()? {
        PacketKind::Checkpoint => checkpoint_header(packet).map(|(_, _, seq)| seq),
        PacketKind::FrameUpdate => varint(packet, &mut 3),
        _ => None,
    }
}

/// Milliseconds since the Unix epoch (the clock the browser's `Date.now()` reads too).
pub fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Percentile `p` (0..=100) of `values` (sorted in place); 0 when empty.
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank.min(values.len() - 1)]
}
