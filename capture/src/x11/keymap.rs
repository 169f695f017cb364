//! The keyboard map as the injector uses it: the keycode for a keysym, and a small fixed pool of
//! spare keycodes for keysyms the keyboard lacks.
//!
//! Remapping a keycode makes every X client reload its keymap, so a viewer must not be able to
//! remap freely: the pool holds at most [`SPARE_POOL`] keycodes (those with no keysym when the
//! injector opened), reused oldest first, and at most [`MAX_REMAPS_PER_SECOND`] remaps happen per
//! second. Every remapped keycode is written to a property of the root window before it is
//! changed, so that if this process dies without restoring them, the next injector to open puts
//! the keymap back.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{self, AtomEnum, ConnectionExt as _, PropMode};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use super::protocol_error;
use crate::CaptureError;

/// Spare keycodes the injector may use for keysyms the keyboard lacks.
pub const SPARE_POOL: usize = 8;
/// Keycode remaps per second at most (each makes every X client reload its keymap).
pub const MAX_REMAPS_PER_SECOND: usize = 20;
/// The root window property listing keycodes an injector remapped and has not restored yet.
const RECORD_PROPERTY: &[u8] = b"_GLIMPSE_REMAPPED_KEYCODES";

pub(super) struct Keymap {
    min_keycode: u8,
    per: usize,
    /// Keysyms by keycode (`per` per keycode from `min_keycode`).
    syms: Vec<u32>,
    /// Spare keycodes (no keysym at open), in order of last use (least recent first).
    pool: Vec<u8>,
    /// Pool keycodes that hold a keysym of ours now.
    remapped: HashSet<u8>,
    remaps: VecDeque<Instant>,
    record: xproto::Atom,
    root: xproto::Window,
}

impl Keymap {
    /// Reads the keymap; first restores keycodes a previous injector left remapped (a crash).
    pub fn open(conn: &RustConnection, root: xproto::Window) -> Result<Keymap, CaptureError> {
        let record = conn
            .intern_atom(false, RECORD_PROPERTY)
            .map_err(protocol_error)?
            .reply()
            .map_err(protocol_error)?
            .atom;
        let mut keymap = Keymap {
            min_keycode: 0,
            per: 1,
            syms: Vec::new(),
            pool: Vec::new(),
            remapped: HashSet::new(),
            remaps: VecDeque::new(),
            record,
            root,
        };
        keymap.restore_left_over(conn)?;
        keymap.refresh(conn)?;
        keymap.pool = keymap
            .syms
            .chunks(keymap.per)
            .enumerate()
            // Keycode 8 (the lowest) is skipped: some toolkits treat it specially.
            .skip(1)
            .filter(|(_, syms)| syms.iter().all(|&s| s == 0))
            .map(|(i, _)| keymap.min_keycode + i as u8)
            .take(SPARE_POOL)
            .collect();
        Ok(keymap)
    }

    fn refresh(&mut self, conn: &RustConnection) -> Result<(), CaptureError> {
        let setup = conn.setup();
        let (min, max) = (setup.min_keycode, setup.max_keycode);
        let map = conn
            .get_keyboard_mapping(min, max - min + 1)
            .map_err(protocol_error)?
            .reply()
            .map_err(protocol_error)?;
        self.min_keycode = min;
        self.per = usize::from(map.keysyms_per_keycode.max(1));
        self.syms = map.keysyms;
        Ok(())
    }

    /// Keycodes a crashed injector left remapped go back to no keysym.
    fn restore_left_over(&mut self, conn: &RustConnection) -> Result<(), CaptureError> {
        let left = conn
            .get_property(false, self.root, self.record, AtomEnum::CARDINAL, 0, 64)
            .map_err(protocol_error)?
            .reply()
            .map_err(protocol_error)?;
        let keycodes: Vec<u8> = left.value8().map(|v| v.collect()).unwrap_or_default();
        if keycodes.is_empty() {
            return Ok(());
        }
        self.refresh(conn)?;
        for keycode in keycodes.into_iter().filter(|&k| k >= self.min_keycode) {
            let per = self.per as u8;
            conn.change_keyboard_mapping(1, keycode, per, &vec![0; self.per])
                .map_err(protocol_error)?;
        }
        conn.delete_property(self.root, self.record)
            .map_err(protocol_error)?;
        conn.flush().map_err(protocol_error)?;
        Ok(())
    }

