//! The thread that talks to xdg-desktop-portal.
//!
//! ashpd keeps one D-Bus connection per process, and zbus runs that connection's tasks on the tokio
//! runtime that was current when it was made. So one process-wide thread owns a current-thread
//! runtime for as long as the process lives (idle between sessions); every portal request and
//! every session runs there as a task, and callers wait on a plain channel, whatever runtime (or
//! none) they are in themselves.

use crate::CaptureError;
use ashpd::desktop::screencast::Screencast;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::mpsc;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long [`probe`] waits for the portal (it may be D-Bus activated on first use).
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The portal thread's job queue, started on first use.
fn portal_thread() -> Result<&'static mpsc::UnboundedSender<Job>, CaptureError> {
    static THREAD: OnceLock<Result<mpsc::UnboundedSender<Job>, String>> = OnceLock::new();
    THREAD
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
            std::thread::Builder::new()
                .name("glimpse-portal".into())
                .spawn(move || {
                    runtime.block_on(async move {
                        while let Some(job) = queue.recv().await {
                            tokio::spawn(job);
                        }
                    })
                })
                .map_err(|e| e.to_string())?;
            Ok(jobs)
        })
        .as_ref()
        .map_err(|e| CaptureError::Portal(format!("cannot start the portal thread: {e}")))
}

/// Starts `task` on the portal thread without waiting for it.
pub(crate) fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Result<(), CaptureError> {
    portal_thread()?
        .send(Box::pin(task))
        .map_err(|_| CaptureError::Portal("the portal thread has stopped".into()))
}

/// Runs `request` on the portal thread and waits for its result, for `limit` at most (then the
/// request is dropped and the answer is [`CaptureError::Timeout`]).
pub(crate) fn run<T: Send + 'static>(
    limit: Duration,
    waiting_for: &'static str,
    request: impl Future<Output = Result<T, CaptureError>> + Send + 'static,
) -> Result<T, CaptureError> {
    let (answer, answered) = std::sync::mpsc::sync_channel(1);
    spawn(async move {
        let result =
            tokio::time::timeout(limit, request)
                .await
                .unwrap_or(Err(CaptureError::Timeout {
                    waiting_for,
                    seconds: limit.as_secs(),
                }));
        let _ = answer.send(result);
    })?;
    answered
        .recv()
        .map_err(|_| CaptureError::Portal("the portal thread has stopped".into()))?
}

/// Ok when a ScreenCast portal answers on the session bus.
pub(crate) fn probe() -> Result<(), CaptureError> {
    run(PROBE_TIMEOUT, "the ScreenCast portal", async {
        let screencast = Screencast::new().await.map_err(unavailable)?;
        // ashpd builds the proxy even when nobody owns the portal's name: ask it something.
        screencast
            .available_source_types()
            .await
            .map_err(unavailable)?;
        Ok(())
    })
    .map_err(|e| match e {
        CaptureError::Timeout { seconds, .. } => CaptureError::PortalUnavailable(format!(
            "the ScreenCast portal did not answer within {seconds} s"
        )),
        other => other,
    })
}

/// An ashpd error where the portal itself is missing.
pub(crate) fn unavailable(e: ashpd::Error) -> CaptureError {
    match e {
        ashpd::Error::PortalNotFound(interface) => {
            CaptureError::PortalUnavailable(format!("no portal implements {interface}"))
        }
        other => CaptureError::PortalUnavailable(other.to_string()),
    }
}

/// An ashpd error during a request: a refusal is [`CaptureError::Refused`].
pub(crate) fn request_error(what: &str, e: ashpd::Error) -> CaptureError {
    use ashpd::desktop::ResponseError;
    match e {
        ashpd::Error::Response(ResponseError::Cancelled) => CaptureError::Refused,
        ashpd::Error::Response(ResponseError::Other) => {
            CaptureError::Portal(format!("{what}: the portal ended the request"))
        }
        ashpd::Error::PortalNotFound(_) => unavailable(e),
        other => CaptureError::Portal(format!("{what}: {other}")),
    }
}
