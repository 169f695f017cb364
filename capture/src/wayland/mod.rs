//! Wayland desktops through xdg-desktop-portal: the ScreenCast portal picks what to share (its
//! dialog, asked once thanks to a restore token), PipeWire delivers the frames, and the
//! RemoteDesktop portal takes the viewer's input.

mod dmabuf;
mod frame;
mod input;
mod params;
mod portal;
mod session;
mod stream;
mod tokens;

pub use input::PortalInput;

use crate::{CaptureError, CaptureOptions, CapturedFrame, CursorState, ScreenSource, Selection};
use frame::FrameBuffer;
use session::{SessionHandle, SessionRequest};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stream::PipeWireStream;

/// How long [`PortalSource::capture`] waits for the very first frame.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn probe_portal() -> Result<(), CaptureError> {
    portal::probe()
}

/// What the portal started, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The PipeWire node the frames come from.
    pub node_id: u32,
    /// `"monitor"`, `"window"` or `"virtual"`, as the portal says.
    pub source_type: Option<&'static str>,
    /// Where the shared monitor lies on the desktop (monitor streams only).
    pub position: Option<(i32, i32)>,
    /// The size the portal announced (logical pixels).
    pub size: Option<(i32, i32)>,
    /// The cursor comes as metadata ([`ScreenSource::cursor`] reports it); false: it is drawn into
    /// the frames or absent, and `cursor()` gives `None`.
    pub cursor_as_metadata: bool,
    /// A restore token was stored, so the next session with the same selection skips the dialog.
    pub choice_remembered: bool,
    /// Why the choice could not be remembered, when it could not (the token file, an old portal).
    pub remember_error: Option<String>,
    /// Why the stream was reconnected with shared memory only: it failed before its first frame
    /// with DMA-BUF offered.
    pub dmabuf_error: Option<String>,
}

/// Counters of the PipeWire stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamStats {
    /// Frames received from PipeWire.
    pub frames_received: u64,
    /// Of those, frames that came without damage metadata: their damage was computed by comparing
    /// with the previous frame while copying it out of the PipeWire buffer (mutter 43 sends none).
    pub frames_without_damage_metadata: u64,
    /// `"memfd"`, `"memptr"` or `"dmabuf"`: the memory of the last frame.
    pub buffer_kind: Option<&'static str>,
    /// The negotiated PipeWire format (`"BGRx"`, `"BGRA"`, `"RGBx"`, `"RGBA"`).
    pub video_format: Option<&'static str>,
}

/// How old the last frame handed out by `capture()` was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLatency {
    /// From the PipeWire buffer's arrival to `capture()` handing the frame out (this includes the
    /// copy out of the buffer).
    pub since_arrival: Duration,
    /// From the compositor's presentation time (the buffer's `SPA_META_Header` pts, when it is a
    /// CLOCK_MONOTONIC time) to `capture()` handing the frame out.
    pub since_presentation: Option<Duration>,
}

/// A Wayland screen (or window) shared through the ScreenCast portal, frames from PipeWire.
///
/// Frames are copied out of PipeWire's buffers by a thread of its own; [`capture`](Self::capture)
/// hands out the newest one and never waits for a new one: a still screen (the compositor sends
/// nothing) is the last frame again with `damage: Some(vec![])`. Damage comes from the stream's
/// `SPA_META_VideoDamage`, the cursor from `SPA_META_Cursor`. When the session ends (stopped
/// from the desktop, compositor gone), `capture` fails with [`CaptureError::SessionClosed`].
///
/// ```no_run
/// use glimpse_capture::{CaptureOptions, PortalSource, ScreenSource};
/// let (mut screen, _input) = PortalSource::open(&CaptureOptions::default())?; // may show a dialog
/// let frame = screen.capture()?;
/// println!("{}x{} {:?}", frame.width, frame.height, frame.damage);
/// # Ok::<(), glimpse_capture::CaptureError>(())
/// ```
pub struct PortalSource {
    stream: PipeWireStream,
    session: Arc<SessionHandle>,
    info: StreamInfo,
    front: Option<FrameBuffer>,
    latency: Option<FrameLatency>,
    cursor_serial_sent: u64,
    last_cursor: (i32, i32),
}

/// The restore-token key of a session.
fn token_key(selection: Selection, remote_control: bool) -> String {
    let base = match selection {
        Selection::Auto => "monitor".to_string(),
        Selection::Monitor(n) => format!("monitor-{n}"),
        Selection::Window => "window".to_string(),
    };
    if remote_control {
        base + "+input"
    } else {
        base
    }
}

