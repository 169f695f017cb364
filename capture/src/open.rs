//! Choosing and opening a backend: the Wayland portal, X11 or the demo scene, with what to share.

use crate::{CaptureError, DemoSource, RemoteInput, ScreenSource};
use std::path::PathBuf;
use std::time::Duration;

/// Where frames come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// A Wayland desktop: the xdg-desktop-portal ScreenCast portal, frames from PipeWire, remote
    /// control through the RemoteDesktop portal.
    Portal,
    /// An X server: MIT-SHM, XDamage, XFixes, XTest.
    X11,
    /// The animated demo scene (no display at all).
    Demo,
}

impl Backend {
    /// A short stable name: `"portal"`, `"x11"` or `"demo"`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Portal => "portal",
            Backend::X11 => "x11",
            Backend::Demo => "demo",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Portal => "Wayland (xdg-desktop-portal ScreenCast, PipeWire)",
            Backend::X11 => "X11",
            Backend::Demo => "demo scene",
        })
    }
}

/// Which backend [`open`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BackendChoice {
    /// The portal when `WAYLAND_DISPLAY` is set and a ScreenCast portal answers on the session
    /// bus; else X11 when `DISPLAY` is set and the server answers; else the demo scene.
    #[default]
    Auto,
    /// The portal only (an error when there is none).
    Portal,
    /// X11 only.
    X11,
    /// The demo scene.
    Demo,
}

/// What to share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Selection {
    /// The whole desktop on X11 (every monitor); on Wayland, the monitor the person at the host picks
    /// in the portal's dialog (remembered for next time).
    #[default]
    Auto,
    /// Monitor `n` of [`list_monitors`] (from 0). X11 crops to that RandR monitor. On Wayland the
    /// portal's dialog offers the monitors and the person at the host picks one: the portal has no
    /// way to ask for a given one. The choice is remembered per `n`.
    Monitor(usize),
    /// One window, picked in the portal's dialog (Wayland only; X11 has no picker:
    /// [`CaptureError::Unsupported`]).
    Window,
}

/// How [`open`] opens a source. `CaptureOptions::default()` is "pick the backend, whole screen,
/// no remote control".
///
/// ```
/// use glimpse_capture::{CaptureOptions, Selection};
/// let mut options = CaptureOptions::default();
/// options.selection = Selection::Monitor(1);
/// options.remote_control = true;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CaptureOptions {
    /// Which backend (default: [`BackendChoice::Auto`]).
    pub backend: BackendChoice,
    /// What to share (default: [`Selection::Auto`]).
    pub selection: Selection,
    /// Also open remote control ([`Opened::injector`]). On Wayland this asks the RemoteDesktop portal
    /// (its dialog also asks for the keyboard and pointer) and, with portals older than 1.17
    /// (RemoteDesktop version 1), the choice cannot be remembered: the dialog shows every time.
    pub remote_control: bool,
    /// Where the portal's restore tokens are kept, so that the dialog is asked once. `None`:
    /// `$XDG_STATE_HOME/glimpse/portal-restore-tokens` (`~/.local/state/...` without the variable).
    pub restore_token_file: Option<PathBuf>,
    /// Keep the portal's restore token (default true). False: the dialog shows every time and the
    /// token file is neither read nor written.
    pub remember_choice: bool,
    /// How long to wait for the person at the host to answer the portal's dialog (default 5 min).
    pub dialog_timeout: Duration,
    /// The X display (`None`: `DISPLAY`).
    pub x11_display: Option<String>,
    /// The demo scene's size (default 1280x720).
    pub demo_size: (u32, u32),
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            backend: BackendChoice::Auto,
            selection: Selection::Auto,
            remote_control: false,
            restore_token_file: None,
            remember_choice: true,
            dialog_timeout: Duration::from_secs(300),
            x11_display: None,
            demo_size: (1280, 720),
        }
    }
}

/// One monitor of the desktop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// Its number for [`Selection::Monitor`].
    pub index: usize,
    /// Its name (`"DP-1"`, `"HDMI-A-1"`...).
    pub name: String,
    /// Left edge on the desktop.
    pub x: i32,
    /// Top edge on the desktop.
    pub y: i32,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// The primary monitor.
    pub primary: bool,
}

