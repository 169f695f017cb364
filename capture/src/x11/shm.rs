//! The crate's only unsafe code: a memfd-backed shared-memory buffer for MIT-SHM `GetImage`.
//!
//! The buffer is an anonymous memory file (`memfd_create`) mapped read/write into this process; a
//! duplicate of its descriptor is handed to the X server (`ShmAttachFd`), which maps the same pages
//! and writes the screen image into them when asked (`ShmGetImage`).
//!
//! Aliasing: the server writes into the pages only while a `ShmGetImage` request is being served.
//! [`X11Source`](super::X11Source) waits for that request's reply before it reads, and hands out
//! slices only through `&mut self`-borrowing frames, so no Rust slice is alive while a write that it
//! could observe is pending.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

/// A `len`-byte read/write shared mapping of a memory file.
pub(crate) struct ShmBuffer {
    ptr: NonNull<u8>,
    len: usize,
    fd: OwnedFd,
}

// SAFETY: the mapping is plain memory owned by this value; nothing in it is tied to a thread.
unsafe impl Send for ShmBuffer {}

impl ShmBuffer {
    /// Creates and maps a zero-filled memory file of `len` bytes (`len` > 0).
    pub(crate) fn new(len: usize) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "empty shm buffer",
            ));
        }
        let size = libc::off_t::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "shm buffer too large"))?;
        // SAFETY: the name is a valid NUL-terminated string and the flags are valid for memfd_create.
        let raw = unsafe { libc::memfd_create(c"glimpse-capture".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor memfd_create just returned; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: `fd` is a valid open memory file; ftruncate only sets its size.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), size) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh shared mapping of a valid descriptor, `len` bytes that the file now holds;
        // the kernel picks the address, so it overlaps nothing of ours.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        Ok(ShmBuffer { ptr, len, fd })
    }

    /// A new descriptor for the same memory file, to send to the X server.
    pub(crate) fn share_fd(&self) -> io::Result<OwnedFd> {
        self.fd.try_clone()
    }

    /// The mapped bytes, mutable (to set alpha after the server wrote them).
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` points to `len` mapped, initialised (zero-filled or server-written) bytes
        // that live as long as `self`; `&mut self` makes this the only Rust reference, and the
        // server writes only during a ShmGetImage we have already waited for (module docs).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for ShmBuffer {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping made in `new`, unmapped only here; no slice
        // borrowed from `self` can outlive it. The descriptor is closed by `OwnedFd` afterwards.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ShmBuffer;

    #[test]
    fn maps_zeroed_writable_memory() {
        let mut buf = ShmBuffer::new(4096 * 3 + 5).unwrap();
        assert_eq!(buf.as_mut_slice().len(), 4096 * 3 + 5);
        assert!(buf.as_mut_slice().iter().all(|&b| b == 0));
        buf.as_mut_slice()[4096 * 3 + 4] = 7;
        assert_eq!(buf.as_mut_slice()[4096 * 3 + 4], 7);
        let _fd = buf.share_fd().unwrap();
        assert!(ShmBuffer::new(0).is_err());
    }
}
