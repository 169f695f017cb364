//! Reads a screen-recording corpus laid out like `../shared/corpus/out`: a `manifest.json` listing
//! scenarios, each a zstd stream of raw BGRA frames (`width * height * 4` bytes each, no header).
//!
//! Used by Glimpse's tests, benches and the corpus report; not part of the SDK.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// One recording listed in a manifest.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub frame_count: usize,
    pub path: PathBuf,
    /// The manifest's category: `a` typing, `b` scrolling, `c` a dragged window, `d` video
    /// playing, `e` switching windows or slides, `f` an idle desktop (the corpus README's table).
    pub category: String,
}

/// The manifest category of recordings in which a video plays.
pub const VIDEO_CATEGORY: &str = "d";

impl Scenario {
    /// True when a video plays in the recording (manifest category [`VIDEO_CATEGORY`]): the only
    /// recordings in which video regions may start.
    pub fn holds_video(&self) -> bool {
        self.category == VIDEO_CATEGORY
    }

    /// Bytes of one frame.
    pub fn frame_bytes(&self) -> usize {
        self.width as usize * self.height as usize * 4
    }

    /// Streams the frames one at a time (memory: one frame plus the zstd window).
    pub fn frames(&self) -> std::io::Result<FrameReader> {
        let mut decoder = zstd::Decoder::new(BufReader::new(File::open(&self.path)?))?;
        decoder.window_log_max(27)?;
        Ok(FrameReader {
            decoder,
            frame_bytes: self.frame_bytes(),
            left: self.frame_count,
        })
    }

    /// All frames in memory.
    pub fn load_all(&self) -> std::io::Result<Vec<Vec<u8>>> {
        let mut reader = self.frames()?;
        let mut frames = Vec::with_capacity(self.frame_count);
        while let Some(frame) = reader.next_frame()? {
            frames.push(frame);
        }
        Ok(frames)
    }
}

/// Frames of one scenario, in order.
pub struct FrameReader {
    decoder: zstd::Decoder<'static, BufReader<BufReader<File>>>,
    frame_bytes: usize,
    left: usize,
}

impl FrameReader {
    /// The next frame, or `None` after the last.
    pub fn next_frame(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut frame = vec![0u8; self.frame_bytes];
        self.decoder.read_exact(&mut frame)?;
        self.left -= 1;
        Ok(Some(frame))
    }
}

/// A corpus directory: `manifest.json` plus `<W>x<H>/<name>.bgra.zst` files.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub dir: PathBuf,
    pub scenarios: Vec<Scenario>,
}

impl Corpus {
    /// Reads `dir/manifest.json`. `dir` may be the corpus root or its `out/` folder.
    pub fn open(dir: impl AsRef<Path>) -> std::io::Result<Corpus> {
        let mut dir = dir.as_ref().to_path_buf();
        if !dir.join("manifest.json").exists() && dir.join("out/manifest.json").exists() {
            dir = dir.join("out");
        }
        let text = std::fs::read_to_string(dir.join("manifest.json"))?;
        let manifest: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let bad = |what: &str| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("manifest: {what}"))
        };
        let mut scenarios = Vec::new();
        for s in manifest["scenarios"]
            .as_array()
            .ok_or_else(|| bad("no scenarios array"))?
        {
            let file = s["file"]
                .as_str()
                .ok_or_else(|| bad("scenario without file"))?;
            let path = dir.join(file);
            if !path.exists() {
                continue; // a trimmed copy of the corpus lists files it does not ship
            }
            if s["pixel_format"].as_str().is_some_and(|f| f != "BGRA") {
                return Err(bad("only BGRA corpora are supported"));
            }
            scenarios.push(Scenario {
                name: s["name"]
                    .as_str()
                    .ok_or_else(|| bad("scenario without name"))?
                    .to_string(),
                width: s["width"].as_u64().ok_or_else(|| bad("no width"))? as u32,
                height: s["height"].as_u64().ok_or_else(|| bad("no height"))? as u32,
                frame_count: s["frame_count"]
                    .as_u64()
                    .ok_or_else(|| bad("no frame_count"))? as usize,
                path,
                category: s["category"]
                    .as_str()
                    .ok_or_else(|| bad("scenario without category"))?
                    .to_string(),
            });
        }
        Ok(Corpus { dir, scenarios })
    }

    /// Scenarios at one resolution.
    pub fn at(&self, width: u32, height: u32) -> impl Iterator<Item = &Scenario> {
        self.scenarios
            .iter()
            .filter(move |s| s.width == width && s.height == height)
    }

    /// The full shared corpus beside the project (`../shared/corpus`), if present.
    pub fn shared() -> Option<Corpus> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
        Corpus::open(root).ok()
    }

    /// The small recordings kept in the repository (`testdata/corpus`).
    pub fn bundled() -> std::io::Result<Corpus> {
        Corpus::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/corpus"))
    }

    /// The shared corpus when present, else the bundled one.
    pub fn shared_or_bundled() -> std::io::Result<Corpus> {
        Corpus::shared().map_or_else(Corpus::bundled, Ok)
    }
}
