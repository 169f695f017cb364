//! The one error type of the crate.

/// Why opening a source, capturing or injecting failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// No X server could be reached (`DISPLAY` unset, wrong, or refused).
    #[error("cannot connect to the X server: {0}")]
    Connect(String),
    /// The connection broke or a request failed.
    #[error("X11 request failed: {0}")]
    Protocol(String),
    /// The server lacks an extension this needs.
    #[error("the X server lacks the {0} extension")]
    MissingExtension(&'static str),
    /// The screen's pixels are not 32-bit little-endian BGRX (depth 24 or 32, TrueColor).
    #[error("unsupported screen format: depth {depth}, {bits_per_pixel} bits per pixel, {detail}")]
    UnsupportedFormat {
        /// Screen depth.
        depth: u8,
        /// Bits per pixel of that depth's image format (0 when the server lists none).
        bits_per_pixel: u8,
        /// What else is wrong (byte order, colour masks).
        detail: String,
    },
    /// A size the source cannot produce (zero, or over [`glimpse::MAX_DIMENSION`]).
    #[error("invalid screen size {width}x{height}")]
    InvalidSize {
        /// Requested columns.
        width: u32,
        /// Requested rows.
        height: u32,
    },
    /// An injected input event was refused (unknown button, keysym that cannot be mapped...).
    #[error("invalid input event: {0}")]
    InvalidInput(String),
    /// An operating-system call failed (shared memory, the restore-token file).
    #[error("system call failed: {0}")]
    Os(#[from] std::io::Error),
    /// No usable xdg-desktop-portal on the session bus (no bus, no portal, or it lacks the
    /// ScreenCast or RemoteDesktop interface).
    #[error("no usable desktop portal: {0}")]
    PortalUnavailable(String),
    /// A portal request failed (a D-Bus error, an invalid session, a vanished portal).
    #[error("desktop portal request failed: {0}")]
    Portal(String),
    /// The person at the host cancelled the portal's share dialog (or the portal refused).
    #[error("the share dialog was cancelled or refused")]
    Refused,
    /// The portal gave no answer in time (a share dialog nobody answered).
    #[error("no answer from the desktop portal within {seconds} s ({waiting_for})")]
    Timeout {
        /// What was waited for.
        waiting_for: &'static str,
        /// How long.
        seconds: u64,
    },
    /// Connecting to PipeWire or streaming from it failed.
    #[error("PipeWire: {0}")]
    PipeWire(String),
    /// The screen-cast session ended: the compositor or the person at the host stopped it, or the
    /// compositor went away.
    #[error("the screen-cast session ended: {0}")]
    SessionClosed(String),
    /// The chosen backend cannot do what was asked (window capture on X11, say).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// `Selection::Monitor(index)` names a monitor that does not exist.
    #[error("no monitor {index}: there are {count} (see list_monitors)")]
    NoSuchMonitor {
        /// The monitor asked for.
        index: usize,
        /// How many there are.
        count: usize,
    },
}
