//! One frame of a PipeWire node, grabbed by `gst-launch-1.0 pipewiresrc`: a consumer of the stream
//! independent of the code under test.

use crate::Shot;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};

/// A running (or finished) `gst-launch-1.0` grab, killed if the test ends before it does.
pub struct PipeWireGrab {
    child: Child,
    file: PathBuf,
}

impl PipeWireGrab {
    /// Starts grabbing the next BGRx frame of PipeWire node `node` into `file` (removed first),
    /// through the default PipeWire connection.
    pub fn start(node: u32, file: PathBuf) -> PipeWireGrab {
        let _ = std::fs::remove_file(&file);
        let child = Command::new("gst-launch-1.0")
            .args(["-q", "pipewiresrc"])
            .arg(format!("path={node}"))
            .args([
                "always-copy=true",
                "num-buffers=1",
                "!",
                "videoconvert",
                "!",
            ])
            .args(["video/x-raw,format=BGRx", "!", "filesink"])
            .arg(format!("location={}", file.display()))
            .stdin(Stdio::null())
            .spawn()
            .expect("gst-launch-1.0 (gstreamer1.0-tools, gstreamer1.0-pipewire)");
        PipeWireGrab { child, file }
    }

    /// The exit status once `gst-launch-1.0` has ended, else `None`.
    pub fn finished(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("gst-launch-1.0 status")
    }

    /// The grabbed frame, `width` x `height` (panics unless the file holds exactly that), with
    /// alpha 255 as captured frames have it.
    pub fn shot(&self, width: u32, height: u32) -> Shot {
        let mut pixels = std::fs::read(&self.file).expect("grabbed frame");
        assert_eq!(
            pixels.len(),
            width as usize * height as usize * 4,
            "a {width}x{height} BGRx frame"
        );
        pixels.chunks_exact_mut(4).for_each(|p| p[3] = 255);
        Shot {
            pixels,
            width,
            height,
        }
    }
}

impl Drop for PipeWireGrab {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
