//! Sharing: `glimpse_encoder` and its settings, frames in, packets out (callback or poll).

use std::cell::{Ref, RefCell};
use std::collections::VecDeque;
use std::ffi::c_void;

use std::mem::offset_of;

use engine::{Encoder, EncoderConfig, Entropy, Packet, VideoSettings};

use crate::boundary::{
    bool_arg, ffi_call, ffi_void, init_settings, out, read_into, read_settings, write_u64_fields,
    BoxHandle,
};
use crate::error::{glimpse_result, Failure};
use crate::types::{
    check_inside, frame, frame_and_damage, glimpse_rect, glimpse_session, kind_number, rects,
    rects_into,
};

/// Packets an encoder queues (when no callback is set) before calls that produce packets fail with
/// `GLIMPSE_RESULT_QUEUE_FULL`.
pub const GLIMPSE_MAX_QUEUED_PACKETS: u32 = 64;

/// Bytes an encoder queues (when no callback is set) before calls that produce packets fail with
/// `GLIMPSE_RESULT_QUEUE_FULL`.
pub const GLIMPSE_MAX_QUEUED_BYTES: u32 = 64 * 1024 * 1024;

/// Largest tile cache accepted in settings, in tiles (each costs a viewer up to 16 KiB).
pub const GLIMPSE_MAX_CACHE_TILES: u32 = 65536;

/// Largest `glimpse_encoder_settings.video_fps`.
pub const GLIMPSE_MAX_VIDEO_FPS: u32 = 120;

/// Largest `glimpse_encoder_settings.video_settle_frames`.
pub const GLIMPSE_MAX_VIDEO_SETTLE_FRAMES: u32 = 65535;

/// Entropy stage of an encoder's payload (`glimpse_encoder_settings.entropy`).
#[repr(u32)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types, dead_code)]
pub enum glimpse_entropy {
    /// The engine's choice per payload (the default): currently zstd, strong for small payloads and
    /// fast for large ones.
    Adaptive = 0,
    /// No entropy stage.
    Stored = 1,
    /// LZ4: fastest.
    Lz4 = 2,
    /// DEFLATE at `level` (1..9): pure Rust everywhere.
    Deflate = 3,
    /// Zstandard at `level` (1..19); viewers decode it in pure Rust (WebAssembly too).
    Zstd = 4,
}

/// Settings of an encoder. Versioned by size: fill it with `glimpse_encoder_settings_init` (which
/// sets `struct_size` to the size this header knows and every field to its default), then change
/// fields. Later versions only append fields, so programs built against an older header keep working
/// (fields past their `struct_size` keep their defaults).
///
/// Video regions (the `video_*` fields, added in the second version): where pixels move like video
/// (at least 2x2 tiles of photographic content changing every frame), the encoder sends H.264
/// pictures instead of lossless tiles. Viewers show those pixels lossy
/// (`glimpse_encoder_lossy_rects` says where) until the region has been still for
/// `video_settle_frames` frames: then every lossy tile is re-sent losslessly, so the whole screen is
/// exact again at most `glimpse_encoder_top_off_bound_frames` frames after it stops changing.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct glimpse_encoder_settings {
    /// `sizeof(glimpse_encoder_settings)` as the caller knows it. Set by `glimpse_encoder_settings_init`.
    pub struct_size: u32,
    /// Tile cache capacity in 64x64 tiles, 0..`GLIMPSE_MAX_CACHE_TILES`; 0 turns the cache off.
    /// Default 2048.
    pub cache_tiles: u32,
    /// 1: detect scrolling and moved windows and send them as copies (default); 0: do not.
    pub motion_detection: u32,
    /// A `glimpse_entropy` value. Default `GLIMPSE_ENTROPY_ADAPTIVE`.
    pub entropy: u32,
    /// Compression level: 1..9 for `GLIMPSE_ENTROPY_DEFLATE`, 1..19 for `GLIMPSE_ENTROPY_ZSTD`;
    /// ignored by the other modes. Default 6.
    pub level: u32,
    /// Display scale announced to viewers, 1..65535 (100 = 96 DPI). Default 100.
    pub scale_percent: u32,
    /// 1: send video-like regions as H.264 (default, when the library was built with H.264); 0:
    /// everything lossless, every pixel exact at every frame. Version 2.
    pub video_enabled: u32,
    /// Bit rate ceiling of each video region in bits per second; 0 (default) picks one from the
    /// region's size (5 bits per pixel per second, 250 kbit/s to 8 Mbit/s). Regions are coded at
    /// constant quality and spend less when the content allows. Version 2.
    pub video_bitrate_bps: u32,
    /// Frames per second the host captures at, 1..`GLIMPSE_MAX_VIDEO_FPS` (the bit rate ceiling is
    /// checked over a second of them). Default 10. Version 2.
    pub video_fps: u32,
    /// A video region still for this many frames ends and is re-sent losslessly,
    /// 0..`GLIMPSE_MAX_VIDEO_SETTLE_FRAMES` (0 acts as 1). Default 3. Version 2.
    pub video_settle_frames: u32,
}