/// An opened source, with remote control when asked for and available.
#[non_exhaustive]
pub struct Opened {
    /// The frames.
    pub source: Box<dyn ScreenSource + Send>,
    /// Remote control, when [`CaptureOptions::remote_control`] was set and the backend could
    /// grant it (`None` otherwise: [`notes`](Self::notes) says why).
    pub injector: Option<Box<dyn RemoteInput>>,
    /// The backend in use, to tell the person at the host.
    pub backend: Backend,
    /// Remarks for the person at the host: a backend passed over and why, remote control not
    /// available, the limits of host priority on this backend.
    pub notes: Vec<String>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("source", &self.source.kind())
            .field("injector", &self.injector.as_ref().map(|i| i.kind()))
            .field("backend", &self.backend)
            .field("notes", &self.notes)
            .finish()
    }
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// The backend [`open`] would use with these options, and remarks on the ones passed over. Asks
/// the session bus whether a ScreenCast portal answers (a few seconds at most).
pub fn detect_backend(options: &CaptureOptions) -> (Backend, Vec<String>) {
    let mut notes = Vec::new();
    match options.backend {
        BackendChoice::Portal => return (Backend::Portal, notes),
        BackendChoice::X11 => return (Backend::X11, notes),
        BackendChoice::Demo => return (Backend::Demo, notes),
        BackendChoice::Auto => {}
    }
    if env_set("WAYLAND_DISPLAY") {
        #[cfg(all(target_os = "linux", feature = "wayland"))]
        match crate::wayland::probe_portal() {
            Ok(()) => return (Backend::Portal, notes),
            Err(e) => notes.push(format!("Wayland session, but {e}")),
        }
        #[cfg(not(all(target_os = "linux", feature = "wayland")))]
        notes.push("Wayland session, but built without the `wayland` feature".into());
    }
    #[cfg(target_os = "linux")]
    if options.x11_display.is_some() || env_set("DISPLAY") {
        if env_set("WAYLAND_DISPLAY") {
            notes.push("X11 capture of a Wayland desktop sees only XWayland windows".into());
        }
        return (Backend::X11, notes);
    }
    (Backend::Demo, notes)
}

/// Opens what `options` ask for: the backend ([`detect_backend`] unless one is forced), the
/// selection, and remote control when asked.
///
/// On Wayland this may show the portal's share dialog (once per selection when the choice is
/// remembered) and waits up to [`CaptureOptions::dialog_timeout`] for the answer. An X server that
/// cannot be reached falls back to the demo when the backend was picked automatically.
///
/// ```
/// use glimpse_capture::{open, BackendChoice, CaptureOptions};
/// let mut options = CaptureOptions::default();
/// options.backend = BackendChoice::Demo; // omit to pick the desktop's backend
/// let mut opened = open(&options)?;
/// println!("sharing through {}", opened.backend);
/// let frame = opened.source.capture()?;
/// assert_eq!((frame.width, frame.height), (1280, 720));
/// # Ok::<(), glimpse_capture::CaptureError>(())
/// ```
pub fn open(options: &CaptureOptions) -> Result<Opened, CaptureError> {
    let (backend, mut notes) = detect_backend(options);
    match backend {
        #[cfg(all(target_os = "linux", feature = "wayland"))]
        Backend::Portal => open_portal(options, notes),
        #[cfg(target_os = "linux")]
        Backend::X11 => match open_x11(options, &mut notes) {
            Err(CaptureError::Connect(e)) if options.backend == BackendChoice::Auto => {
                notes.push(format!("cannot reach the X server ({e}): showing the demo"));
                Ok(open_demo(options, notes))
            }
            other => other,
        },
        Backend::Demo => Ok(open_demo(options, notes)),
        #[allow(unreachable_patterns)]
        other => Err(CaptureError::Unsupported(format!(
            "the {} backend is not built in",
            other.name()
        ))),
    }
}

