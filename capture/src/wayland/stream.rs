//! Frames from the portal's PipeWire node, on a thread of their own.
//!
//! The thread runs a PipeWire main loop on the connection the portal opened
//! (`OpenPipeWireRemote`), negotiates 32-bit BGRx/BGRA/RGBx/RGBA frames (shared memory, or linear
//! DMA-BUF), and copies each new frame into a [`FrameBuffer`] with the damage and cursor metadata
//! that came with it. The capturing thread takes the newest frame when it wants one; the PipeWire
//! buffer goes back to the compositor at once.

use super::dmabuf::DmaBufMapping;
use super::frame::{
    copy_rect, cursor_pixels, damage_rect, merge_damage, update_reference, FrameBuffer, Layout,
    SharedStream,
};
use super::params::{buffer_pods, format_pod, pod};
use crate::{CaptureError, CursorShape};
use glimpse::Rect;
use pipewire as pw;
use pw::spa;
use spa::buffer::meta::{MetaCursor, MetaHeader, MetaVideoCrop, MetaVideoDamage};
use spa::buffer::DataType;
use spa::param::video::{VideoFormat, VideoInfoRaw};
use spa::pod::Pod;
use std::os::fd::OwnedFd;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the thread may take to connect to PipeWire.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `SPA_VIDEO_FLAG_MODIFIER` of `<spa/param/video/raw.h>` (the negotiated format has a modifier,
/// so the buffers are DMA-BUFs); libspa-rs only names it for PipeWire 0.3.65 and later.
const SPA_VIDEO_FLAG_MODIFIER: u32 = 1 << 2;

/// The PipeWire thread and what it shares.
pub(crate) struct PipeWireStream {
    shared: Arc<SharedStream>,
    quit: pw::channel::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl PipeWireStream {
    /// Connects to PipeWire through `fd` and starts receiving node `node`; with `dmabuf`, linear
    /// DMA-BUFs are offered first.
    pub fn start(fd: OwnedFd, node: u32, dmabuf: bool) -> Result<Self, CaptureError> {
        let shared = Arc::new(SharedStream::default());
        let (quit, quit_receiver) = pw::channel::channel::<()>();
        let (ready, is_ready) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("glimpse-pipewire".into())
            .spawn(move || {
                let failed = ready.clone();
                if let Err(e) = run(fd, node, dmabuf, &thread_shared, quit_receiver, ready) {
                    thread_shared.end(e.to_string());
                    let _ = failed.send(Err(e));
                }
            })?;
        let stream = PipeWireStream {
            shared,
            quit,
            thread: Some(thread),
        };
        match is_ready.recv_timeout(CONNECT_TIMEOUT) {
            Ok(Ok(())) => Ok(stream),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(CaptureError::PipeWire(format!(
                "no connection to node {node} within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }

    pub fn shared(&self) -> &Arc<SharedStream> {
        &self.shared
    }
}

impl Drop for PipeWireStream {
    fn drop(&mut self) {
        let _ = self.quit.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn pw_error(what: &str) -> impl Fn(pw::Error) -> CaptureError + '_ {
    move |e| CaptureError::PipeWire(format!("{what}: {e}"))
}

/// The thread's body: sets up the stream and runs the loop until told to quit or the stream ends.
fn run(
    fd: OwnedFd,
    node: u32,
    dmabuf: bool,
    shared: &Arc<SharedStream>,
    quit: pw::channel::Receiver<()>,
    ready: mpsc::Sender<Result<(), CaptureError>>,
) -> Result<(), CaptureError> {
    pw::init();
    let mainloop = pw::main_loop::MainLoopRc::new(None).map_err(pw_error("main loop"))?;
    let context =
        pw::context::ContextRc::new(&mainloop, None).map_err(pw_error("PipeWire context"))?;
    let core = context
        .connect_fd_rc(fd, None)
        .map_err(pw_error("connecting to PipeWire"))?;
    let core_shared = Arc::clone(shared);
    let core_loop = mainloop.downgrade();
    let _core_listener = core
        .add_listener_local()
        .error(move |id, _seq, res, message| {
            if id == pw::core::PW_ID_CORE {
                core_shared.end(format!("PipeWire connection error {res}: {message}"));
                if let Some(l) = core_loop.upgrade() {
                    l.quit();
                }
            }
        })
        .register();
    // The compositor's node going away (the compositor stopped or crashed) leaves our stream merely
    // paused, and the portal may say nothing: the registry tells.
    let registry = core.get_registry().map_err(pw_error("PipeWire registry"))?;
    let removed_shared = Arc::clone(shared);
    let removed_loop = mainloop.downgrade();
    let _registry_listener = registry
        .add_listener_local()
        .global_remove(move |id| {
            if id == node {
                removed_shared.end("the compositor removed the stream".into());
                if let Some(l) = removed_loop.upgrade() {
                    l.quit();
                }
            }
        })
        .register();
    let stream = pw::stream::StreamBox::new(
        &core,
        "glimpse-capture",
        pw::properties::properties! {
            *pw::keys::MEDIA_TYPE => "Video",
            *pw::keys::MEDIA_CATEGORY => "Capture",
            *pw::keys::MEDIA_ROLE => "Screen",
        },
    )
    .map_err(pw_error("creating the stream"))?;
    let state_loop = mainloop.downgrade();
    let _listener = stream
        .add_local_listener_with_user_data(Receiver::new(Arc::clone(shared)))
        .state_changed(move |_, receiver, _old, new| {
            let why = match new {
                pw::stream::StreamState::Error(message) => format!("stream error: {message}"),
                pw::stream::StreamState::Unconnected => "the stream was disconnected".into(),
                _ => return,
            };
            receiver.shared.end(why);
            if let Some(l) = state_loop.upgrade() {
                l.quit();
            }
        })
        .param_changed(|stream, receiver, id, param| {
            if id == spa::param::ParamType::Format.as_raw() {
                receiver.format_changed(stream, param);
            }
        })
        .process(|stream, receiver| receiver.process(stream))
        .register()
        .map_err(pw_error("stream listener"))?;
    let formats = if dmabuf {
        vec![format_pod(true)?, format_pod(false)?]
    } else {
        vec![format_pod(false)?]
    };
    let mut params: Vec<&Pod> = formats.iter().map(|b| pod(b)).collect::<Result<_, _>>()?;
    stream
        .connect(
            spa::utils::Direction::Input,
            Some(node),
            pw::stream::StreamFlags::AUTOCONNECT | pw::stream::StreamFlags::MAP_BUFFERS,
            &mut params,
        )
        .map_err(pw_error("connecting the stream"))?;
    let quit_loop = mainloop.clone();
    let _quit = quit.attach(mainloop.loop_(), move |()| quit_loop.quit());
    let _ = ready.send(Ok(()));
    mainloop.run();
    shared.end("the capture was stopped".into());
    Ok(())
}

/// The negotiated format.
#[derive(Debug, Clone, Copy)]
struct Negotiated {
    layout: Layout,
    width: u32,
    height: u32,
}

/// The stream listener's state, on the PipeWire thread.
struct Receiver {
    shared: Arc<SharedStream>,
    format: Option<Negotiated>,
    /// Cursor shapes seen (the serial of the next one).
    cursor_shapes: u64,
    /// The last frame as it came (4th bytes untouched), to compute damage when the producer sends
    /// none; and the buffer rectangle it was taken from (`None`: not valid).
    reference: Vec<u8>,
    reference_crop: Option<Rect>,
}

/// A 4-byte PipeWire video format as (layout, has alpha, name).
fn layout_of(format: VideoFormat) -> Option<(Layout, bool, &'static str)> {
    Some(match format {
        VideoFormat::BGRx => (Layout::Bgra, false, "BGRx"),
        VideoFormat::BGRA => (Layout::Bgra, true, "BGRA"),
        VideoFormat::RGBx => (Layout::Rgba, false, "RGBx"),
        VideoFormat::RGBA => (Layout::Rgba, true, "RGBA"),
        _ => return None,
    })
}

impl Receiver {
    fn new(shared: Arc<SharedStream>) -> Self {
        Receiver {
            shared,
            format: None,
            cursor_shapes: 0,
            reference: Vec::new(),
            reference_crop: None,
        }
    }

    fn format_changed(&mut self, stream: &pw::stream::Stream, param: Option<&Pod>) {
        let Some(param) = param else {
            self.format = None;
            return;
        };
        let mut info = VideoInfoRaw::new();
        if info.parse(param).is_err() {
            self.shared
                .end("the producer sent a format we cannot read".into());
            return;
        }
        let Some((layout, _, name)) = layout_of(info.format()) else {
            self.shared
                .end(format!("unsupported pixel format {:?}", info.format()));
            return;
        };
        let size = info.size();
        self.format = Some(Negotiated {
            layout,
            width: size.width,
            height: size.height,
        });
        let dmabuf = info.flags().bits() & SPA_VIDEO_FLAG_MODIFIER != 0;
        {
            let mut state = self.shared.lock();
            state.video_format = Some(name);
            state.size = Some((size.width, size.height));
            // A new size: the next frame's damage is unknown.
            state.damage = None;
        }
        self.reference_crop = None;
        let updated = buffer_pods(dmabuf).and_then(|pods| {
            let mut params: Vec<&Pod> = pods.iter().map(|b| pod(b)).collect::<Result<_, _>>()?;
            stream
                .update_params(&mut params)
                .map_err(pw_error("buffer parameters"))
        });
        if let Err(e) = updated {
            self.shared.end(e.to_string());
        }
    }

    /// Takes every queued buffer: the cursor from each, the pixels of the newest, the damage of
    /// all of them together.
    fn process(&mut self, stream: &pw::stream::Stream) {
        let mut buffers = Vec::new();
        while let Some(buffer) = stream.dequeue_buffer() {
            buffers.push(buffer);
        }
        let Some(format) = self.format else {
            return;
        };
        let arrived = Instant::now();
        let mut damage = Some(Vec::new());
        let mut newest = None;
        for (i, buffer) in buffers.iter_mut().enumerate() {
            self.read_cursor(buffer, format);
            if let Some(crop) = frame_area(buffer, format) {
                merge_damage(&mut damage, buffer_damage(buffer, crop));
                newest = Some((i, crop));
            }
        }
        let Some((i, crop)) = newest else {
            return;
        };
        let mut frame = self
            .shared
            .lock()
            .spare
            .take()
            .unwrap_or_else(FrameBuffer::empty);
        let pts_ns = buffers[i]
            .find_meta::<MetaHeader>()
            .map(|h| h.pts())
            .filter(|&pts| pts > 0);
        let copied = with_picture(&mut buffers[i], |picture, stride| {
            let stride = if stride > 0 {
                stride
            } else {
                crop.right() as usize * 4
            };
            self.copy_out(picture, stride, crop, damage, &mut frame.pixels)
        });
        match copied {
            Ok((Some((damage, from_metadata)), kind)) => {
                frame.width = crop.width;
                frame.height = crop.height;
                frame.stride = crop.width as usize * 4;
                frame.format = format.layout.pixel_format();
                frame.arrived = arrived;
                frame.pts_ns = pts_ns;
                self.shared.lock().buffer_kind = Some(kind);
                self.shared.publish(frame, damage, from_metadata);
            }
            Ok((None, kind)) => self
                .shared
                .end(format!("a {kind} buffer too short for a {crop:?} frame")),
            Err(e) => self.shared.end(e.to_string()),
        }
    }

    /// Copies the frame out of the buffer's `picture` into `out` (opaque): as it is when the
    /// producer sent damage metadata, else through the reference copy that yields the damage.
    /// Returns the damage and whether it came from metadata; `None` when the picture is short.
    fn copy_out(
        &mut self,
        picture: &[u8],
        stride: usize,
        crop: Rect,
        metadata: Option<Vec<Rect>>,
        out: &mut Vec<u8>,
    ) -> Option<(Option<Vec<Rect>>, bool)> {
        if let Some(damage) = metadata {
            self.reference_crop = None;
            return copy_rect(picture, stride, crop, out, true).then_some((Some(damage), true));
        }
        let packed = Rect::new(0, 0, crop.width, crop.height);
        let damage = if self.reference_crop == Some(crop) {
            Some(update_reference(
                picture,
                stride,
                crop,
                &mut self.reference,
            )?)
        } else {
            if !copy_rect(picture, stride, crop, &mut self.reference, false) {
                return None;
            }
            self.reference_crop = Some(crop);
            None
        };
        copy_rect(&self.reference, crop.width as usize * 4, packed, out, true)
            .then_some((damage, false))
    }

    /// Updates the shared cursor from a buffer's `SPA_META_Cursor`.
    fn read_cursor(&mut self, buffer: &pw::buffer::Buffer<'_>, format: Negotiated) {
        let Some(meta) = buffer.find_meta::<MetaCursor>() else {
            return;
        };
        let crop = frame_crop(buffer, format);
        let mut state = self.shared.lock();
        if meta.id() == 0 {
            // Not over this stream.
            if state.cursor.position.take().is_some() {
                state.cursor.moves += 1;
            }
            return;
        }
        let position = (
            meta.position().x - crop.x as i32,
            meta.position().y - crop.y as i32,
        );
        if state.cursor.position != Some(position) {
            state.cursor.position = Some(position);
            state.cursor.moves += 1;
        }
        let Some(bitmap) = meta.bitmap() else {
            return; // a move: same shape
        };
        let size = bitmap.size();
        let pixels = bitmap.bitmap_data().and_then(|data| {
            let (layout, alpha, _) = layout_of(bitmap.format())?;
            let stride = bitmap.stride().unsigned_abs() as usize;
            cursor_pixels(layout, alpha, data, size.width, size.height, stride)
        });
        let Some(pixels) = pixels.filter(|p| !p.is_empty()) else {
            state.cursor.visible = false; // an empty sprite: the cursor is hidden
            return;
        };
        self.cursor_shapes += 1;
        state.cursor.visible = pixels.chunks_exact(4).any(|p| p[3] != 0);
        state.cursor.shape = Some(CursorShape {
            pixels,
            width: size.width,
            height: size.height,
            hotspot_x: meta.hotspot().x.max(0) as u32,
            hotspot_y: meta.hotspot().y.max(0) as u32,
            serial: self.cursor_shapes,
        });
    }
}

/// The part of the buffer that is the frame (`SPA_META_VideoCrop`, else all of it).
fn frame_crop(buffer: &pw::buffer::Buffer<'_>, format: Negotiated) -> Rect {
    let whole = Rect::new(0, 0, format.width, format.height);
    buffer
        .find_meta::<MetaVideoCrop>()
        .map(|c| c.meta_region())
        .filter(|r| r.is_valid())
        .and_then(|r| {
            let (p, s) = (r.position(), r.size());
            let x = u32::try_from(p.x).ok()?;
            let y = u32::try_from(p.y).ok()?;
            whole.intersect(&Rect::new(x, y, s.width, s.height))
        })
        .unwrap_or(whole)
}

/// The frame area when the buffer holds a picture; `None` for cursor-only, empty or corrupted
/// buffers.
fn frame_area(buffer: &mut pw::buffer::Buffer<'_>, format: Negotiated) -> Option<Rect> {
    use spa::buffer::meta::MetaHeaderFlags;
    if buffer
        .find_meta::<MetaHeader>()
        .is_some_and(|h| h.flags().contains(MetaHeaderFlags::CORRUPTED))
    {
        return None;
    }
    let data = buffer.datas_mut().first()?;
    let chunk = data.chunk();
    if chunk.size() == 0 || chunk.flags().contains(spa::buffer::ChunkFlags::CORRUPTED) {
        return None;
    }
    Some(frame_crop(buffer, format))
}

/// The buffer's `SPA_META_VideoDamage` relative to `crop`, or `None` (unknown) without it.
fn buffer_damage(buffer: &pw::buffer::Buffer<'_>, crop: Rect) -> Option<Vec<Rect>> {
    let meta = buffer.find_meta::<MetaVideoDamage>()?;
    Some(
        meta.iter()
            .filter_map(|r| {
                let (p, s) = (r.position(), r.size());
                damage_rect(p.x, p.y, s.width, s.height, crop)
            })
            .collect(),
    )
}

/// Calls `read` with the buffer's picture (its bytes from the first row, and the row stride), mapping
/// a DMA-BUF when PipeWire did not; returns what `read` returned and the memory kind.
fn with_picture<R>(
    buffer: &mut pw::buffer::Buffer<'_>,
    read: impl FnOnce(&[u8], usize) -> R,
) -> Result<(R, &'static str), CaptureError> {
    let data = buffer
        .datas_mut()
        .first_mut()
        .ok_or_else(|| CaptureError::PipeWire("a buffer without data".into()))?;
    let (offset, size, stride) = {
        let chunk = data.chunk();
        (
            chunk.offset() as usize,
            chunk.size() as usize,
            chunk.stride(),
        )
    };
    let stride = usize::try_from(stride).unwrap_or(0);
    let kind = match data.type_() {
        DataType::MemFd => "memfd",
        DataType::MemPtr => "memptr",
        DataType::DmaBuf => "dmabuf",
        other => {
            return Err(CaptureError::PipeWire(format!(
                "unsupported buffer memory {other:?}"
            )))
        }
    };
    let short = || CaptureError::PipeWire(format!("a {kind} buffer shorter than its chunk"));
    if let Some(bytes) = data.data() {
        let picture = bytes
            .get(offset..offset.saturating_add(size))
            .ok_or_else(short)?;
        return Ok((read(picture, stride), kind));
    }
    if data.type_() != DataType::DmaBuf {
        return Err(CaptureError::PipeWire(format!(
            "a {kind} buffer that PipeWire did not map"
        )));
    }
    let start = data.as_raw().mapoffset as usize + offset;
    let mapping = DmaBufMapping::map(data.fd(), start + size)
        .map_err(|e| CaptureError::PipeWire(format!("mapping a DMA-BUF: {e}")))?;
    let picture = mapping.bytes().get(start..).ok_or_else(short)?;
    Ok((read(picture, stride), kind))
}