/// The first (smallest) version of the settings struct: up to `scale_percent`.
const SETTINGS_V1_SIZE: usize = offset_of!(glimpse_encoder_settings, video_enabled);

impl glimpse_encoder_settings {
    fn defaults() -> Self {
        let config = EncoderConfig::default();
        let (entropy, level) = match config.entropy {
            Entropy::Stored => (glimpse_entropy::Stored, 6),
            Entropy::Lz4 => (glimpse_entropy::Lz4, 6),
            Entropy::Deflate(level) => (glimpse_entropy::Deflate, u32::from(level)),
            Entropy::Zstd(level) => (glimpse_entropy::Zstd, level.unsigned_abs()),
            _ => (glimpse_entropy::Adaptive, 6),
        };
        glimpse_encoder_settings {
            struct_size: size_of::<Self>() as u32,
            cache_tiles: config.cache_tiles,
            motion_detection: u32::from(config.motion_detection),
            entropy: entropy as u32,
            level,
            scale_percent: u32::from(config.scale_percent),
            video_enabled: u32::from(config.video.enabled),
            video_bitrate_bps: config.video.bitrate_bps,
            video_fps: config.video.fps,
            video_settle_frames: config.video.settle_frames,
        }
    }

    fn to_config(self) -> Result<EncoderConfig, Failure> {
        let mut config = EncoderConfig::default();
        if self.cache_tiles > GLIMPSE_MAX_CACHE_TILES {
            return Err(Failure::invalid(format!(
                "cache_tiles is {}, the limit is {GLIMPSE_MAX_CACHE_TILES}",
                self.cache_tiles
            )));
        }
        config.cache_tiles = self.cache_tiles;
        config.motion_detection = bool_arg(self.motion_detection, "motion_detection")?;
        config.entropy = match self.entropy {
            0 => Entropy::Adaptive,
            1 => Entropy::Stored,
            2 => Entropy::Lz4,
            3 => match u8::try_from(self.level) {
                Ok(level @ 1..=9) => Entropy::Deflate(level),
                _ => {
                    return Err(Failure::invalid(format!(
                        "DEFLATE level must be 1..9, got {}",
                        self.level
                    )))
                }
            },
            4 => match i32::try_from(self.level) {
                Ok(level @ 1..=19) => Entropy::Zstd(level),
                _ => {
                    return Err(Failure::invalid(format!(
                        "zstd level must be 1..19, got {}",
                        self.level
                    )))
                }
            },
            other => return Err(Failure::invalid(format!("unknown entropy mode {other}"))),
        };
        config.scale_percent = match u16::try_from(self.scale_percent) {
            Ok(s) if s > 0 => s,
            _ => {
                return Err(Failure::invalid(format!(
                    "scale_percent must be 1..65535, got {}",
                    self.scale_percent
                )))
            }
        };
        let mut video = VideoSettings::default();
        video.enabled = bool_arg(self.video_enabled, "video_enabled")?;
        video.bitrate_bps = self.video_bitrate_bps;
        if self.video_fps == 0 || self.video_fps > GLIMPSE_MAX_VIDEO_FPS {
            return Err(Failure::invalid(format!(
                "video_fps must be 1..{GLIMPSE_MAX_VIDEO_FPS}, got {}",
                self.video_fps
            )));
        }
        video.fps = self.video_fps;
        if self.video_settle_frames > GLIMPSE_MAX_VIDEO_SETTLE_FRAMES {
            return Err(Failure::invalid(format!(
                "video_settle_frames is {}, the limit is {GLIMPSE_MAX_VIDEO_SETTLE_FRAMES}",
                self.video_settle_frames
            )));
        }
        video.settle_frames = self.video_settle_frames;
        config.video = video;
        Ok(config)
    }
}

