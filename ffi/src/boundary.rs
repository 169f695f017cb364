//! The one way in and out of Rust: the panic boundary, the ownership rule of handles, and the
//! checked conversions of C pointers into references and slices.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{glimpse_result, set_last_error, Failure};

/// Runs the body of an export: a panic becomes `GLIMPSE_RESULT_PANIC`, a failure sets the thread's
/// last-error detail and returns its code. Every export that returns a result goes through here.
pub(crate) fn ffi_call(body: impl FnOnce() -> Result<(), Failure>) -> glimpse_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => glimpse_result::Ok,
        Ok(Err(failure)) => {
            set_last_error(&failure.detail);
            failure.code
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".into());
            set_last_error(&format!("panic inside Glimpse: {what}"));
            glimpse_result::Panic
        }
    }
}

/// Like [`ffi_call`] for exports without a result (the `_free` functions): a panic is swallowed.
pub(crate) fn ffi_void(body: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(body)).is_err() {
        set_last_error("panic inside Glimpse while freeing");
    }
}

/// The ownership rule of opaque handles: created by `Box`, handed to C as a raw pointer, borrowed
/// shared (`&Self`) by every call, and dropped exactly once by the matching `_free`. Handles keep
/// their mutable state in `RefCell`s, so a call made from inside a callback never aliases a `&mut`.
pub(crate) trait BoxHandle: Sized {
    /// Moves `value` to the heap and gives C the pointer.
    fn into_raw(value: Self) -> *mut Self {
        Box::into_raw(Box::new(value))
    }

    /// Borrows the handle behind a C pointer; NULL is a failure naming the argument.
    ///
    /// # Safety
    /// `ptr` is NULL or came from [`BoxHandle::into_raw`] and was not freed.
    unsafe fn from_ptr<'a>(ptr: *const Self, name: &str) -> Result<&'a Self, Failure> {
        // SAFETY: by the contract above a non-NULL pointer is a live handle.
        unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(name))
    }

    /// Drops the handle behind a C pointer; NULL is ignored.
    ///
    /// # Safety
    /// `ptr` is NULL or came from [`BoxHandle::into_raw`] and was not freed; it is not used again.
    unsafe fn free(ptr: *mut Self) {
        if !ptr.is_null() {
            // SAFETY: by the contract above we own the allocation from here on.
            drop(unsafe { Box::from_raw(ptr) });
        }
    }
}

/// A C input buffer `(ptr, len)` as a slice. NULL with `len == 0` is the empty slice.
///
/// # Safety
/// A non-NULL `ptr` points to `len` readable, initialised items that stay valid and unmodified
/// for the call.
pub(crate) unsafe fn slice<'a, T>(
    ptr: *const T,
    len: usize,
    name: &str,
) -> Result<&'a [T], Failure> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Failure::null(name))
        };
    }
    if len
        .checked_mul(size_of::<T>())
        .is_none_or(|bytes| bytes > isize::MAX as usize)
    {
        return Err(Failure::invalid(format!(
            "{name}: length {len} is too large to address"
        )));
    }
    // SAFETY: non-NULL, size checked against isize::MAX, validity promised by the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A C output pointer as a `&mut`; NULL is a failure naming the argument.
///
/// # Safety
/// A non-NULL `ptr` points to writable memory for one `T`.
pub(crate) unsafe fn out<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: validity promised by the caller.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::null(name))
}

/// The whole body of an export that reads one value from a handle into `*out_value`: the panic
/// boundary, then `handle` (NULL fails naming `handle_name`), then `out_value` (NULL fails naming
/// `out_name`), then `read`; `*out_value` is written only when `read` succeeds.
///
/// # Safety
/// `handle` is NULL or a live handle; `out_value` is NULL or writable.
pub(crate) unsafe fn read_into<H: BoxHandle, T>(
    handle: *const H,
    handle_name: &str,
    out_value: *mut T,
    out_name: &str,
    read: impl FnOnce(&H) -> Result<T, Failure>,
) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let handle = unsafe { H::from_ptr(handle, handle_name) }?;
        // SAFETY: forwarded from the caller.
        let out_value = unsafe { out(out_value, out_name) }?;
        *out_value = read(handle)?;
        Ok(())
    })
}

/// The whole body of a `_settings_init` export: fills `*settings` with `defaults()` (NULL is
/// `GLIMPSE_RESULT_NULL_PARAMETER`).
///
/// # Safety
/// `settings` is NULL or writable.
pub(crate) unsafe fn init_settings<T>(settings: *mut T, defaults: fn() -> T) -> glimpse_result {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        *unsafe { out(settings, "settings") }? = defaults();
        Ok(())
    })
}

