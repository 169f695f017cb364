//! Remote control on the host: a thread that injects the controlling viewer's input, with the
//! person at the machine first. Before every injected event (and every 10 ms while control is
//! held) it looks for local mouse or keyboard use; when it sees some, control goes back to the
//! host at once and queued input is dropped. The queue is bounded and coalesces pointer moves, so
//! a flood of input can neither delay the take-back nor grow memory.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use glimpse::session::InputEvent;
use glimpse_capture::RemoteInput;

/// Events waiting to be injected, at most.
const QUEUE_LIMIT: usize = 256;

#[derive(Default)]
struct State {
    queue: VecDeque<InputEvent>,
    /// A viewer holds control: watch for local input.
    active: bool,
    release: bool,
    stop: bool,
    injected: u64,
    dropped: u64,
}

pub struct InputPump {
    state: Arc<(Mutex<State>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl InputPump {
    /// Starts the thread; `on_local_input` is called when the local user takes control back.
    pub fn start(
        mut sink: Box<dyn RemoteInput>,
        on_local_input: impl Fn() + Send + 'static,
    ) -> InputPump {
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("input".into())
            .spawn(move || {
                let (lock, ready) = &*shared;
                let mut was_active = false;
                loop {
                    let (event, release, active) = {
                        let mut s = lock.lock().unwrap();
                        if s.queue.is_empty() && !s.release && !s.stop {
                            s = ready.wait_timeout(s, Duration::from_millis(10)).unwrap().0;
                        }
                        if s.stop {
                            return;
                        }
                        (
                            s.queue.pop_front(),
                            std::mem::take(&mut s.release),
                            s.active,
                        )
                    };
                    if release {
                        let _ = sink.release_all();
                    }
                    // What the watch saw before the grant is not a take-back: read it once
                    // then, so that only input under the viewer's control counts.
                    if active && !was_active {
                        let _ = sink.local_activity();
                    }
                    was_active = active;
                    // The person at the machine first: checked before every injected event.
                    if active && sink.local_activity().unwrap_or(false) {
                        let mut s = lock.lock().unwrap();
                        s.dropped += s.queue.len() as u64 + u64::from(event.is_some());
                        s.queue.clear();
                        s.active = false;
                        drop(s);
                        let _ = sink.release_all();
                        on_local_input();
                        continue;
                    }
                    if let Some(event) = event {
                        match inject(sink.as_mut(), event) {
                            Ok(()) => lock.lock().unwrap().injected += 1,
                            Err(e) => eprintln!("share: input not injected: {e}"),
                        }
                    }
                }
            })
            .expect("input thread");
        InputPump {
            state,
            thread: Some(thread),
        }
    }

    /// Queues an event from the controlling viewer (pointer moves coalesce).
    pub fn push(&self, event: InputEvent) {
        let (lock, ready) = &*self.state;
        let mut s = lock.lock().unwrap();
        if !s.active {
            return;
        }
        if let (InputEvent::PointerMove { .. }, Some(InputEvent::PointerMove { .. })) =
            (event, s.queue.back())
        {
            s.queue.pop_back();
        }
        if s.queue.len() >= QUEUE_LIMIT {
            s.dropped += 1;
            return;
        }
        s.queue.push_back(event);
        drop(s);
        ready.notify_one();
    }

    /// A viewer got control (`true`) or lost it (`false`: queued input is dropped, held keys and
    /// buttons released).
    pub fn set_active(&self, active: bool) {
        let (lock, ready) = &*self.state;
        let mut s = lock.lock().unwrap();
        s.active = active;
        if !active {
            s.dropped += s.queue.len() as u64;
            s.queue.clear();
            s.release = true;
        }
        drop(s);
        ready.notify_one();
    }

    /// Events injected and dropped so far.
    pub fn counts(&self) -> (u64, u64) {
        let s = self.state.0.lock().unwrap();
        (s.injected, s.dropped)
    }
}

impl Drop for InputPump {
    fn drop(&mut self) {
        self.state.0.lock().unwrap().stop = true;
        self.state.1.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Replays one viewer event (buttons are numbered as browsers do, which the injector takes).
fn inject(
    sink: &mut dyn RemoteInput,
    event: InputEvent,
) -> Result<(), glimpse_capture::CaptureError> {
    match event {
        InputEvent::PointerMove { x, y } => sink.pointer_move(x, y),
        InputEvent::Button { button, down } => sink.button(button, down),
        InputEvent::Wheel { dx, dy } => sink.wheel(dx, dy),
        InputEvent::Key { keysym, down } => sink.key(keysym, down),
    }
}
