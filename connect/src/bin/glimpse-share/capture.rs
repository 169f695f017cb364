//! The capture loop: takes a frame at a fixed rate (on Wayland, as soon as the compositor sends
//! one, at most that often) and pushes it to the host (which encodes it on this thread), with the
//! cursor.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use glimpse::{Frame, PixelFormat, Rect};
use glimpse_connect::{ConnectError, Host};

use crate::source::Source;

pub struct CaptureConfig {
    pub fps: f64,
    /// Stop after this many frames.
    pub max_frames: Option<u64>,
    /// When a recording ends, write its last frame (BGRA, rows packed) here.
    pub last_frame_file: Option<PathBuf>,
}

/// What the capture loop pushed with damage hints, for `--stats`: how much the source's hints
/// spare the encoder, which compares only inside them (the whole frame when a frame has none).
#[derive(Default)]
pub struct CaptureCounts {
    /// Frames pushed with damage hints.
    pub hinted_frames: AtomicU64,
    /// Of those, frames whose hints were empty: nothing changed, nothing to compare.
    pub unchanged_frames: AtomicU64,
    /// Pixels inside the hints of the hinted frames (clipped to the frame): what the encoder
    /// compared.
    pub hint_pixels: AtomicU64,
    /// Pixels of the hinted frames that changed: what comparing them whole would have cost.
    pub changed_frame_pixels: AtomicU64,
}

impl CaptureCounts {
    fn count(&self, width: u32, height: u32, hints: Option<&[Rect]>) {
        let Some(hints) = hints else { return };
        self.hinted_frames.fetch_add(1, Ordering::Relaxed);
        if hints.is_empty() {
            self.unchanged_frames.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let whole = Rect::new(0, 0, width, height);
        let inside: u64 = hints
            .iter()
            .filter_map(|r| r.intersect(&whole))
            .map(|r| r.area())
            .sum();
        self.hint_pixels.fetch_add(inside, Ordering::Relaxed);
        self.changed_frame_pixels
            .fetch_add(whole.area(), Ordering::Relaxed);
    }
}

/// Captures until `stop` is set, the frame limit is reached, or capture fails. A recording that
/// ends (without `--loop`) keeps its last frame on screen: the session stays up for joiners.
pub fn run(
    mut source: Source,
    host: &Host,
    config: &CaptureConfig,
    counts: &CaptureCounts,
    stop: &AtomicBool,
) -> Result<u64, String> {
    let interval = Duration::from_secs_f64(1.0 / config.fps.max(0.1));
    let mut next_tick = Instant::now();
    let mut frames = 0u64;
    let mut ended = false;
    while !stop.load(Ordering::Relaxed) {
        if config.max_frames.is_some_and(|m| frames >= m) {
            break;
        }
        let mut changed = true;
        match &mut source {
            Source::Screen(screen) => {
                // Sources told about changes (the Wayland portal) block here until a frame comes,
                // so it goes out at once instead of at the next tick; after a frame interval
                // without one, the last frame is pushed again (the encoder tops off on those).
                // X11 and the demo answer at once.
                let waiting = Instant::now();
                changed = screen
                    .wait_for_change(interval)
                    .map_err(|e| e.to_string())?;
                next_tick += waiting.elapsed();
                let shot = screen.capture().map_err(|e| e.to_string())?;
                let frame = Frame::new(
                    shot.pixels,
                    shot.width,
                    shot.height,
                    shot.stride,
                    shot.format,
                )
                .map_err(|e| e.to_string())?;
                host.push_frame(&frame, shot.damage.as_deref())
                    .map_err(|e| e.to_string())?;
                counts.count(shot.width, shot.height, shot.damage.as_deref());
                frames += 1;
                if let Ok(Some(cursor)) = screen.cursor() {
                    push_cursor(host, &cursor).map_err(|e| e.to_string())?;
                }
            }
            Source::Corpus(corpus) => {
                if !ended {
                    if corpus.advance()? {
                        let (w, h) = corpus.size();
                        let frame =
                            Frame::new(corpus.frame(), w, h, w as usize * 4, PixelFormat::Bgra8)
                                .map_err(|e| e.to_string())?;
                        host.push_frame(&frame, None).map_err(|e| e.to_string())?;
                        frames += 1;
                    } else {
                        ended = true;
                        if let Some(path) = &config.last_frame_file {
                            write_whole(path, corpus.frame())?;
                        }
                    }
                }
            }
        }
        let now = Instant::now();
        next_tick = if changed { next_tick + interval } else { now };
        if next_tick > now {
            std::thread::sleep(next_tick - now);
        } else {
            next_tick = now; // behind: no burst to catch up
        }
    }
    Ok(frames)
}

fn push_cursor(host: &Host, cursor: &glimpse_capture::CursorState) -> Result<(), ConnectError> {
    if let Some(shape) = &cursor.shape {
        let image = Frame::new(
            &shape.pixels,
            shape.width,
            shape.height,
            shape.width as usize * 4,
            PixelFormat::Bgra8,
        )?;
        // A cursor image the protocol cannot carry (over 256 px) is skipped, not fatal.
        let _ = host.set_cursor_shape(&image, shape.hotspot_x, shape.hotspot_y);
    }
    host.move_cursor(cursor.x, cursor.y, cursor.visible)
}

/// Writes `bytes` to `path` whole or not at all (a temporary file beside it, then a rename), so a
/// test that waits for the file never reads it half written.
fn write_whole(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, bytes)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
