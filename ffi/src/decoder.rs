//! Viewing: `glimpse_decoder`, packets in, framebuffer, damage and cursor out.

use std::cell::{Cell, RefCell};
use std::mem::offset_of;

use engine::{Decoder, DecoderConfig, MAX_DIMENSION};

use crate::boundary::{
    bool_arg, ffi_call, ffi_void, init_settings, out, read_into, read_settings, slice, BoxHandle,
};
use crate::encoder::GLIMPSE_MAX_CACHE_TILES;
use crate::error::{glimpse_result, Failure};
use crate::types::{glimpse_rect, glimpse_session, pixel_format, rects_into};

/// Settings of a decoder. Versioned by size like `glimpse_encoder_settings`: fill it with
/// `glimpse_decoder_settings_init`, then change fields (fields past an older caller's `struct_size`
/// keep their defaults).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct glimpse_decoder_settings {
    /// `sizeof(glimpse_decoder_settings)` as the caller knows it. Set by `glimpse_decoder_settings_init`.
    pub struct_size: u32,
    /// Byte order of the framebuffer and cursor images, a `glimpse_pixel_format`. Default BGRA8.
    pub output_format: u32,
    /// Largest screen width accepted, 1..8192 (checkpoints announcing more are rejected). Default 8192.
    pub max_width: u32,
    /// Largest screen height accepted, 1..8192. Default 8192.
    pub max_height: u32,
    /// Largest tile cache accepted, in tiles, 0..`GLIMPSE_MAX_CACHE_TILES`. Default 8192.
    pub max_cache_tiles: u32,
    /// 1: decode the H.264 pictures of video regions into the framebuffer (default, when the library
    /// was built with H.264). 0: skip them: the framebuffer keeps its previous pixels there until the
    /// sharer re-sends the region losslessly (the C interface does not hand the pictures out).
    /// Version 2.
    pub decode_video: u32,
}

/// The first (smallest) version of the settings struct: up to `max_cache_tiles`.
const SETTINGS_V1_SIZE: usize = offset_of!(glimpse_decoder_settings, decode_video);

impl glimpse_decoder_settings {
    fn defaults() -> Self {
        let c = DecoderConfig::default();
        glimpse_decoder_settings {
            struct_size: size_of::<Self>() as u32,
            output_format: c.output_format as u32,
            max_width: c.max_width,
            max_height: c.max_height,
            max_cache_tiles: c.max_cache_tiles,
            decode_video: u32::from(c.decode_video),
        }
    }

    fn to_config(self) -> Result<DecoderConfig, Failure> {
        let mut c = DecoderConfig::with_output_format(pixel_format(self.output_format)?);
        for (name, value) in [
            ("max_width", self.max_width),
            ("max_height", self.max_height),
        ] {
            if value == 0 || value > MAX_DIMENSION {
                return Err(Failure::invalid(format!(
                    "{name} must be 1..{MAX_DIMENSION}, got {value}"
                )));
            }
        }
        if self.max_cache_tiles > GLIMPSE_MAX_CACHE_TILES {
            return Err(Failure::invalid(format!(
                "max_cache_tiles is {}, the limit is {GLIMPSE_MAX_CACHE_TILES}",
                self.max_cache_tiles
            )));
        }
        c.max_width = self.max_width;
        c.max_height = self.max_height;
        c.max_cache_tiles = self.max_cache_tiles;
        c.decode_video = bool_arg(self.decode_video, "decode_video")?;
        Ok(c)
    }
}

/// A read-only view of a decoder's framebuffer, filled by `glimpse_decoder_framebuffer`. `pixels`
/// belongs to the decoder: it is valid until the next `glimpse_decoder_apply` or
/// `glimpse_decoder_free` on that decoder.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct glimpse_framebuffer {
    /// First byte of the top row.
    pub pixels: *const u8,
    /// Bytes readable from `pixels` (`stride * height`).
    pub len: usize,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next.
    pub stride: usize,
    /// The decoder's output `glimpse_pixel_format`.
    pub pixel_format: u32,
}

/// The cursor as last announced, filled by `glimpse_decoder_cursor`. `image` belongs to the decoder:
/// it is valid until the next `glimpse_decoder_apply` or `glimpse_decoder_free` on that decoder.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct glimpse_cursor {
    /// Hotspot column in screen pixels (may be outside the screen).
    pub x: i32,
    /// Hotspot row in screen pixels (may be outside the screen).
    pub y: i32,
    /// 1 when the cursor is shown, 0 when hidden.
    pub visible: u32,
    /// The image, rows packed (`image_width * 4` bytes apart) in the decoder's output format; NULL
    /// when the image was not received (yet).
    pub image: *const u8,
    /// Image width in pixels (0 without an image).
    pub image_width: u32,
    /// Image height in pixels (0 without an image).
    pub image_height: u32,
    /// Hotspot column inside the image.
    pub hotspot_x: u32,
    /// Hotspot row inside the image.
    pub hotspot_y: u32,
}

