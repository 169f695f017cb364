//! Quick connect: `glimpse_host`, this screen shared through a relay. The encoder runs on the
//! thread that pushes frames; the network runs on the library's own thread (glimpse-connect's
//! [`connect::Host`]), which reconnects by itself. Events are read with `glimpse_host_next_event`
//! (`host_event.rs`).

use std::ffi::c_char;
use std::mem::offset_of;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use connect::{ControlPolicy, Host, HostConfig};

use crate::boundary::{
    bool_arg, c_str, ffi_call, ffi_void, init_settings, out, read_into, read_settings, write_text,
    write_u64_fields, BoxHandle,
};
use crate::encoder::{encoder_config, glimpse_encoder_settings};
use crate::error::{glimpse_result, Failure};
use crate::types::{frame, frame_and_damage, glimpse_rect};

/// What a host does when a viewer asks for remote control (`glimpse_host_settings.control_policy`).
#[repr(u32)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types, dead_code)]
pub enum glimpse_control_policy {
    /// Ask the program: `GLIMPSE_HOST_EVENT_KIND_CONTROL_REQUESTED`, answered with
    /// `glimpse_host_grant` or `glimpse_host_refuse` (the default).
    Ask = 0,
    /// Grant every request at once.
    AutoGrant = 1,
    /// Refuse every request: viewers only watch.
    ViewOnly = 2,
}

/// Bytes `glimpse_host_key` needs: the code `"123 456 7890"` and its NUL.
pub const GLIMPSE_HOST_KEY_SIZE: usize = 13;

/// Largest `glimpse_host_settings.reconnect_seconds`.
pub const GLIMPSE_MAX_RECONNECT_SECONDS: u32 = 3600;

/// Largest `glimpse_host_settings.connect_timeout_ms`.
pub const GLIMPSE_MAX_CONNECT_TIMEOUT_MS: u32 = 600_000;

/// Settings of a host. Versioned by size like `glimpse_encoder_settings`: fill it with
/// `glimpse_host_settings_init` (defaults, `struct_size` set, every pointer NULL), then set at least
/// `relay_url`. Strings are NUL-terminated UTF-8, read during `glimpse_host_new` only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
pub struct glimpse_host_settings {
    /// `sizeof(glimpse_host_settings)` as the caller knows it. Set by `glimpse_host_settings_init`.
    pub struct_size: u32,
    /// A `glimpse_control_policy` value. Default `GLIMPSE_CONTROL_POLICY_ASK`.
    pub control_policy: u32,
    /// How long to keep reconnecting after the link to the relay dropped, in seconds,
    /// 0..`GLIMPSE_MAX_RECONNECT_SECONDS` (0: the first drop ends the session). Default 30.
    pub reconnect_seconds: u32,
    /// Time limit of one connection attempt in milliseconds, 1..`GLIMPSE_MAX_CONNECT_TIMEOUT_MS`.
    /// Default 10000.
    pub connect_timeout_ms: u32,
    /// Required: the relay, `ws://HOST:PORT`, `wss://HOST[:PORT]`, or its `http(s)://` page URL.
    pub relay_url: *const c_char,
    /// The name viewers see (cut to 64 bytes), or NULL for none.
    pub name: *const c_char,
    /// A PEM file of certificates to trust for `wss://` besides the system's (a private relay's
    /// self-signed certificate, a company CA), or NULL.
    pub ca_cert_path: *const c_char,
    /// The encoder's settings (a `glimpse_encoder_settings` filled by
    /// `glimpse_encoder_settings_init`, versioned by its own `struct_size`), or NULL for the
    /// defaults. Read during `glimpse_host_new` only.
    pub encoder: *const glimpse_encoder_settings,
    /// Non-zero: ask before letting each viewer in (`GLIMPSE_HOST_EVENT_KIND_APPROVAL_NEEDED`, then
    /// `glimpse_host_approve` or `glimpse_host_deny`). Default 0: whoever has the code gets in.
    pub approve_viewers: u32,
}

/// The first (smallest) version of the settings struct.
const SETTINGS_V1_SIZE: usize = size_of::<glimpse_host_settings>();

impl glimpse_host_settings {
    fn defaults() -> Self {
        glimpse_host_settings {
            struct_size: size_of::<Self>() as u32,
            control_policy: glimpse_control_policy::Ask as u32,
            reconnect_seconds: 30,
            connect_timeout_ms: 10_000,
            relay_url: std::ptr::null(),
            name: std::ptr::null(),
            ca_cert_path: std::ptr::null(),
            encoder: std::ptr::null(),
            approve_viewers: 0,
        }
    }

