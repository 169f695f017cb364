//! Reading a linear DMA-BUF with the CPU: `mmap` plus the kernel's `DMA_BUF_IOCTL_SYNC` bracket.
//!
//! Only linear buffers (modifier `DRM_FORMAT_MOD_LINEAR`) have rows a CPU can read as they lie;
//! the stream offers DMA-BUF with that modifier only. PipeWire maps memfd buffers itself
//! (`MAP_BUFFERS`) but not DMA-BUFs that the producer did not flag as mappable, hence this.

use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;

/// `struct dma_buf_sync` of `<linux/dma-buf.h>`.
#[repr(C)]
struct DmaBufSync {
    flags: u64,
}

const DMA_BUF_SYNC_READ: u64 = 1;
const DMA_BUF_SYNC_START: u64 = 0;
const DMA_BUF_SYNC_END: u64 = 1 << 2;
/// `_IOW('b', 0, struct dma_buf_sync)`.
const DMA_BUF_IOCTL_SYNC: libc::c_ulong = 0x4008_6200;

/// A read-only mapping of a DMA-BUF, inside a CPU-access bracket until dropped.
pub(crate) struct DmaBufMapping {
    ptr: NonNull<u8>,
    len: usize,
    fd: RawFd,
}

impl DmaBufMapping {
    /// Maps the first `len` bytes of the DMA-BUF `fd` for reading and starts CPU access.
    pub fn map(fd: RawFd, len: usize) -> io::Result<Self> {
        if fd < 0 || len == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: a fresh shared read-only mapping chosen by the kernel; it aliases no Rust memory.
        // `fd` is a DMA-BUF descriptor owned by the PipeWire buffer, open while the buffer is
        // dequeued, which outlives this mapping (it is dropped before the buffer is requeued).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        let mapping = DmaBufMapping { ptr, len, fd };
        mapping.sync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ)?;
        Ok(mapping)
    }

    fn sync(&self, flags: u64) -> io::Result<()> {
        let sync = DmaBufSync { flags };
        // SAFETY: DMA_BUF_IOCTL_SYNC reads one `struct dma_buf_sync` from the pointer, which is a
        // valid, initialised `#[repr(C)]` value that lives across the call.
        let r = unsafe { libc::ioctl(self.fd, DMA_BUF_IOCTL_SYNC, &sync as *const DmaBufSync) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` points to `len` readable bytes mapped in `map` and unmapped only in drop;
        // the returned slice borrows `self`, so it cannot outlive the mapping. The producer does
        // not write the buffer while we hold it dequeued (PipeWire's buffer ownership rule).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for DmaBufMapping {
    fn drop(&mut self) {
        let _ = self.sync(DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
        // SAFETY: unmaps exactly the region mapped in `map`; no slice of it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}