/// Reads and validates encoder settings from C (NULL is a failure naming `name`).
///
/// # Safety
/// `settings` is NULL or points to `settings->struct_size` readable bytes.
pub(crate) unsafe fn encoder_config(
    settings: *const glimpse_encoder_settings,
    name: &str,
) -> Result<EncoderConfig, Failure> {
    // SAFETY: forwarded from the caller.
    let settings = unsafe {
        read_settings(
            settings,
            glimpse_encoder_settings::defaults(),
            SETTINGS_V1_SIZE,
            name,
        )
    }?;
    settings.to_config()
}

/// Receives each packet an encoder produces: `userdata` as given to `glimpse_encoder_set_callback`,
/// the packet bytes (valid only during the call: copy them to keep them), their length, and the
/// packet's `glimpse_packet_kind`. Called synchronously on the thread that made the call producing
/// the packet, before that call returns.
#[allow(non_camel_case_types)]
pub type glimpse_packet_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, data: *const u8, len: usize, kind: u32)>;

struct Sink {
    callback: glimpse_packet_callback,
    userdata: *mut c_void,
}

struct EncoderState {
    encoder: Encoder,
    queue: VecDeque<Packet>,
    queued_bytes: usize,
    sink: Sink,
}

/// A sharing session's encoder (opaque). Created by `glimpse_encoder_new`, freed by
/// `glimpse_encoder_free`. Not thread-safe: use it from one thread at a time (it may move between
/// threads).
#[allow(non_camel_case_types)]
pub struct glimpse_encoder {
    state: RefCell<EncoderState>,
}

impl BoxHandle for glimpse_encoder {}

impl glimpse_encoder {
    /// Runs `produce` on the encoder (failing if the queue is full), then delivers its packet, if any,
    /// to the callback (after releasing the encoder, so the callback may call this encoder again) or
    /// to the queue.
    fn produce(
        &self,
        produce: impl FnOnce(&mut Encoder) -> Result<Option<Packet>, Failure>,
    ) -> Result<(), Failure> {
        let mut state = self.state.try_borrow_mut().map_err(|_| busy())?;
        let queue_mode = state.sink.callback.is_none();
        if queue_mode
            && (state.queue.len() >= GLIMPSE_MAX_QUEUED_PACKETS as usize
                || state.queued_bytes >= GLIMPSE_MAX_QUEUED_BYTES as usize)
        {
            return Err(Failure::new(
                glimpse_result::QueueFull,
                format!(
                    "{} packets ({} bytes) are waiting",
                    state.queue.len(),
                    state.queued_bytes
                ),
            ));
        }
        let Some(packet) = produce(&mut state.encoder)? else {
            return Ok(());
        };
        match state.sink.callback {
            None => {
                state.queued_bytes += packet.len();
                state.queue.push_back(packet);
            }
            Some(callback) => {
                let userdata = state.sink.userdata;
                drop(state);
                let bytes = packet.as_bytes();
                // SAFETY: the caller of glimpse_encoder_set_callback promised a valid function.
                unsafe {
                    callback(
                        userdata,
                        bytes.as_ptr(),
                        bytes.len(),
                        kind_number(packet.kind()),
                    )
                };
            }
        }
        Ok(())
    }
}