    /// The host's configuration, every field checked.
    ///
    /// # Safety
    /// The string pointers are NULL or NUL-terminated; `encoder` is NULL or points to
    /// `encoder->struct_size` readable bytes.
    unsafe fn to_config(self) -> Result<HostConfig, Failure> {
        // SAFETY: forwarded from the caller.
        let url = unsafe { c_str(self.relay_url, "settings->relay_url") }?
            .ok_or_else(|| Failure::null("settings->relay_url"))?;
        let mut config = HostConfig::new(url);
        // SAFETY: forwarded from the caller.
        config.name = unsafe { c_str(self.name, "settings->name") }?
            .unwrap_or("")
            .to_string();
        // SAFETY: forwarded from the caller.
        config.tls.ca_cert =
            unsafe { c_str(self.ca_cert_path, "settings->ca_cert_path") }?.map(PathBuf::from);
        if !self.encoder.is_null() {
            // SAFETY: forwarded from the caller.
            config.encoder = unsafe { encoder_config(self.encoder, "settings->encoder") }?;
        }
        config.policy = match self.control_policy {
            0 => ControlPolicy::Ask,
            1 => ControlPolicy::AutoGrant,
            2 => ControlPolicy::ViewOnly,
            other => return Err(Failure::invalid(format!("unknown control_policy {other}"))),
        };
        if self.reconnect_seconds > GLIMPSE_MAX_RECONNECT_SECONDS {
            return Err(Failure::invalid(format!(
                "reconnect_seconds is {}, the limit is {GLIMPSE_MAX_RECONNECT_SECONDS}",
                self.reconnect_seconds
            )));
        }
        config.reconnect_for = Duration::from_secs(u64::from(self.reconnect_seconds));
        if self.connect_timeout_ms == 0 || self.connect_timeout_ms > GLIMPSE_MAX_CONNECT_TIMEOUT_MS
        {
            return Err(Failure::invalid(format!(
                "connect_timeout_ms must be 1..{GLIMPSE_MAX_CONNECT_TIMEOUT_MS}, got {}",
                self.connect_timeout_ms
            )));
        }
        config.connect_timeout = Duration::from_millis(u64::from(self.connect_timeout_ms));
        config.approve_viewers = self.approve_viewers != 0;
        Ok(config)
    }
}

/// A screen shared through a relay (opaque). Created by `glimpse_host_new`, freed by
/// `glimpse_host_free`. Unlike the encoder and decoder, a host may be used from several threads at
/// once: each function states its thread rule.
#[allow(non_camel_case_types)]
pub struct glimpse_host {
    pub(crate) host: Host,
    /// `GLIMPSE_HOST_EVENT_KIND_ENDED` was handed out: no event will come any more.
    pub(crate) ended: AtomicBool,
}

impl BoxHandle for glimpse_host {}

/// Every function takes the host by shared reference from any thread: it must be `Send + Sync`.
const _: () = {
    const fn thread_safe<T: Send + Sync>() {}
    thread_safe::<glimpse_host>();
};

