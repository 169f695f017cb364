//! A portal session: ScreenCast alone, or RemoteDesktop with ScreenCast on the same session (the
//! portal's way to get input and pictures together). Set up with one request, then kept as a task
//! on the portal thread that forwards input and notices when the session closes.

use super::portal::{self, request_error, unavailable};
use crate::{CaptureError, Selection};
use ashpd::desktop::remote_desktop::{Axis, DeviceType, KeyState, RemoteDesktop};
use ashpd::desktop::screencast::{
    CursorMode, HasScreencastSession, Screencast, SourceType, Stream,
};
use ashpd::desktop::{PersistMode, Session, SessionPortal};
use ashpd::enumflags2::BitFlags;
use futures_util::StreamExt;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Time the portal gets for the requests that involve no dialog.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A fresh RemoteDesktop keyboard may drop its first keys while clients load its keymap: a lone
/// Shift goes first, and real keys wait this long after it.
const KEYBOARD_WARM_UP: Duration = Duration::from_millis(300);
const XK_SHIFT_L: i32 = 0xffe1;

/// What the session is asked for.
#[derive(Debug, Clone)]
pub(crate) struct SessionRequest {
    pub selection: Selection,
    pub remote_control: bool,
    /// The restore token from an earlier session with the same key, if any.
    pub restore_token: Option<String>,
    /// Ask the portal for a token that restores this session's choice.
    pub persist: bool,
    pub dialog_timeout: Duration,
}

/// A started session: its stream, the PipeWire connection to read it, and the handle.
pub(crate) struct StartedSession {
    pub handle: Arc<SessionHandle>,
    pub stream: Stream,
    pub pipewire_fd: OwnedFd,
    /// The token for next time (when persistence was asked for and the portal gave one).
    pub restore_token: Option<String>,
    /// Whether the cursor comes as metadata (else it is drawn into the frames, or absent).
    pub cursor_as_metadata: bool,
    /// Input devices granted (remote-control sessions).
    pub keyboard: bool,
    pub pointer: bool,
}

/// Input for the RemoteDesktop portal, in its own terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PortalEvent {
    /// Absolute position in stream coordinates.
    Motion {
        x: f64,
        y: f64,
    },
    /// Linux evdev button code (`BTN_LEFT` 0x110...).
    Button {
        code: i32,
        down: bool,
    },
    /// Wheel notches (positive: down or right).
    Wheel {
        horizontal: bool,
        steps: i32,
    },
    Keysym {
        keysym: i32,
        down: bool,
    },
}

pub(crate) enum Command {
    Input(PortalEvent),
    /// Answers once everything before it was handed to the portal, with the first failure since
    /// the previous sync.
    Sync(std::sync::mpsc::SyncSender<Result<(), String>>),
    /// Another connection to the session's PipeWire remote.
    OpenPipeWire(std::sync::mpsc::SyncSender<Result<OwnedFd, String>>),
    Close,
}

/// The live session: commands go to its task; dropping the last handle closes the session.
pub(crate) struct SessionHandle {
    commands: mpsc::UnboundedSender<Command>,
    /// Why the session ended, once it has.
    closed: Arc<Mutex<Option<String>>>,
}

impl SessionHandle {
    pub fn send(&self, command: Command) -> Result<(), CaptureError> {
        self.check()?;
        self.commands.send(command).map_err(|_| {
            CaptureError::SessionClosed("the portal session's task has stopped".into())
        })
    }

    /// A new PipeWire connection for this session's stream (`OpenPipeWireRemote` again).
    pub fn open_pipewire(&self) -> Result<OwnedFd, CaptureError> {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        self.send(Command::OpenPipeWire(answer))?;
        match answered.recv_timeout(REQUEST_TIMEOUT) {
            Ok(Ok(fd)) => Ok(fd),
            Ok(Err(e)) => Err(CaptureError::Portal(format!("OpenPipeWireRemote: {e}"))),
            Err(_) => Err(CaptureError::Timeout {
                waiting_for: "OpenPipeWireRemote",
                seconds: REQUEST_TIMEOUT.as_secs(),
            }),
        }
    }