impl glimpse_encoder {
    /// The engine, borrowed to read it; `GLIMPSE_RESULT_BUSY` while a call further up this thread's
    /// stack (a packet callback's caller) holds it.
    fn engine(&self) -> Result<Ref<'_, Encoder>, Failure> {
        let state = self.state.try_borrow().map_err(|_| busy())?;
        Ok(Ref::map(state, |s| &s.encoder))
    }
}

fn no_frame_yet() -> Failure {
    Failure::new(glimpse_result::NotAvailable, "no frame was pushed yet")
}

fn busy() -> Failure {
    Failure::new(
        glimpse_result::Busy,
        "the encoder is in use further up this thread's stack",
    )
}

/// Fills `settings` with the defaults of this library version and sets `settings->struct_size`.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` if `settings` is NULL.
///
/// # Safety
/// `settings` is NULL or points to a writable `glimpse_encoder_settings`.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_settings_init(
    settings: *mut glimpse_encoder_settings,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe { init_settings(settings, glimpse_encoder_settings::defaults) }
}

/// Creates an encoder. On success `*out_encoder` owns it: free it with `glimpse_encoder_free`.
///
/// `settings` is read during the call only (see `glimpse_encoder_settings`). Without a callback
/// (`glimpse_encoder_set_callback`), packets are queued for `glimpse_encoder_next_packet`.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` if `settings` or `out_encoder` is NULL,
/// `GLIMPSE_RESULT_SETTINGS_SIZE` for a `struct_size` this library does not understand, and
/// `GLIMPSE_RESULT_INVALID_ARGUMENT` for a field out of range. On failure `*out_encoder` is untouched.
///
/// # Safety
/// `settings` is NULL or points to `settings->struct_size` readable bytes; `out_encoder` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_new(
    settings: *const glimpse_encoder_settings,
    out_encoder: *mut *mut glimpse_encoder,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let config = unsafe { encoder_config(settings, "settings") }?;
        // SAFETY: forwarded from the caller.
        let out_encoder = unsafe { out(out_encoder, "out_encoder") }?;
        let state = EncoderState {
            encoder: Encoder::new(config),
            queue: VecDeque::new(),
            queued_bytes: 0,
            sink: Sink {
                callback: None,
                userdata: std::ptr::null_mut(),
            },
        };
        *out_encoder = glimpse_encoder::into_raw(glimpse_encoder {
            state: RefCell::new(state),
        });
        Ok(())
    })
}

/// Frees an encoder and any packets still queued. NULL is ignored.
///
/// # Safety
/// `encoder` is NULL or came from `glimpse_encoder_new` and was not freed; it is not used again, and
/// this is not called from inside the encoder's own packet callback.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_free(encoder: *mut glimpse_encoder) {
    // SAFETY: forwarded from the caller.
    ffi_void(|| unsafe { glimpse_encoder::free(encoder) })
}

/// Sets (or, with `callback` NULL, removes) the packet callback. With a callback, every packet goes
/// to it synchronously, on the calling thread, during the call that produced it; the callback may
/// call this encoder's functions (except `glimpse_encoder_free`). Packets already queued stay queued.
/// `userdata` is passed back untouched and may be NULL; Glimpse never frees it.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` if `encoder` is NULL, `GLIMPSE_RESULT_BUSY` if called
/// from inside a callback of this encoder.
///
/// # Safety
/// `encoder` is NULL or a live encoder; `callback` is NULL or a function safe to call with
/// `userdata` for as long as it is set.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_set_callback(
    encoder: *mut glimpse_encoder,
    callback: glimpse_packet_callback,
    userdata: *mut c_void,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let encoder = unsafe { glimpse_encoder::from_ptr(encoder, "encoder") }?;
        let mut state = encoder.state.try_borrow_mut().map_err(|_| busy())?;
        state.sink = Sink { callback, userdata };
        Ok(())
    })
}