/// Fills `settings` with the defaults of this library version and sets `settings->struct_size`;
/// every pointer field is NULL (`relay_url` must be set before `glimpse_host_new`).
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` if `settings` is NULL. Thread-safe.
///
/// # Safety
/// `settings` is NULL or points to a writable `glimpse_host_settings`.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_settings_init(
    settings: *mut glimpse_host_settings,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe { init_settings(settings, glimpse_host_settings::defaults) }
}

/// Starts sharing: connects to the relay, starts a session and returns once the relay gave its key
/// (read it with `glimpse_host_key`). Blocks the calling thread meanwhile: at most
/// `connect_timeout_ms` when the relay cannot be reached (no retry before the first session);
/// longer only when a relay accepts connections but never answers (retried for
/// `reconnect_seconds`). From then on the library's own network thread talks to the relay and
/// reconnects by itself; frames go in with `glimpse_host_push_frame`, events come out of
/// `glimpse_host_next_event`. On success `*out_host` owns the host: free it with
/// `glimpse_host_free`.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` (`settings`, `settings->relay_url` or `out_host` NULL),
/// `GLIMPSE_RESULT_SETTINGS_SIZE`, `GLIMPSE_RESULT_INVALID_ARGUMENT` (a field out of range, a string
/// that is not UTF-8, an invalid `settings->encoder`), `GLIMPSE_RESULT_INVALID_RELAY_URL`,
/// `GLIMPSE_RESULT_TLS` (e.g. an unreadable `ca_cert_path`), `GLIMPSE_RESULT_RELAY_UNREACHABLE`,
/// `GLIMPSE_RESULT_RELAY_FULL`, `GLIMPSE_RESULT_PROTOCOL_ERROR`, `GLIMPSE_RESULT_CONNECTION_LOST`;
/// `glimpse_last_error()` says why. On failure `*out_host` is untouched and no thread is left
/// running. Thread-safe.
///
/// # Safety
/// `settings` is NULL or points to `settings->struct_size` readable bytes whose pointer fields are
/// NULL or valid as documented in `glimpse_host_settings`; `out_host` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_new(
    settings: *const glimpse_host_settings,
    out_host: *mut *mut glimpse_host,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let settings = unsafe {
            read_settings(
                settings,
                glimpse_host_settings::defaults(),
                SETTINGS_V1_SIZE,
                "settings",
            )
        }?;
        // SAFETY: forwarded from the caller (the pointer fields came with `settings`).
        let config = unsafe { settings.to_config() }?;
        // SAFETY: forwarded from the caller.
        let out_host = unsafe { out(out_host, "out_host") }?;
        let host = Host::connect(config)?;
        *out_host = glimpse_host::into_raw(glimpse_host {
            host,
            ended: AtomicBool::new(false),
        });
        Ok(())
    })
}

/// Ends the session for every viewer (the relay is told, within 2 s), stops the network thread and
/// waits for it, then frees the host. NULL is ignored. Blocks until the thread is gone: usually at
/// once; while a reconnection attempt is under way, until it ends (at most `connect_timeout_ms`).
///
/// Must not race any other call on this host: no call on it may be running (on any thread, e.g. a
/// `glimpse_host_next_event` waiting) or made afterwards.
///
/// # Safety
/// `host` is NULL or came from `glimpse_host_new` and was not freed; it is not used again.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_free(host: *mut glimpse_host) {
    // SAFETY: forwarded from the caller.
    ffi_void(|| unsafe { glimpse_host::free(host) })
}

/// Copies the code viewers type, `"123 456 7890"`, NUL-terminated, to `buf` (`cap` bytes;
/// `GLIMPSE_HOST_KEY_SIZE` is enough) and sets `*out_len` to its length without the NUL. The code
/// stays the same across reconnections; it changes only when it is burned after three wrong
/// attempts (`GLIMPSE_HOST_EVENT_KIND_CODE_REPLACED` gives the new one). The last five digits never
/// reach the relay: they key the end-to-end encryption.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` (`host` or `out_len` NULL, or `buf` NULL with a non-zero
/// `cap`), `GLIMPSE_RESULT_BUFFER_TOO_SMALL` (then `*out_len` is the size needed, NUL included, and
/// `buf` is untouched). Thread-safe.
///
/// # Safety
/// `host` is NULL or a live host; `buf` is NULL or points to `cap` writable bytes; `out_len` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_key(
    host: *const glimpse_host,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let host = unsafe { glimpse_host::from_ptr(host, "host") }?;
        // SAFETY: forwarded from the caller.
        unsafe { write_text(&host.host.code().to_string(), buf, cap, out_len) }
    })
}

/// Copies the link viewers open (the relay's page with the code in the URL fragment, which browsers
/// never send to a server, e.g. `http://relay:8080/#code=1234567890`), NUL-terminated, like
/// `glimpse_host_key` does the code.
///
/// Returns the codes of `glimpse_host_key`. Thread-safe.
///
/// # Safety
/// As for `glimpse_host_key`.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_join_link(
    host: *const glimpse_host,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let host = unsafe { glimpse_host::from_ptr(host, "host") }?;
        // SAFETY: forwarded from the caller.
        unsafe { write_text(&host.host.join_link(), buf, cap, out_len) }
    })
}

