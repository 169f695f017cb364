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

/// Injects input and tells when the local user touched mouse or keyboard.
pub trait InputSink: Send {
    fn inject(&mut self, event: &InputEvent) -> Result<(), String>;
    /// True when local input happened since the last call.
    fn local_input(&mut self) -> bool;
    /// Releases every key and button injected and still held.
    fn release_all(&mut self);
}

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
        mut sink: Box<dyn InputSink>,
        on_local_input: impl Fn() + Send + 'static,
    ) -> InputPump {
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("input".into())
            .spawn(move || {
                let (lock, ready) = &*shared;
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
                        sink.release_all();
                    }
                    // The person at the machine first: checked before every injected event.
                    if active && sink.local_input() {
                        let mut s = lock.lock().unwrap();
                        s.dropped += s.queue.len() as u64 + u64::from(event.is_some());
                        s.queue.clear();
                        s.active = false;
                        drop(s);
                        sink.release_all();
                        on_local_input();
                        continue;
                    }
                    if let Some(event) = event {
                        match sink.inject(&event) {
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

/// XTest injection plus the watch on the local user, for remote control on X11.
pub struct X11Input {
    pub injector: glimpse_capture::InputInjector,
    pub watch: Option<glimpse_capture::LocalInputWatch>,
}

impl InputSink for X11Input {
    fn inject(&mut self, event: &InputEvent) -> Result<(), String> {
        let i = &mut self.injector;
        let r = match *event {
            InputEvent::PointerMove { x, y } => i.pointer_move(x, y),
            InputEvent::Button { button, down } => {
                // Viewers number buttons as browsers do (0 left, 1 middle, 2 right, 3 back,
                // 4 forward); X11 as 1, 2, 3, 8, 9.
                let x_button = match button {
                    0..=2 => button + 1,
                    3 => 8,
                    4 => 9,
                    other => return Err(format!("unknown mouse button {other}")),
                };
                i.button(x_button, down)
            }
            InputEvent::Wheel { dx, dy } => i.wheel(dx, dy),
            InputEvent::Key { keysym, down } => i.key(keysym, down),
        };
        r.map_err(|e| e.to_string())
    }

    fn local_input(&mut self) -> bool {
        self.watch
            .as_mut()
            .is_some_and(|w| w.local_activity().unwrap_or(false))
    }

    fn release_all(&mut self) {
        let _ = self.injector.release_all();
    }
}
