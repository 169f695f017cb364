//! The tile cache, as the encoder and the decoder each keep it.
//!
//! Entry ids count up from the session's `next_cache_id`; entry `id` is held in slot `id % capacity`
//! until `capacity` newer entries were stored. Eviction is thus a pure function of the packet stream:
//! both sides agree on it without ever talking about it.

use std::collections::HashMap;

use super::TileKey;
use crate::error::{Error, Result};

/// The encoder's view: which content each live entry holds.
#[derive(Debug, Default)]
pub(crate) struct EncoderCache {
    capacity: u32,
    next_id: u64,
    by_key: HashMap<TileKey, u64>,
    slots: Vec<Option<TileKey>>,
}

impl EncoderCache {
    pub fn new(capacity: u32) -> Self {
        EncoderCache {
            capacity,
            next_id: 0,
            by_key: HashMap::new(),
            slots: vec![None; capacity as usize],
        }
    }

    pub fn set_next_id(&mut self, next_id: u64) {
        self.next_id = next_id;
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The live entry holding `key`.
    pub fn lookup(&self, key: &TileKey) -> Option<u64> {
        self.by_key.get(key).copied()
    }

    /// True when entry `id` is in the older half of the cache: referencing it should re-store it, so
    /// that tiles in use are not evicted.
    pub fn is_aging(&self, id: u64) -> bool {
        id + u64::from(self.capacity / 2) < self.next_id
    }

    /// Records that the decoder stores `key` as the next entry; returns its id.
    pub fn store(&mut self, key: TileKey) -> u64 {
        let id = self.next_id;
        let slot = (id % u64::from(self.capacity)) as usize;
        if let Some(old) = self.slots[slot].take() {
            if self.by_key.get(&old) == Some(&(id - u64::from(self.capacity))) {
                self.by_key.remove(&old);
            }
        }
        self.slots[slot] = Some(key);
        self.by_key.insert(key, id);
        self.next_id += 1;
        id
    }

    /// Forgets every entry (at a checkpoint); ids keep counting.
    pub fn forget_all(&mut self) {
        self.by_key.clear();
        self.slots.iter_mut().for_each(|s| *s = None);
    }
}

/// One stored tile on the decoder side.
#[derive(Debug, Default)]
struct Entry {
    id: u64,
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

/// The decoder's view: the pixels of each live entry.
#[derive(Debug, Default)]
pub(crate) struct DecoderCache {
    capacity: u32,
    next_id: u64,
    slots: Vec<Option<Entry>>,
}

impl DecoderCache {
    pub fn new(capacity: u32, next_id: u64) -> Self {
        let mut slots = Vec::new();
        slots.resize_with(capacity as usize, || None);
        DecoderCache {
            capacity,
            next_id,
            slots,
        }
    }

    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Whether entry `id` is live, and its size.
    pub fn size_of(&self, id: u64) -> Option<(u32, u32)> {
        if self.capacity == 0 {
            return None;
        }
        let entry = self.slots[(id % u64::from(self.capacity)) as usize].as_ref()?;
        (entry.id == id).then_some((entry.width, entry.height))
    }

    /// The pixels of entry `id` (packed rows).
    pub fn get(&self, id: u64) -> Result<&[u8]> {
        if self.capacity == 0 {
            return Err(Error::MissingCacheEntry { id });
        }
        match &self.slots[(id % u64::from(self.capacity)) as usize] {
            Some(e) if e.id == id => Ok(&e.pixels),
            _ => Err(Error::MissingCacheEntry { id }),
        }
    }

    /// Stores a tile as the next entry, filling it from `rows` (each `width * 4` bytes).
    pub fn store<'a>(&mut self, width: u32, height: u32, rows: impl Iterator<Item = &'a [u8]>) {
        if self.capacity == 0 {
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let slot = &mut self.slots[(id % u64::from(self.capacity)) as usize];
        let entry = slot.get_or_insert_with(Entry::default);
        entry.id = id;
        entry.width = width;
        entry.height = height;
        entry.pixels.clear();
        for row in rows {
            entry.pixels.extend_from_slice(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{PackedImage, Rect, SourceRows};

    fn key(n: u32) -> TileKey {
        let img = PackedImage::new(2, 2, n);
        TileKey::of(&SourceRows::from_image(&img), &Rect::new(0, 0, 2, 2))
    }

    #[test]
    fn eviction_is_deterministic_and_matches_the_decoder() {
        let mut enc = EncoderCache::new(3);
        let mut dec = DecoderCache::new(3, 0);
        for n in 0..5u32 {
            let id = enc.store(key(n));
            dec.store(1, 1, std::iter::once(&n.to_le_bytes()[..]));
            assert_eq!(id, u64::from(n));
        }
        assert_eq!(enc.lookup(&key(0)), None);
        assert_eq!(enc.lookup(&key(1)), None);
        assert_eq!(enc.lookup(&key(2)), Some(2));
        assert!(dec.get(1).is_err());
        assert_eq!(dec.get(2).unwrap(), &2u32.to_le_bytes());
        assert!(enc.is_aging(2) == (2 + 1 < 5));
        // Re-storing a key keeps the newest id; the older slot's eviction must not drop it.
        let id = enc.store(key(2));
        assert_eq!(enc.lookup(&key(2)), Some(id));
        for n in 10..12 {
            enc.store(key(n));
        }
        assert_eq!(enc.lookup(&key(2)), Some(id));
        enc.forget_all();
        assert_eq!(enc.lookup(&key(2)), None);
        assert_eq!(enc.next_id(), 8);
    }
}