    /// `SessionClosed` once the portal closed the session.
    pub fn check(&self) -> Result<(), CaptureError> {
        match self
            .closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(why) => Err(CaptureError::SessionClosed(why.clone())),
            None => Ok(()),
        }
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Close);
    }
}

/// The portal objects a session task holds.
enum PortalSession {
    ScreenCast {
        screencast: Screencast<'static>,
        session: Session<'static, Screencast<'static>>,
    },
    Remote {
        remote: RemoteDesktop<'static>,
        screencast: Screencast<'static>,
        session: Session<'static, RemoteDesktop<'static>>,
        node: u32,
    },
}

/// Creates the session and runs its dialog (waiting up to `request.dialog_timeout` for an answer).
pub(crate) fn start(request: SessionRequest) -> Result<StartedSession, CaptureError> {
    let limit = request.dialog_timeout + REQUEST_TIMEOUT;
    portal::run(limit, "the portal's share dialog", async move {
        if request.remote_control {
            start_remote(request).await
        } else {
            start_screencast(request).await
        }
    })
}

fn source_types(selection: Selection) -> BitFlags<SourceType> {
    match selection {
        Selection::Window => SourceType::Window.into(),
        Selection::Auto | Selection::Monitor(_) => SourceType::Monitor.into(),
    }
}

/// The best cursor mode the portal offers: metadata (glimpse sends the cursor apart), else drawn
/// into the frames.
async fn cursor_mode(screencast: &Screencast<'static>) -> CursorMode {
    match screencast.available_cursor_modes().await {
        Ok(modes) if modes.contains(CursorMode::Metadata) => CursorMode::Metadata,
        Ok(modes) if !modes.contains(CursorMode::Embedded) => CursorMode::Hidden,
        _ => CursorMode::Embedded,
    }
}

async fn check_types(
    screencast: &Screencast<'static>,
    types: BitFlags<SourceType>,
) -> Result<(), CaptureError> {
    let available = screencast
        .available_source_types()
        .await
        .map_err(unavailable)?;
    if available.contains(types) {
        Ok(())
    } else {
        Err(CaptureError::Unsupported(format!(
            "the portal offers {available:?}, not {types:?}"
        )))
    }
}

async fn start_screencast(request: SessionRequest) -> Result<StartedSession, CaptureError> {
    let screencast = Screencast::new().await.map_err(unavailable)?;
    let types = source_types(request.selection);
    check_types(&screencast, types).await?;
    let cursor = cursor_mode(&screencast).await;
    let session = screencast
        .create_session()
        .await
        .map_err(|e| request_error("CreateSession", e))?;
    let persist = if request.persist {
        PersistMode::ExplicitlyRevoked
    } else {
        PersistMode::DoNot
    };
    let dialog = async {
        screencast
            .select_sources(
                &session,
                cursor,
                types,
                false,
                request.restore_token.as_deref(),
                persist,
            )
            .await
            .and_then(|r| r.response())
            .map_err(|e| request_error("SelectSources", e))?;
        let streams = screencast
            .start(&session, None)
            .await
            .and_then(|r| r.response())
            .map_err(|e| request_error("Start", e))?;
        let stream = first_stream(streams.streams())?;
        let fd = pipewire_remote(&screencast, &session).await?;
        Ok((stream, fd, streams.restore_token().map(str::to_owned)))
    };
    let (stream, pipewire_fd, restore_token) =
        run_dialog(&session, request.dialog_timeout, dialog).await?;
    let portal_session = PortalSession::ScreenCast {
        screencast,
        session,
    };
    let handle = spawn_task(portal_session, false).await?;
    Ok(StartedSession {
        handle,
        stream,
        pipewire_fd,
        restore_token,
        cursor_as_metadata: cursor == CursorMode::Metadata,
        keyboard: false,
        pointer: false,
    })
}