    /// The keycode that produces `keysym`, giving it a spare keycode from the pool if needed.
    /// `held` are keycodes pressed now (never taken away).
    pub fn keycode_for(
        &mut self,
        conn: &RustConnection,
        keysym: u32,
        held: &HashSet<u8>,
    ) -> Result<u8, CaptureError> {
        // Unshifted position first, then any column.
        if let Some(i) = self
            .syms
            .chunks(self.per)
            .position(|syms| syms.first() == Some(&keysym))
        {
            self.touch(self.min_keycode + i as u8);
            return Ok(self.min_keycode + i as u8);
        }
        if let Some(i) = self.syms.iter().position(|&s| s == keysym) {
            // Only on a shifted column: a spare keycode with the keysym in every column produces
            // it whatever the modifiers; without one, the shifted key will do.
            let shifted = self.min_keycode + (i / self.per) as u8;
            return Ok(self.remap(conn, keysym, held)?.unwrap_or(shifted));
        }
        self.remap(conn, keysym, held)?.ok_or_else(|| {
            CaptureError::InvalidInput(format!(
                "keysym {keysym:#x} has no key and no spare keycode is free now"
            ))
        })
    }

    /// Moves a pool keycode to the back (most recently used).
    fn touch(&mut self, keycode: u8) {
        if let Some(i) = self.pool.iter().position(|&k| k == keycode) {
            let k = self.pool.remove(i);
            self.pool.push(k);
        }
    }

    /// Gives `keysym` to the least recently used pool keycode that is not held; `None` when there
    /// is none, or the remap budget of this second is spent.
    fn remap(
        &mut self,
        conn: &RustConnection,
        keysym: u32,
        held: &HashSet<u8>,
    ) -> Result<Option<u8>, CaptureError> {
        let now = Instant::now();
        while self
            .remaps
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.remaps.pop_front();
        }
        if self.remaps.len() >= MAX_REMAPS_PER_SECOND {
            return Ok(None);
        }
        let Some(&keycode) = self.pool.iter().find(|k| !held.contains(k)) else {
            return Ok(None);
        };
        if self.remapped.insert(keycode) {
            self.write_record(conn)?; // before the change: a crash after it is then repaired
        }
        let syms = vec![keysym; self.per];
        conn.change_keyboard_mapping(1, keycode, self.per as u8, &syms)
            .map_err(protocol_error)?
            .check()
            .map_err(protocol_error)?;
        let start = usize::from(keycode - self.min_keycode) * self.per;
        self.syms[start..start + self.per].copy_from_slice(&syms);
        self.remaps.push_back(now);
        self.touch(keycode);
        Ok(Some(keycode))
    }

    fn write_record(&self, conn: &RustConnection) -> Result<(), CaptureError> {
        let keycodes: Vec<u8> = self.remapped.iter().copied().collect();
        conn.change_property8(
            PropMode::REPLACE,
            self.root,
            self.record,
            AtomEnum::CARDINAL,
            &keycodes,
        )
        .map_err(protocol_error)?
        .check()
        .map_err(protocol_error)
    }

    /// Gives every remapped keycode back (no keysym) and clears the record.
    pub fn restore(&mut self, conn: &RustConnection) {
        for keycode in self.remapped.drain() {
            let _ = conn.change_keyboard_mapping(1, keycode, self.per as u8, &vec![0; self.per]);
        }
        let _ = conn.delete_property(self.root, self.record);
        let _ = conn.flush();
    }
}
