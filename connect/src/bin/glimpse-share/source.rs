//! Where `glimpse-share` takes its frames: the screen (X11, or the animated demo scene) or a
//! recording from the corpus, played as if it were the screen.

use std::path::{Path, PathBuf};

use glimpse_capture::ScreenSource;

/// A recording from the corpus, played frame by frame (looping when asked).
pub struct CorpusSource {
    scenario: glimpse_corpus::Scenario,
    reader: glimpse_corpus::FrameReader,
    frame: Vec<u8>,
    looping: bool,
}

/// Folders searched for recordings, relative to the working directory: the team corpus beside the
/// repository, then the recordings bundled with it (from the repository root, or a crate folder).
const CORPUS_DIRS: [&str; 4] = [
    "../shared/corpus",
    "testdata/corpus",
    "../../shared/corpus",
    "../testdata/corpus",
];

impl CorpusSource {
    /// `name` is a scenario name, optionally `name@WIDTHxHEIGHT` (default: the largest size found).
    /// Looks in `dir` when given, else in [`CORPUS_DIRS`].
    pub fn open(name: &str, looping: bool, dir: Option<&Path>) -> Result<Self, String> {
        let (name, size) = match name.split_once('@') {
            Some((n, s)) => (n, Some(s)),
            None => (name, None),
        };
        let dirs: Vec<PathBuf> = match dir {
            Some(d) => vec![d.to_path_buf()],
            None => CORPUS_DIRS.iter().map(PathBuf::from).collect(),
        };
        let mut found: Vec<glimpse_corpus::Scenario> = Vec::new();
        for dir in dirs.iter().filter(|d| d.exists()) {
            if let Ok(c) = glimpse_corpus::Corpus::open(dir) {
                found.extend(c.scenarios.into_iter().filter(|s| {
                    s.name == name
                        && size.is_none_or(|sz| format!("{}x{}", s.width, s.height) == sz)
                }));
            }
            if !found.is_empty() {
                break;
            }
        }
        found.sort_by_key(|s| std::cmp::Reverse(s.width * s.height));
        let scenario = found.into_iter().next().ok_or_else(|| {
            format!("no corpus recording named {name} (size {size:?}); give --corpus-dir DIR")
        })?;
        let reader = scenario.frames().map_err(|e| e.to_string())?;
        Ok(CorpusSource {
            scenario,
            reader,
            frame: Vec::new(),
            looping,
        })
    }

    pub fn size(&self) -> (u32, u32) {
        (self.scenario.width, self.scenario.height)
    }

    /// The current frame (BGRA, rows packed).
    pub fn frame(&self) -> &[u8] {
        &self.frame
    }

    /// Moves to the next frame; `false` at the end (when not looping).
    pub fn advance(&mut self) -> Result<bool, String> {
        loop {
            match self.reader.next_frame().map_err(|e| e.to_string())? {
                Some(f) => {
                    self.frame = f;
                    return Ok(true);
                }
                None if self.looping => {
                    self.reader = self.scenario.frames().map_err(|e| e.to_string())?;
                }
                None => return Ok(false),
            }
        }
    }

    pub fn describe(&self) -> String {
        let (w, h) = self.size();
        format!("corpus recording {} {w}x{h}", self.scenario.name)
    }
}

/// What to share, from the command line.
#[derive(Debug, Clone)]
pub struct SourceChoice {
    pub corpus: Option<String>,
    pub corpus_dir: Option<PathBuf>,
    pub looping: bool,
    pub demo: bool,
    pub monitor: Option<usize>,
    pub window: bool,
    /// Open remote control too (the host may grant it).
    pub remote_control: bool,
}

impl SourceChoice {
    /// The capture options these choices stand for.
    pub fn capture_options(&self) -> glimpse_capture::CaptureOptions {
        let mut options = glimpse_capture::CaptureOptions::default();
        if self.demo {
            options.backend = glimpse_capture::BackendChoice::Demo;
        }
        options.selection = match (self.monitor, self.window) {
            (_, true) => glimpse_capture::Selection::Window,
            (Some(n), false) => glimpse_capture::Selection::Monitor(n),
            (None, false) => glimpse_capture::Selection::Auto,
        };
        options.remote_control = self.remote_control;
        options
    }
}

/// An opened source, with the injector for remote control when there is one.
pub struct OpenedSource {
    pub source: Source,
    pub injector: Option<Box<dyn glimpse_capture::RemoteInput>>,
    /// "the x11 screen 1920x1080 through X11" and the like.
    pub description: String,
    /// What the person at the host should know (backends passed over, limits of host priority).
    pub notes: Vec<String>,
}

/// Opens what `choice` says: a recording, or the screen through the backend that fits this
/// desktop (Wayland's portal, X11, or the demo scene).
pub fn open(choice: &SourceChoice) -> Result<OpenedSource, String> {
    if let Some(name) = &choice.corpus {
        let corpus = CorpusSource::open(name, choice.looping, choice.corpus_dir.as_deref())?;
        return Ok(OpenedSource {
            description: corpus.describe(),
            source: Source::Corpus(Box::new(corpus)),
            injector: None,
            notes: Vec::new(),
        });
    }
    let opened = glimpse_capture::open(&choice.capture_options()).map_err(|e| e.to_string())?;
    let source = Source::Screen(opened.source);
    Ok(OpenedSource {
        description: format!("{} through {}", source.describe(), opened.backend),
        source,
        injector: opened.injector,
        notes: opened.notes,
    })
}

/// Where frames come from.
pub enum Source {
    Screen(Box<dyn ScreenSource + Send>),
    Corpus(Box<CorpusSource>),
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Screen(s) => {
                let (w, h) = s.size();
                format!("{} screen {w}x{h}", s.kind())
            }
            Source::Corpus(c) => c.describe(),
        }
    }
}