/// Encodes one captured frame: `height` rows of `width` 32-bit pixels, `stride` bytes apart, in
/// `pixel_format` (a `glimpse_pixel_format`), in a buffer of `len` bytes (at least
/// `stride * (height - 1) + width * 4`). The pixels are read during the call only.
///
/// `hints`/`hint_count`: the damage rectangles reported by the capture API; only they are compared
/// with the previous frame (pixels outside them must be unchanged). Pass NULL and 0 to compare the
/// whole frame. Each hint must be non-empty and inside the frame.
///
/// Produces at most one packet: a checkpoint for the first frame or after a size change, a frame
/// update when something changed, nothing when the frame equals the previous one.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` (`encoder` or `pixels` NULL, or `hints` NULL with a
/// non-zero count), `GLIMPSE_RESULT_INVALID_DIMENSIONS`, `GLIMPSE_RESULT_INVALID_STRIDE`,
/// `GLIMPSE_RESULT_FRAME_DATA_TOO_SHORT`, `GLIMPSE_RESULT_UNKNOWN_PIXEL_FORMAT`,
/// `GLIMPSE_RESULT_INVALID_RECT` (a hint), `GLIMPSE_RESULT_INVALID_ARGUMENT` (`len` or `hint_count`
/// too large to address), `GLIMPSE_RESULT_QUEUE_FULL` or `GLIMPSE_RESULT_BUSY`.
/// On failure the encoder is unchanged and can be used again.
///
/// # Safety
/// `encoder` is NULL or a live encoder; `pixels` is NULL or points to `len` readable bytes; `hints`
/// is NULL or points to `hint_count` readable rectangles.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn glimpse_encoder_push_frame(
    encoder: *mut glimpse_encoder,
    pixels: *const u8,
    len: usize,
    width: u32,
    height: u32,
    stride: usize,
    pixel_format: u32,
    hints: *const glimpse_rect,
    hint_count: usize,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let encoder = unsafe { glimpse_encoder::from_ptr(encoder, "encoder") }?;
        // SAFETY: forwarded from the caller.
        let (frame, hints) = unsafe {
            frame_and_damage(
                pixels,
                len,
                width,
                height,
                stride,
                pixel_format,
                hints,
                hint_count,
                "hints",
            )
        }?;
        encoder.produce(|enc| {
            Ok(if hints.is_empty() {
                enc.encode(&frame)?
            } else {
                enc.encode_with_hints(&frame, &hints)?
            })
        })
    })
}

/// Sets the privacy masks: screen rectangles whose pixels never leave the encoder (viewers see them
/// dark grey). Applies from the next frame on; `masks` NULL and `count` 0 removes all masks. The
/// rectangles are copied. Produces no packet.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` (`encoder` NULL, or `masks` NULL with a non-zero count),
/// `GLIMPSE_RESULT_INVALID_RECT` for an empty mask, `GLIMPSE_RESULT_INVALID_ARGUMENT` (`count` too
/// large to address), `GLIMPSE_RESULT_BUSY`.
///
/// # Safety
/// `encoder` is NULL or a live encoder; `masks` is NULL or points to `count` readable rectangles.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_set_privacy_masks(
    encoder: *mut glimpse_encoder,
    masks: *const glimpse_rect,
    count: usize,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let encoder = unsafe { glimpse_encoder::from_ptr(encoder, "encoder") }?;
        // SAFETY: forwarded from the caller.
        let masks = unsafe { rects(masks, count, "masks") }?;
        // Masks may be set before the first frame fixes the screen size: check only that each is
        // non-empty and addressable; the part outside the screen masks nothing.
        check_inside(&masks, u32::MAX, u32::MAX)?;
        let mut state = encoder.state.try_borrow_mut().map_err(|_| busy())?;
        state.encoder.set_privacy_masks(&masks);
        Ok(())
    })
}