/// Encodes one captured frame on the calling thread and hands its packet to the network thread
/// (never blocks on the network). Arguments as for `glimpse_encoder_push_frame`: `height` rows of
/// `width` pixels, `stride` bytes apart, in `pixel_format`, in `len` bytes read during the call only;
/// `damage`/`damage_count` the capture API's damage rectangles (NULL and 0: compare the whole
/// frame). While the link is down frames are still encoded; viewers restart from a checkpoint when
/// it is back. When the network does not keep up, packets are dropped (`glimpse_host_stats`) and
/// the stream restarts from a checkpoint.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, `GLIMPSE_RESULT_INVALID_DIMENSIONS`,
/// `GLIMPSE_RESULT_INVALID_STRIDE`, `GLIMPSE_RESULT_FRAME_DATA_TOO_SHORT`,
/// `GLIMPSE_RESULT_UNKNOWN_PIXEL_FORMAT`, `GLIMPSE_RESULT_INVALID_RECT` (a damage rectangle),
/// `GLIMPSE_RESULT_INVALID_ARGUMENT`; on failure nothing was encoded.
///
/// Thread-safe, but frames are encoded in the order the calls take the encoder: push from one
/// thread at a time (it may change).
///
/// # Safety
/// `host` is NULL or a live host; `pixels` is NULL or points to `len` readable bytes; `damage` is
/// NULL or points to `damage_count` readable rectangles.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn glimpse_host_push_frame(
    host: *const glimpse_host,
    pixels: *const u8,
    len: usize,
    width: u32,
    height: u32,
    stride: usize,
    pixel_format: u32,
    damage: *const glimpse_rect,
    damage_count: usize,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let host = unsafe { glimpse_host::from_ptr(host, "host") }?;
        // SAFETY: forwarded from the caller.
        let (frame, damage) = unsafe {
            frame_and_damage(
                pixels,
                len,
                width,
                height,
                stride,
                pixel_format,
                damage,
                damage_count,
                "damage",
            )
        }?;
        let hints = (!damage.is_empty()).then_some(damage.as_slice());
        Ok(host.host.push_frame(&frame, hints)?)
    })
}

/// Sets the cursor image viewers draw (`width`, `height` 1..256, any stride, a
/// `glimpse_pixel_format`, straight alpha) and its hotspot (inside the image), as
/// `glimpse_encoder_set_cursor_shape` does.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, the frame errors of `glimpse_host_push_frame`,
/// `GLIMPSE_RESULT_LIMIT_EXCEEDED` (image above 256x256), `GLIMPSE_RESULT_INVALID_RECT` (hotspot
/// outside the image). Thread-safe.
///
/// # Safety
/// `host` is NULL or a live host; `pixels` is NULL or points to `len` readable bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn glimpse_host_set_cursor_shape(
    host: *const glimpse_host,
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
        let host = unsafe { glimpse_host::from_ptr(host, "host") }?;
        // SAFETY: forwarded from the caller.
        let image = unsafe { frame(pixels, len, width, height, stride, pixel_format, "pixels") }?;
        Ok(host.host.set_cursor_shape(&image, hotspot_x, hotspot_y)?)
    })
}

/// Moves the cursor hotspot to `x`, `y` (screen pixels, may be outside the screen) and shows
/// (`visible` 1) or hides (`visible` 0) it.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, `GLIMPSE_RESULT_INVALID_ARGUMENT` (`visible` not 0 or
/// 1). Thread-safe.
///
/// # Safety
/// `host` is NULL or a live host.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_move_cursor(
    host: *const glimpse_host,
    x: i32,
    y: i32,
    visible: u32,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let host = unsafe { glimpse_host::from_ptr(host, "host") }?;
        let visible = bool_arg(visible, "visible")?;
        Ok(host.host.move_cursor(x, y, visible)?)
    })
}

/// The sharp-text guarantee, as `glimpse_encoder_top_off_bound_frames`: after the screen stops
/// changing, every pixel viewers show is exact again within this many pushed frames. A capture loop
/// that stops pushing when nothing changes should push the last frame this many more times. Writes
/// it to `*out_frames`.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`. Thread-safe.
///
/// # Safety
/// `host` is NULL or a live host; `out_frames` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_top_off_bound_frames(
    host: *const glimpse_host,
    out_frames: *mut u32,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        read_into(host, "host", out_frames, "out_frames", |h| {
            Ok(h.host.with_encoder(|e| e.top_off_bound_frames()))
        })
    }
}

/// Runs one control decision on the network thread.
///
/// # Safety
/// `host` is NULL or a live host.
unsafe fn command(
    host: *const glimpse_host,
    f: impl FnOnce(&Host) -> Result<(), connect::ConnectError>,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let host = unsafe { glimpse_host::from_ptr(host, "host") }?;
        Ok(f(&host.host)?)
    })
}