fn source_type_name(t: ashpd::desktop::screencast::SourceType) -> &'static str {
    use ashpd::desktop::screencast::SourceType;
    match t {
        SourceType::Monitor => "monitor",
        SourceType::Window => "window",
        SourceType::Virtual => "virtual",
    }
}

impl PortalSource {
    /// Asks the portal for a session as `options` say (the selection, remote control, the
    /// restore-token file), waits for the dialog's answer when there is one, and connects to the
    /// stream. The input is `Some` when remote control was asked for and the person at the host
    /// granted a keyboard or a pointer.
    pub fn open(options: &CaptureOptions) -> Result<(Self, Option<PortalInput>), CaptureError> {
        let key = token_key(options.selection, options.remote_control);
        let token_file = if options.remember_choice {
            options
                .restore_token_file
                .clone()
                .or_else(tokens::default_path)
        } else {
            None
        };
        let restore_token = token_file.as_deref().and_then(|p| tokens::load(p, &key));
        let started = session::start(SessionRequest {
            selection: options.selection,
            remote_control: options.remote_control,
            restore_token,
            persist: token_file.is_some(),
            dialog_timeout: options.dialog_timeout,
        })?;
        let (mut choice_remembered, mut remember_error) = (false, None);
        match (&token_file, &started.restore_token) {
            (Some(path), Some(token)) => match tokens::store(path, &key, Some(token)) {
                Ok(()) => choice_remembered = true,
                Err(e) => remember_error = Some(format!("{}: {e}", path.display())),
            },
            (Some(_), None) => {
                remember_error = Some("the portal gave no restore token (remote-control sessions need xdg-desktop-portal 1.17)".into())
            }
            _ => {}
        }
        let node_id = started.stream.pipe_wire_node_id();
        let mut info = StreamInfo {
            node_id,
            source_type: started.stream.source_type().map(source_type_name),
            position: started.stream.position(),
            size: started.stream.size(),
            cursor_as_metadata: started.cursor_as_metadata,
            choice_remembered,
            remember_error,
            dmabuf_error: None,
        };
        let (stream, dmabuf_error) = connect_stream(&started.handle, started.pipewire_fd, node_id)?;
        info.dmabuf_error = dmabuf_error;
        let input = (options.remote_control && (started.keyboard || started.pointer)).then(|| {
            PortalInput::new(
                Arc::clone(&started.handle),
                Arc::clone(stream.shared()),
                started.keyboard,
                started.pointer,
            )
        });
        let source = PortalSource {
            stream,
            session: started.handle,
            info,
            front: None,
            latency: None,
            cursor_serial_sent: 0,
            last_cursor: (0, 0),
        };
        Ok((source, input))
    }

    /// What the portal started.
    pub fn info(&self) -> &StreamInfo {
        &self.info
    }

    /// The stream's counters.
    pub fn stats(&self) -> StreamStats {
        let state = self.stream.shared().lock();
        StreamStats {
            frames_received: state.frames,
            frames_without_damage_metadata: state.frames_without_damage_metadata,
            buffer_kind: state.buffer_kind,
            video_format: state.video_format,
        }
    }

    /// How old the frame that the last [`capture`](Self::capture) handed out was when it was
    /// handed out (`None` before the first frame).
    pub fn last_latency(&self) -> Option<FrameLatency> {
        self.latency
    }

    /// Waits until a frame newer than the last one handed out has arrived, for `timeout` at most.
    /// False on timeout; an error once the session has ended. Lets a caller capture as soon as the
    /// compositor sends something instead of polling.
    pub fn wait_for_frame(&self, timeout: Duration) -> Result<bool, CaptureError> {
        self.session.check()?;
        wait_for_frame(self.stream.shared(), timeout)
    }
}

/// Connects to the stream with DMA-BUF offered and waits for its first frame (so that the size is
/// known and a dead stream shows now). A stream that fails before its first frame is connected
/// again with shared memory only (the DMA-BUF path is not tested headless: mutter without a GPU
/// offers no DMA-BUF); the first failure is returned with it.
fn connect_stream(
    session: &SessionHandle,
    fd: std::os::fd::OwnedFd,
    node: u32,
) -> Result<(PipeWireStream, Option<String>), CaptureError> {
    let first_frame =
        |stream: &PipeWireStream| match wait_for_frame(stream.shared(), FIRST_FRAME_TIMEOUT) {
            Ok(true) => Ok(()),
            Ok(false) => Err(CaptureError::Timeout {
                waiting_for: "the first frame from PipeWire",
                seconds: FIRST_FRAME_TIMEOUT.as_secs(),
            }),
            Err(e) => Err(e),
        };
    let stream = PipeWireStream::start(fd, node, true)?;
    match first_frame(&stream) {
        Ok(()) => Ok((stream, None)),
        Err(CaptureError::SessionClosed(why)) => {
            drop(stream);
            let stream = PipeWireStream::start(session.open_pipewire()?, node, false)?;
            first_frame(&stream)?;
            Ok((stream, Some(why)))
        }
        Err(e) => Err(e),
    }
}