/// Sets the cursor image (`width`, `height` 1..256, any stride, a `glimpse_pixel_format`) and its
/// hotspot (inside the image). The pixels are read during the call only. Produces a cursor-shape
/// packet, or none when viewers already have this image.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, the frame errors of `glimpse_encoder_push_frame`,
/// `GLIMPSE_RESULT_LIMIT_EXCEEDED` (image above 256x256), `GLIMPSE_RESULT_INVALID_RECT` (hotspot
/// outside the image), `GLIMPSE_RESULT_QUEUE_FULL`, `GLIMPSE_RESULT_BUSY`.
///
/// # Safety
/// `encoder` is NULL or a live encoder; `pixels` is NULL or points to `len` readable bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn glimpse_encoder_set_cursor_shape(
    encoder: *mut glimpse_encoder,
    pixels: *const u8,
    len: usize,
    width: u32,
    height: u32,
    stride: usize,
    pixel_format: u32,
    hotspot_x: u32,
    hotspot_y: u32,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let encoder = unsafe { glimpse_encoder::from_ptr(encoder, "encoder") }?;
        // SAFETY: forwarded from the caller.
        let image = unsafe { frame(pixels, len, width, height, stride, pixel_format, "pixels") }?;
        encoder.produce(|enc| Ok(enc.set_cursor_shape(&image, hotspot_x, hotspot_y)?))
    })
}

/// Moves the cursor hotspot to `x`, `y` (screen pixels, may be outside the screen) and shows
/// (`visible` 1) or hides (`visible` 0) it. Produces a cursor-position packet, or none if nothing
/// changed.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, `GLIMPSE_RESULT_INVALID_ARGUMENT` (`visible` not 0 or 1),
/// `GLIMPSE_RESULT_QUEUE_FULL`, `GLIMPSE_RESULT_BUSY`.
///
/// # Safety
/// `encoder` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_move_cursor(
    encoder: *mut glimpse_encoder,
    x: i32,
    y: i32,
    visible: u32,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let encoder = unsafe { glimpse_encoder::from_ptr(encoder, "encoder") }?;
        let visible = bool_arg(visible, "visible")?;
        encoder.produce(|enc| Ok(enc.move_cursor(x, y, visible)))
    })
}

/// Produces a self-contained checkpoint of the current screen, for a viewer joining now or after a
/// loss (viewers already in step may apply or skip it). Before the first frame there is no screen:
/// nothing is produced and the call returns `GLIMPSE_RESULT_NOT_AVAILABLE`.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, `GLIMPSE_RESULT_NOT_AVAILABLE`,
/// `GLIMPSE_RESULT_QUEUE_FULL`, `GLIMPSE_RESULT_BUSY`.
///
/// # Safety
/// `encoder` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_request_checkpoint(
    encoder: *mut glimpse_encoder,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let encoder = unsafe { glimpse_encoder::from_ptr(encoder, "encoder") }?;
        encoder.engine()?.session().ok_or_else(no_frame_yet)?;
        encoder.produce(|enc| Ok(enc.checkpoint()))
    })
}