/// A viewer's decoder (opaque). Created by `glimpse_decoder_new`, freed by `glimpse_decoder_free`.
/// Not thread-safe: use it from one thread at a time (it may move between threads).
#[allow(non_camel_case_types)]
pub struct glimpse_decoder {
    decoder: RefCell<Decoder>,
    /// `video_errors` of the last successfully applied packet.
    video_errors: Cell<u32>,
}

impl BoxHandle for glimpse_decoder {}

fn busy() -> Failure {
    Failure::new(
        glimpse_result::Busy,
        "the decoder is in use further up this thread's stack",
    )
}

fn no_checkpoint_yet() -> Failure {
    Failure::new(glimpse_result::NotAvailable, "no checkpoint received yet")
}

/// Fills `settings` with the defaults of this library version and sets `settings->struct_size`.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` if `settings` is NULL.
///
/// # Safety
/// `settings` is NULL or points to a writable `glimpse_decoder_settings`.
#[no_mangle]
pub unsafe extern "C" fn glimpse_decoder_settings_init(
    settings: *mut glimpse_decoder_settings,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe { init_settings(settings, glimpse_decoder_settings::defaults) }
}

/// Creates a decoder waiting for its first checkpoint. On success `*out_decoder` owns it: free it
/// with `glimpse_decoder_free`. `settings` is read during the call only.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, `GLIMPSE_RESULT_SETTINGS_SIZE`,
/// `GLIMPSE_RESULT_UNKNOWN_PIXEL_FORMAT`, `GLIMPSE_RESULT_INVALID_ARGUMENT`. On failure
/// `*out_decoder` is untouched.
///
/// # Safety
/// `settings` is NULL or points to `settings->struct_size` readable bytes; `out_decoder` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_decoder_new(
    settings: *const glimpse_decoder_settings,
    out_decoder: *mut *mut glimpse_decoder,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let settings = unsafe {
            read_settings(
                settings,
                glimpse_decoder_settings::defaults(),
                SETTINGS_V1_SIZE,
                "settings",
            )
        }?;
        // SAFETY: forwarded from the caller.
        let out_decoder = unsafe { out(out_decoder, "out_decoder") }?;
        let config = settings.to_config()?;
        *out_decoder = glimpse_decoder::into_raw(glimpse_decoder {
            decoder: RefCell::new(Decoder::new(config)),
            video_errors: Cell::new(0),
        });
        Ok(())
    })
}

/// Frees a decoder. NULL is ignored.
///
/// # Safety
/// `decoder` is NULL or came from `glimpse_decoder_new` and was not freed; it is not used again.
#[no_mangle]
pub unsafe extern "C" fn glimpse_decoder_free(decoder: *mut glimpse_decoder) {
    // SAFETY: forwarded from the caller.
    ffi_void(|| unsafe { glimpse_decoder::free(decoder) })
}

/// Applies one packet (`len` bytes, read during the call only). On success the framebuffer, damage
/// and cursor reflect it. On failure nothing changed: the decoder keeps its last good state and
/// can be used again; after `GLIMPSE_RESULT_OUT_OF_SYNC` (or a lost packet) it needs a checkpoint.
/// A video picture that fails to decode does not fail the call (the rest of the packet is applied):
/// `glimpse_decoder_last_video_errors` counts them.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` (`decoder` NULL, or `data` NULL with a non-zero `len`),
/// the packet errors 20..27, `GLIMPSE_RESULT_INVALID_DIMENSIONS` and `GLIMPSE_RESULT_INVALID_RECT`
/// (a packet announcing a bad screen or rectangle), `GLIMPSE_RESULT_INVALID_ARGUMENT` (`len` too
/// large to address), `GLIMPSE_RESULT_BUSY`.
///
/// # Safety
/// `decoder` is NULL or a live decoder; `data` is NULL or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn glimpse_decoder_apply(
    decoder: *mut glimpse_decoder,
    data: *const u8,
    len: usize,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let decoder = unsafe { glimpse_decoder::from_ptr(decoder, "decoder") }?;
        // SAFETY: forwarded from the caller.
        let data = unsafe { slice(data, len, "data") }?;
        let update = decoder
            .decoder
            .try_borrow_mut()
            .map_err(|_| busy())?
            .apply(data)?;
        decoder.video_errors.set(update.video_errors);
        Ok(())
    })
}