/// A C bool (`uint32_t` 0 or 1), validated.
pub(crate) fn bool_arg(value: u32, name: &str) -> Result<bool, Failure> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(Failure::invalid(format!(
            "{name} must be 0 or 1, got {other}"
        ))),
    }
}

/// Reads a versioned settings struct: its first field is `uint32_t struct_size`. Fields beyond the
/// caller's `struct_size` keep their defaults (an older caller); bytes beyond the ones this library
/// knows must be zero (a newer caller asking for nothing new).
///
/// # Safety
/// A non-NULL `ptr` points to at least `struct_size` readable bytes (its first 4 bytes being the
/// `struct_size` field), suitably aligned for `T`.
pub(crate) unsafe fn read_settings<T: Copy>(
    ptr: *const T,
    defaults: T,
    min_size: usize,
    name: &str,
) -> Result<T, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: every settings struct starts with a u32 `struct_size`; the pointer is aligned for T.
    let size = unsafe { ptr.cast::<u32>().read() } as usize;
    let known = size_of::<T>();
    if size < min_size {
        return Err(Failure::new(
            glimpse_result::SettingsSize,
            format!("{name}->struct_size is {size}, the smallest version is {min_size} bytes"),
        ));
    }
    let bytes = ptr.cast::<u8>();
    if size > known {
        // SAFETY: the caller promises `size` readable bytes.
        let extra = unsafe { std::slice::from_raw_parts(bytes.add(known), size - known) };
        if extra.iter().any(|b| *b != 0) {
            return Err(Failure::new(
                glimpse_result::SettingsSize,
                format!("{name}->struct_size is {size}: fields past byte {known} are newer than this library and not zero"),
            ));
        }
    }
    let mut value = defaults;
    let take = size.min(known);
    // SAFETY: `take` bytes are readable from the caller's struct and writable in `value`; all fields
    // are plain integers, so any bytes form a valid value (validated field by field afterwards).
    unsafe { std::ptr::copy_nonoverlapping(bytes, (&mut value as *mut T).cast::<u8>(), take) };
    Ok(value)
}

/// An optional C string (NUL-terminated UTF-8) as a `&str`; NULL is `None`.
///
/// # Safety
/// A non-NULL `ptr` points to a NUL-terminated string that stays valid and unmodified for the call.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's promise.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str()
        .map(Some)
        .map_err(|e| Failure::invalid(format!("{name} is not UTF-8: {e}")))
}

/// The output half of the text protocol (`buf`, `cap`, `out_len`): copies `text` and a NUL when
/// they fit and sets `*out_len` to the text's length (without the NUL); else fails with
/// `GLIMPSE_RESULT_BUFFER_TOO_SMALL` and sets `*out_len` to the size needed, NUL included.
///
/// # Safety
/// `buf` is NULL or points to `cap` writable bytes; `out_len` is NULL or writable.
pub(crate) unsafe fn write_text(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> Result<(), Failure> {
    // SAFETY: forwarded from the caller.
    let out_len = unsafe { out(out_len, "out_len") }?;
    if buf.is_null() && cap != 0 {
        return Err(Failure::null("buf"));
    }
    let needed = text.len() + 1;
    if needed > cap {
        *out_len = needed;
        return Err(Failure::new(
            glimpse_result::BufferTooSmall,
            format!("the text needs {needed} bytes with its NUL, the buffer holds {cap}"),
        ));
    }
    // SAFETY: `buf` is non-NULL (cap >= needed > 0) with `cap >= needed` writable bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        buf.add(text.len()).write(0);
    }
    *out_len = text.len();
    Ok(())
}

/// Writes a versioned output struct without padding (first field `uint32_t struct_size`, set by the
/// caller to the size it knows): the first `min(struct_size, sizeof(T))` bytes of `value`, zero in the bytes past
/// the ones this library knows, and `struct_size` set to the number of bytes filled. Fails, writing
/// nothing, for NULL, a misaligned pointer or a `struct_size` below `min_size`. `value` makes the
/// struct after those checks and before anything is written (so a call whose output is unusable
/// fails before it takes anything, e.g. an event off a queue).
///
/// # Safety
/// A non-NULL, aligned `ptr` points to at least `struct_size` writable bytes (its first 4 bytes
/// being the `struct_size` field).
pub(crate) unsafe fn write_versioned<T: Copy>(
    ptr: *mut T,
    min_size: usize,
    name: &str,
    value: impl FnOnce() -> Result<T, Failure>,
) -> Result<(), Failure> {
    // SAFETY: forwarded from the caller.
    let size = unsafe { versioned_size(ptr, min_size, name) }?;
    let value = value()?;
    let known = size_of::<T>();
    let take = size.min(known);
    let base = ptr.cast::<u8>();
    // SAFETY: `take` bytes are readable from `value` and writable in the caller's `size` bytes;
    // bytes `known..size` are inside them too.
    unsafe {
        std::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), base, take);
        if size > known {
            base.add(known).write_bytes(0, size - known);
        }
        ptr.cast::<u32>().write(take as u32);
    }
    Ok(())
}