/// Gives remote control to `viewer` (the id of its `GLIMPSE_HOST_EVENT_KIND_VIEWER_JOINED` or
/// `GLIMPSE_HOST_EVENT_KIND_CONTROL_REQUESTED` event); a viewer holding it loses it. Asynchronous:
/// the network thread applies it and `GLIMPSE_HOST_EVENT_KIND_CONTROL_GRANTED` follows; a viewer
/// that is not connected is ignored (no event). While the link is down the decision is dropped.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, `GLIMPSE_RESULT_CLOSED` (the session is over).
/// Thread-safe.
///
/// # Safety
/// `host` is NULL or a live host.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_grant(
    host: *const glimpse_host,
    viewer: u64,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe { command(host, |h| h.grant(viewer)) }
}

/// Refuses `viewer`'s request for remote control, or takes control from it
/// (`GLIMPSE_HOST_EVENT_KIND_CONTROL_REFUSED` follows). Asynchronous, like `glimpse_host_grant`.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, `GLIMPSE_RESULT_CLOSED`. Thread-safe.
///
/// # Safety
/// `host` is NULL or a live host.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_refuse(
    host: *const glimpse_host,
    viewer: u64,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe { command(host, |h| h.refuse(viewer)) }
}

/// Takes remote control back from whoever holds it (`GLIMPSE_HOST_EVENT_KIND_CONTROL_REVOKED`
/// follows when someone did). Asynchronous, like `glimpse_host_grant`.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, `GLIMPSE_RESULT_CLOSED`. Thread-safe.
///
/// # Safety
/// `host` is NULL or a live host.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_revoke(host: *const glimpse_host) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe { command(host, Host::revoke) }
}

/// Disconnects `viewer` from the session (it cannot come back with its resume token; it may join
/// again with the code) and changes the session's content key, so it cannot read what follows. `GLIMPSE_HOST_EVENT_KIND_VIEWER_LEFT` follows. Asynchronous, like
/// `glimpse_host_grant`.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, `GLIMPSE_RESULT_CLOSED`. Thread-safe.
///
/// # Safety
/// `host` is NULL or a live host.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_remove(
    host: *const glimpse_host,
    viewer: u64,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe { command(host, |h| h.remove(viewer)) }
}

/// Lets in a viewer waiting for approval (`GLIMPSE_HOST_EVENT_KIND_APPROVAL_NEEDED`, with
/// `approve_viewers` set); `GLIMPSE_HOST_EVENT_KIND_VIEWER_JOINED` follows. Asynchronous, like
/// `glimpse_host_grant`.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, `GLIMPSE_RESULT_CLOSED`. Thread-safe.
///
/// # Safety
/// `host` is NULL or a live host.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_approve(
    host: *const glimpse_host,
    viewer: u64,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe { command(host, |h| h.approve(viewer)) }
}

/// Turns away a viewer waiting for approval (it is told the host did not let it in).
/// Asynchronous, like `glimpse_host_grant`.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, `GLIMPSE_RESULT_CLOSED`. Thread-safe.
///
/// # Safety
/// `host` is NULL or a live host.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_deny(
    host: *const glimpse_host,
    viewer: u64,
) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe { command(host, |h| h.deny(viewer)) }
}

/// Tells the host that the person at this machine used mouse or keyboard: a viewer holding remote
/// control loses it at once (`GLIMPSE_HOST_EVENT_KIND_CONTROL_REVOKED`). Call it from the local
/// input hook; cheap when nobody holds control. Asynchronous, like `glimpse_host_grant`.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER`, `GLIMPSE_RESULT_CLOSED`. Thread-safe.
///
/// # Safety
/// `host` is NULL or a live host.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_local_input(host: *const glimpse_host) -> glimpse_result {
    // SAFETY: forwarded from the caller.
    unsafe { command(host, Host::local_input) }
}