/// Takes the oldest queued packet: copies it to `buf` (`cap` bytes) and sets `*out_len` to its
/// length. If it does not fit, returns `GLIMPSE_RESULT_BUFFER_TOO_SMALL`, sets `*out_len` to the size
/// needed and keeps the packet queued (so `buf` NULL with `cap` 0 asks for the size). Optionally sets
/// `*out_kind` (may be NULL) to the packet's `glimpse_packet_kind`.
///
/// Returns `GLIMPSE_RESULT_NO_PACKET` when the queue is empty, `GLIMPSE_RESULT_NULL_PARAMETER`
/// (`encoder` or `out_len` NULL, or `buf` NULL with a non-zero `cap`), `GLIMPSE_RESULT_BUSY`.
///
/// # Safety
/// `encoder` is NULL or a live encoder; `buf` is NULL or points to `cap` writable bytes; `out_len`
/// and `out_kind` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_next_packet(
    encoder: *mut glimpse_encoder,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    out_kind: *mut u32,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let encoder = unsafe { glimpse_encoder::from_ptr(encoder, "encoder") }?;
        // SAFETY: forwarded from the caller.
        let out_len = unsafe { out(out_len, "out_len") }?;
        if buf.is_null() && cap != 0 {
            return Err(Failure::null("buf"));
        }
        let mut state = encoder.state.try_borrow_mut().map_err(|_| busy())?;
        let Some(packet) = state.queue.front() else {
            return Err(Failure::new(glimpse_result::NoPacket, "no packet waiting"));
        };
        let bytes = packet.as_bytes();
        if bytes.len() > cap {
            *out_len = bytes.len();
            return Err(Failure::new(
                glimpse_result::BufferTooSmall,
                format!(
                    "the packet needs {} bytes, the buffer holds {cap}",
                    bytes.len()
                ),
            ));
        }
        // SAFETY: `buf` is non-NULL here (cap >= len > 0, or len == 0 and nothing is copied) and
        // holds `cap >= len` writable bytes by the caller's promise.
        if !bytes.is_empty() {
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len()) };
        }
        *out_len = bytes.len();
        // SAFETY: forwarded from the caller.
        if let Some(kind) = unsafe { out_kind.as_mut() } {
            *kind = kind_number(packet.kind());
        }
        let len = bytes.len();
        state.queue.pop_front();
        state.queued_bytes -= len;
        Ok(())
    })
}

/// Writes the number of queued packets to `*out_count`.
///
/// # Safety
/// `encoder` is NULL or a live encoder; `out_count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_queued_packets(
    encoder: *const glimpse_encoder,
    out_count: *mut usize,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        read_into(encoder, "encoder", out_count, "out_count", |e| {
            Ok(e.state.try_borrow().map_err(|_| busy())?.queue.len())
        })
    }
}

/// Writes the session viewers are in to `*out_session`. `GLIMPSE_RESULT_NOT_AVAILABLE` before the
/// first frame.
///
/// # Safety
/// `encoder` is NULL or a live encoder; `out_session` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_session(
    encoder: *const glimpse_encoder,
    out_session: *mut glimpse_session,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        read_into(encoder, "encoder", out_session, "out_session", |e| {
            let session = e.engine()?.session();
            Ok(session.ok_or_else(no_frame_yet)?.into())
        })
    }
}

/// Counters of what an encoder produced, filled by `glimpse_encoder_get_stats`. Versioned by size
/// like the settings structs: set `struct_size` to `sizeof(glimpse_encoder_stats)` before the call.
/// Later versions only append fields.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct glimpse_encoder_stats {
    /// `sizeof(glimpse_encoder_stats)` as the caller knows it, set by the caller. On success the
    /// library sets it to the number of bytes it filled (the smaller of the caller's size and its own).
    pub struct_size: u32,
    /// Frames pushed (successfully validated).
    pub frames: u64,
    /// Frames that produced no packet (nothing changed).
    pub unchanged_frames: u64,
    /// Checkpoints produced.
    pub checkpoints: u64,
    /// Bytes of all packets produced.
    pub bytes: u64,
    /// Copy operations (scroll/move) emitted.
    pub copies: u64,
    /// Tiles sent as cache references.
    pub cache_hits: u64,
    /// H.264 pictures sent for video regions.
    pub video_pictures: u64,
    /// Bytes of those pictures (included in `bytes`).
    pub video_bytes: u64,
    /// Pixels covered by those pictures (a region's area once per picture).
    pub video_pixels: u64,
    /// Pixels viewers show lossy right now (video regions not yet re-sent losslessly); the total area
    /// of `glimpse_encoder_lossy_rects`.
    pub lossy_pixels: u64,
}