async fn start_remote(request: SessionRequest) -> Result<StartedSession, CaptureError> {
    let remote = RemoteDesktop::new().await.map_err(unavailable)?;
    let screencast = Screencast::new().await.map_err(unavailable)?;
    let types = source_types(request.selection);
    check_types(&screencast, types).await?;
    let cursor = cursor_mode(&screencast).await;
    // RemoteDesktop version 2 (xdg-desktop-portal 1.17) restores remote-control sessions; version
    // 1 refuses any persistence on them ("Remote desktop sessions cannot persist").
    let version = remote.get_property::<u32>("version").await.unwrap_or(1);
    let (token, persist) = if request.persist && version >= 2 {
        (
            request.restore_token.as_deref(),
            PersistMode::ExplicitlyRevoked,
        )
    } else {
        (None, PersistMode::DoNot)
    };
    let session = remote
        .create_session()
        .await
        .map_err(|e| request_error("CreateSession", e))?;
    let dialog = async {
        remote
            .select_devices(
                &session,
                DeviceType::Keyboard | DeviceType::Pointer,
                token,
                persist,
            )
            .await
            .and_then(|r| r.response())
            .map_err(|e| request_error("SelectDevices", e))?;
        screencast
            .select_sources(&session, cursor, types, false, None, PersistMode::DoNot)
            .await
            .and_then(|r| r.response())
            .map_err(|e| request_error("SelectSources", e))?;
        let selected = remote
            .start(&session, None)
            .await
            .and_then(|r| r.response())
            .map_err(|e| request_error("Start", e))?;
        let stream = first_stream(selected.streams().unwrap_or_default())?;
        let fd = pipewire_remote(&screencast, &session).await?;
        Ok((stream, fd, selected))
    };
    let (stream, pipewire_fd, selected) =
        run_dialog(&session, request.dialog_timeout, dialog).await?;
    let keyboard = selected.devices().contains(DeviceType::Keyboard);
    let pointer = selected.devices().contains(DeviceType::Pointer);
    let node = stream.pipe_wire_node_id();
    let portal_session = PortalSession::Remote {
        remote,
        screencast,
        session,
        node,
    };
    let handle = spawn_task(portal_session, keyboard).await?;
    Ok(StartedSession {
        handle,
        stream,
        pipewire_fd,
        restore_token: selected.restore_token().map(str::to_owned),
        cursor_as_metadata: cursor == CursorMode::Metadata,
        keyboard,
        pointer,
    })
}

fn first_stream(streams: &[Stream]) -> Result<Stream, CaptureError> {
    streams
        .first()
        .cloned()
        .ok_or_else(|| CaptureError::Portal("the portal started a session without a stream".into()))
}

/// Runs the steps that wait for the portal's share dialog, within `limit`; when they fail or time
/// out, closes `session` before returning the error.
async fn run_dialog<T, P: SessionPortal>(
    session: &Session<'_, P>,
    limit: Duration,
    dialog: impl std::future::Future<Output = Result<T, CaptureError>>,
) -> Result<T, CaptureError> {
    let outcome = tokio::time::timeout(limit, dialog)
        .await
        .unwrap_or(Err(CaptureError::Timeout {
            waiting_for: "an answer to the portal's share dialog",
            seconds: limit.as_secs(),
        }));
    if outcome.is_err() {
        let _ = session.close().await;
    }
    outcome
}

/// The PipeWire remote to read a started session's streams from.
async fn pipewire_remote(
    screencast: &Screencast<'_>,
    session: &Session<'_, impl HasScreencastSession>,
) -> Result<OwnedFd, CaptureError> {
    screencast
        .open_pipe_wire_remote(session)
        .await
        .map_err(|e| request_error("OpenPipeWireRemote", e))
}