/// Writes a versioned counters struct (a `uint32_t struct_size` set by the caller, then `uint64_t`
/// fields): each field of `fields` (offset, value) that fits in `struct_size` bytes, zero in the
/// bytes past the ones this library knows, and `struct_size` set to the bytes filled. Fails,
/// writing nothing, like [`write_versioned`] (`fields` runs after the pointer checks).
///
/// # Safety
/// A non-NULL, aligned `ptr` points to at least `struct_size` writable bytes; every offset of
/// `fields` is that of a `u64` field of `T`.
pub(crate) unsafe fn write_u64_fields<T, const N: usize>(
    ptr: *mut T,
    min_size: usize,
    name: &str,
    fields: impl FnOnce() -> Result<[(usize, u64); N], Failure>,
) -> Result<(), Failure> {
    // SAFETY: forwarded from the caller.
    let size = unsafe { versioned_size(ptr, min_size, name) }?;
    let known = size_of::<T>();
    let base = ptr.cast::<u8>();
    let mut filled = 0;
    let fields = fields()?;
    for (offset, value) in fields {
        if offset + size_of::<u64>() <= size {
            // SAFETY: inside the caller's `size` writable bytes; the field is aligned (the pointer
            // is aligned for the struct).
            unsafe { base.add(offset).cast::<u64>().write(value) };
            filled = filled.max(offset + size_of::<u64>());
        }
    }
    if size > known {
        // SAFETY: bytes known..size are inside the caller's `size` writable bytes.
        unsafe { base.add(known).write_bytes(0, size - known) };
    }
    // SAFETY: as above; `filled` <= size <= u32::MAX.
    unsafe { ptr.cast::<u32>().write(filled as u32) };
    Ok(())
}

/// Checks a versioned output pointer and reads its `struct_size` (at least `min_size`).
///
/// # Safety
/// A non-NULL, aligned `ptr` points to at least 4 readable bytes.
unsafe fn versioned_size<T>(ptr: *mut T, min_size: usize, name: &str) -> Result<usize, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    if !ptr.is_aligned() {
        return Err(Failure::invalid(format!(
            "{name} is not aligned for its type"
        )));
    }
    // SAFETY: non-NULL and aligned; the caller promises at least the 4 bytes of `struct_size`.
    let size = unsafe { ptr.cast::<u32>().read() } as usize;
    if size < min_size {
        return Err(Failure::new(
            glimpse_result::SettingsSize,
            format!("{name}->struct_size is {size}, the smallest version is {min_size} bytes"),
        ));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_code_and_a_detail() {
        let code = ffi_call(|| panic!("boom {}", 42));
        assert_eq!(code, glimpse_result::Panic);
        // SAFETY: the last error is a valid NUL-terminated string.
        let detail = unsafe { std::ffi::CStr::from_ptr(crate::error::last_error_ptr()) };
        assert!(detail.to_str().unwrap().contains("boom 42"));
        ffi_void(|| panic!("in free"));
    }

    #[test]
    fn settings_sizes() {
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[repr(C)]
        struct S {
            size: u32,
            a: u32,
            b: u32,
        }
        let defaults = S {
            size: 12,
            a: 1,
            b: 2,
        };
        let old = S {
            size: 8,
            a: 5,
            b: 9,
        }; // an older caller: `b` keeps its default
        assert_eq!(
            unsafe { read_settings(&old, defaults, 8, "s") }.unwrap(),
            S {
                size: 8,
                a: 5,
                b: 2
            }
        );
        let tiny = S {
            size: 4,
            a: 5,
            b: 9,
        };
        assert_eq!(
            unsafe { read_settings(&tiny, defaults, 8, "s") }
                .unwrap_err()
                .code,
            glimpse_result::SettingsSize
        );
        assert_eq!(
            unsafe { read_settings(std::ptr::null(), defaults, 8, "s") }
                .unwrap_err()
                .code,
            glimpse_result::NullParameter
        );
    }
}
