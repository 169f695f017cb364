//! The person at the host, played through mutter's own RemoteDesktop D-Bus API
//! (`org.gnome.Mutter.RemoteDesktop`, a session linked to a ScreenCast stream of the virtual
//! monitor for absolute positions). It clicks the portal's dialog and moves the mouse "locally".

use std::collections::HashMap;
use std::time::{Duration, Instant};
use zbus::zvariant::{OwnedObjectPath, Value};

const RD: &str = "org.gnome.Mutter.RemoteDesktop";
const SC: &str = "org.gnome.Mutter.ScreenCast";
const BTN_LEFT: i32 = 0x110;

/// A mutter RemoteDesktop session on its own D-Bus connection (the session lives as long as the
/// connection does).
pub struct LocalUser {
    runtime: tokio::runtime::Runtime,
    session: zbus::Proxy<'static>,
    stream: OwnedObjectPath,
}

impl LocalUser {
    /// Starts a RemoteDesktop session with a stream of the monitor `connector` ("Meta-0").
    pub fn start(connector: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let (session, stream) = runtime
            .block_on(start_session(connector))
            .expect("mutter RemoteDesktop session");
        let user = LocalUser {
            runtime,
            session,
            stream,
        };
        // The stream (hence absolute motion) is ready once a motion is accepted.
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(e) = user.try_move_to(1.0, 1.0) {
            assert!(Instant::now() < deadline, "mutter refuses motion: {e}");
            std::thread::sleep(Duration::from_millis(100));
        }
        user
    }

    fn block<T>(
        &self,
        call: impl std::future::Future<Output = zbus::Result<T>>,
    ) -> zbus::Result<T> {
        self.runtime.block_on(call)
    }

    fn try_move_to(&self, x: f64, y: f64) -> zbus::Result<()> {
        let stream = self.stream.as_str();
        self.block(
            self.session
                .call::<_, _, ()>("NotifyPointerMotionAbsolute", &(stream, x, y)),
        )
    }

    /// Moves the pointer to (x, y) on the monitor.
    pub fn move_to(&self, x: f64, y: f64) {
        self.try_move_to(x, y).expect("NotifyPointerMotionAbsolute");
    }

    /// Clicks the left button where the pointer is.
    pub fn click(&self) {
        for down in [true, false] {
            self.block(
                self.session
                    .call::<_, _, ()>("NotifyPointerButton", &(BTN_LEFT, down)),
            )
            .expect("NotifyPointerButton");
        }
    }
}

impl Drop for LocalUser {
    fn drop(&mut self) {
        let _ = self.block(self.session.call::<_, _, ()>("Stop", &()));
    }
}

async fn start_session(connector: &str) -> zbus::Result<(zbus::Proxy<'static>, OwnedObjectPath)> {
    let conn = zbus::Connection::session().await?;
    let remote = zbus::Proxy::new(&conn, RD, "/org/gnome/Mutter/RemoteDesktop", RD).await?;
    let rd_path: OwnedObjectPath = remote.call("CreateSession", &()).await?;
    let session = zbus::Proxy::new_owned(
        conn.clone(),
        RD.to_string(),
        rd_path,
        format!("{RD}.Session"),
    )
    .await?;
    let session_id: String = session.get_property("SessionId").await?;
    let screencast = zbus::Proxy::new(&conn, SC, "/org/gnome/Mutter/ScreenCast", SC).await?;
    let mut properties: HashMap<&str, Value<'_>> = HashMap::new();
    properties.insert("remote-desktop-session-id", Value::from(session_id));
    let sc_path: OwnedObjectPath = screencast.call("CreateSession", &(properties,)).await?;
    let sc_session = zbus::Proxy::new(&conn, SC, sc_path, format!("{SC}.Session")).await?;
    let mut record: HashMap<&str, Value<'_>> = HashMap::new();
    record.insert("cursor-mode", Value::from(0u32));
    let stream: OwnedObjectPath = sc_session
        .call("RecordMonitor", &(connector, record))
        .await?;
    session.call::<_, _, ()>("Start", &()).await?;
    Ok((session, stream))
}