/// Starts the task that owns `session` and returns its handle.
async fn spawn_task(
    session: PortalSession,
    warm_up_keyboard: bool,
) -> Result<Arc<SessionHandle>, CaptureError> {
    let closed = Arc::new(Mutex::new(None));
    let (commands, queue) = mpsc::unbounded_channel();
    let closed_signal = match &session {
        PortalSession::ScreenCast { session, .. } => {
            session.receive_closed().await.map(|s| s.boxed())
        }
        PortalSession::Remote { session, .. } => session.receive_closed().await.map(|s| s.boxed()),
    }
    .map_err(|e| request_error("Session.Closed", e))?;
    let task_closed = Arc::clone(&closed);
    tokio::spawn(async move {
        run_session(
            session,
            queue,
            closed_signal,
            warm_up_keyboard,
            &task_closed,
        )
        .await;
    });
    Ok(Arc::new(SessionHandle { commands, closed }))
}

/// The session's life: forwards input in order until told to close or the portal closes it.
async fn run_session(
    session: PortalSession,
    mut queue: mpsc::UnboundedReceiver<Command>,
    mut closed_signal: futures_util::stream::BoxStream<'static, ()>,
    warm_up_keyboard: bool,
    closed: &Mutex<Option<String>>,
) {
    let mut failure: Option<String> = None;
    if warm_up_keyboard {
        for down in [true, false] {
            let shift = PortalEvent::Keysym {
                keysym: XK_SHIFT_L,
                down,
            };
            if let Err(e) = inject(&session, shift).await {
                failure.get_or_insert(e);
            }
        }
        tokio::time::sleep(KEYBOARD_WARM_UP).await;
    }
    loop {
        tokio::select! {
            command = queue.recv() => match command {
                Some(Command::Input(event)) => {
                    if let Err(e) = inject(&session, event).await {
                        failure.get_or_insert(e);
                    }
                }
                Some(Command::Sync(answer)) => {
                    let _ = answer.send(failure.take().map_or(Ok(()), Err));
                }
                Some(Command::OpenPipeWire(answer)) => {
                    let fd = match &session {
                        PortalSession::ScreenCast { screencast, session } => {
                            screencast.open_pipe_wire_remote(session).await
                        }
                        PortalSession::Remote { screencast, session, .. } => {
                            screencast.open_pipe_wire_remote(session).await
                        }
                    };
                    let _ = answer.send(fd.map_err(|e| e.to_string()));
                }
                Some(Command::Close) | None => {
                    let _ = match &session {
                        PortalSession::ScreenCast { session, .. } => session.close().await,
                        PortalSession::Remote { session, .. } => session.close().await,
                    };
                    *closed.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some("closed by this program".into());
                    return;
                }
            },
            _ = closed_signal.next() => {
                *closed.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some("the portal closed the session (stopped from the desktop?)".into());
                return;
            }
        }
    }
}

/// Hands one event to the RemoteDesktop portal.
async fn inject(session: &PortalSession, event: PortalEvent) -> Result<(), String> {
    let PortalSession::Remote {
        remote,
        session,
        node,
        ..
    } = session
    else {
        return Err("this session has no remote control".into());
    };
    let state = |down: bool| {
        if down {
            KeyState::Pressed
        } else {
            KeyState::Released
        }
    };
    let result = match event {
        PortalEvent::Motion { x, y } => {
            remote
                .notify_pointer_motion_absolute(session, *node, x, y)
                .await
        }
        PortalEvent::Button { code, down } => {
            remote
                .notify_pointer_button(session, code, state(down))
                .await
        }
        PortalEvent::Wheel { horizontal, steps } => {
            let axis = if horizontal {
                Axis::Horizontal
            } else {
                Axis::Vertical
            };
            remote
                .notify_pointer_axis_discrete(session, axis, steps)
                .await
        }
        PortalEvent::Keysym { keysym, down } => {
            remote
                .notify_keyboard_keysym(session, keysym, state(down))
                .await
        }
    };
    result.map_err(|e| format!("{event:?}: {e}"))
}
