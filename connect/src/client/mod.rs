//! Native clients: [`host::Host`] and [`viewer::Viewer`], each with its own network thread.

pub mod host;
pub mod tls;
pub mod transport;
pub mod viewer;

use crate::error::ConnectError;

/// Milliseconds since the Unix epoch (the clock browsers' `Date.now()` reads too).
pub(crate) fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// CPU time of the calling thread, in nanoseconds (0 where the clock is missing).
pub(crate) fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], ConnectError> {
    let mut b = [0u8; N];
    os_random::fill(&mut b)
        .map_err(|e| ConnectError::Unreachable(format!("no random source: {e}")))?;
    Ok(b)
}

/// Reconnection delays: 100 ms doubling to 2 s, with jitter so that many clients of one relay do
/// not all come back at the same instant.
pub(crate) mod backoff {
    use std::time::Duration;

    pub(crate) struct Backoff {
        attempt: u32,
    }

    impl Backoff {
        pub fn new() -> Self {
            Backoff { attempt: 0 }
        }

        pub fn next_delay(&mut self) -> Duration {
            let base = (100u64 << self.attempt.min(5)).min(2000);
            self.attempt = self.attempt.saturating_add(1);
            let jitter = super::random_bytes::<2>()
                .map(|b| u64::from(u16::from_le_bytes(b)) % (base / 2 + 1))
                .unwrap_or(0);
            Duration::from_millis(base + jitter)
        }
    }
}

/// Events waiting for the program: bounded, so a program that never reads them cannot make the
/// process grow. Past the bound, droppable events (screen updates, input) are dropped first.
pub(crate) struct EventQueue<T> {
    inner: std::sync::Mutex<EventQueueInner<T>>,
    ready: std::sync::Condvar,
    limit: usize,
}

struct EventQueueInner<T> {
    queue: std::collections::VecDeque<(T, bool)>,
    dropped: u64,
    closed: bool,
}

impl<T> EventQueue<T> {
    pub fn new(limit: usize) -> Self {
        EventQueue {
            inner: std::sync::Mutex::new(EventQueueInner {
                queue: std::collections::VecDeque::new(),
                dropped: 0,
                closed: false,
            }),
            ready: std::sync::Condvar::new(),
            limit,
        }
    }

    /// Queues `event`; when full, the oldest droppable event makes room (or this one is dropped
    /// if it is droppable itself and nothing else can go).
    pub fn push(&self, event: T, droppable: bool) {
        let mut inner = self.inner.lock().unwrap();
        if inner.queue.len() >= self.limit {
            match inner.queue.iter().position(|(_, d)| *d) {
                Some(i) => {
                    inner.queue.remove(i);
                    inner.dropped += 1;
                }
                None if droppable => {
                    inner.dropped += 1;
                    return;
                }
                None => {}
            }
        }
        inner.queue.push_back((event, droppable));
        drop(inner);
        self.ready.notify_one();
    }

    /// No more events will come: waiting readers return at once.
    pub fn close(&self) {
        self.inner.lock().unwrap().closed = true;
        self.ready.notify_all();
    }

    /// The next event, waiting at most `timeout`.
    pub fn pop(&self, timeout: std::time::Duration) -> Option<T> {
        let deadline = std::time::Instant::now() + timeout;
        let mut inner = self.inner.lock().unwrap();
        loop {
            if let Some((event, _)) = inner.queue.pop_front() {
                return Some(event);
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if inner.closed || left.is_zero() {
                return None;
            }
            inner = self.ready.wait_timeout(inner, left).unwrap().0;
        }
    }

    /// Events dropped because the program did not read them.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().unwrap().dropped
    }
}