/// Waits until `shared` holds a frame not yet handed out, for `timeout` at most.
fn wait_for_frame(shared: &frame::SharedStream, timeout: Duration) -> Result<bool, CaptureError> {
    let deadline = Instant::now() + timeout;
    let mut state = shared.lock();
    loop {
        if let Some(why) = &state.ended {
            return Err(CaptureError::SessionClosed(why.clone()));
        }
        if state.pending.is_some() {
            return Ok(true);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        state = shared
            .changed
            .wait_timeout(state, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// The latency of `frame` now.
fn latency_of(frame: &FrameBuffer) -> FrameLatency {
    let since_presentation = frame.pts_ns.and_then(|pts| {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let now_ns = now.tv_sec.checked_mul(1_000_000_000)? + now.tv_nsec;
        let age = now_ns.checked_sub(pts)?;
        // Not a CLOCK_MONOTONIC time when it is in the future or implausibly old.
        (0..10_000_000_000)
            .contains(&age)
            .then(|| Duration::from_nanos(age as u64))
    });
    FrameLatency {
        since_arrival: frame.arrived.elapsed(),
        since_presentation,
    }
}

impl ScreenSource for PortalSource {
    fn size(&self) -> (u32, u32) {
        match &self.front {
            Some(f) => (f.width, f.height),
            None => self.stream.shared().lock().size.unwrap_or((0, 0)),
        }
    }

    fn capture(&mut self) -> Result<CapturedFrame<'_>, CaptureError> {
        self.session.check()?;
        let shared = Arc::clone(self.stream.shared());
        let mut state = shared.lock();
        let deadline = Instant::now() + FIRST_FRAME_TIMEOUT;
        while self.front.is_none() && state.pending.is_none() && state.ended.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CaptureError::Timeout {
                    waiting_for: "the first frame from PipeWire",
                    seconds: FIRST_FRAME_TIMEOUT.as_secs(),
                });
            }
            state = shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if let Some(why) = &state.ended {
            return Err(CaptureError::SessionClosed(why.clone()));
        }
        let damage = match state.pending.take() {
            Some(new) => {
                let resized = self
                    .front
                    .as_ref()
                    .is_none_or(|f| (f.width, f.height) != (new.width, new.height));
                let damage = state.damage.replace(Vec::new());
                self.latency = Some(latency_of(&new));
                if let Some(old) = self.front.replace(new) {
                    state.spare = Some(old);
                }
                if resized {
                    None
                } else {
                    damage
                }
            }
            None => Some(Vec::new()),
        };
        drop(state);
        let frame = self.front.as_ref().ok_or_else(|| {
            CaptureError::SessionClosed("the stream ended before its first frame".into())
        })?;
        Ok(CapturedFrame {
            pixels: &frame.pixels,
            width: frame.width,
            height: frame.height,
            stride: frame.stride,
            format: frame.format,
            damage,
        })
    }

    fn cursor(&mut self) -> Result<Option<CursorState>, CaptureError> {
        self.session.check()?;
        if !self.info.cursor_as_metadata {
            return Ok(None);
        }
        let state = self.stream.shared().lock();
        let cursor = &state.cursor;
        if let Some(position) = cursor.position {
            self.last_cursor = position;
        }
        let shape = cursor
            .shape
            .as_ref()
            .filter(|s| s.serial != self.cursor_serial_sent)
            .cloned();
        if let Some(s) = &shape {
            self.cursor_serial_sent = s.serial;
        }
        Ok(Some(CursorState {
            x: self.last_cursor.0,
            y: self.last_cursor.1,
            visible: cursor.visible && cursor.position.is_some(),
            shape,
        }))
    }

    fn kind(&self) -> &'static str {
        "portal"
    }

    fn wait_for_change(&mut self, timeout: Duration) -> Result<bool, CaptureError> {
        self.wait_for_frame(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_keys_separate_selections_and_input() {
        assert_eq!(token_key(Selection::Auto, false), "monitor");
        assert_eq!(token_key(Selection::Monitor(2), true), "monitor-2+input");
        assert_eq!(token_key(Selection::Window, false), "window");
    }
}