/// Counters of a host, filled by `glimpse_host_get_stats`. Versioned by size like
/// `glimpse_encoder_stats`: set `struct_size` to `sizeof(glimpse_host_stats)` before the call.
/// Later versions only append fields.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct glimpse_host_stats {
    /// `sizeof(glimpse_host_stats)` as the caller knows it, set by the caller. On success the library
    /// sets it to the number of bytes it filled (the smaller of the caller's size and its own).
    pub struct_size: u32,
    /// Frames pushed (successfully encoded).
    pub frames: u64,
    /// Packets made (updates, checkpoints, cursor).
    pub packets: u64,
    /// Bytes of those packets.
    pub packet_bytes: u64,
    /// Checkpoints made (the first frame, viewers joining, restarts after a drop).
    pub checkpoints: u64,
    /// Bytes sent to the relay (messages and their headers).
    pub sent_bytes: u64,
    /// Packets dropped because the network did not keep up.
    pub dropped_packets: u64,
    /// CPU time spent encoding, in nanoseconds (the pushing threads' CPU clock).
    pub encode_cpu_ns: u64,
    /// Times the link to the relay was re-established.
    pub reconnects: u64,
    /// Events dropped because the program did not read them (input first).
    pub dropped_events: u64,
}

/// Writes the host's counters to `*out_stats`: the fields that fit in `out_stats->struct_size`
/// bytes (at least the first version's size); bytes past the fields this library knows are set to
/// zero; `out_stats->struct_size` is set to the number of bytes filled.
///
/// Returns `GLIMPSE_RESULT_NULL_PARAMETER` (`host` or `out_stats` NULL),
/// `GLIMPSE_RESULT_SETTINGS_SIZE` (`struct_size` too small), `GLIMPSE_RESULT_INVALID_ARGUMENT`
/// (`out_stats` misaligned). On failure nothing is written. Thread-safe.
///
/// # Safety
/// `host` is NULL or a live host; `out_stats` is NULL or points to `out_stats->struct_size` writable
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn glimpse_host_get_stats(
    host: *const glimpse_host,
    out_stats: *mut glimpse_host_stats,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let host = unsafe { glimpse_host::from_ptr(host, "host") }?;
        type S = glimpse_host_stats;
        // SAFETY: forwarded from the caller.
        unsafe {
            write_u64_fields(out_stats, size_of::<S>(), "out_stats", || {
                let s = host.host.stats();
                Ok([
                    (offset_of!(S, frames), s.frames),
                    (offset_of!(S, packets), s.packets),
                    (offset_of!(S, packet_bytes), s.packet_bytes),
                    (offset_of!(S, checkpoints), s.checkpoints),
                    (offset_of!(S, sent_bytes), s.sent_bytes),
                    (offset_of!(S, dropped_packets), s.dropped_packets),
                    (offset_of!(S, encode_cpu_ns), s.encode_cpu_ns),
                    (offset_of!(S, reconnects), s.reconnects),
                    (offset_of!(S, dropped_events), s.dropped_events),
                ])
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    fn settings(url: &CString) -> glimpse_host_settings {
        let mut s = glimpse_host_settings::defaults();
        s.relay_url = url.as_ptr();
        s
    }

    #[test]
    fn settings_are_checked() {
        let url = CString::new("ws://127.0.0.1:9").unwrap();
        let ok = unsafe { settings(&url).to_config() }.unwrap();
        assert_eq!(ok.relay_url, "ws://127.0.0.1:9");
        assert_eq!(ok.policy, ControlPolicy::Ask);
        assert_eq!(ok.connect_timeout, Duration::from_secs(10));
        let code = |s: glimpse_host_settings| unsafe { s.to_config() }.unwrap_err().code;
        assert_eq!(
            code(glimpse_host_settings::defaults()),
            glimpse_result::NullParameter
        );
        let mut s = settings(&url);
        s.control_policy = 3;
        assert_eq!(code(s), glimpse_result::InvalidArgument);
        let mut s = settings(&url);
        s.connect_timeout_ms = 0;
        assert_eq!(code(s), glimpse_result::InvalidArgument);
        let mut s = settings(&url);
        s.reconnect_seconds = GLIMPSE_MAX_RECONNECT_SECONDS + 1;
        assert_eq!(code(s), glimpse_result::InvalidArgument);
        let bad = [0xffu8, 0];
        let mut s = settings(&url);
        s.name = bad.as_ptr().cast();
        assert_eq!(code(s), glimpse_result::InvalidArgument);
    }

    #[test]
    fn bad_urls_fail_before_any_thread() {
        let url = CString::new("ftp://x").unwrap();
        let mut host = std::ptr::null_mut();
        let r = unsafe { glimpse_host_new(&settings(&url), &mut host) };
        assert_eq!(r, glimpse_result::InvalidRelayUrl);
        assert!(host.is_null());
    }
}