/// Fills `*out_framebuffer` with a view of the framebuffer (see `glimpse_framebuffer` for how long
/// its pointer lives). `GLIMPSE_RESULT_NOT_AVAILABLE` before the first checkpoint.
///
/// # Safety
/// `decoder` is NULL or a live decoder; `out_framebuffer` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_decoder_framebuffer(
    decoder: *const glimpse_decoder,
    out_framebuffer: *mut glimpse_framebuffer,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        read_into(
            decoder,
            "decoder",
            out_framebuffer,
            "out_framebuffer",
            |d| {
                let inner = d.decoder.try_borrow().map_err(|_| busy())?;
                let fb = inner.framebuffer().ok_or_else(no_checkpoint_yet)?;
                Ok(glimpse_framebuffer {
                    pixels: fb.pixels.as_ptr(),
                    len: fb.pixels.len(),
                    width: fb.width,
                    height: fb.height,
                    stride: fb.stride,
                    pixel_format: fb.format as u32,
                })
            },
        )
    }
}

/// Copies the damaged rectangles of the last successfully applied packet (the whole screen after a
/// checkpoint; none before the first packet or after a cursor packet) to `rects` (room for `cap`)
/// and sets `*out_count`. If they do not fit, returns `GLIMPSE_RESULT_BUFFER_TOO_SMALL` and sets
/// `*out_count` to the number needed (so `rects` NULL with `cap` 0 asks for the count).
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` (`decoder` or `out_count` NULL, or `rects` NULL with a
/// non-zero `cap`), `GLIMPSE_RESULT_BUFFER_TOO_SMALL`, `GLIMPSE_RESULT_BUSY`.
///
/// # Safety
/// `decoder` is NULL or a live decoder; `rects` is NULL or points to `cap` writable rectangles;
/// `out_count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_decoder_damage(
    decoder: *const glimpse_decoder,
    rects: *mut glimpse_rect,
    cap: usize,
    out_count: *mut usize,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        rects_into(decoder, "decoder", rects, cap, out_count, |d, copy| {
            copy(d.decoder.try_borrow().map_err(|_| busy())?.damage())
        })
    }
}

/// Fills `*out_cursor` with the cursor as last announced (see `glimpse_cursor` for how long its
/// image pointer lives). `GLIMPSE_RESULT_NOT_AVAILABLE` before the first cursor position.
///
/// # Safety
/// `decoder` is NULL or a live decoder; `out_cursor` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_decoder_cursor(
    decoder: *const glimpse_decoder,
    out_cursor: *mut glimpse_cursor,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        read_into(decoder, "decoder", out_cursor, "out_cursor", |d| {
            let inner = d.decoder.try_borrow().map_err(|_| busy())?;
            let c = inner.cursor().ok_or_else(|| {
                Failure::new(glimpse_result::NotAvailable, "no cursor received yet")
            })?;
            let image = c.image;
            Ok(glimpse_cursor {
                x: c.x,
                y: c.y,
                visible: u32::from(c.visible),
                image: image.map_or(std::ptr::null(), |i| i.pixels.as_ptr()),
                image_width: image.map_or(0, |i| i.width),
                image_height: image.map_or(0, |i| i.height),
                hotspot_x: image.map_or(0, |i| i.hotspot_x),
                hotspot_y: image.map_or(0, |i| i.hotspot_y),
            })
        })
    }
}

/// Writes the session announced by the last checkpoint to `*out_session`.
/// `GLIMPSE_RESULT_NOT_AVAILABLE` before the first checkpoint.
///
/// # Safety
/// `decoder` is NULL or a live decoder; `out_session` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_decoder_session(
    decoder: *const glimpse_decoder,
    out_session: *mut glimpse_session,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        read_into(decoder, "decoder", out_session, "out_session", |d| {
            let session = d.decoder.try_borrow().map_err(|_| busy())?.session();
            Ok(session.ok_or_else(no_checkpoint_yet)?.into())
        })
    }
}

/// Writes to `*out_count` how many video pictures of the last successfully applied packet failed to
/// decode (0 before the first packet, after a checkpoint or cursor packet, and with `decode_video`
/// 0). Such failures are contained: `glimpse_decoder_apply` still succeeded and applied the rest of
/// the packet; the affected region shows its previous pixels and recovers at its next keyframe or
/// when the sharer re-sends it losslessly.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` (`decoder` or `out_count` NULL).
///
/// # Safety
/// `decoder` is NULL or a live decoder; `out_count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_decoder_last_video_errors(
    decoder: *const glimpse_decoder,
    out_count: *mut u32,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        read_into(decoder, "decoder", out_count, "out_count", |d| {
            Ok(d.video_errors.get())
        })
    }
}