/// The first (smallest) version of the stats struct: up to `cache_hits`.
const STATS_V1_SIZE: usize = offset_of!(glimpse_encoder_stats, video_pictures);

/// Writes the encoder's counters to `*out_stats`: the fields that fit in `out_stats->struct_size`
/// bytes (which must be at least the first version's size); bytes past the fields this library knows
/// are set to zero. Sets `out_stats->struct_size` to the number of bytes filled.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` (`encoder` or `out_stats` NULL),
/// `GLIMPSE_RESULT_SETTINGS_SIZE` (`struct_size` smaller than the first version), `GLIMPSE_RESULT_BUSY`.
/// On failure nothing is written.
///
/// # Safety
/// `encoder` is NULL or a live encoder; `out_stats` is NULL or points to `out_stats->struct_size`
/// writable bytes, aligned for `glimpse_encoder_stats`.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_get_stats(
    encoder: *const glimpse_encoder,
    out_stats: *mut glimpse_encoder_stats,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let encoder = unsafe { glimpse_encoder::from_ptr(encoder, "encoder") }?;
        type S = glimpse_encoder_stats;
        // SAFETY: forwarded from the caller.
        unsafe {
            write_u64_fields(out_stats, STATS_V1_SIZE, "out_stats", || {
                let s = encoder.engine()?.stats();
                Ok([
                    (offset_of!(S, frames), s.frames),
                    (offset_of!(S, unchanged_frames), s.unchanged_frames),
                    (offset_of!(S, checkpoints), s.checkpoints),
                    (offset_of!(S, bytes), s.bytes),
                    (offset_of!(S, copies), s.copies),
                    (offset_of!(S, cache_hits), s.cache_hits),
                    (offset_of!(S, video_pictures), s.video_pictures),
                    (offset_of!(S, video_bytes), s.video_bytes),
                    (offset_of!(S, video_pixels), s.video_pixels),
                    (offset_of!(S, lossy_pixels), s.lossy_pixels),
                ])
            })
        }
    })
}

/// The sharp-text guarantee: after the screen stops changing, every pixel viewers show is exact
/// again within this many pushed frames (`video_settle_frames + 1`, at least 2). Writes it to
/// `*out_frames`. A host that stops pushing frames when nothing changes should push the last frame
/// this many more times (at its capture rate) so viewers end exact.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` (`encoder` or `out_frames` NULL), `GLIMPSE_RESULT_BUSY`.
///
/// # Safety
/// `encoder` is NULL or a live encoder; `out_frames` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_top_off_bound_frames(
    encoder: *const glimpse_encoder,
    out_frames: *mut u32,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        read_into(encoder, "encoder", out_frames, "out_frames", |e| {
            Ok(e.engine()?.top_off_bound_frames())
        })
    }
}

/// Copies the screen rectangles viewers show lossy right now (tiles of video regions not yet re-sent
/// losslessly; none before the first frame or with video off) to `rects` (room for `cap`) and sets
/// `*out_count`. Every pixel outside them is exact. If they do not fit, returns
/// `GLIMPSE_RESULT_BUFFER_TOO_SMALL` and sets `*out_count` to the number needed (so `rects` NULL
/// with `cap` 0 asks for the count).
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` (`encoder` or `out_count` NULL, or `rects` NULL with a
/// non-zero `cap`), `GLIMPSE_RESULT_BUFFER_TOO_SMALL`, `GLIMPSE_RESULT_BUSY`.
///
/// # Safety
/// `encoder` is NULL or a live encoder; `rects` is NULL or points to `cap` writable rectangles;
/// `out_count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_encoder_lossy_rects(
    encoder: *const glimpse_encoder,
    rects: *mut glimpse_rect,
    cap: usize,
    out_count: *mut usize,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        rects_into(encoder, "encoder", rects, cap, out_count, |e, copy| {
            copy(&e.engine()?.lossy_rects())
        })
    }
}