#[cfg(all(target_os = "linux", feature = "wayland"))]
fn open_portal(options: &CaptureOptions, mut notes: Vec<String>) -> Result<Opened, CaptureError> {
    use crate::wayland::PortalSource;
    let (source, input) = match PortalSource::open(options) {
        // No RemoteDesktop portal: share without remote control rather than not at all.
        Err(CaptureError::PortalUnavailable(why)) if options.remote_control => {
            notes.push(format!("remote control unavailable: {why}"));
            let mut view_only = options.clone();
            view_only.remote_control = false;
            PortalSource::open(&view_only)?
        }
        other => other?,
    };
    let info = source.info();
    if let Some(why) = &info.remember_error {
        notes.push(format!("the share dialog will ask again next time: {why}"));
    }
    if let Some(why) = &info.dmabuf_error {
        notes.push(format!(
            "DMA-BUF failed ({why}): frames come through shared memory"
        ));
    }
    if !info.cursor_as_metadata {
        notes.push("the portal draws the cursor into the frames (no cursor metadata)".into());
    }
    let injector = input.map(|i| Box::new(i) as Box<dyn RemoteInput>);
    match &injector {
        Some(i) => notes.push(host_priority_note(i.as_ref())),
        None if options.remote_control => {
            notes.push("remote control was not allowed in the share dialog".into())
        }
        None => {}
    }
    Ok(Opened {
        source: Box::new(source),
        injector,
        backend: Backend::Portal,
        notes,
    })
}

fn open_demo(options: &CaptureOptions, mut notes: Vec<String>) -> Opened {
    if options.remote_control {
        notes.push("the demo scene takes no remote control".into());
    }
    let (width, height) = options.demo_size;
    Opened {
        source: Box::new(DemoSource::new(width, height)),
        injector: None,
        backend: Backend::Demo,
        notes,
    }
}

#[cfg(target_os = "linux")]
fn open_x11(options: &CaptureOptions, notes: &mut Vec<String>) -> Result<Opened, CaptureError> {
    let display = options.x11_display.as_deref();
    let area = match options.selection {
        Selection::Auto => None,
        Selection::Monitor(index) => {
            let monitors = crate::x11::list_monitors(display)?;
            let m = monitors.get(index).ok_or(CaptureError::NoSuchMonitor {
                index,
                count: monitors.len(),
            })?;
            let (x, y) = (m.x.max(0) as u32, m.y.max(0) as u32);
            Some(glimpse::Rect::new(x, y, m.width, m.height))
        }
        Selection::Window => {
            return Err(CaptureError::Unsupported(
                "sharing one window on X11 (share a monitor or the whole screen)".into(),
            ))
        }
    };
    let source = crate::X11Source::open_area(display, area)?;
    let mut injector = None;
    if options.remote_control {
        match crate::X11Input::open(display, area) {
            Ok(i) => {
                notes.push(host_priority_note(&i));
                injector = Some(Box::new(i) as Box<dyn RemoteInput>);
            }
            Err(e) => notes.push(format!("remote control unavailable: {e}")),
        }
    }
    Ok(Opened {
        source: Box::new(source),
        injector,
        backend: Backend::X11,
        notes: std::mem::take(notes),
    })
}

fn host_priority_note(input: &dyn RemoteInput) -> String {
    match input.local_watch() {
        crate::LocalWatch::PointerAndKeyboard => {
            "host priority: local mouse and keyboard take control back".into()
        }
        crate::LocalWatch::PointerMotion => {
            "host priority: moving the local mouse takes control back (local keys and clicks \
             without a motion go unnoticed on this backend)"
                .into()
        }
        _ => "host priority unavailable: local input is not noticed on this backend".into(),
    }
}

/// The monitors a [`Selection::Monitor`] can name, for the backend [`open`] would use.
///
/// X11: the RandR monitors (`xrandr --listmonitors`). Demo: one monitor of the demo's size. Wayland:
/// the portal cannot list monitors before its dialog (the person at the host picks there), so this
/// is [`CaptureError::Unsupported`].
pub fn list_monitors(options: &CaptureOptions) -> Result<Vec<Monitor>, CaptureError> {
    match detect_backend(options).0 {
        #[cfg(target_os = "linux")]
        Backend::X11 => crate::x11::list_monitors(options.x11_display.as_deref()),
        Backend::Demo => Ok(vec![Monitor {
            index: 0,
            name: "demo".into(),
            x: 0,
            y: 0,
            width: options.demo_size.0,
            height: options.demo_size.1,
            primary: true,
        }]),
        _ => Err(CaptureError::Unsupported(
            "listing monitors through the ScreenCast portal: its dialog offers them".into(),
        )),
    }
}
